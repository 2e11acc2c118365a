"""The scene builder with the real humanoid and the lab objects."""

import os

os.environ.setdefault('MUJOCO_GL', 'egl')  # before mujoco is imported: headless rendering

from humanoid_core.sim.backend import MujocoBackend
from humanoid_core.sim.builder import OVERVIEW_CAMERA, build_model
from humanoid_core.sim.scene import load_scene
from humanoid_core.sim.standin_robot import standin_robot_spec
import mujoco
import numpy as np
import pytest

BENCH_OBJECTS = ('red_cube', 'blue_cube', 'green_cube', 'yellow_vial', 'tray')


@pytest.fixture(scope='module')
def lab():
    return load_scene('lab')


@pytest.fixture(scope='module')
def sim():
    backend = MujocoBackend('lab')
    yield backend
    backend.close()


def test_model_builds_with_robot_and_objects(lab) -> None:
    model, names = build_model(lab)
    assert model.opt.timestep == pytest.approx(0.001)
    assert model.opt.integrator == mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    assert model.opt.cone == mujoco.mjtCone.mjCONE_ELLIPTIC
    assert names.robot_root == 'pelvis'
    assert {OVERVIEW_CAMERA, 'head_camera'} <= set(names.cameras)
    assert 'left_elbow_joint' in names.joints and 'right_gripper_finger_left_joint' in names.joints
    assert all(names.actuators[j] == j for j in names.joints)
    for obj, spec in lab.objects.items():
        body = model.body(obj)
        assert body.jntnum[0] == 1
        assert model.jnt_type[body.jntadr[0]] == mujoco.mjtJoint.mjJNT_FREE
        assert model.body_subtreemass[body.id] == pytest.approx(spec.mass, rel=1e-6)
    tray = model.body('tray')
    assert tray.geomnum[0] == 5  # open box: base + 4 walls
    for light in range(model.nlight):
        assert not model.light_castshadow[light]


def test_model_without_robot_and_with_standin(lab) -> None:
    _, names = build_model(lab, with_robot=False)
    assert names.robot_root is None and names.joints == ()
    _model, names = build_model(lab, robot_spec=standin_robot_spec())
    assert names.joints[0] == 'left_shoulder_pitch_joint'


def test_objects_rest_and_robot_stands(sim) -> None:
    sim.reset(None)
    start = {k: p.position.copy() for k, p in sim.object_poses().items()}
    sim.step(round(2.0 / sim.control_period))
    for name, pose in sim.object_poses().items():
        assert np.linalg.norm(pose.position - start[name]) < 0.005, name
    st = sim.read_state()
    assert st.pelvis_pose.position[2] > 0.75
    assert np.linalg.norm(st.base_pose.position[:2]) < 0.05


def _project(sim, point):
    cam = np.linalg.inv(sim.camera_pose('head_camera').matrix()) @ np.r_[point, 1.0]
    return cam


def test_head_camera_sees_every_bench_object(sim) -> None:
    sim.reset(None)
    sim.step(50)
    img = sim.render('head_camera', 640, 480)
    k = img.intrinsics
    expected = {
        'red_cube': (0, 'red'),
        'blue_cube': (2, 'blue'),
        'green_cube': (1, 'green'),
    }
    for name in BENCH_OBJECTS:
        pos = sim.object_poses()[name].position
        cam = _project(sim, pos)
        u = round(k.fx * cam[0] / cam[2] + k.cx)
        v = round(k.fy * cam[1] / cam[2] + k.cy)
        assert 0 <= u < 640 and 0 <= v < 480, f'{name} outside the head camera image'
        # depth at the object's pixel is in front of the bench top, not the floor
        assert img.depth[v, u] < cam[2] + 0.03, name
        if name in expected:
            channel, colour = expected[name]
            px = img.rgb[v, u].astype(int)
            assert px[channel] > 100 and px[channel] > 2 * np.delete(px, channel).max(), (
                f'{name} pixel {px} is not {colour}'
            )
    # yellow vial: red and green high, blue low
    cam = _project(sim, sim.object_poses()['yellow_vial'].position)
    u = round(k.fx * cam[0] / cam[2] + k.cx)
    v = round(k.fy * cam[1] / cam[2] + k.cy)
    r, g, b = img.rgb[v, u].astype(int)
    assert r > 100 and g > 100 and b < 0.5 * min(r, g)


def test_randomized_reset_moves_objects(sim) -> None:
    sim.reset(4)
    layout = sim.scene.randomize(4)
    red = sim.object_poses()['red_cube'].position
    np.testing.assert_allclose(red, layout['red_cube'].position, atol=1e-9)


def test_set_object_pose_teleports_and_validates(sim) -> None:
    sim.reset(None)
    sim.set_object_pose('red_cube', [0.5, 0.3, 0.746])
    np.testing.assert_allclose(sim.object_poses()['red_cube'].position, [0.5, 0.3, 0.746])
    sim.step(100)
    assert sim.object_poses()['red_cube'].position[2] == pytest.approx(0.745, abs=0.003)
    with pytest.raises(ValueError, match="'ghost'"):
        sim.set_object_pose('ghost', [0, 0, 1])
    with pytest.raises(ValueError, match='finite'):
        sim.set_object_pose('red_cube', [0, float('nan'), 1])
