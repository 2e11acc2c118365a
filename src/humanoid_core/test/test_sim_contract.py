"""The simulator CONTRACT: every `SimulatorBackend` must pass these tests.

Parameterised over backend factories; only MuJoCo exists now. A Gazebo or real-robot backend
adds its factory to BACKENDS (a factory takes `seed` and `control_period` keywords).
"""

import os

os.environ.setdefault('MUJOCO_GL', 'egl')  # before mujoco is imported: headless rendering

import math

from humanoid_core.sim.backend import MujocoBackend, SimulatorBackend
from humanoid_core.sim.trajectory import JointTrajectory, TrajectoryError
import numpy as np
import pytest

BACKENDS = {
    'mujoco': lambda **kw: MujocoBackend('lab', **kw),
}
ARM_JOINT = 'left_elbow_joint'
CAMERA = 'head_camera'


@pytest.fixture(params=sorted(BACKENDS), scope='module')
def factory(request):
    return BACKENDS[request.param]


@pytest.fixture(scope='module')
def sim(factory) -> SimulatorBackend:
    backend = factory(seed=None)
    yield backend
    backend.close()


@pytest.fixture
def fresh(sim: SimulatorBackend) -> SimulatorBackend:
    sim.reset(None)
    return sim


def test_reset_step_time(fresh: SimulatorBackend) -> None:
    assert fresh.time == 0.0
    assert fresh.timestep > 0.0
    k = fresh.control_period / fresh.timestep
    assert k == pytest.approx(round(k)) and round(k) >= 1
    fresh.step(10)
    assert fresh.time == pytest.approx(10 * fresh.control_period)
    fresh.reset(3)
    assert fresh.time == 0.0
    with pytest.raises(ValueError):
        fresh.step(-1)


def test_control_period_must_be_whole_multiple(factory) -> None:
    with pytest.raises(ValueError, match=r'0\.0025.*0\.001'):
        factory(control_period=0.0025)


def test_joint_names_and_state_shapes(fresh: SimulatorBackend) -> None:
    names = fresh.joint_names
    assert ARM_JOINT in names and len(set(names)) == len(names)
    st = fresh.read_state()
    assert st.joint_names == names
    for arr in (st.positions, st.velocities, st.efforts):
        assert arr.shape == (len(names),) and np.all(np.isfinite(arr))
    assert set(fresh.hands) == {'left', 'right'}
    assert set(st.gripper_widths) == set(fresh.hands)
    # odom: `base` on the floor, unit quaternions
    assert st.base_pose.position[2] == 0.0
    assert np.linalg.norm(st.base_pose.quaternion) == pytest.approx(1.0)
    assert np.linalg.norm(st.imu_orientation) == pytest.approx(1.0)


def test_imu_at_rest_measures_gravity(fresh: SimulatorBackend) -> None:
    fresh.step(round(0.5 / fresh.control_period))
    st = fresh.read_state()
    assert np.linalg.norm(st.imu_linear_acceleration) == pytest.approx(9.81, abs=0.5)
    assert np.linalg.norm(st.imu_angular_velocity) < 0.2
    assert np.linalg.norm(st.base_linear_velocity) < 0.1


def _run(sim: SimulatorBackend, seconds: float) -> None:
    sim.step(round(seconds / sim.control_period))


def test_determinism_same_seed_same_trajectory(factory) -> None:
    def rollout(seed):
        b = factory(seed=seed)
        try:
            b.set_joint_targets([ARM_JOINT], [-1.0])
            out = []
            for _ in range(40):
                b.step(5)
                st = b.read_state()
                objs = b.object_poses()
                out.append(
                    np.concatenate(
                        [st.positions, st.velocities] + [p.position for p in objs.values()]
                    )
                )
            return np.array(out), {k: v.position for k, v in objs.items()}
        finally:
            b.close()

    a, objs_a = rollout(5)
    b, _ = rollout(5)
    np.testing.assert_array_equal(a, b)
    _, objs_c = rollout(6)
    assert any(not np.allclose(objs_a[k], objs_c[k]) for k in objs_a)


def test_targets_move_joints(fresh: SimulatorBackend) -> None:
    assert fresh.set_joint_targets([ARM_JOINT], [-1.2]) == []
    _run(fresh, 1.5)
    assert math.degrees(abs(fresh.read_state().position_of(ARM_JOINT) + 1.2)) < 1.0


def test_limits_are_clamped_and_reported(fresh: SimulatorBackend) -> None:
    lim = fresh.joint_limits[ARM_JOINT]
    reports = fresh.set_joint_targets([ARM_JOINT], [lim.lower - 1.0])
    assert len(reports) == 1
    assert reports[0].joint == ARM_JOINT and reports[0].applied == pytest.approx(lim.lower)
    _run(fresh, 1.5)
    assert fresh.read_state().position_of(ARM_JOINT) >= lim.lower - math.radians(1.0)


def test_invalid_targets_raise(fresh: SimulatorBackend) -> None:
    with pytest.raises(ValueError, match='no_such_joint'):
        fresh.set_joint_targets(['no_such_joint'], [0.0])
    with pytest.raises(ValueError, match='non-finite'):
        fresh.set_joint_targets([ARM_JOINT], [math.nan])
    with pytest.raises(ValueError, match='1 joint names but 2 positions'):
        fresh.set_joint_targets([ARM_JOINT], [0.0, 0.1])
    with pytest.raises(ValueError, match="'middle'"):
        fresh.set_gripper('middle', 0.05)


