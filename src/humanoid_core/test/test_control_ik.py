"""Kinematics and whole-body IK on the humanoid's MuJoCo model (mink)."""

from __future__ import annotations

import math

from humanoid_core.control.ik import (
    IKSettings,
    WholeBodyIK,
    sample_reachable_hand_targets,
    self_collision_distance,
)
from humanoid_core.control.kinematics import RobotKinematics, rotation_error
from humanoid_core.robot.description import ROBOT_INFO
import numpy as np
import pytest


@pytest.fixture(scope='module')
def ik() -> WholeBodyIK:
    return WholeBodyIK()


def _random_q(kin: RobotKinematics, rng: np.random.Generator) -> np.ndarray:
    q = kin.standing_q()
    for _name, idx in kin.qpos_index.items():
        lo, hi = kin.lower[idx], kin.upper[idx]
        q[idx] = rng.uniform(0.7 * lo + 0.3 * hi, 0.3 * lo + 0.7 * hi)
    quat = rng.normal(size=4)
    q[kin.base_qpos + 3 : kin.base_qpos + 7] = quat / np.linalg.norm(quat)
    return q


@pytest.mark.parametrize('site', ['right_grasp_frame', 'left_grasp_frame', 'left_sole'])
def test_site_jacobian_matches_finite_differences(ik, site):
    kin = ik.kin
    rng = np.random.default_rng(7)
    for _ in range(3):
        q = _random_q(kin, rng)
        J = kin.site_jacobian(q, site)
        T0 = kin.site_transform(q, site)
        eps = 1e-6
        J_fd = np.zeros_like(J)
        for i in range(kin.nv):
            dv = np.zeros(kin.nv)
            dv[i] = eps
            T1 = kin.site_transform(kin.integrate(q, dv), site)
            J_fd[:3, i] = (T1[:3, 3] - T0[:3, 3]) / eps
            # Angular velocity (world) from the rotation change: log(R1 R0^T) / eps.
            dR = T1[:3, :3] @ T0[:3, :3].T
            J_fd[3:, i] = np.array([dR[2, 1] - dR[1, 2], dR[0, 2] - dR[2, 0],
                                    dR[1, 0] - dR[0, 1]]) / (2 * eps)  # fmt: skip
        np.testing.assert_allclose(J, J_fd, atol=2e-5)
        # The grasp frame depends on its own arm, not on the other arm.
        if site == 'right_grasp_frame':
            for name in ROBOT_INFO.arm_joints('left'):
                assert np.allclose(J[:, kin.dof_index[name]], 0.0)


def test_reachable_targets_converge_within_limits(ik):
    kin = ik.kin
    q0 = kin.standing_q()
    rng = np.random.default_rng(11)
    feet0 = {s: kin.site_transform(q0, ROBOT_INFO.sole_frame(s)) for s in ('left', 'right')}
    for hand in ('left', 'right'):
        for target in sample_reachable_hand_targets(kin, hand, 10, rng):
            res = ik.solve_hand_pose(hand, target, q0)
            q, pos_err, rot_err, converged = res
            assert converged, (hand, target[:3, 3], pos_err, rot_err, res.com_margin)
            T = kin.site_transform(q, ROBOT_INFO.grasp_frame(hand))
            assert np.linalg.norm(T[:3, 3] - target[:3, 3]) == pytest.approx(pos_err)
            assert pos_err < 0.005 and rot_err < math.radians(2.0)
            assert rotation_error(T[:3, :3], target[:3, :3]) == pytest.approx(rot_err)
            assert kin.within_limits(q)
            # Feet stay put, CoM stays over the support polygon.
            for side, T0 in feet0.items():
                T1 = kin.site_transform(q, ROBOT_INFO.sole_frame(side))
                assert np.linalg.norm(T1[:3, 3] - T0[:3, 3]) < 0.002
                assert rotation_error(T1[:3, :3], T0[:3, :3]) < 0.01
            assert res.com_margin > 0.01


def test_unreachable_target_reports_residual_and_respects_limits(ik):
    kin = ik.kin
    q0 = kin.standing_q()
    far = np.eye(4)
    far[:3, 3] = [1.5, -0.2, 1.0]
    res = ik.solve_hand_pose('right', far, q0)
    assert not res.converged
    assert res.position_error > 0.5
    assert kin.within_limits(res.q)
    # Reaching far stretches the arm into its limits: they bind but are never violated.
    at_limit = np.isclose(res.q, kin.lower, atol=1e-3) | np.isclose(res.q, kin.upper, atol=1e-3)
    assert at_limit.any()
    # Feet stay on the floor and the CoM stays over the feet even for a hopeless target.
    for side in ('left', 'right'):
        T0 = kin.site_transform(q0, ROBOT_INFO.sole_frame(side))
        T1 = kin.site_transform(res.q, ROBOT_INFO.sole_frame(side))
        assert np.linalg.norm(T1[:3, 3] - T0[:3, 3]) < 0.005
    assert res.com_margin > 0.0


