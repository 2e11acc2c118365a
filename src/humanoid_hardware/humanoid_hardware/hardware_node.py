"""`hardware`: a real robot behind the hardware contract topics (any `RobotDriver`).

Wiring only: parameters -> `config/robots/<robot>.yaml` (`humanoid_core.drivers`) -> a driver;
a control thread reads the joints, publishes `joint_states` (driven joints plus the robot's
`held_joints` at their fixed positions, so the rest of the stack sees the whole model), `imu`
when the driver has one, and `diagnostics` (`hardware: driver`); it follows trajectories from
`joint_trajectory_controller/joint_trajectory` with the simulator's validation and sampler
(`humanoid_core.sim.trajectory`), against the limits of the same safety file the supervisor uses.
`estop` (std_msgs/Bool, latched) true -> the driver's emergency reaction (`estop_action`);
false -> torque on again, holding the measured position (unless `dry_run`). Service
`~/enable` (std_srvs/SetBool): torque on (holding) / off; it also ends a lost-servo fault.
All driver calls happen on the control thread; callbacks queue work for it.

Run: `install/lib/humanoid_hardware/hardware --ros-args -p robot:=op3_like -p port:=/dev/ttyUSB0`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import math
import sys
import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticStatus
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import Imu, JointState
from std_msgs.msg import Bool
from std_srvs.srv import SetBool
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from humanoid_hardware import conversions as conv
from humanoid_hardware import driver_conversions as dconv
from humanoid_hardware.qos import COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from humanoid_hardware.runner import run_node

NODE_NAME = 'hardware'
DIAGNOSTICS_PERIOD = 1.0  # s
HELD_TOLERANCE = 1e-3  # rad: a trajectory may name a held joint only at its held position


class ParameterError(ValueError):
    """A node parameter with a bad value; the message names the parameter."""


class HardwareNode(Node):
    """The real-robot node; `start()` runs the control thread, `stop()` ends it."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(NODE_NAME, **kwargs)
        from humanoid_core.drivers import (
            DriverError,
            RobotConfigError,
            create_driver,
            load_robot_config,
        )
        from humanoid_core.safety.limits import SafetyConfigError, load_safety_limits
        from humanoid_core.sim.trajectory import JointLimit

        p = self._declare_parameters()
        self.params = p
        try:
            cfg = load_robot_config(p['robot_config'] or p['robot'])
        except RobotConfigError as exc:
            raise ParameterError(f'parameters robot/robot_config: {exc}') from None
        self.robot = cfg
        try:
            safety = load_safety_limits(cfg.safety_limits_path())
        except (SafetyConfigError, OSError) as exc:
            raise ParameterError(f'robot {cfg.name}: safety_limits: {exc}') from None
        self.limits: dict[str, Any] = {n: safety.joints[n] for n in cfg.mapped_joints}
        for name, q in cfg.held_joints.items():
            self.limits[name] = JointLimit(q - HELD_TOLERANCE, q + HELD_TOLERANCE, math.inf)
        self.rate = p['control_rate'] or cfg.control_rate
        try:
            self.driver = create_driver(
                cfg, limits=self.limits, port=p['port'] or None, log=self._driver_log
            )
            self.driver.connect()
        except DriverError as exc:
            raise ParameterError(f'robot {cfg.name}: {exc}') from None
        self._driven = set(self.driver.joint_names)
        self._held_names = tuple(cfg.held_joints)
        self._held_positions = tuple(cfg.held_joints.values())

        self.pub_joint_states = self.create_publisher(JointState, 'joint_states', SENSOR_QOS)
        self.pub_imu = self.create_publisher(Imu, 'imu', SENSOR_QOS)
        self.pub_diagnostics = self.create_publisher(dconv.DiagnosticArray, 'diagnostics', 10)
        self.create_subscription(
            JointTrajectoryMsg, 'joint_trajectory_controller/joint_trajectory',
            self._on_trajectory, COMMAND_QOS,
        )  # fmt: skip
        self.create_subscription(Bool, 'estop', self._on_estop, LATCHED_QOS)
        self.create_service(SetBool, '~/enable', self._on_enable)

        self._commands: deque[Callable[[], None]] = deque()
        self._samplers: dict[str, Any] = {}  # joint -> the TrajectorySampler that owns it
        self._targets: dict[str, float] = {}
        self._estopped = False
        self._operator_enabled = False
        self.rejected = 0
        self.accepted = 0
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self.failed = False
        self._last_reading: Any = None
        if p['enable_on_start'] and not p['dry_run']:
            self.driver.enable_torque()
            self._operator_enabled = True
        self.get_logger().info(
            f'robot {cfg.name!r}: driver {cfg.driver}, {len(self._driven)} driven joints, '
            f'{len(self._held_names)} held, control {self.rate:g} Hz, '
            + ('DRY RUN (torque stays off)' if p['dry_run'] else
               f'torque {"on" if self._operator_enabled else "off (call ~/enable)"}')
        )  # fmt: skip

    # -- parameters -----------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        from humanoid_core.sim.trajectory import STALE_START_TOLERANCE

        specs: list[tuple[str, Any, str, dict[str, Any]]] = [
            ('robot', 'op3_like', 'robot name: config/robots/<robot>.yaml', {}),
            ('robot_config', '', "robot YAML path ('' = config/robots/<robot>.yaml)", {}),
            ('port', '', "serial port / network interface override ('' = the robot file's)", {}),
            ('dry_run', False, 'never enable torque: publish state only, reject commands', {}),
            ('enable_on_start', True, 'torque on at start, holding the measured position', {}),
            ('control_rate', 0.0, 'read/write cycle, Hz (0 = the robot file control_rate)',
             {'floating_point_range': [FloatingPointRange(from_value=0.0, to_value=1000.0)]}),
            ('start_tolerance', STALE_START_TOLERANCE,
             's a trajectory start stamp may lie in the past',
             {'floating_point_range': [FloatingPointRange(from_value=0.0, to_value=10.0)]}),
        ]  # fmt: skip
        values: dict[str, Any] = {}
        for name, default, description, extra in specs:
            descriptor = ParameterDescriptor(description=description, read_only=True, **extra)
            value = self.declare_parameter(name, default, descriptor).value
            if isinstance(default, float) and isinstance(value, int):
                value = float(value)
            if not isinstance(value, type(default)):
                raise ParameterError(
                    f'parameter {name} must be a {type(default).__name__}, got {value!r}'
                )
            values[name] = value
        return values

    def _driver_log(self, message: str) -> None:
        self.get_logger().warn(message)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -- callbacks: queue work for the control thread ----------------------------------------
    def _on_trajectory(self, msg: JointTrajectoryMsg) -> None:
        traj = conv.trajectory_from_msg(msg)
        self._commands.append(lambda: self._apply_trajectory(traj))

    def _on_estop(self, msg: Bool) -> None:
        engage = bool(msg.data)
        self._commands.append(lambda: self._apply_estop(engage))

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> Any:
        done = threading.Event()
        result: dict[str, Any] = {}

        def apply() -> None:
            result['ok'], result['message'] = self._apply_enable(bool(request.data))
            done.set()

        self._commands.append(apply)
        if not done.wait(timeout=10.0):
            result = {'ok': False, 'message': 'control thread did not answer within 10 s'}
        response.success = bool(result['ok'])
        response.message = str(result['message'])
        return response

    # -- control thread -------------------------------------------------------------------------
    def _apply_trajectory(self, traj: Any) -> None:
        from humanoid_core.sim.trajectory import (
            TrajectoryError,
            TrajectorySampler,
            validate_trajectory,
        )

        reason = ''
        if self.params['dry_run']:
            reason = 'dry run: torque is off'
        elif self._estopped:
            reason = 'e-stop engaged'
        elif not self.driver.health().torque_enabled:
            reason = 'torque is off (call ~/enable)'
        if not reason:
            try:
                validated = validate_trajectory(
                    traj, self.limits, self._now(), start_tolerance=self.params['start_tolerance']
                )
            except TrajectoryError as exc:
                reason = str(exc)
        if reason:
            self.rejected += 1
            self.get_logger().error(f'rejected joint trajectory: {reason}; holding last target')
            return
        names = [n for n in validated.joint_names if n in self._driven]
        if not names:
            self.accepted += 1
            return  # only held joints at their held positions: nothing to move
        keep = [validated.joint_names.index(n) for n in names]
        from humanoid_core.sim.trajectory import JointTrajectory, TrajectoryPoint

        points = tuple(
            TrajectoryPoint(
                tuple(pt.positions[k] for k in keep),
                None if pt.velocities is None else tuple(pt.velocities[k] for k in keep),
                pt.time_from_start,
            )
            for pt in validated.points
        )
        driven = JointTrajectory(tuple(names), points, validated.start_time)
        initial = [self._targets.get(n, self._measured(n)) for n in names]
        sampler = TrajectorySampler(driven, initial)
        for n in names:
            self._samplers[n] = sampler
        self.accepted += 1

    def _measured(self, name: str) -> float:
        r = self._last_reading
        return r.position_of(name) if r is not None else 0.0

    def _apply_estop(self, engage: bool) -> None:
        if engage == self._estopped:
            return
        self._estopped = engage
        self._samplers.clear()
        self._targets.clear()
        if engage:
            self.driver.emergency(self.robot.estop_action)
            self.get_logger().warn(f'e-stop: {self.robot.estop_action.value}')
        elif self._operator_enabled and not self.params['dry_run']:
            self.driver.enable_torque()
            self.get_logger().info('e-stop released: torque on, holding the measured position')

    def _apply_enable(self, enable: bool) -> tuple[bool, str]:
        self._samplers.clear()
        self._targets.clear()
        if not enable:
            self.driver.disable_torque()
            self._operator_enabled = False
            return True, 'torque off'
        if self.params['dry_run']:
            return False, 'dry run: torque stays off (restart without dry_run)'
        if self._estopped:
            return False, 'e-stop engaged: release it first'
        self.driver.enable_torque()
        self._operator_enabled = True
        return True, 'torque on, holding the measured position'

    def start(self) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._run, name='hardware_control', daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
        self._thread = None
        self.driver.close()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            self._running.clear()
            if not self.context.ok():
                return
            self.get_logger().fatal(f'control thread failed: {type(exc).__name__}: {exc}')
            self.failed = True
            raise

    def _loop(self) -> None:
        period = 1.0 / self.rate
        next_tick = time.monotonic()
        next_diag = next_tick
        cycles = 0
        window = time.monotonic()
        while self._running.is_set():
            while self._commands:
                self._commands.popleft()()
            reading = self.driver.read_joints()
            self._last_reading = reading
            now = self._now()
            stamp = conv.time_msg(now)
            self.pub_joint_states.publish(
                dconv.joint_state_msg(reading, self._held_names, self._held_positions, stamp)
            )
            imu = self.driver.read_imu()
            if imu is not None:
                self.pub_imu.publish(dconv.imu_msg(imu, stamp))
            self._follow(now)
            cycles += 1
            mono = time.monotonic()
            if mono >= next_diag:
                rate = cycles / max(mono - window, 1e-6)
                self._publish_diagnostics(stamp, rate)
                cycles, window = 0, mono
                next_diag = mono + DIAGNOSTICS_PERIOD
            next_tick += period
            delay = next_tick - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.25:
                next_tick = time.monotonic()

    def _follow(self, now: float) -> None:
        if not self._samplers:
            return
        names, positions, velocities = [], [], []
        done = []
        for sampler in {id(s): s for s in self._samplers.values()}.values():
            q, qd = sampler.sample(now)
            for k, n in enumerate(sampler.joint_names):
                if self._samplers.get(n) is sampler:
                    names.append(n)
                    positions.append(float(q[k]))
                    velocities.append(float(qd[k]))
            if sampler.done(now):
                done.append(sampler)
        for n, q in zip(names, positions, strict=True):
            self._targets[n] = q
        self.driver.write_targets(names, positions, velocities)
        for sampler in done:
            for n in sampler.joint_names:
                if self._samplers.get(n) is sampler:
                    del self._samplers[n]

    def _publish_diagnostics(self, stamp: Any, rate: float) -> None:
        h = self.driver.health()
        level = int(h.level)
        message = h.message
        if self._estopped:
            message = f'e-stop engaged; {message}'
            level = max(level, int(DiagnosticStatus.WARN[0]))
        values: dict[str, Any] = {
            'robot': self.robot.name,
            'driver': self.robot.driver,
            'connected': h.connected,
            'torque_enabled': h.torque_enabled,
            'estop': self._estopped,
            'dry_run': self.params['dry_run'],
            'control_hz': rate,
            'lost': ','.join(h.lost),
            'accepted_trajectories': self.accepted,
            'rejected_trajectories': self.rejected,
            **dict(h.counters),
        }
        for joint, text in h.errors.items():
            values[f'error.{joint}'] = text
        self.pub_diagnostics.publish(
            dconv.diagnostics_msg(f'{NODE_NAME}: driver', level, message, values, stamp,
                                  hardware_id=f'{self.robot.driver}:{self.robot.name}')
        )  # fmt: skip


def main(args: list[str] | None = None) -> int:
    """Entry point: `hardware [--ros-args -p robot:=NAME -p port:=PATH ...]`."""
    rclpy.init(args=list(sys.argv if args is None else args))
    return run_node(HardwareNode, NODE_NAME, (ParameterError,))


if __name__ == '__main__':
    sys.exit(main())
