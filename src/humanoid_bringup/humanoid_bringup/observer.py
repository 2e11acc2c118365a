"""A client-side node that watches a running stack for the demo, benchmarks and system
tests: latest head-camera frame, overview frames, simulator ground truth, world state,
odometry, and an ExecuteTask client (with the approval service and sim fault injection).
"""

from __future__ import annotations

from collections.abc import Callable
import math
import os
import threading
import time
from typing import Any

from humanoid_core.tasks.judge import Quat, ground_truth_world, quat_yaw
import numpy as np
import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import (
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

from humanoid_bringup.task_client import ServerWatch

Vec3 = tuple[float, float, float]

LATCHED = QoSProfile(
    depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL
)
CAMERA_QOS = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)


def image_to_array(msg: Any) -> np.ndarray:
    return np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.width, 3)


class Observer:
    """Owns a node spinning in a background thread; all getters are thread-safe snapshots."""

    def __init__(
        self,
        name: str = 'humanoid_observer',
        keep_overview: bool = False,
        domain_id: int | None = None,
        cameras: bool = True,
        imu: bool = True,
    ) -> None:
        """`cameras` / `imu`: subscribe to the head and overview images / the 250 Hz IMU.
        A benchmark that only judges ground truth leaves them off: on a 2-core machine their
        deserialisation in this process takes CPU the stack's control loop needs."""
        from nav_msgs.msg import Odometry
        from rosgraph_msgs.msg import Clock
        from sensor_msgs.msg import Image, Imu
        from std_srvs.srv import Trigger

        from humanoid_interfaces.action import ExecuteTask
        from humanoid_interfaces.msg import ObjectArray, WorldState
        from humanoid_interfaces.srv import ApproveTask, ResetSim

        self.ExecuteTask = ExecuteTask
        # A private context: one process can watch several stacks one after the other, each
        # on its own ROS domain (ROS_DOMAIN_ID by default).
        self.context = rclpy.Context()
        if domain_id is None:
            env = os.environ.get('ROS_DOMAIN_ID', '0')
            domain_id = int(env) if env.isdigit() else 0
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node: Node = rclpy.create_node(name, context=self.context)
        self._sim_time = 0.0
        self._lock = threading.Lock()
        self.head: np.ndarray | None = None
        self.overview: list[tuple[float, np.ndarray]] = []
        self.keep_overview = keep_overview
        self.truth: dict[str, tuple[Vec3, float]] = {}
        self.truth_quat: dict[str, Quat] = {}  # (w, x, y, z)
        self.truth_stamp = 0.0
        self.world: Any = None
        self.odom: tuple[float, float, float, float] | None = None  # x, y, yaw, z
        n = self.node
        if cameras:
            n.create_subscription(Image, 'camera/color/image_raw', self._on_head, CAMERA_QOS)
            n.create_subscription(Image, 'sim/overview/image_raw', self._on_overview, CAMERA_QOS)
        n.create_subscription(ObjectArray, 'sim/object_poses', self._on_truth, LATCHED)
        n.create_subscription(WorldState, 'world_state', self._on_world, LATCHED)
        n.create_subscription(Clock, 'clock', self._on_clock, qos_profile_sensor_data)
        # The 250 Hz odom and IMU on the events executor, as the stack's nodes take their
        # sensor topics: through a wait-set executor a test client alone took 30-50 % of a
        # core beside the stack on a 2-core machine, and the stack's walks fell.
        from humanoid_ros.executors import SideNode

        self.sensors = SideNode(f'{name}_sensors', '', self.context)
        side = self.sensors.node.create_subscription
        side(Odometry, 'odom', self._on_odom, qos_profile_sensor_data)
        if imu:
            side(Imu, 'imu', self._on_imu, qos_profile_sensor_data)
        self.sensors.start()
        self._tilt: float | None = None
        self.task_client: Any = ActionClient(n, ExecuteTask, 'execute_task')
        self.approve_client: Any = n.create_client(ApproveTask, 'approve_task')
        self.reset_client: Any = n.create_client(ResetSim, 'sim/reset')
        self.fail_grasp_client: Any = n.create_client(Trigger, 'sim/fail_next_grasp')
        self._executor = SingleThreadedExecutor(context=self.context)
        self._executor.add_node(n)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    # -- subscriptions -------------------------------------------------------------------
    def _on_head(self, msg: Any) -> None:
        with self._lock:
            self.head = image_to_array(msg)

    def _on_overview(self, msg: Any) -> None:
        if not self.keep_overview:
            return
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self._lock:
            self.overview.append((t, image_to_array(msg)))

    def _on_truth(self, msg: Any) -> None:
        truth = {}
        quats: dict[str, Quat] = {}
        for o in msg.objects:
            q = o.pose.orientation
            quats[o.id] = (q.w, q.x, q.y, q.z)
            p = o.pose.position
            truth[o.id] = ((p.x, p.y, p.z), quat_yaw(quats[o.id]))
        with self._lock:
            self.truth = truth
            self.truth_quat = quats
            self.truth_stamp = time.monotonic()

    def _on_imu(self, msg: Any) -> None:
        q = msg.orientation
        # angle between the body z axis and the world z axis
        cos_tilt = 1.0 - 2.0 * (q.x * q.x + q.y * q.y)
        self._tilt = math.acos(max(-1.0, min(1.0, cos_tilt)))

    def tilt(self) -> float | None:
        """Pelvis tilt from vertical (rad) from the IMU; > ~0.6 means the robot fell."""
        return self._tilt

    def _on_clock(self, msg: Any) -> None:
        self._sim_time = msg.clock.sec + msg.clock.nanosec * 1e-9

    def _on_world(self, msg: Any) -> None:
        with self._lock:
            self.world = msg

    def _on_odom(self, msg: Any) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        yaw = quat_yaw((q.w, q.x, q.y, q.z))
        with self._lock:
            self.odom = (p.x, p.y, yaw, p.z)

    # -- snapshots -----------------------------------------------------------------------
    def head_frame(self) -> np.ndarray | None:
        with self._lock:
            return None if self.head is None else self.head.copy()

    def ground_truth(self) -> dict[str, tuple[Vec3, float]]:
        with self._lock:
            return dict(self.truth)

    def ground_truth_orientations(self) -> dict[str, Quat]:
        """Each object's (w, x, y, z) orientation in the last `sim/object_poses`."""
        with self._lock:
            return dict(self.truth_quat)

    def truth_world(self, scene: str = 'lab') -> Any:
        """`scene`'s world as the simulator has it now (object poses and orientations, the
        robot's base), for judging goals (`humanoid_core.tasks.judge`)."""
        from humanoid_core.world.scene import initial_world

        with self._lock:
            truth, quats = dict(self.truth), dict(self.truth_quat)
        robot = self.robot()
        return ground_truth_world(initial_world(scene), truth, robot[:3] if robot else None, quats)

    def sim_time(self) -> float:
        return self._sim_time

    def world_objects(self) -> int:
        with self._lock:
            return 0 if self.world is None else len(self.world.objects)

    def robot(self) -> tuple[float, float, float, float] | None:
        with self._lock:
            return self.odom

    def world_ids(self) -> tuple[str, ...]:
        with self._lock:
            return () if self.world is None else tuple(sorted(o.id for o in self.world.objects))

    def belief(self) -> dict[str, Any]:
        """The world model's latest state, compact (for a benchmark's record of a failure):
        each object's label, position and size (mm), the relations, the hands and the
        robot's place. Empty before the first world state."""
        with self._lock:
            msg = self.world
        if msg is None:
            return {}
        from humanoid_ros.world import world_from_msg

        w = world_from_msg(msg)
        return {
            'objects': {
                o.id: {
                    'label': o.label,
                    'position_mm': [round(1000.0 * v) for v in o.position],
                    'size_mm': [round(1000.0 * v) for v in o.size],
                }
                for o in w.objects.values()
            },
            'relations': sorted(str(r) for r in w.relations),
            'held': dict(w.held),
            'robot_place': w.robot_place,
        }

    def wait_world_settled(self, quiet: float = 2.0, timeout: float = 20.0) -> tuple[str, ...]:
        """Wait until the world model's object ids have stayed the same for `quiet` s (it
        confirms a new object only after several sightings, so right after start-up it may know
        the containers and not yet the cubes: a task sent then failed "no blue cube ...; objects:
        tray, bin"). Returns the ids; after `timeout` s returns them as they are."""
        end = time.monotonic() + timeout
        ids = self.world_ids()
        since = time.monotonic()
        while time.monotonic() < end:
            time.sleep(0.1)
            now_ids = self.world_ids()
            if now_ids != ids or not ids:
                ids, since = now_ids, time.monotonic()
            elif time.monotonic() - since >= quiet:
                break
        return ids

    # -- calls -----------------------------------------------------------------------------
    def _call(self, client: Any, request: Any, timeout: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout):
            return None
        future = client.call_async(request)
        end = time.monotonic() + timeout
        while not future.done() and time.monotonic() < end:
            time.sleep(0.01)
        return future.result() if future.done() else None

    def reset_sim(self, seed: int, timeout: float = 30.0) -> bool:
        from humanoid_interfaces.srv import ResetSim

        res = self._call(self.reset_client, ResetSim.Request(seed=seed), timeout)
        return bool(res and res.success)

    def fail_next_grasp(self, timeout: float = 10.0) -> bool:
        from std_srvs.srv import Trigger

        res = self._call(self.fail_grasp_client, Trigger.Request(), timeout)
        return bool(res and res.success)

    def run_task(
        self,
        instruction: str,
        on_feedback: Callable[[Any], None] | None = None,
        timeout: float = 600.0,
        dry_run: bool = False,
        approve_as: str | None = None,
    ) -> Any:
        """Send an ExecuteTask goal and wait for its result (None on timeout / rejection, or
        when the action server disappears meanwhile: the planner died).

        ``approve_as``: approve the plan under this name when the planner asks."""
        ET = self.ExecuteTask
        if not self.task_client.wait_for_server(timeout_sec=30.0):
            return None
        goal = ET.Goal(instruction=instruction, dry_run=dry_run)
        goal.require_approval = approve_as is not None
        approved = threading.Event()

        def feedback(msg: Any) -> None:
            fb = msg.feedback
            if on_feedback is not None:
                on_feedback(fb)
            if (
                approve_as is not None
                and fb.state == ET.Feedback.STATE_AWAITING_APPROVAL
                and not approved.is_set()
            ):
                from humanoid_interfaces.srv import ApproveTask

                approved.set()
                self.approve_client.call_async(
                    ApproveTask.Request(approve=True, approver=approve_as)
                )

        send = self.task_client.send_goal_async(goal, feedback_callback=feedback)
        end = time.monotonic() + timeout
        while not send.done() and time.monotonic() < end:
            time.sleep(0.02)
        handle = send.result() if send.done() else None
        if handle is None or not handle.accepted:
            return None
        result = handle.get_result_async()
        watch = ServerWatch(self.task_client)
        while not result.done() and time.monotonic() < end:
            if watch.lost():  # the planner died: no result will come
                return None
            time.sleep(0.05)
        if not result.done():
            handle.cancel_goal_async()
            return None
        response: Any = result.result()
        return response.result

    def close(self) -> None:
        self.sensors.stop()
        self._executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()
        self._thread.join(timeout=2.0)
