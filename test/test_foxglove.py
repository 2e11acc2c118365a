"""The Foxglove bridge: a websocket client (not Foxglove's code, the `websockets` package)
connects to `humanoid foxglove`, checks the advertised channels and decodes a forwarded
joint_states message; plus the URDF forward kinematics that feeds /tf."""

from __future__ import annotations

import asyncio
import json
import math
import struct
import subprocess
import sys

from humanoid_bringup.foxglove_bridge import (
    joint_transforms,
    parse_urdf_joints,
    quat_mul,
    quat_rotate,
)
import pytest
from test_console import free_port
from test_record import JOINTS
from testutil import ROOT, VENV_BIN, ros_env, wait_for_line

WORLD = ROOT / 'test' / 'fixtures' / 'world_publisher.py'


async def _session(url: str, want: set[str], timeout: float = 60.0) -> tuple[dict, bytes]:
    import websockets

    channels: dict[str, dict] = {}
    async with websockets.connect(url, subprotocols=['foxglove.sdk.v1'], max_size=None) as ws:
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout
        while not want <= set(channels) and loop.time() < end:
            try:
                msg = await asyncio.wait_for(ws.recv(), 2)
            except TimeoutError:
                continue
            if isinstance(msg, str) and json.loads(msg)['op'] == 'advertise':
                for ch in json.loads(msg)['channels']:
                    channels[ch['topic']] = ch
        assert want <= set(channels), f'advertised only {sorted(channels)}'
        sub = {'id': 7, 'channelId': channels['/joint_states']['id']}
        await ws.send(json.dumps({'op': 'subscribe', 'subscriptions': [sub]}))
        end = loop.time() + timeout
        while loop.time() < end:
            try:
                msg = await asyncio.wait_for(ws.recv(), 2)
            except TimeoutError:
                continue
            if isinstance(msg, bytes) and msg[0] == 1:  # MessageData
                sub_id, _t = struct.unpack_from('<IQ', msg, 1)
                assert sub_id == 7
                return channels, msg[13:]
    raise AssertionError('no joint_states message data received')


def test_bridge_advertises_channels_and_forwards_cdr(processes):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import JointState

    world = processes.start([sys.executable, str(WORLD), 'lab'])
    joints = processes.start([sys.executable, '-c', JOINTS])
    port = free_port()
    bridge = processes.start([str(VENV_BIN / 'humanoid'), 'foxglove', '--port', str(port)])
    for proc, line in ((world, 'ready'), (joints, 'ready'), (bridge, 'serving ws://')):
        wait_for_line(proc, line, timeout=60)
    want = {'/joint_states', '/world_state', '/robot_description', '/tf', '/scene'}
    channels, payload = asyncio.run(_session(f'ws://127.0.0.1:{port}', want))
    assert channels['/joint_states']['schemaName'] == 'sensor_msgs/msg/JointState'
    assert channels['/joint_states']['encoding'] == 'cdr'
    assert 'MSG: std_msgs/msg/Header' in channels['/joint_states']['schema']
    assert channels['/robot_description']['schemaName'] == 'std_msgs/msg/String'
    assert channels['/scene']['schemaName'] == 'foxglove.SceneUpdate'
    assert channels['/tf']['schemaName'] == 'foxglove.FrameTransforms'
    msg = deserialize_message(payload, JointState)
    assert list(msg.name) == ['left_knee_joint', 'right_knee_joint']
    assert msg.position[0] == pytest.approx(0.5)


def test_bridge_refuses_remote_bind_without_flag():
    out = subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'foxglove', '--host', '0.0.0.0'],
        env=ros_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and '--allow-remote' in out.stderr


URDF = """<robot name="t">
  <link name="a"/><link name="b"/><link name="c"/><link name="d"/>
  <joint name="yaw" type="revolute"><parent link="a"/><child link="b"/>
    <origin xyz="0 0 1" rpy="0 0 0"/><axis xyz="0 0 1"/></joint>
  <joint name="tip" type="fixed"><parent link="b"/><child link="c"/>
    <origin xyz="1 0 0" rpy="0 0 0"/></joint>
  <joint name="slide" type="prismatic"><parent link="c"/><child link="d"/>
    <origin xyz="0 0 0" rpy="0 0 1.5707963267948966"/><axis xyz="1 0 0"/></joint>
</robot>"""


