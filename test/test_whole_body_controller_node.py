"""The whole-body controller node across processes: MuJoCo simulator (cameras off) -> safety
supervisor (requires the controller's heartbeat) -> whole_body_controller, driven through its
action servers like the task planner does.

Checks: a MoveHand goal in front of the robot succeeds and the grasp frame, computed by forward
kinematics from the published joint_states, is within 1 cm of the target; a short WalkTo
succeeds, odometry moved by about the commanded distance and the robot is upright; bad goals
(unknown hand, NaN) give INVALID_GOAL; a target 2 m away gives UNREACHABLE and nothing moves.
The walk goes 0.3 m *backwards*: in the lab scene the bench stands right in front of the robot.
"""

from __future__ import annotations

from collections.abc import Iterator
import math
import threading
import time

import numpy as np
import pytest
from testutil import ROOT, Processes, ros_env, speed_args, wait_for_line

pytestmark = pytest.mark.slow

rclpy = pytest.importorskip('rclpy')
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from geometry_msgs.msg import PoseStamped  # noqa: E402
from humanoid_core.control.controller import estimate_pelvis_position  # noqa: E402
from humanoid_core.control.kinematics import RobotKinematics, rotation_error  # noqa: E402
from humanoid_core.planning.motion import top_down  # noqa: E402
from humanoid_core.robot.description import ROBOT_INFO  # noqa: E402
from humanoid_ros.executors import SideNode  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.executors import MultiThreadedExecutor  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Imu, JointState  # noqa: E402

from humanoid_interfaces.action import MoveHand, WalkTo  # noqa: E402
from humanoid_interfaces.msg import SafetyStatus  # noqa: E402

INSTALL = ROOT / 'install' / 'lib'
SIM = INSTALL / 'humanoid_hardware' / 'mujoco_sim'
SUPERVISOR = INSTALL / 'humanoid_safety' / 'safety_supervisor'
CONTROLLER = INSTALL / 'humanoid_control' / 'whole_body_controller'
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
TARGET = (0.33, -0.16, 0.88)  # world, in front of the robot, above the bench top


class Client:
    """Action clients + sensor subscriptions in the test process (spinning in a thread)."""

    def __init__(self) -> None:
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('wbc_test_client', context=self.context)
        self.lock = threading.Lock()
        self.joints: dict[str, float] = {}
        self.odom: Odometry | None = None
        self.imu: Imu | None = None
        self.status: SafetyStatus | None = None
        self.controller_state = ''
        n = self.node
        n.create_subscription(DiagnosticArray, 'diagnostics', self._on_diag, 10)
        # The 250 Hz sensor topics on the events executor (as the nodes do): through the
        # multi-threaded executor this client alone took 30-50 % of a core, beside the stack
        # on a 2-core machine.
        self.sensors = SideNode('wbc_test_sensors', '', self.context)
        side = self.sensors.node.create_subscription
        side(JointState, 'joint_states', self._on_js, qos_profile_sensor_data)
        side(Odometry, 'odom', self._on_odom, qos_profile_sensor_data)
        side(Imu, 'imu', self._on_imu, qos_profile_sensor_data)
        self.sensors.start()
        n.create_subscription(SafetyStatus, 'safety/status', self._on_status, LATCHED)
        self.move_hand = ActionClient(n, MoveHand, 'move_hand')
        self.walk_to = ActionClient(n, WalkTo, 'walk_to')
        self.executor = MultiThreadedExecutor(num_threads=2, context=self.context)
        self.executor.add_node(n)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_js(self, msg: JointState) -> None:
        with self.lock:
            self.joints = dict(zip(msg.name, msg.position, strict=True))

    def _on_odom(self, msg: Odometry) -> None:
        self.odom = msg

    def _on_imu(self, msg: Imu) -> None:
        self.imu = msg

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name.startswith('whole_body_controller:'):
                self.controller_state = st.message

    def _on_status(self, msg: SafetyStatus) -> None:
        self.status = msg

    def call(self, client: ActionClient, goal, timeout: float = 60.0):
        assert client.wait_for_server(timeout_sec=30.0), 'action server not available'
        future = client.send_goal_async(goal)
        deadline = time.monotonic() + timeout
        while not future.done():
            assert time.monotonic() < deadline, 'goal not accepted in time'
            time.sleep(0.02)
        handle = future.result()
        assert handle.accepted
        rf = handle.get_result_async()
        while not rf.done():
            assert time.monotonic() < deadline, 'no result in time'
            time.sleep(0.05)
        return rf.result().result

    def base(self) -> tuple[float, float, float]:
        assert self.odom is not None
        p, q = self.odom.pose.pose.position, self.odom.pose.pose.orientation
        yaw = math.atan2(2.0 * (q.w * q.z + q.x * q.y), 1.0 - 2.0 * (q.y**2 + q.z**2))
        return p.x, p.y, yaw

    def tilt(self) -> float:
        assert self.imu is not None
        o = self.imu.orientation
        # angle between the pelvis z axis and the world z axis
        zz = 1.0 - 2.0 * (o.x**2 + o.y**2)
        return math.acos(max(-1.0, min(1.0, zz)))

    def close(self) -> None:
        self.sensors.stop()
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.shutdown(context=self.context)
        self.thread.join(timeout=5)


