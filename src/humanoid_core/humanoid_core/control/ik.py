"""Whole-body inverse kinematics with mink on the robot's MuJoCo model.

`WholeBodyIK` keeps one mink `Configuration` of the floating-base robot and solves
differential IK (a QP per iteration, solver daqp) with:

- frame tasks on the soles (feet stay put, or move to swing targets),
- a frame task on a grasp frame (hand pose: position + orientation),
- a CoM task (horizontal CoM over the support polygon; optional height),
- a pelvis orientation task (upright, heading between the feet),
- a posture task regularising towards STANDING_POSTURE,
- `ConfigurationLimit` (joint position limits, never violated) and optionally a
  `VelocityLimit` (joint speeds, for the walking controller's per-tick solve).

Configurations `q` are the model's qpos (7 floating-base coordinates then joints); see
`RobotKinematics` for conversions from joint-name dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
import time

import mink
import mujoco
import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.footsteps import convex_hull, point_in_polygon_margin
from humanoid_core.control.kinematics import (
    RobotKinematics,
    as_transform,
    rotation_error,
    yaw_of,
)
from humanoid_core.robot.description import ROBOT_INFO

__all__ = [
    'HAND_SIDES',
    'HandIKResult',
    'IKSettings',
    'WholeBodyIK',
    'sample_reachable_hand_targets',
    'self_collision_distance',
    'self_collision_pairs',
]

HAND_SIDES = ('left', 'right')
FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class IKSettings:
    """Task costs, tolerances and iteration limits of `WholeBodyIK`."""

    hand_position_cost: float = 10.0
    hand_orientation_cost: float = 3.0
    foot_cost: float = 100.0
    com_cost: float = 100.0
    pelvis_orientation_cost: float = 2.0
    posture_cost: float = 0.05
    damping: float = 1e-3
    lm_damping: float = 1e-2
    position_tolerance: float = 0.003  # m
    rotation_tolerance: float = math.radians(1.5)
    com_margin: float = 0.01  # m inside the support polygon
    max_iterations: int = 300
    walk_iterations: int = 3
    self_collision_margin: float = 0.02  # m between arm and body geoms
    # Pairs nearer than margin + this enter the collision constraint. One QP step can move a
    # hand 10 cm or more (a waist rotation): with 5 cm, the free arm of a reach jumped from
    # outside that band 4-6 cm into the pelvis and thigh in one step (placing on the station,
    # in-process trace), and the constraint, relaxed once penetrating, never pulled it out.
    self_collision_detection: float = 0.15
    # Share of the remaining gap one QP step may close (mink's velocity-damper gain). The
    # distance is linearised per step: at mink's 0.85 a reach beside the hip ended with the
    # forearm 4 mm from the body in 5 steps despite the 2 cm margin; at 0.3, 13 mm. Lower
    # gains slow convergence elsewhere, so a result nearer than half the margin is solved
    # again with the retry gain.
    self_collision_gain: float = 0.85
    self_collision_retry_gain: float = 0.3
    solver: str = 'daqp'

    def __post_init__(self) -> None:
        for name in (
            'hand_position_cost',
            'hand_orientation_cost',
            'foot_cost',
            'com_cost',
            'position_tolerance',
            'rotation_tolerance',
        ):
            if not getattr(self, name) > 0.0:
                raise ValueError(f'IKSettings.{name} must be positive, got {getattr(self, name)}')
        for name in ('self_collision_gain', 'self_collision_retry_gain'):
            if not 0.0 < getattr(self, name) <= 1.0:
                raise ValueError(f'IKSettings.{name} must be in (0, 1], got {getattr(self, name)}')
        if not self.self_collision_detection >= 0.0:
            raise ValueError(
                f'IKSettings.self_collision_detection must be >= 0, got '
                f'{self.self_collision_detection}'
            )
        if self.max_iterations < 1 or self.walk_iterations < 1:
            raise ValueError('IKSettings iteration counts must be >= 1')


@dataclass(frozen=True)
class HandIKResult:
    """A hand-pose solution: configuration, residuals (m, rad), convergence and effort."""

    q: FloatArray
    position_error: float
    rotation_error: float
    converged: bool
    iterations: int
    com_margin: float
    solve_time: float

    def __iter__(self):  # (q, pos_err, rot_err, converged) unpacking
        return iter((self.q, self.position_error, self.rotation_error, self.converged))


class WholeBodyIK:
    """Hand-pose and walking-frame IK for the humanoid (mink, floating base)."""

    def __init__(
        self,
        kinematics: RobotKinematics | None = None,
        settings: IKSettings | None = None,
        velocity_limits: Mapping[str, float] | None = None,
        foot_length: float | None = None,
        foot_width: float | None = None,
    ) -> None:
        self.kin = kinematics or RobotKinematics()
        self.settings = settings or IKSettings()
        self.model = self.kin.model
        # Sole rectangle in the sole frame, from the foot's collision box (defaults) or given.
        length, width, offset = _sole_box(self.model)
        self.foot_length = length if foot_length is None else foot_length
        self.foot_width = width if foot_width is None else foot_width
        self.foot_offset_x = offset
        s = self.settings
        self.configuration = mink.Configuration(self.model)
        self.feet = {
            side: mink.FrameTask(
                ROBOT_INFO.sole_frame(side), 'site', position_cost=s.foot_cost,
                orientation_cost=s.foot_cost,
            )
            for side in HAND_SIDES
        }  # fmt: skip
        self.hands = {
            side: mink.FrameTask(
                ROBOT_INFO.grasp_frame(side), 'site', position_cost=s.hand_position_cost,
                orientation_cost=s.hand_orientation_cost, lm_damping=s.lm_damping,
            )
            for side in HAND_SIDES
        }  # fmt: skip
        self.com_task = mink.ComTask(cost=np.array([s.com_cost, s.com_cost, 0.0]))
        self.pelvis_task = mink.FrameTask(
            ROBOT_INFO.base_link, 'body', position_cost=0.0,
            orientation_cost=s.pelvis_orientation_cost,
        )  # fmt: skip
        self.posture_task = mink.PostureTask(self.model, cost=s.posture_cost)
        self.posture_q = self.kin.standing_q()
        self.posture_task.set_target(self.posture_q)
        self._hold_task = mink.PostureTask(self.model, cost=1.0)
        self.limits: list[mink.Limit] = [mink.ConfigurationLimit(self.model)]
        self.walk_limits: list[mink.Limit] = list(self.limits)
        # Reaching also keeps the hands/forearms off the body and off the other arm.
        self.hand_limits: list[mink.Limit] = list(self.limits)
        pairs = self_collision_pairs(self.model)
        # kept to lower its gain for a retry (`solve_hand_pose`); None without arm/body geoms
        self._self_limit: mink.CollisionAvoidanceLimit | None = None
        if pairs:
            self._self_limit = mink.CollisionAvoidanceLimit(
                self.model, pairs, minimum_distance_from_collisions=s.self_collision_margin,
                collision_detection_distance=s.self_collision_margin + s.self_collision_detection,
                gain=s.self_collision_gain,
            )  # fmt: skip
            self.hand_limits.append(self._self_limit)
        if velocity_limits:
            self.walk_limits.append(mink.VelocityLimit(self.model, dict(velocity_limits)))

    # --- helpers --------------------------------------------------------------------------
    def _check_q(self, q: FloatArray) -> FloatArray:
        q = np.asarray(q, dtype=float)
        if q.shape != (self.kin.nq,):
            raise ValueError(f'q_init must have shape ({self.kin.nq},), got {q.shape}')
        if not np.all(np.isfinite(q)):
            raise ValueError('q_init contains NaN or inf')
        return self.kin.clip_to_limits(q)

    def support_polygon(self, q: FloatArray) -> FloatArray:
        """Convex hull (k, 2) of both soles at configuration q."""
        corners = []
        for side in HAND_SIDES:
            T = self.kin.site_transform(q, ROBOT_INFO.sole_frame(side))
            for sx in (-0.5, 0.5):
                for sy in (-0.5, 0.5):
                    local = [self.foot_offset_x + sx * self.foot_length, sy * self.foot_width, 0]
                    p = T[:3, :3] @ np.array(local, dtype=float)
                    corners.append(T[:2, 3] + p[:2])
        return convex_hull(np.array(corners))

    def com_margin(self, q: FloatArray) -> float:
        """Distance (m) of the CoM's floor projection inside the support polygon (< 0: out)."""
        return point_in_polygon_margin(self.kin.com(q)[:2], self.support_polygon(q))

    def _pelvis_target(self, left: FloatArray, right: FloatArray, pelvis_z: float) -> mink.SE3:
        yaw_l, yaw_r = yaw_of(left[:3, :3]), yaw_of(right[:3, :3])
        yaw = yaw_r + 0.5 * math.atan2(math.sin(yaw_l - yaw_r), math.cos(yaw_l - yaw_r))
        quat = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        return mink.SE3.from_rotation_and_translation(
            mink.SO3(quat), np.array([0.0, 0.0, pelvis_z])
        )

    # --- hand pose ------------------------------------------------------------------------
    def solve_hand_pose(
        self,
        hand: str,
        target_pose: object,
        q_init: FloatArray,
        *,
        max_iterations: int | None = None,
        other_hand_cost: float = 0.0,
    ) -> HandIKResult:
        """Put grasp frame `hand` at `target_pose` (world) with the feet where they are in
        `q_init` and the CoM over the feet. Unpacks as (q, pos_err, rot_err, converged).

        `other_hand_cost` > 0 also keeps the other hand's grasp frame near its position in
        `q_init` (a soft position task with that cost), so that a waist rotation does not
        swing the free arm into a table.

        Joint limits always hold in the result. A target out of reach returns the closest
        configuration found with converged=False and the residual errors. A result with an arm
        nearer the body than half `self_collision_margin` (from a start that was not) is solved
        again with smaller steps towards the body (`self_collision_retry_gain`).
        """
        if hand not in HAND_SIDES:
            raise ValueError(f'hand must be one of {HAND_SIDES}, got {hand!r}')
        res = self._solve_hand_pose(hand, target_pose, q_init, max_iterations, other_hand_cost)
        limit = self._self_limit
        if limit is None:
            return res
        keep = 0.5 * self.settings.self_collision_margin
        d_res = self_collision_distance(self.kin, res.q)
        if d_res < keep <= self_collision_distance(self.kin, self._check_q(q_init)):
            # The linearised collision limit let an arm come nearer the body than the margin
            # (large steps near it): again with smaller steps towards the body.
            limit.gain = self.settings.self_collision_retry_gain
            try:
                again = self._solve_hand_pose(
                    hand, target_pose, q_init, max_iterations, other_hand_cost
                )
            finally:
                limit.gain = self.settings.self_collision_gain
            # kept if it is clearer of the body and reaches the target about as well (a
            # clearer result that misses the target would turn a reach into a failure)
            if (
                self_collision_distance(self.kin, again.q) > d_res
                and again.position_error <= res.position_error + 0.005
            ):
                res = again
        return res

    def _solve_hand_pose(
        self,
        hand: str,
        target_pose: object,
        q_init: FloatArray,
        max_iterations: int | None,
        other_hand_cost: float,
    ) -> HandIKResult:
        """One solve of `solve_hand_pose` with the current limits."""
        T_target = as_transform(target_pose)
        s = self.settings
        t0 = time.perf_counter()
        q0 = self._check_q(q_init)
        cfg = self.configuration
        cfg.update(q0)
        for side in HAND_SIDES:
            self.feet[side].set_target_from_configuration(cfg)
        left = self.kin.site_transform(q0, ROBOT_INFO.sole_frame('left'))
        right = self.kin.site_transform(q0, ROBOT_INFO.sole_frame('right'))
        centre = 0.5 * (left[:3, 3] + right[:3, 3])
        self.com_task.set_target(np.array([centre[0], centre[1], 0.0]))
        pelvis_z = float(q0[self.kin.base_qpos + 2])
        self.pelvis_task.set_target(self._pelvis_target(left, right, pelvis_z))
        posture = q0.copy()
        for name, idx in self.kin.qpos_index.items():
            if name in ROBOT_INFO.body_joints:
                posture[idx] = self.posture_q[idx]
        self.posture_task.set_target(posture)
        task = self.hands[hand]
        task.set_target(mink.SE3.from_matrix(T_target))
        tasks = [task, self.pelvis_task, self.posture_task]
        other = None
        if other_hand_cost > 0.0:
            other = self.hands['right' if hand == 'left' else 'left']
            other.set_target_from_configuration(cfg)
            other.set_position_cost(other_hand_cost)
            other.set_orientation_cost(0.0)
            tasks.append(other)
        # Feet and the horizontal CoM are hard (equality) constraints: an unreachable target
        # never lifts a foot or leans the robot out of balance.
        constraints = [self.feet['left'], self.feet['right']]
        tasks.append(self.com_task)
        n_max = max_iterations or s.max_iterations
        pos_err = rot_err = math.inf
        best = (math.inf, cfg.q.copy(), math.inf, math.inf)
        stall = 0
        it = 0
        for it in range(1, n_max + 1):  # noqa: B007 - reported
            try:
                vel = mink.solve_ik(
                    cfg, tasks, 1.0, s.solver, damping=s.damping, limits=self.hand_limits,
                    constraints=constraints,
                )  # fmt: skip
            except mink.NoSolutionFound:
                break
            cfg.integrate_inplace(vel, 1.0)
            T = self.kin.site_transform(cfg.q, ROBOT_INFO.grasp_frame(hand))
            pos_err = float(np.linalg.norm(T[:3, 3] - T_target[:3, 3]))
            rot_err = rotation_error(T[:3, :3], T_target[:3, :3])
            feet_err = max(
                float(np.linalg.norm(self.feet[sd].compute_error(cfg))) for sd in HAND_SIDES
            )
            score = pos_err + 0.1 * rot_err + 10.0 * feet_err
            if (
                pos_err < s.position_tolerance
                and rot_err < s.rotation_tolerance
                and (feet_err < 1e-3)
            ):
                best = (score, cfg.q.copy(), pos_err, rot_err)
                break
            if score < best[0] - 1e-6:
                best = (score, cfg.q.copy(), pos_err, rot_err)
                stall = 0
            else:
                stall += 1
            if stall >= 20:
                break
        if other is not None:
            other.set_position_cost(s.hand_position_cost)
            other.set_orientation_cost(s.hand_orientation_cost)
        _, q_best, pos_err, rot_err = best
        q_best = self._restore_feet(q_best, hand, T_target)
        T = self.kin.site_transform(q_best, ROBOT_INFO.grasp_frame(hand))
        pos_err = float(np.linalg.norm(T[:3, 3] - T_target[:3, 3]))
        rot_err = rotation_error(T[:3, :3], T_target[:3, :3])
        margin = self.com_margin(q_best)
        converged = (
            pos_err < s.position_tolerance
            and rot_err < s.rotation_tolerance
            and margin >= s.com_margin
        )
        return HandIKResult(
            q=q_best, position_error=pos_err, rotation_error=rot_err, converged=converged,
            iterations=it, com_margin=margin, solve_time=time.perf_counter() - t0,
        )  # fmt: skip

    def _restore_feet(self, q: FloatArray, hand: str, T_target: FloatArray) -> FloatArray:
        """Pull the feet (and CoM) back onto their targets with the arm held, so a returned
        configuration never moves a foot even when the hand target was out of reach."""
        cfg = self.configuration
        cfg.update(self.kin.clip_to_limits(q))
        if max(float(np.linalg.norm(self.feet[sd].compute_error(cfg))) for sd in HAND_SIDES) < (
            2e-4
        ):
            return cfg.q.copy()
        tasks = [self.feet['left'], self.feet['right'], self.com_task, self.pelvis_task]
        hold = self._hold_task
        hold.set_target(cfg.q.copy())
        tasks.append(hold)
        for _ in range(20):
            err = max(float(np.linalg.norm(self.feet[sd].compute_error(cfg))) for sd in HAND_SIDES)
            if err < 1e-4:
                break
            vel = mink.solve_ik(cfg, tasks, 1.0, self.settings.solver, damping=1e-3,
                                limits=self.limits)  # fmt: skip
            cfg.integrate_inplace(vel, 1.0)
        return self.kin.clip_to_limits(cfg.q.copy())

    # --- walking --------------------------------------------------------------------------
    def solve_walk_frame(
        self,
        com_xy: FloatArray,
        left_foot_pose: object,
        right_foot_pose: object,
        q_init: FloatArray,
        *,
        com_height: float | None = None,
        iterations: int | None = None,
        dt: float | None = None,
    ) -> FloatArray:
        """Joint configuration with the CoM over `com_xy` (and at `com_height` if given),
        the soles at the given world poses, the pelvis upright facing between the feet.

        Warm-starts from `q_init` (the previous tick's solution); a few QP iterations per
        call. `dt` (s) enables the velocity limits given at construction.
        """
        s = self.settings
        q0 = self._check_q(q_init)
        cfg = self.configuration
        cfg.update(q0)
        T_left = as_transform(left_foot_pose)
        T_right = as_transform(right_foot_pose)
        self.feet['left'].set_target(mink.SE3.from_matrix(T_left))
        self.feet['right'].set_target(mink.SE3.from_matrix(T_right))
        com = np.asarray(com_xy, dtype=float).reshape(-1)
        if com.size != 2 or not np.all(np.isfinite(com)):
            raise ValueError(f'com_xy must be 2 finite numbers, got {com_xy!r}')
        z_cost = 0.0 if com_height is None else s.com_cost
        self.com_task.set_cost(np.array([s.com_cost, s.com_cost, z_cost]))
        z = 0.0 if com_height is None else float(com_height)
        self.com_task.set_target(np.array([com[0], com[1], z]))
        self.pelvis_task.set_target(self._pelvis_target(T_left, T_right, 0.0))
        self.posture_task.set_target(self.posture_q)
        tasks = [self.feet['left'], self.feet['right'], self.com_task, self.pelvis_task,
                 self.posture_task]  # fmt: skip
        limits = self.limits if dt is None else self.walk_limits
        step = 1.0 if dt is None else dt
        for _ in range(iterations or s.walk_iterations):
            vel = mink.solve_ik(cfg, tasks, step, s.solver, damping=s.damping, limits=limits)
            cfg.integrate_inplace(vel, step)
        self.com_task.set_cost(np.array([s.com_cost, s.com_cost, 0.0]))
        return self.kin.clip_to_limits(cfg.q.copy())