def compose(transforms, chain):
    t, q = (0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 1.0)
    by_child = {child: (tr, rot) for _p, child, tr, rot in transforms}
    for link in chain:
        tr, rot = by_child[link]
        d = quat_rotate(q, tr)
        t = (t[0] + d[0], t[1] + d[1], t[2] + d[2])
        q = quat_mul(q, rot)
    return t, q


def test_forward_kinematics_of_a_small_chain():
    joints = parse_urdf_joints(URDF)
    assert [j.name for j in joints] == ['yaw', 'tip', 'slide']
    tf = joint_transforms(joints, {'yaw': math.pi / 2, 'slide': 0.5})
    t, _q = compose(tf, ['b', 'c'])
    assert t == pytest.approx((0.0, 1.0, 1.0), abs=1e-9)  # x offset turned onto y
    t, _q = compose(tf, ['b', 'c', 'd'])
    # slide axis x, origin yaw +90 deg within c, c yawed +90 deg: moves along -x in a
    assert t == pytest.approx((-0.5, 1.0, 1.0), abs=1e-9)


def test_forward_kinematics_of_the_humanoid():
    from humanoid_core.robot.description import render_urdf

    joints = parse_urdf_joints(render_urdf())
    names = {j.name for j in joints}
    assert {'left_knee_joint', 'neck_pitch_joint', 'right_elbow_joint'} <= names
    children = {j.child for j in joints}
    assert {'head_camera_optical_frame', 'left_sole', 'right_grasp_frame'} <= children
    with pytest.raises(ValueError, match='not valid XML'):
        parse_urdf_joints('<robot')


def test_world_markers_for_rviz():
    from builtin_interfaces.msg import Time
    from humanoid_bringup.foxglove_bridge import world_markers
    from humanoid_core.world.scene import initial_world
    from humanoid_ros.world import world_to_msg
    from visualization_msgs.msg import Marker

    world = world_to_msg(initial_world('lab'), Time())
    red_z = next(o for o in world.objects if o.id == 'red_cube').pose.position.z
    markers = world_markers(world).markers
    assert markers[0].action == Marker.DELETEALL
    objects = {m.id: m for m in markers if m.ns == 'objects'}
    labels = {m.text: m for m in markers if m.ns == 'labels'}
    assert len(objects) == len(world.objects) and 'red_cube' in labels
    red = next(m for m in objects.values() if m.color.r > 0.8 and m.color.g < 0.2)
    assert red.pose.position.z == pytest.approx(red_z)  # labels did not move the objects
    assert labels['red_cube'].pose.position.z > red_z
    assert {m.ns for m in markers} >= {'objects', 'labels', 'places'}


def test_rviz_config_has_the_expected_displays():
    import yaml

    config = yaml.safe_load((ROOT / 'config' / 'humanoid.rviz').read_text())
    manager = config['Visualization Manager']
    assert manager['Global Options']['Fixed Frame'] == 'world'
    displays = {d['Name']: d for d in manager['Displays']}
    expected = {
        'RobotModel': 'rviz_default_plugins/RobotModel',
        'TF': 'rviz_default_plugins/TF',
        'World model objects': 'rviz_default_plugins/MarkerArray',
        'Head camera': 'rviz_default_plugins/Image',
        'Odometry': 'rviz_default_plugins/Odometry',
    }
    for name, cls in expected.items():
        assert displays[name]['Class'] == cls
    topics = {name: d['Topic']['Value'] for name, d in displays.items() if 'Topic' in d}
    assert topics['Head camera'] == '/camera/color/image_raw'
    assert topics['World model objects'] == '/world_markers'  # published by humanoid foxglove
    assert displays['RobotModel']['Description Topic']['Value'] == '/robot_description'
    # the camera publishes RELIABLE (humanoid_hardware/qos.py): RViz must match
    assert displays['Head camera']['Topic']['Reliability Policy'] == 'Reliable'
