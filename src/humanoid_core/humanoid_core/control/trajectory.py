"""Time-parameterised point-to-point joint trajectories within velocity/acceleration limits.

A `QuinticTrajectory` moves all joints from q0 to q1 (at rest at both ends) on one shared
minimum-jerk time scaling, so joints start and stop together (synchronised). Its duration,
`duration_for(q0, q1, vmax, amax)`, is the shortest one for which no joint exceeds its speed
or acceleration limit: a minimum-jerk move of distance D in time T peaks at 1.875 D / T in
velocity and 10 / sqrt(3) D / T^2 in acceleration.

`to_joint_trajectory` samples it into the core `JointTrajectory` type that the simulator
backend, the safety supervisor and the hardware drivers validate and execute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from humanoid_core.control.swing import min_jerk

__all__ = [
    'PEAK_ACCELERATION_FACTOR',
    'PEAK_VELOCITY_FACTOR',
    'QuinticTrajectory',
    'duration_for',
]

PEAK_VELOCITY_FACTOR = 1.875
PEAK_ACCELERATION_FACTOR = 10.0 / math.sqrt(3.0)

FloatArray = NDArray[np.float64]


def _vector(name: str, value: ArrayLike, n: int | None = None) -> FloatArray:
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.ndim != 1:
        raise ValueError(f'{name} must be a 1-D vector, got shape {arr.shape}')
    if n is not None and arr.size == 1 and n > 1:
        arr = np.full(n, float(arr[0]))
    if n is not None and arr.size != n:
        raise ValueError(f'{name} has {arr.size} entries, expected {n}')
    if not np.all(np.isfinite(arr)):
        raise ValueError(f'{name} contains NaN or inf: {arr}')
    return arr


def duration_for(
    q0: ArrayLike,
    q1: ArrayLike,
    vmax: ArrayLike,
    amax: ArrayLike,
    min_duration: float = 0.0,
) -> float:
    """Shortest synchronised minimum-jerk duration (s) within per-joint vmax and amax.

    `vmax`/`amax` are scalars or per-joint vectors, strictly positive.
    """
    a = _vector('q0', q0)
    b = _vector('q1', q1, a.size)
    v = _vector('vmax', vmax, a.size)
    acc = _vector('amax', amax, a.size)
    if np.any(v <= 0.0):
        raise ValueError(f'vmax must be positive for every joint, got {v}')
    if np.any(acc <= 0.0):
        raise ValueError(f'amax must be positive for every joint, got {acc}')
    dist = np.abs(b - a)
    t_vel = PEAK_VELOCITY_FACTOR * dist / v
    t_acc = np.sqrt(PEAK_ACCELERATION_FACTOR * dist / acc)
    return float(max(min_duration, np.max(t_vel, initial=0.0), np.max(t_acc, initial=0.0)))


@dataclass(frozen=True)
class QuinticTrajectory:
    """Synchronised minimum-jerk move q0 -> q1 over `duration` s (rest to rest)."""

    q0: FloatArray
    q1: FloatArray
    duration: float

    @staticmethod
    def within_limits(
        q0: ArrayLike,
        q1: ArrayLike,
        vmax: ArrayLike,
        amax: ArrayLike,
        min_duration: float = 0.0,
    ) -> QuinticTrajectory:
        """The fastest such move that respects `vmax` and `amax`."""
        a = _vector('q0', q0)
        b = _vector('q1', q1, a.size)
        return QuinticTrajectory(a, b, duration_for(a, b, vmax, amax, min_duration))

    def __post_init__(self) -> None:
        a = _vector('q0', self.q0)
        _vector('q1', self.q1, a.size)
        if not math.isfinite(self.duration) or self.duration < 0.0:
            raise ValueError(f'duration must be >= 0, got {self.duration!r}')

    def sample(self, t: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Positions, velocities and accelerations at time t (clamped to [0, duration])."""
        q0, q1 = np.asarray(self.q0, float), np.asarray(self.q1, float)
        if self.duration == 0.0:
            return q1.copy(), np.zeros_like(q1), np.zeros_like(q1)
        s, ds, dds = min_jerk(t / self.duration)
        if t <= 0.0 or t >= self.duration:
            ds = dds = 0.0
        d = q1 - q0
        T = self.duration
        return q0 + s * d, (ds / T) * d, (dds / (T * T)) * d

    def times(self, dt: float) -> FloatArray:
        """Sample times 0, dt, ..., duration (the last one exactly `duration`)."""
        if not dt > 0.0:
            raise ValueError(f'dt must be positive, got {dt}')
        n = max(1, math.ceil(self.duration / dt - 1e-9))
        return np.linspace(0.0, self.duration, n + 1)

    def to_joint_trajectory(self, joint_names: Sequence[str], dt: float = 0.05):
        """Sampled as a core `JointTrajectory` (positions + velocities, first point after 0)."""
        from humanoid_core.sim.trajectory import JointTrajectory

        if len(joint_names) != np.asarray(self.q0).size:
            raise ValueError(
                f'{len(joint_names)} joint names for a {np.asarray(self.q0).size}-joint move'
            )
        points = []
        for t in self.times(dt)[1:]:
            q, qd, _ = self.sample(float(t))
            points.append((q.tolist(), qd.tolist(), float(t)))
        if not points:
            points.append((np.asarray(self.q1, float).tolist(), None, max(dt, 1e-3)))
        return JointTrajectory.from_lists(joint_names, points)
