"""`object_detector`: RGB-D camera -> `perception/objects` (humanoid_interfaces/ObjectArray).

Subscribes camera/color/image_raw and camera/depth/image_raw (reliable, depth 2; or best effort
with `camera_qos`), camera/color/camera_info, joint_states and odom (sensor QoS). Pairs colour
and depth by stamp, computes the head-camera pose from the robot's kinematics, runs the
detector backend (`backend`: the classical pipeline, or an open-vocabulary model from
`model_dir`) and publishes the objects in the `world` frame (reliable).

Bad input (no camera_info, empty or all-NaN depth, sizes that disagree, a frame from the
future) is skipped with a WARN on `diagnostics` naming the problem; no stale objects are
republished. If tf2_ros is importable the camera pose is also broadcast on TF.

A stopped stream (no colour frame for `frame_timeout`) turns the diagnostics WARN; after
`resubscribe_after` seconds without colour frames, or without any camera_info since the
subscriptions were made, the camera subscriptions are created afresh (and again each time that
long passes). A restarted camera driver is normally matched by DDS on its own; re-creating the
readers covers the case where a reader stays matched to nothing after its writer's process was
killed (Fast DDS shared memory, eProsima/Fast-DDS#5053, #5469; the maintainers' advice in #2065
is to re-create the reader), and the one seen here where a detector restarted after a SIGKILL
got images but never a camera_info.
"""

from __future__ import annotations

from collections import deque
import math
import os
import sys
import time
from typing import Any

# One OpenMP thread for open3d (before it is imported): on 2 shared cores, its worker threads
# spin-wait against the simulator's renderer and make each frame slower, not faster.
os.environ.setdefault('OMP_NUM_THREADS', '1')

from diagnostic_msgs.msg import DiagnosticArray
from humanoid_core.perception.camera_pose import BASE_MODES, RobotKinematics
from humanoid_core.perception.classify import Vocabulary, VocabularyError
from humanoid_core.perception.frame import FrameError, Intrinsics, RgbdFrame
from humanoid_core.perception.history import StampedHistory
from humanoid_core.perception.open_vocab import BACKENDS, OpenVocabError, make_detector
from humanoid_core.perception.pipeline import DetectorConfig, Exclude
from humanoid_core.world.scene import SceneError
from humanoid_ros.executors import SideNode, spin_until_shutdown
from humanoid_ros.params import ParameterError, declare_parameters
from nav_msgs.msg import Odometry
import numpy as np
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState

from humanoid_interfaces.msg import ObjectArray
from humanoid_perception import conversions as conv

