"""Message <-> core conversions for world state and plans (the one place they are built).

The world model node publishes `world_state` with :func:`world_to_msg`; the task planner,
the console and the benchmarks read it with :func:`world_from_msg`. Plans travel in
ExecuteTask feedback/results (:func:`plan_to_msg`, :func:`plan_from_msg`).
"""

from __future__ import annotations

from collections.abc import Mapping
import math

from builtin_interfaces.msg import Time
from geometry_msgs.msg import Pose, Quaternion, Vector3
from humanoid_core.planning.types import Plan
from humanoid_core.planning.types import PlanStep as CorePlanStep
from humanoid_core.world.types import ObjectInfo, Place, Relation, WorldSnapshot
from std_msgs.msg import Header

from humanoid_interfaces.msg import ObjectState, PlanStep, WorldState
from humanoid_interfaces.msg import Place as PlaceMsg
from humanoid_interfaces.msg import Plan as PlanMsg
from humanoid_interfaces.msg import Relation as RelationMsg

WORLD_FRAME = 'world'
HAND_FRAMES = {'left': 'left_hand', 'right': 'right_hand'}


def yaw_to_quaternion(yaw: float) -> Quaternion:
    return Quaternion(x=0.0, y=0.0, z=math.sin(yaw / 2.0), w=math.cos(yaw / 2.0))


def quaternion_to_yaw(q: Quaternion) -> float:
    return math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))


def _pose(position: tuple[float, float, float], yaw: float) -> Pose:
    pose = Pose()
    pose.position.x, pose.position.y, pose.position.z = (float(v) for v in position)
    pose.orientation = yaw_to_quaternion(yaw)
    return pose


def _vec3(v: tuple[float, float, float]) -> Vector3:
    return Vector3(x=float(v[0]), y=float(v[1]), z=float(v[2]))


def object_to_msg(obj: ObjectInfo, stamp: Time | None = None) -> ObjectState:
    msg = ObjectState(
        id=obj.id,
        label=obj.label,
        shape=obj.shape,
        color=obj.color,
        pose=_pose(obj.position, obj.yaw),
        size=_vec3(obj.size),
        confidence=float(obj.confidence),
        is_container=obj.is_container,
        partial=obj.partial,
    )
    if stamp is not None:
        msg.last_seen = stamp
    return msg


def object_from_msg(msg: ObjectState) -> ObjectInfo:
    p = msg.pose.position
    return ObjectInfo(
        id=msg.id,
        label=msg.label,
        shape=msg.shape,
        color=msg.color,
        position=(p.x, p.y, p.z),
        yaw=quaternion_to_yaw(msg.pose.orientation),
        size=(msg.size.x, msg.size.y, msg.size.z),
        confidence=float(msg.confidence),
        is_container=msg.is_container,
        partial=msg.partial,
    )


def sec_to_stamp(s: float) -> Time:
    sec = math.floor(s)
    return Time(sec=sec, nanosec=round((s - sec) * 1e9) % 1_000_000_000)


def world_to_msg(
    world: WorldSnapshot,
    stamp: Time | None = None,
    last_seen: Mapping[str, float] | None = None,
) -> WorldState:
    """``last_seen``: object id -> seconds (same clock as ``stamp``) of its last detection;
    objects missing from it get ``stamp``."""
    msg = WorldState(header=Header(frame_id=WORLD_FRAME))
    if stamp is not None:
        msg.header.stamp = stamp
    seen = last_seen or {}
    msg.objects = [
        object_to_msg(o, sec_to_stamp(seen[o.id]) if o.id in seen else stamp)
        for o in world.objects.values()
    ]
    msg.places = [
        PlaceMsg(
            name=p.name,
            kind=p.kind,
            pose=_pose(p.position, p.yaw),
            size=_vec3(p.size),
            approach=_vec3(p.approach),
        )
        for p in world.places.values()
    ]
    msg.relations = [
        RelationMsg(subject=r.subject, predicate=r.predicate, object=r.object)
        for r in world.relations
    ]
    x, y, yaw = world.robot_pose
    msg.robot_pose = _pose((x, y, 0.0), yaw)
    msg.robot_place = world.robot_place
    msg.held_left = world.held.get('left') or ''
    msg.held_right = world.held.get('right') or ''
    return msg


def world_from_msg(msg: WorldState) -> WorldSnapshot:
    objects = {o.id: object_from_msg(o) for o in msg.objects}
    places = {
        p.name: Place(
            name=p.name,
            kind=p.kind,
            position=(p.pose.position.x, p.pose.position.y, p.pose.position.z),
            size=(p.size.x, p.size.y, p.size.z),
            approach=(p.approach.x, p.approach.y, p.approach.z),
            yaw=quaternion_to_yaw(p.pose.orientation),
        )
        for p in msg.places
    }
    relations = tuple(Relation(r.subject, r.predicate, r.object) for r in msg.relations)
    rp = msg.robot_pose
    return WorldSnapshot(
        objects=objects,
        places=places,
        relations=relations,
        robot_pose=(rp.position.x, rp.position.y, quaternion_to_yaw(rp.orientation)),
        robot_place=msg.robot_place,
        held={'left': msg.held_left or None, 'right': msg.held_right or None},
    )


def _arg_text(value: object) -> str:
    return f'{value:g}' if isinstance(value, float) else str(value)


def plan_to_msg(plan: Plan | None) -> PlanMsg:
    msg = PlanMsg()
    if plan is None:
        return msg
    msg.planner = plan.planner
    msg.rationale = plan.rationale
    msg.steps = [
        PlanStep(
            skill=s.skill,
            arg_names=list(s.args),
            arg_values=[_arg_text(v) for v in s.args.values()],
            text=s.text,
        )
        for s in plan.steps
    ]
    return msg


def plan_from_msg(msg: PlanMsg) -> Plan:
    steps = tuple(
        CorePlanStep(s.skill, dict(zip(s.arg_names, s.arg_values, strict=True))) for s in msg.steps
    )
    return Plan(steps=steps, planner=msg.planner, rationale=msg.rationale)
