"""Motion calls (plain data from the skill registry) -> action goals on the motion controller.

:class:`ActionMotionPort` implements the core's ``MotionPort`` with rclpy action clients for
the motion actions (move_hand, grasp, release, walk_to, look_at, go_to_posture). It never
blocks an executor thread on a future: it polls futures that the node's executor completes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
import time
from typing import Any

from geometry_msgs.msg import PointStamped, PoseStamped
from humanoid_core.planning.types import MotionCall
from humanoid_core.tasks.runner import MotionResult
from rclpy.action import ActionClient
from rclpy.node import Node

from humanoid_interfaces.action import GoToPosture, Grasp, LookAt, MoveHand, Release, WalkTo

ACTION_TYPES: dict[str, Any] = {
    'move_hand': MoveHand,
    'grasp': Grasp,
    'release': Release,
    'walk_to': WalkTo,
    'look_at': LookAt,
    'go_to_posture': GoToPosture,
}


class GoalError(ValueError):
    """A motion call's goal data does not fit the action's goal message."""


def _pose_stamped(value: Any) -> PoseStamped:
    if not isinstance(value, Mapping):
        raise GoalError(
            f'expected a pose mapping {{frame_id, position, orientation}}, got {value!r}'
        )
    msg = PoseStamped()
    msg.header.frame_id = str(value.get('frame_id', 'world'))
    pos = list(value.get('position', (0.0, 0.0, 0.0)))
    ori = list(value.get('orientation', (0.0, 0.0, 0.0, 1.0)))
    if len(pos) != 3 or len(ori) != 4:
        raise GoalError(f'pose needs 3 position and 4 orientation values (x, y, z, w): {value!r}')
    msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in pos)
    o = msg.pose.orientation
    o.x, o.y, o.z, o.w = (float(v) for v in ori)
    return msg


def _point_stamped(value: Any) -> PointStamped:
    msg = PointStamped()
    if isinstance(value, Mapping):
        msg.header.frame_id = str(value.get('frame_id', 'world'))
        pt = list(value.get('point', value.get('position', ())))
    else:
        msg.header.frame_id = 'world'
        pt = list(value)
    if len(pt) != 3:
        raise GoalError(f'expected a point (x, y, z), got {value!r}')
    msg.point.x, msg.point.y, msg.point.z = (float(v) for v in pt)
    return msg


def goal_from_call(call: MotionCall) -> Any:
    """Build the action goal message for a motion call, naming any field that does not fit."""
    try:
        action_type = ACTION_TYPES[call.action]
    except KeyError:
        raise GoalError(
            f'unknown motion action {call.action!r}; valid: {", ".join(ACTION_TYPES)}'
        ) from None
    goal = action_type.Goal()
    fields = goal.get_fields_and_field_types()
    for key, value in call.goal.items():
        if key not in fields:
            raise GoalError(
                f'{call.action} goal has no field {key!r}; fields: {", ".join(fields)}'
            )
        kind = fields[key]
        if kind == 'geometry_msgs/PoseStamped':
            setattr(goal, key, _pose_stamped(value))
        elif kind == 'geometry_msgs/PointStamped':
            setattr(goal, key, _point_stamped(value))
        elif kind in ('float', 'double'):
            setattr(goal, key, float(value))
        elif kind == 'boolean':
            setattr(goal, key, bool(value))
        elif kind == 'string':
            setattr(goal, key, str(value))
        else:
            raise GoalError(f'{call.action}.{key}: unsupported field type {kind}')
    return goal


class ActionMotionPort:
    """Runs motion calls as action goals; cancels the goal when ``should_stop`` turns true."""

    def __init__(
        self,
        node: Node,
        callback_group: Any,
        timeout_s: Callable[[], float],
        server_wait_s: float = 5.0,
        not_ready: Callable[[], str] | None = None,
        ready_timeout_s: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`not_ready`: why the robot cannot be commanded yet ('' when it can; the safety
        supervisor without joint measurements); a motion waits up to `ready_timeout_s` s for
        it to clear, then fails with that reason (code UNAVAILABLE), sending nothing."""
        self._node = node
        self._timeout_s = timeout_s
        self._server_wait_s = server_wait_s
        self._not_ready = not_ready
        self._ready_timeout_s = ready_timeout_s
        self._clients = {
            name: ActionClient(node, t, name, callback_group=callback_group)
            for name, t in ACTION_TYPES.items()
        }

    def _wait(self, future: Any, deadline: float, should_stop: Callable[[], bool]) -> str:
        while not future.done():
            if should_stop():
                return 'stopped'
            if time.monotonic() > deadline:
                return 'timeout'
            time.sleep(0.01)
        return 'done'

    def execute(self, call: MotionCall, should_stop: Callable[[], bool]) -> MotionResult:
        if call.local:
            return self._local(call, should_stop)
        try:
            goal = goal_from_call(call)
        except (GoalError, TypeError, ValueError) as exc:
            return MotionResult(False, 'INVALID_GOAL', str(exc))
        waited = self._wait_ready(should_stop)
        if waited is not None:
            return waited
        client = self._clients[call.action]
        if not client.wait_for_server(timeout_sec=self._server_wait_s):
            return MotionResult(
                False,
                'UNAVAILABLE',
                f'no motion controller serves `{call.action}` (is whole_body_controller running?)',
            )
        deadline = time.monotonic() + self._timeout_s()
        send = client.send_goal_async(goal)
        state = self._wait(send, deadline, should_stop)
        if state != 'done':
            return MotionResult(False, 'TIMEOUT' if state == 'timeout' else 'PREEMPTED', state)
        handle = send.result()
        if handle is None or not handle.accepted:
            return MotionResult(
                False, 'REJECTED', f'{call.action} goal rejected by the controller'
            )
        result_future = handle.get_result_async()
        state = self._wait(result_future, deadline, should_stop)
        if state != 'done':
            handle.cancel_goal_async()
            code = 'TIMEOUT' if state == 'timeout' else 'PREEMPTED'
            return MotionResult(False, code, f'{call.action} {state}; goal canceled')
        result = result_future.result().result
        names = {
            getattr(type(result), a): a
            for a in dir(type(result))
            if a.isupper() and isinstance(getattr(type(result), a), int)
        }
        code = names.get(result.error_code, str(result.error_code))
        return MotionResult(result.error_code == 0, code, result.message)

    def _wait_ready(self, should_stop: Callable[[], bool]) -> MotionResult | None:
        """None once `not_ready` is clear (at start-up the supervisor's first joint_states
        can come seconds after the rest of the stack is up, and until then it rejects every
        command: the first motions of a task failed); else the failure to return."""
        if self._not_ready is None:
            return None
        deadline = time.monotonic() + self._ready_timeout_s()
        while reason := self._not_ready():
            if should_stop():
                return MotionResult(False, 'PREEMPTED', f'stopped while waiting: {reason}')
            if time.monotonic() > deadline:
                return MotionResult(
                    False, 'UNAVAILABLE', f'{reason} (waited {self._ready_timeout_s():g} s)'
                )
            time.sleep(0.05)
        return None

    def _local(self, call: MotionCall, should_stop: Callable[[], bool]) -> MotionResult:
        if call.action == 'wait':
            end = time.monotonic() + float(call.goal.get('seconds', 0.0))
            while time.monotonic() < end:
                if should_stop():
                    return MotionResult(False, 'PREEMPTED', 'wait interrupted')
                time.sleep(0.02)
            return MotionResult(True)
        if call.action == 'report':
            self._node.get_logger().info(f'report: {call.goal.get("text", "")}')
            return MotionResult(True, data={'text': str(call.goal.get('text', ''))})
        return MotionResult(False, 'INVALID_GOAL', f'unknown local action {call.action!r}')
