"""Simulator scenes: tables (places) and objects on them, loaded from `config/scenes/<name>.yaml`.

A `Scene` is data (validated pydantic models); a `Layout` is one concrete placement of its
objects in the `world` frame (z up, floor at z = 0). `Scene.nominal_layout()` places every
object at its configured offset; `Scene.randomize(seed)` jitters and shuffles them
deterministically per seed. `make_scene` builds a scene from object specs given in code (for a
digital-twin preview built from a perceived world state).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import itertools
import math
import os
from pathlib import Path
import random
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
import yaml

__all__ = [
    'COLORS',
    'OBJECT_TYPES',
    'Layout',
    'ObjectPlacement',
    'ObjectSpec',
    'PlaceSpec',
    'RandomizeSpec',
    'Scene',
    'SceneError',
    'load_scene',
    'make_scene',
    'scene_path',
    'scenes_dir',
]

# Object types the builder knows; containers are open at the top.
OBJECT_TYPES: dict[str, str] = {
    'cube': 'box',
    'cylinder': 'cylinder',
    'tray': 'container',
    'bin': 'container',
}
CONTAINER_TYPES = frozenset({'tray', 'bin'})

COLORS: dict[str, tuple[float, float, float, float]] = {
    'red': (0.85, 0.1, 0.1, 1.0),
    'green': (0.1, 0.7, 0.15, 1.0),
    'blue': (0.1, 0.25, 0.85, 1.0),
    'yellow': (0.95, 0.85, 0.1, 1.0),
    'orange': (0.95, 0.5, 0.05, 1.0),
    'purple': (0.55, 0.15, 0.7, 1.0),
    'white': (0.92, 0.92, 0.92, 1.0),
    'black': (0.08, 0.08, 0.08, 1.0),
    'gray': (0.55, 0.55, 0.58, 1.0),
    'grey': (0.55, 0.55, 0.58, 1.0),
    'brown': (0.55, 0.4, 0.25, 1.0),
}

# Objects rest this far above their table top when placed (they settle within a few ms).
DROP_GAP = 0.001


class SceneError(ValueError):
    """A scene file or layout that cannot be used; the message names the culprit."""


Vec2 = tuple[float, float]
Vec3 = tuple[float, float, float]
Rgba = tuple[float, float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class RobotSpec(_Model):
    """Robot base pose on the floor: x, y (m), yaw (rad)."""

    pose: Vec3 = (0.0, 0.0, 0.0)


class PlaceSpec(_Model):
    """A table: footprint centre and yaw, top extent and height, where the robot stands."""

    kind: Literal['table'] = 'table'
    pose: Vec3
    size: Vec3
    approach: Vec3 | None = None
    color: Rgba = (0.55, 0.4, 0.25, 1.0)

    @field_validator('size')
    @classmethod
    def _positive(cls, v: Vec3) -> Vec3:
        if min(v) <= 0.0:
            raise ValueError(f'size must be positive, got {list(v)}')
        return v


class ObjectSpec(_Model):
    """One movable object. `size`: x, y, z extent (cylinder: diameter, diameter, height;
    containers: outer x, y and wall height). `xy`, `yaw`: offset on the place's top, in the
    place's frame."""

    type: str
    color: str | Rgba = 'gray'
    size: Vec3
    mass: float = Field(gt=0.0)
    friction: float = Field(default=1.0, gt=0.0)
    fixed: bool = False
    on: str
    xy: Vec2 = (0.0, 0.0)
    yaw: float = 0.0
    label: str | None = None

    @field_validator('size')
    @classmethod
    def _positive(cls, v: Vec3) -> Vec3:
        if min(v) <= 0.0:
            raise ValueError(f'size must be positive, got {list(v)}')
        return v

    @property
    def is_container(self) -> bool:
        return self.type in CONTAINER_TYPES

    @property
    def rgba(self) -> Rgba:
        if isinstance(self.color, str):
            return COLORS[self.color]
        return self.color

    @property
    def height(self) -> float:
        return self.size[2]

    def footprint(self, x: float, y: float, yaw: float) -> list[tuple[float, float]]:
        """Corners of the object's footprint at (x, y, yaw) (cylinders: their bounding square)."""
        hx, hy = self.size[0] / 2, self.size[1] / 2
        c, s = math.cos(yaw), math.sin(yaw)
        return [(x + c * dx - s * dy, y + s * dx + c * dy) for dx, dy in _corners(hx, hy)]