PARAMS = [
    ('scene', 'lab', 'scene name or YAML path: the object vocabulary (labels, colours, sizes)',
     None),
    ('vocabulary_file', '', 'colour/shape model YAML (empty: config/vocabulary.yaml)', None),
    ('backend', 'classical', 'detector backend', BACKENDS),
    ('model_dir', '', 'local model folder for an open-vocabulary backend', None),
    ('score_threshold', 0.1, 'open-vocabulary box score threshold', (0.0, 1.0)),
    ('robot', 'humanoid', 'kinematic model for the camera pose (humanoid | fixed)',
     ('humanoid', 'fixed')),
    ('camera', 'head_camera', 'camera name in the robot model', None),
    ('base_mode', 'projected', 'odom pose meaning', BASE_MODES),
    ('fixed_camera_pose', [0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
     'robot:=fixed: world <- optical frame as x y z qw qx qy qz', None),
    ('stride', 3, 'use every n-th pixel in each direction', (1, 8)),
    ('self_filter_margin', 0.015, 'ignore points within this distance (m) of the robot\'s own '
     'links in their pose at the image stamp (robot:=humanoid; 0 = off)', (0.0, 0.1)),
    ('min_confidence', 0.25, 'drop detections below this confidence', (0.0, 1.0)),
    ('max_future', 0.1, 'reject frames stamped more than this after now (s)', (0.0, 10.0)),
    ('camera_qos', 'reliable', 'QoS of the image subscriptions (the simulator publishes '
     'reliable: best-effort 640x480 streams lose whole frames here)', ('reliable', 'best_effort')),
    ('sync_slop', 0.02, 'max colour/depth stamp difference (s)', (0.0, 1.0)),
    ('diagnostics_period', 1.0, 'diagnostics publishing period (s)', (0.05, 60.0)),
    ('frame_timeout', 2.0, 'WARN on diagnostics when no colour frame arrived for this long '
     '(s, steady clock; 0 = off)', (0.0, 600.0)),
    ('resubscribe_after', 10.0, 're-create the camera subscriptions after this long without a '
     'colour frame or, until the first one, a camera_info, and again each time it passes '
     '(s, steady clock; 0 = never)', (0.0, 600.0)),
    ('publish_tf', True, 'broadcast world -> camera optical frame if tf2_ros exists', None),
]  # fmt: skip


class ObjectDetectorNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__('object_detector', **kwargs)
        self.p = declare_parameters(self, PARAMS)
        vocab = Vocabulary.from_scene(self.p['scene'], self.p['vocabulary_file'] or None)
        config = DetectorConfig(
            stride=self.p['stride'],
            min_confidence=self.p['min_confidence'],
            max_future=self.p['max_future'],
        )
        self.detector = make_detector(
            self.p['backend'], vocab, config, self.p['model_dir'], self.p['score_threshold']
        )
        self.kin: RobotKinematics | None = None
        self.fixed_pose: np.ndarray | None = None
        if self.p['robot'] == 'humanoid':
            self.kin = RobotKinematics.humanoid(self.p['camera'], self.p['base_mode'])
        else:
            from humanoid_core.perception.camera_pose import pose_matrix, quat_to_matrix

            v = self.p['fixed_camera_pose']
            try:
                if len(v) != 7:
                    raise ValueError(f'needs 7 numbers (x y z qw qx qy qz), got {len(v)}')
                self.fixed_pose = pose_matrix(v[:3], quat_to_matrix(v[3:]))
            except ValueError as exc:
                raise ParameterError(f'parameter fixed_camera_pose = {v}: {exc}') from None
        self.joints: dict[str, float] = {}
        self.odom: tuple[np.ndarray, np.ndarray] | None = None
        # ~2 s of joint/odom samples: the camera pose is taken at the image's stamp
        self.joint_hist: StampedHistory[dict[str, float]] = StampedHistory(500)
        self.odom_hist: StampedHistory[tuple[np.ndarray, np.ndarray]] = StampedHistory(500)
        self.intrinsics: Intrinsics | None = None
        # the last few colour and depth images by stamp; the newest pair is processed
        self.rgb_buf: deque[tuple[float, Image]] = deque(maxlen=4)
        self.depth_buf: deque[tuple[float, Image]] = deque(maxlen=4)
        self.last_stamp = -math.inf
        self.problem = 'waiting for camera frames'
        self.frames = 0
        self.last_ms = 0.0
        self.last_rgb_wall = time.monotonic()  # steady clock: a stopped camera stops sim time too
        self.last_depth_wall = self.last_rgb_wall
        self.pub = self.create_publisher(
            ObjectArray,
            'perception/objects',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
        )
        self.diag_pub = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        sensor = qos_profile_sensor_data
        self.camera_subs: list[Any] = []
        self.resubscriptions = 0
        self.subscribe_camera()  # sets subscribed_at
        # joint_states and odom (250 Hz each) only give the camera pose: on a side node with
        # the events executor, not through this node's executor (measured: its per-message
        # Python overhead, not the callbacks, made these subscriptions expensive)
        self._sensors = SideNode(f'{self.get_name()}_sensors', self.get_namespace(), self.context)
        self._sensors.node.create_subscription(JointState, 'joint_states', self.on_joints, sensor)
        self._sensors.node.create_subscription(Odometry, 'odom', self.on_odom, sensor)
        self._sensors.start()
        # Steady clock: diagnostics (and the stale-camera check) go on when /clock stops.
        self.create_timer(
            self.p['diagnostics_period'],
            self.publish_diagnostics,
            clock=Clock(clock_type=ClockType.STEADY_TIME),
        )
        self.tf = None
        if self.p['publish_tf']:
            try:
                from tf2_ros import TransformBroadcaster  # optional: absent on pip-only ROS

                self.tf = TransformBroadcaster(self)
            except ImportError:
                self.get_logger().info('tf2_ros not available: camera pose not broadcast on TF')
        self.get_logger().info(
            f'object_detector: backend {self.p["backend"]}, {len(vocab.entries)} vocabulary '
            f'entries from scene {self.p["scene"]!r}'
        )

    # -- inputs ----------------------------------------------------------------------------
    def subscribe_camera(self) -> None:
        """(Re-)create the colour, depth and camera_info subscriptions."""
        for sub in self.camera_subs:
            self.destroy_subscription(sub)
        sensor = qos_profile_sensor_data
        images = sensor
        if self.p['camera_qos'] == 'reliable':
            images = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
        self.camera_subs = [
            self.create_subscription(Image, 'camera/color/image_raw', self.on_rgb, images),
            self.create_subscription(Image, 'camera/depth/image_raw', self.on_depth, images),
            self.create_subscription(CameraInfo, 'camera/color/camera_info', self.on_info, sensor),
        ]
        self.subscribed_at = time.monotonic()

    def on_info(self, msg: CameraInfo) -> None:
        try:
            self.intrinsics = conv.intrinsics_from_camera_info(msg)
        except ValueError as exc:
            self.intrinsics = None
            self.warn(f'bad camera_info: {exc}')

    def destroy_node(self) -> None:
        self._sensors.stop()
        super().destroy_node()

    def on_joints(self, msg: JointState) -> None:
        joints = dict(self.joints)  # replaced, never mutated: read on the executor thread
        joints.update(zip(msg.name, msg.position, strict=False))
        self.joints = joints
        self.joint_hist.append(conv.stamp_to_sec(msg.header.stamp), joints)

    def on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        self.odom = (np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z]))
        self.odom_hist.append(conv.stamp_to_sec(msg.header.stamp), self.odom)

    def on_rgb(self, msg: Image) -> None:
        self.last_rgb_wall = time.monotonic()
        self.rgb_buf.append((conv.stamp_to_sec(msg.header.stamp), msg))
        self.try_process()

    def on_depth(self, msg: Image) -> None:
        self.last_depth_wall = time.monotonic()
        self.depth_buf.append((conv.stamp_to_sec(msg.header.stamp), msg))
        self.try_process()

    # -- processing ------------------------------------------------------------------------
    def camera_pose(self, stamp: float | None = None) -> np.ndarray | None:
        """The camera's pose in `world` at `stamp` (the joint/odom samples nearest to it; the
        newest ones without a stamp or history)."""
        if self.fixed_pose is not None:
            return self.fixed_pose
        if self.kin is None or self.odom is None or not self.joints:
            return None
        joints, odom = self.joints, self.odom
        if stamp is not None:
            j = self.joint_hist.nearest(stamp)
            o = self.odom_hist.nearest(stamp)
            if j is not None and o is not None:
                joints, odom = j[1], o[1]
        self.kin.update(joints, *odom)
        return self.kin.camera_pose()

    def self_filter(self) -> Exclude | None:
        """Points on the robot's own body in the pose `camera_pose` last computed (the
        image's stamp); None without the kinematic model or with the margin 0."""
        kin, margin = self.kin, self.p['self_filter_margin']
        if kin is None or margin <= 0.0:
            return None
        return lambda points: kin.near_body(points, margin)

    def next_pair(self) -> tuple[float, Image, Image] | None:
        """The newest colour/depth pair (stamps within sync_slop) not yet processed."""
        slop = self.p['sync_slop']
        if self.rgb_buf and self.rgb_buf[-1][0] < self.last_stamp - 1.0:
            self.get_logger().info('camera stamps jumped back (simulator reset?): resynchronising')
            self.last_stamp = -math.inf
        for t_rgb, rgb_msg in reversed(self.rgb_buf):
            if t_rgb <= self.last_stamp:
                break
            for t_depth, depth_msg in reversed(self.depth_buf):
                if abs(t_rgb - t_depth) <= slop:
                    return t_rgb, rgb_msg, depth_msg
        if (
            len(self.rgb_buf) == self.rgb_buf.maxlen
            and len(self.depth_buf) == self.depth_buf.maxlen
        ):
            newest_rgb, newest_depth = self.rgb_buf[-1][0], self.depth_buf[-1][0]
            oldest = min(self.rgb_buf[0][0], self.depth_buf[0][0])
            if max(newest_rgb, newest_depth) - oldest > 0.5 and newest_rgb > self.last_stamp:
                self.warn(
                    f'no colour/depth pair within sync_slop {slop} s (newest colour '
                    f'{newest_rgb:.3f} s, depth {newest_depth:.3f} s)'
                )
        return None

    def try_process(self) -> None:
        pair = self.next_pair()
        if pair is None:
            return
        t_rgb, rgb_msg, depth_msg = pair
        previous, self.last_stamp = self.last_stamp, t_rgb
        t0 = time.perf_counter()
        now = self.get_clock().now().nanoseconds * 1e-9
        try:
            if self.intrinsics is None:
                raise FrameError('no camera_info received on camera/color/camera_info')
            frame = RgbdFrame(
                rgb=conv.rgb_from_image(rgb_msg),
                depth=conv.depth_from_image(depth_msg),
                intrinsics=self.intrinsics,
                camera_pose=self.camera_pose(t_rgb),
                stamp=t_rgb,
            )
            result = self.detector.detect(frame, now=now, exclude=self.self_filter())
        except FrameError as exc:
            if t_rgb > now + self.p['max_future']:
                self.last_stamp = previous  # a frame from the future must not block later ones
            self.warn(str(exc))
            return
        self.pub.publish(conv.object_array(result.detections, rgb_msg.header.stamp))
        self.frames += 1
        self.last_ms = 1e3 * (time.perf_counter() - t0)
        if self.problem:
            self.get_logger().info(f'camera input OK again (was: {self.problem})')
            self.problem = ''
            self.publish_diagnostics()
        if self.tf is not None and frame.camera_pose is not None:
            self.broadcast(frame.camera_pose, rgb_msg)

    def broadcast(self, pose: np.ndarray, msg: Image) -> None:
        from geometry_msgs.msg import TransformStamped
        import mujoco

        t = TransformStamped()
        t.header.stamp = msg.header.stamp
        t.header.frame_id = conv.WORLD_FRAME
        t.child_frame_id = msg.header.frame_id or 'head_camera_optical_frame'
        t.transform.translation.x, t.transform.translation.y, t.transform.translation.z = (
            float(v) for v in pose[:3, 3]
        )
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, np.ascontiguousarray(pose[:3, :3]).flatten())
        r = t.transform.rotation
        r.w, r.x, r.y, r.z = (float(v) for v in q)
        self.tf.sendTransform(t)  # type: ignore[union-attr]

    def warn(self, problem: str) -> None:
        if problem != self.problem:
            self.get_logger().warning(f'skipping camera frame: {problem}')
            self.problem = problem
            self.publish_diagnostics()

    def publish_diagnostics(self) -> None:
        timeout = self.p['frame_timeout']
        now = time.monotonic()
        silent = now - self.last_rgb_wall
        if timeout > 0 and silent > timeout and not self.problem.startswith('no camera frames'):
            # The stream stopped (camera driver / simulator gone): say so instead of 'detecting'.
            # Cleared by the next processed frame (try_process).
            self.problem = f'no camera frames on camera/color/image_raw for {silent:.1f} s'
            self.get_logger().warning(self.problem)
        elif self.problem.startswith(('no camera frames', 'colour frames again')) and (
            timeout <= 0 or silent <= timeout
        ):
            # Colour frames arrive again but none was processed (a pair needs a depth frame).
            self.problem = (
                f'colour frames again, none processed yet: last depth frame '
                f'{now - self.last_depth_wall:.1f} s ago'
            )
        wait = self.p['resubscribe_after']
        # intrinsics, once received, are kept: only a camera_info that never came counts
        no_info = self.intrinsics is None
        if wait > 0 and (silent > wait or no_info) and now - self.subscribed_at > wait:
            self.subscribe_camera()
            self.resubscriptions += 1
            why = (
                f'no colour frame for {silent:.1f} s'
                if silent > wait
                else f'no camera_info on camera/color/camera_info for {wait:.1f} s'
            )
            self.get_logger().warning(
                f'{why}: camera subscriptions created afresh ({self.resubscriptions} so far)'
            )
        stamp = self.get_clock().now().to_msg()
        level = conv.WARN if self.problem else conv.OK
        msg = self.problem or 'detecting'
        self.diag_pub.publish(
            conv.diagnostics(
                stamp,
                f'{self.get_name()}: camera',
                level,
                msg,
                {
                    'frames': str(self.frames),
                    'last_frame_ms': f'{self.last_ms:.1f}',
                    'resubscriptions': str(self.resubscriptions),
                },
            )
        )


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = ObjectDetectorNode()
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # during start-up
    except (ParameterError, VocabularyError, OpenVocabError, SceneError) as exc:
        print(f'object_detector: {exc}', file=sys.stderr)
        sys.exit(2)
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    main()
