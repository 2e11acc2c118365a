"""Static checks of the Gazebo files (Gazebo cannot run here): launch/gazebo.launch.xml,
config/gazebo/{bridge,controllers}.yaml, config/gazebo/worlds/*.sdf and the gazebo URDF."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
import re
import xml.etree.ElementTree as ET

from humanoid_core.robot.description import ROBOT_INFO, render_urdf
from humanoid_core.sim import robot_model as rm
from humanoid_core.sim.scene import load_scene
import pytest
import yaml

from humanoid_core import paths

# ROS contract topics (shared ARCHITECTURE.md), relative names
CONTRACT_TOPICS = {
    'joint_states',
    'imu',
    'odom',
    'camera/color/image_raw',
    'camera/color/camera_info',
    'camera/depth/image_raw',
    'joint_trajectory_controller/joint_trajectory',
    'cmd_vel',
    'perception/objects',
    'world_state',
    'estop',
    'diagnostics',
}
SENSOR_TOPICS = {
    'imu',
    'camera/color/image_raw',
    'camera/color/camera_info',
    'camera/depth/image_raw',
}
# the XML launch subset our own launcher executes (docs/DESIGN.md, ARCHITECTURE.md)
LAUNCH_TAGS = {
    'launch', 'arg', 'let', 'include', 'group', 'node', 'param', 'remap', 'env', 'set_env',
    'push_ros_namespace',
}  # fmt: skip

GAZEBO = paths.config_dir() / 'gazebo'


def _gen_module():
    path = paths.data_root().resolve() / 'scripts' / 'gen_gazebo_world.py'
    if not path.is_file():  # installed share has no scripts/: use the source tree
        path = Path(__file__).resolve().parents[3] / 'scripts' / 'gen_gazebo_world.py'
    spec = importlib.util.spec_from_file_location('gen_gazebo_world', path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def gazebo_urdf() -> ET.Element:
    return ET.fromstring(render_urdf(hardware='gazebo', camera=True))


@pytest.fixture(scope='module')
def launch_root() -> ET.Element:
    return ET.parse(paths.launch_dir() / 'gazebo.launch.xml').getroot()


def test_files_are_well_formed_xml_and_yaml() -> None:
    ET.parse(paths.launch_dir() / 'gazebo.launch.xml')
    worlds = sorted((GAZEBO / 'worlds').glob('*.sdf'))
    assert worlds, 'no world SDF'
    for world in worlds:
        assert ET.parse(world).getroot().tag == 'sdf'
    assert isinstance(yaml.safe_load((GAZEBO / 'bridge.yaml').read_text()), list)
    assert isinstance(yaml.safe_load((GAZEBO / 'controllers.yaml').read_text()), dict)


def test_launch_file_uses_the_launcher_subset(launch_root: ET.Element) -> None:
    tags = {el.tag for el in launch_root.iter()}
    assert tags <= LAUNCH_TAGS, f'tags outside the subset: {tags - LAUNCH_TAGS}'
    # the only non-XML include is the optional GUI, only when headless is false
    for inc in launch_root.iter('include'):
        if not inc.get('file', '').endswith('.xml'):
            assert inc.get('unless') == '$(var headless)', inc.get('file')


def test_launch_file_accepts_the_main_launch_arguments(launch_root: ET.Element) -> None:
    declared = {a.get('name'): a for a in launch_root.findall('arg')}
    main = ET.parse(paths.launch_dir() / 'humanoid.launch.xml').getroot()
    for inc in main.iter('include'):
        if inc.get('file', '').endswith('gazebo.launch.xml'):
            given = {a.get('name') for a in inc.findall('arg')}
            assert given <= set(declared), (
                f'not declared in gazebo.launch.xml: {given - set(declared)}'
            )
    assert all(a.get('default') is not None for a in declared.values())


def test_launch_file_starts_the_gazebo_pieces(launch_root: ET.Element) -> None:
    nodes = {(n.get('pkg'), n.get('exec')): n for n in launch_root.iter('node')}
    for key in (
        ('ros_gz_sim', 'gzserver'),
        ('ros_gz_sim', 'create'),
        ('ros_gz_bridge', 'parameter_bridge'),
        ('robot_state_publisher', 'robot_state_publisher'),
    ):
        assert key in nodes, key
    spawned = [
        n.get('args', '').split()[0]
        for n in launch_root.iter('node')
        if (n.get('pkg'), n.get('exec')) == ('controller_manager', 'spawner')
    ]
    assert sorted(spawned) == ['joint_state_broadcaster', 'joint_trajectory_controller']
    assert '-topic robot_description' in nodes[('ros_gz_sim', 'create')].get('args', '')
    bridge_params = {
        p.get('name'): p.get('value') for p in nodes[('ros_gz_bridge', 'parameter_bridge')]
    }
    assert bridge_params['config_file'].endswith('/config/gazebo/bridge.yaml')
    world = {p.get('name'): p.get('value') for p in nodes[('ros_gz_sim', 'gzserver')]}
    assert world['world_sdf_file'].endswith('/config/gazebo/worlds/$(var scene).sdf')
    # every scene default used by the launch file has a world
    scene_default = next(a for a in launch_root.findall('arg') if a.get('name') == 'scene')
    assert (GAZEBO / 'worlds' / f'{scene_default.get("default")}.sdf').is_file()


def test_bridge_maps_gz_sensors_to_contract_topics(gazebo_urdf: ET.Element) -> None:
    entries = yaml.safe_load((GAZEBO / 'bridge.yaml').read_text())
    ros_topics = set()
    for e in entries:
        name = e['ros_topic_name']
        assert e['direction'] == 'GZ_TO_ROS', name
        if name == '/clock':
            assert e['ros_type_name'] == 'rosgraph_msgs/msg/Clock'
            continue
        assert not name.startswith('/'), f'{name}: ROS names must be relative'
        assert name in CONTRACT_TOPICS, f'{name} is not a contract topic'
        ros_topics.add(name)
    assert ros_topics == SENSOR_TOPICS
    assert '/clock' in {e['ros_topic_name'] for e in entries}
    # gz topics are the ones the URDF's sensors publish
    sensors = {s.get('type'): s for s in gazebo_urdf.iter('sensor')}
    cam_topic = sensors['rgbd_camera'].findtext('topic')
    imu_topic = sensors['imu'].findtext('topic')
    gz = {e['ros_topic_name']: e['gz_topic_name'] for e in entries}
    assert gz['camera/color/image_raw'] == f'{cam_topic}/image'
    assert gz['camera/depth/image_raw'] == f'{cam_topic}/depth_image'
    assert gz['camera/color/camera_info'] == f'{cam_topic}/camera_info'
    assert gz['imu'] == imu_topic


def test_gazebo_camera_matches_the_mujoco_camera(gazebo_urdf: ET.Element) -> None:
    sensor = next(s for s in gazebo_urdf.iter('sensor') if s.get('type') == 'rgbd_camera')
    assert int(sensor.findtext('camera/image/width')) == 640
    assert int(sensor.findtext('camera/image/height')) == 480
    assert sensor.findtext('gz_frame_id') == ROBOT_INFO.camera_optical_frame
    hfov = float(sensor.findtext('camera/horizontal_fov'))
    expected = 2 * math.atan(math.tan(math.radians(rm.HEAD_CAMERA_FOVY) / 2) * 640 / 480)
    assert hfov == pytest.approx(expected, abs=2e-3)
    refs = {
        g.get('reference') for g in gazebo_urdf.findall('gazebo') if g.find('sensor') is not None
    }
    assert refs == {ROBOT_INFO.camera_link, ROBOT_INFO.imu_link}


def test_controllers_list_every_joint(gazebo_urdf: ET.Element) -> None:
    cfg = yaml.safe_load((GAZEBO / 'controllers.yaml').read_text())

    def section(name: str) -> dict:
        for key, value in cfg.items():
            if re.fullmatch(rf'(/\*\*/)?{name}', key):
                return value['ros__parameters']
        raise AssertionError(f'controllers.yaml has no {name}')

    cm = section('controller_manager')
    assert cm['joint_trajectory_controller']['type'] == (
        'joint_trajectory_controller/JointTrajectoryController'
    )
    assert cm['joint_state_broadcaster']['type'] == 'joint_state_broadcaster/JointStateBroadcaster'
    jtc = section('joint_trajectory_controller')
    assert jtc['joints'] == list(ROBOT_INFO.joints)
    # interfaces exist in the URDF's ros2_control block
    block = gazebo_urdf.find('ros2_control')
    assert block.findtext('hardware/plugin') == 'gz_ros2_control/GazeboSimSystem'
    for joint in block.findall('joint'):
        commands = {c.get('name') for c in joint.findall('command_interface')}
        states = {s.get('name') for s in joint.findall('state_interface')}
        assert set(jtc['command_interfaces']) <= commands
        assert set(jtc['state_interfaces']) <= states
    params = gazebo_urdf.find("gazebo/plugin[@filename='gz_ros2_control-system']/parameters")
    assert (
        params is not None
        and Path(params.text).resolve() == (GAZEBO / 'controllers.yaml').resolve()
    )


def test_world_has_every_place_and_object_of_the_scene() -> None:
    scene = load_scene('lab')
    world = ET.parse(GAZEBO / 'worlds' / 'lab.sdf').getroot().find('world')
    models = {m.get('name'): m for m in world.findall('model')}
    layout = scene.nominal_layout()
    for name, place in scene.places.items():
        assert name in models, name
        pose = [float(v) for v in models[name].findtext('pose').split()]
        assert pose[:2] == pytest.approx(place.pose[:2]) and pose[5] == pytest.approx(
            place.pose[2]
        )
        assert models[name].findtext('static') == 'true'
        top = models[name].find(f"link/collision[@name='{name}_top_collision']")
        top_z = float(top.findtext('pose').split()[2])
        top_h = float(top.findtext('geometry/box/size').split()[2])
        assert top_z + top_h / 2 == pytest.approx(place.size[2])
    for name, obj in scene.objects.items():
        assert name in models, name
        pose = [float(v) for v in models[name].findtext('pose').split()]
        assert pose[:3] == pytest.approx(layout[name].position, abs=1e-6)
        assert float(models[name].findtext('link/inertial/mass')) == pytest.approx(obj.mass)
    plugins = {p.get('filename') for p in world.findall('plugin')}
    assert {'gz-sim-sensors-system', 'gz-sim-imu-system', 'gz-sim-user-commands-system'} <= plugins


def test_committed_world_matches_the_scene_yaml() -> None:
    gen = _gen_module()
    for world in sorted((GAZEBO / 'worlds').glob('*.sdf')):
        expected = gen.world_sdf(load_scene(world.stem))
        assert world.read_text() == expected, (
            f'{world} is out of date: run scripts/gen_gazebo_world.py --scene {world.stem}'
        )
