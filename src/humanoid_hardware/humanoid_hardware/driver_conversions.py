"""Message conversions for the real-robot `hardware` node (driver core types -> messages).

Kept apart from `conversions.py` (the simulator's) so that it imports nothing from MuJoCo;
`time_msg` / `trajectory_from_msg` are shared from there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from humanoid_core.drivers.base import ImuSample, JointReading
from sensor_msgs.msg import Imu, JointState

from humanoid_hardware.conversions import IMU_FRAME

__all__ = ['diagnostics_msg', 'imu_msg', 'joint_state_msg']


def joint_state_msg(
    reading: JointReading,
    held_names: Sequence[str],
    held_positions: Sequence[float],
    stamp: Time,
) -> JointState:
    """Driven joints (measured) followed by the held joints (fixed position, zero velocity
    and effort)."""
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(reading.names) + list(held_names)
    zeros = [0.0] * len(held_names)
    msg.position = [float(v) for v in reading.positions] + [float(v) for v in held_positions]
    msg.velocity = [float(v) for v in reading.velocities] + zeros
    msg.effort = [float(v) for v in reading.efforts] + zeros
    return msg


def imu_msg(sample: ImuSample, stamp: Time, frame_id: str = IMU_FRAME) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    w, x, y, z = (float(v) for v in sample.orientation)
    msg.orientation.w, msg.orientation.x, msg.orientation.y, msg.orientation.z = w, x, y, z
    gx, gy, gz = (float(v) for v in sample.angular_velocity)
    msg.angular_velocity.x, msg.angular_velocity.y, msg.angular_velocity.z = gx, gy, gz
    ax, ay, az = (float(v) for v in sample.linear_acceleration)
    msg.linear_acceleration.x, msg.linear_acceleration.y, msg.linear_acceleration.z = ax, ay, az
    return msg


def diagnostics_msg(
    name: str,
    level: int,
    message: str,
    values: Mapping[str, Any],
    stamp: Time,
    hardware_id: str = '',
) -> DiagnosticArray:
    status = DiagnosticStatus(level=bytes([level]), name=name, message=message)
    status.hardware_id = hardware_id
    for k, v in values.items():
        text = f'{v:.4g}' if isinstance(v, float) and math.isfinite(v) else str(v)
        status.values.append(KeyValue(key=k, value=text))
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg
