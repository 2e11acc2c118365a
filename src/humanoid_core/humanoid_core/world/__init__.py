"""World state: the typed snapshot the planner sees, relation inference, scene loading."""

from humanoid_core.world.geometry import (
    in_the_way,
    infer_relations,
    refresh,
    spot_in_container,
    spot_on_place,
)
from humanoid_core.world.scene import (
    SceneError,
    config_dir,
    find_config,
    initial_world,
    resolve_scene_path,
)
from humanoid_core.world.types import (
    HANDS,
    OPERATOR,
    PREDICATES,
    ObjectInfo,
    Place,
    Relation,
    WorldSnapshot,
)

__all__ = [
    'HANDS',
    'OPERATOR',
    'PREDICATES',
    'ObjectInfo',
    'Place',
    'Relation',
    'SceneError',
    'WorldSnapshot',
    'config_dir',
    'find_config',
    'in_the_way',
    'infer_relations',
    'initial_world',
    'refresh',
    'resolve_scene_path',
    'spot_in_container',
    'spot_on_place',
]
