"""`world_model`: `perception/objects` + robot state -> `world_state` (TRANSIENT_LOCAL).

Fuses the detector's objects over time (`humanoid_core.perception.tracker.WorldModel`): track
association, persistence through short occlusions, confidence decay and expiry of objects that
should be visible but are not seen (inside the camera view and, with `occlusion_from_depth`,
not behind something nearer in the latest depth image), grasp state from the hands' grasp
frames and gripper widths (joint_states + odom through the robot's kinematics), relations
(`in`, `on`, `held_by`, `near`). Places come from the scene file; with `seed_from_scene` the
scene's objects are known (at lower confidence) before the camera has seen them. `world_state`
is published on every change and re-published every `republish_period` seconds. Ageing runs on
the detections' clock (sim time from the simulator), mapped from this node's clock. After
`perception_timeout` seconds (steady clock) without `perception/objects`, world_state says
perception is stale (`perception_stale`, `perception_age`), the log warns once and the node's
`diagnostics` status ('world_model: perception', every second) turns WARN, so that a task
failing on objects that expired meanwhile can say why (the planner adds it to the result) and
`humanoid status` shows it.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from diagnostic_msgs.msg import DiagnosticArray
from humanoid_core.perception.camera_pose import BASE_MODES, RobotKinematics
from humanoid_core.perception.frame import FrameError
from humanoid_core.perception.tracker import (
    TrackerConfig,
    Visible,
    WorldModel,
    hand_states,
    in_camera_view,
)
from humanoid_core.world.scene import SceneError, initial_world
from humanoid_ros.executors import SideNode, spin_until_shutdown
from humanoid_ros.params import ParameterError, declare_parameters
from nav_msgs.msg import Odometry
import numpy as np
import rclpy
from rclpy.clock import Clock, ClockType
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState

from humanoid_interfaces.msg import ObjectArray, WorldState
from humanoid_perception import conversions as conv

PARAMS = [
    ('scene', 'lab', 'scene name or YAML path: the places (and priors)', None),
    ('seed_from_scene', True, "start with the scene's objects as low-confidence priors", None),
    ('prior_confidence', 0.5, 'confidence of scene priors', (0.0, 1.0)),
    ('robot', 'humanoid', 'kinematic model for camera view and hands (humanoid | none)',
     ('humanoid', 'none')),
    ('camera', 'head_camera', 'camera name in the robot model', None),
    ('base_mode', 'projected', 'odom pose meaning', BASE_MODES),
    ('match_radius', 0.08, 'association radius (m)', (0.0, 1.0)),
    ('min_hits', 2, 'detections before a new object is reported', (1, 100)),
    ('min_hits_second_container', 8, 'detections before a second container of a label '
     'already tracked is reported', (1, 1000)),
    ('table_tolerance', 0.012, 'ignore detections whose bottom is more than this below the top '
     'of the table under them (m; 0 = off)', (0.0, 0.5)),
    ('smoothing', 0.6, 'weight of a new measurement', (0.01, 1.0)),
    ('occlusion_grace', 1.0, 'seconds an in-view object may be missed before decaying',
     (0.0, 60.0)),
    ('decay_rate', 1.0, 'confidence decay after the grace period (1/s)', (0.0, 100.0)),
    ('expire_confidence', 0.15, 'objects below this confidence are removed', (0.0, 1.0)),
    ('max_unseen_in_view', 4.0, 'in-view objects unseen this long are removed (s)',
     (0.0, 3600.0)),
    ('max_unseen_out_of_view', 0.0, 'out-of-view objects unseen this long are removed (s, 0 = '
     'never)', (0.0, 1e6)),
    ('view_max_depth', 2.5, 'objects farther than this from the camera count as out of view',
     (0.1, 100.0)),
    ('occlusion_from_depth', True, 'objects behind something nearer in the depth image (e.g. '
     'the hand) are not expected to be seen and do not decay', None),
    ('occlusion_margin', 0.06, 'depth this much nearer than an object hides it (m)', (0.0, 1.0)),
    ('max_unseen_container', 30.0, 'containers missed while in view (e.g. the arm covers them '
     'during a place) are kept this long without decaying (s)', (0.0, 1e6)),
    ('camera_qos', 'reliable', 'QoS of the depth image subscription', ('reliable', 'best_effort')),
    ('held_radius', 0.07, 'max object distance from a grasp frame to be held (m)', (0.0, 1.0)),
    ('tick_period', 0.2, 'period of ageing and change checks (s)', (0.01, 10.0)),
    ('republish_period', 2.0, 'world_state is re-published at least this often (s)',
     (0.1, 3600.0)),
    ('perception_timeout', 2.0, 'world_state says perception is stale (and the log warns) '
     'after this long without perception/objects (s, steady clock)', (0.1, 3600.0)),
]  # fmt: skip


class WorldModelNode(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__('world_model', **kwargs)
        self.p = declare_parameters(self, PARAMS)
        initial = initial_world(self.p['scene'])
        cfg = TrackerConfig(
            match_radius=self.p['match_radius'],
            min_hits=self.p['min_hits'],
            min_hits_second_container=self.p['min_hits_second_container'],
            table_tolerance=self.p['table_tolerance'],
            smoothing=self.p['smoothing'],
            occlusion_grace=self.p['occlusion_grace'],
            decay_rate=self.p['decay_rate'],
            expire_confidence=self.p['expire_confidence'],
            max_unseen_in_view=self.p['max_unseen_in_view'],
            max_unseen_out_of_view=self.p['max_unseen_out_of_view'],
            held_radius=self.p['held_radius'],
            max_unseen_container=self.p['max_unseen_container'],
        )
        priors = initial.objects.values() if self.p['seed_from_scene'] else ()
        self.model = WorldModel(
            initial.places, cfg, priors, self.p['prior_confidence'], log=self.get_logger().info
        )
        # (stamp, node clock) of the latest objects message: maps the node clock onto the
        # stamps' clock (sim time from the simulator even when this node runs on wall time)
        self.clock_ref: tuple[float, float] | None = None
        self.model.set_robot_pose(*initial.robot_pose)
        self.kin: RobotKinematics | None = None
        if self.p['robot'] == 'humanoid':
            self.kin = RobotKinematics.humanoid(self.p['camera'], self.p['base_mode'])
        self.joints: dict[str, float] = {}
        self.odom: tuple[np.ndarray, np.ndarray] | None = None
        self.camera_info: CameraInfo | None = None
        self.depth_msg: Image | None = None
        self.last_publish = -1e9
        # steady-clock time of the latest perception/objects message (start: none yet)
        self.last_objects_wall = time.monotonic()
        # not stale until perception_timeout after the start (the detector may still load)
        self.perception_stale = False
        latched = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.pub = self.create_publisher(WorldState, 'world_state', latched)
        self.create_subscription(
            ObjectArray,
            'perception/objects',
            self.on_objects,
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
        )
        sensor = qos_profile_sensor_data
        # joint_states and odom (250 Hz each) only give the camera pose: on a side node with
        # the events executor, not through this node's executor (measured: its per-message
        # Python overhead, not the callbacks, made these subscriptions expensive)
        self._sensors = SideNode(f'{self.get_name()}_sensors', self.get_namespace(), self.context)
        self._sensors.node.create_subscription(JointState, 'joint_states', self.on_joints, sensor)
        self._sensors.node.create_subscription(Odometry, 'odom', self.on_odom, sensor)
        self._sensors.start()
        self.create_subscription(CameraInfo, 'camera/color/camera_info', self.on_info, sensor)
        if self.p['occlusion_from_depth']:
            images = sensor
            if self.p['camera_qos'] == 'reliable':
                images = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)
            self.create_subscription(Image, 'camera/depth/image_raw', self.on_depth, images)
        self.create_timer(self.p['tick_period'], self.on_tick)
        # Perception health on the steady clock: noticed also when /clock stops with the camera
        self.diag_pub = self.create_publisher(DiagnosticArray, 'diagnostics', 10)
        self.health_ticks = 0
        self.create_timer(0.25, self.on_health, clock=Clock(clock_type=ClockType.STEADY_TIME))
        self.publish(force=True)

    def destroy_node(self) -> None:
        self._sensors.stop()
        super().destroy_node()

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def stamp_now(self) -> float:
        """The current time on the clock of the detection stamps."""
        if self.clock_ref is None:
            return self.now()
        stamp, clock = self.clock_ref
        return stamp + (self.now() - clock)

    # -- inputs ----------------------------------------------------------------------------
    def on_info(self, msg: CameraInfo) -> None:
        self.camera_info = msg

    def on_depth(self, msg: Image) -> None:
        self.depth_msg = msg

    def on_joints(self, msg: JointState) -> None:
        joints = dict(self.joints)  # replaced, never mutated: read on the executor thread
        joints.update(zip(msg.name, msg.position, strict=False))
        self.joints = joints

    def on_odom(self, msg: Odometry) -> None:
        p, q = msg.pose.pose.position, msg.pose.pose.orientation
        self.odom = (np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z]))
        self.model.set_robot_pose(p.x, p.y, conv.quaternion_to_yaw(q))

    def update_robot(self) -> Visible | None:
        """Hands from FK; returns the camera-view predicate (None: unknown, all in view)."""
        if self.kin is None or self.odom is None or not self.joints:
            return None
        self.kin.update(self.joints, *self.odom)
        self.model.set_hands(hand_states(self.kin, self.joints))
        info = self.camera_info
        if info is None or info.width == 0 or info.k[0] <= 0.0:
            return None
        depth = None
        if self.depth_msg is not None:
            try:
                depth = conv.depth_from_image(self.depth_msg)
            except FrameError:
                depth = None
        return in_camera_view(
            self.kin.camera_pose(), info.k[0], info.k[4], info.k[2], info.k[5],
            info.width, info.height, max_depth=self.p['view_max_depth'], depth=depth,
            occlusion_margin=self.p['occlusion_margin'],
        )  # fmt: skip

    def on_objects(self, msg: ObjectArray) -> None:
        if msg.header.frame_id and msg.header.frame_id != conv.WORLD_FRAME:
            self.get_logger().warning(
                f"ignoring perception/objects in frame {msg.header.frame_id!r} (expected 'world')"
            )
            return
        self.last_objects_wall = time.monotonic()
        visible = self.update_robot()
        stamp = conv.stamp_to_sec(msg.header.stamp)
        self.clock_ref = (stamp, self.now())
        resets = self.model.resets
        self.model.update([conv.object_from_msg(o) for o in msg.objects], stamp, visible)
        if self.model.resets != resets:
            self.get_logger().warning(
                f'time jumped back to {stamp:.2f} s (simulator reset?): world model restarted '
                'from the scene priors'
            )
        self.publish()

    def on_tick(self) -> None:
        visible = self.update_robot()
        if self.clock_ref is not None:  # no time base before the first frame
            self.model.tick(self.stamp_now(), visible)
        self.publish()

    def on_health(self) -> None:
        """Every 0.25 s: world_state at once when perception goes stale or comes back; every
        1 s: diagnostics ('world_model: perception', WARN while stale)."""
        age = self.perception_age()
        if self.check_perception(age):
            self.publish(force=True)
        self.health_ticks += 1
        if self.health_ticks % 4:
            return
        if self.perception_stale:
            level = conv.WARN
            message = f'no perception/objects for {age:.0f} s (object_detector or camera down?)'
        else:
            level, message = conv.OK, 'objects from perception'
        self.diag_pub.publish(
            conv.diagnostics(
                self.get_clock().now().to_msg(),
                f'{self.get_name()}: perception',
                level,
                message,
                {'perception_age': f'{age:.1f}', 'objects': str(len(self.model.reported()))},
            )
        )

    def perception_age(self) -> float:
        """Seconds (steady clock) since the latest perception/objects (since start: none)."""
        return time.monotonic() - self.last_objects_wall

    def check_perception(self, age: float) -> bool:
        """Updates `perception_stale` from `age` (s since the latest perception/objects); True
        when it changed (world_state goes out at once)."""
        stale = age > self.p['perception_timeout']
        if stale == self.perception_stale:
            return False
        self.perception_stale = stale
        if stale:
            self.get_logger().warning(
                f'no perception/objects for {age:.1f} s (object_detector or camera down?): '
                'objects in view age without fresh detections'
            )
        else:
            self.get_logger().info('perception/objects arriving again')
        return True

    def publish(self, force: bool = False) -> None:
        snap = self.model.snapshot()
        now = self.now()
        if not (
            force
            or self.model.changed(snap)
            or now - self.last_publish > self.p['republish_period']
        ):
            return
        last_seen = {t.id: t.last_seen for t in self.model.tracks.values() if not t.prior}
        msg = conv.world_to_msg(snap, self.get_clock().now().to_msg(), last_seen)
        msg.perception_stale = self.perception_stale
        msg.perception_age = self.perception_age()
        self.pub.publish(msg)
        self.model.mark_published(snap)
        self.last_publish = now


def main(args: list[str] | None = None) -> None:
    rclpy.init(args=args)
    node = None
    try:
        node = WorldModelNode()
        spin_until_shutdown(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass  # during start-up
    except (ParameterError, SceneError) as exc:
        print(f'world_model: {exc}', file=sys.stderr)
        sys.exit(2)
    finally:
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    main()
