"""Message <-> core conversions for the whole-body controller node (the only place where
messages are built or taken apart field by field)."""

from __future__ import annotations

from collections.abc import Mapping
import math
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import PointStamped, PoseStamped
from humanoid_core.control.balance import MeasuredState
from humanoid_core.control.controller import estimate_pelvis_position
from humanoid_core.control.kinematics import RobotKinematics
from humanoid_ros.trajectory import time_to_sec, trajectory_to_msg
from nav_msgs.msg import Odometry
import numpy as np
from sensor_msgs.msg import Imu, JointState

__all__ = [
    'diagnostics_msg',
    'measured_state',
    'point_from_msg',
    'pose_from_msg',
    'time_to_sec',
    'trajectory_to_msg',
]


def measured_state(
    kin: RobotKinematics, joints: JointState, odom: Odometry, imu: Imu
) -> MeasuredState:
    """Joint states + odometry (base x, y, heading) + IMU (pelvis orientation, rates) ->
    `MeasuredState`; the pelvis height comes from the legs (lower sole on the floor)."""
    if len(joints.name) != len(joints.position):
        raise ValueError(
            f'joint_states has {len(joints.name)} names but {len(joints.position)} positions'
        )
    positions = {str(n): float(q) for n, q in zip(joints.name, joints.position, strict=True)}
    o = imu.orientation
    quat = np.array([o.w, o.x, o.y, o.z], dtype=float)
    if not np.all(np.isfinite(quat)) or np.linalg.norm(quat) < 1e-6:
        raise ValueError('imu orientation is not a valid quaternion')
    quat /= np.linalg.norm(quat)
    p = odom.pose.pose.position
    pelvis = estimate_pelvis_position(kin, positions, (p.x, p.y), quat)
    oq = odom.pose.pose.orientation
    yaw = math.atan2(2.0 * (oq.w * oq.z + oq.x * oq.y), 1.0 - 2.0 * (oq.y**2 + oq.z**2))
    c, s = math.cos(yaw), math.sin(yaw)
    v = odom.twist.twist.linear  # in `base`
    lin_world = np.array([c * v.x - s * v.y, s * v.x + c * v.y, v.z])
    w = imu.angular_velocity
    return MeasuredState(
        time=time_to_sec(joints.header.stamp),
        joint_positions=positions,
        pelvis_position=pelvis,
        pelvis_quaternion=quat,
        pelvis_linear_velocity=lin_world,
        angular_velocity=np.array([w.x, w.y, w.z], dtype=float),
    )


def pose_from_msg(msg: PoseStamped) -> tuple[str, list[float], list[float]]:
    """(frame, position xyz, quaternion wxyz) of a PoseStamped; frame '' means 'world'."""
    p, q = msg.pose.position, msg.pose.orientation
    return (msg.header.frame_id or 'world', [p.x, p.y, p.z], [q.w, q.x, q.y, q.z])


def point_from_msg(msg: PointStamped) -> tuple[str, list[float]]:
    return msg.header.frame_id or 'world', [msg.point.x, msg.point.y, msg.point.z]


def diagnostics_msg(
    name: str, level: bytes | int, message: str, values: Mapping[str, Any], stamp: Time
) -> DiagnosticArray:
    """One DiagnosticStatus (level: DiagnosticStatus.OK/WARN/ERROR) with key/values."""
    level_byte = level if isinstance(level, bytes) else bytes([level])
    status = DiagnosticStatus(level=level_byte, name=name, message=message)
    status.hardware_id = 'whole_body_controller'
    for k, v in values.items():
        text = f'{v:.4g}' if isinstance(v, float) and math.isfinite(v) else str(v)
        status.values.append(KeyValue(key=str(k), value=text))
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg
