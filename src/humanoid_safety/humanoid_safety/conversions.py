"""Message <-> core conversions of the safety supervisor (the only place that builds messages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import math

from builtin_interfaces.msg import Duration, Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from humanoid_core.safety import SafetyState
from humanoid_core.sim.trajectory import JointTrajectory, TrajectoryPoint
from nav_msgs.msg import Odometry
from std_msgs.msg import Header
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

from humanoid_interfaces.msg import SafetyStatus

__all__ = [
    'base_pose_from_odom',
    'diagnostics_msg',
    'heartbeat_names',
    'status_from_msg',
    'status_to_msg',
    'time_to_sec',
    'trajectory_from_msg',
    'trajectory_to_msg',
]


def time_to_sec(stamp: Time | Duration) -> float:
    """A builtin_interfaces Time or Duration in seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def _duration(seconds: float) -> Duration:
    sec = math.floor(seconds)
    return Duration(sec=int(sec), nanosec=min(round((seconds - sec) * 1e9), 999_999_999))


def trajectory_from_msg(msg: JointTrajectoryMsg) -> JointTrajectory:
    """trajectory_msgs/JointTrajectory -> core type. A zero header stamp means "start now"
    (start_time None), as for ros2_control; empty velocity lists mean no velocities."""
    stamp = time_to_sec(msg.header.stamp)
    points = tuple(
        TrajectoryPoint(
            positions=tuple(float(q) for q in p.positions),
            velocities=tuple(float(v) for v in p.velocities) if len(p.velocities) else None,
            time_from_start=time_to_sec(p.time_from_start),
        )
        for p in msg.points
    )
    return JointTrajectory(tuple(msg.joint_names), points, stamp if stamp > 0.0 else None)


def trajectory_to_msg(traj: JointTrajectory, frame_id: str = '') -> JointTrajectoryMsg:
    """Core type -> message; start_time None gives a zero stamp (start on receipt)."""
    msg = JointTrajectoryMsg()
    msg.header.frame_id = frame_id
    if traj.start_time is not None:
        sec = math.floor(traj.start_time)
        msg.header.stamp = Time(sec=int(sec), nanosec=int((traj.start_time - sec) * 1e9))
    msg.joint_names = list(traj.joint_names)
    for p in traj.points:
        point = JointTrajectoryPoint()
        point.positions = [float(q) for q in p.positions]
        if p.velocities is not None:
            point.velocities = [float(v) for v in p.velocities]
        point.time_from_start = _duration(p.time_from_start)
        msg.points.append(point)
    return msg


def status_to_msg(state: SafetyState, stamp: Time) -> SafetyStatus:
    return SafetyStatus(
        header=Header(stamp=stamp),
        estopped=state.estopped,
        holding=state.holding,
        reason=state.reason,
        dead_nodes=list(state.dead_nodes),
        last_rejection=state.last_rejection,
        rejected_commands=int(state.rejected_commands),
    )


def status_from_msg(msg: SafetyStatus) -> SafetyState:
    return SafetyState(
        estopped=bool(msg.estopped),
        holding=bool(msg.holding),
        reason=str(msg.reason),
        dead_nodes=tuple(msg.dead_nodes),
        last_rejection=str(msg.last_rejection),
        rejected_commands=int(msg.rejected_commands),
    )


def heartbeat_names(msg: DiagnosticArray) -> set[str]:
    """Node names announced by a DiagnosticArray: the part of each status name before ':'."""
    return {s.name.split(':', 1)[0].strip() for s in msg.status if s.name}


def base_pose_from_odom(msg: Odometry) -> tuple[float, float, float]:
    """(x, y, yaw) of the robot base in the odometry frame."""
    p = msg.pose.pose.position
    q = msg.pose.pose.orientation
    yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y * q.y + q.z * q.z))
    return float(p.x), float(p.y), yaw


def diagnostics_msg(
    node_name: str, state: SafetyState, values: Mapping[str, object], stamp: Time
) -> DiagnosticArray:
    """One status '<node>: state': ERROR when e-stopped or a node is dead, WARN when holding."""
    if state.estopped or state.dead_nodes:
        level, message = DiagnosticStatus.ERROR, state.reason
    elif state.holding:
        level, message = DiagnosticStatus.WARN, state.reason
    else:
        level, message = DiagnosticStatus.OK, 'forwarding commands'
    kv: Iterable[tuple[str, object]] = [
        ('estopped', state.estopped),
        ('holding', state.holding),
        ('dead_nodes', ','.join(state.dead_nodes)),
        ('rejected_commands', state.rejected_commands),
        ('last_rejection', state.last_rejection),
        *values.items(),
    ]
    status = DiagnosticStatus(
        level=level,
        name=f'{node_name}: state',
        message=message,
        hardware_id='',
        values=[KeyValue(key=k, value=str(v)) for k, v in kv],
    )
    return DiagnosticArray(header=Header(stamp=stamp), status=[status])
