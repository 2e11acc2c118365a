"""The simulator contract (`SimulatorBackend`) and its MuJoCo implementation (`MujocoBackend`).

Like dm_control's `Physics`: `reset(seed)`, `step(n)`, `time`, `timestep`; plus the robot I/O a
hardware node needs (joint targets and trajectories, grippers, state, cameras) and ground truth
for benchmarks (`object_poses`). A later Gazebo or real-robot backend implements the same class
and passes the same tests (`test/test_sim_contract.py`).

Conventions: SI units; `world` frame z up; quaternions (w, x, y, z); camera poses in the
optical convention (z forward, x right, y down); depth images are z-depth in metres (NaN where
nothing was hit within the far plane).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math

import mujoco
import numpy as np

from .builder import build_model
from .scene import Layout, Scene, load_scene
from .trajectory import (
    STALE_START_TOLERANCE,
    JointLimit,
    JointTrajectory,
    TrajectoryError,
    TrajectorySampler,
    validate_trajectory,
)

__all__ = [
    'HANDS',
    'CameraImage',
    'CameraIntrinsics',
    'CameraRenderer',
    'ClampReport',
    'MujocoBackend',
    'Pose',
    'SimState',
    'SimulatorBackend',
    'check_control_period',
    'gripper_joint_names',
]

HANDS = ('left', 'right')


def gripper_joint_names(hand: str) -> tuple[str, str]:
    """The two finger joints of `hand` ('left' or 'right')."""
    return (f'{hand}_gripper_finger_left_joint', f'{hand}_gripper_finger_right_joint')


@dataclass(frozen=True)
class Pose:
    """Position (m) and orientation quaternion (w, x, y, z) in the `world` frame."""

    position: np.ndarray
    quaternion: np.ndarray

    def matrix(self) -> np.ndarray:
        """4x4 homogeneous transform."""
        mat = np.zeros(9)
        mujoco.mju_quat2Mat(mat, np.asarray(self.quaternion, float))
        out = np.eye(4)
        out[:3, :3] = mat.reshape(3, 3)
        out[:3, 3] = self.position
        return out


@dataclass(frozen=True)
class CameraIntrinsics:
    """Pinhole intrinsics in pixels (no distortion)."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    def matrix(self) -> np.ndarray:
        """3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @staticmethod
    def from_fovy(width: int, height: int, fovy_deg: float) -> CameraIntrinsics:
        """Square pixels, principal point at the image centre, vertical field of view."""
        f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2)
        return CameraIntrinsics(width, height, f, f, (width - 1) / 2, (height - 1) / 2)


@dataclass(frozen=True)
class CameraImage:
    """One rendered frame: rgb uint8 HxWx3, depth float32 HxW metres (or None)."""

    camera: str
    time: float
    rgb: np.ndarray
    depth: np.ndarray | None
    intrinsics: CameraIntrinsics


@dataclass(frozen=True)
class ClampReport:
    """A joint target that was outside the joint's limits and was clamped."""

    joint: str
    requested: float
    applied: float


@dataclass(frozen=True)
class SimState:
    """Everything a hardware interface publishes, at one instant.

    Odometry: `base_pose` is the pelvis projected on the floor with the pelvis heading (frame
    `base` in `world`); `base_linear_velocity`/`base_angular_velocity` are expressed in `base`.
    `pelvis_pose` is the full 6-D pelvis pose. IMU quantities are in the `imu_link` frame
    (linear acceleration includes gravity, like a real accelerometer: +9.81 z at rest)."""

    time: float
    joint_names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray
    efforts: np.ndarray
    base_pose: Pose
    base_linear_velocity: np.ndarray
    base_angular_velocity: np.ndarray
    pelvis_pose: Pose
    imu_orientation: np.ndarray
    imu_angular_velocity: np.ndarray
    imu_linear_acceleration: np.ndarray
    gripper_widths: dict[str, float] = field(default_factory=dict)

    def position_of(self, joint: str) -> float:
        return float(self.positions[self.joint_names.index(joint)])


