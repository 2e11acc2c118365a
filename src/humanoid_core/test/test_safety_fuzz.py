"""Fuzzing of trajectory validation with hypothesis.

Documented behaviour: `validate_trajectory` raises only `TrajectoryError` (a ValueError) for any
malformed input; `SupervisorCore.check_trajectory` never raises, it turns every problem into a
rejection reason. Whatever either accepts is finite and within the limits.
"""

from __future__ import annotations

import math
import warnings

from humanoid_core.robot.description import ROBOT_INFO
from humanoid_core.safety import HandKinematics, SupervisorCore, load_safety_limits
from humanoid_core.sim.robot_model import STANDING_POSTURE
from humanoid_core.sim.trajectory import (
    JointTrajectory,
    TrajectoryError,
    TrajectoryPoint,
    validate_trajectory,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
import pytest

LIMITS = load_safety_limits()
KNOWN = [*ROBOT_INFO.arm_joints('left'), 'neck_yaw_joint', 'left_gripper_finger_left_joint']

floats = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=-3.0, max_value=3.0),
    st.sampled_from([0.0, -0.0, 1e-300, -1e-300, 1e308, math.nan, math.inf, -math.inf]),
)
times = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0.0, max_value=5.0),
    st.sampled_from([0.0, 1e-300, 1e-12, 0.5]),
)
names = st.lists(st.one_of(st.sampled_from(KNOWN), st.text(max_size=12)), min_size=0, max_size=5)


@st.composite
def trajectories(draw) -> JointTrajectory:
    joint_names = tuple(draw(names))
    n = len(joint_names)
    # mostly well-sized vectors (to reach the deeper checks), sometimes wrong lengths
    size = st.one_of(st.just(n), st.integers(min_value=0, max_value=6))
    points = []
    t = 0.0
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        k = draw(size)
        positions = tuple(draw(st.lists(floats, min_size=k, max_size=k)))
        k = draw(size)
        velocities = draw(st.one_of(st.none(), st.lists(floats, min_size=k, max_size=k)))
        if draw(st.booleans()):
            t = t + draw(st.floats(min_value=0.0, max_value=1.0))
        else:
            t = draw(times)
        points.append(
            TrajectoryPoint(positions, None if velocities is None else tuple(velocities), t)
        )
    start = draw(st.one_of(st.none(), times, st.floats(min_value=-1.0, max_value=2.0)))
    return JointTrajectory(joint_names, tuple(points), start)


@st.composite
def near_valid(draw) -> JointTrajectory:
    """Plausible arm trajectories around the standing posture (to exercise the deep checks)."""
    joints = ROBOT_INFO.arm_joints('left')
    t = 0.0
    points = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        t += draw(st.floats(min_value=1e-4, max_value=1.0))
        q = [STANDING_POSTURE[j] + draw(st.floats(min_value=-1.5, max_value=1.5)) for j in joints]
        v = draw(
            st.one_of(st.none(), st.lists(st.floats(-9.0, 9.0), min_size=len(joints), max_size=7))
        )
        points.append(TrajectoryPoint(tuple(q), None if v is None else tuple(v), t))
    return JointTrajectory(joints, tuple(points), None)


def _assert_within_limits(traj: JointTrajectory) -> None:
    for point in traj.points:
        assert math.isfinite(point.time_from_start) and point.time_from_start >= 0.0
        for name, q in zip(traj.joint_names, point.positions, strict=True):
            lim = LIMITS.joints[name]
            assert math.isfinite(q) and lim.lower - 1e-6 <= q <= lim.upper + 1e-6
        if point.velocities is not None:
            for name, v in zip(traj.joint_names, point.velocities, strict=True):
                assert abs(v) <= LIMITS.joints[name].velocity + 1e-6


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traj=trajectories(), now=times)
def test_validate_trajectory_raises_only_trajectory_error(traj, now):
    try:
        out = validate_trajectory(traj, LIMITS.joints, now)
    except TrajectoryError as exc:
        assert str(exc)  # a message naming the problem
        return
    _assert_within_limits(out)
    assert out.start_time is not None


@pytest.fixture(scope='module')
def core() -> SupervisorCore:
    c = SupervisorCore(LIMITS, 0.0, kinematics=HandKinematics(LIMITS.self_collision_margin))
    c.update_joint_state(list(STANDING_POSTURE), list(STANDING_POSTURE.values()), None, 0.0)
    return c


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow,
          HealthCheck.function_scoped_fixture])  # fmt: skip
@given(traj=st.one_of(trajectories(), near_valid()), now=st.floats(0.0, 10.0))
def test_check_trajectory_never_raises(core, traj, now):
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # no numpy overflow/invalid warnings either
        verdict = core.check_trajectory(traj, now)
    if verdict.accepted:
        assert verdict.reason == ''
        _assert_within_limits(verdict.trajectory)
    else:
        assert verdict.trajectory is None and verdict.reason
