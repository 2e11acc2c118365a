"""Fault injection against the real multi-process stack in MuJoCo (issue "Safety and
reliability", part 4).

Every node runs in its own process, started individually (not from the launch file) so one
can be SIGKILLed mid-task and started again: mujoco_sim, safety_supervisor (requiring the
heartbeats of whole_body_controller and task_planner), whole_body_controller,
object_detector, world_model, task_planner, plus a *camera driver* stand-in: a small relay
process that forwards the simulator's camera topics (colour, depth, camera_info) to
`relay/camera/...`, which is what the detector and the world model are remapped to read. Killing
the relay stops the camera stream for perception exactly as a dead camera driver would, while
the simulator (and so the robot) keeps running.

Faults and what must happen (the robot ends upright and still, the task result explains what
happened, no process hangs, the stack recovers when the faulty part comes back):

(a) SIGKILL the whole-body controller mid pick-and-place: the task ends with a non-success
    code naming the controller, safety/status lists it in dead_nodes and holds; restarting
    the controller clears the status and a new task runs.
(a2) SIGKILL the task planner while `humanoid task` waits for the result: the CLI exits (code 3)
    saying the planner disappeared instead of waiting out its timeout; the supervisor lists it
    in dead_nodes and holds; restarted, the status clears and tasks plan again.
(b) SIGKILL the object detector mid-task: the world model's in-view objects decay and expire
    (no fresh detections), and after `perception_timeout` its world_state says perception is
    stale; the task completes on the tracked world or fails with a message naming the silent
    object_detector (the planner adds the world model's note); the robot does not move; after
    a restart (and a reset) the objects come back.
(c) stop the camera stream (kill the camera relay): the detector's diagnostics turn WARN naming
    the missing frames (`frame_timeout`), no objects are published, planning on the tracked
    world still answers; relay back -> diagnostics OK, detections and objects again.
(d) e-stop while walking to the station: the task ends ESTOPPED at once; arms and head hold at
    once, the legs finish the step and close the feet (the supervisor's controlled stop,
    `walk_stop_time`), then every joint holds; the robot is upright and still; release ->
    motions and tasks run again.

Print what the robot did in each case with `pytest -s` (lines starting with `[fault]`).

Covered elsewhere, not repeated here: NaN / out-of-limit commands, command flood and e-stop at
the supervisor (test/test_safety_supervisor_node.py); planner backend garbage and timeouts
(test/test_task_planner_openai.py, src/humanoid_core/test/test_planning_openai.py).
"""

from __future__ import annotations

