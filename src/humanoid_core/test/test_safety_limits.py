"""Safety limits: URDF base values, YAML overrides, and clear errors for bad configs."""

from __future__ import annotations

import math
from pathlib import Path

from humanoid_core.robot.description import ROBOT_INFO, joint_limits, render_urdf
from humanoid_core.safety import (
    Box,
    SafetyConfigError,
    default_limits_file,
    limits_from_dict,
    load_safety_limits,
)
import pytest


@pytest.fixture(scope='module')
def urdf_limits():
    return joint_limits(render_urdf())


def test_defaults_come_from_the_urdf(urdf_limits):
    limits = limits_from_dict({})
    assert set(limits.joints) == set(urdf_limits)
    for name, lim in urdf_limits.items():
        s = limits.joints[name]
        assert (s.lower, s.upper, s.velocity, s.effort) == (
            lim.lower,
            lim.upper,
            lim.velocity,
            lim.effort,
        )
        assert s.acceleration == math.inf
    assert limits.hand_workspace is None and limits.keep_out == ()


def test_margin_groups_and_joint_overrides(urdf_limits):
    limits = limits_from_dict(
        {
            'position_margin': 0.05,
            'default_acceleration': 30.0,
            'groups': {'arms': {'velocity_scale': 0.5, 'acceleration': 10.0}},
            'joints': {'left_elbow_joint': {'velocity': 1.0, 'effort': 5.0}},
        }
    )
    knee = limits.joints['left_knee_joint']
    base = urdf_limits['left_knee_joint']
    assert knee.lower == pytest.approx(base.lower + 0.05)
    assert knee.upper == pytest.approx(base.upper - 0.05)
    assert knee.acceleration == 30.0
    for name in ROBOT_INFO.arms:
        assert limits.joints[name].acceleration == 10.0
    shoulder = limits.joints['left_shoulder_pitch_joint']
    assert shoulder.velocity == pytest.approx(
        urdf_limits['left_shoulder_pitch_joint'].velocity / 2
    )
    elbow = limits.joints['left_elbow_joint']
    assert (elbow.velocity, elbow.effort, elbow.acceleration) == (1.0, 5.0, 10.0)
    # the finger travel (0.045 m) caps the margin at a quarter of the range
    finger = limits.joints['left_gripper_finger_left_joint']
    assert finger.upper - finger.lower == pytest.approx(0.045 / 2)


@pytest.mark.parametrize(
    ('config', 'needle'),
    [
        ({'position_margn': 0.1}, "unknown keys ['position_margn']"),
        ({'position_margin': -1.0}, 'position_margin must be >= 0'),
        ({'position_margin': 'wide'}, 'position_margin must be a number'),
        ({'default_acceleration': 0.0}, 'default_acceleration must be > 0'),
        ({'groups': {'tails': {}}}, "unknown group 'tails'"),
        ({'groups': {'arms': {'speed': 1}}}, "groups.arms: unknown keys ['speed']"),
        ({'groups': {'arms': {'velocity_scale': 0}}}, 'groups.arms.velocity_scale must be > 0'),
        ({'joints': {'tail_joint': {}}}, "unknown joint 'tail_joint'"),
        ({'joints': {'left_knee_joint': {'velocity': -2}}}, 'joints.left_knee_joint.velocity'),
        (
            {'joints': {'left_knee_joint': {'lower': 1.0, 'upper': 0.5}}},
            'lower 1.0 is above upper 0.5',
        ),
        ({'hand_workspace': {'min': [0, 0], 'max': [1, 1, 1]}}, 'hand_workspace.min must be'),
        ({'hand_workspace': {'min': [0, 0, 2], 'max': [1, 1, 1]}}, 'is above max'),
        (
            {'keep_out': [{'min': [0, 0, 0], 'max': [1, 1, 1], 'frame': 'map'}]},
            "keep_out[0].frame must be one of ('base', 'world')",
        ),
        ({'keep_out': 'bench'}, 'keep_out must be a list'),
        (
            {'self_collision_ignore': [['torso']]},
            'self_collision_ignore[0] must be a [link, link]',
        ),
        ({'effort_hold_time': float('nan')}, 'effort_hold_time must not be NaN'),
    ],
)
def test_bad_configs_name_the_key(config, needle):
    with pytest.raises(SafetyConfigError) as info:
        limits_from_dict(config)
    assert needle in str(info.value)


def test_workspace_file_loads_and_bad_file_names_the_path(tmp_path: Path):
    limits = load_safety_limits()
    assert limits.source == str(default_limits_file())
    assert limits.hand_workspace is not None
    assert {b.name for b in limits.keep_out} >= {'bench', 'station'}
    assert all(math.isfinite(j.acceleration) for j in limits.joints.values())
    bad = tmp_path / 'safety.yaml'
    bad.write_text('joints: {left_knee_joint: {velocity: fast}}\n')
    with pytest.raises(SafetyConfigError, match=str(bad)):
        load_safety_limits(bad)
    with pytest.raises(FileNotFoundError, match='safety limits file not found'):
        load_safety_limits(tmp_path / 'missing.yaml')


def test_box_geometry():
    box = Box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert box.contains((0.5, 0.5, 0.5))
    assert not box.contains((1.1, 0.5, 0.5))
    assert box.contains((1.1, 0.5, 0.5), margin=0.2)
    assert box.outside_by((0.5, 0.5, 0.5)) == 0.0
    assert box.outside_by((2.0, 0.5, 0.5)) == pytest.approx(1.0)
    assert box.outside_by((2.0, 2.0, 0.5)) == pytest.approx(math.sqrt(2.0))
