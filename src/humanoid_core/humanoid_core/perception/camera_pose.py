"""Head-camera (and hand) poses in `world` from joint positions and odometry.

Forward kinematics on a robot-only MuJoCo model (`mj_kinematics`). Odometry reports the `base`
frame: the pelvis projected on the floor with the pelvis heading (DESIGN.md). The pelvis height
and tilt are then recovered from the legs: the lower sole is put flat on the floor
(`base_mode='projected'`, default). With `base_mode='pelvis'` the odometry pose is taken as the
full 6-D pelvis pose. Robots without sole frames (test stand-ins) keep the model's default
pelvis height.
"""

from __future__ import annotations

from collections.abc import Mapping
import math

import mujoco
import numpy as np

__all__ = ['BASE_MODES', 'RobotKinematics', 'pose_matrix', 'quat_to_matrix']

BASE_MODES = ('projected', 'pelvis')
_OPTICAL_FROM_MJCAM = np.diag([1.0, -1.0, -1.0])
_FREE = int(mujoco.mjtJoint.mjJNT_FREE)
_ONE_DOF = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
_SPHERE = int(mujoco.mjtGeom.mjGEOM_SPHERE)
_CAPSULE = int(mujoco.mjtGeom.mjGEOM_CAPSULE)
_CYLINDER = int(mujoco.mjtGeom.mjGEOM_CYLINDER)
_BOX = int(mujoco.mjtGeom.mjGEOM_BOX)


def quat_to_matrix(q: tuple[float, float, float, float] | np.ndarray) -> np.ndarray:
    """3x3 rotation of a (w, x, y, z) quaternion (normalised first)."""
    q = np.asarray(q, float)
    n = float(np.linalg.norm(q))
    if n == 0.0 or not math.isfinite(n):
        raise ValueError(f'quaternion {[float(v) for v in q]} has no direction')
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, q / n)
    return mat.reshape(3, 3)


def pose_matrix(position: np.ndarray | tuple[float, ...], rotation: np.ndarray) -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = position
    return out


