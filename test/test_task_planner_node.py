"""The task_planner node (ExecuteTask server) in a separate process over DDS: dry runs,
planning errors, approval/rejection, a missing motion controller, bad parameters."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from testutil import ROOT, VENV_BIN, Processes, ros_env, wait_for_line

PLANNER = ROOT / 'install' / 'lib' / 'humanoid_planning' / 'task_planner'
WORLD = ROOT / 'test' / 'fixtures' / 'world_publisher.py'


def humanoid(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(VENV_BIN / 'humanoid'), *args],
        env=ros_env(COLUMNS='160'),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope='module')
def stack():
    processes = Processes()
    world = processes.start([sys.executable, str(WORLD), 'lab'])
    wait_for_line(world, 'ready', timeout=60)
    planner = processes.start(
        [
            str(PLANNER),
            '--ros-args',
            '-p',
            'max_replans:=0',
            '-p',
            'world_timeout:=10.0',
        ]
    )
    try:
        wait_for_line(planner, 'task_planner ready', timeout=60)
        yield planner
    finally:
        processes.stop_all()


def test_dry_run_prints_validated_plan(stack):
    out = humanoid('task', '--dry-run', '--json', 'put the red cube in the tray')
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert result['error_code'] == 'SUCCESS'
    steps = result['executed_plan']['steps']
    assert [s['skill'] for s in steps] == ['pick', 'place_in']
    assert steps[1]['args'] == {'object': 'red_cube', 'container': 'tray'}
    assert result['executed_plan']['planner'] == 'embedded'


def test_dry_run_walks_to_the_station(stack):
    out = humanoid('task', '--dry-run', '--json', 'take the green cube to the bin')
    assert out.returncode == 0, out.stdout + out.stderr
    skills = [s['skill'] for s in json.loads(out.stdout)['executed_plan']['steps']]
    assert skills.index('walk_to') < skills.index('place_in')


@pytest.mark.parametrize(
    ('instruction', 'code'),
    [
        ('put the purple cube in the tray', 'UNKNOWN_OBJECT'),
        ('put the cube in the tray', 'AMBIGUOUS'),
        ('throw the red cube at the operator', 'REJECTED'),
        ('asdf qwerty', 'INVALID_INSTRUCTION'),
    ],
)
def test_planning_errors_have_their_codes(stack, instruction, code):
    out = humanoid('task', '--json', instruction)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result['error_code'] == code
    assert result['message']
    assert result['executed_plan']['steps'] == []


def test_results_say_when_perception_is_silent(stack):
    # The world model reports perception stale (detector or camera down, as it does after
    # perception_timeout): a task failing on an object that is not there says so. Then the
    # fresh state again: the same result carries no such note.
    from humanoid_core.world.scene import initial_world
    from humanoid_ros.world import world_to_msg
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from humanoid_interfaces.msg import WorldState

    rclpy.init()
    node = rclpy.create_node('stale_world_publisher')
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)  # fmt: skip
    pub = node.create_publisher(WorldState, 'world_state', latched)

    def task_message(stale: bool) -> str:
        msg = world_to_msg(initial_world('lab'), node.get_clock().now().to_msg())
        msg.perception_stale, msg.perception_age = stale, 42.0 if stale else 0.1
        # the planner must have discovered this publisher (seconds on a loaded machine; a
        # fresh-clone CI run failed with a fixed 1 s wait), then it gets the sample at once
        deadline = time.monotonic() + 30.0
        while pub.get_subscription_count() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert pub.get_subscription_count() >= 1, 'the planner never subscribed to world_state'
        pub.publish(msg)
        time.sleep(1.0)  # delivered (reliable, matched)
        out = humanoid('task', '--json', 'put the purple cube in the tray')
        result = json.loads(out.stdout)
        assert result['error_code'] == 'UNKNOWN_OBJECT', result
        return result['message']

    try:
        message = task_message(stale=True)
        assert 'object_detector' in message and 'no objects for 4' in message, message
        message = task_message(stale=False)
        assert 'purple' in message and 'object_detector' not in message, message
    finally:
        node.destroy_node()
        rclpy.shutdown()


def test_without_motion_controller_execution_fails_cleanly(stack):
    out = humanoid('task', '--json', 'put the red cube in the tray', timeout=120)
    assert out.returncode == 1
    result = json.loads(out.stdout)
    assert result['error_code'] == 'EXECUTION_FAILED'
    assert 'whole_body_controller' in result['message']


def test_operator_rejection(stack, processes):
    # The task waits for approval; a second client rejects it through the service.
    task = processes.start(
        [
            str(VENV_BIN / 'humanoid'),
            'task',
            '--require-approval',
            '--json',
            'put the red cube in the tray',
        ],
        env=ros_env(COLUMNS='160'),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    reject = [
        sys.executable,
        '-c',
        'import sys, time, rclpy\n'
        'from humanoid_interfaces.srv import ApproveTask\n'
        'rclpy.init(); n = rclpy.create_node("rejecter")\n'
        'c = n.create_client(ApproveTask, "approve_task"); c.wait_for_service(timeout_sec=20)\n'
        'for _ in range(100):\n'
        '    f = c.call_async(ApproveTask.Request(approve=False, approver="test:bob", '
        'reason="wrong cube"))\n'
        '    rclpy.spin_until_future_complete(n, f, timeout_sec=5)\n'
        '    if f.result() and f.result().accepted: sys.exit(0)\n'
        '    time.sleep(0.2)\n'
        'sys.exit(1)\n',
    ]
    assert subprocess.run(reject, env=ros_env(), timeout=60).returncode == 0
    task.wait(timeout=60)
    wait_for_line(task, '"error_code"', timeout=10)
    result = json.loads('\n'.join(task.lines))  # type: ignore[attr-defined]
    assert result['error_code'] == 'REJECTED'
    assert 'test:bob' in result['message'] and 'wrong cube' in result['message']


def test_task_waits_for_the_safety_supervisor(processes):
    """A supervisor that has no joint measurements yet (it would reject every command): each
    motion of a task waits for it, then the step fails naming the cause and nothing is sent; a
    dry run does not wait; once the supervisor is ready the motions go out (and fail here on the
    missing motion controller). Own namespace: the module's planner must not see this status."""
    rclpy = pytest.importorskip('rclpy')
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from humanoid_interfaces.action import ExecuteTask
    from humanoid_interfaces.msg import SafetyStatus

    ns = ['--ros-args', '-r', '__ns:=/wait_safety']
    wait_for_line(processes.start([sys.executable, str(WORLD), 'lab', *ns]), 'ready', 60)
    planner = processes.start([str(PLANNER), *ns, '-p', 'max_replans:=0',
                               '-p', 'safety_ready_timeout:=2.0'])  # fmt: skip
    wait_for_line(planner, 'task_planner ready', timeout=60)
    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node('safety_stand_in', namespace='/wait_safety', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)  # fmt: skip
    status = node.create_publisher(SafetyStatus, 'safety/status', latched)
    client = ActionClient(node, ExecuteTask, 'execute_task')

    def run(dry_run: bool = False) -> tuple[ExecuteTask.Result, float]:
        goal = ExecuteTask.Goal(instruction='put the red cube in the tray', dry_run=dry_run)
        t0 = time.monotonic()
        sent = client.send_goal_async(goal)
        executor.spin_until_future_complete(sent, timeout_sec=30)
        assert sent.result() is not None and sent.result().accepted
        done = sent.result().get_result_async()
        executor.spin_until_future_complete(done, timeout_sec=90)
        assert done.result() is not None, 'no result'
        return done.result().result, time.monotonic() - t0

    try:
        status.publish(SafetyStatus(ready=False))
        assert client.wait_for_server(timeout_sec=30)
        deadline = time.monotonic() + 30
        while status.get_subscription_count() == 0 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        time.sleep(1.0)  # the latched status reaching the planner
        dry, _ = run(dry_run=True)
        assert dry.error_code == ExecuteTask.Result.SUCCESS, dry.message
        result, took = run()
        assert result.error_code == ExecuteTask.Result.EXECUTION_FAILED
        assert 'no joint measurements' in result.message and 'joint_states' in result.message
        assert 'motion controller' not in result.message  # nothing was sent to it
        assert took >= 2.0
        assert list(result.executed_plan.steps) == []
        status.publish(SafetyStatus(ready=True))
        time.sleep(1.0)
        result, _ = run()
        assert result.error_code == ExecuteTask.Result.EXECUTION_FAILED
        assert 'motion controller' in result.message, result.message
        assert 'no joint measurements' not in result.message
    finally:
        executor.shutdown()
        node.destroy_node()
        context.try_shutdown()


def test_bad_parameter_fails_at_startup_naming_it():
    out = subprocess.run(
        [str(PLANNER), '--ros-args', '-p', 'backend:=gpt5'],
        env=ros_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    assert "'backend'" in out.stdout + out.stderr
