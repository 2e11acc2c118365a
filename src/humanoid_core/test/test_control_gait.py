"""LIPM preview control, footstep planning, gait timeline and swing trajectories."""

from __future__ import annotations

import itertools
import math

from humanoid_core.control.footsteps import (
    FootstepLimits,
    FootstepPlanner,
    GaitTimeline,
    GaitTiming,
    Pose2D,
    point_in_polygon_margin,
    wrap_angle,
)
from humanoid_core.control.lipm import (
    LIPMParams,
    PreviewController,
    com_from_zmp,
    compute_preview_gains,
    zmp_of,
)
from humanoid_core.control.swing import SwingTrajectory, min_jerk
import numpy as np
import pytest

FOOT_LENGTH = 0.16
FOOT_WIDTH = 0.08
PARAMS = LIPMParams(com_height=0.55, dt=0.01)


def _lipm_zmp_reference(tl: GaitTimeline, dt: float) -> np.ndarray:
    n = round((tl.duration + 1.0) / dt) + 1  # plus 1 s standing at the end
    return tl.zmp_samples(tl.t_start, n, dt)


def test_preview_gains_are_stable():
    g = compute_preview_gains(PARAMS)
    n = PARAMS.preview_steps
    # Closed loop of the augmented system must be stable (spectral radius < 1).
    At = np.zeros((4, 4))
    At[0, 0] = 1.0
    At[0, 1:] = g.C @ g.A
    At[1:, 1:] = g.A
    Bt = np.concatenate(([g.C @ g.B], g.B)).reshape(4, 1)
    K = np.concatenate(([g.Ki], g.Kx)).reshape(1, 4)
    assert max(abs(np.linalg.eigvals(At - Bt @ K))) < 1.0
    # Preview gains decay: the far future matters far less than the near future.
    assert g.Gd.shape == (n,)
    assert abs(g.Gd[-1]) < 0.01 * abs(g.Gd[0])


def test_preview_tracks_a_constant_shift_exactly():
    ref = np.zeros((300, 2))
    ref[50:] = [0.05, -0.08]
    traj = com_from_zmp(ref, PARAMS)
    np.testing.assert_allclose(traj.com[-1], [0.05, -0.08], atol=1e-3)
    np.testing.assert_allclose(traj.com_vel[-1], [0.0, 0.0], atol=1e-3)
    # The ZMP of the CoM trajectory is the LIPM's ZMP.
    np.testing.assert_allclose(
        traj.zmp, zmp_of(traj.com, traj.com_acc, PARAMS.com_height), atol=1e-12
    )


@pytest.mark.parametrize(
    'goal',
    [
        Pose2D(1.0, 0.0, 0.0),
        Pose2D(0.0, 0.5, 0.0),
        Pose2D(0.0, 0.0, math.pi / 2),
        Pose2D(0.6, -0.3, -0.8),
    ],
)
def test_walk_zmp_stays_inside_support_polygon(goal):
    planner = FootstepPlanner(FootstepLimits(stance_width=0.18))
    plan = planner.plan_to_pose(Pose2D(), goal)
    tl = GaitTimeline(plan, GaitTiming(single_support=0.6, double_support=0.2))
    ref = _lipm_zmp_reference(tl, PARAMS.dt)
    traj = com_from_zmp(ref, PARAMS)
    # Tracking: the realised ZMP follows the reference closely.
    err = np.linalg.norm(traj.zmp - ref, axis=1)
    assert err.max() < 0.02, f'max ZMP tracking error {err.max():.4f} m'
    # Invariant: the realised ZMP is inside the support polygon at every sample
    # (with a 5 mm tolerance at the edges of a 16 x 8 cm sole).
    worst = math.inf
    for k, z in enumerate(traj.zmp):
        hull = tl.support_polygon(tl.t_start + k * PARAMS.dt, FOOT_LENGTH, FOOT_WIDTH)
        worst = min(worst, point_in_polygon_margin(z, hull))
    assert worst > -0.005, f'ZMP leaves the support polygon by {-worst:.4f} m'
    # The CoM ends between the final feet, at rest.
    final = plan.final_base()
    np.testing.assert_allclose(traj.com[-1], final.xy, atol=0.01)


