"""A minimal physics testbed for the motion controllers: the humanoid on a flat floor.

Same physics options as the scene builder (1 ms step, implicitfast, elliptic cones), no
tables or objects, so walking trials have room. Used by the control tests and
`bench/bench_motion.py`; the full scenes run through `humanoid_core.sim.backend`.

`base_mode='dynamic'` (default) simulates the floating base. `base_mode='kinematic_base'` is the
named simplification for when dynamic walking fails: after every physics step the pelvis pose
is overwritten with the controller's planned pose (the legs still animate the gait against the
floor). Results obtained with it must say so (the bench reports `mode`).
"""

from __future__ import annotations

from collections.abc import Mapping
import math

import mujoco
import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.balance import MeasuredState
from humanoid_core.robot.description import ROBOT_INFO

__all__ = ['BASE_MODES', 'FloorSim', 'MeasuredState']

BASE_MODES = ('dynamic', 'kinematic_base')
FloatArray = NDArray[np.float64]


class FloorSim:
    """The robot standing on a floor; position servos take joint targets."""

    def __init__(
        self,
        timestep: float = 0.001,
        base_mode: str = 'dynamic',
        gains: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        from humanoid_core.sim.robot_model import load_robot_spec

        if base_mode not in BASE_MODES:
            raise ValueError(f'base_mode must be one of {BASE_MODES}, got {base_mode!r}')
        self.base_mode = base_mode
        spec = load_robot_spec()
        opt = spec.option
        opt.timestep = timestep
        opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
        opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
        opt.impratio = 10.0
        opt.iterations = 50
        opt.ls_iterations = 20
        spec.add_texture(
            name='floor_grid', type=mujoco.mjtTexture.mjTEXTURE_2D,
            builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
            rgb1=[0.75, 0.75, 0.75], rgb2=[0.55, 0.55, 0.55],
        )  # fmt: skip
        mat = spec.add_material(name='floor_grid', texrepeat=[40.0, 40.0])
        mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = 'floor_grid'
        spec.worldbody.add_geom(
            name='floor', type=mujoco.mjtGeom.mjGEOM_PLANE, size=[20.0, 20.0, 0.1],
            material='floor_grid',
        )  # fmt: skip
        spec.worldbody.add_light(pos=[0.0, 0.0, 4.0], dir=[0.0, 0.0, -1.0])
        spec.visual.global_.offwidth = 640
        spec.visual.global_.offheight = 480
        for name, (kp, kv) in (gains or {}).items():
            act = spec.actuator(name)
            act.set_to_position(kp=kp, kv=kv)
        self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.actuator_of: dict[str, int] = {}
        self.qpos_of: dict[str, int] = {}
        self.dof_of: dict[str, int] = {}
        for i in range(m.nu):
            jid = int(m.actuator_trnid[i, 0])
            name = mujoco.mj_id2name(m, mujoco.mjtObj.mjOBJ_JOINT, jid)
            self.actuator_of[name] = i
            self.qpos_of[name] = int(m.jnt_qposadr[jid])
            self.dof_of[name] = int(m.jnt_dofadr[jid])
        self.pelvis = m.body(ROBOT_INFO.base_link).id
        self._renderer: mujoco.Renderer | None = None
        self.reset()

    def reset(self, q: FloatArray | None = None) -> None:
        """Stand in STANDING_POSTURE at the origin (or at robot-model qpos `q`)."""
        from humanoid_core.sim.robot_model import standing_qpos

        mujoco.mj_resetData(self.model, self.data)
        self.data.qpos[:] = standing_qpos(self.model) if q is None else q
        for name, act in self.actuator_of.items():
            self.data.ctrl[act] = self.data.qpos[self.qpos_of[name]]
        mujoco.mj_forward(self.model, self.data)

    @property
    def time(self) -> float:
        return float(self.data.time)

    def set_targets(self, targets: Mapping[str, float]) -> None:
        """Position targets by joint name (clipped to each servo's range)."""
        m = self.model
        for name, value in targets.items():
            act = self.actuator_of.get(name)
            if act is None:
                raise ValueError(f'no actuator for joint {name!r}')
            lo, hi = m.actuator_ctrlrange[act]
            self.data.ctrl[act] = min(max(float(value), lo), hi)

    def step(
        self,
        duration: float,
        base_pose: tuple[FloatArray, FloatArray] | None = None,
        external_force: FloatArray | None = None,
    ) -> None:
        """Simulate `duration` s. `base_pose` (position, quaternion) is imposed every step in
        the kinematic_base mode; `external_force` (world, N) pushes the pelvis meanwhile."""
        n = max(1, round(duration / self.model.opt.timestep))
        if external_force is not None:
            self.data.xfrc_applied[self.pelvis, :3] = external_force
        for _ in range(n):
            mujoco.mj_step(self.model, self.data)
            if self.base_mode == 'kinematic_base' and base_pose is not None:
                self.data.qpos[0:3] = base_pose[0]
                self.data.qpos[3:7] = base_pose[1]
                self.data.qvel[0:6] = 0.0
        if external_force is not None:
            self.data.xfrc_applied[self.pelvis, :3] = 0.0
            mujoco.mj_forward(self.model, self.data)

    def state(self) -> MeasuredState:
        d = self.data
        return MeasuredState(
            time=float(d.time),
            joint_positions={n: float(d.qpos[a]) for n, a in self.qpos_of.items()},
            pelvis_position=d.qpos[0:3].copy(),
            pelvis_quaternion=d.qpos[3:7].copy(),
            pelvis_linear_velocity=d.qvel[0:3].copy(),
            angular_velocity=d.qvel[3:6].copy(),
        )

    def com(self) -> FloatArray:
        return self.data.subtree_com[self.pelvis].copy()

    def fallen(self, min_height: float = 0.6, max_tilt: float = 0.7) -> bool:
        """Pelvis below `min_height` m or tilted more than `max_tilt` rad."""
        d = self.data
        _w, x, y, _z = d.qpos[3:7]
        up_z = 1.0 - 2.0 * (x * x + y * y)  # z component of the pelvis z axis
        return bool(d.qpos[2] < min_height or up_z < math.cos(max_tilt))

    def render(self, width: int = 480, height: int = 360, lookat=None, azimuth: float = 135.0):
        """RGB image (H, W, 3) from a tracking free camera."""
        if self._renderer is None:
            self._renderer = mujoco.Renderer(self.model, height, width)
        cam = mujoco.MjvCamera()
        cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        cam.lookat[:] = self.data.qpos[0:3] if lookat is None else lookat
        cam.distance = 2.6
        cam.azimuth = azimuth
        cam.elevation = -15.0
        self._renderer.update_scene(self.data, cam)
        return self._renderer.render()

    def close(self) -> None:
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