class RandomizeSpec(_Model):
    """Randomised layouts: jitter xy within +-xy_jitter and yaw within +-yaw_jitter (all
    objects, or only `objects` when given); `shuffle` permutes those objects' nominal slots;
    sampled layouts keep `min_clearance` between footprints."""

    xy_jitter: float = Field(default=0.0, ge=0.0)
    yaw_jitter: float = Field(default=0.0, ge=0.0)
    shuffle: tuple[str, ...] = ()
    objects: tuple[str, ...] | None = None
    min_clearance: float = Field(default=0.0, ge=0.0)
    max_attempts: int = Field(default=200, ge=1)


@dataclass(frozen=True)
class ObjectPlacement:
    """Where one object is: the place it is on, its offset there, and its world pose
    (centre of its bounding box; yaw about z)."""

    on: str
    xy: Vec2
    yaw_local: float
    position: Vec3
    yaw: float

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        """World orientation as a w, x, y, z quaternion."""
        return (math.cos(self.yaw / 2), 0.0, 0.0, math.sin(self.yaw / 2))


@dataclass(frozen=True)
class Layout:
    """A concrete placement of every object of a scene (`seed` None: the nominal layout)."""

    placements: dict[str, ObjectPlacement]
    seed: int | None = None

    def __getitem__(self, name: str) -> ObjectPlacement:
        return self.placements[name]