def test_ik_bad_input_is_named(ik):
    q0 = ik.kin.standing_q()
    with pytest.raises(ValueError, match='hand must be one of'):
        ik.solve_hand_pose('middle', np.eye(4), q0)
    with pytest.raises(ValueError, match='q_init must have shape'):
        ik.solve_hand_pose('left', np.eye(4), q0[:10])
    with pytest.raises(TypeError, match='pose must be'):
        ik.solve_hand_pose('left', 'on the table', q0)
    with pytest.raises(ValueError, match='unknown joints'):
        ik.kin.q_from({'tail_joint': 0.1})


def test_walk_frame_places_feet_and_com(ik):
    kin = ik.kin
    q = kin.standing_q()
    left = np.eye(4)
    left[:3, 3] = [0.1, 0.1, 0.03]
    c, s = math.cos(0.2), math.sin(0.2)
    left[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    right = np.eye(4)
    right[:3, 3] = [-0.05, -0.095, 0.0]
    for _ in range(10):
        q = ik.solve_walk_frame(np.array([0.02, -0.03]), left, right, q, com_height=0.8)
    for side, T in (('left', left), ('right', right)):
        T1 = kin.site_transform(q, ROBOT_INFO.sole_frame(side))
        assert np.linalg.norm(T1[:3, 3] - T[:3, 3]) < 0.002
        assert rotation_error(T1[:3, :3], T[:3, :3]) < 0.01
    np.testing.assert_allclose(kin.com(q), [0.02, -0.03, 0.8], atol=0.003)
    assert kin.within_limits(q)


# The controller's plan IK at the lab station, the right hand holding the vial over its place
# spot (in-process trace, 2026-11-27): the reach turns the waist 0.57 rad. With the collision
# limit's band 5 cm past the margin, the free left arm jumped from outside the band into the
# pelvis and thigh in one step (-1.5 cm; -4.5 cm keeping the free hand in place), and the
# safety supervisor rejected every command of the place.
_STATION_Q = [
    0.01861, -2.015, 0.8063, 0.99966, -0.00024, -0.00632, -0.02518, 0.00067, -0.01931, -0.51276,
    0.9517, -0.42744, 0.01992, 9e-05, 0.03144, -0.50713, 0.95138, -0.43224, -0.0318, 0.0009,
    0.08723, 0.49349, 0.10001, 0.15, 0.0, -0.35, 0.0, -0.0, -0.0, -3e-05, 0.00019, 0.46009,
    -0.12281, 0.29088, -1.64964, -0.0705, -0.45367, 0.21644, 0.01972, 0.02007,
]  # fmt: skip
_STATION_TARGET = [[0.0, 0.0, 1.0, 0.29], [0.0, 1.0, 0.0, -2.0], [-1.0, 0.0, 0.0, 0.957]]


@pytest.mark.parametrize('retry', [False, True])
@pytest.mark.parametrize('other_hand_cost', [0.0, 1.0])
def test_a_reach_turning_the_waist_keeps_the_free_arm_out_of_the_body(other_hand_cost, retry):
    """Also without the retry at a lower gain: the wider band alone keeps the arm out."""
    ik = (
        WholeBodyIK()
        if retry
        else WholeBodyIK(settings=IKSettings(self_collision_retry_gain=0.85))
    )
    q0 = np.array(_STATION_Q)
    T = np.vstack([np.array(_STATION_TARGET), [0.0, 0.0, 0.0, 1.0]])
    margin = ik.settings.self_collision_margin
    assert self_collision_distance(ik.kin, q0) > 0.5 * margin
    res = ik.solve_hand_pose('right', T, q0, other_hand_cost=other_hand_cost)
    assert res.position_error < 0.01
    assert self_collision_distance(ik.kin, np.asarray(res.q)) > 0.5 * margin


def test_a_reach_near_the_body_is_solved_again_with_smaller_steps():
    """Reaching beside the hip from standing: at mink's gain the linearised limit let the
    forearm end 4 mm from the body (margin 2 cm); the retry with the lower gain keeps 1 cm."""
    T = np.eye(4)
    T[:3, 3] = (0.14, -0.20, 0.95)
    T[:3, :3] = [[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]]
    no_retry = WholeBodyIK(settings=IKSettings(self_collision_retry_gain=0.85))
    q0 = no_retry.kin.standing_q()
    first = no_retry.solve_hand_pose('right', T, q0)
    margin = no_retry.settings.self_collision_margin
    assert self_collision_distance(no_retry.kin, np.asarray(first.q)) < 0.5 * margin
    res = WholeBodyIK().solve_hand_pose('right', T, q0)
    assert res.position_error < 0.005
    assert self_collision_distance(no_retry.kin, np.asarray(res.q)) >= 0.5 * margin


def test_ik_collision_settings_are_checked():
    with pytest.raises(ValueError, match='self_collision_gain'):
        IKSettings(self_collision_gain=0.0)
    with pytest.raises(ValueError, match='self_collision_retry_gain'):
        IKSettings(self_collision_retry_gain=1.5)
    with pytest.raises(ValueError, match='self_collision_detection'):
        IKSettings(self_collision_detection=-0.1)