def _sole_box(model) -> tuple[float, float, float]:
    """(length, width, forward offset from the sole frame) of the left sole collision box;
    (0.22, 0.11, 0.0) if the model has none."""
    try:
        geom = model.geom(ROBOT_INFO.foot_link('left').replace('_foot', '_sole_geom'))
        site = model.site(ROBOT_INFO.sole_frame('left'))
    except KeyError:
        return 0.22, 0.11, 0.0
    return 2.0 * float(geom.size[0]), 2.0 * float(geom.size[1]), float(geom.pos[0] - site.pos[0])


_ARM_PARTS = ('forearm', 'hand', 'gripper_finger_left', 'gripper_finger_right')
_BODY_PARTS = ('torso', 'pelvis', 'head', 'left_thigh', 'right_thigh')


def _collision_geoms(model, bodies: tuple[str, ...]) -> list[str]:
    names = []
    for g in range(model.ngeom):
        if not (model.geom_contype[g] or model.geom_conaffinity[g]):
            continue
        body = model.body(model.geom_bodyid[g]).name
        if body in bodies and model.geom(g).name:
            names.append(model.geom(g).name)
    return names


def self_collision_pairs(model) -> list[tuple[list[str], list[str]]]:
    """Geom groups the hand IK keeps apart: each arm's forearm/hand/fingers vs the torso,
    pelvis, head and thighs, and vs the other arm's forearm/hand/fingers."""
    arms = {
        side: _collision_geoms(model, tuple(f'{side}_{p}' for p in _ARM_PARTS))
        for side in HAND_SIDES
    }
    body = _collision_geoms(model, _BODY_PARTS)
    pairs: list[tuple[list[str], list[str]]] = []
    for side in HAND_SIDES:
        if arms[side] and body:
            pairs.append((arms[side], body))
    if arms['left'] and arms['right']:
        pairs.append((arms['left'], arms['right']))
    return pairs


