"""`humanoid foxglove`: a Foxglove WebSocket server (foxglove-sdk) of the robot's live data.

Open Foxglove Studio (app or https://app.foxglove.dev), "Open connection" -> "Foxglove
WebSocket" -> ws://localhost:8765. Channels:
- the ROS topics (joint_states, camera images and info, odom, imu, perception/objects,
  world_state, safety/status, estop, diagnostics) forwarded as they are: serialized CDR with
  `ros2msg` schemas, as the ROS `foxglove_bridge` does, so Studio's Image, Raw Message and
  Plot panels decode them;
- `/robot_description` (std_msgs/msg/String, the URDF, re-sent every 2 s) for the 3D panel's
  URDF layer;
- `/tf` (foxglove.FrameTransforms): world -> base from `odom`, base -> pelvis at the standing
  height, and every URDF joint from `joint_states` (forward kinematics here, since the pip
  wheels have no robot_state_publisher/tf2), so the 3D panel poses the robot;
- `/scene` (foxglove.SceneUpdate): the world model's objects and tables as boxes and
  cylinders in `world`, labelled.

For RViz (config/humanoid.rviz, machines with a ROS 2 install) the bridge also publishes, on
ROS, `world_markers` (visualization_msgs/MarkerArray, latched) from the world state and, when
no other node does, `robot_description` (std_msgs/String, latched); `--no-ros-viz` turns
that off.

The server binds 127.0.0.1 by default; the Foxglove protocol has no authentication, so
another address needs `--allow-remote` (use an SSH tunnel instead where possible).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
import copy
from dataclasses import dataclass
import ipaddress
import math
import sys
import threading
import time
from typing import Any
import xml.etree.ElementTree as ET

__all__ = ['FORWARDED_TOPICS', 'UrdfJoint', 'joint_transforms', 'main', 'parse_urdf_joints']

FORWARDED_TOPICS: tuple[str, ...] = (
    'joint_states',
    'odom',
    'imu',
    'camera/color/image_raw',
    'camera/color/camera_info',
    'camera/depth/image_raw',
    'perception/objects',
    'world_state',
    'safety/status',
    'estop',
    'diagnostics',
)
COLOURS = {
    'red': (0.85, 0.1, 0.1),
    'green': (0.1, 0.7, 0.2),
    'blue': (0.1, 0.3, 0.9),
    'yellow': (0.95, 0.85, 0.1),
    'white': (0.9, 0.9, 0.9),
    'black': (0.1, 0.1, 0.1),
    'orange': (1.0, 0.5, 0.0),
    'purple': (0.5, 0.2, 0.7),
}

Quat = tuple[float, float, float, float]  # x, y, z, w
Vec = tuple[float, float, float]


# --- URDF forward kinematics (pure Python) ------------------------------------------------------
@dataclass(frozen=True)
class UrdfJoint:
    name: str
    type: str
    parent: str
    child: str
    xyz: Vec
    rpy: Vec
    axis: Vec


def _floats(text: str | None, default: Vec) -> Vec:
    if not text:
        return default
    vals = [float(v) for v in text.split()]
    if len(vals) != 3:
        raise ValueError(f'expected 3 numbers, got {text!r}')
    return (vals[0], vals[1], vals[2])


def parse_urdf_joints(urdf: str) -> list[UrdfJoint]:
    """The joints of a URDF string (all types), in file order.

    Raises:
        ValueError: not URDF XML, or a joint without parent/child.
    """
    try:
        root = ET.fromstring(urdf)
    except ET.ParseError as exc:
        raise ValueError(f'robot description is not valid XML: {exc}') from exc
    joints = []
    for j in root.iter('joint'):
        parent, child = j.find('parent'), j.find('child')
        if parent is None or child is None:
            if root.tag == 'robot' and j in list(root):
                raise ValueError(f'URDF joint {j.get("name")!r} lacks <parent> or <child>')
            continue  # e.g. <joint> inside <ros2_control>
        origin = j.find('origin')
        axis = j.find('axis')
        joints.append(
            UrdfJoint(
                name=j.get('name', ''),
                type=j.get('type', 'fixed'),
                parent=parent.get('link', ''),
                child=child.get('link', ''),
                xyz=_floats(origin.get('xyz') if origin is not None else None, (0.0, 0.0, 0.0)),
                rpy=_floats(origin.get('rpy') if origin is not None else None, (0.0, 0.0, 0.0)),
                axis=_floats(axis.get('xyz') if axis is not None else None, (1.0, 0.0, 0.0)),
            )
        )
    return joints


def quat_from_rpy(roll: float, pitch: float, yaw: float) -> Quat:
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    cy, sy = math.cos(yaw / 2), math.sin(yaw / 2)
    return (
        sr * cp * cy - cr * sp * sy,
        cr * sp * cy + sr * cp * sy,
        cr * cp * sy - sr * sp * cy,
        cr * cp * cy + sr * sp * sy,
    )


def quat_mul(a: Quat, b: Quat) -> Quat:
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    )


def quat_rotate(q: Quat, v: Vec) -> Vec:
    x, y, z, w = q
    vq = quat_mul(quat_mul(q, (v[0], v[1], v[2], 0.0)), (-x, -y, -z, w))
    return (vq[0], vq[1], vq[2])


def joint_transforms(
    joints: Sequence[UrdfJoint], positions: dict[str, float]
) -> list[tuple[str, str, Vec, Quat]]:
    """(parent, child, translation, rotation) of every joint at the given positions (radians
    or metres; a joint not in `positions` sits at 0)."""
    out = []
    for j in joints:
        q0 = quat_from_rpy(*j.rpy)
        t = j.xyz
        rot = q0
        value = positions.get(j.name, 0.0)
        n = math.sqrt(sum(a * a for a in j.axis)) or 1.0
        axis = (j.axis[0] / n, j.axis[1] / n, j.axis[2] / n)
        if j.type in ('revolute', 'continuous') and value:
            s = math.sin(value / 2)
            rot = quat_mul(q0, (axis[0] * s, axis[1] * s, axis[2] * s, math.cos(value / 2)))
        elif j.type == 'prismatic' and value:
            d = quat_rotate(q0, (axis[0] * value, axis[1] * value, axis[2] * value))
            t = (t[0] + d[0], t[1] + d[1], t[2] + d[2])
        out.append((j.parent, j.child, t, rot))
    return out


# --- the bridge -------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid foxglove',
        description="Serve the robot's live data to Foxglove Studio over the Foxglove "
        'WebSocket protocol (ws://HOST:PORT).',
    )
    p.add_argument('--host', default='127.0.0.1', help='address to bind (default: 127.0.0.1)')
    p.add_argument('--port', type=int, default=8765, help='TCP port (default: 8765)')
    p.add_argument(
        '--allow-remote',
        action='store_true',
        help='allow a non-loopback --host (the protocol has no authentication)',
    )
    p.add_argument('--namespace', default='', help='robot namespace, e.g. robot1')
    p.add_argument('--no-images', action='store_true', help='do not forward camera images')
    p.add_argument(
        '--pelvis-height',
        type=float,
        default=0.867,
        help='base -> pelvis height for /tf, metres (default: the standing posture, 0.867)',
    )
    p.add_argument(
        '--no-ros-viz',
        action='store_true',
        help='do not publish world_markers / robot_description on ROS (for RViz)',
    )
    p.add_argument(
        '--tf-hz', type=float, default=30.0, help='max /tf rate from joint_states (default: 30)'
    )
    return p


def _is_loopback(host: str) -> bool:
    if host == 'localhost':
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class FoxgloveBridge:
    """ROS subscriptions -> foxglove-sdk channels. Runs in the caller's rclpy context."""

    def __init__(self, node: Any, args: argparse.Namespace, urdf: str) -> None:
        import foxglove
        from foxglove.channels import FrameTransformsChannel, SceneUpdateChannel
        from rclpy.serialization import serialize_message
        from std_msgs.msg import String

        from humanoid_bringup.record import msg_definition

        self.node = node
        self.args = args
        self._foxglove = foxglove
        self._msg_definition = msg_definition
        self.joints = parse_urdf_joints(urdf)
        self._joint_positions: dict[str, float] = {}
        self._base: tuple[Vec, Quat] = ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0))
        self._last_tf = 0.0
        self._lock = threading.Lock()
        ns = node.get_namespace().rstrip('/')
        topics = [t for t in FORWARDED_TOPICS if not (args.no_images and 'image_raw' in t)]
        self.wanted = {f'{ns}/{t}': t for t in topics}
        self.channels: dict[str, Any] = {}
        self._subs: list[Any] = []
        self.description = foxglove.Channel(
            f'{ns}/robot_description',
            message_encoding='cdr',
            schema=foxglove.Schema(
                name='std_msgs/msg/String',
                encoding='ros2msg',
                data=msg_definition('std_msgs/msg/String').encode(),
            ),
        )
        self._description_cdr = serialize_message(String(data=urdf))
        self.tf = FrameTransformsChannel(f'{ns}/tf')
        self.scene = SceneUpdateChannel(f'{ns}/scene')
        self.markers_pub = None
        if not args.no_ros_viz:
            self._ros_viz(urdf)
        self.scan()
        node.create_timer(1.0, self.scan)
        node.create_timer(2.0, self.publish_description)
        self.publish_description()

    def _ros_viz(self, urdf: str) -> None:
        from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
        from std_msgs.msg import String
        from visualization_msgs.msg import MarkerArray

        latched = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        self.markers_pub = self.node.create_publisher(MarkerArray, 'world_markers', latched)
        if not self.node.get_publishers_info_by_topic(
            self.node.resolve_topic_name('robot_description')
        ):
            pub = self.node.create_publisher(String, 'robot_description', latched)
            pub.publish(String(data=urdf))

    def publish_description(self) -> None:
        self.description.log(self._description_cdr, log_time=time.time_ns())
        if not self._joint_positions:
            self._publish_tf()  # the robot shows in its default pose before joint_states

    def scan(self) -> None:
        from humanoid_bringup.record import _qos_for, message_class

        for name, types in self.node.get_topic_names_and_types():
            if name not in self.wanted or name in self.channels:
                continue
            if not self.node.get_publishers_info_by_topic(name):
                continue
            type_name = types[0]
            try:
                schema = self._msg_definition(type_name)
                msg_type = message_class(type_name)
            except (LookupError, ValueError, ImportError, AttributeError) as exc:
                self.node.get_logger().warning(f'not forwarding {name}: {exc}')
                self.channels[name] = None
                continue
            channel = self._foxglove.Channel(
                name,
                message_encoding='cdr',
                schema=self._foxglove.Schema(
                    name=type_name, encoding='ros2msg', data=schema.encode()
                ),
            )
            self.channels[name] = channel
            rel = self.wanted[name]
            qos = _qos_for(self.node, name)

            def forward(data: bytes, channel: Any = channel) -> None:
                channel.log(bytes(data), log_time=time.time_ns())

            self._subs.append(
                self.node.create_subscription(msg_type, name, forward, qos, raw=True)
            )
            if rel in ('joint_states', 'odom', 'world_state'):
                handler = {
                    'joint_states': self._on_joint_states,
                    'odom': self._on_odom,
                    'world_state': self._on_world,
                }[rel]
                self._subs.append(self.node.create_subscription(msg_type, name, handler, qos))

    # --- derived channels ---------------------------------------------------------------------
    def _on_joint_states(self, msg: Any) -> None:
        with self._lock:
            for name, pos in zip(msg.name, msg.position, strict=False):
                self._joint_positions[name] = float(pos)
        now = time.monotonic()
        if now - self._last_tf >= 1.0 / max(self.args.tf_hz, 0.1):
            self._last_tf = now
            self._publish_tf()

    def _on_odom(self, msg: Any) -> None:
        p, o = msg.pose.pose.position, msg.pose.pose.orientation
        self._base = ((p.x, p.y, p.z), (o.x, o.y, o.z, o.w))

    def _publish_tf(self) -> None:
        from foxglove.messages import FrameTransform, FrameTransforms, Quaternion, Vector3

        with self._lock:
            positions = dict(self._joint_positions)
        base_t, base_q = self._base
        rows = [
            ('world', 'base', base_t, base_q),
            ('base', 'pelvis', (0.0, 0.0, self.args.pelvis_height), (0.0, 0.0, 0.0, 1.0)),
            *joint_transforms(self.joints, positions),
        ]
        self.tf.log(
            FrameTransforms(
                transforms=[
                    FrameTransform(
                        parent_frame_id=parent,
                        child_frame_id=child,
                        translation=Vector3(x=t[0], y=t[1], z=t[2]),
                        rotation=Quaternion(x=q[0], y=q[1], z=q[2], w=q[3]),
                    )
                    for parent, child, t, q in rows
                ]
            )
        )

    def _on_world(self, msg: Any) -> None:
        from foxglove.messages import (
            Color,
            CubePrimitive,
            CylinderPrimitive,
            Pose,
            Quaternion,
            SceneEntity,
            SceneUpdate,
            TextPrimitive,
            Vector3,
        )

        def pose(p: Any, o: Any, dz: float = 0.0) -> Pose:
            return Pose(
                position=Vector3(x=p.x, y=p.y, z=p.z + dz),
                orientation=Quaternion(x=o.x, y=o.y, z=o.z, w=o.w),
            )

        entities = []
        for obj in msg.objects:
            r, g, b = COLOURS.get(obj.color, (0.6, 0.6, 0.6))
            colour = Color(r=r, g=g, b=b, a=0.5 if obj.is_container else 1.0)
            p, o, s = obj.pose.position, obj.pose.orientation, obj.size
            size = Vector3(x=max(s.x, 0.01), y=max(s.y, 0.01), z=max(s.z, 0.01))
            shape: dict[str, Any] = {}
            if obj.shape == 'cylinder':
                shape['cylinders'] = [
                    CylinderPrimitive(
                        pose=pose(p, o), size=size, bottom_scale=1.0, top_scale=1.0, color=colour
                    )
                ]
            else:
                shape['cubes'] = [CubePrimitive(pose=pose(p, o), size=size, color=colour)]
            label = TextPrimitive(
                pose=pose(p, o, dz=s.z / 2 + 0.05),
                billboard=True,
                font_size=14.0,
                scale_invariant=True,
                color=Color(r=1.0, g=1.0, b=1.0, a=1.0),
                text=obj.id,
            )
            entities.append(
                SceneEntity(frame_id='world', id=f'object/{obj.id}', texts=[label], **shape)
            )
        for place in msg.places:
            p, o, s = place.pose.position, place.pose.orientation, place.size
            top = CubePrimitive(
                pose=pose(p, o, dz=-0.01),
                size=Vector3(x=s.x, y=s.y, z=0.02),
                color=Color(r=0.55, g=0.4, b=0.25, a=0.8),
            )
            entities.append(SceneEntity(frame_id='world', id=f'place/{place.name}', cubes=[top]))
        self.scene.log(SceneUpdate(entities=entities))
        if self.markers_pub is not None:
            self.markers_pub.publish(world_markers(msg))


