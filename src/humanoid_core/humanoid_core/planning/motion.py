"""Expand a validated plan step into motion calls (data the executor turns into action goals).

Templates come from the registry (`motion:` in config/skills.yaml). Poses are plain dicts
``{'frame_id', 'position': [x, y, z], 'orientation': [x, y, z, w]}`` (geometry_msgs/PoseStamped
fields), points ``{'frame_id', 'point': [x, y, z]}``; conversions to messages live in the
planning node's conversions.py.
"""

from __future__ import annotations

import math
from typing import Any

from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import MotionCall, PlanStep
from humanoid_core.planning.validator import StepError, check_step, resolve_hand
from humanoid_core.world.geometry import spot_in_container, spot_on_place
from humanoid_core.world.types import ObjectInfo, WorldSnapshot

PREGRASP_HEIGHT = 0.10
"""m above the grasp point before descending."""
LIFT_HEIGHT = 0.15
"""m above the grasp point after grasping."""
ABOVE_HEIGHT = 0.15
"""m above the drop point before descending into a container / onto a surface."""
RIM_CLEARANCE = 0.08
"""m between a container's rim and the bottom of the held object above it."""
DROP_CLEARANCE = 0.02
"""m between the object's bottom and the support when the gripper opens."""
DROP_RIM_CLEARANCE = 0.01
"""m between a tall container's rim and the bottom of the object when the gripper opens."""
HANDOVER_POINT = (0.10, 0.40, 1.0)
"""Hand-over position of the left hand in the robot's base frame (m; the right hand mirrors
y): held out to the robot's side, where an operator stands next to it, clear of the table in
front (a table's near edge is ~0.2 m ahead of where the robot stands to work)."""
GRASP_BELOW_TOP = 0.033
"""m from an object's top down to the grasp frame, at most: the palm sits ~4.3 cm above the
grasp frame, so tall objects (the vial) are grasped above their centre or the palm would hit
their top. Objects up to ~6.6 cm tall are grasped at their centre."""


def grasp_offset(obj: ObjectInfo) -> float:
    """Height of the grasp point above the object's centre (m, >= 0)."""
    return max(0.0, obj.top_z - GRASP_BELOW_TOP - obj.position[2])


def top_down(yaw: float) -> list[float]:
    """Quaternion (x, y, z, w) of a grasp frame whose x axis points down, rotated by yaw."""
    # q = qz(yaw) * qy(pi/2)
    cz, sz = math.cos(yaw / 2), math.sin(yaw / 2)
    cy, sy = math.cos(math.pi / 4), math.sin(math.pi / 4)
    return [-sz * sy, cz * sy, sz * cy, cz * cy]


def _pose(xyz: tuple[float, float, float] | list[float], yaw: float) -> dict[str, Any]:
    return {
        'frame_id': 'world',
        'position': [float(v) for v in xyz],
        'orientation': top_down(yaw),
    }


def _drop_point(
    world: WorldSnapshot, name: str, held: ObjectInfo | None, hand: str | None
) -> tuple[list[float], float]:
    """Where the held object's centre goes: a free spot in the container / on the surface
    (on a surface: on the side of the `hand` that holds it)."""
    obj = held or ObjectInfo('_', '', '', '', (0.0, 0.0, 0.0))
    if name in world.places:
        place = world.places[name]
        spot = spot_on_place(world, obj, place, hand)
        yaw = place.yaw
        fallback = list(place.position)
    else:
        container = world.obj(name)
        spot = spot_in_container(world, obj, container)
        yaw = container.yaw
        fallback = [container.position[0], container.position[1], container.top_z]
    if spot is None:
        raise StepError(f'no free spot at {name}')
    return [spot[0], spot[1], spot[2] + DROP_CLEARANCE] if spot else fallback, yaw


def _attr(value: str, attr: str, step: PlanStep, world: WorldSnapshot, hand: str | None) -> Any:
    if attr == 'handover':
        if value not in ('left', 'right'):
            raise StepError(f'$hand.handover needs a hand, got {value!r}')
        x, y, z = HANDOVER_POINT
        sign = 1.0 if value == 'left' else -1.0
        return {'frame_id': 'base', 'position': [x, sign * y, z], 'orientation': [0, 0, 0, 1]}
    if value in world.places and attr.startswith('approach_'):
        ax, ay, ayaw = world.places[value].approach
        return {'approach_x': ax, 'approach_y': ay, 'approach_yaw': ayaw}[attr]
    if attr == 'point':
        if value in world.places:
            return {'frame_id': 'world', 'point': list(world.places[value].position)}
        return {'frame_id': 'world', 'point': list(world.obj(value).position)}
    held_id = world.held.get(hand or '') if hand else None
    held = world.objects.get(held_id) if held_id else None
    if attr in ('pregrasp', 'grasp', 'lift'):
        o = world.obj(value)
        z = o.position[2] + grasp_offset(o)
        z += {'grasp': 0.0, 'pregrasp': PREGRASP_HEIGHT, 'lift': LIFT_HEIGHT}[attr]
        return _pose([o.position[0], o.position[1], z], o.yaw)
    if attr in ('above', 'drop'):
        point, yaw = _drop_point(world, value, held, hand)
        # The hand holds the object grasp_offset above its centre: the drop point is where the
        # object's centre goes, so the hand goes that much higher.
        z = point[2]
        if attr == 'above':
            z += ABOVE_HEIGHT
        if value in world.objects and held is not None:
            rim = world.obj(value).top_z
            half = 0.5 * (held.top_z - held.bottom_z)
            if attr == 'above':
                # a tall container (the bin's rim is 12 cm up): the held object and the
                # fingers clear the rim on the way in (at 15 cm over the drop point the
                # fingers hit the bin's rim and pushed the robot over)
                z = max(z, rim + RIM_CLEARANCE + half)
            elif rim - world.obj(value).bottom_z > 2 * half:
                # a container taller than the object (the bin): let go with the object's
                # bottom just over the rim, it drops in. Lowered to the floor of the bin,
                # the forearm hit the near rim and pushed the bin 20 cm away (in-process).
                z = max(z, rim + DROP_RIM_CLEARANCE + half)
        if held is not None:
            z += grasp_offset(held)
        return _pose([point[0], point[1], z], yaw)
    raise StepError(f'unknown attribute {attr!r} of {value!r} in the motion template')


def _resolve(value: Any, step: PlanStep, world: WorldSnapshot, hand: str | None) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, step, world, hand) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, step, world, hand) for v in value]
    if isinstance(value, str) and value.startswith('$'):
        name, _, attr = value[1:].partition('.')
        if name == 'hand':
            arg: Any = hand or ''
        elif name in step.args:
            arg = step.args[name]
        else:
            raise StepError(f'motion template refers to unknown argument ${name}')
        return _attr(str(arg), attr, step, world, hand) if attr else arg
    return value


def expand(step: PlanStep, world: WorldSnapshot, registry: SkillRegistry) -> list[MotionCall]:
    """The motion calls for ``step`` executed in ``world`` (the state before the step).

    Raises StepError when the step cannot run there (same checks as the validator).
    """
    skill, hand = check_step(step, world, registry)
    hand = hand or resolve_hand(step, world)
    return [
        MotionCall(t.action, _resolve(t.goal, step, world, hand), t.local, t.optional)
        for t in skill.motion
    ]
