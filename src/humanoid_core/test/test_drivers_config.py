"""config/robots/<name>.yaml: the shipped robots load, and bad files fail naming the key."""

from __future__ import annotations

from pathlib import Path

from humanoid_core.drivers import DriverError, create_driver, load_robot_config
from humanoid_core.drivers.robot_config import RobotConfigError, available_robots
from humanoid_core.robot.description import ROBOT_INFO
from humanoid_core.safety.limits import load_safety_limits
import pytest
import yaml

from humanoid_core import paths

OP3 = paths.config_dir() / 'robots' / 'op3_like.yaml'


def op3_data() -> dict:
    return yaml.safe_load(OP3.read_text())


def test_shipped_robots_load_and_cover_every_joint() -> None:
    assert {'humanoid', 'op3_like', 'g1_like'} <= set(available_robots())
    for name in available_robots():
        cfg = load_robot_config(name)
        assert cfg.name == name
        limits = load_safety_limits(cfg.safety_limits_path())
        if cfg.driver == 'simulator':
            assert cfg.safety_limits_path() == (paths.config_dir() / 'safety.yaml').resolve()
            continue
        # the launch file passes config/robots/<robot>.safety.yaml to the supervisor
        assert cfg.safety_limits == f'{name}.safety.yaml'
        assert set(cfg.mapped_joints) | set(cfg.held_joints) == set(ROBOT_INFO.joints)
        for joint, q in cfg.held_joints.items():
            assert limits.joints[joint].lower <= q <= limits.joints[joint].upper


def test_op3_like_is_20_xm430_servos() -> None:
    cfg = load_robot_config('op3_like')
    assert cfg.driver == 'dynamixel' and cfg.dynamixel is not None
    ids = sorted(j.id for j in cfg.dynamixel.joints.values())
    assert ids == list(range(1, 21))
    assert {j.model for j in cfg.dynamixel.joints.values()} == {'XM430-W350'}
    limits = load_safety_limits(cfg.safety_limits_path())
    assert all(limits.joints[n].velocity <= 4.8 for n in cfg.mapped_joints)  # XM430 no-load


@pytest.mark.parametrize(
    ('change', 'message'),
    [
        (lambda d: d['dynamixel']['joints']['neck_yaw_joint'].update(id=20),
         'servo id 20 is used by both neck_yaw_joint and neck_pitch_joint'),
        (lambda d: d['dynamixel']['joints'].update(tail_joint={'id': 40}),
         "joint map names joints not in the robot description: ['tail_joint']"),
        (lambda d: d['held_joints'].pop('waist_yaw_joint'),
         "joints neither mapped nor listed in held_joints: ['waist_yaw_joint']"),
        (lambda d: d['held_joints'].update(neck_yaw_joint=0.0),
         "joints both mapped and held: ['neck_yaw_joint']"),
        (lambda d: d.update(colour='red'), 'colour: Extra inputs are not permitted'),
        (lambda d: d['dynamixel']['joints']['neck_yaw_joint'].update(direction=2),
         'dynamixel.joints.neck_yaw_joint.direction'),
        (lambda d: d.update(driver='can'), 'driver: Input should be'),
        (lambda d: d.pop('dynamixel'), "driver 'dynamixel' needs a 'dynamixel' section"),
        (lambda d: d.update(safety_limits='missing.yaml'), 'safety_limits file not found'),
        (lambda d: d.update(estop_action='explode'), 'estop_action'),
    ],
)  # fmt: skip
def test_bad_robot_files_name_the_problem(change, message: str) -> None:
    data = op3_data()
    change(data)
    with pytest.raises(RobotConfigError, match=None) as info:
        load_robot_config(OP3, data=data)
    assert message in str(info.value)
    assert str(OP3) in str(info.value)


def test_unknown_robot_lists_the_available_ones(tmp_path: Path) -> None:
    with pytest.raises(
        RobotConfigError, match=r"'nao' not found .*available robots: \[.*'op3_like'"
    ):
        load_robot_config('nao')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('name: [unclosed')
    with pytest.raises(RobotConfigError, match='invalid YAML'):
        load_robot_config(bad)


def test_simulated_robot_has_no_real_driver() -> None:
    with pytest.raises(DriverError, match=r"driver 'simulator'.*sim:=mujoco"):
        create_driver(load_robot_config('humanoid'))
