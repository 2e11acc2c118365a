"""task_planner: the `execute_task` action server (contract) and the skill executor.

Wiring only: the state machine is humanoid_core.tasks.runner.TaskRunner, the planners and the
validator are humanoid_core.planning. This node reads `world_state`, proposes and validates a
plan, optionally waits for approval (`approve_task` service), executes it through the motion
actions and re-plans on failure. It ends a running task when the e-stop engages (`estop`,
`safety/status`) or the safety supervisor reports a dead node.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from humanoid_core.tasks.runner import Approval, RunnerConfig, TaskRequest, TaskRunner, TaskState
from humanoid_core.world.types import WorldSnapshot
from humanoid_ros.executors import spin_until_shutdown
from humanoid_ros.params import ParameterError, declare_parameters
from humanoid_ros.world import plan_to_msg, world_from_msg
import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.clock import Clock, ClockType
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from humanoid_interfaces.action import ExecuteTask
from humanoid_interfaces.msg import WorldState
from humanoid_interfaces.srv import ApproveTask
from humanoid_planning.motion_port import ActionMotionPort
from humanoid_planning.planners import PlannerSetup, build_planner

LATCHED = QoSProfile(
    depth=1,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

PARAMETERS: list[tuple[str, Any, str, tuple[float, float] | None]] = [
    ('backend', 'embedded', 'planner backend: embedded | transformers | openai', None),
    ('skills_file', '', 'skill registry YAML (empty: config/skills.yaml)', None),
    ('model_path', '', 'transformers backend: local causal-LM folder', None),
    ('base_url', '', 'openai backend: server URL, e.g. http://127.0.0.1:8000/v1', None),
    ('model', '', 'openai backend: model name on the server', None),
    ('api_key_env', 'OPENAI_API_KEY', 'openai backend: env variable holding the key', None),
    ('request_timeout', 30.0, 'openai backend: seconds per request', (0.1, 600.0)),
    (
        'require_approval',
        False,
        'every plan needs operator approval (on for real robots)',
        None,
    ),
    (
        'world_timeout',
        5.0,
        'seconds to wait for world_state before planning fails',
        (0.0, 120.0),
    ),
    ('max_replans', 2, 're-plans after failed steps before the task fails', (0, 10)),
    # A walk from the bench to the station takes 55-60 s of sim time (in-process, 2026-11-27):
    # at 60 s a carrying walk timed out on arrival in the `lab` suite. The controller itself
    # ends a motion that is blocked, falls or cannot reach (it does not rely on this timeout).
    (
        'motion_timeout',
        150.0,
        'seconds one motion action may take (divided by real_time_factor: simulated seconds)',
        (0.5, 3600.0),
    ),
    (
        'check_effects',
        True,
        "check each step's effects in the world state after it, and once the plan has run "
        'that what the steps left still holds (else re-plan)',
        None,
    ),
    ('effect_settle', 2.0, 'seconds to wait for effects to show in the world state', (0.0, 30.0)),
    (
        'safety_ready_timeout',
        20.0,
        'seconds a motion waits for the safety supervisor to have joint measurements (it '
        'rejects every command until then) before the step fails',
        (0.0, 600.0),
    ),
    ('diagnostics_period', 1.0, 'seconds between diagnostics (heartbeat) messages', (0.1, 10.0)),
    (
        'real_time_factor',
        1.0,
        "the simulator's sim seconds per wall second: the wall-clock timeouts above "
        '(motion, world, effects, safety ready) are divided by it',
        (0.05, 10.0),
    ),
]


class _GoalHooks:
    """TaskHooks for one goal: feedback, approval, cancel and e-stop queries."""

    def __init__(self, node: TaskPlannerNode, goal_handle: Any) -> None:
        self.node = node
        self.goal_handle = goal_handle

    def feedback(self, state, plan, step_index, progress, status) -> None:
        fb = ExecuteTask.Feedback()
        fb.state = int(state)
        fb.plan = plan_to_msg(plan)
        fb.step_index = int(step_index)
        fb.progress = float(max(0.0, min(1.0, progress)))
        fb.status = status
        self.goal_handle.publish_feedback(fb)
        self.node.last_status = f'{state.name.lower()}: {status}'

    def wait_for_approval(self, plan) -> Approval | None:
        node = self.node
        with node.approval_lock:
            node.approval_event.clear()
            node.approval_decision = None
            node.awaiting_approval = True
        try:
            while not node.approval_event.wait(0.5):
                if self.canceled() or self.estopped():
                    return None
                # Re-send the feedback so late-joining clients (console, CLI) see the plan.
                self.feedback(TaskState.AWAITING_APPROVAL, plan, -1, 0.0, 'waiting for approval')
            return node.approval_decision
        finally:
            with node.approval_lock:
                node.awaiting_approval = False

    def canceled(self) -> bool:
        return bool(self.goal_handle.is_cancel_requested) or not rclpy.ok()

    def estopped(self) -> bool:
        return self.node.estopped

    def fault(self) -> str | None:
        dead = self.node.dead_nodes
        return f'node(s) {", ".join(dead)} died (safety supervisor)' if dead else None


class TaskPlannerNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__('task_planner', **kwargs)
        self.p = declare_parameters(self, PARAMETERS)
        self.setup: PlannerSetup = build_planner(self.p, self.get_logger())
        self.world: WorldSnapshot | None = None
        self.world_lock = threading.Lock()
        # the latest world_state's perception fields and when it came (steady clock)
        self.perception_stale = False
        self.perception_age = 0.0
        self.world_received = 0.0
        self.estop_topic = False
        self.estop_status = False
        self.status_seen = False
        self.safety_ready = False
        self.dead_nodes: list[str] = []
        self.safety_reason = ''
        self.busy = threading.Lock()
        self.approval_lock = threading.Lock()
        self.approval_event = threading.Event()
        self.approval_decision: Approval | None = None
        self.awaiting_approval = False
        self.last_status = 'idle'

        reentrant = ReentrantCallbackGroup()
        self.create_subscription(WorldState, 'world_state', self._on_world, LATCHED)
        self.create_subscription(Bool, 'estop', self._on_estop, LATCHED)
        self._subscribe_safety_status()
        self.create_service(
            ApproveTask,
            'approve_task',
            self._on_approve,
            callback_group=MutuallyExclusiveCallbackGroup(),
        )
        self.motion = ActionMotionPort(
            self,
            reentrant,
            lambda: self.p['motion_timeout'] / self.p['real_time_factor'],
            not_ready=self._supervisor_not_ready,
            ready_timeout_s=lambda: self.p['safety_ready_timeout'] / self.p['real_time_factor'],
        )
        self.runner = TaskRunner(
            world=self._world_copy,
            propose=self.setup.propose,
            expand=self.setup.expand,
            motion=self.motion,
            check_effects=self.setup.check_effects if self.p['check_effects'] else None,
            promises=self.setup.promises if self.p['check_effects'] else None,
            config=RunnerConfig(
                max_replans=self.p['max_replans'],
                world_timeout_s=self.p['world_timeout'] / self.p['real_time_factor'],
                effect_settle_s=self.p['effect_settle'] / self.p['real_time_factor'],
            ),
        )
        self._server = ActionServer(
            self,
            ExecuteTask,
            'execute_task',
            execute_callback=self._execute,
            goal_callback=self._on_goal,
            cancel_callback=lambda _g: CancelResponse.ACCEPT,
            callback_group=reentrant,
        )
        self.diag_pub = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        # Heartbeat on the steady clock: with use_sim_time a sim-time timer would slow down
        # with the simulator and the safety supervisor (steady clock) would declare us dead.
        self.create_timer(
            self.p['diagnostics_period'],
            self._publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.get_logger().info(
            f'task_planner ready: backend={self.p["backend"]}, '
            f'require_approval={self.p["require_approval"]}'
        )

    # -- inputs ----------------------------------------------------------------------------
    def _on_world(self, msg: WorldState) -> None:
        try:
            world = world_from_msg(msg)
        except Exception as exc:
            self.get_logger().error(f'ignoring malformed world_state: {exc}')
            return
        with self.world_lock:
            self.world = world
            self.world_received = time.monotonic()
            self.perception_stale = bool(msg.perception_stale)
            self.perception_age = float(msg.perception_age)

    def _perception_note(self) -> str:
        """'' unless the world model reports perception silent (no perception/objects for
        longer than its perception_timeout). Added to task results: a task that fails because
        objects expired while the detector was down then says so instead of only 'there is no
        blue cube'. (The world model's own silence is not judged here: a world_state source
        may publish only on change.)"""
        with self.world_lock:
            stale = self.perception_stale
            age = self.perception_age + time.monotonic() - self.world_received
        if stale:
            return (
                f'perception has sent no objects for {age:.0f} s (is the object_detector node '
                'running and the camera publishing?): objects in view expire without fresh '
                'detections'
            )
        return ''

    def _world_copy(self) -> WorldSnapshot | None:
        with self.world_lock:
            return self.world

    @property
    def estopped(self) -> bool:
        # The supervisor's latched status is authoritative once seen (it also reflects
        # releases through the `estop` service); the raw topic covers stacks without it.
        return self.estop_status if self.status_seen else self.estop_topic

    def _on_estop(self, msg: Bool) -> None:
        if msg.data and not self.estopped:
            self.get_logger().warning('e-stop engaged: running tasks end with ESTOPPED')
        self.estop_topic = bool(msg.data)

    def _subscribe_safety_status(self) -> None:
        try:
            from humanoid_interfaces.msg import SafetyStatus  # added by the safety work
        except ImportError:
            return

        def on_status(msg: Any) -> None:
            self.status_seen = True
            self.safety_ready = bool(msg.ready)
            self.estop_status = bool(msg.estopped)
            self.dead_nodes = [n for n in msg.dead_nodes if n != self.get_name()]
            self.safety_reason = msg.reason

        self.create_subscription(SafetyStatus, 'safety/status', on_status, LATCHED)

    def _on_approve(self, request: ApproveTask.Request, response: ApproveTask.Response):
        with self.approval_lock:
            if not self.awaiting_approval:
                response.accepted = False
                response.message = 'no plan is waiting for approval'
                return response
            self.approval_decision = Approval(
                bool(request.approve), request.approver or 'operator', request.reason
            )
            self.approval_event.set()
        response.accepted = True
        response.message = 'approved' if request.approve else 'rejected'
        return response

    # -- action server ---------------------------------------------------------------------
    def _on_goal(self, goal: ExecuteTask.Goal) -> GoalResponse:
        if self.busy.locked():
            self.get_logger().warning(f'rejecting task {goal.instruction!r}: busy')
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle: Any) -> ExecuteTask.Result:
        goal = goal_handle.request
        result = ExecuteTask.Result()
        if not self.busy.acquire(blocking=False):
            goal_handle.abort()
            result.error_code = ExecuteTask.Result.PLANNING_FAILED
            result.message = 'another task is running'
            return result
        try:
            self.get_logger().info(f'task: {goal.instruction!r} (dry_run={goal.dry_run})')
            request = TaskRequest(
                instruction=goal.instruction,
                dry_run=goal.dry_run,
                require_approval=goal.require_approval or self.p['require_approval'],
            )
            outcome = self.runner.run(request, _GoalHooks(self, goal_handle))
            result.error_code = int(outcome.code)
            result.message = outcome.message
            if outcome.code.name == 'ESTOPPED' and self.safety_reason:
                result.message += f' ({self.safety_reason})'
            note = self._perception_note()
            if note:
                result.message += f' [note: {note}]'
            result.executed_plan = plan_to_msg(outcome.executed)
            result.approved_by = outcome.approved_by
            result.planning_time = float(outcome.planning_time)
            result.execution_time = float(outcome.execution_time)
            self.get_logger().info(f'result: {outcome.code.name}: {result.message}')
            if outcome.code.name == 'SUCCESS':
                goal_handle.succeed()
            elif outcome.code.name == 'CANCELED' and goal_handle.is_cancel_requested:
                goal_handle.canceled()
            else:
                goal_handle.abort()
            return result
        finally:
            self.last_status = 'idle'
            self.busy.release()

    def _supervisor_not_ready(self) -> str:
        """Why the robot cannot be commanded yet: the safety supervisor is up but has no joint
        measurements (it rejects every command until then); '' otherwise, also with no
        supervisor seen (a stack without one)."""
        if self.status_seen and not self.safety_ready:
            return (
                'the safety supervisor has no joint measurements and rejects every command: is '
                'joint_states published (simulator or hardware driver running)?'
            )
        return ''

    def _publish_diagnostics(self) -> None:
        status = DiagnosticStatus(
            level=DiagnosticStatus.OK,
            name=f'{self.get_name()}: planner',
            message=self.last_status,
            hardware_id='',
        )
        status.values = [
            KeyValue(key='backend', value=str(self.p['backend'])),
            KeyValue(key='world_state', value='received' if self.world else 'none yet'),
            KeyValue(key='estopped', value=str(self.estopped)),
        ]
        if self.world is None:
            status.level = DiagnosticStatus.WARN
        msg = DiagnosticArray(status=[status])
        msg.header.stamp = self.get_clock().now().to_msg()
        self.diag_pub.publish(msg)


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    try:
        node = TaskPlannerNode()
    except ParameterError as exc:
        print(f'task_planner: {exc}', flush=True)
        rclpy.try_shutdown()
        raise SystemExit(2) from None
    executor = MultiThreadedExecutor(num_threads=4)
    executor.add_node(node)
    try:
        spin_until_shutdown(node, executor)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
