"""SupervisorCore on a fake clock: every rejection path, e-stop latching, watchdog,
heartbeats, effort, and the posture checks through forward kinematics."""

from __future__ import annotations

import math

from humanoid_core.robot.description import ROBOT_INFO
from humanoid_core.safety import HandKinematics, SupervisorCore, limits_from_dict
from humanoid_core.sim.robot_model import STANDING_POSTURE
from humanoid_core.sim.trajectory import JointTrajectory
import pytest

ARM = ROBOT_INFO.arm_joints('left')
STAND = dict(STANDING_POSTURE)
CONFIG = {
    'default_acceleration': 50.0,
    'hand_workspace': {'min': [-0.45, -0.85, 0.15], 'max': [0.95, 0.85, 1.8]},
    'keep_out': [
        {'name': 'shelf', 'frame': 'base', 'min': [0.5, 0.1, 1.0], 'max': [0.8, 0.5, 1.3]}
    ],
    'keep_out_margin': 0.01,
    'self_collision_margin': 0.003,
    'max_start_jump': 0.05,
    'effort_hold_time': 0.2,
}


@pytest.fixture(scope='module')
def limits():
    return limits_from_dict(CONFIG)


@pytest.fixture(scope='module')
def kinematics():
    return HandKinematics(CONFIG['self_collision_margin'])


@pytest.fixture
def core(limits, kinematics):
    c = SupervisorCore(limits, 0.0, watchdog_timeout=0.5, kinematics=kinematics)
    c.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    return c


def arm_traj(*points, start=None, names=ARM):
    """points: (dict of changes from standing, t) or (dict, velocities, t)."""
    rows = []
    for p in points:
        changes, t = p[0], p[-1]
        vel = p[1] if len(p) == 3 else None
        q = dict(STAND)
        q.update(changes)
        rows.append(([q[n] for n in names], vel, t))
    return JointTrajectory.from_lists(names, rows, start)


def test_valid_trajectory_is_accepted_with_a_start_time(core):
    v = core.check_trajectory(arm_traj(({'left_elbow_joint': -0.5}, 0.5)), now=1.0)
    assert v.accepted and v.reason == ''
    assert v.trajectory.start_time == 1.0
    assert core.accepted_commands == 1 and core.state().rejected_commands == 0


@pytest.mark.parametrize(
    ('traj', 'needle'),
    [
        (JointTrajectory((), ()), 'no joint names'),
        (JointTrajectory.from_lists(['tail_joint'], [([0.0], None, 1.0)]), 'unknown joints'),
        (JointTrajectory.from_lists(ARM, []), 'no points'),
        (
            JointTrajectory.from_lists(ARM, [([0.0] * 6, None, 1.0)]),
            'point 0 has 6 positions for 7 joints',
        ),
        (
            arm_traj(({'left_elbow_joint': math.nan}, 1.0)),
            'position of left_elbow_joint is not finite',
        ),
        (
            arm_traj(({'left_elbow_joint': 0.5}, 1.0)),
            'position of left_elbow_joint = 0.5000 is outside its limits',
        ),
        (
            arm_traj(({}, [9.0] + [0.0] * 6, 1.0)),
            'velocity of left_shoulder_pitch_joint = 9.0000 exceeds its limit',
        ),
        (arm_traj(({}, 1.0), ({}, 0.5)), 'point 1 time_from_start 0.5 is not after'),
        (arm_traj(({}, 1.0), start=0.0), 'in the past'),
        (
            arm_traj(({'left_elbow_joint': -0.2}, 0.0)),
            'point 0 (at t=0) jumps left_elbow_joint by 0.1500',
        ),
        (
            arm_traj(({'left_elbow_joint': -2.35}, 0.2)),
            'left_elbow_joint would move at 10.000 from the measured position to point 0',
        ),
        (
            arm_traj(({}, 0.1), ({'left_elbow_joint': -1.35}, 0.2)),
            'left_elbow_joint would move at 10.000 from point 0 to point 1',
        ),
        (
            # 0 -> 2 rad/s -> 0 within 0.1 s: finite-difference acceleration 40 then ... 80
            arm_traj(({}, 0.05), ({'left_elbow_joint': -0.45}, 0.1), ({}, 0.15)),
            'left_elbow_joint would accelerate at 80.00 around point 1 (velocity change',
        ),
        (
            # Hermite from rest to 2 rad/s in 0.02 s with no displacement: 200 rad/s^2
            arm_traj(({}, [0.0] * 3 + [2.0] + [0.0] * 3, 0.02)),
            'would accelerate at 400.00 between the measured position and point 0',
        ),
    ],
)
def test_rejections_name_the_problem(core, traj, needle):
    v = core.check_trajectory(traj, now=1.0)
    assert not v.accepted
    assert needle in v.reason
    state = core.state()
    assert state.last_rejection == v.reason and state.rejected_commands == 1
    assert not state.holding  # a rejection alone does not hold the robot


