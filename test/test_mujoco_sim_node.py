"""The `mujoco_sim` node in its own process, driven over real DDS from this test process."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import math
import os
from pathlib import Path
import subprocess
import sys
import time

import numpy as np
import pytest

rclpy = pytest.importorskip('rclpy')

from builtin_interfaces.msg import Duration, Time  # noqa: E402
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus  # noqa: E402
from humanoid_hardware.conversions import image_to_numpy  # noqa: E402
from humanoid_hardware.qos import CAMERA_QOS, COMMAND_QOS, LATCHED_QOS  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import qos_profile_sensor_data  # noqa: E402
from rosgraph_msgs.msg import Clock  # noqa: E402
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState  # noqa: E402
from std_msgs.msg import Float64, String  # noqa: E402
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint  # noqa: E402

from humanoid_interfaces.msg import ObjectArray  # noqa: E402
from humanoid_interfaces.srv import ResetSim  # noqa: E402

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
EXECUTABLE = ROOT / 'install' / 'lib' / 'humanoid_hardware' / 'mujoco_sim'
JOINT = 'left_elbow_joint'


def _command() -> list[str]:
    if EXECUTABLE.exists():
        return [str(EXECUTABLE)]
    return [sys.executable, '-m', 'humanoid_hardware.mujoco_sim_node']


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 1))
    env.setdefault('MUJOCO_GL', 'egl')
    return env


class Probe:
    """A test node that records the latest message per topic and counts them."""

    def __init__(self) -> None:
        self.context = rclpy.context.Context()
        rclpy.init(context=self.context, domain_id=int(_env()['ROS_DOMAIN_ID']))
        self.node = rclpy.create_node('sim_probe', context=self.context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.last: dict[str, object] = {}
        self.count: dict[str, int] = {}
        subs = [
            (JointState, 'joint_states', qos_profile_sensor_data),
            (Imu, 'imu', qos_profile_sensor_data),
            (Odometry, 'odom', qos_profile_sensor_data),
            (Clock, 'clock', qos_profile_sensor_data),
            (Image, 'camera/color/image_raw', CAMERA_QOS),
            (Image, 'camera/depth/image_raw', CAMERA_QOS),
            (CameraInfo, 'camera/color/camera_info', CAMERA_QOS),
            (String, 'robot_description', LATCHED_QOS),
            (ObjectArray, 'sim/object_poses', LATCHED_QOS),
            (DiagnosticArray, 'diagnostics', 10),
        ]
        for msg_type, topic, qos in subs:
            self.node.create_subscription(msg_type, topic, self._recorder(topic), qos)
        self.traj_pub = self.node.create_publisher(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory', COMMAND_QOS
        )
        self.gripper_pub = self.node.create_publisher(Float64, 'gripper/left/command', COMMAND_QOS)
        self.reset_client = self.node.create_client(ResetSim, 'sim/reset')

    def _recorder(self, topic: str) -> Callable[[object], None]:
        def cb(msg: object) -> None:
            self.last[topic] = msg
            self.count[topic] = self.count.get(topic, 0) + 1

        return cb

    def spin_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if predicate():
                return True
            self.executor.spin_once(timeout_sec=0.05)
        return predicate()

    def spin_for(self, seconds: float) -> None:
        self.spin_until(lambda: False, seconds)

    def joint(self, name: str) -> float:
        msg = self.last['joint_states']
        return float(msg.position[list(msg.name).index(name)])

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)


@pytest.fixture(scope='module')
def sim_process(tmp_path_factory) -> Iterator[tuple[subprocess.Popen, Path]]:
    log = tmp_path_factory.mktemp('mujoco_sim') / 'node.log'
    with open(log, 'w') as out:
        proc = subprocess.Popen(
            [*_command(), '--ros-args', '-p', 'headless:=true', '-p', 'camera_rate:=10.0'],
            env=_env(), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.send_signal(2)  # SIGINT: clean shutdown
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)


@pytest.fixture(scope='module')
def probe(sim_process) -> Iterator[Probe]:
    p = Probe()
    try:
        ok = p.spin_until(lambda: 'joint_states' in p.last, timeout=60.0)
        _proc, log = sim_process
        assert ok, f'no joint_states from mujoco_sim; log:\n{log.read_text()[-3000:]}'
        yield p
    finally:
        p.close()


def _trajectory(positions: dict[str, float], seconds: float) -> JointTrajectory:
    msg = JointTrajectory()  # header stamp zero: start now
    msg.joint_names = list(positions)
    point = JointTrajectoryPoint()
    point.positions = [float(v) for v in positions.values()]
    point.time_from_start = Duration(sec=int(seconds), nanosec=int((seconds % 1) * 1e9))
    msg.points = [point]
    return msg


def test_topics_arrive(probe: Probe) -> None:
    topics = [
        'joint_states', 'imu', 'odom', 'clock', 'camera/color/image_raw',
        'camera/depth/image_raw', 'camera/color/camera_info', 'robot_description',
        'sim/object_poses',
    ]  # fmt: skip
    assert probe.spin_until(lambda: all(t in probe.last for t in topics), timeout=30.0), (
        f'missing topics: {[t for t in topics if t not in probe.last]}'
    )
    start = dict(probe.count)
    t0 = time.monotonic()
    probe.spin_for(3.0)
    elapsed = time.monotonic() - t0
    rates = {t: (probe.count[t] - start.get(t, 0)) / elapsed for t in topics[:6]}
    print('rates seen by the probe (Hz):', {k: round(v, 1) for k, v in rates.items()})
    assert rates['joint_states'] > 20.0  # loose: the machine is shared

    js = probe.last['joint_states']
    assert JOINT in js.name and len(js.name) == len(js.position) == len(js.velocity)
    assert js.header.stamp.sec > 0 or js.header.stamp.nanosec > 0  # sim time stamps
    rgb = image_to_numpy(probe.last['camera/color/image_raw'])
    depth = image_to_numpy(probe.last['camera/depth/image_raw'])
    assert rgb.shape == (480, 640, 3) and depth.shape == (480, 640)
    assert probe.last['camera/depth/image_raw'].encoding == '32FC1'
    centre = depth[200:280, 280:360]
    assert np.isfinite(centre).all() and 0.3 < float(np.median(centre)) < 2.0  # the bench
    info = probe.last['camera/color/camera_info']
    assert info.k[0] > 0 and info.width == 640
    odom = probe.last['odom']
    assert odom.header.frame_id == 'world' and odom.child_frame_id == 'base'
    assert abs(probe.last['imu'].linear_acceleration.z) > 5.0  # gravity
    assert '<robot' in probe.last['robot_description'].data
    objects = {o.id: o for o in probe.last['sim/object_poses'].objects}
    assert objects['red_cube'].pose.position.z == pytest.approx(0.745, abs=0.01)
    assert objects['tray'].is_container


def test_trajectory_moves_arm_joint(probe: Probe) -> None:
    target = probe.joint(JOINT) - 0.6
    probe.traj_pub.publish(_trajectory({JOINT: target}, 1.0))
    reached = probe.spin_until(
        lambda: abs(probe.joint(JOINT) - target) < math.radians(1.0), timeout=20.0
    )
    assert reached, f'{JOINT} at {probe.joint(JOINT):.3f}, target {target:.3f}'


def test_invalid_trajectories_are_rejected_and_robot_holds(probe: Probe, sim_process) -> None:
    _, log = sim_process
    probe.spin_for(0.5)
    hold = probe.joint(JOINT)
    probe.traj_pub.publish(_trajectory({JOINT: math.nan}, 1.0))
    probe.traj_pub.publish(_trajectory({'ghost_joint': 0.3}, 1.0))
    probe.traj_pub.publish(_trajectory({JOINT: 10.0}, 1.0))
    probe.spin_for(2.0)
    assert abs(probe.joint(JOINT) - hold) < math.radians(1.0)
    text = log.read_text()
    assert 'rejected joint trajectory' in text
    assert 'not finite' in text and 'ghost_joint' in text and 'outside its limits' in text


def test_late_stamped_commands_are_counted_and_reported(probe: Probe) -> None:
    """Trajectories stamped 60 ms (sim time) before the newest joint_states, as a controller
    that is too slow would send them: the simulator's diagnostics report their age and count
    them late (more than 20 ms), at WARN level with a message saying so."""
    lag = 0.06

    def late_report() -> dict[str, str] | None:
        msg = probe.last.get('diagnostics')
        if msg is None:
            return None
        status = msg.status[0]
        values = {kv.key: kv.value for kv in status.values}
        if float(values.get('commands_late', 0)) < 5:
            return None
        return {'level': status.level, 'message': status.message, **values}

    probe.last.pop('diagnostics', None)
    report = None
    end = time.monotonic() + 20.0
    while report is None and time.monotonic() < end:
        js = probe.last['joint_states']
        stamp = js.header.stamp.sec + 1e-9 * js.header.stamp.nanosec - lag
        msg = _trajectory({'neck_yaw_joint': probe.joint('neck_yaw_joint')}, 0.2)
        msg.header.stamp = Time(sec=int(stamp), nanosec=int((stamp % 1.0) * 1e9))
        probe.traj_pub.publish(msg)
        probe.spin_for(0.02)
        report = late_report()
    assert report is not None, f'no late commands reported; last: {probe.last.get("diagnostics")}'
    assert float(report['command_age_ms_median']) >= 1e3 * lag
    assert float(report['command_age_ms_max']) >= float(report['command_age_ms_median'])
    assert report['level'] == DiagnosticStatus.WARN
    assert 'after their stamp' in report['message'] and 'walking may fall' in report['message']


def test_gripper_command(probe: Probe) -> None:
    probe.gripper_pub.publish(Float64(data=0.06))

    def width() -> float:
        return probe.joint('left_gripper_finger_left_joint') + probe.joint(
            'left_gripper_finger_right_joint'
        )

    assert probe.spin_until(lambda: abs(width() - 0.06) < 0.003, timeout=15.0), width()


def test_reset_service_randomizes_layout(probe: Probe) -> None:
    assert probe.reset_client.wait_for_service(timeout_sec=10.0)
    before = {o.id: o.pose.position for o in probe.last['sim/object_poses'].objects}
    future = probe.reset_client.call_async(ResetSim.Request(seed=3))
    assert probe.spin_until(future.done, timeout=20.0)
    assert future.result().success, future.result().message
    probe.last.pop('sim/object_poses')
    assert probe.spin_until(lambda: 'sim/object_poses' in probe.last, timeout=10.0)
    after = {o.id: o.pose.position for o in probe.last['sim/object_poses'].objects}
    moved = [
        k for k in after if abs(after[k].x - before[k].x) + abs(after[k].y - before[k].y) > 1e-3
    ]
    assert moved, 'reset with seed 3 did not move any object'


def test_bad_parameter_fails_naming_it(tmp_path) -> None:
    done = subprocess.run(
        [*_command(), '--ros-args', '-p', 'control_period:=0.0025'],
        env=_env(), capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode != 0
    assert 'control_period' in done.stderr + done.stdout
