"""The console's ROS side: one rclpy node spinning in a background thread.

It subscribes the head camera, the detected objects, the world state and the safety status,
sends ExecuteTask goals, approves/rejects plans and engages/releases the e-stop. Everything
it learns is turned into JSON-ready events handed to `emit` (called from the ROS thread; the
web side forwards them to the browsers).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
import contextlib
import itertools
import math
import threading
import time
from typing import Any

import numpy as np

from humanoid_bringup.task_view import error_name, plan_to_dict, result_to_dict, state_name

Event = dict[str, Any]

CAMERA_TOPIC = 'camera/color/image_raw'
HISTORY_LENGTH = 50


class ConsoleError(RuntimeError):
    """A request the console cannot carry out; the message says why and how to fix it."""


def image_to_jpeg(msg: Any, quality: int = 70) -> bytes:
    """sensor_msgs/Image (rgb8, bgr8, mono8 or 32FC1 depth) -> JPEG bytes.

    Raises:
        ValueError: unsupported encoding or a data size that does not match width x height.
    """
    import cv2

    h, w, enc = int(msg.height), int(msg.width), msg.encoding
    buf = np.frombuffer(bytes(msg.data), dtype=np.uint8)
    channels = {'rgb8': 3, 'bgr8': 3, 'mono8': 1, '32FC1': 4}
    if enc not in channels:
        raise ValueError(f'image encoding {enc!r} not supported (use one of {sorted(channels)})')
    row = int(msg.step) or w * channels[enc]
    if buf.size < row * h:
        raise ValueError(f'image data has {buf.size} bytes, expected {row * h} ({w}x{h} {enc})')
    rows = buf[: row * h].reshape(h, row)
    if enc == '32FC1':
        depth = rows[:, : w * 4].copy().view(np.float32).reshape(h, w)
        depth = np.nan_to_num(depth, nan=0.0, posinf=0.0)
        img = np.clip(depth / max(float(depth.max()), 1e-6) * 255.0, 0, 255).astype(np.uint8)
    elif enc == 'mono8':
        img = rows[:, :w]
    else:
        img = rows[:, : w * 3].reshape(h, w, 3)
        if enc == 'rgb8':
            img = img[:, :, ::-1]
    ok, jpeg = cv2.imencode('.jpg', np.ascontiguousarray(img), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError('JPEG encoding failed')
    return jpeg.tobytes()


def object_to_dict(obj: Any) -> dict[str, Any]:
    p = obj.pose.position
    return {
        'id': obj.id,
        'label': obj.label,
        'shape': obj.shape,
        'color': obj.color,
        'position': [round(float(p.x), 3), round(float(p.y), 3), round(float(p.z), 3)],
        'confidence': round(float(obj.confidence), 3),
        'container': bool(obj.is_container),
    }


class ConsoleBridge:
    """rclpy side of the web console. Thread-safe; `start()` spins it in a daemon thread."""

    def __init__(
        self,
        emit: Callable[[Event], None],
        namespace: str = '',
        camera_hz: float = 5.0,
        approver: str = 'console',
    ) -> None:
        import rclpy
        from rclpy.action import ActionClient
        from rclpy.executors import MultiThreadedExecutor
        from rclpy.qos import (
            DurabilityPolicy,
            QoSProfile,
            ReliabilityPolicy,
        )
        from sensor_msgs.msg import Image
        from std_msgs.msg import Bool
        from std_srvs.srv import SetBool

        from humanoid_interfaces.action import ExecuteTask
        from humanoid_interfaces.msg import ObjectArray, SafetyStatus, WorldState
        from humanoid_interfaces.srv import ApproveTask

        self._ExecuteTask = ExecuteTask
        self._ApproveTask = ApproveTask
        self._SetBool = SetBool
        self._Bool = Bool
        self.emit = emit
        self.approver = approver
        self.camera_period = 1.0 / camera_hz if camera_hz > 0 else float('inf')
        self._lock = threading.RLock()
        self._ids = itertools.count(1)
        self.task: Event | None = None
        self.history: deque[Event] = deque(maxlen=HISTORY_LENGTH)
        self.safety: Event = {'seen': False, 'estopped': False, 'holding': False, 'reason': ''}
        self.estop_topic: bool | None = None
        self.objects: list[Event] = []
        self.objects_source = ''
        self.detections = 0
        self.camera_jpeg: bytes | None = None
        self.camera_frames = 0
        self._last_camera = -math.inf  # the first frame is always encoded
        self._goal_handle: Any = None

        if not rclpy.ok():
            rclpy.init(args=None)
        self._rclpy = rclpy
        self.node = rclpy.create_node('humanoid_console', namespace=namespace or None)
        latched = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        camera_qos = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        objects_qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        node = self.node
        node.create_subscription(Image, CAMERA_TOPIC, self._on_image, camera_qos)
        node.create_subscription(ObjectArray, 'perception/objects', self._on_objects, objects_qos)
        node.create_subscription(WorldState, 'world_state', self._on_world, latched)
        node.create_subscription(SafetyStatus, 'safety/status', self._on_safety, latched)
        node.create_subscription(Bool, 'estop', self._on_estop_topic, latched)
        self.estop_pub = node.create_publisher(Bool, 'estop', latched)
        self.estop_client: Any = node.create_client(SetBool, 'estop')
        self.approve_client: Any = node.create_client(ApproveTask, 'approve_task')
        self.action: Any = ActionClient(node, ExecuteTask, 'execute_task')
        self.executor = MultiThreadedExecutor(num_threads=2)
        self.executor.add_node(node)
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._spin, name='console-ros', daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        from rclpy.executors import ExternalShutdownException

        with contextlib.suppress(ExternalShutdownException):
            self.executor.spin()

    def shutdown(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.node.destroy_node()
        self._rclpy.try_shutdown()
        if self._thread is not None:
            self._thread.join(timeout=3.0)

    # --- snapshot ------------------------------------------------------------------------
    def snapshot(self) -> Event:
        with self._lock:
            return {
                'type': 'snapshot',
                'task': self.task,
                'history': list(self.history),
                'safety': self._safety_event(),
                'objects': self._objects_event(),
                'camera_frames': self.camera_frames,
            }

    def _safety_event(self) -> Event:
        estopped = self.safety['estopped'] if self.safety['seen'] else bool(self.estop_topic)
        return {'type': 'safety', **self.safety, 'estopped': estopped}

    def _objects_event(self) -> Event:
        return {
            'type': 'objects',
            'source': self.objects_source,
            'objects': self.objects,
            'detections': self.detections,
        }

    # --- subscriptions -------------------------------------------------------------------
    def _on_image(self, msg: Any) -> None:
        # The count goes up after the JPEG is stored: a client that sees camera_frames > 0
        # finds an image at /api/camera.jpg (counted first, a request in between got 404).
        now = time.monotonic()
        if now - self._last_camera < self.camera_period:
            self.camera_frames += 1
            return
        self._last_camera = now
        try:
            jpeg = image_to_jpeg(msg)
        except ValueError as exc:
            self.camera_frames += 1
            self.node.get_logger().warning(f'camera: {exc}', throttle_duration_sec=10.0)
            return
        self.camera_jpeg = jpeg
        self.camera_frames += 1
        self.emit({'type': 'camera', 'frames': self.camera_frames, 'jpeg': jpeg})

    def _on_objects(self, msg: Any) -> None:
        with self._lock:
            self.detections = len(msg.objects)
            if self.objects_source != 'world_state':
                self.objects = [object_to_dict(o) for o in msg.objects]
                self.objects_source = 'perception/objects'
            event = self._objects_event()
        self.emit(event)

    def _on_world(self, msg: Any) -> None:
        with self._lock:
            self.objects = [object_to_dict(o) for o in msg.objects]
            self.objects_source = 'world_state'
            event = self._objects_event()
        self.emit(event)

    def _on_safety(self, msg: Any) -> None:
        with self._lock:
            new = {
                'seen': True,
                'ready': bool(msg.ready),
                'estopped': bool(msg.estopped),
                'holding': bool(msg.holding),
                'reason': msg.reason,
                'dead_nodes': list(msg.dead_nodes),
            }
            changed = {k: v for k, v in new.items() if self.safety.get(k) != v}
            self.safety = new
            event = self._safety_event()
        if changed:
            self.emit(event)

    def _on_estop_topic(self, msg: Any) -> None:
        with self._lock:
            self.estop_topic = bool(msg.data)
            event = self._safety_event()
        self.emit(event)

    # --- tasks ---------------------------------------------------------------------------
    def server_ready(self, timeout: float = 0.0) -> bool:
        return bool(self.action.wait_for_server(timeout_sec=timeout))

    def start_task(
        self, instruction: str, dry_run: bool = False, require_approval: bool = False
    ) -> Event:
        """Send an ExecuteTask goal; returns the new task record.

        Raises:
            ConsoleError: empty instruction, a task already running, or no planner.
        """
        instruction = instruction.strip()
        if not instruction:
            raise ConsoleError('the instruction is empty: say what the robot should do')
        with self._lock:
            if self.task is not None and not self.task['done']:
                raise ConsoleError(
                    f'task {self.task["id"]} is still running: wait for it, cancel it or E-STOP'
                )
        if not self.server_ready(timeout=2.0):
            raise ConsoleError(
                'no task planner answers on action `execute_task`: start the stack '
                '(humanoid launch launch/humanoid.launch.xml sim:=mujoco) and check that '
                'ROS_DOMAIN_ID matches'
            )
        goal = self._ExecuteTask.Goal()
        goal.instruction = instruction
        goal.dry_run = bool(dry_run)
        goal.require_approval = bool(require_approval)
        task: Event = {
            'type': 'task',
            'id': next(self._ids),
            'instruction': instruction,
            'dry_run': bool(dry_run),
            'require_approval': bool(require_approval),
            'started': time.time(),
            'state': 'SENDING',
            'plan': None,
            'step_index': -1,
            'progress': 0.0,
            'status': 'sending the goal',
            'done': False,
            'result': None,
        }
        with self._lock:
            self.task = task
        self.emit(dict(task))

        def on_feedback(fb: Any) -> None:
            self._on_feedback(task, fb)

        def on_goal_response(f: Any) -> None:
            self._on_goal_response(task, f)

        future = self.action.send_goal_async(goal, feedback_callback=on_feedback)
        future.add_done_callback(on_goal_response)
        return dict(task)

    def _update_task(self, task: Event, **fields: Any) -> None:
        with self._lock:
            task.update(fields)
            event = dict(task)
        self.emit(event)

    def _on_feedback(self, task: Event, msg: Any) -> None:
        fb = msg.feedback
        plan = plan_to_dict(fb.plan) if fb.plan.steps else task['plan']
        self._update_task(
            task,
            state=state_name(fb.state),
            plan=plan,
            step_index=int(fb.step_index),
            progress=max(0.0, min(1.0, float(fb.progress))),
            status=fb.status,
        )

    def _on_goal_response(self, task: Event, future: Any) -> None:
        handle = future.result()
        if handle is None or not handle.accepted:
            self._finish(
                task,
                {
                    'error_code': 'REJECTED',
                    'message': 'the task planner did not accept the goal (busy or shutting down)',
                },
            )
            return
        self._goal_handle = handle
        self._update_task(task, state='ACCEPTED', status='goal accepted')
        handle.get_result_async().add_done_callback(lambda f: self._on_result(task, f))

    def _on_result(self, task: Event, future: Any) -> None:
        response = future.result()
        self._goal_handle = None
        if response is None:
            self._finish(task, {'error_code': 'CANCELED', 'message': 'no result (goal lost)'})
            return
        self._finish(task, result_to_dict(response.result))

    def _finish(self, task: Event, result: Event) -> None:
        name = result['error_code']
        fields: Event = {'done': True, 'result': result, 'state': 'DONE', 'finished': time.time()}
        if name == 'SUCCESS':
            fields['progress'] = 1.0
        if result.get('executed_plan', {}).get('steps'):
            fields['plan'] = result['executed_plan']
        with self._lock:
            task.update(fields)
            self.history.appendleft(
                {
                    'id': task['id'],
                    'instruction': task['instruction'],
                    'dry_run': task['dry_run'],
                    'error_code': name,
                    'message': result.get('message', ''),
                    'approved_by': result.get('approved_by', ''),
                    'started': task['started'],
                    'finished': fields['finished'],
                }
            )
            event = dict(task)
            history = {'type': 'history', 'history': list(self.history)}
        self.emit(event)
        self.emit(history)

    def cancel(self) -> str:
        handle = self._goal_handle
        if handle is None:
            raise ConsoleError('no task is running')
        handle.cancel_goal_async()
        return 'cancel requested'

    def approve(self, approve: bool, reason: str = '', timeout: float = 5.0) -> str:
        """Approve or reject the plan the planner waits on.

        Raises:
            ConsoleError: no planner service, or the planner is not waiting for approval.
        """
        if not self.approve_client.wait_for_service(timeout_sec=2.0):
            raise ConsoleError(
                'service `approve_task` is not available: is the task planner running?'
            )
        req = self._ApproveTask.Request()
        req.approve = bool(approve)
        req.approver = self.approver
        req.reason = reason
        response = self._call(self.approve_client, req, timeout)
        if not response.accepted:
            raise ConsoleError(f'the planner did not take the decision: {response.message}')
        return str(response.message)

    def set_estop(self, engage: bool, timeout: float = 3.0) -> Event:
        """Engage (True) or release (False) the e-stop: publishes `estop` (latched) and calls
        the `estop` service when the safety supervisor offers it."""
        msg = self._Bool()
        msg.data = bool(engage)
        self.estop_pub.publish(msg)
        service = 'not available (topic only)'
        if self.estop_client.wait_for_service(timeout_sec=1.0 if engage else 2.0):
            req = self._SetBool.Request()
            req.data = bool(engage)
            try:
                response = self._call(self.estop_client, req, timeout)
                service = response.message or ('ok' if response.success else 'refused')
                if not engage and not response.success:
                    raise ConsoleError(f'the safety supervisor refused the release: {service}')
            except TimeoutError:
                service = 'no answer'
        with self._lock:
            self.estop_topic = bool(engage)
            event = self._safety_event()
        self.emit(event)
        return {'estop': bool(engage), 'service': service}

    @staticmethod
    def _call(client: Any, request: Any, timeout: float) -> Any:
        done = threading.Event()
        future = client.call_async(request)
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            client.remove_pending_request(future)
            raise TimeoutError(f'no answer from service within {timeout} s')
        return future.result()


__all__ = ['ConsoleBridge', 'ConsoleError', 'error_name', 'image_to_jpeg', 'object_to_dict']
