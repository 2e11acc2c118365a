"""Kinematics of the humanoid on its MuJoCo model (floating base, robot only).

`RobotKinematics` wraps a compiled robot-only `MjModel` (no floor, no scene objects) and maps
between joint-name dictionaries (what hardware reports and takes) and the model's `qpos`
(7 floating-base coordinates: position, quaternion w-x-y-z; then the joints). It gives frame
poses (sites: grasp frames, soles, imu; bodies: pelvis, torso, ...), the centre of mass and
frame Jacobians (6 x nv: linear rows then angular rows, world-aligned).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
import math

import mujoco
import numpy as np
from numpy.typing import NDArray

from humanoid_core.robot.description import ROBOT_INFO

__all__ = [
    'RobotKinematics',
    'as_transform',
    'build_robot_model',
    'rotation_error',
    'yaw_of',
]

FloatArray = NDArray[np.float64]


def build_robot_model() -> mujoco.MjModel:
    """The robot alone (floating base, actuators, sites), compiled."""
    from humanoid_core.sim.robot_model import load_robot_spec

    return load_robot_spec().compile()


def as_transform(pose: object) -> FloatArray:
    """A 4x4 homogeneous transform from a 4x4 array, an object with `.matrix()` or with
    `.position` and `.quaternion` (w, x, y, z), or a (position, quaternion) pair."""
    if isinstance(pose, np.ndarray) and pose.shape == (4, 4):
        T = pose.astype(float)
    elif hasattr(pose, 'position') and hasattr(pose, 'quaternion'):
        T = _pose_matrix(pose.position, pose.quaternion)  # type: ignore[attr-defined]
    elif isinstance(pose, tuple | list) and len(pose) == 2:
        T = _pose_matrix(pose[0], pose[1])
    else:
        raise TypeError(
            'pose must be a 4x4 array, a Pose (position + quaternion w,x,y,z) or a '
            f'(position, quaternion) pair, got {type(pose).__name__}'
        )
    if not np.all(np.isfinite(T)):
        raise ValueError('pose contains NaN or inf')
    return T


def _pose_matrix(position: object, quaternion: object) -> FloatArray:
    p = np.asarray(position, dtype=float).reshape(-1)
    q = np.asarray(quaternion, dtype=float).reshape(-1)
    if p.size != 3 or q.size != 4:
        raise ValueError(f'pose needs 3 position and 4 quaternion values, got {p.size}, {q.size}')
    norm = np.linalg.norm(q)
    if not norm > 1e-9:
        raise ValueError(f'pose quaternion has zero norm: {q}')
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q / norm)
    T = np.eye(4)
    T[:3, :3] = mat.reshape(3, 3)
    T[:3, 3] = p
    return T


def rotation_error(R_a: FloatArray, R_b: FloatArray) -> float:
    """Angle (rad) of the rotation between two rotation matrices."""
    c = (np.trace(R_a.T @ R_b) - 1.0) / 2.0
    return float(math.acos(min(1.0, max(-1.0, c))))


def yaw_of(R: FloatArray) -> float:
    """Heading (rad) of a rotation matrix: the angle of its x axis projected on the floor."""
    return float(math.atan2(R[1, 0], R[0, 0]))


class RobotKinematics:
    """Forward kinematics, CoM and Jacobians of the robot model; qpos <-> joint names."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else build_robot_model()
        self.data = mujoco.MjData(self.model)
        m = self.model
        free = [j for j in range(m.njnt) if m.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
        if len(free) != 1:
            raise ValueError(f'robot model must have exactly one free joint, found {len(free)}')
        self.base_qpos = int(m.jnt_qposadr[free[0]])
        self.base_dof = int(m.jnt_dofadr[free[0]])
        self.qpos_index: dict[str, int] = {}
        self.dof_index: dict[str, int] = {}
        for j in range(m.njnt):
            if j == free[0]:
                continue
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, j)
            self.qpos_index[name] = int(m.jnt_qposadr[j])
            self.dof_index[name] = int(m.jnt_dofadr[j])
        missing = [n for n in ROBOT_INFO.body_joints if n not in self.qpos_index]
        if missing:
            raise ValueError(f'robot model lacks the joints {missing}')
        self.joint_names: tuple[str, ...] = tuple(self.qpos_index)
        self.lower = np.full(m.nq, -np.inf)
        self.upper = np.full(m.nq, np.inf)
        for j in range(m.njnt):
            if m.jnt_limited[j] and m.jnt_type[j] != mujoco.mjtJoint.mjJNT_FREE:
                adr = m.jnt_qposadr[j]
                self.lower[adr], self.upper[adr] = m.jnt_range[j]
        self._q_last: FloatArray | None = None

    # --- configurations -------------------------------------------------------------------
    @property
    def nq(self) -> int:
        return int(self.model.nq)

    @property
    def nv(self) -> int:
        return int(self.model.nv)

    def standing_q(self, base_xy_yaw: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> FloatArray:
        """STANDING_POSTURE with the soles on z = 0 and the pelvis at (x, y, yaw)."""
        from humanoid_core.sim.robot_model import standing_qpos

        return standing_qpos(self.model, base_xy_yaw=base_xy_yaw)

    def q_from(
        self,
        joint_positions: Mapping[str, float],
        base_position: Sequence[float] | FloatArray | None = None,
        base_quaternion: Sequence[float] | FloatArray | None = None,
        default: FloatArray | None = None,
    ) -> FloatArray:
        """A qpos from joint positions by name and the pelvis pose (default: `default` or the
        standing configuration). Unknown joint names raise ValueError naming them."""
        q = (self.standing_q() if default is None else np.asarray(default, float)).copy()
        unknown = [n for n in joint_positions if n not in self.qpos_index]
        if unknown:
            raise ValueError(f'unknown joints {unknown}; known: {list(self.joint_names)}')
        for name, value in joint_positions.items():
            q[self.qpos_index[name]] = float(value)
        b = self.base_qpos
        if base_position is not None:
            q[b : b + 3] = np.asarray(base_position, float)
        if base_quaternion is not None:
            quat = np.asarray(base_quaternion, float)
            q[b + 3 : b + 7] = quat / np.linalg.norm(quat)
        return q

    def joint_positions(
        self, q: FloatArray, names: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Joint positions by name (default: every body joint, no grippers)."""
        names = ROBOT_INFO.body_joints if names is None else names
        return {n: float(q[self.qpos_index[n]]) for n in names}

    def clip_to_limits(self, q: FloatArray) -> FloatArray:
        return np.clip(q, self.lower, self.upper)

    def within_limits(self, q: FloatArray, tol: float = 1e-6) -> bool:
        return bool(np.all(q >= self.lower - tol) and np.all(q <= self.upper + tol))

    # --- forward kinematics ---------------------------------------------------------------
    def forward(self, q: FloatArray) -> None:
        """Update frames and the CoM for configuration q (cached for the same q)."""
        q = np.asarray(q, float)
        if q.shape != (self.nq,):
            raise ValueError(f'q must have shape ({self.nq},), got {q.shape}')
        if self._q_last is not None and np.array_equal(q, self._q_last):
            return
        self.data.qpos[:] = q
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)
        self._q_last = q.copy()

    def _site(self, name: str) -> int:
        sid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, name)
        if sid < 0:
            raise ValueError(f'robot model has no frame (site) {name!r}')
        return sid

    def site_transform(self, q: FloatArray, site: str) -> FloatArray:
        """4x4 world pose of a site (e.g. 'left_grasp_frame', 'right_sole')."""
        sid = self._site(site)
        self.forward(q)
        T = np.eye(4)
        T[:3, :3] = self.data.site_xmat[sid].reshape(3, 3)
        T[:3, 3] = self.data.site_xpos[sid]
        return T

    def body_transform(self, q: FloatArray, body: str) -> FloatArray:
        """4x4 world pose of a body (e.g. 'pelvis', 'torso')."""
        bid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_BODY, body)
        if bid < 0:
            raise ValueError(f'robot model has no body {body!r}')
        self.forward(q)
        T = np.eye(4)
        T[:3, :3] = self.data.xmat[bid].reshape(3, 3)
        T[:3, 3] = self.data.xpos[bid]
        return T

    def com(self, q: FloatArray) -> FloatArray:
        """Whole-body centre of mass (world, m)."""
        self.forward(q)
        return self.data.subtree_com[0].copy()

    def site_jacobian(self, q: FloatArray, site: str) -> FloatArray:
        """(6, nv) Jacobian of a site: rows 0-2 linear velocity, 3-5 angular velocity (world)."""
        sid = self._site(site)
        self.forward(q)
        jacp = np.zeros((3, self.nv))
        jacr = np.zeros((3, self.nv))
        mujoco.mj_jacSite(self.model, self.data, jacp, jacr, sid)
        return np.vstack((jacp, jacr))

    def servo_gravity_offsets(
        self, q: FloatArray, names: Sequence[str] | None = None
    ) -> dict[str, float]:
        """Target offsets (rad) that cancel the static sag of position servos under gravity:
        the gravity torque of each joint at q (base held still, no contacts) divided by its
        servo stiffness kp. Meant for arm, waist and neck joints (leg loads depend on the
        contact forces, which this model does not know)."""
        names = ROBOT_INFO.arms + ROBOT_INFO.waist + ROBOT_INFO.neck if names is None else names
        m, d = self.model, self.data
        self.forward(q)
        d.qvel[:] = 0.0
        d.qacc[:] = 0.0
        mujoco.mj_comVel(m, d)
        bias = np.zeros(m.nv)
        mujoco.mj_rne(m, d, 0, bias)
        out: dict[str, float] = {}
        for name in names:
            act = mujoco.mj_name2id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, name)
            if act < 0:
                raise ValueError(f'robot model has no servo for joint {name!r}')
            kp = float(m.actuator_gainprm[act, 0])
            out[name] = float(bias[self.dof_index[name]]) / kp if kp > 0 else 0.0
        return out

    def integrate(self, q: FloatArray, v: FloatArray, dt: float = 1.0) -> FloatArray:
        """q (+) v dt on the configuration manifold (quaternion-aware)."""
        out = np.asarray(q, float).copy()
        mujoco.mj_integratePos(self.model, out, np.asarray(v, float), dt)
        return out
