"""Linear inverted pendulum (LIPM) and ZMP preview control (Kajita et al., ICRA 2003).

The centre of mass (CoM) moves at a constant height `z_c`; per horizontal axis the cart-table
model with the CoM jerk as input is, discretised with period `dt`,

    x[k+1] = A x[k] + B u[k],   x = (c, c_dot, c_ddot),   zmp[k] = C x[k],
    C = (1, 0, -z_c / g).

The preview controller (integral of the ZMP error + state feedback + a preview of the future
ZMP reference over `preview_time` s) comes from the discrete algebraic Riccati equation of the
error system (Katayama et al. 1985). Both horizontal axes use the same gains.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
import scipy.linalg

__all__ = [
    'GRAVITY',
    'ComTrajectory',
    'LIPMParams',
    'PreviewController',
    'PreviewGains',
    'com_from_zmp',
    'compute_preview_gains',
    'zmp_of',
]

GRAVITY = 9.81

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class LIPMParams:
    """Pendulum height (m), control period (s), preview horizon (s) and cost weights."""

    com_height: float = 0.6
    dt: float = 0.01
    preview_time: float = 1.6
    q_error: float = 1.0
    r_jerk: float = 1e-6
    gravity: float = GRAVITY

    def __post_init__(self) -> None:
        for name in ('com_height', 'dt', 'preview_time', 'q_error', 'r_jerk', 'gravity'):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0.0:
                raise ValueError(f'LIPMParams.{name} must be a positive number, got {value!r}')
        if self.preview_time < self.dt:
            raise ValueError(
                f'LIPMParams.preview_time ({self.preview_time}) must be at least dt ({self.dt})'
            )

    @property
    def preview_steps(self) -> int:
        """Number of future ZMP samples the controller looks at."""
        return round(self.preview_time / self.dt)

    @property
    def omega(self) -> float:
        """Natural frequency sqrt(g / z_c) of the pendulum (1/s)."""
        return float(np.sqrt(self.gravity / self.com_height))


@dataclass(frozen=True)
class PreviewGains:
    """System matrices and gains: u = -Ki sum(e) - Kx x - sum_j Gd[j] zmp_ref[k + 1 + j]."""

    A: FloatArray
    B: FloatArray
    C: FloatArray
    Ki: float
    Kx: FloatArray
    Gd: FloatArray = field(repr=False)


def _system(params: LIPMParams) -> tuple[FloatArray, FloatArray, FloatArray]:
    dt = params.dt
    A = np.array([[1.0, dt, dt * dt / 2.0], [0.0, 1.0, dt], [0.0, 0.0, 1.0]])
    B = np.array([dt**3 / 6.0, dt * dt / 2.0, dt])
    C = np.array([1.0, 0.0, -params.com_height / params.gravity])
    return A, B, C


def compute_preview_gains(params: LIPMParams) -> PreviewGains:
    """Integral, state-feedback and preview gains from the discrete Riccati equation."""
    A, B, C = _system(params)
    # Augmented error system: state (sum of ZMP error, x), input jerk.
    At = np.zeros((4, 4))
    At[0, 0] = 1.0
    At[0, 1:] = C @ A
    At[1:, 1:] = A
    Bt = np.concatenate(([C @ B], B)).reshape(4, 1)
    Q = np.zeros((4, 4))
    Q[0, 0] = params.q_error
    R = np.array([[params.r_jerk]])
    P = scipy.linalg.solve_discrete_are(At, Bt, Q, R)
    S = float(R[0, 0] + (Bt.T @ P @ Bt)[0, 0])
    K = (Bt.T @ P @ At).ravel() / S
    Ki = float(K[0])
    Kx = K[1:].copy()
    Ac = At - Bt @ K.reshape(1, 4)
    It = np.array([1.0, 0.0, 0.0, 0.0])
    X = -Ac.T @ P @ It
    n = params.preview_steps
    Gd = np.empty(n)
    Gd[0] = -Ki
    for j in range(1, n):
        Gd[j] = float(Bt.ravel() @ X) / S
        X = Ac.T @ X
    return PreviewGains(A=A, B=B, C=C, Ki=Ki, Kx=Kx, Gd=Gd)


def zmp_of(com: FloatArray, com_acc: FloatArray, com_height: float, gravity: float = GRAVITY):
    """ZMP of the LIPM: p = c - z_c / g * c_ddot (works on any broadcastable arrays)."""
    return np.asarray(com) - com_height / gravity * np.asarray(com_acc)


class PreviewController:
    """Online ZMP preview controller for both horizontal axes.

    `state` is a (3, 2) array: rows position, velocity, acceleration; columns x, y.
    `step(zmp_preview)` takes the reference ZMP for the next `preview_steps` samples
    (shape (N, 2), first row = reference at the current sample) and advances one period.
    """

    def __init__(self, params: LIPMParams, com_xy: FloatArray | None = None) -> None:
        self.params = params
        self.gains = compute_preview_gains(params)
        self.state = np.zeros((3, 2))
        self.error_sum = np.zeros(2)
        if com_xy is not None:
            self.reset(com_xy)

    def reset(self, com_xy: FloatArray, com_vel: FloatArray | None = None) -> None:
        """Start at rest (or with `com_vel`) at `com_xy`, clearing the integral."""
        self.state = np.zeros((3, 2))
        self.state[0] = np.asarray(com_xy, dtype=float)[:2]
        if com_vel is not None:
            self.state[1] = np.asarray(com_vel, dtype=float)[:2]
        self.error_sum = np.zeros(2)

    @property
    def com(self) -> FloatArray:
        return self.state[0].copy()

    @property
    def com_vel(self) -> FloatArray:
        return self.state[1].copy()

    @property
    def zmp(self) -> FloatArray:
        """ZMP of the current state (m)."""
        return self.gains.C @ self.state

    def step(self, zmp_preview: FloatArray) -> FloatArray:
        """Advance one period following `zmp_preview` ((N, 2), N = preview_steps); return CoM."""
        ref = np.asarray(zmp_preview, dtype=float)
        n = self.params.preview_steps
        if ref.ndim != 2 or ref.shape[1] != 2 or ref.shape[0] < 1:
            raise ValueError(f'zmp_preview must have shape (N, 2), got {ref.shape}')
        if ref.shape[0] < n + 1:
            pad = np.repeat(ref[-1:], n + 1 - ref.shape[0], axis=0)
            ref = np.vstack((ref, pad))
        g = self.gains
        self.error_sum += g.C @ self.state - ref[0]
        u = -g.Ki * self.error_sum - g.Kx @ self.state - g.Gd @ ref[1 : n + 1]
        self.state = g.A @ self.state + np.outer(g.B, u)
        return self.com


@dataclass(frozen=True)
class ComTrajectory:
    """CoM position/velocity/acceleration and the resulting ZMP at every sample, (T, 2)."""

    dt: float
    com: FloatArray
    com_vel: FloatArray
    com_acc: FloatArray
    zmp: FloatArray


def com_from_zmp(
    zmp_ref: FloatArray, params: LIPMParams, com0: FloatArray | None = None
) -> ComTrajectory:
    """Offline preview control over a whole ZMP reference ((T, 2), sampled every dt).

    The reference is held at its last value beyond its end (so end it at rest). The CoM starts
    at rest at `com0` (default: the first ZMP reference sample).
    """
    ref = np.asarray(zmp_ref, dtype=float)
    if ref.ndim != 2 or ref.shape[1] != 2 or len(ref) == 0:
        raise ValueError(f'zmp_ref must have shape (T, 2) with T >= 1, got {ref.shape}')
    if not np.all(np.isfinite(ref)):
        raise ValueError('zmp_ref contains NaN or inf')
    n = params.preview_steps
    padded = np.vstack((ref, np.repeat(ref[-1:], n + 1, axis=0)))
    ctrl = PreviewController(params, ref[0] if com0 is None else np.asarray(com0))
    T = len(ref)
    com = np.empty((T, 2))
    vel = np.empty((T, 2))
    acc = np.empty((T, 2))
    zmp = np.empty((T, 2))
    for k in range(T):
        com[k], vel[k], acc[k] = ctrl.state
        zmp[k] = ctrl.zmp
        ctrl.step(padded[k : k + n + 1])
    return ComTrajectory(dt=params.dt, com=com, com_vel=vel, com_acc=acc, zmp=zmp)
