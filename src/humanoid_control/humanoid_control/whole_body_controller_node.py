"""`whole_body_controller`: motion action servers around `WholeBodyController`.

Wiring only (the robotics is in `humanoid_core.control.controller`):

- subscribes `joint_states`, `imu`, `odom` (best effort sensor QoS) and ticks the controller on
  `joint_states` messages, decimated to `control_rate` on their stamps (sim time in
  simulation, so a faster-than-real-time simulator is followed correctly);
- publishes each tick's command on `safety_supervisor/joint_trajectory` and
  `safety_supervisor/gripper/{left,right}/command` (reliable; the safety supervisor forwards
  accepted commands to the hardware);
- action servers `move_hand`, `grasp`, `release`, `walk_to`, `look_at`, `go_to_posture`
  (feedback while running, results with the actions' error codes; a new goal on the same
  resource preempts the running one: PREEMPTED; cancel requests are honoured);
- `cmd_vel` (geometry_msgs/Twist, body frame) walks at that velocity, stopping
  `cmd_vel_timeout` s after the last message;
- `safety/status` (latched): while e-stopped, goals end with ESTOPPED and nothing is sent;
- `world_state` (latched, from the world model), with `avoid_objects` (on by default): the
  containers on the tables (tray, bin) become obstacles that hand paths go around, and the
  loose objects ones that hand paths pass no nearer than their ends (taken when a move_hand
  goal starts);
- `diagnostics` heartbeat (status 'whole_body_controller: controller') at `diagnostics_rate`
  on the steady clock, as the safety supervisor requires.

Run: `install/lib/humanoid_control/whole_body_controller [--ros-args -p control_rate:=100.0]`.
"""

from __future__ import annotations

from collections import OrderedDict
import math
import sys
import threading
import time
from typing import Any, TypeVar

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from geometry_msgs.msg import Twist
from humanoid_core.control.controller import (
    Activity,
    ControllerConfig,
    ErrorCode,
    WholeBodyController,
    avoid_sets,
)
from humanoid_core.control.kinematics import RobotKinematics
from humanoid_core.control.loop_health import LoopMonitor
from humanoid_ros.executors import SideNode, spin_until_shutdown
from humanoid_ros.params import ParameterError, declare_parameters
from humanoid_ros.world import world_from_msg
from nav_msgs.msg import Odometry
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.exceptions import ParameterException
from rclpy.executors import (
    ExternalShutdownException,
    MultiThreadedExecutor,
)
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Float64
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from humanoid_control import conversions as conv
from humanoid_interfaces.action import GoToPosture, Grasp, LookAt, MoveHand, Release, WalkTo
from humanoid_interfaces.msg import SafetyStatus, WorldState

NODE_NAME = 'whole_body_controller'
HANDS = ('left', 'right')
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
LATCHED_QOS = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

