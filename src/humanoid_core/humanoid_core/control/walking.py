"""Walking controller: footsteps + LIPM/ZMP preview control + swing feet + whole-body IK.

Every control tick (`update`), the controller

1. advances the gait timeline (which foot supports, where the swing foot is),
2. advances the ZMP preview controller one period with the reference ZMP of the next
   `preview_time` seconds, which gives the planned CoM,
3. solves whole-body IK for that CoM and both sole poses (warm-started from the last tick),
4. adds balance feedback (ankle/hip strategy from the measured pelvis tilt and rates),

and returns joint position targets for the legs (arms, waist and neck hold the standing
posture). Goals are a floor pose (`walk_to`) or a body-frame velocity command
(`set_velocity`, rolling footstep plan re-planned each step; zero stops after a closing
step). Planning happens in the controller's own frame (the world at `reset`). The measured
state (`MeasuredState`: joints, pelvis pose, gyro) closes three loops: balance feedback every
tick; landing adaptation (a foot that landed off its planned pose relative to the support
foot is re-planned where it is, so the legs do not twist against the floor); and, in goal
mode, drift correction (the plan-to-world offset is re-estimated at each touch-down and the
remaining steps are re-planned to reach the goal in the world).

Simulation mode: this is dynamic walking of the floating-base robot; the named fallback
`kinematic_base` lives in `testbed.FloorSim` and is off by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
import math

import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.balance import AnkleBalance, BalanceGains, MeasuredState
from humanoid_core.control.footsteps import (
    Footstep,
    FootstepLimits,
    FootstepPlan,
    FootstepPlanner,
    GaitTimeline,
    GaitTiming,
    Pose2D,
    other_side,
    wrap_angle,
)
from humanoid_core.control.ik import WholeBodyIK
from humanoid_core.control.kinematics import RobotKinematics, yaw_of
from humanoid_core.control.lipm import LIPMParams, PreviewController
from humanoid_core.control.swing import SwingTrajectory
from humanoid_core.robot.description import ROBOT_INFO

__all__ = ['WalkingController', 'WalkingParams']

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class WalkingParams:
    """Gait and controller parameters.

    `com_drop`: how much lower than in the standing posture the CoM walks (m, bent knees give
    the legs room); `lookahead_steps`: footsteps planned ahead in velocity mode.
    """

    timing: GaitTiming = field(
        default_factory=lambda: GaitTiming(
            single_support=0.5, double_support=0.15, initial_double_support=0.6,
            final_double_support=0.6, foot_lift=0.06, zmp_inset=0.03,
        )
    )  # fmt: skip
    limits: FootstepLimits = field(
        default_factory=lambda: FootstepLimits(
            # max_turn 0.1 rad per step: with command latency (8-16 ms) and 60 ms gaps the
            # robot fell while turning on the spot with 0.3 / 0.2 / 0.15 rad (closed loop
            # in-process, station walks: 0.3 0/2, 0.2 1/3, 0.15 4/6, 0.1 6/7 arrived)
            max_step_length=0.2,
            max_backward_step=0.1,
            max_lateral_step=0.08,
            max_turn=0.1,
            stance_width=0.19,
        )
    )
    control_dt: float = 0.01
    preview_time: float = 1.6
    com_drop: float = 0.04
    com_offset_x: float = 0.0
    lookahead_steps: int = 4
    # Ankle feedback on the pelvis tilt. Pitch: kp 2.0 / kd 0.1 walked well with prompt
    # commands but fell backwards in 6 of 12 walks with commands 0-30 ms late and 20 % of the
    # control periods stretched to 20-60 ms (as over ROS on a loaded 2-core machine), kp 1.3 in
    # none (src/humanoid_core/test/test_walking_latency.py has the harness). Lower (0.7) was as
    # good there but every side-stepping walk fell, even with prompt commands. Roll keeps 2.0.
    balance: BalanceGains = field(
        default_factory=lambda: BalanceGains(
            tilt_kp=1.3, tilt_kd=0.1, roll_kp=2.0, roll_kd=0.1, hip_ratio=0.0
        )
    )
    replan_from_measured: bool = True
    adapt_landing: bool = True
    replan_tolerance: tuple[float, float] = (0.03, 0.05)  # m, rad
    balance_enabled: bool = True
    ik_iterations: int = 2
    transition_time: float = 1.0

    def __post_init__(self) -> None:
        if not self.control_dt > 0.0:
            raise ValueError(f'WalkingParams.control_dt must be positive, got {self.control_dt}')
        if not 0.0 <= self.com_drop < 0.3:
            raise ValueError(f'WalkingParams.com_drop must be in [0, 0.3) m, got {self.com_drop}')
        if self.lookahead_steps < 2:
            raise ValueError('WalkingParams.lookahead_steps must be >= 2')


def _foot_matrix(position: FloatArray, yaw: float) -> FloatArray:
    c, s = math.cos(yaw), math.sin(yaw)
    T = np.eye(4)
    T[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    T[:3, 3] = position
    return T


class WalkingController:
    """Joint targets at the control rate that make the robot walk (see module doc)."""

    def __init__(
        self,
        params: WalkingParams | None = None,
        ik: WholeBodyIK | None = None,
    ) -> None:
        self.params = params or WalkingParams()
        p = self.params
        self.ik = ik or WholeBodyIK()
        self.kin: RobotKinematics = self.ik.kin
        self.planner = FootstepPlanner(p.limits)
        self.balance = AnkleBalance(p.balance)
        q_stand = self.kin.standing_q()
        self.com_height = float(self.kin.com(q_stand)[2]) - p.com_drop
        self.lipm = LIPMParams(com_height=self.com_height, dt=p.control_dt,
                               preview_time=p.preview_time)  # fmt: skip
        self.preview = PreviewController(self.lipm)
        self.time = 0.0
        self.q = q_stand
        self.feet: dict[str, Pose2D] = {}
        self.timeline: GaitTimeline | None = None
        self._initial_feet: tuple[Pose2D, Pose2D] | None = None
        self._steps: list[Footstep] = []
        self._t_walk = 0.0
        self._velocity: tuple[float, float, float] | None = None
        self._goal: Pose2D | None = None
        self._goal_world: Pose2D | None = None
        # Maps world poses into the plan's frame (odometry drift estimate, from touch-downs).
        self._plan_from_world = Pose2D()
        self._last_corrected_step = -1
        self._last_adapted_step = -1
        self.reset(q_stand)

    # --- state ----------------------------------------------------------------------------
    def reset(self, q: FloatArray, time: float = 0.0) -> None:
        """Start standing at robot configuration q (feet on the floor) at `time`."""
        self.time = float(time)
        self.feet = {}
        for side in ('left', 'right'):
            T = self.kin.site_transform(q, ROBOT_INFO.sole_frame(side))
            self.feet[side] = Pose2D(float(T[0, 3]), float(T[1, 3]), yaw_of(T[:3, :3]))
        com = self.kin.com(q)
        self.preview.reset(com[:2])
        self._stand_zmp = com[:2].copy()
        self.timeline = None
        self._steps = []
        self._velocity = None
        self._goal = None
        self._goal_world = None
        # the feet were just taken from the measured pose: the plan frame is the world again
        # (an offset kept from an earlier walk turned every later goal by the old drift)
        self._plan_from_world = Pose2D()
        self._last_corrected_step = -1
        self._last_adapted_step = -1
        # Lower the CoM to the walking height smoothly over `transition_time`.
        self._last_err: FloatArray | None = None
        self._err_rate = np.zeros(2)
        self._z_from = float(com[2])
        self._z_t0 = self.time
        self.q = np.asarray(q, dtype=float).copy()

    def _com_height_now(self) -> float:
        T = self.params.transition_time
        s = min(1.0, max(0.0, (self.time - self._z_t0) / T)) if T > 0 else 1.0
        s = s * s * (3.0 - 2.0 * s)
        return self._z_from + s * (self.com_height - self._z_from)

    @property
    def walking(self) -> bool:
        """True while a footstep plan is being executed."""
        return self.timeline is not None

    @property
    def planned_base(self) -> Pose2D:
        """Midpoint of the current (planned) feet with their mean heading."""
        left, right = self.feet['left'], self.feet['right']
        yaw = wrap_angle(right.yaw + 0.5 * wrap_angle(left.yaw - right.yaw))
        return Pose2D(0.5 * (left.x + right.x), 0.5 * (left.y + right.y), yaw)

    def _com_offset(self) -> FloatArray:
        yaw = self.planned_base.yaw if self.feet else 0.0
        return self.params.com_offset_x * np.array([math.cos(yaw), math.sin(yaw)])

    # --- goals ----------------------------------------------------------------------------
    def set_max_step_length(self, length: float | None) -> None:
        """Plan later steps with at most `length` m forward per step (None: the configured
        `params.limits`); e.g. shorter steps while carrying an object."""
        limits = self.params.limits
        if length is not None:
            if not (math.isfinite(length) and length > 0.0):
                raise ValueError(f'max step length must be positive, got {length!r}')
            limits = replace(limits, max_step_length=min(limits.max_step_length, length))
        self.planner = FootstepPlanner(limits)

    def walk_to(self, goal: Pose2D) -> int:
        """Walk to floor pose `goal` (world); returns the number of planned steps.

        With `replan_from_measured`, every touch-down compares the measured pose of the foot
        that landed with its planned pose and re-plans the remaining steps so that the robot,
        not the plan, ends at `goal` (slip and drift are corrected step by step).
        """
        self._velocity = None
        self._goal_world = goal
        self._goal = self._plan_from_world.compose(goal)
        self._replan()
        return len(self._steps)

    def set_velocity(self, vx: float, vy: float, wz: float) -> None:
        """Follow a body-frame velocity command (m/s, m/s, rad/s); all zero stops walking."""
        cmd = (float(vx), float(vy), float(wz))
        if not all(math.isfinite(v) for v in cmd):
            raise ValueError(f'velocity command must be finite, got {cmd}')
        self._goal = None
        if all(abs(v) < 1e-6 for v in cmd):
            if self._velocity is not None:
                self._velocity = (0.0, 0.0, 0.0)
                self._replan()
            return
        self._velocity = cmd
        self._replan()

    def stop(self) -> None:
        """Stop as soon as possible: finish the committed step, then close the feet."""
        self.set_velocity(0.0, 0.0, 0.0)

    def _committed(self) -> int:
        """Steps that cannot change any more: started ones plus the next one."""
        if self.timeline is None:
            return 0
        started = 0
        for ph in self.timeline.phases:
            if ph.kind == 'single' and ph.t0 <= self.time + 1e-9:
                started = ph.step_index + 1
        return min(len(self._steps), started + 1)

    def _replan(self) -> None:
        p = self.params
        if self.timeline is None:
            self._initial_feet = (self.feet['left'], self.feet['right'])
            self._steps = []
            self._t_walk = self.time
            keep: list[Footstep] = []
        else:
            keep = self._steps[: self._committed()]
        # Base pose after the kept steps.
        left, right = self._initial_feet or (self.feet['left'], self.feet['right'])
        for st in keep:
            if st.side == 'left':
                left = st.pose
            else:
                right = st.pose
        half = 0.5 * p.limits.stance_width
        if keep:
            last = keep[-1]
            sgn = -1.0 if last.side == 'left' else 1.0
            base = last.pose.compose(Pose2D(0.0, sgn * half, 0.0))
            next_side: str | None = other_side(last.side)
        else:
            yaw = wrap_angle(right.yaw + 0.5 * wrap_angle(left.yaw - right.yaw))
            base = Pose2D(0.5 * (left.x + right.x), 0.5 * (left.y + right.y), yaw)
            next_side = None
        tail: list[Footstep] = []
        if self._goal is not None:
            # After committed steps the sides go on alternating (the leading foot may have
            # moved already); a foot that landed short catches up within the stride limit.
            plan = self.planner.plan_to_pose(
                base, self._goal, initial_feet=(left, right), first_side=next_side
            )
            tail = list(plan.steps)
            if keep and not tail:
                side = other_side(keep[-1].side)
                target = base.compose(Pose2D(0.0, half if side == 'left' else -half, 0.0))
                tail = [Footstep(side, target)]
        elif self._velocity is not None:
            if any(abs(v) > 1e-6 for v in self._velocity):
                plan = self.planner.plan_velocity(
                    base, self._velocity, p.timing.step_period, p.lookahead_steps,
                    initial_feet=(left, right), first_side=next_side, close=False,
                )  # fmt: skip
                tail = list(plan.steps)
            elif keep:
                # Closing step: the other foot next to the last one.
                side = other_side(keep[-1].side)
                target = base.compose(Pose2D(0.0, half if side == 'left' else -half, 0.0))
                tail = [Footstep(side, target)]
        steps = keep + tail
        if not steps and self.timeline is None:
            return
        self._steps = steps
        assert self._initial_feet is not None
        plan_all = FootstepPlan(self._initial_feet[0], self._initial_feet[1], tuple(steps))
        self.timeline = GaitTimeline(plan_all, p.timing, t_start=self._t_walk)

    # --- control tick ---------------------------------------------------------------------
    def update(self, measured: MeasuredState | None = None) -> dict[str, float]:
        """Advance one control period; joint targets (rad) for every body joint.

        `measured` (joint positions, pelvis pose and rates) feeds the balance feedback; None
        runs open loop.
        """
        p = self.params
        dt = p.control_dt
        self.time += dt
        t = self.time
        if measured is not None and p.adapt_landing:
            self._adapt_landing(measured)
        tl = self.timeline
        n_prev = self.lipm.preview_steps + 1
        foot_pos: dict[str, FloatArray] = {}
        foot_yaw: dict[str, float] = {}
        support: str | None = None
        if tl is None:
            self.preview.step(np.repeat(self._stand_zmp[None, :], n_prev, axis=0))
            for side in ('left', 'right'):
                f = self.feet[side]
                foot_pos[side] = np.array([f.x, f.y, 0.0])
                foot_yaw[side] = f.yaw
        else:
            # Velocity mode: keep enough steps ahead for the preview horizon.
            if self._velocity is not None and any(abs(v) > 1e-6 for v in self._velocity):
                remaining = len(self._steps) - self._committed()
                if remaining < p.lookahead_steps - 1:
                    self._replan()
                    tl = self.timeline
                    assert tl is not None
            ref = tl.zmp_samples(t - dt, n_prev, dt) + self._com_offset()
            self.preview.step(ref)
            ph = tl.phase_at(t)
            self.feet = {'left': ph.left, 'right': ph.right}
            for side in ('left', 'right'):
                f = self.feet[side]
                foot_pos[side] = np.array([f.x, f.y, 0.0])
                foot_yaw[side] = f.yaw
            if ph.kind == 'single' and ph.swing is not None and t < ph.t1:
                support = ph.support
                assert ph.swing_from is not None and ph.swing_to is not None
                sw = SwingTrajectory(ph.swing_from, ph.swing_to, ph.t1 - ph.t0,
                                     height=p.timing.foot_lift)  # fmt: skip
                fp = sw.at(t - ph.t0)
                foot_pos[ph.swing] = fp.position
                foot_yaw[ph.swing] = fp.yaw
            if t >= tl.t_end:
                last = tl.phases[-1]
                self.feet = {'left': last.left, 'right': last.right}
                if self._velocity is None or all(abs(v) < 1e-6 for v in self._velocity):
                    self._stand_zmp = tl.zmp_at(tl.t_end) + self._com_offset()
                    self.timeline = None
                    self._steps = []
                    self._goal = None
                    self._goal_world = None
                    self._velocity = None
                    self._last_corrected_step = -1
                    self._last_adapted_step = -1
        self.q = self.ik.solve_walk_frame(
            self.preview.com,
            _foot_matrix(foot_pos['left'], foot_yaw['left']),
            _foot_matrix(foot_pos['right'], foot_yaw['right']),
            self.q,
            com_height=self._com_height_now(),
            iterations=p.ik_iterations,
        )
        targets = self.kin.joint_positions(self.q)
        if measured is not None and tl is not None and p.replan_from_measured:
            self._correct_drift(measured)
        if p.balance_enabled and measured is not None:
            for name, delta in self._balance(measured, support).items():
                targets[name] += delta
        return targets

    def _adapt_landing(self, measured: MeasuredState) -> None:
        """Just after a touch-down, take where the foot really landed relative to the support
        foot as its planned pose, so the legs do not twist against the floor in double support
        trying to restore the planned relative pose."""
        tl = self.timeline
        if tl is None:
            return
        ph = tl.phase_at(self.time)
        i = ph.step_index
        if ph.kind != 'double' or i < 0 or i <= self._last_adapted_step:
            return
        if self.time - ph.t0 < 0.02:
            return
        self._last_adapted_step = i
        side = self._steps[i].side
        support = other_side(side)
        qm = self.kin.q_from(
            measured.joint_positions, measured.pelvis_position, measured.pelvis_quaternion,
            default=self.q,
        )  # fmt: skip

        def pose(q: FloatArray, sd: str) -> Pose2D:
            T = self.kin.site_transform(q, ROBOT_INFO.sole_frame(sd))
            return Pose2D(float(T[0, 3]), float(T[1, 3]), yaw_of(T[:3, :3]))

        rel = pose(qm, support).relative(pose(qm, side))
        planned_support = ph.left if support == 'left' else ph.right
        landed = planned_support.compose(rel)
        planned = self._steps[i].pose
        d = planned.relative(landed)
        if math.hypot(d.x, d.y) < 0.003 and abs(d.yaw) < 0.005:
            return
        self._steps[i] = Footstep(side, landed)
        nxt = self._steps[i + 2] if i + 2 < len(self._steps) else None
        if nxt is not None and self._committed() <= i + 2 and self._too_long(landed, nxt.pose):
            # This foot's next step, planned from where it should have landed, would now be
            # an over-long stride (a foot that landed 4 cm short made the next stride 0.43 m,
            # which landed 11 cm short again): re-plan from here on, with a catch-up step.
            self._replan()
            return
        assert self._initial_feet is not None
        plan = FootstepPlan(self._initial_feet[0], self._initial_feet[1], tuple(self._steps))
        self.timeline = GaitTimeline(plan, self.params.timing, t_start=self._t_walk)

    def _too_long(self, start: Pose2D, end: Pose2D) -> bool:
        """Whether one foot's forward travel start -> end exceeds the planner's stride limit
        (backward strides are left alone: see `FootstepPlanner._catch_up_start`)."""
        return start.relative(end).x > self.planner.max_stride() + 0.01

    def _correct_drift(self, measured: MeasuredState) -> None:
        """At the first tick of a double support after a step, re-plan from the measured
        pose of the foot that just landed (goal mode only)."""
        tl = self.timeline
        if tl is None or self._goal_world is None:
            return
        ph = tl.phase_at(self.time)
        i = ph.step_index
        if ph.kind != 'double' or i < 0 or i <= self._last_corrected_step:
            return
        if self.time - ph.t0 < 0.5 * (ph.t1 - ph.t0):
            return  # let the foot settle first
        self._last_corrected_step = i
        if len(self._steps) - (i + 1) <= 2:
            return  # the last steps: finish the plan (guarantees termination)
        side = self._steps[i].side
        qm = self.kin.q_from(
            measured.joint_positions, measured.pelvis_position, measured.pelvis_quaternion,
            default=self.q,
        )  # fmt: skip
        T = self.kin.site_transform(qm, ROBOT_INFO.sole_frame(side))
        measured_foot = Pose2D(float(T[0, 3]), float(T[1, 3]), yaw_of(T[:3, :3]))
        planned_foot = ph.left if side == 'left' else ph.right
        # plan_from_world maps the measured foot onto its planned pose.
        self._plan_from_world = planned_foot.compose(measured_foot.relative(Pose2D()))
        goal = self._plan_from_world.compose(self._goal_world)
        if self._goal is not None:
            d = self._goal.relative(goal)
            if (
                math.hypot(d.x, d.y) < self.params.replan_tolerance[0]
                and abs(d.yaw) < (self.params.replan_tolerance[1])
            ):
                return
        self._goal = goal
        self._replan()

    def _balance(self, measured: MeasuredState, support: str | None) -> dict[str, float]:
        """Ankle/hip corrections from tilt and from the CoM error relative to the support."""
        kin = self.kin
        qm = kin.q_from(
            measured.joint_positions, measured.pelvis_position, measured.pelvis_quaternion,
            default=self.q,
        )  # fmt: skip

        def anchor(q: FloatArray) -> FloatArray:
            sides = ('left', 'right') if support is None else (support,)
            pts = [kin.site_transform(q, ROBOT_INFO.sole_frame(sd))[:2, 3] for sd in sides]
            return np.mean(pts, axis=0)

        com_m = kin.com(qm)[:2] - anchor(qm)
        com_p = kin.com(self.q)[:2] - anchor(self.q)
        err = com_m - com_p
        dt = self.params.control_dt
        derr = np.zeros(2) if self._last_err is None else (err - self._last_err) / dt
        self._err_rate = 0.7 * self._err_rate + 0.3 * derr
        self._last_err = err
        b = self.kin.base_qpos
        heading = 2.0 * math.atan2(self.q[b + 6], self.q[b + 3])
        return self.balance.corrections(
            measured.pelvis_quaternion, measured.angular_velocity, com_error=err,
            com_vel_error=self._err_rate, heading=heading,
        )  # fmt: skip

    def planned_pelvis(self) -> tuple[FloatArray, FloatArray]:
        """Planned pelvis (position, quaternion) of the current IK solution."""
        b = self.kin.base_qpos
        return self.q[b : b + 3].copy(), self.q[b + 3 : b + 7].copy()

    def joint_targets(self, q: FloatArray | None = None) -> Mapping[str, float]:
        return self.kin.joint_positions(self.q if q is None else q)
