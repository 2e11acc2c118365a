"""Walking controller and standing balance: kinematic invariants and short MuJoCo runs."""

from __future__ import annotations

import itertools
import math

from humanoid_core.control.footsteps import Pose2D
from humanoid_core.control.ik import WholeBodyIK
from humanoid_core.control.kinematics import yaw_of
from humanoid_core.control.testbed import FloorSim
from humanoid_core.control.walking import WalkingController, WalkingParams
from humanoid_core.robot.description import ROBOT_INFO
import numpy as np
import pytest


@pytest.fixture(scope='module')
def ik() -> WholeBodyIK:
    return WholeBodyIK()


def _start(ik: WholeBodyIK, params: WalkingParams | None = None, **sim_kw):
    sim = FloorSim(**sim_kw)
    ctrl = WalkingController(params, ik=ik)
    st = sim.state()
    ctrl.reset(ctrl.kin.q_from(st.joint_positions, st.pelvis_position, st.pelvis_quaternion))
    return sim, ctrl


def _run(sim: FloorSim, ctrl: WalkingController, seconds: float, force=None) -> bool:
    """Closed loop for `seconds`; False as soon as the robot falls."""
    for _ in range(round(seconds / ctrl.params.control_dt)):
        sim.set_targets(ctrl.update(sim.state()))
        sim.step(ctrl.params.control_dt, external_force=force)
        if sim.fallen():
            return False
    return True


def test_controller_kinematics_follow_the_plan(ik):
    """Open loop (no simulator): IK puts the soles on the planned feet/swing poses and the CoM
    on the preview controller's CoM at every tick; swing feet lift and land."""
    ctrl = WalkingController(ik=ik)
    kin = ctrl.kin
    ctrl.walk_to(Pose2D(0.4, 0.0, 0.3))
    assert ctrl.walking
    heights = []
    ticks = 0
    while ctrl.walking and ticks < 2000:
        ctrl.update()
        ticks += 1
        com = kin.com(ctrl.q)
        assert np.linalg.norm(com[:2] - ctrl.preview.com) < 0.01
        for side in ('left', 'right'):
            T = kin.site_transform(ctrl.q, ROBOT_INFO.sole_frame(side))
            assert T[2, 3] > -0.005  # never below the floor
            heights.append(T[2, 3])
        assert kin.within_limits(ctrl.q)
    assert not ctrl.walking, 'walk did not finish'
    assert max(heights) > 0.8 * ctrl.params.timing.foot_lift
    final = ctrl.planned_base
    assert math.hypot(final.x - 0.4, final.y) < 1e-6
    assert final.yaw == pytest.approx(0.3, abs=1e-6)
    for side in ('left', 'right'):
        T = kin.site_transform(ctrl.q, ROBOT_INFO.sole_frame(side))
        assert abs(T[2, 3]) < 0.003
        assert yaw_of(T[:3, :3]) == pytest.approx(0.3, abs=0.01)


def test_walks_forward_in_simulation(ik):
    sim, ctrl = _start(ik)
    assert _run(sim, ctrl, 0.5)
    goal = Pose2D(0.6, 0.0, 0.0)
    ctrl.walk_to(goal)
    t = 0.0
    while ctrl.walking and t < 15.0:
        assert _run(sim, ctrl, 0.1), f'fell at {sim.time:.2f} s'
        t += 0.1
    assert not ctrl.walking
    assert _run(sim, ctrl, 1.0)
    base = sim.state().base_pose
    assert math.hypot(base.x - goal.x, base.y - goal.y) < 0.1, base
    assert abs(base.yaw) < 0.15


def test_velocity_command_walks_and_stops(ik):
    sim, ctrl = _start(ik)
    ctrl.set_velocity(0.25, 0.0, 0.0)
    assert _run(sim, ctrl, 4.0)
    ctrl.stop()
    t = 0.0
    while ctrl.walking and t < 5.0:
        assert _run(sim, ctrl, 0.1)
        t += 0.1
    assert not ctrl.walking, 'did not stop within 5 s of the stop command'
    assert _run(sim, ctrl, 0.5)
    assert sim.state().base_pose.x > 0.3
    with pytest.raises(ValueError, match='finite'):
        ctrl.set_velocity(math.inf, 0.0, 0.0)