PARAMETERS = [
    ('control_rate', 100.0, 'controller ticks per second of joint_states time, Hz', (10.0, 500.0)),
    ('diagnostics_rate', 2.0, 'heartbeat on diagnostics, Hz (steady clock)', (1.0, 50.0)),
    ('startup_wait', 15.0,
     's a goal waits for the first joint states before failing (controller starting)',
     (0.0, 120.0)),
    ('sync_timeout', 0.01,
     'wall s a tick waits for the odom/imu sample stamped like its joint_states', (0.0, 0.1)),
    ('goal_timeout', 120.0, 'wall-clock limit of one action goal, s (then TIMEOUT)',
     (1.0, 3600.0)),
    ('real_time_factor', 1.0,
     "the simulator's sim seconds per wall second: goal_timeout is divided by it", (0.05, 10.0)),
    ('position_tolerance', 0.01, 'move_hand success: grasp frame position error, m',
     (0.001, 0.1)),
    ('orientation_tolerance', 5.0, 'move_hand success: orientation error, deg', (0.1, 90.0)),
    ('max_corrections', 3, 'closed-loop reach corrections from the measured hand pose', (0, 10)),
    ('max_joint_velocity', 1.0, 'speed cap of planned joint moves, rad/s', (0.05, 10.0)),
    ('max_joint_acceleration', 3.0, 'acceleration cap of planned joint moves, rad/s^2',
     (0.1, 100.0)),
    ('gravity_compensation', True, 'add servo gravity-sag offsets to arm/waist/neck targets',
     None),
    ('walk_position_tolerance', 0.15, 'walk_to default position tolerance, m', (0.01, 1.0)),
    ('walk_angle_tolerance', 0.15, 'walk_to default heading tolerance, rad', (0.01, 3.2)),
    ('retreat_distance', 0.25, 'step back from a table before walking elsewhere, m', (0.0, 1.0)),
    ('cmd_vel_timeout', 0.5, 'stop walking this long after the last cmd_vel, s', (0.05, 10.0)),
    ('steady_wait', 15.0,
     'walk_to waits up to this long for a steady control loop (1 s of on-time ticks), s',
     (0.0, 120.0)),
    ('fall_tilt', 0.6, 'pelvis roll/pitch beyond which the robot has fallen, rad', (0.1, 1.5)),
    ('postures_file', '', 'named postures YAML ("" = config/postures.yaml)', None),
    ('limits_file', '', 'safety limits YAML for keep-out boxes ("" = config/safety.yaml)', None),
    ('avoid_objects', True, 'hand paths go around the containers in world_state (raised '
     'and straight-line waypoints), e.g. over a bin\'s wall, and pass the other objects no '
     'nearer than where they start or end (docs/DESIGN.md)', None),
]  # fmt: skip


_T = TypeVar('_T')


def _stamp_ns(stamp: Any) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class _StampBuffer(OrderedDict[int, _T]):
    """The last `size` messages by stamp (ns)."""

    def __init__(self, size: int = 32) -> None:
        super().__init__()
        self.size = size

    def __setitem__(self, key: int, value: _T) -> None:
        super().__setitem__(key, value)
        while len(self) > self.size:
            self.popitem(last=False)