def _rz(yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector a to unit vector b."""
    v = np.cross(a, b)
    c = float(np.dot(a, b))
    if c < -0.999999:
        raise ValueError('cannot align opposite vectors')
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


class RobotKinematics:
    """Forward kinematics of the robot for camera and hand poses.

    Args:
        model: a robot-only MuJoCo model whose root body has a free joint (e.g. compiled from
            `humanoid_core.sim.robot_model.load_robot_spec()`).
        camera: MuJoCo camera name (its optical frame is returned).
        base_mode: 'projected' or 'pelvis' (see module docstring).
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        camera: str = 'head_camera',
        base_body: str = 'pelvis',
        base_mode: str = 'projected',
    ) -> None:
        if base_mode not in BASE_MODES:
            raise ValueError(f'base_mode must be one of {BASE_MODES}, got {base_mode!r}')
        self.model = model
        self.data = mujoco.MjData(model)
        self.base_mode = base_mode
        self._cam = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if self._cam < 0:
            cams = [model.camera(i).name for i in range(model.ncam)]
            raise ValueError(f'robot model has no camera {camera!r}; cameras: {cams}')
        self._base = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, base_body)
        if self._base < 0:
            raise ValueError(f'robot model has no body {base_body!r}')
        free = [j for j in range(model.njnt) if int(model.jnt_type[j]) == _FREE]
        self._free_qadr = int(model.jnt_qposadr[free[0]]) if free else None
        self._default_height = (
            float(model.qpos0[self._free_qadr + 2]) if self._free_qadr is not None else 0.0
        )
        self._joint_qadr: dict[str, int] = {}
        for j in range(model.njnt):
            if int(model.jnt_type[j]) in _ONE_DOF:
                self._joint_qadr[model.joint(j).name] = int(model.jnt_qposadr[j])
        self._soles = [
            sid
            for sid in (
                mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, f'{s}_sole')
                for s in ('left', 'right')
            )
            if sid >= 0
        ]
        self._pelvis_T_world = np.eye(4)  # world <- pelvis of the last update
        # visible geometry (not the collision duplicates in group 3) for `near_body`
        self._visual_geoms = [
            g
            for g in range(model.ngeom)
            if int(model.geom_type[g]) in (_SPHERE, _CAPSULE, _CYLINDER, _BOX)
            and int(model.geom_group[g]) != 3
            and model.geom_rgba[g][3] > 0.0
        ]
        self._fk_pelvis(None)

    @classmethod
    def humanoid(
        cls, camera: str = 'head_camera', base_mode: str = 'projected'
    ) -> RobotKinematics:
        """The humanoid of urdf/ (robot-only model)."""
        from humanoid_core.sim import robot_model

        return cls(robot_model.load_robot_spec().compile(), camera, 'pelvis', base_mode)

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self._joint_qadr)

    def _fk_pelvis(self, joints: Mapping[str, float] | None) -> None:
        """FK with the pelvis at the origin (identity orientation)."""
        d = self.data
        d.qpos[:] = self.model.qpos0
        if self._free_qadr is not None:
            d.qpos[self._free_qadr : self._free_qadr + 7] = [0, 0, 0, 1, 0, 0, 0]
        for name, value in (joints or {}).items():
            adr = self._joint_qadr.get(name)
            if adr is not None and math.isfinite(value):
                d.qpos[adr] = value
        mujoco.mj_kinematics(self.model, d)
        mujoco.mj_camlight(self.model, d)

    def update(
        self,
        joints: Mapping[str, float],
        base_position: tuple[float, float, float] | np.ndarray,
        base_quaternion: tuple[float, float, float, float] | np.ndarray,
    ) -> None:
        """Set the joint positions (unknown names ignored) and the odometry pose."""
        self._fk_pelvis(joints)
        d = self.data
        p_base = np.asarray(base_position, float)
        r_base = quat_to_matrix(base_quaternion)
        if self.base_mode == 'pelvis':
            self._pelvis_T_world = pose_matrix(p_base, r_base)
            return
        yaw = math.atan2(r_base[1, 0], r_base[0, 0])
        if self._soles:
            zs = [float(d.site_xpos[s][2]) for s in self._soles]
            stance = self._soles[int(np.argmin(zs))]
            r_sole = d.site_xmat[stance].reshape(3, 3)
            tilt = _align(r_sole[:, 2], np.array([0.0, 0.0, 1.0]))
            # remove the heading the tilt introduced so the pelvis heading is the odometry yaw
            x = tilt[:, 0]
            tilt = _rz(-math.atan2(x[1], x[0])) @ tilt
            height = -float((tilt @ d.site_xpos[stance])[2])
        else:
            tilt, height = np.eye(3), self._default_height
        rot = _rz(yaw) @ tilt
        self._pelvis_T_world = pose_matrix((p_base[0], p_base[1], height), rot)

    def _in_world(self, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
        return self._pelvis_T_world @ pose_matrix(pos, rot)

    def camera_pose(self) -> np.ndarray:
        """4x4 world <- camera optical frame (z forward, x right, y down)."""
        d = self.data
        rot = d.cam_xmat[self._cam].reshape(3, 3) @ _OPTICAL_FROM_MJCAM
        return self._in_world(d.cam_xpos[self._cam].copy(), rot)

    def site_pose(self, site: str) -> np.ndarray:
        """4x4 world <- site (e.g. 'right_grasp_frame')."""
        sid = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, site)
        if sid < 0:
            raise ValueError(f'robot model has no site {site!r}')
        d = self.data
        return self._in_world(d.site_xpos[sid].copy(), d.site_xmat[sid].reshape(3, 3).copy())

    def near_body(self, points: np.ndarray, margin: float) -> np.ndarray:
        """Boolean mask of the world `points` (N x 3) within `margin` (m) of the robot's own
        visual geometry (spheres, capsules, cylinders, boxes) in the pose of the last `update`: the
        robot's grey joints and links seen by its own camera, which a colour detector takes
        for the grey tray. Other geom types are ignored."""
        pts = np.asarray(points, float).reshape(-1, 3)
        mask = np.zeros(len(pts), bool)
        if not len(pts):
            return mask
        inv = np.linalg.inv(self._pelvis_T_world)
        local = pts @ inv[:3, :3].T + inv[:3, 3]  # pelvis frame, where the FK is
        m, d = self.model, self.data
        centres = d.geom_xpos[self._visual_geoms]
        reach = float(m.geom_rbound[self._visual_geoms].max()) + margin
        near = np.all(
            (local >= centres.min(axis=0) - reach) & (local <= centres.max(axis=0) + reach), axis=1
        )
        idx = np.nonzero(near)[0]  # only points in the robot's bounding box are looked at
        local = local[idx]
        hit = np.zeros(len(idx), bool)
        for g in self._visual_geoms:
            size = m.geom_size[g]
            rel = (local - d.geom_xpos[g]) @ d.geom_xmat[g].reshape(3, 3)  # geom frame
            kind = int(m.geom_type[g])
            if kind == _SPHERE:
                dist = np.linalg.norm(rel, axis=1) - size[0]
            elif kind == _CAPSULE:
                z = np.clip(rel[:, 2], -size[1], size[1])
                dist = np.hypot(np.hypot(rel[:, 0], rel[:, 1]), rel[:, 2] - z) - size[0]
            elif kind == _CYLINDER:
                radial = np.maximum(np.hypot(rel[:, 0], rel[:, 1]) - size[0], 0.0)
                dist = np.hypot(radial, np.maximum(np.abs(rel[:, 2]) - size[1], 0.0))
            else:  # box
                dist = np.linalg.norm(np.maximum(np.abs(rel) - size, 0.0), axis=1)
            hit |= dist < margin
        mask[idx[hit]] = True
        return mask

    def has_site(self, site: str) -> bool:
        return mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_SITE, site) >= 0
