"""Joint trajectories: a ROS-free core type, validation and time interpolation.

`JointTrajectory` mirrors trajectory_msgs/JointTrajectory (names, points with positions,
optional velocities and a time from start, and a start time) without depending on ROS.
`validate_trajectory` is the one gate every consumer uses (the simulator backend, the real
robot driver, the safety supervisor): it raises `TrajectoryError` with a message that names
the problem, so the caller can log it and keep its last safe target.
`TrajectorySampler` turns a validated trajectory into targets at any time: cubic Hermite
between points that carry velocities, linear otherwise, holding the last point at the end.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
import math
from typing import Protocol

import numpy as np

__all__ = [
    'STALE_START_TOLERANCE',
    'JointLimit',
    'JointTrajectory',
    'LimitLike',
    'TrajectoryError',
    'TrajectoryPoint',
    'TrajectorySampler',
    'validate_trajectory',
]

# s a command's start stamp may lie behind the consumer's clock (transport delay) before it is
# refused as stale: the simulator, the hardware node and the safety supervisor's default
STALE_START_TOLERANCE = 0.25


class TrajectoryError(ValueError):
    """A trajectory that must not be executed; the message says why."""


class LimitLike(Protocol):
    """Anything with position bounds and a velocity bound (rad, rad/s or m, m/s)."""

    @property
    def lower(self) -> float: ...

    @property
    def upper(self) -> float: ...

    @property
    def velocity(self) -> float: ...


@dataclass(frozen=True)
class JointLimit:
    """Position bounds and maximum speed of one joint; `inf` means unlimited."""

    lower: float = -math.inf
    upper: float = math.inf
    velocity: float = math.inf


@dataclass(frozen=True)
class TrajectoryPoint:
    """One waypoint: positions (and optionally velocities) reached `time_from_start` s in."""

    positions: tuple[float, ...]
    velocities: tuple[float, ...] | None = None
    time_from_start: float = 0.0


@dataclass(frozen=True)
class JointTrajectory:
    """Waypoints for a subset of joints.

    `start_time` is in the consumer's clock (sim time in simulation, seconds); `None` means
    "start now" (like an empty header stamp for ros2_control).
    """

    joint_names: tuple[str, ...]
    points: tuple[TrajectoryPoint, ...]
    start_time: float | None = None

    @staticmethod
    def from_lists(
        joint_names: Sequence[str],
        points: Sequence[tuple[Sequence[float], Sequence[float] | None, float]],
        start_time: float | None = None,
    ) -> JointTrajectory:
        """Build from plain lists: `points` holds (positions, velocities or None, t)."""
        return JointTrajectory(
            joint_names=tuple(joint_names),
            points=tuple(
                TrajectoryPoint(
                    positions=tuple(float(p) for p in pos),
                    velocities=None if vel is None else tuple(float(v) for v in vel),
                    time_from_start=float(t),
                )
                for pos, vel, t in points
            ),
            start_time=start_time,
        )


def validate_trajectory(
    traj: JointTrajectory,
    limits: Mapping[str, LimitLike],
    now: float,
    *,
    start_tolerance: float = 0.05,
    limit_tolerance: float = 1e-6,
) -> JointTrajectory:
    """Check `traj` against joint `limits` at time `now`; return it with a concrete start time.

    Raises `TrajectoryError` naming the problem: no joints or points, duplicate or unknown
    joint names, lengths that do not match the joint list, NaN/inf values, positions outside
    the limits, velocities above the speed limit, times that are negative or not strictly
    increasing, a start time more than `start_tolerance` s in the past.
    """
    names = traj.joint_names
    if not names:
        raise TrajectoryError('trajectory has no joint names')
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise TrajectoryError(f'trajectory names joints more than once: {dup}')
    unknown = [n for n in names if n not in limits]
    if unknown:
        raise TrajectoryError(
            f'trajectory names unknown joints {unknown}; known joints: {sorted(limits)}'
        )
    if not traj.points:
        raise TrajectoryError('trajectory has no points')
    if traj.start_time is not None and not math.isfinite(traj.start_time):
        raise TrajectoryError(f'trajectory start time is not finite: {traj.start_time}')
    previous_t = -math.inf
    for i, point in enumerate(traj.points):
        if len(point.positions) != len(names):
            raise TrajectoryError(
                f'point {i} has {len(point.positions)} positions for {len(names)} joints'
            )
        if point.velocities is not None and len(point.velocities) != len(names):
            raise TrajectoryError(
                f'point {i} has {len(point.velocities)} velocities for {len(names)} joints'
            )
        t = point.time_from_start
        if not math.isfinite(t):
            raise TrajectoryError(f'point {i} time_from_start is not finite: {t}')
        if t < 0.0:
            raise TrajectoryError(f'point {i} time_from_start is negative: {t}')
        if t <= previous_t:
            raise TrajectoryError(
                f'point {i} time_from_start {t} is not after the previous point ({previous_t})'
            )
        previous_t = t
        for name, q in zip(names, point.positions, strict=True):
            if not math.isfinite(q):
                raise TrajectoryError(f'point {i} position of {name} is not finite: {q}')
            lim = limits[name]
            if q < lim.lower - limit_tolerance or q > lim.upper + limit_tolerance:
                raise TrajectoryError(
                    f'point {i} position of {name} = {q:.4f} is outside its limits '
                    f'[{lim.lower:.4f}, {lim.upper:.4f}]'
                )
        if point.velocities is not None:
            for name, v in zip(names, point.velocities, strict=True):
                if not math.isfinite(v):
                    raise TrajectoryError(f'point {i} velocity of {name} is not finite: {v}')
                vmax = limits[name].velocity
                if abs(v) > vmax + limit_tolerance:
                    raise TrajectoryError(
                        f'point {i} velocity of {name} = {v:.4f} exceeds its limit {vmax:.4f}'
                    )
    if traj.start_time is None:
        start = now
    else:
        start = traj.start_time
        if start < now - start_tolerance:
            raise TrajectoryError(
                f'trajectory start time {start:.4f} is {now - start:.4f} s in the past '
                f'(now {now:.4f}, tolerance {start_tolerance} s)'
            )
    return JointTrajectory(names, traj.points, start)


class TrajectorySampler:
    """Targets along a validated trajectory, starting from `initial` positions at start time.

    Before the first point the target moves from `initial` (velocity 0) to the first point;
    between points: cubic Hermite when both points carry velocities, else linear; after the
    last point: the last point, velocity 0.
    """

    def __init__(self, traj: JointTrajectory, initial: Sequence[float]) -> None:
        if traj.start_time is None:
            raise TrajectoryError('sampler needs a validated trajectory (start time set)')
        n = len(traj.joint_names)
        if len(initial) != n:
            raise TrajectoryError(f'{len(initial)} initial positions for {n} joints')
        self.joint_names = traj.joint_names
        self.start_time = float(traj.start_time)
        times = [0.0]
        pos = [np.asarray(initial, dtype=float)]
        vel: list[np.ndarray | None] = [np.zeros(n)]
        first = 0
        if traj.points[0].time_from_start <= 0.0:
            # A point at t=0 replaces the initial positions (a jump, as ros2_control does).
            pos[0] = np.asarray(traj.points[0].positions, dtype=float)
            vel[0] = _vel_or_none(traj.points[0])
            first = 1
        for point in traj.points[first:]:
            times.append(point.time_from_start)
            pos.append(np.asarray(point.positions, dtype=float))
            vel.append(_vel_or_none(point))
        self._times = np.asarray(times)
        self._pos = pos
        self._vel = vel
        self.end_time = self.start_time + float(self._times[-1])

    def sample(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """Positions and velocities at time `t` (same clock as the start time)."""
        s = t - self.start_time
        if s <= 0.0:
            return self._pos[0].copy(), np.zeros_like(self._pos[0])
        if s >= self._times[-1]:
            return self._pos[-1].copy(), np.zeros_like(self._pos[-1])
        k = int(np.searchsorted(self._times, s, side='right')) - 1
        t0, t1 = self._times[k], self._times[k + 1]
        h = t1 - t0
        u = (s - t0) / h
        p0, p1 = self._pos[k], self._pos[k + 1]
        v0, v1 = self._vel[k], self._vel[k + 1]
        if v0 is None or v1 is None:
            return p0 + (p1 - p0) * u, (p1 - p0) / h
        h00 = 2 * u**3 - 3 * u**2 + 1
        h10 = u**3 - 2 * u**2 + u
        h01 = -2 * u**3 + 3 * u**2
        h11 = u**3 - u**2
        q = h00 * p0 + h10 * h * v0 + h01 * p1 + h11 * h * v1
        d00 = (6 * u**2 - 6 * u) / h
        d10 = 3 * u**2 - 4 * u + 1
        d01 = (-6 * u**2 + 6 * u) / h
        d11 = 3 * u**2 - 2 * u
        qd = d00 * p0 + d10 * v0 + d01 * p1 + d11 * v1
        return q, qd

    def done(self, t: float) -> bool:
        """True once `t` is past the last point."""
        return t >= self.end_time


def _vel_or_none(point: TrajectoryPoint) -> np.ndarray | None:
    return None if point.velocities is None else np.asarray(point.velocities, dtype=float)
