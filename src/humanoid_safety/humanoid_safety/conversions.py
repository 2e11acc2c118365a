"""Message <-> core conversions of the safety supervisor (the only place that builds messages)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import math

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from humanoid_core.safety import SafetyState
from humanoid_ros.trajectory import time_to_sec, trajectory_from_msg, trajectory_to_msg
from nav_msgs.msg import Odometry
from std_msgs.msg import Header

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


def status_to_msg(state: SafetyState, stamp: Time) -> SafetyStatus:
    return SafetyStatus(
        header=Header(stamp=stamp),
        ready=state.ready,
        estopped=state.estopped,
        holding=state.holding,
        reason=state.reason,
        dead_nodes=list(state.dead_nodes),
        last_rejection=state.last_rejection,
        rejected_commands=int(state.rejected_commands),
    )


def status_from_msg(msg: SafetyStatus) -> SafetyState:
    return SafetyState(
        ready=bool(msg.ready),
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
    elif not state.ready:
        level, message = DiagnosticStatus.WARN, 'waiting for joint_states (rejects commands)'
    else:
        level, message = DiagnosticStatus.OK, 'forwarding commands'
    kv: Iterable[tuple[str, object]] = [
        ('ready', state.ready),
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
