"""Build the initial :class:`WorldSnapshot` from a scene description (config/scenes/*.yaml).

Reads the scene YAML directly (the simulator's scene loader lives in humanoid_core.sim; this
module only needs the symbolic layout). Geometry: a table top is at z = size[2]; an object
resting on a place has its centre at top + height / 2 and its xy at the place centre plus the
object's `xy` offset (rotated by the place's yaw).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import yaml

from humanoid_core.world.geometry import refresh, to_world
from humanoid_core.world.types import ObjectInfo, Place, WorldSnapshot

CONTAINER_TYPES = ('tray', 'bin', 'box', 'basket', 'container')
SHAPES = {'cube': 'cube', 'cylinder': 'cylinder', 'sphere': 'sphere'}


class SceneError(ValueError):
    """A scene description is malformed (the message names the field)."""


def _config_dirs() -> list[Path]:
    """Candidate workspace `config/` directories: installed share dir, then the source tree."""
    dirs: list[Path] = []
    try:
        from humanoid_core import paths  # type: ignore[attr-defined]

        dirs.append(Path(paths.config_dir()))
    except Exception:
        pass
    for parent in Path(__file__).resolve().parents:
        if (parent / 'config' / 'scenes').is_dir():
            dirs.append(parent / 'config')
            break
    return dirs


def config_dir() -> Path:
    """The workspace `config/` directory (installed share dir, else the source tree)."""
    dirs = _config_dirs()
    if not dirs:  # pragma: no cover
        raise FileNotFoundError('cannot find the workspace config/ directory')
    return dirs[0]


def find_config(relpath: str) -> Path:
    """The first existing ``config/<relpath>`` among the candidate config directories."""
    dirs = _config_dirs()
    for d in dirs:
        if (d / relpath).exists():
            return d / relpath
    raise FileNotFoundError(
        f'config/{relpath} not found (looked in: {", ".join(str(d) for d in dirs)})'
    )


def resolve_scene_path(scene: str | Path, relative_to: Path | None = None) -> Path:
    """A scene name ('lab') or path to the YAML file."""
    p = Path(scene)
    candidates = []
    if p.suffix in ('.yaml', '.yml'):
        candidates += [p] + ([relative_to / p] if relative_to else [])
    else:
        if relative_to is not None:
            candidates.append(relative_to.parent / 'scenes' / f'{scene}.yaml')
        candidates += [d / 'scenes' / f'{scene}.yaml' for d in _config_dirs()]
    for c in candidates:
        if c.is_file():
            return c
    raise SceneError(
        f'scene {str(scene)!r} not found (looked in: {", ".join(str(c) for c in candidates)})'
    )


def _vec(value: Any, n: int, where: str) -> tuple[float, ...]:
    if not isinstance(value, list | tuple) or len(value) != n:
        raise SceneError(f'{where}: expected a list of {n} numbers, got {value!r}')
    try:
        out = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise SceneError(f'{where}: expected numbers, got {value!r}') from None
    if not all(math.isfinite(v) for v in out):
        raise SceneError(f'{where}: values must be finite, got {value!r}')
    return out


def initial_world(scene: str | Path | dict[str, Any]) -> WorldSnapshot:
    """The scene's initial world state from a scene name, a YAML path or a parsed dict."""
    if isinstance(scene, dict):
        data = scene
    else:
        path = resolve_scene_path(scene)
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
        if not isinstance(data, dict):
            raise SceneError(f'{path}: expected a mapping at the top level')

    if not isinstance(data.get('places'), dict) or not data['places']:
        raise SceneError("a scene needs a 'places' mapping (tables/stations)")
    places: dict[str, Place] = {}
    for name, spec in data['places'].items():
        where = f'places.{name}'
        if not isinstance(spec, dict):
            raise SceneError(f'{where}: expected a mapping')
        px, py, pyaw = _vec(spec.get('pose'), 3, f'{where}.pose')
        sx, sy, sz = _vec(spec.get('size'), 3, f'{where}.size')
        approach = _vec(spec.get('approach', [px - 0.47, py, 0.0]), 3, f'{where}.approach')
        places[name] = Place(
            name=name,
            kind=str(spec.get('kind', 'table')),
            position=(px, py, sz),
            size=(sx, sy, sz),
            approach=(approach[0], approach[1], approach[2]),
            yaw=pyaw,
        )

    objects: dict[str, ObjectInfo] = {}
    for oid, spec in (data.get('objects') or {}).items():
        where = f'objects.{oid}'
        if not isinstance(spec, dict):
            raise SceneError(f'{where}: expected a mapping')
        otype = str(spec.get('type', ''))
        size = _vec(spec.get('size'), 3, f'{where}.size')
        # YAML 1.1 reads a bare `on:` key as the boolean True.
        on = spec.get('on', spec.get(True))
        if on not in places:
            raise SceneError(f'{where}.on: unknown place {on!r}; places: {", ".join(places)}')
        place = places[on]
        dx, dy = _vec(spec.get('xy', [0.0, 0.0]), 2, f'{where}.xy')
        x, y = to_world((dx, dy), (place.position[0], place.position[1]), place.yaw)
        is_container = otype in CONTAINER_TYPES or bool(spec.get('container', False))
        color = spec.get('color', '')
        if not isinstance(color, str):
            color = ''  # RGBA lists carry no colour name
        objects[oid] = ObjectInfo(
            id=oid,
            label=str(spec.get('label', oid.replace('_', ' '))),
            shape='container' if is_container else SHAPES.get(otype, otype),
            color=color,
            position=(x, y, place.top_z + size[2] / 2.0),
            yaw=place.yaw + float(spec.get('yaw', 0.0)),
            size=(size[0], size[1], size[2]),
            confidence=1.0,
            is_container=is_container,
        )

    robot = data.get('robot') or {}
    rx, ry, ryaw = _vec(robot.get('pose', [0.0, 0.0, 0.0]), 3, 'robot.pose')
    world = WorldSnapshot(objects=objects, places=places, robot_pose=(rx, ry, ryaw))
    return refresh(world)
