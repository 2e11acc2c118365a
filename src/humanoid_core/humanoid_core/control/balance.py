"""Standing and walking balance feedback: ankle (and hip) strategy from the base state.

The position-controlled robot follows joint targets; disturbances tilt the body about the
ankles. `AnkleBalance` turns the measured pelvis tilt (roll, pitch from the IMU orientation)
and tilt rate (gyro) plus the CoM offset from its reference into corrections of the ankle
pitch/roll targets (PD, saturated) and, for larger errors, of the hip roll/pitch targets
(hip strategy), so the feet push the CoM back over the support polygon.

Sign conventions (this robot: x forward, y left, z up; ankle pitch/roll and hip pitch/roll
joint axes along +y / +x): a forward pitch of the body (positive pitch about +y) is countered by
pitching the ankles so the toes push down (positive ankle pitch correction moves the shank
back); a roll to the left (positive roll about +x) by rolling the ankles the other way.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any

import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.footsteps import Pose2D

__all__ = ['AnkleBalance', 'BalanceGains', 'MeasuredState', 'roll_pitch_of']

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class MeasuredState:
    """What a hardware interface reports: time, joints, pelvis pose/velocity, IMU rates."""

    time: float
    joint_positions: dict[str, float]
    pelvis_position: FloatArray
    pelvis_quaternion: FloatArray
    pelvis_linear_velocity: FloatArray  # world frame, m/s
    angular_velocity: FloatArray  # pelvis frame, rad/s

    @staticmethod
    def from_sim_state(state: object) -> MeasuredState:
        """From a `humanoid_core.sim.backend.SimState` (or anything with its fields: time,
        joint_names, positions, pelvis_pose, imu_angular_velocity, base_linear_velocity)."""
        st: Any = state
        pose = st.pelvis_pose
        return MeasuredState(
            time=float(st.time),
            joint_positions={
                n: float(q) for n, q in zip(st.joint_names, st.positions, strict=True)
            },
            pelvis_position=np.asarray(pose.position, dtype=float),
            pelvis_quaternion=np.asarray(pose.quaternion, dtype=float),
            pelvis_linear_velocity=np.asarray(st.base_linear_velocity, dtype=float),
            angular_velocity=np.asarray(st.imu_angular_velocity, dtype=float),
        )

    @property
    def base_pose(self) -> Pose2D:
        w, x, y, z = self.pelvis_quaternion
        yaw = math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))
        return Pose2D(float(self.pelvis_position[0]), float(self.pelvis_position[1]), yaw)


def roll_pitch_of(quaternion: FloatArray) -> tuple[float, float]:
    """Roll and pitch (rad, ZYX Euler) of a quaternion (w, x, y, z)."""
    w, x, y, z = (float(v) for v in quaternion)
    roll = math.atan2(2.0 * (w * x + y * z), 1.0 - 2.0 * (x * x + y * y))
    pitch = math.asin(max(-1.0, min(1.0, 2.0 * (w * y - z * x))))
    return roll, pitch


@dataclass(frozen=True)
class BalanceGains:
    """PD gains (rad per rad, rad per rad/s; rad per m, rad per m/s) and saturation (rad)."""

    tilt_kp: float = 0.8
    tilt_kd: float = 0.05
    com_kp: float = 1.5
    com_kd: float = 0.3
    hip_ratio: float = 0.5
    max_correction: float = 0.25
    # roll (lateral) tilt gains when they differ from the pitch ones (None = tilt_kp/tilt_kd)
    roll_kp: float | None = None
    roll_kd: float | None = None

    def __post_init__(self) -> None:
        for name in ('tilt_kp', 'tilt_kd', 'com_kp', 'com_kd', 'hip_ratio', 'max_correction',
                     'roll_kp', 'roll_kd'):  # fmt: skip
            value = getattr(self, name)
            if value is None and name.startswith('roll'):
                continue
            if not math.isfinite(value) or value < 0.0:
                raise ValueError(f'BalanceGains.{name} must be >= 0, got {value!r}')


class AnkleBalance:
    """Ankle + hip strategy corrections for both legs from tilt and CoM errors."""

    def __init__(self, gains: BalanceGains | None = None) -> None:
        self.gains = gains or BalanceGains()

    def corrections(
        self,
        pelvis_quaternion: FloatArray,
        angular_velocity: FloatArray,
        com_error: FloatArray | None = None,
        com_vel_error: FloatArray | None = None,
        desired_roll_pitch: tuple[float, float] = (0.0, 0.0),
        heading: float = 0.0,
    ) -> dict[str, float]:
        """Joint target offsets (rad) by joint name for both legs.

        `pelvis_quaternion`: measured pelvis orientation (world); `angular_velocity`: body
        rates (rad/s, pelvis/IMU frame: x roll rate, y pitch rate); `com_error` and
        `com_vel_error`: measured minus reference CoM position/velocity in the world (m, m/s),
        rotated into the heading frame here.
        """
        g = self.gains
        roll, pitch = roll_pitch_of(np.asarray(pelvis_quaternion, float))
        e_roll = roll - desired_roll_pitch[0]
        e_pitch = pitch - desired_roll_pitch[1]
        w = np.asarray(angular_velocity, float)
        # Sagittal (about y) and lateral (about x) "lean" commands, rad.
        u_pitch = g.tilt_kp * e_pitch + g.tilt_kd * float(w[1])
        roll_kp = g.tilt_kp if g.roll_kp is None else g.roll_kp
        roll_kd = g.tilt_kd if g.roll_kd is None else g.roll_kd
        u_roll = roll_kp * e_roll + roll_kd * float(w[0])
        if com_error is not None:
            c, s = math.cos(heading), math.sin(heading)
            e = np.asarray(com_error, float)[:2]
            ev = np.zeros(2) if com_vel_error is None else np.asarray(com_vel_error, float)[:2]
            fwd = c * e[0] + s * e[1]
            lat = -s * e[0] + c * e[1]
            fwd_v = c * ev[0] + s * ev[1]
            lat_v = -s * ev[0] + c * ev[1]
            # CoM ahead (fwd > 0) acts like a forward pitch; CoM left (lat > 0) like a roll
            # to the left (negative roll about +x moves the top towards -y... see module doc).
            u_pitch += g.com_kp * fwd + g.com_kd * fwd_v
            u_roll -= g.com_kp * lat + g.com_kd * lat_v
        m = g.max_correction
        u_pitch = float(np.clip(u_pitch, -m, m))
        u_roll = float(np.clip(u_roll, -m, m))
        out: dict[str, float] = {}
        for side in ('left', 'right'):
            out[f'{side}_ankle_pitch_joint'] = u_pitch
            out[f'{side}_ankle_roll_joint'] = u_roll
            out[f'{side}_hip_pitch_joint'] = g.hip_ratio * u_pitch
            out[f'{side}_hip_roll_joint'] = g.hip_ratio * u_roll
        return out
