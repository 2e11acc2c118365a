"""`humanoid record` against real publishers (a latched world state, a 50 Hz joint_states
stream, a latched e-stop), read back with mcap-ros2-support's reader (not project code)."""

from __future__ import annotations

import subprocess
import sys
import time

from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
import pytest
from testutil import ROOT, VENV_BIN, ros_env, wait_for_line

WORLD = ROOT / 'test' / 'fixtures' / 'world_publisher.py'
JOINTS = """
import rclpy
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool
rclpy.init()
node = rclpy.create_node('joint_publisher')
pub = node.create_publisher(JointState, 'joint_states', qos_profile_sensor_data)
latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
node.create_publisher(Bool, 'estop', latched).publish(Bool(data=True))
count = [0]
def tick():
    count[0] += 1
    msg = JointState(name=['left_knee_joint', 'right_knee_joint'],
                     position=[0.5, float(count[0])], velocity=[], effort=[])
    msg.header.stamp = node.get_clock().now().to_msg()
    pub.publish(msg)
node.create_timer(0.02, tick)
print('ready', flush=True)
try:
    rclpy.spin(node)
except BaseException:
    pass
"""


@pytest.fixture
def publishers(processes):
    world = processes.start([sys.executable, str(WORLD), 'lab'])
    joints = processes.start([sys.executable, '-c', JOINTS])
    wait_for_line(world, 'ready', timeout=60)
    wait_for_line(joints, 'ready', timeout=60)


def test_record_contract_topics_and_read_back(publishers, tmp_path):
    out = tmp_path / 'run.mcap'
    rec = subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'record', '-o', str(out), '--duration', '6'],
        env=ros_env(),
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert rec.returncode == 0, rec.stdout + rec.stderr
    assert 'never published' in rec.stdout  # e.g. camera topics: nothing runs them here
    by_topic: dict[str, list] = {}
    schemas = {}
    with open(out, 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        for schema, channel, _message, msg in reader.iter_decoded_messages():
            by_topic.setdefault(channel.topic, []).append(msg)
            schemas[channel.topic] = schema.name
    assert schemas['/joint_states'] == 'sensor_msgs/msg/JointState'
    assert schemas['/world_state'] == 'humanoid_interfaces/msg/WorldState'
    joints = by_topic['/joint_states']
    assert len(joints) >= 50  # ~4 s at 50 Hz minus discovery
    assert list(joints[0].name) == ['left_knee_joint', 'right_knee_joint']
    counters = [m.position[1] for m in joints]
    assert counters == sorted(counters) and joints[0].position[0] == pytest.approx(0.5)
    # latched topics published before the recorder started are recorded too
    (world,) = by_topic['/world_state']
    ids = {o.id for o in world.objects}
    assert {'red_cube', 'blue_cube', 'tray'} <= ids
    red = next(o for o in world.objects if o.id == 'red_cube')
    assert red.pose.position.z > 0.5 and red.label == 'red cube'
    assert world.header.frame_id == 'world'
    assert [m.data for m in by_topic['/estop']] == [True]


def test_record_readable_by_rosbags(publishers, tmp_path):
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    out = tmp_path / 'joints.mcap'
    rec = subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'record', '-o', str(out), '--duration', '6',
         '--topics', 'joint_states', 'world_state'],
        env=ros_env(), capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert rec.returncode == 0, rec.stdout + rec.stderr
    store = get_typestore(Stores.ROS2_JAZZY)
    seen = {}
    with open(out, 'rb') as f:
        reader = make_reader(f)
        for schema, channel, message in reader.iter_messages():
            if schema.name not in store.types:
                # rosbags parses our concatenated ros2msg schema text itself
                store.register(get_types_from_msg(schema.data.decode(), schema.name))
            msg = store.deserialize_cdr(message.data, schema.name)
            seen.setdefault(channel.topic, msg)
    assert list(seen['/joint_states'].name) == ['left_knee_joint', 'right_knee_joint']
    assert seen['/world_state'].objects[0].id == 'red_cube'


def test_record_rejects_bad_arguments(tmp_path):
    out = subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'record', '-o', str(tmp_path / 'x.bag')],
        env=ros_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2 and '.mcap' in out.stderr


def test_start_stop_recording_api(publishers, tmp_path):
    """The API `humanoid bench` uses to keep one recording per task."""
    from humanoid_bringup.record import start_recording, stop_recording

    proc = start_recording(tmp_path / 'task.mcap', topics=['joint_states'], env=ros_env())
    with open(tmp_path / 'task.mcap', 'rb') as f:
        assert f.read(8) == b'\x89MCAP0\r\n'  # the MCAP magic is written at start
    time.sleep(5.0)  # record a few seconds of the 50 Hz stream
    summary = stop_recording(proc)
    assert proc.returncode == 0, summary
    assert '/joint_states' in summary
    with open(tmp_path / 'task.mcap', 'rb') as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        msgs = [m for _s, _c, _m, m in reader.iter_decoded_messages(topics=['/joint_states'])]
    assert msgs and msgs[0].name[0] == 'left_knee_joint'
