"""Skill registry, validator (per-step explanations) and motion expansion."""

import copy
import math

from humanoid_core.planning import (
    ConfigError,
    MotionCall,
    Plan,
    PlanStep,
    SkillRegistry,
    apply_step,
    expand,
    validate,
)
from humanoid_core.planning.validator import StepError
from humanoid_core.world import initial_world
import pytest


@pytest.fixture(scope='module')
def reg() -> SkillRegistry:
    return SkillRegistry.from_yaml()


@pytest.fixture(scope='module')
def lab():
    return initial_world('lab')


def plan(reg, *steps) -> Plan:
    return Plan(tuple(reg.step(name, *args) for name, *args in steps), 'test')


def test_registry_has_the_issue_skills(reg):
    for name in (
        'walk_to',
        'look_at',
        'pick',
        'place_in',
        'place_on',
        'hand_over',
        'open_gripper',
        'close_gripper',
        'wait',
        'report',
    ):
        assert name in reg
    assert reg.get('place_in').signature() == 'place_in(object: graspable, container: container)'
    step = reg.step('place_in', container='tray', object='red_cube')
    assert list(step.args) == ['object', 'container'] and step.text == 'place_in(red_cube, tray)'
    assert reg.step('wait', 3).args == {'seconds': 3.0}
    with pytest.raises(KeyError, match='valid skills: walk_to'):
        reg.get('fly')
    with pytest.raises(ValueError, match="no argument 'target'"):
        reg.step('pick', target='red_cube')
    with pytest.raises(ValueError, match="missing argument 'container'"):
        reg.step('place_in', 'red_cube')


def test_registry_config_errors_name_the_problem(reg):
    from humanoid_core.world import find_config
    import yaml

    data = yaml.safe_load(find_config('skills.yaml').read_text())
    cases = [
        (('pick', 'preconditions'), ['levitating(object)'], "unknown primitive 'levitating'"),
        (('pick', 'preconditions'), ['holding(object, hand)'], 'holding takes 1 argument'),
        (('pick', 'effects'), ['grasp(thing, hand)'], "names 'thing'"),
        (('pick', 'args'), [{'name': 'object', 'type': 'gizmo'}], "unknown type 'gizmo'"),
        (('pick', 'motion'), [{'action': 'teleport', 'goal': {}}], "unknown action 'teleport'"),
    ]
    for (skill, key), value, msg in cases:
        bad = copy.deepcopy(data)
        bad['skills'][skill][key] = value
        with pytest.raises(ConfigError, match=msg):
            SkillRegistry.from_dict(bad)
    bad = copy.deepcopy(data)
    bad['limits']['max_steps'] = 3
    with pytest.raises(ConfigError, match='unknown key'):
        SkillRegistry.from_dict(bad)


def test_custom_skill_from_config_only(reg, lab):
    """A lab-campaign skill (returns data, needs a station) is pure configuration."""
    data = {
        'skills': {
            'measure': {
                'description': 'Read the instrument at the station.',
                'args': [{'name': 'object', 'type': 'graspable'}],
                'preconditions': ['holding(object)', 'at_place_kind(table)'],
                'effects': ['none'],
                'returns': {'reading': 'float'},
                'motion': [{'action': 'report', 'local': True, 'goal': {'text': '$object'}}],
            },
            'pick': {
                'args': [{'name': 'object', 'type': 'graspable'}],
                'preconditions': ['reachable(object)', 'free_hand(hand)'],
                'effects': ['grasp(object, hand)'],
            },
        }
    }
    custom = SkillRegistry.from_dict(data)
    assert custom.get('measure').returns == {'reading': 'float'}
    ok = validate(plan(custom, ('pick', 'red_cube'), ('measure', 'red_cube')), lab, custom)
    assert ok.ok, ok.explanation()
    bad = validate(plan(custom, ('measure', 'red_cube')), lab, custom)
    assert 'not holding red_cube' in bad.explanation()