def test_online_controller_matches_offline():
    plan = FootstepPlanner().plan_to_pose(Pose2D(), Pose2D(0.4, 0.0, 0.0))
    tl = GaitTimeline(plan)
    ref = _lipm_zmp_reference(tl, PARAMS.dt)
    offline = com_from_zmp(ref, PARAMS)
    ctrl = PreviewController(PARAMS, ref[0])
    for k in range(len(ref) - 1):
        ctrl.step(tl.zmp_samples(k * PARAMS.dt, PARAMS.preview_steps + 1, PARAMS.dt))
        np.testing.assert_allclose(ctrl.com, offline.com[k + 1], atol=1e-9)


def test_lipm_params_reject_bad_values():
    with pytest.raises(ValueError, match='com_height'):
        LIPMParams(com_height=-0.1)
    with pytest.raises(ValueError, match='preview_time'):
        LIPMParams(dt=0.01, preview_time=0.001)
    with pytest.raises(ValueError, match='shape'):
        com_from_zmp(np.zeros(10), PARAMS)


@pytest.mark.parametrize(
    'goal',
    [
        Pose2D(2.0, 0.0, 0.0),
        Pose2D(0.0, 1.0, 0.0),
        Pose2D(0.0, -1.0, 0.0),
        Pose2D(0.0, 0.0, math.pi / 2),
        Pose2D(0.0, 0.0, -math.pi / 2),
        Pose2D(1.0, 0.5, 0.7),
        Pose2D(-0.3, 0.0, 0.0),
    ],
)
def test_footsteps_reach_goal_within_limits(goal):
    lim = FootstepLimits(
        max_step_length=0.15, max_lateral_step=0.06, max_turn=0.3, stance_width=0.2
    )
    start = Pose2D(0.3, -0.2, 0.4)
    goal_w = start.compose(goal)
    plan = FootstepPlanner(lim).plan_to_pose(start, goal_w)
    # Ends standing at the goal with the requested heading.
    final = plan.final_base()
    assert math.hypot(final.x - goal_w.x, final.y - goal_w.y) < 1e-6
    assert abs(wrap_angle(final.yaw - goal_w.yaw)) < 1e-6
    # Alternating feet, and the first step opens towards the motion (no crossing).
    sides = [s.side for s in plan.steps]
    assert all(a != b for a, b in itertools.pairwise(sides))
    if abs(goal.y) > 0:
        assert sides[0] == ('left' if goal.y > 0 else 'right')
    elif abs(goal.yaw) > 0:
        assert sides[0] == ('left' if goal.yaw > 0 else 'right')
    # Every step: swing foot relative to the support foot stays within the limits.
    feet = {'left': plan.initial_left, 'right': plan.initial_right}
    for step in plan.steps:
        support = feet['right' if step.side == 'left' else 'left']
        rel = support.relative(step.pose)
        lateral = rel.y if step.side == 'left' else -rel.y
        assert abs(rel.x) <= lim.max_step_length + 1e-6
        assert lim.stance_width - lim.max_lateral_step - 1e-6 <= lateral
        assert lateral <= lim.stance_width + lim.max_lateral_step + 1e-6
        assert abs(rel.yaw) <= lim.max_turn + 1e-6
        feet[step.side] = step.pose
    # Number of steps is the minimum the limits allow (plus the closing step).
    expected = max(
        math.ceil(abs(goal.x) / 0.15 - 1e-9),
        math.ceil(abs(goal.y) / 0.06 - 1e-9),
        math.ceil(abs(goal.yaw) / 0.3 - 1e-9),
    )
    assert len(plan.steps) == expected + 1