@pytest.fixture(scope='module')
def system() -> Iterator[Client]:
    for exe in (SIM, SUPERVISOR, CONTROLLER):
        if not exe.exists():
            pytest.skip(f'{exe} not built (scripts/build.sh)')
    procs = Processes()
    env = ros_env()
    try:
        sim = procs.start(
            [str(SIM), '--ros-args', '-p', 'cameras_enabled:=false', *speed_args()], env=env
        )
        sup = procs.start(
            [str(SUPERVISOR), '--ros-args', '-p', "required_nodes:=['whole_body_controller']"],
            env=env,
        )
        ctl = procs.start([str(CONTROLLER), '--ros-args', *speed_args()], env=env)
        wait_for_line(ctl, 'whole-body controller up', timeout=90)
        wait_for_line(sup, 'safety supervisor up', timeout=90)
        assert sim.poll() is None, '\n'.join(sim.lines[-30:])  # type: ignore[attr-defined]
        client = Client()
        deadline = time.monotonic() + 60
        while (not client.joints or client.odom is None) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.joints, 'no joint_states from the simulator'
        while client.controller_state != 'running' and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.controller_state == 'running', (
            f'controller not running: {client.controller_state!r}\n' + '\n'.join(ctl.lines[-30:])  # type: ignore[attr-defined]
        )
        time.sleep(1.0)  # standing settles
        try:
            yield client
        finally:
            client.close()
    finally:
        procs.stop_all()


def _hand_pose(client: Client, kin: RobotKinematics, hand: str) -> np.ndarray:
    with client.lock:
        joints = {n: v for n, v in client.joints.items() if n in kin.qpos_index}
    assert client.imu is not None and client.odom is not None
    o = client.imu.orientation
    quat = np.array([o.w, o.x, o.y, o.z])
    x, y, _ = client.base()
    q = kin.q_from(joints, estimate_pelvis_position(kin, joints, (x, y), quat), quat)
    return kin.site_transform(q, ROBOT_INFO.grasp_frame(hand))


def _pose_goal(hand: str, xyz, yaw: float = 0.0) -> MoveHand.Goal:
    goal = MoveHand.Goal()
    goal.hand = hand
    ps = PoseStamped()
    ps.header.frame_id = 'world'
    ps.pose.position.x, ps.pose.position.y, ps.pose.position.z = (float(v) for v in xyz)
    qx, qy, qz, qw = top_down(yaw)
    o = ps.pose.orientation
    o.x, o.y, o.z, o.w = qx, qy, qz, qw
    goal.target = ps
    return goal


def test_bad_goals_are_refused_and_nothing_moves(system: Client) -> None:
    before = dict(system.joints)
    res = system.call(system.move_hand, _pose_goal('middle', TARGET))
    assert res.error_code == MoveHand.Result.INVALID_GOAL
    assert 'middle' in res.message
    res = system.call(system.move_hand, _pose_goal('left', (math.nan, 0.0, 1.0)))
    assert res.error_code == MoveHand.Result.INVALID_GOAL
    res = system.call(system.move_hand, _pose_goal('right', (2.0, -0.2, 1.0)))
    assert res.error_code == MoveHand.Result.UNREACHABLE, res.message
    time.sleep(0.5)
    after = dict(system.joints)
    arm = ROBOT_INFO.arm_joints('right')
    assert max(abs(after[n] - before[n]) for n in arm) < 0.03


def test_move_hand_reaches_target(system: Client) -> None:
    kin = RobotKinematics()
    res = system.call(system.move_hand, _pose_goal('right', TARGET), timeout=60)
    assert res.error_code == MoveHand.Result.SUCCESS, res.message
    assert res.position_error < 0.01
    time.sleep(0.3)
    T = _hand_pose(system, kin, 'right')
    err = float(np.linalg.norm(T[:3, 3] - np.array(TARGET)))
    x, y, z, w = top_down(0.0)
    R = np.zeros((3, 3))
    import mujoco

    mujoco.mju_quat2Mat(R.reshape(-1), np.array([w, x, y, z]))
    assert err < 0.01, f'hand {100 * err:.2f} cm from the target (by FK of joint_states)'
    assert rotation_error(T[:3, :3], R) < math.radians(5.0)
    assert system.tilt() < 0.2
    assert system.status is not None and not system.status.estopped


# (was an expected failure until the soles got torsional friction and backward steps were
# shortened to 0.1 m: 4 of 7 runs, the others ended 0.23-0.42 rad off the heading; then 10 of
# 10 runs. On the machine of the 2026-11-26 evening it fell again, 7 of 7 with the previous code
# and 3 of 4 with the current one: the simulator measured commands applied 36-58 ms (p95) after
# their stamp. Most of it was this test's own client: its multi-threaded executor took 30-50 %
# of a core for the 250 Hz sensor topics. With those on the events executor: 6 of 6 passed.)
# (After that it still fell in 1 of 3 fresh-clone `make test` runs on 2026-11-26 and was
# marked xfail. With the test stack at half speed below 4 CPUs (2026-11-27) it passed in every
# fresh-clone CI run since (at least 8): the mark is gone.)
def test_walk_to_backwards(system: Client) -> None:
    x0, y0, yaw0 = system.base()
    goal = WalkTo.Goal()
    goal.x, goal.y, goal.theta = x0 - 0.3, y0, yaw0
    res = system.call(system.walk_to, goal, timeout=80)
    assert system.status is not None
    assert res.error_code == WalkTo.Result.SUCCESS, (
        f'{res.message}; last rejection: {system.status.last_rejection}'
    )
    x1, y1, _ = system.base()
    moved = math.hypot(x1 - x0, y1 - y0)
    assert 0.2 < moved < 0.4, f'odometry moved {moved:.3f} m for a 0.3 m walk'
    assert system.tilt() < 0.2, 'the robot is not upright'