def test_standing_balance_survives_a_lateral_push(ik):
    # 100 N for 0.2 s at the pelvis (20 N s); the same push with a stiff body and no
    # balance feedback is the baseline the bench compares against.
    sim, ctrl = _start(ik)
    assert _run(sim, ctrl, 1.0)
    assert _run(sim, ctrl, 0.2, force=np.array([0.0, 100.0, 0.0]))
    assert _run(sim, ctrl, 2.0)
    assert np.linalg.norm(sim.state().pelvis_linear_velocity) < 0.05


def test_kinematic_base_mode_is_explicit():
    with pytest.raises(ValueError, match='base_mode must be one of'):
        FloorSim(base_mode='magic')
    assert FloorSim().base_mode == 'dynamic'


def test_shorter_steps_while_carrying(ik):
    """`set_max_step_length` caps later plans' forward step (the controller uses it while a
    hand holds an object); None restores the gait's own limit; nonsense is refused."""
    sim, ctrl = _start(ik)
    try:
        normal = ctrl.planner.steps_needed(Pose2D(0.0, 0.0, 0.0), Pose2D(1.2, 0.0, 0.0))
        ctrl.set_max_step_length(0.1)
        assert ctrl.planner.limits.max_step_length == pytest.approx(0.1)
        short = ctrl.planner.steps_needed(Pose2D(0.0, 0.0, 0.0), Pose2D(1.2, 0.0, 0.0))
        assert short == 12 and normal < short
        ctrl.set_max_step_length(5.0)  # never above the gait's own limit
        assert ctrl.planner.limits == ctrl.params.limits
        ctrl.set_max_step_length(None)
        assert ctrl.planner.limits == ctrl.params.limits
        for bad in (0.0, -0.1, math.nan):
            with pytest.raises(ValueError, match='max step length'):
                ctrl.set_max_step_length(bad)
    finally:
        sim.close()


def test_a_short_landing_replans_the_next_stride_of_that_foot(ik):
    """A foot that lands short of its step: its next step, already planned from where it
    should have landed, would be an over-long stride. The controller re-plans it (a catch-up
    step within `max_stride`) as soon as the landing is measured. Open loop, with a measured
    state made by the IK with the right foot 12 cm short."""
    from humanoid_core.control.balance import MeasuredState
    from humanoid_core.control.walking import _foot_matrix

    ctrl = WalkingController(ik=ik)
    ctrl.walk_to(Pose2D(1.6, 0.0, 0.0))
    tl = ctrl.timeline
    assert tl is not None
    # the double support after the second step (index 1), 0.05 s in
    ph = next(p for p in tl.phases if p.kind == 'double' and p.step_index == 1)
    while ctrl.time < ph.t0 + 0.05:
        ctrl.update()
    i = 1
    side = ctrl._steps[i].side
    planned = ctrl._steps[i].pose
    short = Pose2D(planned.x - 0.12, planned.y, planned.yaw)
    feet = {s: (ph.left if s == 'left' else ph.right) for s in ('left', 'right')}
    feet[side] = short
    q = ik.solve_walk_frame(
        ctrl.preview.com,
        _foot_matrix(np.array([feet['left'].x, feet['left'].y, 0.0]), feet['left'].yaw),
        _foot_matrix(np.array([feet['right'].x, feet['right'].y, 0.0]), feet['right'].yaw),
        ctrl.q, com_height=ctrl._com_height_now(), iterations=30,
    )  # fmt: skip
    b = ctrl.kin.base_qpos
    measured = MeasuredState(
        time=ctrl.time,
        joint_positions=dict(ctrl.kin.joint_positions(q)),
        pelvis_position=q[b : b + 3].copy(),
        pelvis_quaternion=q[b + 3 : b + 7].copy(),
        pelvis_linear_velocity=np.zeros(3),
        angular_velocity=np.zeros(3),
    )
    before = ctrl._steps[i + 2].pose
    assert before.x - planned.x > 0.3  # a normal stride from the planned landing
    ctrl._adapt_landing(measured)
    landed = ctrl._steps[i].pose
    assert landed.x == pytest.approx(short.x, abs=0.01)
    after = ctrl._steps[i + 2]
    assert after.side == side
    limit = ctrl.planner.max_stride()
    assert after.pose.x - landed.x <= limit + 1e-6
    assert before.x - landed.x > limit + 0.05  # it would have been over-long
    # the plan still ends at the goal, and sides alternate
    final = ctrl._steps[-1].pose
    assert final.x == pytest.approx(1.6, abs=0.01)
    sides = [s.side for s in ctrl._steps]
    assert all(a != b for a, b in itertools.pairwise(sides))