def test_velocity_plan_turns_and_advances():
    planner = FootstepPlanner()
    plan = planner.plan_velocity(Pose2D(), (0.2, 0.0, 0.3), step_period=0.8, n_steps=8)
    final = plan.final_base()
    assert final.yaw == pytest.approx(8 * 0.24, abs=1e-6)
    assert final.x > 0.5 and final.y > 0.1  # arcs to the left
    # Clipped to the limits: 1 m/s asks 0.8 m a step, the limit is 0.15.
    plan = planner.plan_velocity(Pose2D(), (1.0, 0.0, 0.0), step_period=0.8, n_steps=4)
    assert plan.final_base().x == pytest.approx(0.6, abs=1e-6)
    with pytest.raises(ValueError, match='finite'):
        planner.plan_velocity(Pose2D(), (math.nan, 0.0, 0.0), 0.8, 2)


def test_backward_steps_are_shorter_than_forward_steps():
    lim = FootstepLimits(max_step_length=0.2, max_backward_step=0.1, stance_width=0.2)
    planner = FootstepPlanner(lim)
    start = Pose2D(1.0, 0.5, 0.3)
    # 0.4 m: 2 base increments forward, 4 backward (the closing step comes on top)
    assert planner.steps_needed(start, start.compose(Pose2D(0.4, 0.0, 0.0))) == 2
    assert planner.steps_needed(start, start.compose(Pose2D(-0.4, 0.0, 0.0))) == 4
    back = planner.plan_to_pose(start, start.compose(Pose2D(-0.4, 0.0, 0.0)))
    feet = {'left': back.initial_left, 'right': back.initial_right}
    for step in back.steps:
        rel = feet['right' if step.side == 'left' else 'left'].relative(step.pose)
        assert rel.x >= -0.1 - 1e-6
        feet[step.side] = step.pose
    # velocity mode: -1 m/s clips to the backward limit, +1 m/s to the forward one
    slow = planner.plan_velocity(Pose2D(), (-1.0, 0.0, 0.0), step_period=0.8, n_steps=3)
    assert slow.final_base().x == pytest.approx(-0.3, abs=1e-6)
    fast = planner.plan_velocity(Pose2D(), (1.0, 0.0, 0.0), step_period=0.8, n_steps=3)
    assert fast.final_base().x == pytest.approx(0.6, abs=1e-6)
    with pytest.raises(ValueError, match='max_backward_step'):
        FootstepLimits(max_backward_step=-0.1)


def test_footstep_limits_reject_crossing():
    with pytest.raises(ValueError, match='cross'):
        FootstepLimits(max_lateral_step=0.3, stance_width=0.2)


def test_timeline_phases_are_contiguous():
    plan = FootstepPlanner().plan_to_pose(Pose2D(), Pose2D(0.5, 0.0, 0.0))
    timing = GaitTiming(single_support=0.5, double_support=0.1)
    tl = GaitTimeline(plan, timing, t_start=2.0)
    assert tl.phases[0].t0 == 2.0
    for a, b in zip(tl.phases, tl.phases[1:], strict=False):
        assert b.t0 == pytest.approx(a.t1)
    n = len(plan.steps)
    expected = (
        timing.start_hold
        + timing.initial_double_support
        + n * 0.5
        + (n - 1) * 0.1
        + timing.final_double_support
    )
    assert tl.duration == pytest.approx(expected)
    singles = [p for p in tl.phases if p.kind == 'single']
    assert [p.swing for p in singles] == [s.side for s in plan.steps]