def test_missing_measurement_is_rejected(limits):
    c = SupervisorCore(limits, 0.0)
    assert not c.state().ready
    v = c.check_trajectory(arm_traj(({}, 1.0)), now=0.0)
    assert 'no measured position for joints' in v.reason


def test_ready_once_every_guarded_joint_was_measured(limits):
    c = SupervisorCore(limits, 0.0)
    body = [n for n in STAND if n in limits.joints and n not in ROBOT_INFO.grippers]
    # all but one joint (and a NaN for it): still not ready, commands for it rejected
    c.update_joint_state(body[:-1], [STAND[n] for n in body[:-1]], None, 0.0)
    c.update_joint_state(body[-1:], [math.nan], None, 0.0)
    assert not c.state().ready
    c.update_joint_state(body[-1:], [STAND[body[-1]]], None, 0.1)
    assert c.state().ready
    assert c.check_trajectory(arm_traj(({}, 1.0)), now=0.1).accepted


def test_standing_posture_passes_the_posture_checks(core, kinematics):
    posture = kinematics.evaluate(STAND)
    assert posture.contacts == ()
    assert posture.hands['left'][2] == pytest.approx(0.65, abs=0.05)  # base frame: z from soles
    assert core.check_trajectory(arm_traj(({}, 1.0)), now=0.0).accepted


def test_hand_far_outside_the_workspace_box_is_rejected(core):
    # arm straight up: the hand goes to ~1.9 m, above the box's 1.8 m
    v = core.check_trajectory(arm_traj(({'left_shoulder_pitch_joint': -3.0}, 2.0)), now=0.0)
    assert 'left hand at' in v.reason and 'outside the workspace box' in v.reason
    assert v.reason.startswith('at point 0')


def test_keep_out_box_and_self_collision_are_rejected(core):
    reach = {'left_shoulder_pitch_joint': -1.2, 'left_elbow_joint': -0.3}  # hand ~(0.62,0.29,1.16)
    v = core.check_trajectory(arm_traj((reach, 2.0)), now=0.0)
    assert "of keep-out box 'shelf'" in v.reason
    fold = {
        'left_shoulder_roll_joint': -0.3,
        'left_elbow_joint': -2.6,
        'left_shoulder_yaw_joint': 1.5,
    }
    v = core.check_trajectory(arm_traj((fold, 3.0)), now=0.0)
    assert 'self-collision: left_forearm and torso' in v.reason
    ignoring = dict(CONFIG, self_collision_ignore=[['torso', 'left_forearm']])
    c = SupervisorCore(limits_from_dict(ignoring), 0.0, kinematics=core.kinematics)
    c.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    assert c.check_trajectory(arm_traj((fold, 3.0)), now=0.0).accepted


def test_world_keep_out_box_follows_the_base_pose(kinematics):
    cfg = dict(CONFIG)
    cfg['keep_out'] = [
        {'name': 'table', 'frame': 'world', 'min': [2.5, 0.1, 1.0], 'max': [2.8, 0.5, 1.3]}
    ]
    c = SupervisorCore(limits_from_dict(cfg), 0.0, kinematics=kinematics)
    c.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    reach = arm_traj(({'left_shoulder_pitch_joint': -1.2, 'left_elbow_joint': -0.3}, 2.0))
    assert c.check_trajectory(reach, 0.0, base_pose=(0.0, 0.0, 0.0)).accepted
    v = c.check_trajectory(reach, 0.0, base_pose=(2.0, 0.0, 0.0))
    assert "keep-out box 'table'" in v.reason and '(world frame)' in v.reason


