"""JointTrajectory validation and interpolation."""

import math

from humanoid_core.sim.trajectory import (
    JointLimit,
    JointTrajectory,
    TrajectoryError,
    TrajectorySampler,
    validate_trajectory,
)
import numpy as np
import pytest

LIMITS = {
    'a_joint': JointLimit(-1.0, 1.0, 2.0),
    'b_joint': JointLimit(-2.0, 0.0, 1.0),
}


def traj(points, names=('a_joint', 'b_joint'), start=None) -> JointTrajectory:
    return JointTrajectory.from_lists(names, points, start)


def test_valid_trajectory_gets_start_time() -> None:
    t = validate_trajectory(
        traj([([0.1, -0.1], None, 0.5), ([0.2, -0.2], None, 1.0)]), LIMITS, 3.0
    )
    assert t.start_time == 3.0
    t = validate_trajectory(traj([([0.1, -0.1], None, 0.5)], start=3.5), LIMITS, 3.0)
    assert t.start_time == 3.5


@pytest.mark.parametrize(
    ('trajectory', 'message'),
    [
        (traj([([math.nan, 0.0], None, 1.0)]), r'position of a_joint is not finite'),
        (traj([([0.0, 0.0], [math.inf, 0.0], 1.0)]), r'velocity of a_joint is not finite'),
        (traj([([0.0, 0.0], None, math.nan)]), r'time_from_start is not finite'),
        (traj([([0.0], None, 1.0)]), r'point 0 has 1 positions for 2 joints'),
        (traj([([0.0, 0.0], [0.0], 1.0)]), r'point 0 has 1 velocities for 2 joints'),
        (traj([([0.0], None, 1.0)], names=('c_joint',)), r"unknown joints \['c_joint'\]"),
        (traj([([0.0, 0.0], None, 1.0)], names=('a_joint', 'a_joint')), r'more than once'),
        (traj([([1.5, 0.0], None, 1.0)]), r'a_joint = 1.5000 is outside its limits'),
        (traj([([0.0, 0.5], None, 1.0)]), r'b_joint = 0.5000 is outside'),
        (traj([([0.0, 0.0], [3.0, 0.0], 1.0)]), r'velocity of a_joint = 3.0000 exceeds'),
        (
            traj([([0.0, 0.0], None, 1.0), ([0.1, 0.0], None, 1.0)]),
            r'point 1 time_from_start 1.0 is not after',
        ),
        (traj([([0.0, 0.0], None, -0.5)]), r'negative'),
        (traj([]), r'no points'),
        (traj([([] * 0, None, 1.0)], names=()), r'no joint names'),
        (traj([([0.0, 0.0], None, 1.0)], start=1.0), r'start time 1.0000 is 2.0000 s in the past'),
    ],
)
def test_invalid_trajectories_name_the_problem(trajectory, message) -> None:
    with pytest.raises(TrajectoryError, match=message):
        validate_trajectory(trajectory, LIMITS, now=3.0)


def test_start_time_tolerance() -> None:
    validate_trajectory(traj([([0.0, 0.0], None, 1.0)], start=2.97), LIMITS, 3.0)


def test_linear_interpolation_from_initial_positions() -> None:
    t = validate_trajectory(traj([([1.0, -1.0], None, 1.0), ([0.0, -2.0], None, 3.0)]), LIMITS, 10)
    s = TrajectorySampler(t, [0.0, 0.0])
    q, _ = s.sample(9.0)
    np.testing.assert_allclose(q, [0.0, 0.0])
    q, qd = s.sample(10.5)
    np.testing.assert_allclose(q, [0.5, -0.5])
    np.testing.assert_allclose(qd, [1.0, -1.0])
    q, _ = s.sample(12.0)
    np.testing.assert_allclose(q, [0.5, -1.5])
    q, qd = s.sample(20.0)
    np.testing.assert_allclose(q, [0.0, -2.0])
    np.testing.assert_allclose(qd, [0.0, 0.0])
    assert s.done(13.0) and not s.done(12.9)


def test_cubic_interpolation_matches_endpoints_and_velocities() -> None:
    t = validate_trajectory(
        traj([([0.5, -0.5], [1.0, 0.0], 1.0), ([0.0, -1.0], [0.0, 0.0], 2.0)]), LIMITS, 0.0
    )
    s = TrajectorySampler(t, [0.0, 0.0])
    for time, pos in ((1.0, [0.5, -0.5]), (2.0, [0.0, -1.0])):
        q, _ = s.sample(time)
        np.testing.assert_allclose(q, pos, atol=1e-12)
    _, qd = s.sample(1.0 + 1e-9)
    np.testing.assert_allclose(qd, [1.0, 0.0], atol=1e-6)
    # smooth: numeric derivative equals the analytic one mid-segment
    q1, qd1 = s.sample(1.5)
    q2, _ = s.sample(1.5 + 1e-6)
    np.testing.assert_allclose((q2 - q1) / 1e-6, qd1, atol=1e-4)


def test_point_at_time_zero_replaces_initial() -> None:
    t = validate_trajectory(traj([([0.3, -0.3], None, 0.0), ([0.5, -0.5], None, 1.0)]), LIMITS, 0)
    s = TrajectorySampler(t, [0.0, 0.0])
    np.testing.assert_allclose(s.sample(0.5)[0], [0.4, -0.4])