def world_markers(msg: Any) -> Any:
    """humanoid_interfaces/WorldState -> visualization_msgs/MarkerArray (objects as cubes or
    cylinders with an id label, tables as flat boxes; frame `world`)."""
    from visualization_msgs.msg import Marker, MarkerArray

    out = MarkerArray()
    clear = Marker()
    clear.action = Marker.DELETEALL
    out.markers.append(clear)
    for i, obj in enumerate(msg.objects):
        r, g, b = COLOURS.get(obj.color, (0.6, 0.6, 0.6))
        m = Marker()
        m.header.frame_id = 'world'
        m.header.stamp = msg.header.stamp
        m.ns, m.id = 'objects', i
        m.type = Marker.CYLINDER if obj.shape == 'cylinder' else Marker.CUBE
        m.pose = copy.deepcopy(obj.pose)
        m.scale.x, m.scale.y, m.scale.z = (
            max(v, 0.01) for v in (obj.size.x, obj.size.y, obj.size.z)
        )
        m.color.r, m.color.g, m.color.b = r, g, b
        m.color.a = 0.5 if obj.is_container else 1.0
        text = Marker()
        text.header = m.header
        text.ns, text.id = 'labels', i
        text.type = Marker.TEXT_VIEW_FACING
        text.pose = copy.deepcopy(obj.pose)
        text.pose.position.z = obj.pose.position.z + obj.size.z / 2 + 0.05
        text.scale.z = 0.04
        text.color.r = text.color.g = text.color.b = text.color.a = 1.0
        text.text = obj.id
        out.markers += [m, text]
    for i, place in enumerate(msg.places):
        m = Marker()
        m.header.frame_id = 'world'
        m.header.stamp = msg.header.stamp
        m.ns, m.id = 'places', i
        m.type = Marker.CUBE
        m.pose = copy.deepcopy(place.pose)
        m.pose.position.z = place.pose.position.z - 0.01
        m.scale.x, m.scale.y, m.scale.z = max(place.size.x, 0.01), max(place.size.y, 0.01), 0.02
        m.color.r, m.color.g, m.color.b, m.color.a = 0.55, 0.4, 0.25, 0.8
        out.markers.append(m)
    return out


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not _is_loopback(args.host) and not args.allow_remote:
        print(
            f'humanoid foxglove: refusing to bind {args.host}: the Foxglove WebSocket protocol '
            'has no authentication. Fix: use an SSH tunnel to 127.0.0.1, or pass '
            '--allow-remote on a trusted network.',
            file=sys.stderr,
        )
        return 2
    try:
        from humanoid_core.robot.description import render_urdf

        urdf = render_urdf()
    except (ValueError, FileNotFoundError) as exc:
        print(f'humanoid foxglove: cannot render the robot description: {exc}', file=sys.stderr)
        return 1

    import foxglove
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    try:
        server = foxglove.start_server(name='humanoid', host=args.host, port=args.port)
    except Exception as exc:  # foxglove raises its own error types (e.g. port in use)
        print(
            f'humanoid foxglove: cannot serve on {args.host}:{args.port}: {exc}. Fix: stop the '
            'other server on that port or pass --port.',
            file=sys.stderr,
        )
        return 1
    rclpy.init(args=None)
    node = rclpy.create_node('humanoid_foxglove_bridge', namespace=args.namespace or None)
    FoxgloveBridge(node, args, urdf)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    shown = 'localhost' if _is_loopback(args.host) else args.host
    print(
        f'humanoid foxglove: serving ws://{shown}:{server.port} - in Foxglove Studio: Open '
        'connection -> Foxglove WebSocket',
        flush=True,
    )
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        server.stop()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