class WholeBodyControllerNode(Node):
    """Wiring around `WholeBodyController` (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        p = declare_parameters(self, PARAMETERS)
        self.params = p
        try:
            config = ControllerConfig(
                control_dt=1.0 / p['control_rate'],
                position_tolerance=p['position_tolerance'],
                orientation_tolerance=math.radians(p['orientation_tolerance']),
                max_corrections=p['max_corrections'],
                max_joint_velocity=p['max_joint_velocity'],
                max_joint_acceleration=p['max_joint_acceleration'],
                gravity_compensation=p['gravity_compensation'],
                walk_position_tolerance=p['walk_position_tolerance'],
                walk_angle_tolerance=p['walk_angle_tolerance'],
                retreat_distance=p['retreat_distance'],
                cmd_vel_timeout=p['cmd_vel_timeout'],
                fall_tilt=p['fall_tilt'],
                fall_height=0.0,  # the pelvis height is estimated from the legs here
                postures_file=p['postures_file'],
                safety_file=p['limits_file'],
            )
            self.ctrl = WholeBodyController(config)
        except (OSError, ValueError) as exc:
            raise ParameterError(f'controller configuration: {exc}') from exc
        self._period = 1.0 / p['control_rate']
        self._next_tick: float | None = None
        self._odom: Odometry | None = None
        self._imu: Imu | None = None
        self._ticks = 0
        self._last_error = ''
        self._stop = threading.Event()

        pub = self.create_publisher
        self.pub_traj = pub(JointTrajectoryMsg, 'safety_supervisor/joint_trajectory', COMMAND_QOS)
        self.pub_grip = {
            h: pub(Float64, f'safety_supervisor/gripper/{h}/command', COMMAND_QOS) for h in HANDS
        }
        self.pub_diag = pub(DiagnosticArray, 'diagnostics', COMMAND_QOS)

        # The 250 Hz sensor streams go to a helper node on its own single-threaded executor:
        # the action servers' executor then only wakes for goals (rclpy rebuilds its wait set,
        # six action servers included, for every message it handles) and never busy-waits on
        # a sensor callback group that is still running.
        self._sensors = SideNode(f'{self.get_name()}_sensors', self.get_namespace(), self.context)
        sub = self._sensors.node.create_subscription
        sub(JointState, 'joint_states', self._on_joint_states, qos_profile_sensor_data)
        sub(Odometry, 'odom', self._on_odom, qos_profile_sensor_data)
        sub(Imu, 'imu', self._on_imu, qos_profile_sensor_data)
        # The control loop runs in its own thread on the newest sensor data; the estimator
        # has its own kinematics model (the controller's is used under its lock by goals).
        self._latest: JointState | None = None
        self._latest_lock = threading.Lock()
        self._new_state = threading.Event()  # any sensor message
        self._js_event = threading.Event()  # a joint_states message
        self._odom_by_stamp: _StampBuffer[Odometry] = _StampBuffer()
        self._imu_by_stamp: _StampBuffer[Imu] = _StampBuffer()
        self._unsynced = 0
        self._estimator = RobotKinematics()
        # Loop health: ticks on the joint_states stamps (no skipped samples) and on the wall
        # clock (no bursts: samples delivered late and then all at once look regular by their
        # stamps). The wall check only bounds the gaps, so a simulator slower than real time
        # still counts as steady.
        self._loop = LoopMonitor(self._period)
        self._wall = LoopMonitor(self._period, min_fill=0.01)
        self._loop_lock = threading.Lock()
        self._control_thread = threading.Thread(target=self._control_loop, daemon=True)
        sub = self.create_subscription
        others = MutuallyExclusiveCallbackGroup()
        sub(Twist, 'cmd_vel', self._on_cmd_vel, COMMAND_QOS, callback_group=others)
        sub(SafetyStatus, 'safety/status', self._on_safety, LATCHED_QOS, callback_group=others)
        self._world_msg: WorldState | None = None
        self._world_applied: WorldState | None = None
        if self.params['avoid_objects']:
            sub(WorldState, 'world_state', self._on_world, LATCHED_QOS, callback_group=others)

        actions = ReentrantCallbackGroup()
        self._servers = [
            ActionServer(
                self, action_type, name, execute_callback=callback,
                goal_callback=lambda _goal: GoalResponse.ACCEPT,
                cancel_callback=lambda _goal: CancelResponse.ACCEPT, callback_group=actions,
            )
            for action_type, name, callback in (
                (MoveHand, 'move_hand', self._execute_move_hand),
                (Grasp, 'grasp', self._execute_grasp),
                (Release, 'release', self._execute_release),
                (WalkTo, 'walk_to', self._execute_walk_to),
                (LookAt, 'look_at', self._execute_look_at),
                (GoToPosture, 'go_to_posture', self._execute_posture),
            )
        ]  # fmt: skip
        # Heartbeat on the steady clock, so it keeps beating whatever the sim time does.
        self._heartbeat = threading.Thread(target=self._heartbeat_loop, daemon=True)
        self._heartbeat.start()
        self.get_logger().info(
            f'whole-body controller up: {p["control_rate"]:.0f} Hz, postures '
            f'{sorted(self.ctrl.postures)}'
        )

    def start(self) -> None:
        """Start the sensor and control threads (the caller spins this node's executor)."""
        self._sensors.start()
        self._control_thread.start()

    def destroy_node(self) -> None:
        self._stop.set()
        self._sensors.stop()
        if self._control_thread.is_alive():
            self._control_thread.join(timeout=2.0)
        super().destroy_node()

    # --- sensors and ticking --------------------------------------------------------------
    def _on_odom(self, msg: Odometry) -> None:
        with self._latest_lock:
            self._odom = msg
            self._odom_by_stamp[_stamp_ns(msg.header.stamp)] = msg
        self._new_state.set()

    def _on_imu(self, msg: Imu) -> None:
        with self._latest_lock:
            self._imu = msg
            self._imu_by_stamp[_stamp_ns(msg.header.stamp)] = msg
        self._new_state.set()

    def _synced(self, msg: JointState) -> tuple[Odometry | None, Imu | None]:
        """The odom and imu messages stamped like `msg` (the simulator and drivers publish the
        three per sample); waits up to `sync_timeout` for them, else the latest ones. Mixing
        joint angles with an IMU/odometry sample 10-20 ms older tips the walking robot over
        (measured in closed loop), so a tick waits a moment for its matching sample."""
        key = _stamp_ns(msg.header.stamp)
        deadline = time.monotonic() + self.params['sync_timeout']
        while True:
            with self._latest_lock:
                odom = self._odom_by_stamp.get(key)
                imu = self._imu_by_stamp.get(key)
                if odom is not None and imu is not None:
                    return odom, imu
                if time.monotonic() >= deadline or self._stop.is_set():
                    self._unsynced += 1
                    return odom or self._odom, imu or self._imu
            self._new_state.wait(0.002)
            self._new_state.clear()

    def _on_joint_states(self, msg: JointState) -> None:
        with self._latest_lock:
            self._latest = msg
        self._new_state.set()
        self._js_event.set()

    def _control_loop(self) -> None:
        """Tick on the newest joint_states (older ones are skipped, never queued), decimated
        to `control_rate` on their stamps."""
        while not self._stop.is_set():
            if not self._js_event.wait(0.1):
                continue
            self._js_event.clear()
            with self._latest_lock:
                msg = self._latest
            if msg is None or self._odom is None or self._imu is None:
                continue
            now = conv.time_to_sec(msg.header.stamp)
            # The gap / clock-reset check first: after a sim/reset the stamps jump back to 0
            # and must not be skipped as "too early" until sim time catches up again.
            if self._next_tick is None or abs(now - self._next_tick) > 2.0 * self._period:
                self._next_tick = now  # first tick, or a gap / clock reset
            elif now < self._next_tick - 0.25 * self._period:
                continue
            self._next_tick += self._period
            odom, imu = self._synced(msg)
            try:
                measured = conv.measured_state(self._estimator, msg, odom, imu)
                cmd = self.ctrl.tick(measured, now)
            except ValueError as exc:
                self._warn(f'bad sensor data: {exc}')
                continue
            self._ticks += 1
            with self._loop_lock:
                self._loop.tick(now)
                self._wall.tick(time.monotonic())
            try:
                if cmd.trajectory is not None:
                    self.pub_traj.publish(conv.trajectory_to_msg(cmd.trajectory))
                for hand, width in cmd.grippers.items():
                    self.pub_grip[hand].publish(Float64(data=float(width)))
            except Exception as exc:
                if not self._stop.is_set():
                    self._warn(f'publishing failed: {exc!r}')

    def _warn(self, text: str) -> None:
        if text != self._last_error:
            self.get_logger().warning(text)
            self._last_error = text

    def _on_cmd_vel(self, msg: Twist) -> None:
        try:
            self.ctrl.set_velocity(msg.linear.x, msg.linear.y, msg.angular.z)
        except ValueError as exc:
            self._warn(f'cmd_vel ignored: {exc}')

    def _on_safety(self, msg: SafetyStatus) -> None:
        self.ctrl.set_safety_status(msg.estopped, msg.holding, msg.reason)

    def _on_world(self, msg: WorldState) -> None:
        # Only kept here: converted when a move_hand goal starts (_apply_world). Converting
        # every message (10-20 a second) in this callback took the GIL from the 100 Hz control
        # thread often enough that walks fell (docs/DESIGN.md, "Hand paths near objects").
        self._world_msg = msg

    def _apply_world(self) -> None:
        """The latest world_state's containers become the controller's obstacles."""
        msg = self._world_msg
        if msg is None or msg is self._world_applied:
            return
        self._world_applied = msg
        # Containers keep the full clearance; the loose objects only bound how near a path
        # may pass (a reach may end at one: with every object a full obstacle, reaches for a
        # cube took detours around its neighbours and were blocked, lab benchmark).
        held = (msg.held_left, msg.held_right)
        self.ctrl.set_obstacles(*avoid_sets(world_from_msg(msg).objects.values(), held))

    def _heartbeat_loop(self) -> None:
        period = 1.0 / self.params['diagnostics_rate']
        clock = Clock(clock_type=ClockType.STEADY_TIME)
        while not self._stop.wait(period):
            if not rclpy.ok():
                return
            c = self.ctrl
            level = DiagnosticStatus.OK
            text = 'running'
            if c.measured is None:
                level, text = DiagnosticStatus.WARN, 'waiting for joint_states, odom and imu'
            elif c.fallen:
                level, text = DiagnosticStatus.ERROR, 'the robot has fallen'
            elif c.estopped:
                level, text = DiagnosticStatus.WARN, 'safety supervisor stops the robot'
            values = {
                'mode': c.mode,
                'ticks': self._ticks,
                'unsynced_ticks': self._unsynced,
                'max_tick_interval_ms': round(1e3 * self._loop_interval(), 1),
            }
            for res in ('body', 'head', 'left_gripper', 'right_gripper'):
                act = c.activity(res)
                values[res] = act.kind if act is not None else 'idle'
            try:
                self.pub_diag.publish(
                    conv.diagnostics_msg(
                        f'{NODE_NAME}: controller', level, text, values, clock.now().to_msg()
                    )
                )
            except Exception as exc:
                if rclpy.ok():
                    self.get_logger().error(f'heartbeat failed: {exc!r}')
                return

    # --- actions --------------------------------------------------------------------------
    def _await_first_state(self) -> None:
        """A goal that arrives while the controller is still starting waits (up to
        `startup_wait` s) for the first tick on joint states instead of failing at once."""
        deadline = time.monotonic() + self.params['startup_wait']
        while self.ctrl.measured is None and time.monotonic() < deadline and rclpy.ok():
            time.sleep(0.05)

    def _state_time(self) -> float:
        """Stamp of the newest joint_states (the control loop's clock)."""
        with self._latest_lock:
            msg = self._latest
        return conv.time_to_sec(msg.header.stamp) if msg is not None else 0.0

    def _loop_interval(self) -> float:
        """Longest wall-clock time between control ticks in the last second (s)."""
        with self._loop_lock:
            return self._wall.max_interval(time.monotonic())

    def _loop_status(self) -> tuple[bool, str]:
        with self._loop_lock:
            steady, why = self._loop.status(self._state_time())
            if steady:
                steady, why = self._wall.status(time.monotonic())
            return steady, why

    def _await_steady_loop(self, goal_handle: Any) -> None:
        """A walk starts on a steady control loop: it waits (up to `steady_wait` s) while the
        ticks are late or missing, e.g. while a freshly launched stack is still warming up;
        a gait started then falls within its first steps. After the wait it walks anyway,
        with a warning."""
        deadline = time.monotonic() + self.params['steady_wait']
        steady, why = self._loop_status()
        if steady:
            return
        self.get_logger().info(f'walk_to waits for a steady control loop ({why})')
        while time.monotonic() < deadline and rclpy.ok() and not goal_handle.is_cancel_requested:
            time.sleep(0.05)
            steady, why = self._loop_status()
            if steady:
                return
        self.get_logger().warning(
            f'walking on an unsteady control loop ({why}): the machine is overloaded'
        )

    def _run(self, goal_handle: Any, act: Activity, feedback: Any, fill: Any) -> Activity:
        """Wait for `act`, publishing feedback (fill(feedback, act)); honour cancel."""
        t0 = time.monotonic()
        last = 0.0
        while not act.done:
            if goal_handle.is_cancel_requested:
                self.ctrl.cancel(act)
                break
            if not goal_handle.is_active or not rclpy.ok():
                self.ctrl.cancel(act)
                break
            limit = self.params['goal_timeout'] / self.params['real_time_factor']
            if time.monotonic() - t0 > limit:
                self.ctrl.cancel(act)
                act.code = None
                act.finish(ErrorCode.TIMEOUT, f'goal took longer than {limit:.0f} s')
                break
            if time.monotonic() - last > 0.1:
                last = time.monotonic()
                fill(feedback, act)
                goal_handle.publish_feedback(feedback)
            time.sleep(0.01)
        return act

    def _finish(self, goal_handle: Any, act: Activity, result: Any) -> Any:
        code = act.code if act.code is not None else ErrorCode.FAILED
        result.error_code = int(code)
        result.message = act.message
        if code == ErrorCode.SUCCESS:
            goal_handle.succeed()
        elif code == ErrorCode.PREEMPTED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        else:
            goal_handle.abort()
        if code != ErrorCode.SUCCESS:
            self.get_logger().info(f'{act.kind} ended {code.name}: {act.message}')
        return result

    def _execute_move_hand(self, goal_handle: Any) -> MoveHand.Result:
        self._await_first_state()
        g = goal_handle.request
        self._apply_world()
        frame, position, quat = conv.pose_from_msg(g.target)
        act = self.ctrl.move_hand(g.hand, position, quat, frame, g.position_only, g.duration)

        def fill(fb: MoveHand.Feedback, a: Activity) -> None:
            fb.progress = float(a.progress)
            fb.position_error = float(a.feedback.get('position_error', math.nan))

        self._run(goal_handle, act, MoveHand.Feedback(), fill)
        result = MoveHand.Result()
        result.position_error = float(act.result.get('position_error', math.nan))
        result.orientation_error = float(act.result.get('orientation_error', math.nan))
        return self._finish(goal_handle, act, result)

    def _gripper_fill(self, fb: Any, a: Activity) -> None:
        fb.width = float(a.feedback.get('width', math.nan))

    def _execute_grasp(self, goal_handle: Any) -> Grasp.Result:
        self._await_first_state()
        g = goal_handle.request
        act = self.ctrl.grasp(g.hand, float(g.max_effort), g.object_id)
        self._run(goal_handle, act, Grasp.Feedback(), self._gripper_fill)
        result = Grasp.Result()
        result.holding = bool(act.result.get('holding', False))
        result.width = float(act.result.get('width', math.nan))
        return self._finish(goal_handle, act, result)

    def _execute_release(self, goal_handle: Any) -> Release.Result:
        self._await_first_state()
        act = self.ctrl.release(goal_handle.request.hand)
        self._run(goal_handle, act, Release.Feedback(), self._gripper_fill)
        result = Release.Result()
        result.width = float(act.result.get('width', math.nan))
        return self._finish(goal_handle, act, result)

    def _execute_walk_to(self, goal_handle: Any) -> WalkTo.Result:
        self._await_first_state()
        self._await_steady_loop(goal_handle)
        g = goal_handle.request
        act = self.ctrl.walk_to(g.x, g.y, g.theta, float(g.position_tolerance),
                                float(g.angle_tolerance))  # fmt: skip

        def fill(fb: WalkTo.Feedback, a: Activity) -> None:
            fb.distance_remaining = float(a.feedback.get('distance_remaining', math.nan))
            fb.progress = float(a.progress)

        self._run(goal_handle, act, WalkTo.Feedback(), fill)
        result = WalkTo.Result()
        result.position_error = float(act.result.get('position_error', math.nan))
        result.angle_error = float(act.result.get('angle_error', math.nan))
        return self._finish(goal_handle, act, result)

    def _execute_look_at(self, goal_handle: Any) -> LookAt.Result:
        self._await_first_state()
        frame, point = conv.point_from_msg(goal_handle.request.target)
        act = self.ctrl.look_at(point, frame)

        def fill(fb: LookAt.Feedback, a: Activity) -> None:
            fb.progress = float(a.progress)

        self._run(goal_handle, act, LookAt.Feedback(), fill)
        result = LookAt.Result()
        result.angle_error = float(act.result.get('angle_error', math.nan))
        return self._finish(goal_handle, act, result)

    def _execute_posture(self, goal_handle: Any) -> GoToPosture.Result:
        self._await_first_state()
        g = goal_handle.request
        act = self.ctrl.go_to_posture(g.posture, float(g.duration))

        def fill(fb: GoToPosture.Feedback, a: Activity) -> None:
            fb.progress = float(a.progress)

        self._run(goal_handle, act, GoToPosture.Feedback(), fill)
        return self._finish(goal_handle, act, GoToPosture.Result())


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = None
    executor = MultiThreadedExecutor(num_threads=8)
    try:
        node = WholeBodyControllerNode()
        executor.add_node(node)
        node.start()
        spin_until_shutdown(node, executor)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ParameterError, ParameterException) as exc:
        print(f'{NODE_NAME}: bad parameter: {exc}', file=sys.stderr)
        return 2
    finally:
        executor.shutdown()
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
