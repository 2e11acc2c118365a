"""Judging a task on simulator ground truth (benchmarks, the demo, system tests).

The goal of a task comes from a suite (its ``goal:`` predicates) or, for a free-form
instruction, from the plan itself: the relations its symbolic execution creates for the
objects it moves. Ground truth (object poses from the simulator's ``sim/object_poses``) is
turned into a :class:`WorldSnapshot` with the scene's places, and relations are inferred by
the same geometry the world model uses.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
import math
from pathlib import Path

from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.suite import Predicate, Task, load_suite
from humanoid_core.planning.types import Plan
from humanoid_core.planning.validator import validate
from humanoid_core.world.geometry import inside_footprint, refresh
from humanoid_core.world.types import WorldSnapshot

Vec3 = tuple[float, float, float]


@dataclass(frozen=True)
class Verdict:
    ok: bool
    met: tuple[str, ...]
    failed: tuple[str, ...]

    @property
    def gcr(self) -> float:
        total = len(self.met) + len(self.failed)
        return len(self.met) / total if total else float(self.ok)


def quat_yaw(q: Sequence[float]) -> float:
    """Yaw of a (w, x, y, z) quaternion (MuJoCo order)."""
    w, x, y, z = q
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


TIPPED = math.radians(20.0)
"""rad between an object's own z axis and the vertical beyond which it is judged by the extent
it really has (a vial lying in the bin is in it: taken upright, it reached below the bin's
floor and was judged not in it)."""

Quat = tuple[float, float, float, float]
"""(w, x, y, z), MuJoCo's order."""


def tilt_of(q: Sequence[float]) -> float:
    """Angle (rad) between the z axis of a body with (w, x, y, z) orientation `q` and the
    world's z axis."""
    w, x, y, z = q
    n = w * w + x * x + y * y + z * z
    if n <= 0.0:
        raise ValueError(f'orientation {tuple(q)} is not a rotation (zero quaternion)')
    cos_tilt = 1.0 - 2.0 * (x * x + y * y) / n
    return math.acos(max(-1.0, min(1.0, cos_tilt)))


def world_extent(size: Sequence[float], q: Sequence[float]) -> Vec3:
    """x, y, z extent in the world of a box of `size` (its own axes) turned by `q`."""
    w, x, y, z = (float(v) for v in q)
    n = math.sqrt(w * w + x * x + y * y + z * z)
    w, x, y, z = w / n, x / n, y / n, z / n
    rot = (
        (1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)),
        (2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)),
        (2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)),
    )
    ex, ey, ez = (sum(abs(r[j]) * size[j] for j in range(3)) for r in rot)
    return (ex, ey, ez)


def tipped_objects(
    world: WorldSnapshot, orientations: Mapping[str, Sequence[float]], tolerance: float = 0.01
) -> list[str]:
    """Objects of `world` tilted more than `TIPPED` whose height in the world differs from
    their own by more than `tolerance` m (knocked over, lying in a container): a cube resting
    on another face is not tipped. `world` has the objects' own sizes (the scene's, not a
    `ground_truth_world`, whose tipped objects have their turned extents)."""
    return sorted(
        oid
        for oid, q in orientations.items()
        if oid in world.objects
        and tilt_of(q) > TIPPED
        and abs(world_extent(world.obj(oid).size, q)[2] - world.obj(oid).size[2]) > tolerance
    )


LIFTED = 0.3
"""m above the floor: an object this high that rests on nothing is in a hand."""
LIFT_CLEAR = 0.02
"""m between a table top and the lowest point of an object over it that is held."""
HOLD_REACH = 0.8
"""m from the robot's base within which a floating object counts as held."""


