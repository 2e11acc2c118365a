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
) -> WorldSnapshot:
    """The scene's world with object positions/yaws replaced by ground truth.

    Objects missing from ``poses`` keep their scene pose. Held objects are inferred: an object
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