def test_trajectory_is_interpolated_in_time(fresh: SimulatorBackend) -> None:
    q0 = fresh.read_state().position_of(ARM_JOINT)
    traj = JointTrajectory.from_lists(
        [ARM_JOINT], [([q0 - 0.8], None, 1.0), ([q0 - 1.0], None, 1.5)]
    )
    resolved = fresh.set_trajectory(traj)
    assert resolved.start_time == pytest.approx(0.0)
    _run(fresh, 0.5)
    mid = fresh.read_state().position_of(ARM_JOINT)
    assert q0 - 0.6 < mid < q0 - 0.2  # about halfway at t = 0.5 (servo lag allowed)
    _run(fresh, 1.5)
    assert math.degrees(abs(fresh.read_state().position_of(ARM_JOINT) - (q0 - 1.0))) < 1.0


def test_late_stamped_trajectory_plays_from_now(fresh: SimulatorBackend) -> None:
    """A trajectory stamped in the past (transport delay) is sampled at the current time, not
    restarted; one older than STALE_START_TOLERANCE is refused."""
    _run(fresh, 0.5)
    q0 = fresh.read_state().position_of(ARM_JOINT)
    now = fresh.time
    late = JointTrajectory.from_lists(
        [ARM_JOINT], [([q0], None, 0.0), ([q0 - 0.4], None, 0.2), ([q0 - 0.4], None, 1.0)],
        start_time=now - 0.2,
    )  # fmt: skip
    assert fresh.set_trajectory(late).start_time == pytest.approx(now - 0.2)
    _run(fresh, 0.1)  # already at the end of the ramp: the target is q0 - 0.4 from the start
    assert fresh.read_state().position_of(ARM_JOINT) < q0 - 0.25
    stale = JointTrajectory.from_lists([ARM_JOINT], [([q0], None, 0.5)], start_time=0.0)
    with pytest.raises(TrajectoryError, match='in the past'):
        fresh.set_trajectory(stale)


def test_invalid_trajectory_keeps_last_safe_target(fresh: SimulatorBackend) -> None:
    fresh.set_joint_targets([ARM_JOINT], [-0.9])
    _run(fresh, 1.0)
    for bad, match in (
        (JointTrajectory.from_lists([ARM_JOINT], [([math.nan], None, 1.0)]), 'not finite'),
        (JointTrajectory.from_lists(['ghost_joint'], [([0.0], None, 1.0)]), 'ghost_joint'),
        (JointTrajectory.from_lists([ARM_JOINT], [([5.0], None, 1.0)]), 'outside its limits'),
    ):
        with pytest.raises(TrajectoryError, match=match):
            fresh.set_trajectory(bad)
    _run(fresh, 1.0)
    assert math.degrees(abs(fresh.read_state().position_of(ARM_JOINT) + 0.9)) < 1.0


def test_gripper_width(fresh: SimulatorBackend) -> None:
    applied = fresh.set_gripper('left', 0.06)
    assert applied == pytest.approx(0.06)
    _run(fresh, 1.0)
    assert fresh.read_state().gripper_widths['left'] == pytest.approx(0.06, abs=0.003)
    assert fresh.set_gripper('right', 5.0) < 0.2  # clamped to the finger travel


def test_render_shapes_dtypes_and_depth_on_table(fresh: SimulatorBackend) -> None:
    img = fresh.render(CAMERA, 320, 240)
    assert img.rgb.shape == (240, 320, 3) and img.rgb.dtype == np.uint8
    assert img.depth is not None
    assert img.depth.shape == (240, 320) and img.depth.dtype == np.float32
    k = img.intrinsics
    assert (k.width, k.height) == (320, 240) and k.fx > 0 and k.fy > 0
    # a point on the bench top, projected with camera_pose + intrinsics, has the right depth
    point = np.array([0.47 + 0.15, 0.3, 0.72, 1.0])
    cam = np.linalg.inv(fresh.camera_pose(CAMERA).matrix()) @ point
    assert cam[2] > 0.2
    u = k.fx * cam[0] / cam[2] + k.cx
    v = k.fy * cam[1] / cam[2] + k.cy
    assert 0 <= u < 320 and 0 <= v < 240
    d = img.depth[round(v), round(u)]
    assert np.isfinite(d) and d == pytest.approx(cam[2], abs=0.03)
    rgb_only = fresh.render(CAMERA, 320, 240, depth=False)
    assert rgb_only.depth is None


def test_render_invalid_input(fresh: SimulatorBackend) -> None:
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        fresh.render('nope', 64, 48)
    with pytest.raises(ValueError, match='render size'):
        fresh.render(CAMERA, 100000, 48)
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        fresh.camera_pose('nope')


def test_object_poses_are_ground_truth(fresh: SimulatorBackend) -> None:
    poses = fresh.object_poses()
    assert {'red_cube', 'tray', 'bin'} <= set(poses)
    _run(fresh, 0.5)
    red = fresh.object_poses()['red_cube']
    assert red.position[2] == pytest.approx(0.72 + 0.025, abs=0.005)  # resting on the bench
