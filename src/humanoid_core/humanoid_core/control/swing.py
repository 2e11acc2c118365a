"""Swing-foot trajectories: lift, travel, land softly.

Horizontal position and heading follow a minimum-jerk (quintic) time scaling over the middle
part of the swing (`travel_window`), so the foot leaves the ground vertically and comes down
vertically; the height follows h(s) = 64 * apex * s^3 (1 - s)^3, which peaks at `apex` for
s = 0.5 and has zero velocity and acceleration at lift-off and touch-down.
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.footsteps import Pose2D, wrap_angle

__all__ = ['FootPose', 'SwingTrajectory', 'min_jerk']


def min_jerk(s: float) -> tuple[float, float, float]:
    """Minimum-jerk scaling 10s^3 - 15s^4 + 6s^5 and its first two derivatives, s in [0, 1]."""
    s = min(max(s, 0.0), 1.0)
    return (
        s**3 * (10.0 - 15.0 * s + 6.0 * s * s),
        30.0 * s * s * (1.0 - s) ** 2,
        60.0 * s * (1.0 - s) * (1.0 - 2.0 * s),
    )


@dataclass(frozen=True)
class FootPose:
    """Sole pose in the world: position (m), heading (rad) and its velocity (m/s, rad/s)."""

    position: NDArray[np.float64]
    yaw: float
    velocity: NDArray[np.float64]
    yaw_rate: float = 0.0


@dataclass(frozen=True)
class SwingTrajectory:
    """Sole motion from `start` to `end` (floor poses) over `duration` s with apex `height` m."""

    start: Pose2D
    end: Pose2D
    duration: float
    height: float = 0.04
    ground_z: float = 0.0
    travel_window: tuple[float, float] = (0.1, 0.9)

    def __post_init__(self) -> None:
        if not math.isfinite(self.duration) or self.duration <= 0.0:
            raise ValueError(f'swing duration must be positive, got {self.duration!r}')
        if not math.isfinite(self.height) or self.height < 0.0:
            raise ValueError(f'swing height must be >= 0, got {self.height!r}')
        a, b = self.travel_window
        if not 0.0 <= a < b <= 1.0:
            raise ValueError(f'travel_window must satisfy 0 <= a < b <= 1, got {(a, b)}')

    def at(self, t: float) -> FootPose:
        """Sole pose t s after lift-off (clamped to the ends)."""
        T = self.duration
        tau = min(max(t / T, 0.0), 1.0)
        a, b = self.travel_window
        s_lin = (tau - a) / (b - a)
        s, ds, _ = min_jerk(s_lin)
        ds = ds / ((b - a) * T) if 0.0 < s_lin < 1.0 else 0.0
        dxy = self.end.xy - self.start.xy
        dyaw = wrap_angle(self.end.yaw - self.start.yaw)
        xy = self.start.xy + s * dxy
        yaw = wrap_angle(self.start.yaw + s * dyaw)
        z = self.ground_z + 64.0 * self.height * tau**3 * (1.0 - tau) ** 3
        dz = 64.0 * self.height * 3.0 * tau**2 * (1.0 - tau) ** 2 * (1.0 - 2.0 * tau) / T
        pos = np.array([xy[0], xy[1], z])
        vel = np.array([ds * dxy[0], ds * dxy[1], dz])
        return FootPose(position=pos, yaw=yaw, velocity=vel, yaw_rate=ds * dyaw)