def test_valid_plan_and_its_effects(reg, lab):
    p = plan(
        reg, ('pick', 'green_cube'), ('walk_to', 'station'), ('place_in', 'green_cube', 'bin')
    )
    res = validate(p, lab, reg)
    assert res.ok and res.executable == [True, True, True] and res.exec_fraction == 1.0
    w = res.final_world
    assert w.has('green_cube', 'in', 'bin') and w.robot_place == 'station'
    assert w.held == {'left': None, 'right': None}
    # The initial world is unchanged (snapshots are immutable).
    assert lab.has('green_cube', 'on', 'bench') and lab.robot_place == 'bench'


@pytest.mark.parametrize(
    ('steps', 'index', 'fragment'),
    [
        ([('place_in', 'red_cube', 'tray')], 0, 'not holding red_cube; pick(red_cube) first'),
        (
            [('pick', 'red_cube'), ('place_in', 'red_cube', 'bin')],
            1,
            'bin is at station but the robot is at bench; add walk_to(station) first',
        ),
        ([('walk_to', 'station'), ('pick', 'red_cube')], 1, 'add walk_to(bench) first'),
        (
            [('pick', 'red_cube'), ('pick', 'blue_cube'), ('pick', 'green_cube')],
            2,
            'both hands are full',
        ),
        ([('pick', 'red_cube', 'left'), ('pick', 'blue_cube', 'left')], 1, 'left hand already'),
        ([('pick', 'tray')], 0, 'tray cannot be grasped'),
        ([('pick', 'purple_cube')], 0, "unknown object 'purple_cube'"),
        ([('pick', 'red_cube'), ('place_in', 'red_cube', 'blue_cube')], 1, 'not a container'),
        ([('pick', 'red_cube'), ('place_on', 'red_cube', 'tray')], 1, 'use place_in'),
        ([('walk_to', 'kitchen')], 0, "unknown place 'kitchen'"),
        ([('wait', 1e6)], 0, 'seconds must be <= 600'),
        ([('hand_over', 'red_cube')], 0, 'not holding red_cube'),
        ([('pick', 'red_cube'), ('pick', 'red_cube')], 1, 'already held in the right hand'),
    ],
)
def test_rejections_explain_each_step(reg, lab, steps, index, fragment):
    res = validate(plan(reg, *steps), lab, reg)
    assert not res.ok
    issue = next(i for i in res.issues if i.index == index)
    assert fragment in issue.message, issue.message
    assert f'step {index + 1} ' in res.feedback()
    assert res.executable[index] is False


def test_unknown_skill_and_bad_args_from_a_model(reg, lab):
    p = Plan((PlanStep('fly', {'to': 'moon'}), PlanStep('pick', {'thing': 'red_cube'})), 'model')
    res = validate(p, lab, reg)
    assert [i.index for i in res.issues] == [0, 1]
    assert "unknown skill 'fly'" in res.issues[0].message
    assert 'unknown argument(s) thing' in res.issues[1].message
    assert res.exec_fraction == 0.0


def test_plan_level_limits(reg, lab):
    assert 'no steps' in validate(Plan((), 'x'), lab, reg).explanation()
    long = plan(reg, *[('wait', 0.1)] * (reg.limits.max_plan_steps + 1))
    assert 'at most' in validate(long, lab, reg).explanation()


def test_failed_step_is_skipped_and_later_steps_still_checked(reg, lab):
    p = plan(
        reg,
        ('place_in', 'red_cube', 'tray'),
        ('pick', 'red_cube'),
        ('place_in', 'red_cube', 'tray'),
    )
    res = validate(p, lab, reg)
    assert res.executable == [False, True, True]
    assert res.exec_fraction == pytest.approx(2 / 3)
    assert res.final_world.has('red_cube', 'in', 'tray')


