"""Point-to-point joint trajectories stay within velocity and acceleration limits."""

from __future__ import annotations

from humanoid_core.control.trajectory import QuinticTrajectory, duration_for
import numpy as np
import pytest


def _profile(traj: QuinticTrajectory, n: int = 2001):
    ts = np.linspace(0.0, traj.duration, n)
    samples = [traj.sample(float(t)) for t in ts]
    q = np.array([s[0] for s in samples])
    qd = np.array([s[1] for s in samples])
    qdd = np.array([s[2] for s in samples])
    return ts, q, qd, qdd


def test_limits_respected_and_tight():
    rng = np.random.default_rng(3)
    for _ in range(20):
        q0 = rng.uniform(-2, 2, 7)
        q1 = rng.uniform(-2, 2, 7)
        vmax = rng.uniform(0.5, 3.0, 7)
        amax = rng.uniform(1.0, 10.0, 7)
        traj = QuinticTrajectory.within_limits(q0, q1, vmax, amax)
        ts, q, qd, qdd = _profile(traj)
        np.testing.assert_allclose(q[0], q0)
        np.testing.assert_allclose(q[-1], q1)
        np.testing.assert_allclose(qd[[0, -1]], 0.0, atol=1e-12)
        ratio_v = np.max(np.abs(qd) / vmax)
        ratio_a = np.max(np.abs(qdd) / amax)
        assert ratio_v <= 1.0 + 1e-6 and ratio_a <= 1.0 + 1e-6
        # Shortest such duration: one of the limits is (nearly) reached.
        assert max(ratio_v, ratio_a) > 0.99
        # Velocity is the derivative of position (finite differences).
        fd = np.gradient(q, ts, axis=0)
        np.testing.assert_allclose(qd[5:-5], fd[5:-5], atol=1e-3 * max(1.0, np.abs(qd).max()))


def test_joints_are_synchronised():
    traj = QuinticTrajectory.within_limits([0.0, 0.0], [1.0, 0.1], 1.0, 5.0)
    _, q, _, _ = _profile(traj, 101)
    # Both joints are the same fraction of the way at every sample.
    np.testing.assert_allclose(q[:, 0], q[:, 1] / 0.1, atol=1e-12)


def test_duration_for_values_and_errors():
    # Velocity-limited: 1.875 * 1 / 1.
    assert duration_for([0.0], [1.0], 1.0, 1000.0) == pytest.approx(1.875)
    # Acceleration-limited: sqrt(5.7735 * 1 / 1).
    assert duration_for([0.0], [1.0], 1000.0, 1.0) == pytest.approx(np.sqrt(10 / np.sqrt(3)))
    assert duration_for([0.3, 0.2], [0.3, 0.2], 1.0, 1.0) == 0.0
    assert duration_for([0.0], [0.0], 1.0, 1.0, min_duration=0.5) == 0.5
    with pytest.raises(ValueError, match='vmax must be positive'):
        duration_for([0.0], [1.0], 0.0, 1.0)
    with pytest.raises(ValueError, match='q1 has 3 entries'):
        duration_for([0.0, 1.0], [1.0, 2.0, 3.0], 1.0, 1.0)
    with pytest.raises(ValueError, match='NaN'):
        duration_for([np.nan], [1.0], 1.0, 1.0)


def test_to_joint_trajectory_validates():
    from humanoid_core.sim.trajectory import JointLimit, validate_trajectory

    names = ('a_joint', 'b_joint')
    traj = QuinticTrajectory.within_limits([0.0, 0.5], [1.0, -0.5], [1.0, 2.0], [4.0, 4.0])
    jt = traj.to_joint_trajectory(names, dt=0.05)
    limits = {n: JointLimit(-2.0, 2.0, v) for n, v in zip(names, (1.0, 2.0), strict=True)}
    validated = validate_trajectory(jt, limits, now=0.0)
    assert validated.points[-1].time_from_start == pytest.approx(traj.duration)
    np.testing.assert_allclose(validated.points[-1].positions, [1.0, -0.5])
    with pytest.raises(ValueError, match='joint names'):
        traj.to_joint_trajectory(('only_one',))