def test_moving_back_out_of_a_violation_is_allowed(core):
    up = dict(STAND)
    up['left_shoulder_pitch_joint'] = -3.0
    core.update_joint_state(list(up), list(up.values()), None, 0.0)
    # from above the box back down towards standing: allowed
    assert core.check_trajectory(
        arm_traj(({'left_shoulder_pitch_joint': -2.5}, 2.0)), 0.0
    ).accepted


def test_holding_still_inside_a_keep_out_margin_passes_despite_servo_sag(kinematics):
    """A hand that ended up inside a table's keep-out margin (the walk brought the table
    near) sags a few mm below its commanded posture; a command that holds at the commanded
    posture must pass (the robot must be able to move on), one going deeper must not."""
    commanded = {'left_shoulder_pitch_joint': -1.2, 'left_elbow_joint': -0.3}
    sagged = {'left_shoulder_pitch_joint': -1.15, 'left_elbow_joint': -0.3}
    deeper = {'left_shoulder_pitch_joint': -1.3, 'left_elbow_joint': -0.3}

    def hand_x(changes):
        q = dict(STAND)
        q.update(changes)
        return float(kinematics.evaluate(q).hands['left'][0])

    assert hand_x(sagged) + 0.005 < hand_x(commanded) < hand_x(deeper) - 0.005
    cfg = dict(CONFIG, keep_out_margin=0.01)
    cfg['keep_out'] = [  # its near face 4 mm behind the commanded hand
        {'name': 'table', 'frame': 'world', 'min': [hand_x(commanded) - 0.004, -1.0, 0.0],
         'max': [hand_x(commanded) + 0.5, 1.0, 2.0]}
    ]  # fmt: skip
    c = SupervisorCore(limits_from_dict(cfg), 0.0, kinematics=kinematics)
    c.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    far = (-1.0, 0.0, 0.0)
    assert c.check_trajectory(arm_traj((commanded, 2.0)), 0.0, base_pose=far).accepted
    q = dict(STAND)
    q.update(sagged)
    c.update_joint_state(list(q), list(q.values()), None, 3.0)
    near = (0.0, 0.0, 0.0)  # the measured hand is inside the margin here, the commanded deeper
    assert c.check_trajectory(arm_traj((commanded, 1.0)), 3.0, base_pose=near).accepted
    v = c.check_trajectory(arm_traj((deeper, 1.0)), 3.0, base_pose=near)
    assert 'left hand at' in v.reason and "keep-out box 'table'" in v.reason


def test_estop_holds_latches_and_releases(core):
    hold = core.engage_estop(now=1.0, source='test')
    assert hold is not None and hold.start_time is None
    (point,) = hold.points
    assert point.time_from_start == 0.0 and set(point.velocities) == {0.0}
    assert dict(zip(hold.joint_names, point.positions, strict=True)) == {
        n: STAND[n] for n in ROBOT_INFO.body_joints
    }
    assert not set(hold.joint_names) & set(ROBOT_INFO.grippers)
    state = core.state()
    assert state.estopped and state.holding and 'estop (from test)' in state.reason
    assert core.engage_estop(now=1.1) is None  # already engaged: no second hold
    for t in (1.2, 5.0, 100.0):  # latched: time does not release it
        assert core.tick(t) is None
        v = core.check_trajectory(arm_traj(({}, 1.0)), now=t)
        assert 'e-stop engaged' in v.reason
    assert 'e-stop engaged' in core.check_gripper('left', 0.05)
    assert core.release_estop(now=101.0)
    assert not core.release_estop(now=101.0)
    assert not core.state().estopped
    assert core.check_trajectory(arm_traj(({}, 1.0)), now=101.0).accepted
    assert not core.state().holding