def test_swing_lifts_and_lands_softly():
    sw = SwingTrajectory(Pose2D(0.0, 0.1, 0.0), Pose2D(0.3, 0.12, 0.4), duration=0.6, height=0.05)
    start, end = sw.at(0.0), sw.at(0.6)
    np.testing.assert_allclose(start.position, [0.0, 0.1, 0.0], atol=1e-12)
    np.testing.assert_allclose(end.position, [0.3, 0.12, 0.0], atol=1e-12)
    assert end.yaw == pytest.approx(0.4)
    np.testing.assert_allclose(start.velocity, 0.0, atol=1e-12)
    np.testing.assert_allclose(end.velocity, 0.0, atol=1e-12)
    ts = np.linspace(0.0, 0.6, 601)
    z = np.array([sw.at(t).position[2] for t in ts])
    assert z.max() == pytest.approx(0.05, rel=1e-3)
    assert np.all(z >= -1e-12)
    # Velocity near touch-down is tiny and the analytic velocity matches finite differences.
    assert np.linalg.norm(sw.at(0.595).velocity) < 0.01
    for t in (0.1, 0.3, 0.45):
        fd = (sw.at(t + 1e-6).position - sw.at(t - 1e-6).position) / 2e-6
        np.testing.assert_allclose(sw.at(t).velocity, fd, atol=1e-5)
    # The foot does not move horizontally before it has lifted.
    np.testing.assert_allclose(sw.at(0.05).position[:2], [0.0, 0.1], atol=1e-12)


def test_min_jerk_boundaries():
    assert min_jerk(0.0) == (0.0, 0.0, 0.0)
    assert min_jerk(1.0) == (1.0, 0.0, 0.0)
    assert min_jerk(0.5)[0] == pytest.approx(0.5)


def _strides(plan) -> list[float]:
    """How far each step moves its foot along x (m)."""
    feet = {'left': plan.initial_left, 'right': plan.initial_right}
    out = []
    for step in plan.steps:
        out.append(step.pose.x - feet[step.side].x)
        feet[step.side] = step.pose
    return out


def test_a_foot_that_lags_takes_a_catch_up_step():
    """Re-planning after a step that landed short: the foot to move next is 0.35 m behind the
    other (0.15 m more than in steady walking). The plan's first stride must stay within
    `max_stride` (it was 0.55 m: the base path started at the support foot regardless), and
    the plan still ends at the goal. Backward walks are planned as before."""
    lim = FootstepLimits(max_step_length=0.2, max_backward_step=0.1, stance_width=0.2)
    planner = FootstepPlanner(lim)
    left = Pose2D(0.0, 0.1, 0.0)  # the support foot, last placed
    right = Pose2D(-0.35, -0.1, 0.0)  # lagging behind
    start = Pose2D(0.0, 0.0, 0.0)  # base: beside the last placed foot
    goal = Pose2D(1.0, 0.0, 0.0)
    plan = planner.plan_to_pose(start, goal, initial_feet=(left, right), first_side='right')
    strides = _strides(plan)
    assert plan.steps[0].side == 'right'
    limit = planner.max_stride()
    assert max(strides) <= limit + 1e-9, strides
    assert strides[0] > limit - 0.05  # and catches up about as far as allowed
    final = plan.final_base()
    assert math.hypot(final.x - goal.x, final.y - goal.y) < 1e-9
    # In steady walking (lag of one step) nothing changes: the base path starts at `start`.
    steady = Pose2D(-0.2, -0.1, 0.0)
    plan = planner.plan_to_pose(start, goal, initial_feet=(left, steady), first_side='right')
    assert plan.steps[0].pose.x == pytest.approx(0.2)
    # Velocity mode: the same limit.
    vel = planner.plan_velocity(
        start, (1.0, 0.0, 0.0), 0.8, 4, initial_feet=(left, right), first_side='right'
    )
    assert max(_strides(vel)) <= limit + 1e-9
    # Backwards: no catch-up (the first base is one backward step from `start`).
    ahead = Pose2D(0.3, -0.1, 0.0)
    back = planner.plan_to_pose(
        start, Pose2D(-0.5, 0.0, 0.0), initial_feet=(left, ahead), first_side='right'
    )
    assert back.steps[0].pose.x == pytest.approx(-0.1)