def ground_truth_world(
    scene_world: WorldSnapshot,
    poses: Mapping[str, tuple[Vec3, float]],
    robot_pose: Vec3 | None = None,
    orientations: Mapping[str, Sequence[float]] | None = None,
) -> WorldSnapshot:
    """The scene's world with object positions/yaws replaced by ground truth.

    Objects missing from ``poses`` keep their scene pose. With ``orientations`` ((w, x, y, z)
    per object), an object tilted more than `TIPPED` takes the world extent of its turned box
    as its size (yaw 0), so that a vial lying in the bin is in it and one lying on a table is
    on it; without them objects are taken as upright. Held objects are inferred: an object
    that rests on nothing (no `on`/`in` relation) and floats more than `LIFTED` m above the
    floor within `HOLD_REACH` m of the robot can only be in a hand (nothing else holds things
    up in these scenes); the hand is the one on its side of the robot.
    """
    objects = {}
    for oid, obj in scene_world.objects.items():
        if oid in poses:
            position, yaw = poses[oid]
            x, y, z = position
            obj = replace(obj, position=(float(x), float(y), float(z)), yaw=yaw)
        q = (orientations or {}).get(oid)
        if q is not None and tilt_of(q) > TIPPED:
            obj = replace(obj, size=world_extent(obj.size, q), yaw=0.0)
        objects[oid] = obj
    world = refresh(
        scene_world.replace(
            objects=objects,
            held={'left': None, 'right': None},
            handed_over=(),
            robot_pose=robot_pose if robot_pose is not None else scene_world.robot_pose,
        )
    )
    resting = {r.subject for r in world.relations if r.predicate in ('on', 'in')}
    held: dict[str, str | None] = {'left': None, 'right': None}
    rx, ry, ryaw = world.robot_pose
    for oid, obj in world.objects.items():
        x, y, z = obj.position
        lowest = z - max(obj.size) / 2.0  # whatever way up it lies
        if oid in resting or obj.is_container or lowest < LIFTED:
            continue
        if any(
            inside_footprint((x, y), p.position, p.size, p.yaw) and lowest < p.top_z + LIFT_CLEAR
            for p in world.places.values()
        ):
            continue  # lying on a table (knocked over), not held
        if math.hypot(x - rx, y - ry) > HOLD_REACH:
            continue
        side_y = -math.sin(ryaw) * (x - rx) + math.cos(ryaw) * (y - ry)
        hand = 'left' if side_y > 0.0 else 'right'
        if held[hand] is None:
            held[hand] = oid
    if held == {'left': None, 'right': None}:
        return world
    return refresh(world.replace(held=held))


def goals_from_plan(plan: Plan, world: WorldSnapshot, registry: SkillRegistry) -> list[Predicate]:
    """The in/on relations the plan's symbolic execution creates for the objects it moves."""
    result = validate(plan, world, registry)
    if result.final_world is None:
        return []
    before = set(world.relations)
    goals = []
    for rel in result.final_world.relations:
        if rel.predicate in ('in', 'on') and rel not in before:
            goals.append(Predicate(rel.predicate, (rel.subject, rel.object)))
    return goals


def find_task(instruction: str, suites: Iterable[Path]) -> Task | None:
    """The suite task whose instruction matches (case and spacing insensitive)."""
    key = ' '.join(instruction.lower().split())
    for path in suites:
        try:
            suite = load_suite(path)
        except Exception:
            continue
        for task in suite.tasks:
            if ' '.join(task.instruction.lower().split()) == key:
                return task
    return None


def judge(goals: Sequence[Predicate], world: WorldSnapshot) -> Verdict:
    met = tuple(str(g) for g in goals if g.holds(world))
    failed = tuple(str(g) for g in goals if not g.holds(world))
    return Verdict(bool(goals) and not failed, met, failed)


def moved_objects(
    before: Mapping[str, tuple[Vec3, float]],
    after: Mapping[str, tuple[Vec3, float]],
    tolerance: float = 0.01,
) -> list[str]:
    """Objects whose position changed by more than ``tolerance`` metres (for expect-tasks:
    'nothing moved')."""
    moved = []
    for oid, (p0, _y0) in before.items():
        if oid in after and math.dist(p0, after[oid][0]) > tolerance:
            moved.append(oid)
    return moved
