"""Forward kinematics for the safety checks: grasp-frame positions and self-contacts.

Uses the robot-only MuJoCo model of `humanoid_core.sim.robot_model.load_robot_spec()` with the
pelvis fixed at the origin (level). Positions are reported in the robot's `base` frame: the
pelvis projected on the floor, i.e. z measured from the lower sole (feet assumed flat on the
floor, pelvis level; good for the standing/manipulation postures the supervisor checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math

import mujoco
import numpy as np

from humanoid_core.robot.description import ROBOT_INFO

__all__ = ['HandKinematics', 'Posture', 'base_to_world']

SIDES = ('left', 'right')


@dataclass(frozen=True)
class Posture:
    """FK result: grasp-frame positions by side (base frame, m) and robot self-contacts.

    `contacts` holds (body a, body b, signed distance m) for pairs closer than the margin.
    """

    hands: dict[str, np.ndarray]
    contacts: tuple[tuple[str, str, float], ...]


def base_to_world(point: np.ndarray, base_pose: tuple[float, float, float]) -> np.ndarray:
    """A base-frame point in the world frame, the base at (x, y, yaw) on the floor."""
    x, y, yaw = base_pose
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([x + c * point[0] - s * point[1], y + s * point[0] + c * point[1], point[2]])


class HandKinematics:
    """FK of the humanoid for posture checks (about 5 us per posture)."""

    def __init__(self, self_collision_margin: float = 0.005, model: mujoco.MjModel | None = None):
        if model is None:
            from humanoid_core.sim.robot_model import load_robot_spec

            model = load_robot_spec().compile()
        self.model = model
        self.data = mujoco.MjData(model)
        self.model.geom_margin[:] = max(0.0, float(self_collision_margin))
        self._qadr: dict[str, int] = {}
        movable = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
        for j in range(model.njnt):
            if int(model.jnt_type[j]) in movable:
                self._qadr[model.joint(j).name] = int(model.jnt_qposadr[j])
        free_type = int(mujoco.mjtJoint.mjJNT_FREE)
        free = [j for j in range(model.njnt) if int(model.jnt_type[j]) == free_type]
        self._free = int(model.jnt_qposadr[free[0]]) if free else None
        self._sites = {s: model.site(ROBOT_INFO.grasp_frame(s)).id for s in SIDES}
        self._soles = [model.site(ROBOT_INFO.sole_frame(s)).id for s in SIDES]

    @property
    def joint_names(self) -> tuple[str, ...]:
        return tuple(self._qadr)

    def evaluate(self, positions: Mapping[str, float]) -> Posture:
        """FK at joint `positions` (unnamed joints at 0). Unknown names are ignored."""
        m, d = self.model, self.data
        d.qpos[:] = m.qpos0
        if self._free is not None:
            d.qpos[self._free : self._free + 7] = [0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0]
        for name, value in positions.items():
            adr = self._qadr.get(name)
            if adr is not None:
                d.qpos[adr] = value
        mujoco.mj_kinematics(m, d)
        mujoco.mj_collision(m, d)
        ground = -min(float(d.site_xpos[s][2]) for s in self._soles)
        hands = {}
        for side, sid in self._sites.items():
            p = np.array(d.site_xpos[sid], dtype=float)
            p[2] += ground
            hands[side] = p
        contacts = []
        for i in range(d.ncon):
            c = d.contact[i]
            a = m.body(m.geom_bodyid[c.geom1]).name
            b = m.body(m.geom_bodyid[c.geom2]).name
            contacts.append((min(a, b), max(a, b), float(c.dist)))
        return Posture(hands, tuple(contacts))
