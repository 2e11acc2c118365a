"""The safety supervisor node: sits between the controller and the hardware.

Subscribes the controller's commands on `safety_supervisor/joint_trajectory` and
`safety_supervisor/gripper/{left,right}/command`, checks them with
`humanoid_core.safety.SupervisorCore`, and forwards accepted ones to the contract topics
`joint_trajectory_controller/joint_trajectory` and `gripper/{left,right}/command`. E-stop:
topic `estop` (std_msgs/Bool, TRANSIENT_LOCAL, true = stop, false = release) and service
`estop` (std_srvs/SetBool). Publishes `safety/status` (latched, on change and at
`status_rate`) and `diagnostics`. See docs/SAFETY.md.

Stamped commands: a trajectory's header stamp is in the hardware's clock (the controller stamps
it with the joint_states sample it was computed from), which need not be this node's clock
(sim time vs. wall time). Its age is measured against the latest joint_states stamp and checked
on this node's clock; the message goes on with its original stamp.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import time

from diagnostic_msgs.msg import DiagnosticArray
from humanoid_core.safety import (
    HandKinematics,
    SafetyConfigError,
    SafetyState,
    SupervisorCore,
    load_safety_limits,
)
from humanoid_core.sim.trajectory import STALE_START_TOLERANCE, JointTrajectory
from humanoid_ros.executors import SideNode, spin_until_shutdown
from humanoid_ros.trajectory import time_to_sec
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor, ParameterType
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from rclpy.serialization import deserialize_message
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Float64
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from humanoid_interfaces.msg import SafetyStatus
from humanoid_safety import conversions as conv

COMMAND_QOS = QoSProfile(
    depth=10, reliability=ReliabilityPolicy.RELIABLE, history=HistoryPolicy.KEEP_LAST
)
LATCHED_QOS = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
    history=HistoryPolicy.KEEP_LAST,
)
# Best effort so that both reliable and best-effort diagnostics publishers match.
HEARTBEAT_QOS = QoSProfile(
    depth=50, reliability=ReliabilityPolicy.BEST_EFFORT, history=HistoryPolicy.KEEP_LAST
)
HANDS = ('left', 'right')

# name -> (default, description, (min, max) or None)
PARAMETERS: dict[str, tuple[object, str, tuple[float, float] | None]] = {
    'limits_file': ('', "safety limits YAML ('' = config/safety.yaml of the workspace)", None),
    'watchdog_timeout': (
        0.5,
        's after the end of the last accepted trajectory without a new command -> hold (0 = off)',
        (0.0, 60.0),
    ),
    'required_nodes': (
        ['whole_body_controller', 'task_planner'],
        "nodes whose diagnostics heartbeat (status names '<node>: ...') is required",
        None,
    ),
    'heartbeat_timeout': (2.0, 's of diagnostics silence before a node is dead', (0.05, 60.0)),
    'startup_grace': (
        60.0,
        's within which a required node must appear once (0 = only seen nodes can die)',
        (0.0, 3600.0),
    ),
    'hold_time': (0.0, 'time_from_start (s) of the hold command', (0.0, 0.1)),
    'hold_lead_max': (
        0.03,
        'arms and neck hold at most this far (rad) from their measured position (legs and '
        'waist hold their commanded targets)',
        (0.0, 0.5),
    ),
    'check_postures': (
        True,
        'check the hand workspace box, keep-out boxes and self-collision by FK',
        None,
    ),
    'start_tolerance': (
        STALE_START_TOLERANCE,
        's a trajectory start stamp may lie in the past',
        (0.0, 10.0),
    ),
    'walk_stop_time': (
        5.0,
        's an e-stop while walking lets the legs finish the step before the hold (0 = hold '
        'every joint at once; arms and head always hold at once)',
        (0.0, 10.0),
    ),
    'stop_idle': (
        0.2,
        's without a command that end the controlled stop once the base is still (the '
        'controller stops streaming when the robot stands)',
        (0.01, 10.0),
    ),
    'stop_idle_max': (
        1.0,
        's without a command that end the controlled stop even while the base moves',
        (0.01, 10.0),
    ),
    'stop_base_speed': (
        0.05,
        'm/s (odometry, horizontal) below which the base counts as still for stop_idle',
        (0.0, 10.0),
    ),
    'check_rate': (50.0, 'Hz of the watchdog/heartbeat/effort check', (1.0, 1000.0)),
    'status_rate': (2.0, 'Hz of the safety/status and diagnostics republish', (0.1, 50.0)),
}


class SafetySupervisorNode(Node):
    """Wiring around SupervisorCore (see the module docstring)."""

    def __init__(self, **kwargs) -> None:
        super().__init__('safety_supervisor', **kwargs)
        p = self._declare_parameters()
        try:
            limits = load_safety_limits(p['limits_file'] or None)
        except (FileNotFoundError, SafetyConfigError) as exc:
            raise ValueError(f'parameter limits_file: {exc}') from exc
        kinematics = HandKinematics(limits.self_collision_margin) if p['check_postures'] else None
        self.core = SupervisorCore(
            limits,
            self._now(),
            watchdog_timeout=p['watchdog_timeout'],
            heartbeat_timeout=p['heartbeat_timeout'],
            required_nodes=p['required_nodes'],
            startup_grace=p['startup_grace'],
            hold_time=p['hold_time'],
            hold_lead_max=p['hold_lead_max'],
            kinematics=kinematics,
            start_tolerance=p['start_tolerance'],
            walk_stop_time=p['walk_stop_time'],
            stop_idle=p['stop_idle'],
            stop_idle_max=p['stop_idle_max'],
            stop_base_speed=p['stop_base_speed'],
        )
        self._base_pose: tuple[float, float, float] | None = None
        self._base_speed: float | None = None  # m/s, horizontal (odom twist)
        self._last_state: SafetyState | None = None
        self._estop_latency_ms: list[float] = []
        self._joint_state: JointState | None = None
        self._hw_stamp: float | None = None  # latest joint_states stamp (hardware clock)
        self._command_ages: list[float] = []  # s, since the last diagnostics

        pub = self.create_publisher
        self.pub_trajectory = pub(
            JointTrajectoryMsg, 'joint_trajectory_controller/joint_trajectory', COMMAND_QOS
        )
        self.pub_gripper = {h: pub(Float64, f'gripper/{h}/command', COMMAND_QOS) for h in HANDS}
        self.pub_status = pub(SafetyStatus, 'safety/status', LATCHED_QOS)
        self.pub_diagnostics = pub(DiagnosticArray, 'diagnostics', COMMAND_QOS)

        sub = self.create_subscription
        # raw: a trajectory that passes unchanged goes out as the bytes that came in (re-
        # serializing each 100 Hz message cost about 6 % of a core, profiled during a walk)
        sub(JointTrajectoryMsg, 'safety_supervisor/joint_trajectory', self._on_trajectory,
            COMMAND_QOS, raw=True)  # fmt: skip
        for hand in HANDS:
            sub(Float64, f'safety_supervisor/gripper/{hand}/command',
                lambda msg, hand=hand: self._on_gripper(hand, msg), COMMAND_QOS)  # fmt: skip
        # joint_states and odom (250 Hz each) on a side node with the events executor: through
        # this node's executor their per-message overhead cost more than the checks. The
        # callbacks only store the latest message / pose (read here before every check).
        self._sensors = SideNode(f'{self.get_name()}_sensors', self.get_namespace(), self.context)
        side = self._sensors.node.create_subscription
        side(JointState, 'joint_states', self._on_joint_states, qos_profile_sensor_data)
        side(Odometry, 'odom', self._on_odom, qos_profile_sensor_data)
        self._sensors.start()
        sub(Bool, 'estop', self._on_estop_topic, LATCHED_QOS)
        sub(DiagnosticArray, 'diagnostics', self._on_diagnostics, HEARTBEAT_QOS)
        self.create_service(SetBool, 'estop', self._on_estop_service)
        self.create_timer(1.0 / p['check_rate'], self._on_check)
        self.create_timer(1.0 / p['status_rate'], self._on_status_timer)
        self._publish_status(force=True)
        self.get_logger().info(
            f'safety supervisor up: limits {limits.source}, watchdog {p["watchdog_timeout"]} s, '
            f'required nodes {list(self.core.required_nodes)}, '
            f'posture checks {"on" if kinematics else "off"}'
        )

    def destroy_node(self) -> None:
        self._sensors.stop()
        super().destroy_node()

    # ---------------------------------------------------------------- parameters
    def _declare_parameters(self) -> dict:
        values: dict = {}
        for name, (default, description, bounds) in PARAMETERS.items():
            descriptor = ParameterDescriptor(description=description)
            if isinstance(default, list):
                descriptor.type = ParameterType.PARAMETER_STRING_ARRAY
            elif bounds is not None:
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=bounds[0], to_value=bounds[1])
                ]
            value = self.declare_parameter(name, default, descriptor).value
            if isinstance(default, list):
                value = [str(v) for v in (value or []) if str(v)]
            elif isinstance(default, float):
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f'parameter {name} must be a number, got {value!r}')
                value = float(value)
                assert bounds is not None
                if not (math.isfinite(value) and bounds[0] <= value <= bounds[1]):
                    raise ValueError(
                        f'parameter {name} = {value} is outside [{bounds[0]}, {bounds[1]}]'
                    )
            elif not isinstance(value, type(default)):
                raise ValueError(
                    f'parameter {name} must be a {type(default).__name__}, got {value!r}'
                )
            values[name] = value
        return values

    # ---------------------------------------------------------------- helpers
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _stamp(self):
        return self.get_clock().now().to_msg()

    def _publish_hold(
        self, hold: JointTrajectory | None, why: str, since: float | None = None
    ) -> None:
        if hold is None:
            self.get_logger().warning(f'{why}: no joint_states yet, cannot command a hold')
            return
        self.pub_trajectory.publish(conv.trajectory_to_msg(hold))
        if since is not None:
            self._estop_latency_ms.append((time.perf_counter() - since) * 1e3)
            del self._estop_latency_ms[:-100]
        self.get_logger().warning(f'holding position: {why}')

    def _publish_status(self, force: bool = False) -> None:
        state = self.core.state()
        if force or state != self._last_state:
            self._last_state = state
            self.pub_status.publish(conv.status_to_msg(state, self._stamp()))

    # ---------------------------------------------------------------- callbacks
    def _on_trajectory(self, data: bytes) -> None:
        self._flush_joint_state()
        msg: JointTrajectoryMsg | bytes = data
        traj = conv.trajectory_from_msg(deserialize_message(data, JointTrajectoryMsg))
        now = self._now()
        stamp = traj.start_time
        if stamp is not None:
            # hardware clock -> ours, by its age relative to the latest joint_states; with no
            # joint_states yet it cannot be judged: "start now"
            local = None
            if self._hw_stamp is not None:
                local = now + (stamp - self._hw_stamp)
                self._command_ages.append(self._hw_stamp - stamp)
            traj = dataclasses.replace(traj, start_time=local)
        verdict = self.core.check_trajectory(traj, now, base_pose=self._base_pose)
        if verdict.trajectory is not None:
            if verdict.trajectory.joint_names != traj.joint_names:
                # controlled stop: only the legs' part of the command passes
                msg = conv.trajectory_to_msg(
                    dataclasses.replace(verdict.trajectory, start_time=stamp)
                )
            self.pub_trajectory.publish(msg)
        else:
            self.get_logger().error(f'rejected trajectory: {verdict.reason}')
        self._publish_status()

    def _on_gripper(self, hand: str, msg: Float64) -> None:
        reason = self.core.check_gripper(hand, float(msg.data))
        if reason:
            self.core.reject(reason)
            self.get_logger().error(f'rejected gripper/{hand}/command: {reason}')
        else:
            self.pub_gripper[hand].publish(msg)
        self._publish_status()

    def _on_joint_states(self, msg: JointState) -> None:
        # Only keep the latest message (cheap at 250 Hz); it reaches the core before every check
        # and at check_rate (effort watch).
        self._joint_state = msg
        stamp = time_to_sec(msg.header.stamp)
        if stamp > 0.0:
            self._hw_stamp = stamp

    def _flush_joint_state(self) -> None:
        msg, self._joint_state = self._joint_state, None
        if msg is None:
            return
        efforts = list(msg.effort) if len(msg.effort) == len(msg.name) else None
        hold = self.core.update_joint_state(list(msg.name), list(msg.position), efforts,
                                            self._now())  # fmt: skip
        if hold is not None:
            self._publish_hold(hold, self.core.state().reason)
            self._publish_status()

    def _on_odom(self, msg: Odometry) -> None:
        self._base_pose = conv.base_pose_from_odom(msg)
        v = msg.twist.twist.linear
        self._base_speed = math.hypot(v.x, v.y)

    def _engage(self, source: str) -> None:
        t0 = time.perf_counter()
        self._flush_joint_state()
        hold = self.core.engage_estop(self._now(), source)
        if hold is not None:
            self._publish_hold(hold, f'e-stop from {source}', since=t0)
        elif self.core.hold_trajectory() is None:
            self._publish_hold(None, f'e-stop from {source}')
        self._publish_status()

    def _release(self, source: str) -> bool:
        released = self.core.release_estop(self._now())
        if released:
            self.get_logger().warning(f'e-stop released ({source})')
        self._publish_status()
        return released

    def _on_estop_topic(self, msg: Bool) -> None:
        if msg.data:
            self._engage('estop topic')
        else:
            self._release('estop topic')

    def _on_estop_service(self, request: SetBool.Request, response: SetBool.Response):
        if request.data:
            self._engage('estop service')
            response.message = 'e-stop engaged'
        else:
            was = self._release('estop service')
            response.message = 'e-stop released' if was else 'e-stop was not engaged'
        response.success = self.core.estopped == bool(request.data)
        return response

    def _on_diagnostics(self, msg: DiagnosticArray) -> None:
        now = time.monotonic()  # heartbeats run on the steady clock (see SupervisorCore.tick)
        for name in conv.heartbeat_names(msg):
            if name != self.get_name():
                self.core.note_heartbeat(name, now)

    def _on_check(self) -> None:
        self._flush_joint_state()
        if self._base_speed is not None:
            self.core.note_base_speed(self._base_speed)
        report = self.core.controlled_stop_report
        hold = self.core.tick(self._now(), heartbeat_now=time.monotonic())
        if hold is not None:
            why = self.core.state().reason
            if self.core.controlled_stop_report != report:
                why += f' ({self.core.controlled_stop_report})'
            self._publish_hold(hold, why)
        self._publish_status()

    def _on_status_timer(self) -> None:
        self._publish_status(force=True)
        values: dict[str, object] = {'accepted_commands': self.core.accepted_commands}
        ages, self._command_ages = self._command_ages, []
        if ages:
            # how far behind the latest joint_states the commands were computed: the control
            # loop's latency (its sensor -> command delay plus transport), since the last report
            values['command_age_ms_median'] = f'{1e3 * sorted(ages)[len(ages) // 2]:.1f}'
            values['command_age_ms_max'] = f'{1e3 * max(ages):.1f}'
        if self._estop_latency_ms:
            values['estop_latency_ms_last'] = f'{self._estop_latency_ms[-1]:.3f}'
        self.pub_diagnostics.publish(
            conv.diagnostics_msg(self.get_name(), self.core.state(), values, self._stamp())
        )


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args)
    node = None
    try:
        node = SafetySupervisorNode()
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # during start-up
    except (ValueError, ParameterException) as exc:
        print(f'safety_supervisor: bad parameter: {exc}', file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