def self_collision_distance(kin: RobotKinematics, q: FloatArray) -> float:
    """Smallest distance (m, < 0: penetration) between the `self_collision_pairs` at q."""
    kin.forward(q)
    m, d = kin.model, kin.data
    best = math.inf
    fromto = np.zeros(6)
    for group_a, group_b in self_collision_pairs(m):
        for a in group_a:
            for b in group_b:
                ga, gb = m.geom(a).id, m.geom(b).id
                dist = mujoco.mj_geomDistance(m, d, ga, gb, 0.1, fromto)
                best = min(best, float(dist))
    return best


def sample_reachable_hand_targets(
    kin: RobotKinematics,
    hand: str,
    n: int,
    rng: np.random.Generator,
    q_stand: FloatArray | None = None,
    *,
    min_forward: float = 0.25,
    height_range: tuple[float, float] = (0.75, 1.15),
    max_lateral: float = 0.45,
    min_clearance: float = 0.04,
    max_tries: int = 100000,
) -> list[FloatArray]:
    """`n` grasp-frame poses (4x4, world) that the arm reaches from the standing posture:
    random arm/waist joints within the inner 80 % of their limits, kept when the grasp frame
    lands in front of the robot (x >= min_forward, z in height_range, |y| <= max_lateral,
    approach axis pointing forward-ish, arm at least `min_clearance` m from the body)."""
    if hand not in HAND_SIDES:
        raise ValueError(f'hand must be one of {HAND_SIDES}, got {hand!r}')
    q_base = kin.standing_q() if q_stand is None else np.asarray(q_stand, float)
    names = (*ROBOT_INFO.arm_joints(hand), *ROBOT_INFO.waist)
    idx = np.array([kin.qpos_index[nm] for nm in names])
    lo, hi = kin.lower[idx], kin.upper[idx]
    mid, half = 0.5 * (lo + hi), 0.4 * (hi - lo)
    out: list[FloatArray] = []
    frame = ROBOT_INFO.grasp_frame(hand)
    for _ in range(max_tries):
        q = q_base.copy()
        q[idx] = rng.uniform(mid - half, mid + half)
        q[kin.qpos_index['waist_yaw_joint']] *= 0.3
        T = kin.site_transform(q, frame)
        x, y, z = T[:3, 3]
        if (
            x >= min_forward
            and height_range[0] <= z <= height_range[1]
            and abs(y) <= max_lateral
            and T[0, 0] > 0.3
            and self_collision_distance(kin, q) > min_clearance
        ):
            out.append(T)
            if len(out) == n:
                return out
    raise RuntimeError(f'found only {len(out)} of {n} reachable targets in {max_tries} tries')


def corrected_target(
    target: FloatArray, commanded: FloatArray, measured: FloatArray
) -> FloatArray:
    """Closed-loop reach: the target to command next so that the measured pose lands on
    `target`, given that commanding `commanded` gave `measured` (all 4x4, world). Removes
    repeatable tracking errors (servo sag under gravity, compliance of the stance)."""
    T = np.eye(4)
    T[:3, 3] = commanded[:3, 3] + (target[:3, 3] - measured[:3, 3])
    R_err = target[:3, :3] @ measured[:3, :3].T
    T[:3, :3] = R_err @ commanded[:3, :3]
    return T