class Scene(_Model):
    """A validated scene. Build with `load_scene`, `Scene.from_dict` or `make_scene`."""

    name: str
    robot: RobotSpec = RobotSpec()
    places: dict[str, PlaceSpec]
    objects: dict[str, ObjectSpec]
    # YAML key `randomize`; the attribute is `randomization` so that `randomize(seed)` is
    # the method that draws a layout.
    randomization: RandomizeSpec = Field(default=RandomizeSpec(), alias='randomize')

    model_config = ConfigDict(extra='forbid', frozen=True, populate_by_name=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = '<dict>') -> Scene:
        """Validate raw data (e.g. parsed YAML); errors name the object, place or field."""
        if not isinstance(data, Mapping):
            raise SceneError(f'{source}: a scene must be a mapping, got {type(data).__name__}')
        data = dict(data)
        data['objects'] = _fix_on_keys(data.get('objects') or {})
        _check_types(data['objects'], source)
        try:
            scene = cls.model_validate(data)
        except ValidationError as exc:
            problems = '; '.join(
                f'{".".join(str(p) for p in e["loc"])}: {e["msg"]}' for e in exc.errors()
            )
            raise SceneError(f'{source}: invalid scene: {problems}') from None
        scene._check(source)
        return scene

    def _check(self, source: str) -> None:
        for name, obj in self.objects.items():
            if obj.on not in self.places:
                raise SceneError(
                    f'{source}: object {name!r} is on unknown place {obj.on!r}; '
                    f'places: {sorted(self.places)}'
                )
            if isinstance(obj.color, str) and obj.color not in COLORS:
                raise SceneError(
                    f'{source}: object {name!r} has unknown color {obj.color!r}; '
                    f'use one of {sorted(COLORS)} or an [r, g, b, a] list'
                )
        overlap = set(self.objects) & set(self.places)
        if overlap:
            raise SceneError(f'{source}: names used for both a place and an object: {overlap}')
        rnd = self.randomization
        for listed in (rnd.shuffle, rnd.objects or ()):
            for name in listed:
                if name not in self.objects:
                    raise SceneError(
                        f'{source}: randomize lists unknown object {name!r}; '
                        f'objects: {sorted(self.objects)}'
                    )
        slots = {self.objects[n].on for n in rnd.shuffle}
        if len(slots) > 1:
            raise SceneError(
                f'{source}: randomize.shuffle mixes objects on different places {sorted(slots)}'
            )
        # The nominal layout itself must be valid (on its table, no overlaps).
        self._validate_layout(self.nominal_layout(), clearance=0.0, source=source)

    # -- layouts ---------------------------------------------------------------------------
    def place_pose(self, place: str) -> Vec3:
        """Table top centre (x, y, z = height) of `place`."""
        p = self.places[place]
        return (p.pose[0], p.pose[1], p.size[2])

    def placement(self, name: str, on: str, xy: Vec2, yaw: float) -> ObjectPlacement:
        """World pose of object `name` put on `on` at offset `xy` and local `yaw`."""
        obj = self.objects[name]
        place = self.places[on]
        px, py, pyaw = place.pose
        c, s = math.cos(pyaw), math.sin(pyaw)
        x = px + c * xy[0] - s * xy[1]
        y = py + s * xy[0] + c * xy[1]
        z = place.size[2] + obj.height / 2 + DROP_GAP
        return ObjectPlacement(
            on=on, xy=(float(xy[0]), float(xy[1])), yaw_local=yaw, position=(x, y, z),
            yaw=_wrap(pyaw + yaw),
        )  # fmt: skip

    def nominal_layout(self) -> Layout:
        """Every object at its configured offset."""
        return Layout(
            {n: self.placement(n, o.on, o.xy, o.yaw) for n, o in self.objects.items()}, None
        )

    def randomize(self, seed: int) -> Layout:
        """A random layout, the same for the same seed; raises SceneError if none fits."""
        rnd = self.randomization
        rng = random.Random(seed)
        jittered = set(rnd.objects if rnd.objects is not None else self.objects)
        for _attempt in range(rnd.max_attempts):
            slots = {n: (self.objects[n].xy, self.objects[n].yaw) for n in self.objects}
            if rnd.shuffle:
                order = list(rnd.shuffle)
                rng.shuffle(order)
                for src, dst in zip(rnd.shuffle, order, strict=True):
                    slots[dst] = (self.objects[src].xy, self.objects[src].yaw)
            placements: dict[str, ObjectPlacement] = {}
            ok = True
            for name in self.objects:  # fixed order: deterministic per seed
                obj = self.objects[name]
                (x0, y0), yaw0 = slots[name]
                for _try in range(50):
                    x, y, yaw = x0, y0, yaw0
                    if name in jittered and not obj.fixed:
                        x += rng.uniform(-rnd.xy_jitter, rnd.xy_jitter)
                        y += rng.uniform(-rnd.xy_jitter, rnd.xy_jitter)
                        yaw += rng.uniform(-rnd.yaw_jitter, rnd.yaw_jitter)
                    cand = self.placement(name, obj.on, (x, y), yaw)
                    if self._fits(name, cand, placements, rnd.min_clearance):
                        placements[name] = cand
                        break
                else:
                    ok = False
                    break
            if ok:
                return Layout(placements, seed)
        raise SceneError(
            f'scene {self.name!r}: no layout without overlaps found for seed {seed} in '
            f'{rnd.max_attempts} attempts (xy_jitter {rnd.xy_jitter}, min_clearance '
            f'{rnd.min_clearance}): reduce the clearance or move objects apart'
        )

    def _fits(
        self,
        name: str,
        cand: ObjectPlacement,
        placed: Mapping[str, ObjectPlacement],
        clearance: float,
    ) -> bool:
        if self._off_table(name, cand) is not None:
            return False
        return all(
            self._overlap(name, cand, other, op, clearance) is None
            for other, op in placed.items()
            if op.on == cand.on
        )

    def _off_table(self, name: str, p: ObjectPlacement) -> str | None:
        obj = self.objects[name]
        place = self.places[p.on]
        hx, hy = place.size[0] / 2, place.size[1] / 2
        for cx, cy in obj.footprint(p.xy[0], p.xy[1], p.yaw_local):
            if abs(cx) > hx + 1e-9 or abs(cy) > hy + 1e-9:
                return (
                    f'object {name!r} at xy {list(p.xy)} sticks out of {p.on!r} '
                    f'(top {place.size[0]} x {place.size[1]} m, corner at '
                    f'[{cx:.3f}, {cy:.3f}])'
                )
        return None

    def _overlap(
        self, a: str, pa: ObjectPlacement, b: str, pb: ObjectPlacement, clearance: float
    ) -> str | None:
        oa, ob = self.objects[a], self.objects[b]
        poly_a = oa.footprint(pa.position[0], pa.position[1], pa.yaw)
        poly_b = ob.footprint(pb.position[0], pb.position[1], pb.yaw)
        if _polygons_overlap(poly_a, poly_b, clearance):
            return f'objects {a!r} and {b!r} overlap on {pa.on!r}'
        return None

    def _validate_layout(self, layout: Layout, clearance: float, source: str) -> None:
        missing = set(self.objects) - set(layout.placements)
        if missing:
            raise SceneError(f'{source}: layout lacks objects {sorted(missing)}')
        for name, p in layout.placements.items():
            msg = self._off_table(name, p)
            if msg:
                raise SceneError(f'{source}: {msg}')
        for (a, pa), (b, pb) in itertools.combinations(layout.placements.items(), 2):
            if pa.on == pb.on:
                msg = self._overlap(a, pa, b, pb, clearance)
                if msg:
                    raise SceneError(f'{source}: {msg}')

    def validate_layout(self, layout: Layout) -> None:
        """Raise SceneError if `layout` has objects off their table or overlapping."""
        self._validate_layout(layout, 0.0, f'scene {self.name!r}')

    def layout(self, seed: int | None = None) -> Layout:
        """The nominal layout for `seed` None or < 0, else `randomize(seed)`."""
        if seed is None or seed < 0:
            return self.nominal_layout()
        return self.randomize(seed)