def test_open_gripper_sets_the_object_down(reg, lab):
    w = apply_step(reg.step('pick', 'blue_cube', 'left'), lab, reg)
    w = apply_step(reg.step('open_gripper', 'left'), w, reg)
    assert w.held['left'] is None and w.has('blue_cube', 'on', 'bench')
    with pytest.raises(StepError):
        apply_step(reg.step('place_on', 'blue_cube', 'bench'), w, reg)


def test_expand_pick_and_place_into_motion_calls(reg, lab):
    calls = expand(reg.step('pick', 'red_cube'), lab, reg)
    assert [c.action for c in calls] == [
        'look_at',
        'release',
        'move_hand',
        'move_hand',
        'grasp',
        'move_hand',
    ]
    assert all(isinstance(c, MotionCall) and not c.local for c in calls)
    red = lab.objects['red_cube'].position
    grasp = calls[3].goal
    assert grasp['hand'] == 'right' and grasp['target']['frame_id'] == 'world'
    assert grasp['target']['position'] == pytest.approx(list(red))
    assert calls[2].goal['target']['position'][2] == pytest.approx(red[2] + 0.10)
    q = grasp['target']['orientation']
    assert math.isclose(sum(v * v for v in q), 1.0, rel_tol=1e-9)
    assert calls[4].goal == {'hand': 'right', 'object_id': 'red_cube', 'max_effort': 0.0}

    held = apply_step(reg.step('pick', 'red_cube'), lab, reg)
    place = expand(reg.step('place_in', 'red_cube', 'tray'), held, reg)
    assert [c.action for c in place][-2:] == ['release', 'move_hand']
    drop = place[2].goal['target']['position']
    tray = lab.objects['tray']
    assert abs(drop[0] - tray.position[0]) < tray.size[0] / 2
    assert abs(drop[1] - tray.position[1]) < tray.size[1] / 2
    assert place[3].goal == {'hand': 'right'}

    # a tall container: over the bin (12 cm walls) the held cube clears the rim on the way in
    at_station = apply_step(reg.step('walk_to', 'station'), held, reg)
    into_bin = expand(reg.step('place_in', 'red_cube', 'bin'), at_station, reg)
    above_bin, drop_bin = (c.goal['target']['position'][2] for c in into_bin[1:3])
    cube = lab.objects['red_cube']
    rim = lab.objects['bin'].top_z
    assert above_bin - 0.5 * (cube.top_z - cube.bottom_z) >= rim + 0.05
    # ... and is let go with its bottom just over the rim (lowered to the bin's floor, the
    # forearm hit the near rim and pushed the bin away)
    assert drop_bin - 0.5 * (cube.top_z - cube.bottom_z) == pytest.approx(rim + 0.01)
    assert drop_bin < above_bin - 0.05
    walk = expand(reg.step('walk_to', 'station'), lab, reg)
    assert walk == [
        MotionCall(
            'walk_to',
            {
                'x': 0.0,
                'y': -2.0,
                'theta': 0.0,
                'position_tolerance': 0.05,
                'angle_tolerance': 0.1,
            },
        )
    ]
    assert expand(reg.step('wait', 2), lab, reg) == [MotionCall('wait', {'seconds': 2.0}, True)]
    # hand-over: the holding hand goes out to its own side, off the table in front (the bench's
    # near edge is 0.22 m ahead), holds still, then opens
    give = expand(reg.step('hand_over', 'red_cube'), held, reg)
    assert [c.action for c in give] == ['move_hand', 'wait', 'release', 'go_to_posture']
    out = give[0].goal
    assert out['hand'] == 'right' and out['target']['frame_id'] == 'base'
    x, y, z = out['target']['position']
    assert x < 0.2 and y < -0.3 and z > 0.8
    assert give[2].goal == {'hand': 'right'}
    with pytest.raises(StepError, match='add walk_to'):
        expand(
            reg.step('pick', 'red_cube'), apply_step(reg.step('walk_to', 'station'), lab, reg), reg
        )