from collections.abc import Iterator
import contextlib
import math
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import numpy as np
import pytest
from testutil import (
    ROOT,
    VENV_BIN,
    Processes,
    python_stacks,
    ros_env,
    speed_args,
    wait_for_line,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

rclpy = pytest.importorskip('rclpy')
from diagnostic_msgs.msg import DiagnosticArray  # noqa: E402
from humanoid_bringup.observer import Observer  # noqa: E402
from humanoid_bringup.stack import wait_until  # noqa: E402
from humanoid_bringup.task_view import error_name  # noqa: E402
from humanoid_core.control.balance import roll_pitch_of  # noqa: E402
from humanoid_ros.executors import SideNode  # noqa: E402
from rclpy.action import ActionClient  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import Imu, JointState  # noqa: E402
from std_msgs.msg import Bool  # noqa: E402

from humanoid_interfaces.action import LookAt  # noqa: E402
from humanoid_interfaces.msg import ObjectArray, SafetyStatus  # noqa: E402

INSTALL = ROOT / 'install' / 'lib'
CONFIG = ROOT / 'config'
LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
CAMERA_TOPICS = ('camera/color/image_raw', 'camera/depth/image_raw', 'camera/color/camera_info')
REMAP_CAMERA = [a for t in CAMERA_TOPICS for a in ('-r', f'{t}:=relay/{t}')]
SIM_TIME = ['-p', 'use_sim_time:=true']


def _params(name: str) -> list[str]:
    return ['--params-file', str(CONFIG / f'{name}.yaml')]


# name -> command line (the executables the launch file starts, with its parameters)
NODES: dict[str, list[str]] = {
    'mujoco_sim': [
        str(INSTALL / 'humanoid_hardware' / 'mujoco_sim'),
        '--ros-args',
        *_params('mujoco_sim'),
        '-p',
        'headless:=true',
        *speed_args(),
    ],
    'safety_supervisor': [
        str(INSTALL / 'humanoid_safety' / 'safety_supervisor'),
        '--ros-args',
        *_params('safety_supervisor'),
        *SIM_TIME,
        '-p',
        "required_nodes:=['whole_body_controller','task_planner']",
    ],
    'whole_body_controller': [
        str(INSTALL / 'humanoid_control' / 'whole_body_controller'),
        '--ros-args',
        *_params('whole_body_controller'),
        *SIM_TIME,
        *speed_args(),
    ],
    'object_detector': [
        str(INSTALL / 'humanoid_perception' / 'object_detector'),
        '--ros-args',
        *_params('object_detector'),
        *SIM_TIME,
        *REMAP_CAMERA,
    ],
    'world_model': [
        str(INSTALL / 'humanoid_perception' / 'world_model'),
        '--ros-args',
        *_params('world_model'),
        *SIM_TIME,
        *REMAP_CAMERA,
    ],
    'task_planner': [
        str(INSTALL / 'humanoid_planning' / 'task_planner'),
        '--ros-args',
        *SIM_TIME,
        '-p',
        'backend:=embedded',
        *speed_args(),
    ],
}

# The camera driver stand-in: forwards the simulator's camera topics as serialized bytes (no
# deserialization, cheap) to relay/camera/...; killing it stops the stream. It prints a line
# when the first message of each topic arrives (which reader got nothing, if a restart fails).
# A real camera driver has no readers: if one of the stand-in's own readers gets nothing for
# 5 s after it was made, it is made again (and says so), so that the test judges the
# detector's recovery, not the stand-in's.
RELAY = """
import time
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image
rclpy.init()
node = rclpy.create_node('camera_relay')
images = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
readers = {}
def forward(topic, pub):
    def on_message(raw):
        pub.publish(raw)
        if not readers[topic][1]:
            readers[topic][1] = True
            print('relay: first message on ' + topic, flush=True)
    return on_message
def subscribe(topic, kind, qos, pub):
    sub = node.create_subscription(kind, topic, forward(topic, pub), qos, raw=True)
    readers[topic] = [sub, False, time.monotonic(), (kind, qos, pub)]
def check_readers():
    for topic, (sub, seen, made, args) in list(readers.items()):
        if not seen and time.monotonic() - made > 5.0:
            node.destroy_subscription(sub)
            subscribe(topic, *args)
            print('relay: nothing on ' + topic + ' for 5 s: reader made again', flush=True)
for topic, kind, qos in (
    ('camera/color/image_raw', Image, images),
    ('camera/depth/image_raw', Image, images),
    ('camera/color/camera_info', CameraInfo, qos_profile_sensor_data),
):
    subscribe(topic, kind, qos, node.create_publisher(kind, 'relay/' + topic, qos))
node.create_timer(1.0, check_readers)
print('camera relay up', flush=True)
try:
    rclpy.spin(node)
except KeyboardInterrupt:
    pass
"""
NODES['camera_relay'] = [sys.executable, '-c', RELAY]

READY_LINE = {
    'whole_body_controller': 'whole-body controller up',
    'safety_supervisor': 'safety supervisor up',
    'camera_relay': 'camera relay up',
}
BODY_VELOCITY_STILL = 0.05  # rad/s: every non-gripper joint slower than this = still
UPRIGHT_TILT = 0.3  # rad: pelvis z axis (IMU) within this of vertical = upright (fallen ~1.5)


class FaultStack:
    """The stack as individually started processes + an Observer with extra monitors."""

    def __init__(self) -> None:
        self.procs = Processes()
        self.env = ros_env()
        self.running: dict[str, subprocess.Popen] = {}
        self.killed: list[subprocess.Popen] = []
        self.tilt = math.inf
        self.obs: Observer | None = None
        self.lock = threading.Lock()
        self.status: Any = None
        self.velocities: dict[str, float] = {}
        self.detector_diag: tuple[int, str] = (-1, '')
        self.controller_diag_at = 0.0
        self.objects_msgs = 0
        self.estop_pub: Any = None
        self.sensors: SideNode | None = None
        # (sim time, roll, pitch) of the IMU while tracing (None: not tracing)
        self.tilt_trace: list[tuple[float, float, float]] | None = None

    # -- processes -------------------------------------------------------------------------
    def start(self, name: str) -> subprocess.Popen:
        proc = self.procs.start(NODES[name], env=self.env)
        self.running[name] = proc
        return proc

    def kill(self, name: str) -> None:
        """SIGKILL the node's process group (no cleanup: a crash); reaps it."""
        proc = self.running[name]
        self.killed.append(proc)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def output(self, name: str, lines: int = 30) -> str:
        return '\n'.join(self.running[name].lines[-lines:])  # type: ignore[attr-defined]

    def assert_alive(self) -> None:
        dead = {
            n: p.returncode
            for n, p in self.running.items()
            if p.poll() is not None and p not in self.killed
        }
        assert not dead, f'processes exited: {dead}\n' + '\n'.join(
            f'--- {n}\n{self.output(n)}' for n in dead
        )

    # -- monitors --------------------------------------------------------------------------
    def attach(self, obs: Observer) -> None:
        self.obs = obs
        n = obs.node
        n.create_subscription(SafetyStatus, 'safety/status', self._on_status, LATCHED)
        n.create_subscription(DiagnosticArray, 'diagnostics', self._on_diag, 50)
        # 250 Hz topics on the events executor (see Observer): less CPU taken from the stack
        self.sensors = SideNode('fault_test_sensors', '', obs.context)
        side = self.sensors.node.create_subscription
        side(JointState, 'joint_states', self._on_js, qos_profile_sensor_data)
        side(Imu, 'imu', self._on_imu, qos_profile_sensor_data)
        self.sensors.start()
        n.create_subscription(
            ObjectArray,
            'perception/objects',
            self._on_objects,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.estop_pub = n.create_publisher(Bool, 'estop', LATCHED)  # as `humanoid estop`
        self.look_at = ActionClient(n, LookAt, 'look_at')

    def _on_status(self, msg: Any) -> None:
        self.status = msg

    def _on_js(self, msg: Any) -> None:
        with self.lock:
            self.velocities = {
                name: v
                for name, v in zip(msg.name, msg.velocity, strict=False)
                if 'gripper' not in name and 'finger' not in name
            }

    def _on_diag(self, msg: Any) -> None:
        for st in msg.status:
            if st.name.startswith('object_detector:'):
                self.detector_diag = (st.level[0] if isinstance(st.level, bytes) else st.level,
                                      st.message)  # fmt: skip
            elif st.name.startswith('whole_body_controller:'):
                self.controller_diag_at = time.monotonic()

    def _on_imu(self, msg: Any) -> None:
        o = msg.orientation
        # angle between the pelvis z axis and the world z axis
        self.tilt = math.acos(max(-1.0, min(1.0, 1.0 - 2.0 * (o.x**2 + o.y**2))))
        if self.tilt_trace is not None:
            roll, pitch = roll_pitch_of(np.array([o.w, o.x, o.y, o.z]))
            t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            self.tilt_trace.append((t, roll, pitch))

    def tilt_trace_text(self, every: float = 0.1) -> str:
        """The traced roll/pitch, one sample per `every` s of sim time."""
        out, last = [], -math.inf
        for t, roll, pitch in list(self.tilt_trace or ()):
            if t - last >= every:
                out.append(f't={t:.2f} roll={roll:+.3f} pitch={pitch:+.3f}')
                last = t
        return '\n'.join(out)

    def _on_objects(self, msg: Any) -> None:
        self.objects_msgs += 1

    # -- checks ----------------------------------------------------------------------------
    def max_joint_speed(self) -> float:
        with self.lock:
            return max((abs(v) for v in self.velocities.values()), default=math.inf)

    def upright(self) -> bool:
        return self.tilt < UPRIGHT_TILT

    def wait_still(self, timeout: float = 15.0) -> float:
        """Wait until all body joints are still for 1 s; returns the last max speed."""
        end = time.monotonic() + timeout
        still_since = None
        while time.monotonic() < end:
            if self.max_joint_speed() < BODY_VELOCITY_STILL:
                still_since = still_since or time.monotonic()
                if time.monotonic() - still_since > 1.0:
                    break
            else:
                still_since = None
            time.sleep(0.05)
        return self.max_joint_speed()

    def healthy(self) -> bool:
        st = self.status
        return st is not None and not st.estopped and not st.dead_nodes

    def ready(self, timeout: float = 120.0) -> None:
        """Everything up: heartbeats fine, objects in the world, action server there."""
        obs = self.obs
        assert obs is not None
        ok = wait_until(
            lambda: (
                self.healthy()
                and obs.world_objects() > 0
                and obs.robot() is not None
                and obs.task_client.server_is_ready()
                and time.monotonic() - self.controller_diag_at < 2.0
            ),
            timeout=timeout,
        )
        self.assert_alive()
        assert ok, f'stack not ready: status={self.status}, objects={obs.world_objects()}'
        # the containers are known first, the cubes after a few sightings: a task sent before
        # that failed with "there is no red cube ...; objects: tray, bin"
        obs.wait_world_settled()

    def hang_report(self, names: tuple[str, ...] = ('mujoco_sim', 'task_planner')) -> str:
        """The last log lines and py-spy stacks of live nodes, for a failure where the stack
        stopped answering (once, 2026-11-28: no task result, sim/reset failing and mujoco_sim
        ignoring SIGINT afterwards)."""
        out = []
        for name in names:
            proc = self.running.get(name)
            if proc is None or proc.poll() is not None:
                out.append(f'--- {name}: not running')
                continue
            out.append(f'--- {name} (pid {proc.pid}) log:\n{self.output(name, 10)}')
            out.append(python_stacks(proc.pid))
        return '\n'.join(out)

    def reset(self) -> None:
        """Nominal scene again (robot standing at the start, objects on the bench)."""
        assert self.obs is not None
        assert self.obs.reset_sim(-1), f'sim/reset failed\n{self.hang_report()}'
        time.sleep(3.0)  # settle; perception sees the reset scene
        self.ready()

    def look(self, x: float, y: float, z: float, timeout: float = 60.0) -> Any:
        """A LookAt goal straight to the controller (a small real motion); its result."""
        assert self.look_at.wait_for_server(timeout_sec=30.0), 'no look_at action server'
        goal = LookAt.Goal()
        goal.target.header.frame_id = 'world'
        goal.target.point.x, goal.target.point.y, goal.target.point.z = x, y, z
        send = self.look_at.send_goal_async(goal)
        assert wait_until(send.done, timeout), 'look_at goal not answered'
        handle = send.result()
        assert handle.accepted, 'look_at goal rejected'
        res = handle.get_result_async()
        assert wait_until(res.done, timeout), 'look_at: no result'
        return res.result().result

    def run_task_async(self, instruction: str, timeout: float = 300.0, **kw: Any) -> TaskRun:
        return TaskRun(self, instruction, timeout, **kw)


class TaskRun:
    """An ExecuteTask goal running in a thread, with its feedback history."""

    def __init__(self, stack: FaultStack, instruction: str, timeout: float, **kw: Any) -> None:
        self.feedback: list[tuple[float, int, int, str]] = []
        self.result: Any = None
        self.done = threading.Event()
        assert stack.obs is not None
        obs = stack.obs

        def on_fb(fb: Any) -> None:
            self.feedback.append((time.monotonic(), fb.state, fb.step_index, fb.status))

        def run() -> None:
            try:
                self.result = obs.run_task(instruction, on_feedback=on_fb, timeout=timeout, **kw)
            finally:
                self.done.set()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def wait_executing(self, min_step: int = 0, after: float = 0.0, timeout: float = 120.0) -> str:
        """Wait until a step >= min_step has executed for `after` s; returns its status."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self.done.is_set():
            started = [f for f in self.feedback if f[1] == 2 and f[2] >= min_step]
            if started and time.monotonic() - started[0][0] >= after:
                return self.feedback[-1][3]
            time.sleep(0.05)
        raise AssertionError(
            f'task did not reach step {min_step} (done={self.done.is_set()}, result='
            f'{self.result and (error_name(self.result.error_code), self.result.message)}, '
            f'feedback={self.feedback[-3:]})'
        )

    def wait(self, timeout: float = 120.0) -> Any:
        assert self.done.wait(timeout), f'task hung: no result in {timeout} s'
        assert self.result is not None, 'no task result (goal rejected or client timeout)'
        return self.result


@pytest.fixture(scope='module')
def stack() -> Iterator[FaultStack]:
    for name, cmd in NODES.items():
        if name != 'camera_relay' and not os.path.exists(cmd[0]):
            pytest.skip(f'{cmd[0]} not built (scripts/build.sh)')
    st = FaultStack()
    obs = None
    try:
        for name in NODES:
            st.start(name)
        for name, line in READY_LINE.items():
            wait_for_line(st.running[name], line, timeout=120)
        obs = Observer('fault_test')
        st.attach(obs)
        st.ready(timeout=180)
        yield st
        st.assert_alive()  # nothing crashed besides what the tests killed and restarted
    finally:
        if obs is not None:
            if st.sensors is not None:
                st.sensors.stop()
            obs.close()
        t0 = time.monotonic()
        st.procs.stop_all(grace=20.0)
        hung = [
            n
            for n, p in st.running.items()
            if p.returncode == -signal.SIGKILL and p not in st.killed
        ]
        assert time.monotonic() - t0 < 40.0
        # A node that needed SIGKILL at shutdown hung (those killed on purpose were replaced).
        assert not hung, f'nodes did not stop on SIGINT: {hung}'


def _record(stack: FaultStack, what: str, **facts: Any) -> None:
    """Print what the robot did (shown with pytest -s; kept in the report)."""
    robot = stack.obs.robot() if stack.obs else None
    base = None if robot is None else tuple(round(v, 3) for v in robot[:3])
    facts = {'base': base, 'tilt': round(stack.tilt, 3),
             'max_joint_speed': round(stack.max_joint_speed(), 3), **facts}  # fmt: skip
    print(f'\n[fault] {what}: ' + ' '.join(f'{k}={v!r}' for k, v in facts.items()), flush=True)


def test_controller_killed_mid_pick(stack: FaultStack) -> None:
    run = stack.run_task_async('put the red cube in the tray', timeout=400)
    step = run.wait_executing(min_step=0, after=4.0)
    stack.kill('whole_body_controller')
    killed_at = time.monotonic()
    if not run.done.wait(60):
        raise AssertionError(f'task hung: no result 60 s after the kill\n{stack.hang_report()}')
    result = run.wait(timeout=1)
    ended_after = time.monotonic() - killed_at
    code = error_name(result.error_code)
    assert code != 'SUCCESS'
    assert 'whole_body_controller' in result.message, (code, result.message)
    assert wait_until(lambda: 'whole_body_controller' in (stack.status.dead_nodes or []), 10)
    assert stack.status.holding, stack.status.reason
    speed = stack.wait_still()
    _record(stack, 'controller killed', during=step, code=code, message=result.message,
            ended_after_s=round(ended_after, 1), reason=stack.status.reason)  # fmt: skip
    assert stack.upright(), f'robot fell: tilt {stack.tilt:.2f} rad'
    assert speed < BODY_VELOCITY_STILL, f'robot still moving: {speed:.3f} rad/s'
    # A new task while the controller is dead fails and says why.
    refused = stack.obs.run_task('put the red cube in the tray', timeout=90)
    assert refused is not None and error_name(refused.error_code) != 'SUCCESS'
    _record(stack, 'task while the controller is dead',
            code=error_name(refused.error_code), message=refused.message)  # fmt: skip
    assert 'whole_body_controller' in refused.message, refused.message
    # Recovery: the controller comes back, the supervisor clears, tasks run again.
    wait_for_line(stack.start('whole_body_controller'), 'whole-body controller up', 90)
    assert wait_until(stack.healthy, 30), f'status did not clear: {stack.status}'
    stack.reset()
    dry = stack.obs.run_task('put the red cube in the tray', dry_run=True, timeout=60)
    assert dry is not None and error_name(dry.error_code) == 'SUCCESS', dry and dry.message
    # A real motion through the restarted controller and the supervisor (the head: walking
    # is exercised in test_estop_while_walking).
    look = stack.look(0.45, -0.15, 0.75)
    assert look.error_code == LookAt.Result.SUCCESS, look.message
    assert stack.upright()


def test_planner_killed_mid_task(stack: FaultStack) -> None:
    # The operator's `humanoid task` is waiting for the result when the task planner dies: it
    # must not wait out its timeout; the supervisor (requiring the planner's heartbeat) holds.
    stack.reset()
    cli = stack.procs.start(
        [str(VENV_BIN / 'humanoid'), 'task', '--timeout', '400', 'put the red cube in the tray'],
        env=stack.env,
    )
    assert wait_until(lambda: stack.max_joint_speed() > 0.1, 120), 'the robot did not move'
    time.sleep(2.0)
    stack.kill('task_planner')
    killed_at = time.monotonic()
    try:
        rc = cli.wait(timeout=120)
    except subprocess.TimeoutExpired:
        raise AssertionError('humanoid task still waiting 120 s after the planner died') from None
    ended_after = time.monotonic() - killed_at
    out = '\n'.join(cli.lines)  # type: ignore[attr-defined]
    assert wait_until(lambda: 'task_planner' in (stack.status.dead_nodes or []), 10)
    assert stack.status.holding, stack.status.reason
    speed = stack.wait_still()
    _record(stack, 'planner killed', cli_rc=rc, cli_ended_after_s=round(ended_after, 1),
            reason=stack.status.reason, cli=out.splitlines()[-1][:160])  # fmt: skip
    assert rc == 3, out
    assert 'task planner disappeared' in out, out
    assert stack.upright(), f'robot fell: tilt {stack.tilt:.2f} rad'
    assert speed < BODY_VELOCITY_STILL, f'robot still moving: {speed:.3f} rad/s'
    # Recovery: the planner comes back, the supervisor clears, tasks plan again.
    wait_for_line(stack.start('task_planner'), 'task_planner ready', 90)
    assert wait_until(stack.healthy, 30), f'status did not clear: {stack.status}'
    stack.reset()
    dry = stack.obs.run_task('put the red cube in the tray', dry_run=True, timeout=60)
    assert dry is not None and error_name(dry.error_code) == 'SUCCESS', dry and dry.message


def test_detector_killed_mid_task(stack: FaultStack) -> None:
    stack.reset()
    before = stack.obs.world_objects()
    run = stack.run_task_async('put the blue cube in the tray', timeout=400)
    step = run.wait_executing(min_step=0, after=1.0)
    stack.kill('object_detector')
    try:
        _detector_killed_checks(stack, run, step, before)
    finally:  # the next tests need it even when a check failed
        if stack.running['object_detector'].poll() is not None:
            stack.start('object_detector')


def _detector_killed_checks(stack: FaultStack, run: TaskRun, step: str, before: int) -> None:
    counts = []
    t0 = time.monotonic()
    while not run.done.is_set() and time.monotonic() - t0 < 300:
        counts.append(stack.obs.world_objects())
        time.sleep(0.5)
    result = run.wait(timeout=60)
    code = error_name(result.error_code)
    speed = stack.wait_still()
    _record(stack, 'detector killed', during=step, code=code, message=result.message,
            objects_before=before, objects_min=min(counts, default=None),
            objects_end=stack.obs.world_objects())  # fmt: skip
    assert stack.healthy(), 'the detector is not a required node: no hold expected'
    assert stack.upright()
    assert speed < BODY_VELOCITY_STILL
    if code != 'SUCCESS':
        # a failed task says why, naming the silent detector (the world model reports
        # perception stale after its perception_timeout, 2 s, before in-view objects expire; the
        # planner adds that)
        assert 'object_detector' in result.message, result.message
    # Recovery: the detector comes back, objects are detected and tracked again.
    n0 = stack.objects_msgs
    stack.start('object_detector')
    stack.reset()
    if not wait_until(lambda: stack.objects_msgs > n0 + 5, 60):
        proc = stack.running['object_detector']
        stacks = python_stacks(proc.pid) if proc.poll() is None else ''
        raise AssertionError(
            f'no detections after restart (detector diagnostics: {stack.detector_diag}, process '
            f'exit code {proc.poll()}):\n{stack.output("object_detector", 40)}\n{stacks}'
        )
    assert wait_until(lambda: stack.obs.world_objects() >= before, 60), (
        f'objects not back after the detector restart: {stack.obs.world_ids()}'
    )


def test_camera_stream_stopped(stack: FaultStack) -> None:
    stack.reset()
    before = stack.obs.world_objects()
    if not wait_until(lambda: stack.detector_diag == (0, 'detecting'), 30):
        pid = stack.running['object_detector'].pid
        raise AssertionError(
            f'{stack.detector_diag}:\n{stack.output("object_detector", 40)}\n{python_stacks(pid)}'
        )
    stack.kill('camera_relay')
    # (transient WARNs such as a colour/depth pair out of sync_slop may come first)
    assert wait_until(lambda: 'no camera frames' in stack.detector_diag[1], 15), (
        stack.detector_diag
    )
    level, message = stack.detector_diag
    assert level == 1, stack.detector_diag  # WARN
    time.sleep(1.0)
    n0 = stack.objects_msgs
    time.sleep(2.0)
    assert stack.objects_msgs == n0, 'objects published without camera frames'
    # Planning works on the tracked world (the world model keeps what it saw).
    dry = stack.obs.run_task('put the red cube in the tray', dry_run=True, timeout=60)
    _record(stack, 'camera stopped', diag=message, objects=stack.obs.world_objects(),
            dry_run=dry and (error_name(dry.error_code), dry.message))  # fmt: skip
    assert dry is not None
    assert error_name(dry.error_code) == 'SUCCESS' or dry.message
    # Recovery: the stream is back, the detector says so and detects again.
    wait_for_line(stack.start('camera_relay'), 'camera relay up', 30)
    # History: in 3 of about 12 clean CI runs (2026-11-26/27) no frame of the restarted relay
    # reached the detector within 30 s and this step was an expected failure (not reproduced in
    # 29 kill-and-restart cycles outside the full test; suspect: Fast DDS shared memory after a
    # SIGKILLed peer, eProsima/Fast-DDS#5053, #5469). Since 2026-11-27 the detector re-creates
    # its camera readers after `resubscribe_after` (10 s) without frames (or without
    # camera_info), and the relay its own after 5 s without input; no repeat in the fresh-clone
    # runs since, and the mark is gone. Since 2026-11-28 the stack runs without Fast DDS shared
    # memory (UDPv4: a SIGKILLed subscriber froze the simulator's publisher in its shared-memory
    # port twice; docs/DESIGN.md). A repeat names the stuck side in the logs below.
    if not wait_until(lambda: stack.detector_diag == (0, 'detecting'), 30):
        raise AssertionError(
            f'the detector got no frame from the restarted camera relay within 30 s '
            f'({stack.detector_diag}); detector log: '
            + ' | '.join(stack.output('object_detector', 6).splitlines())
            + '; relay log: '
            + ' | '.join(stack.output('camera_relay', 6).splitlines())
        )
    assert wait_until(lambda: stack.objects_msgs > n0 + 5, 30)
    assert wait_until(lambda: stack.obs.world_objects() >= before, 30), 'objects not back'


# History: walking over ROS on a loaded 2-core machine (commands 0-30 ms late, control ticks
# up to 50-90 ms apart) fell backwards during the controlled stop in most runs of 2026-11-26
# (ankle pitch kp 2.0: 1 of 8 passed, kp 0.7: 3 of 4 but it broke side-stepping, kp 1.3: 1 of
# 3; in-process with a model of the late link 12 of 12, src/humanoid_core/test/
# test_walking_latency.py) and the test was marked xfail. Since the test stack runs the
# simulator at half speed below 4 CPUs (2026-11-27) it passed in every run: at least 9
# fresh-clone CI runs and 2 alone. The mark is gone.
def test_estop_while_walking(stack: FaultStack) -> None:
    stack.reset()
    x0, y0, _, _ = stack.obs.robot()
    run = stack.run_task_async('walk to the station', timeout=300)
    run.wait_executing(min_step=0, timeout=120)

    def moved() -> float:
        x, y, _, _ = stack.obs.robot()
        return math.hypot(x - x0, y - y0)

    assert wait_until(lambda: moved() > 0.1, 120), 'the robot did not start walking'
    tilt_at_estop, moved_at_estop = stack.tilt, moved()
    stack.tilt_trace = []
    stack.estop_pub.publish(Bool(data=True))
    at = time.monotonic()
    result = run.wait(timeout=60)
    ended_after = time.monotonic() - at
    code = error_name(result.error_code)
    speed = stack.wait_still()
    fell = not stack.upright()
    _record(stack, 'e-stop while walking', code=code, message=result.message,
            walked_at_estop_m=round(moved_at_estop, 3), tilt_at_estop=round(tilt_at_estop, 3),
            base_moved_m=round(moved(), 3), ended_after_s=round(ended_after, 2),
            status=stack.status.reason, fell=fell)  # fmt: skip
    assert code == 'ESTOPPED', result.message
    assert not fell, (
        f'robot fell on e-stop mid-walk: tilt {stack.tilt:.2f} rad\n'
        + stack.tilt_trace_text()
        + '\n'
        + stack.output('safety_supervisor', 400)
        + '\n'
        + stack.output('whole_body_controller', 15)
    )
    stack.tilt_trace = None
    assert stack.status.estopped and stack.status.holding
    assert speed < BODY_VELOCITY_STILL, f'robot still moving: {speed:.3f} rad/s'
    refused = stack.obs.run_task('walk to the station', timeout=60)
    assert refused is not None and error_name(refused.error_code) == 'ESTOPPED'
    # Release: the stack works again, where the robot stopped.
    stack.estop_pub.publish(Bool(data=False))
    assert wait_until(stack.healthy, 15), stack.status
    look = stack.look(0.45, -0.15, 0.75)
    assert look.error_code == LookAt.Result.SUCCESS, (
        f'{look.message} after the release (tilt {stack.tilt:.2f} rad)\n'
        + stack.output('safety_supervisor', 400)
        + '\n'
        + stack.output('whole_body_controller', 40)
    )
    stack.reset()
    again = stack.obs.run_task('walk to the station', dry_run=True, timeout=60)
    assert again is not None and error_name(again.error_code) == 'SUCCESS', again.message