def test_holds_keep_the_commanded_targets_not_the_sagged_measurement(core):
    # a command moves the elbow to -0.5 over 1 s; the servo lags and sags 0.02 rad below it
    elbow = 'left_elbow_joint'
    assert core.check_trajectory(arm_traj(({elbow: -0.5}, 1.0)), now=1.0).accepted
    names = list(STAND)
    sagged = {**STAND, elbow: -0.48}
    core.update_joint_state(names, [sagged[n] for n in names], None, 2.5)
    # the command has ended: the watchdog holds where the servo was commanded (-0.5); holding
    # the measured -0.48 would let the joint sag once more (position servos under load)
    hold = core.tick(2.6)
    assert hold is not None and 'watchdog' in core.state().reason
    held = dict(zip(hold.joint_names, hold.points[0].positions, strict=True))
    assert held[elbow] == pytest.approx(-0.5)
    assert held['left_knee_joint'] == STAND['left_knee_joint']  # never commanded: measured
    # mid-move, an e-stop stops the target where it is at that instant (zero velocity)
    core.release_estop(now=2.6)
    start = -0.5
    assert core.check_trajectory(arm_traj(({elbow: 0.0 + start + 0.4}, 1.0)), now=3.0).accepted
    hold = core.engage_estop(now=3.5)
    held = dict(zip(hold.joint_names, hold.points[0].positions, strict=True))
    assert start < held[elbow] < start + 0.4  # between where it was and where it was going
    assert set(hold.points[0].velocities) == {0.0}


def test_an_arm_lagging_its_command_holds_near_where_it_is(core):
    # the elbow is commanded 0.4 rad over 1 s; half-way it lags 0.1 rad behind (measured
    # -0.35, commanded -0.3): an e-stop holds it hold_lead_max (0.03) past the measurement,
    # not at the command (it would travel its lag first); a knee's commanded target is held
    # even 0.05 rad from its measurement (legs carry the body: holding the sag tips it over)
    elbow, knee = 'left_elbow_joint', 'left_knee_joint'
    names = list(STAND)
    start = {**STAND, elbow: -0.5}
    core.update_joint_state(names, [start[n] for n in names], None, 0.9)
    cmd = arm_traj(({elbow: -0.1, knee: STAND[knee] + 0.1}, 1.0), names=names)
    assert core.check_trajectory(cmd, now=1.0).accepted
    lagging = {**STAND, elbow: -0.35, knee: STAND[knee]}
    core.update_joint_state(names, [lagging[n] for n in names], None, 1.5)
    hold = core.engage_estop(now=1.5)
    held = dict(zip(hold.joint_names, hold.points[0].positions, strict=True))
    assert held[elbow] == pytest.approx(-0.35 + 0.03)
    assert held[knee] == pytest.approx(STAND[knee] + 0.05, abs=0.01)  # commanded, mid-way


def test_an_over_effort_hold_keeps_the_measured_positions(core):
    # pushing against something: the commanded target is what the joint pushes towards
    knee = 'left_knee_joint'
    names = list(STAND)
    core.check_trajectory(arm_traj(({knee: STAND[knee] + 0.1}, 0.2), names=names), now=1.0)
    measured = [STAND[n] for n in names]
    efforts = [250.0 if n == knee else 0.0 for n in names]
    for t in (1.3, 1.4, 1.55):
        hold = core.update_joint_state(names, measured, efforts, t)
    assert hold is not None
    held = dict(zip(hold.joint_names, hold.points[0].positions, strict=True))
    assert held[knee] == STAND[knee]


LEGS_WAIST = tuple(ROBOT_INFO.legs) + tuple(ROBOT_INFO.waist)


def _gait_cmd(knee: float, t: float = 0.1, names=None):
    """A body command moving the left knee by `knee` rad within `t` s (a walking step)."""
    names = names or tuple(ROBOT_INFO.body_joints)
    return arm_traj(({'left_knee_joint': STAND['left_knee_joint'] + knee}, t), names=names)