def check_control_period(control_period: float, timestep: float) -> int:
    """Physics steps per control period; ValueError naming both values if not a whole multiple."""
    if not (math.isfinite(timestep) and timestep > 0.0):
        raise ValueError(f'physics timestep must be positive, got {timestep}')
    if not (math.isfinite(control_period) and control_period > 0.0):
        raise ValueError(f'control_period must be positive, got {control_period}')
    k = round(control_period / timestep)
    if k < 1 or abs(k * timestep - control_period) > 1e-9 * max(1.0, control_period):
        raise ValueError(
            f'control_period {control_period} s is not a whole multiple of the physics '
            f'timestep {timestep} s'
        )
    return int(k)


class SimulatorBackend(abc.ABC):
    """The simulator contract. Times are simulation seconds from the last `reset`."""

    # -- time -------------------------------------------------------------------------
    @abc.abstractmethod
    def reset(self, seed: int | None = None) -> None:
        """Restart at t = 0: robot in its standing posture, objects at the layout for `seed`
        (None or < 0: the scene's nominal layout). Same seed -> same state trajectory."""

    @abc.abstractmethod
    def step(self, n: int = 1) -> None:
        """Advance `n` control periods (targets update once per control period)."""

    @property
    @abc.abstractmethod
    def time(self) -> float:
        """Simulation time, s."""

    @property
    @abc.abstractmethod
    def timestep(self) -> float:
        """Physics step, s."""

    @property
    @abc.abstractmethod
    def control_period(self) -> float:
        """Control period, s: a whole multiple of `timestep` (checked at construction)."""

    # -- robot ------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def joint_names(self) -> tuple[str, ...]:
        """The robot's 1-DoF joints, in `read_state()` order."""

    @property
    @abc.abstractmethod
    def joint_limits(self) -> Mapping[str, JointLimit]:
        """Position and velocity limits per joint."""

    @property
    @abc.abstractmethod
    def hands(self) -> tuple[str, ...]:
        """Hands with a gripper ('left', 'right')."""

    @abc.abstractmethod
    def read_state(self) -> SimState:
        """Joint, base, IMU and gripper state now."""

    @abc.abstractmethod
    def set_joint_targets(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
    ) -> list[ClampReport]:
        """Hold `names` at `positions` (cancels trajectories on those joints). Targets outside
        the limits are clamped and reported; unknown names, NaN and length mismatches raise
        ValueError."""

    @abc.abstractmethod
    def set_trajectory(self, trajectory: JointTrajectory) -> JointTrajectory:
        """Follow `trajectory` (validated; TrajectoryError leaves the targets unchanged).
        Returns it with its start time resolved."""

    @abc.abstractmethod
    def set_gripper(self, hand: str, width: float) -> float:
        """Command the opening width (m) of `hand`; returns the width applied (clamped)."""

    # -- sensors and ground truth ---------------------------------------------------------
    @property
    @abc.abstractmethod
    def cameras(self) -> tuple[str, ...]:
        """Camera names `render` accepts."""

    @abc.abstractmethod
    def render(self, camera: str, width: int, height: int, depth: bool = True) -> CameraImage:
        """Render `camera`: rgb uint8 HxWx3, depth float32 HxW metres (z-depth)."""

    @abc.abstractmethod
    def camera_pose(self, camera: str) -> Pose:
        """World pose of `camera` in the optical convention (z forward, x right, y down)."""

    @abc.abstractmethod
    def object_poses(self) -> dict[str, Pose]:
        """Ground-truth object poses (benchmarks and scoring only, never for perception)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (renderers, connections)."""

    def __enter__(self) -> SimulatorBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class MujocoBackend(SimulatorBackend):
    """The embedded MuJoCo simulator.

    `scene`: a `Scene` or a scene name; `robot_spec`: None for the humanoid (`robot_model`),
    or another MjSpec (tests use `standin_robot_spec()`); `posture`: joint -> position at reset
    (humanoid default: `STANDING_POSTURE`); `velocity_limits`: joint -> max speed used to
    validate trajectories (humanoid default: the URDF's limits, else unlimited);
    `base_height`: pelvis height at reset (humanoid default: soles on the floor in the
    posture; None keeps the spec's height). The scene's robot pose sets x, y and yaw."""

    def __init__(
        self,
        scene: Scene | str = 'lab',
        *,
        seed: int | None = None,
        physics_dt: float = 0.001,
        control_period: float = 0.004,
        robot_spec: mujoco.MjSpec | None = None,
        posture: Mapping[str, float] | None = None,
        velocity_limits: Mapping[str, float] | None = None,
        base_height: float | None = None,
        max_render_size: tuple[int, int] = (1280, 960),
    ) -> None:
        self._substeps = check_control_period(control_period, physics_dt)
        self._control_period = float(control_period)
        self.scene = load_scene(scene) if isinstance(scene, str) else scene
        if robot_spec is None:
            from . import robot_model

            robot_spec = robot_model.load_robot_spec()
            if posture is None:
                posture = dict(robot_model.STANDING_POSTURE)
            if base_height is None:
                base_height = robot_model.standing_pelvis_height(posture)
            if velocity_limits is None:
                from humanoid_core.robot.description import joint_limits, render_urdf

                velocity_limits = {
                    n: lim.velocity for n, lim in joint_limits(render_urdf()).items()
                }
        self._base_height = base_height
        self.model, self.names = build_model(
            self.scene,
            self.scene.nominal_layout(),
            robot_spec,
            timestep=physics_dt,
            offscreen_size=max_render_size,
        )
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._joint_names = self.names.joints
        self._jid = np.array([m.joint(n).id for n in self._joint_names], dtype=int)
        self._qadr = m.jnt_qposadr[self._jid].copy()
        self._vadr = m.jnt_dofadr[self._jid].copy()
        self._index = {n: i for i, n in enumerate(self._joint_names)}
        self._act = np.full(len(self._joint_names), -1, dtype=int)
        for i, n in enumerate(self._joint_names):
            if n in self.names.actuators:
                self._act[i] = m.actuator(self.names.actuators[n]).id
        vel = dict(velocity_limits or {})
        limits = {}
        for i, n in enumerate(self._joint_names):
            j = self._jid[i]
            lo, hi = m.jnt_range[j] if m.jnt_limited[j] else (-math.inf, math.inf)
            limits[n] = JointLimit(float(lo), float(hi), float(vel.get(n, math.inf)))
        self._limits = limits
        self._lo = np.array([limits[n].lower for n in self._joint_names])
        self._hi = np.array([limits[n].upper for n in self._joint_names])
        self._hands = tuple(
            h for h in HANDS if all(j in self._index for j in gripper_joint_names(h))
        )
        self._posture = dict(posture or {})
        unknown = sorted(set(self._posture) - set(self._index))
        if unknown:
            raise ValueError(f'posture names unknown joints {unknown}')
        self._root_qadr, self._root_vadr = self._free_root()
        self._imu_site = _find(m, mujoco.mjtObj.mjOBJ_SITE, 'imu_link')
        self._imu_sensors = self._find_imu_sensors()
        self._object_qadr = {
            name: int(m.jnt_qposadr[m.body(name).jntadr[0]])
            for name in self.names.objects
            if m.body(name).jntnum[0] > 0
        }
        self._renderers: dict[tuple[str, int, int], CameraRenderer] = {}
        self._targets = np.zeros(len(self._joint_names))
        self._samplers: list[TrajectorySampler] = []
        self._owner: dict[str, TrajectorySampler] = {}
        self._layout: Layout | None = None
        self.reset(seed)

    # -- construction helpers ---------------------------------------------------------------
    def _free_root(self) -> tuple[int | None, int | None]:
        m = self.model
        if self.names.robot_root is None:
            return None, None
        body = m.body(self.names.robot_root)
        if body.jntnum[0] > 0 and int(m.jnt_type[body.jntadr[0]]) == int(
            mujoco.mjtJoint.mjJNT_FREE
        ):
            j = int(body.jntadr[0])
            return int(m.jnt_qposadr[j]), int(m.jnt_dofadr[j])
        return None, None

    def _find_imu_sensors(self) -> dict[str, int]:
        m = self.model
        found: dict[str, int] = {}
        if self._imu_site < 0:
            return found
        kinds = {
            int(mujoco.mjtSensor.mjSENS_ACCELEROMETER): 'acc',
            int(mujoco.mjtSensor.mjSENS_GYRO): 'gyro',
            int(mujoco.mjtSensor.mjSENS_FRAMEQUAT): 'quat',
        }
        # sensors on `imu_link` or on its alias site `imu` (same pose)
        sites = {self._imu_site, _find(m, mujoco.mjtObj.mjOBJ_SITE, 'imu')} - {-1}
        for s in range(m.nsensor):
            kind = kinds.get(int(m.sensor_type[s]))
            if (
                kind
                and int(m.sensor_objtype[s]) == int(mujoco.mjtObj.mjOBJ_SITE)
                and int(m.sensor_objid[s]) in sites
                and (kind != 'quat' or int(m.sensor_reftype[s]) == 0)
            ):
                found.setdefault(kind, int(m.sensor_adr[s]))
        return found

    # -- time ---------------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> None:
        m, d = self.model, self.data
        layout = self.scene.layout(seed)  # first: a SceneError leaves the state untouched
        mujoco.mj_resetData(m, d)
        self._layout = layout
        for name, adr in self._object_qadr.items():
            p = layout[name]
            d.qpos[adr : adr + 3] = p.position
            d.qpos[adr + 3 : adr + 7] = p.quaternion
        for n, q in self._posture.items():
            d.qpos[self._qadr[self._index[n]]] = q
        if self._base_height is not None and self._root_qadr is not None:
            d.qpos[self._root_qadr + 2] = self._base_height
        self._targets = np.clip(d.qpos[self._qadr].copy(), self._lo, self._hi)
        self._samplers = []
        self._owner = {}
        self._write_ctrl()
        mujoco.mj_forward(m, d)

    def step(self, n: int = 1) -> None:
        if n < 0:
            raise ValueError(f'step count must be >= 0, got {n}')
        for _ in range(int(n)):
            self._update_from_trajectories()
            self._write_ctrl()
            mujoco.mj_step(self.model, self.data, nstep=self._substeps)

    @property
    def time(self) -> float:
        return float(self.data.time)

    @property
    def timestep(self) -> float:
        return float(self.model.opt.timestep)

    @property
    def control_period(self) -> float:
        return self._control_period

    @property
    def layout(self) -> Layout | None:
        """The object layout used at the last reset."""
        return self._layout

    # -- robot --------------------------------------------------------------------------------
    @property
    def joint_names(self) -> tuple[str, ...]:
        return self._joint_names

    @property
    def joint_limits(self) -> Mapping[str, JointLimit]:
        return self._limits

    @property
    def hands(self) -> tuple[str, ...]:
        return self._hands

    @property
    def targets(self) -> dict[str, float]:
        """Current position targets per joint."""
        return {n: float(q) for n, q in zip(self._joint_names, self._targets, strict=True)}

    def read_state(self) -> SimState:
        m, d = self.model, self.data
        qpos = d.qpos[self._qadr].copy()
        qvel = d.qvel[self._vadr].copy()
        effort = d.qfrc_actuator[self._vadr].copy()
        if self._root_qadr is not None and self._root_vadr is not None:
            a, v = self._root_qadr, self._root_vadr
            pelvis = Pose(d.qpos[a : a + 3].copy(), d.qpos[a + 3 : a + 7].copy())
            lin_world = d.qvel[v : v + 3].copy()
            ang_local = d.qvel[v + 3 : v + 6].copy()
        else:
            body = self.names.robot_root
            bid = m.body(body).id if body else 0
            pelvis = Pose(d.xpos[bid].copy(), d.xquat[bid].copy())
            lin_world = np.zeros(3)
            ang_local = np.zeros(3)
        rot = _quat_mat(pelvis.quaternion)
        yaw = math.atan2(rot[1, 0], rot[0, 0])
        c, s = math.cos(yaw), math.sin(yaw)
        rz_t = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
        base = Pose(
            np.array([pelvis.position[0], pelvis.position[1], 0.0]),
            np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]),
        )
        imu_q, imu_w, imu_a = self._imu()
        widths = {}
        for hand in self._hands:
            jl, jr = gripper_joint_names(hand)
            widths[hand] = float(qpos[self._index[jl]] + qpos[self._index[jr]])
        return SimState(
            time=float(d.time),
            joint_names=self._joint_names,
            positions=qpos,
            velocities=qvel,
            efforts=effort,
            base_pose=base,
            base_linear_velocity=rz_t @ lin_world,
            base_angular_velocity=rz_t @ (rot @ ang_local),
            pelvis_pose=pelvis,
            imu_orientation=imu_q,
            imu_angular_velocity=imu_w,
            imu_linear_acceleration=imu_a,
            gripper_widths=widths,
        )

    def _imu(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        m, d = self.model, self.data
        if self._imu_site >= 0:
            objtype, objid = mujoco.mjtObj.mjOBJ_SITE, self._imu_site
            mat = d.site_xmat[objid]
        else:
            bid = m.body(self.names.robot_root).id if self.names.robot_root else 0
            objtype, objid = mujoco.mjtObj.mjOBJ_BODY, bid
            mat = d.xmat[bid]
        sens = self._imu_sensors
        quat = np.zeros(4)
        if 'quat' in sens:
            quat = d.sensordata[sens['quat'] : sens['quat'] + 4].copy()
        else:
            mujoco.mju_mat2Quat(quat, mat)
        res = np.zeros(6)
        if 'gyro' in sens:
            gyro = d.sensordata[sens['gyro'] : sens['gyro'] + 3].copy()
        else:
            mujoco.mj_objectVelocity(m, d, objtype, objid, res, 1)
            gyro = res[:3].copy()
        if 'acc' in sens:
            acc = d.sensordata[sens['acc'] : sens['acc'] + 3].copy()
        else:
            mujoco.mj_rnePostConstraint(m, d)
            mujoco.mj_objectAcceleration(m, d, objtype, objid, res, 1)
            acc = res[3:].copy()
        return quat, gyro, acc

    def set_joint_targets(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
    ) -> list[ClampReport]:
        names = list(names)
        pos = np.asarray(positions, dtype=float).reshape(-1)
        if len(names) != len(pos):
            raise ValueError(f'{len(names)} joint names but {len(pos)} positions')
        if velocities is not None and len(velocities) != len(names):
            raise ValueError(f'{len(names)} joint names but {len(velocities)} velocities')
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise ValueError(f'unknown joints {unknown}; known joints: {list(self._joint_names)}')
        bad = [n for n, q in zip(names, pos, strict=True) if not math.isfinite(q)]
        if bad:
            raise ValueError(f'non-finite target for joints {bad}')
        reports = []
        for n, q in zip(names, pos, strict=True):
            i = self._index[n]
            if self._act[i] < 0:
                raise ValueError(f'joint {n!r} has no actuator')
            applied = float(np.clip(q, self._lo[i], self._hi[i]))
            if applied != q:
                reports.append(ClampReport(n, float(q), applied))
            self._targets[i] = applied
            self._release(n)
        self._write_ctrl()
        return reports

    def set_trajectory(self, trajectory: JointTrajectory) -> JointTrajectory:
        # Stamped commands arrive late by the transport latency (the controller stamps each
        # with the sample time of the joint states it was computed from, so the robot plays
        # it at the right time); like ros2_control, a start in the past is sampled from now.
        # The safety supervisor already rejected stale ones (its start_tolerance).
        traj = validate_trajectory(
            trajectory, self._limits, self.time, start_tolerance=STALE_START_TOLERANCE
        )
        missing = [n for n in traj.joint_names if self._act[self._index[n]] < 0]
        if missing:
            raise TrajectoryError(f'trajectory names joints without an actuator: {missing}')
        initial = [self._targets[self._index[n]] for n in traj.joint_names]
        sampler = TrajectorySampler(traj, initial)
        for n in traj.joint_names:
            self._release(n)
            self._owner[n] = sampler
        self._samplers.append(sampler)
        return traj

    def set_gripper(self, hand: str, width: float) -> float:
        if hand not in self._hands:
            raise ValueError(f'unknown hand {hand!r}; hands with a gripper: {list(self._hands)}')
        if not math.isfinite(width):
            raise ValueError(f'gripper width must be finite, got {width}')
        jl, jr = gripper_joint_names(hand)
        il, ir = self._index[jl], self._index[jr]
        lo = self._lo[il] + self._lo[ir]
        hi = self._hi[il] + self._hi[ir]
        applied = float(np.clip(width, lo, hi))
        self.set_joint_targets([jl, jr], [applied / 2, applied / 2])
        return applied

    def _release(self, joint: str) -> None:
        owner = self._owner.pop(joint, None)
        if owner is not None and owner not in self._owner.values():
            self._samplers.remove(owner)

    def _update_from_trajectories(self) -> None:
        if not self._samplers:
            return
        t = self.time
        for sampler in list(self._samplers):
            q, _ = sampler.sample(t)
            for k, n in enumerate(sampler.joint_names):
                if self._owner.get(n) is sampler:
                    i = self._index[n]
                    self._targets[i] = min(max(q[k], self._lo[i]), self._hi[i])
            if sampler.done(t):
                for n in sampler.joint_names:
                    if self._owner.get(n) is sampler:
                        del self._owner[n]
                self._samplers.remove(sampler)

    def _write_ctrl(self) -> None:
        mask = self._act >= 0
        self.data.ctrl[self._act[mask]] = self._targets[mask]

    # -- sensors ------------------------------------------------------------------------------
    @property
    def cameras(self) -> tuple[str, ...]:
        return self.names.cameras

    def _camera_id(self, camera: str) -> int:
        cid = _find(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
        if cid < 0:
            raise ValueError(f'unknown camera {camera!r}; cameras: {list(self.cameras)}')
        return cid

    def intrinsics(self, camera: str, width: int, height: int) -> CameraIntrinsics:
        """Intrinsics of `camera` rendered at width x height."""
        cid = self._camera_id(camera)
        return CameraIntrinsics.from_fovy(width, height, float(self.model.cam_fovy[cid]))

    def render(self, camera: str, width: int, height: int, depth: bool = True) -> CameraImage:
        key = (camera, int(width), int(height))
        renderer = self._renderers.get(key)
        if renderer is None:
            renderer = self.camera_renderer(camera, width, height)
            self._renderers[key] = renderer
        renderer.capture()
        return renderer.render(depth=depth)

    def camera_renderer(self, camera: str, width: int, height: int) -> CameraRenderer:
        """A renderer for `camera` that splits rendering in two steps, so that a render thread
        can draw while physics runs: `capture()` copies the scene from the simulation state
        (hold the physics lock), `render()` draws it (no simulation state touched). Use it
        from one thread only: the GL context belongs to the thread that renders first."""
        cid = self._camera_id(camera)
        vis = self.model.vis.global_
        if not (0 < width <= vis.offwidth and 0 < height <= vis.offheight):
            raise ValueError(
                f'render size {width}x{height} outside 1..{vis.offwidth}x{vis.offheight} '
                '(max_render_size)'
            )
        return CameraRenderer(self, camera, cid, int(width), int(height))

    def camera_pose(self, camera: str) -> Pose:
        cid = self._camera_id(camera)
        rot = self.data.cam_xmat[cid].reshape(3, 3) @ np.diag([1.0, -1.0, -1.0])
        quat = np.zeros(4)
        mujoco.mju_mat2Quat(quat, rot.flatten())
        return Pose(self.data.cam_xpos[cid].copy(), quat)

    def object_poses(self) -> dict[str, Pose]:
        d = self.data
        out = {}
        for name in self.names.objects:
            bid = self.model.body(name).id
            out[name] = Pose(d.xpos[bid].copy(), d.xquat[bid].copy())
        return out

    def set_object_pose(
        self, name: str, position: Sequence[float], quaternion: Sequence[float] | None = None
    ) -> None:
        """Teleport free object `name` to a world pose (at rest), e.g. to mirror a perceived
        world state in a digital twin. `quaternion` (w, x, y, z) defaults to upright."""
        if name not in self._object_qadr:
            raise ValueError(
                f'unknown or fixed object {name!r}; free objects: {sorted(self._object_qadr)}'
            )
        pos = np.asarray(position, dtype=float).reshape(-1)
        quat = np.asarray((1.0, 0.0, 0.0, 0.0) if quaternion is None else quaternion, float)
        if pos.shape != (3,) or quat.shape != (4,) or not np.all(np.isfinite(np.r_[pos, quat])):
            raise ValueError(
                f'object pose needs a finite position (3) and quaternion (4) for {name!r}'
            )
        norm = float(np.linalg.norm(quat))
        if norm < 1e-9:
            raise ValueError(f'zero quaternion for object {name!r}')
        adr = self._object_qadr[name]
        self.data.qpos[adr : adr + 3] = pos
        self.data.qpos[adr + 3 : adr + 7] = quat / norm
        body = self.model.body(name)
        dof = int(self.model.jnt_dofadr[body.jntadr[0]])
        self.data.qvel[dof : dof + 6] = 0.0
        mujoco.mj_forward(self.model, self.data)

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()


class CameraRenderer:
    """Two-step rendering of one camera of a `MujocoBackend` (see `camera_renderer`)."""

    def __init__(self, backend: MujocoBackend, camera: str, cid: int, width: int, height: int):
        self.backend = backend
        self.camera = camera
        self._cid = cid
        self.width, self.height = width, height
        model = backend.model
        self.intrinsics = CameraIntrinsics.from_fovy(width, height, float(model.cam_fovy[cid]))
        self._zfar = model.vis.map.zfar * model.stat.extent
        self._renderer: mujoco.Renderer | None = None
        self._time: float | None = None

    def capture(self) -> None:
        """Copy the current scene (cheap; call with the simulation paused or locked)."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(
                self.backend.model, height=self.height, width=self.width
            )
        self._renderer.update_scene(self.backend.data, camera=self._cid)
        self._time = self.backend.time

    def render(self, depth: bool = True) -> CameraImage:
        """Draw the captured scene: rgb uint8 HxWx3 and depth float32 HxW metres (z-depth,
        NaN beyond the far plane)."""
        if self._renderer is None or self._time is None:
            raise RuntimeError('CameraRenderer.render() called before capture()')
        renderer = self._renderer
        rgb = renderer.render().copy()
        depth_img = None
        if depth:
            renderer.enable_depth_rendering()
            try:
                depth_img = renderer.render().astype(np.float32, copy=True)
            finally:
                renderer.disable_depth_rendering()
            depth_img[depth_img >= 0.999 * self._zfar] = np.nan
        return CameraImage(self.camera, self._time, rgb, depth_img, self.intrinsics)

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None


def _find(model: mujoco.MjModel, objtype: mujoco.mjtObj, name: str) -> int:
    return int(mujoco.mj_name2id(model, objtype, name))


def _quat_mat(q: np.ndarray) -> np.ndarray:
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, np.asarray(q, float))
    return mat.reshape(3, 3)
