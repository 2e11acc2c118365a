"""`humanoid launch launch/humanoid.launch.xml sim:=mujoco planner:=none headless:=true` brings
up the simulated robot: a separate process sees joint_states and 640x480 RGB-D streams, and a
JointTrajectory it sends moves the arm to within 1 degree. Rates are printed (the suite runs
on a shared, loaded machine; `humanoid bench sim` measures them properly) and only loose lower
bounds are asserted."""

from __future__ import annotations

import math
import threading
import time

from humanoid_bringup.stack import Stack, wait_until
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import Image, JointState
from testutil import ROOT
from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

pytestmark = pytest.mark.slow
JOINT = 'right_elbow_joint'


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    log = tmp_path_factory.mktemp('launch_sim') / 'stack.log'
    st = Stack(
        # controller:=false: this test commands the hardware topic directly; a running
        # whole-body controller would keep commanding its own posture through the supervisor.
        {'sim': 'mujoco', 'planner': 'none', 'headless': 'true', 'controller': 'false'},
        log,
        launch_file=ROOT / 'launch' / 'humanoid.launch.xml',
    )
    st.start()
    try:
        yield st
    finally:
        code = st.stop()
        assert code == 0, f'launcher exit {code}:\n{st.log_tail(40)}'


class Probe:
    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('launch_sim_probe', context=self.context)
        self.lock = threading.Lock()
        self.js: list[tuple[float, JointState]] = []
        self.rgb: list[tuple[float, Image]] = []
        self.depth: list[tuple[float, Image]] = []
        cam = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        n = self.node
        n.create_subscription(
            JointState, 'joint_states', self._add(self.js), qos_profile_sensor_data
        )
        n.create_subscription(Image, 'camera/color/image_raw', self._add(self.rgb), cam)
        n.create_subscription(Image, 'camera/depth/image_raw', self._add(self.depth), cam)
        self.pub = n.create_publisher(
            JointTrajectory, 'joint_trajectory_controller/joint_trajectory', 10
        )
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _add(self, store):
        def cb(msg):
            with self.lock:
                store.append((time.monotonic(), msg))
                del store[:-2000]

        return cb

    def rate(self, store, seconds: float) -> float:
        with self.lock:
            t_end = time.monotonic()
            n = sum(1 for t, _ in store if t > t_end - seconds)
        return n / seconds

    def position(self, joint: str) -> float | None:
        with self.lock:
            if not self.js:
                return None
            msg = self.js[-1][1]
        return msg.position[list(msg.name).index(joint)]

    def close(self) -> None:
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self.thread.join(timeout=2)


def test_streams_and_arm_command(stack):
    probe = Probe()
    try:
        assert wait_until(
            lambda: probe.js and probe.rgb and probe.depth, timeout=120, alive=stack.alive
        ), 'no joint_states / camera from the launched stack:\n' + stack.log_tail(30)
        time.sleep(4.0)
        js_hz, rgb_hz, depth_hz = (probe.rate(s, 3.0) for s in (probe.js, probe.rgb, probe.depth))
        print(f'joint_states {js_hz:.0f} Hz, rgb {rgb_hz:.1f} Hz, depth {depth_hz:.1f} Hz')
        assert js_hz > 50 and rgb_hz > 2 and depth_hz > 2
        img = probe.rgb[-1][1]
        assert (img.width, img.height, img.encoding) == (640, 480, 'rgb8')
        assert probe.depth[-1][1].encoding == '32FC1'

        target = -1.0
        traj = JointTrajectory(joint_names=[JOINT])
        traj.points = [JointTrajectoryPoint(positions=[target])]
        traj.points[0].time_from_start.sec = 2
        probe.pub.publish(traj)
        reached = wait_until(
            lambda: abs((probe.position(JOINT) or 0.0) - target) < math.radians(1.0),
            timeout=30,
        )
        assert reached, f'{JOINT} at {probe.position(JOINT)}, target {target}'
    finally:
        probe.close()