def test_estop_while_walking_lets_the_legs_finish_the_step(limits, kinematics):
    core = SupervisorCore(limits, 0.0, watchdog_timeout=0.5, kinematics=kinematics,
                          walk_stop_time=2.0)  # fmt: skip
    core.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    assert core.check_trajectory(_gait_cmd(0.04), now=0.0).accepted  # 0.4 rad/s: walking
    assert core.legs_moving(0.9) and not core.legs_moving(1.1)  # walking_window 1 s
    hold = core.engage_estop(now=0.1, source='test')
    assert hold is not None
    assert set(hold.joint_names) == set(ROBOT_INFO.body_joints) - set(LEGS_WAIST)
    state = core.state()
    assert state.estopped and core.stopping_gait and 'controlled stop' in state.reason
    # a full-body command: only its legs and waist pass, still checked
    v = core.check_trajectory(_gait_cmd(0.04), now=0.2)
    assert v.accepted and set(v.trajectory.joint_names) == set(LEGS_WAIST)
    assert 'velocity limit' in core.check_trajectory(_gait_cmd(1.0, t=0.01), now=0.25).reason
    # arms alone: rejected; grippers stay blocked
    assert 'controlled stop' in core.check_trajectory(arm_traj(({}, 1.0)), now=0.3).reason
    assert 'e-stop engaged' in core.check_gripper('left', 0.05)
    # the gait keeps streaming (slowly in double support): no hold yet; once the controller
    # stops streaming (it stands), every joint holds after stop_idle (0.2 s)
    assert core.tick(0.3) is None
    assert core.check_trajectory(_gait_cmd(0.0, t=0.1), now=0.4).accepted  # feet closing
    assert core.tick(0.55) is None
    full = core.tick(0.61)
    assert full is not None and set(full.joint_names) == set(ROBOT_INFO.body_joints)
    assert not core.stopping_gait and core.state().reason == 'estop (from test)'
    assert 'e-stop engaged' in core.check_trajectory(_gait_cmd(0.0), now=0.6).reason


def test_controlled_stop_outlasts_a_pause_of_the_controller_while_the_base_moves(
    limits, kinematics
):
    """A controller that pauses mid-balance (a loaded machine) is not cut off by the hold
    while odometry says the base still moves; once still, or silent for stop_idle_max, it is."""
    core = SupervisorCore(limits, 0.0, walk_stop_time=5.0, watchdog_timeout=5.0,
                          kinematics=kinematics)  # fmt: skip
    core.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    assert core.check_trajectory(_gait_cmd(0.04), now=0.0).accepted
    core.engage_estop(now=0.1)
    core.note_base_speed(0.12)  # still swaying
    assert core.tick(0.45) is None and core.stopping_gait  # 0.35 s without a command
    core.note_base_speed(float('nan'))  # ignored: the last finite speed counts
    assert core.tick(0.5) is None
    # the controller goes on: its commands pass; then it pauses again until stop_idle_max
    assert core.check_trajectory(_gait_cmd(0.0, t=0.05), now=0.5).accepted
    assert core.tick(1.45) is None and core.stopping_gait
    full = core.tick(1.55)
    assert full is not None and not core.stopping_gait
    assert 'no command for 1.05 s, base at 0.120 m/s' in core.controlled_stop_report
    # base still: stop_idle (0.2 s) is enough
    core = SupervisorCore(limits, 0.0, walk_stop_time=5.0, watchdog_timeout=5.0,
                          kinematics=kinematics)  # fmt: skip
    core.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    assert core.check_trajectory(_gait_cmd(0.04), now=0.0).accepted
    core.engage_estop(now=0.1)
    core.note_base_speed(0.01)
    assert core.tick(0.25) is None
    assert core.tick(0.35) is not None and not core.stopping_gait


def test_controlled_stop_is_bounded_in_time(limits, kinematics):
    core = SupervisorCore(limits, 0.0, walk_stop_time=1.0, watchdog_timeout=5.0,
                          kinematics=kinematics)  # fmt: skip
    core.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    core.check_trajectory(_gait_cmd(0.04), now=0.0)
    core.engage_estop(now=0.05)
    t, full = 0.05, None
    while full is None and t < 3.0:  # a gait that never stops stepping
        sign = 1.0 if int(t * 10) % 2 else -1.0
        core.update_joint_state(list(STAND), list(STAND.values()), None, t)
        assert core.check_trajectory(_gait_cmd(0.04 * sign), now=t).accepted
        t = round(t + 0.05, 3)
        full = core.tick(t)
    assert full is not None and 1.0 <= t - 0.05 <= 1.06


def test_estop_while_standing_or_without_walk_stop_holds_everything(limits, kinematics):
    for walk_stop_time, moving in ((2.0, False), (0.0, True)):
        core = SupervisorCore(limits, 0.0, kinematics=kinematics, walk_stop_time=walk_stop_time)
        core.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
        core.check_trajectory(_gait_cmd(0.04 if moving else 0.001), now=0.0)
        hold = core.engage_estop(now=0.1)
        assert hold is not None and set(hold.joint_names) == set(ROBOT_INFO.body_joints)
        assert not core.stopping_gait