def scenes_dir() -> Path:
    """Directory that holds the scene YAML files.

    `HUMANOID_SCENES_DIR` wins; then the installed `humanoid_bringup` share; then the source
    tree (plain pytest runs)."""
    env = os.environ.get('HUMANOID_SCENES_DIR')
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    candidates = [here.parents[4] / 'config' / 'scenes']
    ws = os.environ.get('HUMANOID_WORKSPACE')
    if ws:
        candidates.insert(0, Path(ws) / 'config' / 'scenes')
    try:
        from ament_index_python.packages import get_package_share_directory

        share = Path(get_package_share_directory('humanoid_bringup'))
        candidates.append(share / 'config' / 'scenes')
    except Exception:
        pass
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def scene_path(name: str) -> Path:
    """Path of scene `name` (a bare name in `scenes_dir()` or a path to a YAML file)."""
    if name.endswith(('.yaml', '.yml')) or os.sep in name:
        return Path(name)
    return scenes_dir() / f'{name}.yaml'


def load_scene(name: str = 'lab') -> Scene:
    """Load and validate a scene by name (or path); errors name the file and the problem."""
    path = scene_path(name)
    if not path.is_file():
        available = (
            sorted(p.stem for p in path.parent.glob('*.yaml')) if path.parent.is_dir() else []
        )
        raise SceneError(f'scene {name!r} not found at {path}; available scenes: {available}')
    with open(path) as f:
        data = yaml.load(f, Loader=SceneLoader)
    return Scene.from_dict(data, source=str(path))


def make_scene(
    objects: Mapping[str, ObjectSpec | Mapping[str, Any]],
    places: Mapping[str, PlaceSpec | Mapping[str, Any]] | None = None,
    *,
    name: str = 'preview',
    robot_pose: Iterable[float] = (0.0, 0.0, 0.0),
    base: Scene | None = None,
) -> Scene:
    """A scene from object specs given in code, e.g. a perceived world state.

    Places default to those of `base` (or of the `lab` scene when neither is given).
    Randomisation is off."""
    if places is None:
        base = base or load_scene('lab')
        places = base.places
    data = {
        'name': name,
        'robot': {'pose': list(robot_pose)},
        'places': {k: _as_dict(v) for k, v in places.items()},
        'objects': {k: _as_dict(v) for k, v in objects.items()},
    }
    return Scene.from_dict(data, source=f'scene {name!r}')


def _as_dict(v: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    return v.model_dump() if isinstance(v, BaseModel) else dict(v)


class SceneLoader(yaml.SafeLoader):
    """YAML 1.2 booleans: only true/false (PyYAML's YAML 1.1 reads the key `on:` as True)."""


SceneLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != 'tag:yaml.org,2002:bool']
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SceneLoader.add_implicit_resolver(
    'tag:yaml.org,2002:bool',
    re.compile(r'^(?:true|True|TRUE|false|False|FALSE)$'),
    list('tTfF'),
)


def _fix_on_keys(objects: Any) -> Any:
    """Undo YAML 1.1's `on:` -> True for data parsed by a plain yaml.safe_load."""
    if not isinstance(objects, Mapping):
        return objects
    fixed = {}
    for name, spec in objects.items():
        if isinstance(spec, Mapping) and True in spec and 'on' not in spec:
            spec = {('on' if k is True else k): v for k, v in spec.items()}
        fixed[name] = spec
    return fixed


def _check_types(objects: Any, source: str) -> None:
    if not isinstance(objects, Mapping):
        raise SceneError(f'{source}: objects must be a mapping of name -> spec')
    for name, spec in objects.items():
        if not isinstance(spec, Mapping):
            raise SceneError(f'{source}: object {name!r} must be a mapping')
        t = spec.get('type')
        if t not in OBJECT_TYPES:
            raise SceneError(
                f'{source}: object {name!r} has unknown type {t!r}; '
                f'valid types: {sorted(OBJECT_TYPES)}'
            )


def _corners(hx: float, hy: float) -> list[tuple[float, float]]:
    return [(hx, hy), (-hx, hy), (-hx, -hy), (hx, -hy)]


def _polygons_overlap(
    a: list[tuple[float, float]], b: list[tuple[float, float]], clearance: float
) -> bool:
    """Separating-axis test for two convex polygons, inflated by `clearance` (> 1 mm counts)."""
    for poly in (a, b):
        for i in range(len(poly)):
            x1, y1 = poly[i]
            x2, y2 = poly[(i + 1) % len(poly)]
            nx, ny = y1 - y2, x2 - x1
            norm = math.hypot(nx, ny)
            nx, ny = nx / norm, ny / norm
            pa = [nx * x + ny * y for x, y in a]
            pb = [nx * x + ny * y for x, y in b]
            gap = max(min(pb) - max(pa), min(pa) - max(pb))
            if gap >= clearance - 1e-9:
                return False
    return True


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi
