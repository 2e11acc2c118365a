"""`mujoco_sim`: the embedded MuJoCo simulator behind the hardware contract topics.

Wiring only: parameters -> `humanoid_core.sim.backend.MujocoBackend`; a physics thread steps it
(paced at `real_time_factor` against wall time, or as fast as possible with `max_speed`) and
publishes joint states, IMU, odometry, clock, cameras, ground truth and diagnostics with sim
time stamps; subscriptions and the reset service queue commands that the physics thread applies
between control periods, so every MuJoCo call happens on that one thread (it also owns the GL
context used for rendering).

Run: `ros2 run humanoid_hardware mujoco_sim --ros-args -p seed:=3` or
`install/lib/humanoid_hardware/mujoco_sim [--max-speed] [--ros-args ...]`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import math
import os
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from humanoid_ros.executors import SideNode
from nav_msgs.msg import Odometry
from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.node import Node
from rclpy.parameter import Parameter
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState
from std_msgs.msg import Float64, String
from std_srvs.srv import Trigger
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg

from humanoid_hardware import conversions as conv
from humanoid_hardware.gl_setup import setup_gl
from humanoid_hardware.qos import CAMERA_QOS, CLOCK_QOS, COMMAND_QOS, LATCHED_QOS, SENSOR_QOS
from humanoid_hardware.runner import run_node
from humanoid_interfaces.msg import ObjectArray
from humanoid_interfaces.srv import ResetSim

if TYPE_CHECKING:
    from humanoid_core.sim.backend import MujocoBackend

NODE_NAME = 'mujoco_sim'
CAMERA = 'head_camera'
GROUND_TRUTH_RATE = 10.0  # Hz (sim time)
OVERVIEW = 'overview'
OVERVIEW_SIZE = (480, 360)
SLIP_FRICTION = 0.02  # object friction during an injected grasp failure
# s (sim time): the longest an injected slip lasts; it ends earlier when that gripper opens.
# (A fixed 2 s ended before the lift when the grasp and the next motion took longer, at half
# speed on a 2-core machine, and the "failed" grasp held: the system test saw no re-plan.)
SLIP_TIME = 20.0
DIAGNOSTICS_PERIOD = 1.0  # s (wall time)
# A stamped trajectory applied this long (sim time) after its stamp counts as late: the
# controller streams 10 ms of reference ahead while walking, and gaps above 2 periods are what
# its balance feedback cannot bridge.
LATE_COMMAND = 0.02  # s


class ParameterError(ValueError):
    """A node parameter with a bad value; the message names the parameter."""


def _float_range(lo: float, hi: float) -> list[FloatingPointRange]:
    return [FloatingPointRange(from_value=lo, to_value=hi, step=0.0)]


def _int_range(lo: int, hi: int) -> list[IntegerRange]:
    return [IntegerRange(from_value=lo, to_value=hi, step=1)]


class MujocoSimNode(Node):
    """The simulator node; call `start()` to run the physics thread, `stop()` to end it."""

    def __init__(self, parameter_overrides: list[Parameter] | None = None) -> None:
        super().__init__(NODE_NAME, parameter_overrides=parameter_overrides)
        p = self._declare_parameters()
        self.params = p
        self.gl_backend = setup_gl(p['headless'])
        # Imported only now: MUJOCO_GL must be set before mujoco is imported.
        from humanoid_core.robot.description import render_urdf
        from humanoid_core.sim.backend import MujocoBackend, check_control_period
        from humanoid_core.sim.scene import SceneError, load_scene

        try:
            check_control_period(p['control_period'], p['physics_dt'])
        except ValueError as exc:
            raise ParameterError(f'parameters control_period/physics_dt: {exc}') from None
        control_rate = 1.0 / p['control_period']
        for name in ('joint_state_rate', 'clock_rate', 'camera_rate'):
            if p[name] > control_rate + 1e-9:
                raise ParameterError(
                    f'parameter {name} = {p[name]} Hz exceeds the control rate '
                    f'{control_rate:g} Hz (1 / control_period)'
                )
        try:
            scene = load_scene(p['scene'])
        except SceneError as exc:
            raise ParameterError(f'parameter scene = {p["scene"]!r}: {exc}') from None
        seed = None if p['seed'] < 0 else p['seed']
        try:
            self.backend: MujocoBackend = MujocoBackend(
                scene,
                seed=seed,
                physics_dt=p['physics_dt'],
                control_period=p['control_period'],
                max_render_size=(max(p['camera_width'], 640), max(p['camera_height'], 480)),
            )
        except ValueError as exc:  # e.g. a seed whose layout cannot be made
            raise ParameterError(f'parameters scene/seed: {exc}') from None
        self.scene = scene
        self._hands = self.backend.hands

        # -- publishers (relative names) --
        pub = self.create_publisher
        self.pub_joint_states = pub(JointState, 'joint_states', SENSOR_QOS)
        self.pub_imu = pub(Imu, 'imu', SENSOR_QOS)
        self.pub_odom = pub(Odometry, 'odom', SENSOR_QOS)
        self.pub_clock = pub(Clock, 'clock', CLOCK_QOS)
        self.pub_rgb = pub(Image, 'camera/color/image_raw', CAMERA_QOS)
        self.pub_depth = pub(Image, 'camera/depth/image_raw', CAMERA_QOS)
        self.pub_rgb_info = pub(CameraInfo, 'camera/color/camera_info', CAMERA_QOS)
        self.pub_depth_info = pub(CameraInfo, 'camera/depth/camera_info', CAMERA_QOS)
        self.pub_description = pub(String, 'robot_description', LATCHED_QOS)
        self.pub_diagnostics = pub(DiagnosticArray, 'diagnostics', 10)
        self.pub_objects = pub(ObjectArray, 'sim/object_poses', LATCHED_QOS)
        # -- commands: their own node and executor thread. Through the node's multi-threaded
        # executor (which competes for the GIL with the physics thread) trajectories reached
        # physics 50-280 ms late, several times a second - enough to trip a walking robot.
        self._commands_node = SideNode(
            f'{self.get_name()}_commands', self.get_namespace(), self.context
        )
        sub = self._commands_node.node.create_subscription
        sub(JointTrajectoryMsg, 'joint_trajectory_controller/joint_trajectory',
            self._on_trajectory, COMMAND_QOS)  # fmt: skip
        for hand in self._hands:
            sub(Float64, f'gripper/{hand}/command',
                lambda msg, hand=hand: self._on_gripper(hand, msg), COMMAND_QOS)  # fmt: skip
        self.create_service(ResetSim, 'sim/reset', self._on_reset)
        # Simulation-only outputs and fault injection (benchmarks, demos, system tests).
        self.pub_overview = pub(Image, 'sim/overview/image_raw', CAMERA_QOS)
        self.create_service(Trigger, 'sim/fail_next_grasp', self._on_fail_next_grasp)
        self._fail_grasps = 0
        # (until, hand, geom -> friction)
        self._slip: tuple[float, str, dict[int, float]] | None = None
        self._overview_due = False

        self.pub_description.publish(String(data=render_urdf(hardware='mujoco')))
        self._commands: deque[Callable[[], None]] = deque()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None
        self._stats = _Stats()
        self._run_ages = AgeHistogram()  # over the whole run, logged at shutdown
        self._viewer: Any = None
        self.failed = False
        # Physics and rendering threads: the lock guards the MuJoCo state.
        self._lock = threading.Lock()
        self._frame_due = threading.Event()
        self._render_idle = threading.Event()
        self._render_thread: threading.Thread | None = None
        # next sim times to publish joint states, camera, ground truth (None: restart)
        self._next: dict[str, float] | None = None
        self.get_logger().info(
            f'scene {scene.name!r} seed {p["seed"]}, {len(self.backend.joint_names)} joints, '
            f'physics {p["physics_dt"] * 1e3:g} ms, control {p["control_period"] * 1e3:g} ms, '
            f'cameras {"on" if p["cameras_enabled"] else "off"} '
            f'({p["camera_width"]}x{p["camera_height"]} @ {p["camera_rate"]:g} Hz), '
            f'GL {self.gl_backend}, '
            + ('max speed' if p['max_speed'] else f'real-time factor {p["real_time_factor"]:g}')
        )

    # -- parameters ---------------------------------------------------------------------------
    def _declare_parameters(self) -> dict[str, Any]:
        specs: list[tuple[str, Any, str, dict[str, Any]]] = [
            ('scene', 'lab', 'scene name in config/scenes (or a path to a scene YAML)', {}),
            ('seed', -1, 'object layout seed; -1 = the nominal layout',
             {'integer_range': _int_range(-1, 2**31 - 1)}),
            ('physics_dt', 0.001, 'physics step, s',
             {'floating_point_range': _float_range(1e-4, 0.01)}),
            ('control_period', 0.002, 'control period, s (a whole multiple of physics_dt)',
             {'floating_point_range': _float_range(1e-4, 0.1)}),
            ('joint_state_rate', 250.0, 'joint_states/imu/odom rate, Hz (sim time)',
             {'floating_point_range': _float_range(1.0, 1000.0)}),
            ('clock_rate', 50.0,
             '/clock rate, Hz (sim time; every use_sim_time node takes each one in Python)',
             {'floating_point_range': _float_range(1.0, 1000.0)}),
            ('camera_rate', 15.0, 'camera image rate, Hz (sim time)',
             {'floating_point_range': _float_range(0.1, 120.0)}),
            ('camera_width', 640, 'camera image width, px',
             {'integer_range': _int_range(16, 1920)}),
            ('camera_height', 480, 'camera image height, px',
             {'integer_range': _int_range(16, 1080)}),
            ('cameras_enabled', True, 'render and publish the head camera', {}),
            ('headless', True, 'no viewer window (a viewer needs a display)', {}),
            ('max_speed', False, 'run as fast as possible instead of paced by wall time', {}),
            ('real_time_factor', 1.0, 'sim seconds per wall second when not max_speed',
             {'floating_point_range': _float_range(0.01, 100.0)}),
            ('overview_rate', 0.0,
             'rate of the overview camera on sim/overview/image_raw, Hz (0 = off; demos)',
             {'floating_point_range': _float_range(0.0, 30.0)}),
            ('render_niceness', 10,
             'added to the niceness of the render thread (Linux): on a loaded machine frames '
             'yield the CPU to physics and the control path (0 = same as physics)',
             {'integer_range': _int_range(0, 19)}),
        ]  # fmt: skip
        values: dict[str, Any] = {}
        for name, default, description, extra in specs:
            descriptor = ParameterDescriptor(description=description, read_only=True, **extra)
            values[name] = self.declare_parameter(name, default, descriptor).value
        return values

    # -- callbacks (executor threads): queue work for the physics thread ------------------------
    def _on_trajectory(self, msg: JointTrajectoryMsg) -> None:
        traj = conv.trajectory_from_msg(msg)
        self._commands.append(lambda: self._apply_trajectory(traj))

    def _apply_trajectory(self, traj: Any) -> None:
        from humanoid_core.sim.trajectory import TrajectoryError

        try:
            self.backend.set_trajectory(traj)
            if traj.start_time is not None:
                # how late the command arrived in sim time: the controller stamps it with the
                # sample time of the joint states it was computed from
                age = self.backend.time - traj.start_time
                self._stats.command_ages.append(age)
                self._run_ages.add(age)
        except TrajectoryError as exc:
            self._stats.rejected += 1
            self.get_logger().error(f'rejected joint trajectory: {exc}; holding last target')

    def _on_gripper(self, hand: str, msg: Float64) -> None:
        width = float(msg.data)

        def apply() -> None:
            # Closing = narrower than the fingers' current target (not the previous command:
            # with no command yet, or after a reset, the first opening counted as the closing
            # and an injected grasp failure was spent on it; the system test then saw no
            # re-plan).
            from humanoid_core.sim.backend import gripper_joint_names  # after GL setup

            targets = self.backend.targets
            before = sum(targets.get(j, 0.0) for j in gripper_joint_names(hand))
            try:
                applied = self.backend.set_gripper(hand, width)
            except ValueError as exc:
                self.get_logger().error(f'rejected gripper/{hand}/command: {exc}')
                return
            closing = applied < before - 1e-3
            if closing and self._fail_grasps > 0:
                self._fail_grasps -= 1
                self._start_slip(hand)
            elif applied > before + 1e-3 and self._slip is not None and self._slip[1] == hand:
                self._end_slip()  # the hand lets go: the failed grasp is over
            if abs(applied - width) > 1e-9:
                self.get_logger().warn(
                    f'gripper/{hand}/command {width:.4f} m clamped to {applied:.4f} m'
                )

        self._commands.append(apply)

    def _on_fail_next_grasp(self, request: Trigger.Request, response: Trigger.Response) -> Any:
        """Fault injection: the next gripper closing finds every object slippery until that
        gripper opens again (at most SLIP_TIME s of sim time), so that grasp fails (tests the
        planner's re-planning)."""
        self._fail_grasps += 1
        response.success = True
        response.message = f'{self._fail_grasps} grasp(s) will fail'
        self.get_logger().warn(f'fault injection: {response.message}')
        return response

    def _start_slip(self, hand: str) -> None:
        # MuJoCo takes the larger friction of two touching geoms: the objects' and this hand's
        # finger geoms both go slippery (with the objects' alone, the finger pads' 1.8 held the
        # cube and the injected failure never happened).
        m = self.backend.model
        saved: dict[int, float] = {}
        bodies = {m.body(name).id for name in self.backend.names.objects}
        fingers = f'{hand}_gripper_finger'
        bodies |= {b for b in range(m.nbody) if m.body(b).name.startswith(fingers)}
        for g in range(m.ngeom):
            if int(m.geom_bodyid[g]) in bodies:
                saved[g] = float(m.geom_friction[g, 0])
                m.geom_friction[g, 0] = SLIP_FRICTION
        self._slip = (self.backend.time + SLIP_TIME, hand, saved)
        self.get_logger().warn('fault injection: objects slippery, this grasp will fail')

    def _end_slip(self) -> None:
        if self._slip is None:
            return
        m = self.backend.model
        for g, friction in self._slip[2].items():
            m.geom_friction[g, 0] = friction
        self._slip = None

    def _on_reset(self, request: ResetSim.Request, response: ResetSim.Response) -> Any:
        done = threading.Event()
        result: dict[str, Any] = {}
        seed = int(request.seed)

        def apply() -> None:
            try:
                self._end_slip()
                self.backend.reset(None if seed < 0 else seed)
                self._next = None  # restart publishing schedules at t = 0
                result['ok'] = True
                result['message'] = f'reset with seed {seed}'
            except ValueError as exc:
                result['ok'] = False
                result['message'] = str(exc)
            done.set()

        if self._running.is_set():
            self._commands.append(apply)
        else:
            apply()
        if not done.wait(timeout=30.0):
            result = {'ok': False, 'message': 'physics thread did not answer within 30 s'}
        response.success = bool(result['ok'])
        response.message = result['message']
        return response

    # -- physics thread -----------------------------------------------------------------------
    def start(self) -> None:
        self._running.set()
        self._render_idle.set()
        if self.params['cameras_enabled'] or self.params['overview_rate'] > 0:
            self._render_thread = threading.Thread(
                target=self._render_loop, name='mujoco_render', daemon=True
            )
            self._render_thread.start()
        self._thread = threading.Thread(target=self._run, name='mujoco_physics', daemon=True)
        self._commands_node.start()
        self._thread.start()

    def stop(self) -> None:
        self._running.clear()
        if self._run_ages.count:
            self.get_logger().info(
                f'joint trajectory age when applied (sim time): {self._run_ages}'
            )
        self._frame_due.set()  # wake the render thread so it sees the stop
        for thread in (self._thread, self._render_thread):
            if thread is not None:
                thread.join(timeout=10.0)
        self._thread = self._render_thread = None
        self._commands_node.stop()
        self.backend.close()

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:
            self._running.clear()
            if not self.context.ok():
                return  # shutting down (Ctrl-C / SIGTERM): publishers are gone
            self.get_logger().fatal(f'physics thread failed: {type(exc).__name__}: {exc}')
            self.failed = True
            raise
        finally:
            if self._viewer is not None:
                self._viewer.close()

    def _loop(self) -> None:
        p = self.params
        b = self.backend
        js_dt = 1.0 / p['joint_state_rate']
        clock_dt = 1.0 / p['clock_rate']
        cam_dt = 1.0 / p['camera_rate']
        ov_dt = 1.0 / p['overview_rate'] if p['overview_rate'] > 0 else None
        gt_dt = 1.0 / GROUND_TRUTH_RATE
        self._open_viewer()
        self._next = None
        wall0, sim0 = time.monotonic(), b.time
        stats = self._stats
        next_diag = time.monotonic() + DIAGNOSTICS_PERIOD
        eps = 1e-9
        t = b.time
        nxt: dict[str, float] = {}

        def due(key: str, dt: float) -> bool:
            """Whether output `key` is due at sim time t; if so, schedule its next time (a
            missed period is dropped, not caught up in a burst)."""
            if t + eps < nxt[key]:
                return False
            nxt[key] = max(nxt[key] + dt, t + dt / 2)
            return True

        while self._running.is_set():
            with self._lock:
                while self._commands:
                    self._commands.popleft()()
                nxt = self._next
                if nxt is None:  # (re)start: publish everything now
                    nxt = self._next = {
                        'js': b.time,
                        'clock': b.time,
                        'cam': b.time,
                        'gt': b.time,
                        'ov': b.time,
                    }
                    wall0, sim0 = time.monotonic(), b.time
                t_step = time.perf_counter()
                b.step(1)
                stats.step_s += time.perf_counter() - t_step
                stats.steps += 1
                t = b.time
                if due('clock', clock_dt):  # before joint_states stamped the same
                    self.pub_clock.publish(conv.clock_msg(t))
                if due('js', js_dt):
                    self._publish_state()
                    stats.js += 1
                if due('gt', gt_dt):
                    stamp = conv.time_msg(t)
                    poses = b.object_poses()
                    self.pub_objects.publish(
                        conv.object_array_msg(poses, self.scene.objects, stamp)
                    )
                viewer = self._viewer
                if viewer is not None and stats.steps % 16 == 0 and viewer.is_running():
                    viewer.sync()
                if self._slip is not None and t >= self._slip[0]:
                    self._end_slip()
                camera_due = p['cameras_enabled'] and due('cam', cam_dt)
                if ov_dt is not None and due('ov', ov_dt):
                    self._overview_due = camera_due = True
            if camera_due:
                # The render thread captures the scene as it is now, then draws while physics
                # goes on. In max_speed mode physics waits for each frame, so that frames keep
                # their sim-time rate; in real time a frame due while the last one is still
                # being drawn is dropped rather than stalling joint_states.
                if self._render_idle.is_set():
                    self._render_idle.clear()
                    self._frame_due.set()
                    if p['max_speed']:
                        self._render_idle.wait(timeout=5.0)
                else:
                    stats.dropped += 1
            now = time.monotonic()
            if not p['max_speed']:
                delay = wall0 + (t - sim0) / p['real_time_factor'] - now
                if delay > 0.0:
                    time.sleep(delay)
                elif delay < -0.25:  # fell behind: do not try to catch up in a burst
                    stats.slips += 1
                    wall0, sim0 = now, t
            if now >= next_diag:
                self._publish_diagnostics(now)
                next_diag = now + DIAGNOSTICS_PERIOD

    def _publish_state(self) -> None:
        state = self.backend.read_state()
        stamp = conv.time_msg(state.time)
        self.pub_joint_states.publish(conv.joint_state_msg(state, stamp))
        self.pub_imu.publish(conv.imu_msg(state, stamp))
        self.pub_odom.publish(conv.odom_msg(state, stamp))

    def _render_loop(self) -> None:
        """Render thread: owns the GL context; draws a frame each time one is due."""
        p = self.params
        camera = overview = None
        if p['render_niceness'] > 0:
            # per thread on Linux; set before the GL context so that its helper threads
            # (llvmpipe) inherit it
            tid = threading.get_native_id()
            nice = os.getpriority(os.PRIO_PROCESS, tid) + p['render_niceness']
            os.setpriority(os.PRIO_PROCESS, tid, min(19, nice))
        try:
            camera = self.backend.camera_renderer(CAMERA, p['camera_width'], p['camera_height'])
            if p['overview_rate'] > 0:
                overview = self.backend.camera_renderer(OVERVIEW, *OVERVIEW_SIZE)
            while self._running.is_set():
                if not self._frame_due.wait(timeout=0.2):
                    continue
                self._frame_due.clear()
                if not self._running.is_set():
                    break
                if overview is not None and self._overview_due:
                    self._overview_due = False
                    with self._lock:
                        overview.capture()
                    ov = overview.render(depth=False)
                    self.pub_overview.publish(conv.rgb_image_msg(ov.rgb, conv.time_msg(ov.time)))
                if not p['cameras_enabled']:
                    self._render_idle.set()
                    continue
                t0 = time.perf_counter()
                with self._lock:
                    camera.capture()
                img = camera.render(depth=True)
                stamp = conv.time_msg(img.time)
                info = conv.camera_info_msg(img.intrinsics, stamp)
                self.pub_rgb.publish(conv.rgb_image_msg(img.rgb, stamp))
                self.pub_rgb_info.publish(info)
                if img.depth is not None:
                    self.pub_depth.publish(conv.depth_image_msg(img.depth, stamp))
                    self.pub_depth_info.publish(info)
                self._stats.render_s += time.perf_counter() - t0
                self._stats.frames += 1
                self._render_idle.set()
        except Exception as exc:
            self._running.clear()
            if not self.context.ok():
                return  # shutting down
            self.get_logger().fatal(f'render thread failed: {type(exc).__name__}: {exc}')
            self.failed = True
            raise
        finally:
            self._render_idle.set()
            for renderer in (camera, overview):
                if renderer is not None:
                    renderer.close()

    def _publish_diagnostics(self, now: float) -> None:
        s = self._stats
        b = self.backend
        wall = now - s.wall_mark
        rtf = (b.time - s.sim_mark) / wall if wall > 0 else 0.0
        values = {
            'sim_time': b.time,
            'real_time_factor': rtf,
            'target_real_time_factor': 'max'
            if self.params['max_speed']
            else self.params['real_time_factor'],
            'joint_states_hz': s.js / wall if wall > 0 else 0.0,
            'camera_hz': s.frames / wall if wall > 0 else 0.0,
            'step_ms_mean': 1e3 * s.step_s / max(s.steps, 1),
            'render_ms_mean': 1e3 * s.render_s / max(s.frames, 1),
            'slips': s.slips,
            'camera_frames_dropped': s.dropped,
            'rejected_trajectories': s.rejected,
            'gl_backend': self.gl_backend,
            **{k: round(v, 2) for k, v in s.command_age_ms().items()},
        }
        target = self.params['real_time_factor']
        slow = not self.params['max_speed'] and rtf < 0.8 * target and s.sim_mark > 0.0
        problems = [f'running below real time ({rtf:.2f}x)'] if slow else []
        late = values.get('commands_late', 0.0)
        if late > 0.05 * values.get('commands', 0.0):
            text = (
                f'{late:.0f} of {values["commands"]:.0f} joint trajectories applied more than '
                f'{1e3 * LATE_COMMAND:.0f} ms (sim time) after their stamp (p95 '
                f'{values["command_age_ms_p95"]:.0f} ms, max {values["command_age_ms_max"]:.0f} '
                'ms): the controller or the machine is too slow, and walking may fall'
            )
            problems.append(text)
            self.get_logger().warning(text, throttle_duration_sec=5.0)
        level = DiagnosticStatus.WARN if problems else DiagnosticStatus.OK
        message = '; '.join(problems) if problems else 'running'
        self.pub_diagnostics.publish(
            conv.diagnostics_msg(
                f'{NODE_NAME}: simulator', level, message, values, conv.time_msg(b.time)
            )
        )
        s.reset_window(now, b.time)

    def _open_viewer(self) -> None:
        if self.params['headless']:
            return
        if not os.environ.get('DISPLAY'):
            self.get_logger().warn('headless:=false but no DISPLAY: running without a viewer')
            return
        try:
            import mujoco.viewer

            self._viewer = mujoco.viewer.launch_passive(self.backend.model, self.backend.data)
        except Exception as exc:
            self.get_logger().warn(f'cannot open the MuJoCo viewer: {exc}')


class AgeHistogram:
    """Counts of command ages in 1 ms bins (constant memory however long the run). Ages in the
    simulator are whole physics steps (1 ms), so each lands on its bin's centre."""

    BIN = 0.001  # s
    BINS = 500  # the last bin holds everything from 0.4995 s on

    def __init__(self) -> None:
        self.counts = [0] * self.BINS
        self.count = 0
        self.max = -math.inf

    def _bin(self, age: float) -> int:
        return min(self.BINS - 1, max(0, round(age / self.BIN)))

    def add(self, age: float) -> None:
        self.counts[self._bin(age)] += 1
        self.count += 1
        self.max = max(self.max, age)

    def quantile(self, q: float) -> float:
        """The age (s, to the bin) at quantile q."""
        rank = q * self.count
        seen = 0
        for i, c in enumerate(self.counts):
            seen += c
            if c and seen >= rank:
                return i * self.BIN
        return self.max

    def fraction_over(self, age: float) -> float:
        """The fraction of ages more than `age` (s, to the bin)."""
        over = sum(self.counts[self._bin(age) + 1 :])
        return over / self.count if self.count else 0.0

    def __str__(self) -> str:
        return (
            f'{self.count} commands, median {1e3 * self.quantile(0.5):.0f} ms, p95 '
            f'{1e3 * self.quantile(0.95):.0f} ms, p99 {1e3 * self.quantile(0.99):.0f} ms, '
            f'max {1e3 * self.max:.1f} ms, {100 * self.fraction_over(LATE_COMMAND):.1f}% over '
            f'{1e3 * LATE_COMMAND:.0f} ms'
        )


class _Stats:
    """Counters for diagnostics over the last window."""

    def __init__(self) -> None:
        self.rejected = 0
        self.slips = 0
        self.dropped = 0
        self.command_ages: list[float] = []
        self.reset_window(time.monotonic(), 0.0)

    def reset_window(self, wall: float, sim: float) -> None:
        self.wall_mark, self.sim_mark = wall, sim
        self.steps = self.js = self.frames = 0
        self.step_s = self.render_s = 0.0
        self.command_ages = []

    def command_age_ms(self) -> dict[str, float]:
        """Median, p95 and max age (ms of sim time) of the stamped trajectories applied in
        this window, and how many arrived more than LATE_COMMAND s after their stamp."""
        ages = sorted(self.command_ages)
        if not ages:
            return {}
        return {
            'command_age_ms_median': 1e3 * ages[len(ages) // 2],
            'command_age_ms_p95': 1e3 * ages[int(0.95 * (len(ages) - 1))],
            'command_age_ms_max': 1e3 * ages[-1],
            'commands_late': float(sum(a > LATE_COMMAND + 1e-6 for a in ages)),
            'commands': float(len(ages)),
        }


def main(args: list[str] | None = None) -> int:
    """Entry point: `mujoco_sim [--max-speed] [--ros-args ...]`."""
    argv = list(sys.argv if args is None else args)
    overrides = []
    if '--max-speed' in argv:
        argv.remove('--max-speed')
        overrides.append(Parameter('max_speed', Parameter.Type.BOOL, True))
    rclpy.init(args=argv)
    return run_node(
        lambda: MujocoSimNode(parameter_overrides=overrides or None), NODE_NAME, (ParameterError,)
    )


if __name__ == '__main__':
    sys.exit(main())
