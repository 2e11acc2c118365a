"""Message <-> core conversions of the hardware package."""

import math

from builtin_interfaces.msg import Duration, Time
from humanoid_core.sim.trajectory import JointLimit, TrajectoryError, validate_trajectory
import numpy as np
import pytest
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

from humanoid_hardware import conversions as conv


def test_time_round_trip() -> None:
    for t in (0.0, 0.002, 1.5, 12345.678901234):
        msg = conv.time_msg(t)
        assert 0 <= msg.nanosec < 1_000_000_000
        assert conv.time_from_msg(msg) == pytest.approx(t, abs=1e-9)


def _traj_msg(stamp: Time, velocities: bool) -> JointTrajectory:
    msg = JointTrajectory()
    msg.header.stamp = stamp
    msg.joint_names = ['a_joint', 'b_joint']
    for i, t in enumerate((0.5, 1.25)):
        p = JointTrajectoryPoint(positions=[0.1 * (i + 1), -0.1 * (i + 1)])
        if velocities:
            p.velocities = [0.0, 0.0]
        p.time_from_start = Duration(sec=int(t), nanosec=round((t % 1) * 1e9))
        msg.points.append(p)
    return msg


def test_trajectory_from_msg_zero_stamp_means_now() -> None:
    traj = conv.trajectory_from_msg(_traj_msg(Time(), velocities=False))
    assert traj.start_time is None
    assert traj.joint_names == ('a_joint', 'b_joint')
    assert [p.time_from_start for p in traj.points] == pytest.approx([0.5, 1.25])
    assert traj.points[1].positions == pytest.approx((0.2, -0.2))
    assert traj.points[0].velocities is None


def test_trajectory_from_msg_keeps_stamp_and_velocities() -> None:
    traj = conv.trajectory_from_msg(_traj_msg(Time(sec=3, nanosec=500_000_000), True))
    assert traj.start_time == pytest.approx(3.5)
    assert traj.points[0].velocities == (0.0, 0.0)
    limits = {'a_joint': JointLimit(-1, 1), 'b_joint': JointLimit(-1, 1)}
    with pytest.raises(TrajectoryError, match='in the past'):
        validate_trajectory(traj, limits, now=10.0)


def test_images_round_trip() -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (4, 6, 3), dtype=np.uint8)
    depth = np.linspace(0.5, 3.0, 24, dtype=np.float32).reshape(4, 6)
    depth[0, 0] = math.nan
    stamp = conv.time_msg(1.0)
    rgb_msg = conv.rgb_image_msg(rgb, stamp)
    assert (rgb_msg.encoding, rgb_msg.step, rgb_msg.header.frame_id) == (
        'rgb8',
        18,
        'head_camera_optical_frame',
    )
    np.testing.assert_array_equal(conv.image_to_numpy(rgb_msg), rgb)
    depth_msg = conv.depth_image_msg(depth, stamp)
    assert depth_msg.encoding == '32FC1' and depth_msg.step == 24
    np.testing.assert_array_equal(conv.image_to_numpy(depth_msg), depth)


def test_camera_info_matrices() -> None:
    from humanoid_core.sim.backend import CameraIntrinsics

    k = CameraIntrinsics.from_fovy(640, 480, 60.0)
    info = conv.camera_info_msg(k, conv.time_msg(0.0))
    assert info.k[0] == pytest.approx(240 / math.tan(math.radians(30)))
    assert info.k[2] == pytest.approx(319.5) and info.k[5] == pytest.approx(239.5)
    assert info.p[0] == info.k[0] and info.p[3] == 0.0
