"""Head-camera and grasp-frame poses from joint positions + odometry match the simulator."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')

from humanoid_core.perception.camera_pose import RobotKinematics
from humanoid_core.sim.backend import MujocoBackend
from humanoid_core.sim.scene import load_scene, make_scene


@pytest.fixture(scope='module')
def kin() -> RobotKinematics:
    return RobotKinematics.humanoid()


def _rot_err_deg(a: np.ndarray, b: np.ndarray) -> float:
    c = (np.trace(a[:3, :3].T @ b[:3, :3]) - 1.0) / 2.0
    return math.degrees(math.acos(min(1.0, max(-1.0, c))))


@pytest.mark.parametrize(
    ('robot_pose', 'neck'),
    [((0.0, 0.0, 0.0), (0.0, 0.0)), ((0.3, -0.4, 0.7), (0.35, 0.3))],
)
def test_camera_pose_from_kinematics_matches_simulator(kin, robot_pose, neck) -> None:
    lab = load_scene('lab')
    scene = make_scene(lab.objects, robot_pose=robot_pose, base=lab)
    with MujocoBackend(scene) as sim:
        sim.set_joint_targets(['neck_yaw_joint', 'neck_pitch_joint'], list(neck))
        sim.step(600)
        st = sim.read_state()
        truth = sim.camera_pose('head_camera').matrix()
        import mujoco

        sid = mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_SITE, 'right_grasp_frame')
        grasp_truth = sim.data.site_xpos[sid].copy()
    assert st.position_of('neck_yaw_joint') == pytest.approx(neck[0], abs=0.02)
    kin.update(dict(zip(st.joint_names, st.positions, strict=True)), st.base_pose.position,
               st.base_pose.quaternion)  # fmt: skip
    est = kin.camera_pose()
    # the kinematic estimate assumes the stance sole flat on z = 0; the simulated feet sink a
    # few millimetres into the floor (contact softness), hence the 1 cm tolerance
    assert np.linalg.norm(est[:3, 3] - truth[:3, 3]) < 0.01
    assert _rot_err_deg(est, truth) < 1.0
    assert np.linalg.norm(kin.site_pose('right_grasp_frame')[:3, 3] - grasp_truth) < 0.01


def test_pelvis_mode_and_errors(kin) -> None:
    pelvis = RobotKinematics(kin.model, base_mode='pelvis')
    pelvis.update({}, (1.0, 2.0, 0.9), (1.0, 0.0, 0.0, 0.0))
    cam = pelvis.camera_pose()
    assert cam[2, 3] > 1.3 and cam[0, 3] > 1.0  # head camera above and ahead of the pelvis
    with pytest.raises(ValueError, match='base_mode'):
        RobotKinematics(kin.model, base_mode='sideways')
    with pytest.raises(ValueError, match='no camera'):
        RobotKinematics(kin.model, camera='tail_camera')
    with pytest.raises(ValueError, match='no site'):
        kin.site_pose('third_hand')


def test_near_body_marks_points_on_the_robot_in_its_pose(kin) -> None:
    """The self-filter: points on the robot's links (simulator ground truth, robot moved and
    arm raised) are marked, object points on the bench and points 5 cm off a link are not."""
    import mujoco

    lab = load_scene('lab')
    scene = make_scene(lab.objects, robot_pose=(-0.2, 0.1, 0.3), base=lab)
    arm = {'right_shoulder_pitch_joint': -1.0, 'right_elbow_joint': -0.6}
    with MujocoBackend(scene) as sim:
        sim.set_joint_targets(list(arm), list(arm.values()))
        sim.step(800)
        st = sim.read_state()
        geoms = {
            name: (sim.data.geom_xpos[g].copy(), sim.data.geom_xmat[g].reshape(3, 3).copy())
            for name in ('right_hand_collision', 'right_forearm_collision', 'head_collision')
            for g in [mujoco.mj_name2id(sim.model, mujoco.mjtObj.mjOBJ_GEOM, name)]
        }
        objects = [np.asarray(p.position) for p in sim.object_poses().values()]
    kin.update(dict(zip(st.joint_names, st.positions, strict=True)), st.base_pose.position,
               st.base_pose.quaternion)  # fmt: skip
    on_body = np.array([pos for pos, _ in geoms.values()])
    # 5 cm beyond the hand box's far face along its own x axis (half size 0.025)
    hand_pos, hand_rot = geoms['right_hand_collision']
    beside = hand_pos + hand_rot[:, 0] * (0.025 + 0.05)
    assert kin.near_body(on_body, 0.015).all()
    assert not kin.near_body(np.array([beside]), 0.015).any()
    assert kin.near_body(np.array([beside]), 0.06).all()
    assert not kin.near_body(np.array(objects), 0.015).any()
    assert kin.near_body(np.zeros((0, 3)), 0.015).shape == (0,)