def test_watchdog_holds_after_the_trajectory_end_plus_timeout(core):
    assert core.tick(10.0) is None  # not armed before the first command
    assert core.check_trajectory(arm_traj(({}, 1.0)), now=0.0).accepted
    assert core.tick(1.4) is None  # trajectory ends at 1.0, timeout 0.5
    hold = core.tick(1.51)
    assert hold is not None
    state = core.state()
    assert state.holding and not state.estopped and state.reason.startswith('watchdog')
    assert core.tick(3.0) is None  # fires once
    # a fresh valid command ends the watchdog hold
    assert core.check_trajectory(arm_traj(({}, 0.5)), now=3.0).accepted
    assert not core.state().holding


def test_heartbeats_dead_and_back(limits):
    c = SupervisorCore(
        limits, 0.0, heartbeat_timeout=1.0, required_nodes=['ctrl', 'planner'], startup_grace=5.0
    )
    c.update_joint_state(list(STAND), list(STAND.values()), None, 0.0)
    c.note_heartbeat('ctrl', 0.5)
    assert c.tick(1.0) is None and c.dead_nodes == ()  # planner within the grace period
    c.note_heartbeat('planner', 1.0)
    c.note_heartbeat('ctrl', 1.5)
    assert c.tick(2.2) is not None  # planner silent for 1.2 s: hold
    assert c.dead_nodes == ('planner',)
    state = c.state()
    assert state.holding and "dead nodes: ['planner']" in state.reason
    assert 'required nodes are dead' in c.check_trajectory(arm_traj(({}, 1.0)), 2.2).reason
    c.note_heartbeat('planner', 2.3)
    c.note_heartbeat('ctrl', 2.3)
    assert c.tick(2.4) is None and c.dead_nodes == ()
    assert not c.state().holding
    assert c.check_trajectory(arm_traj(({}, 1.0)), 2.4).accepted


def test_never_seen_node_is_dead_after_the_grace_period(limits):
    c = SupervisorCore(limits, 0.0, required_nodes=['ctrl'], startup_grace=5.0)
    assert c.tick(4.9) is None and c.dead_nodes == ()
    c.tick(5.1)
    assert c.dead_nodes == ('ctrl',)
    nograce = SupervisorCore(limits, 0.0, required_nodes=['ctrl'], startup_grace=0.0)
    nograce.tick(1000.0)
    assert nograce.dead_nodes == ()


def test_sustained_over_effort_holds(core):
    names = ['left_knee_joint', 'left_elbow_joint']
    pos = [STAND[n] for n in names]
    assert core.update_joint_state(names, pos, [250.0, 0.0], 1.0) is None  # limit 200
    assert core.update_joint_state(names, pos, [250.0, 0.0], 1.1) is None
    hold = core.update_joint_state(names, pos, [250.0, 0.0], 1.25)
    assert hold is not None
    assert 'effort: left_knee_joint at 250.0 over its limit 200.0' in core.state().reason
    # a short spike does not hold
    core2_names = ['left_elbow_joint']
    core.update_joint_state(names, pos, [0.0, 0.0], 1.3)
    assert core.check_trajectory(arm_traj(({}, 0.5)), now=1.3).accepted
    assert not core.state().holding
    core.update_joint_state(core2_names, [STAND['left_elbow_joint']], [99.0], 2.0)
    assert core.update_joint_state(core2_names, [STAND['left_elbow_joint']], [0.0], 2.1) is None
    assert not core.state().holding


def test_gripper_checks(core):
    assert core.check_gripper('left', 0.05) == ''
    assert 'outside [0, 0.09]' in core.check_gripper('right', 0.2)
    assert 'not finite' in core.check_gripper('left', math.nan)
    assert "unknown hand 'middle'" in core.check_gripper('middle', 0.0)


def test_bad_core_parameters_are_named(limits):
    with pytest.raises(ValueError, match='watchdog_timeout must be a finite number >= 0'):
        SupervisorCore(limits, 0.0, watchdog_timeout=-1.0)
    with pytest.raises(ValueError, match='heartbeat_timeout must be > 0'):
        SupervisorCore(limits, 0.0, heartbeat_timeout=0.0, required_nodes=['a'])
