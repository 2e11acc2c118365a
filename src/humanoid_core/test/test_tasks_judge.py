"""Judging tasks on ground truth: goals from suites or plans, relations from poses."""

from __future__ import annotations

import math
from pathlib import Path

from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.suite import Predicate
from humanoid_core.planning.types import Plan, PlanStep
from humanoid_core.tasks.judge import (
    find_task,
    goals_from_plan,
    ground_truth_world,
    judge,
    moved_objects,
    tilt_of,
    tipped_objects,
    world_extent,
)
from humanoid_core.world.scene import initial_world
import pytest

SUITES = Path(__file__).resolve().parents[3] / 'config' / 'suites'


def poses_of(world):
    return {oid: (o.position, o.yaw) for oid, o in world.objects.items()}


def test_cube_moved_into_tray_satisfies_in():
    world = initial_world('lab')
    tray = world.obj('tray')
    poses = poses_of(world)
    poses['red_cube'] = ((tray.position[0], tray.position[1], tray.bottom_z + 0.03), 0.3)
    gt = ground_truth_world(world, poses)
    goal = [Predicate('in', ('red_cube', 'tray'))]
    verdict = judge(goal, gt)
    assert verdict.ok and verdict.gcr == 1.0
    # Still on the bench in the initial layout: the goal does not hold.
    assert not judge(goal, ground_truth_world(world, poses_of(world))).ok


def test_cube_on_the_floor_is_on_nothing():
    world = initial_world('lab')
    poses = poses_of(world)
    poses['blue_cube'] = ((0.2, 0.5, 0.025), 0.0)
    gt = ground_truth_world(world, poses)
    assert not gt.related('blue_cube', 'on')
    assert not judge([Predicate('on', ('blue_cube', 'bench'))], gt).ok


def test_lifted_object_is_held_knocked_over_one_is_not():
    """'pick up the red cube' is judged by holding(red_cube): a cube floating 15 cm above the
    bench next to the robot's right side is in the right hand; a vial lying on the bench
    (knocked over) or a cube on the floor is in no hand."""
    world = initial_world('lab')
    poses = poses_of(world)
    x, y, z = world.obj('green_cube').position  # right of the robot (y < 0)
    poses['green_cube'] = ((x, y, z + 0.15), 0.0)
    vx, vy, _ = world.obj('yellow_vial').position
    poses['yellow_vial'] = ((vx, vy, 0.72 + 0.02), 0.0)  # lying: centre 2 cm above the top
    poses['blue_cube'] = ((0.2, 0.5, 0.025), 0.0)
    gt = ground_truth_world(world, poses, (0.0, 0.0, 0.0))
    assert gt.held == {'left': None, 'right': 'green_cube'}
    assert judge([Predicate('holding', ('green_cube',))], gt).ok
    assert not judge([Predicate('holding', ('yellow_vial',))], gt).ok
    assert not judge([Predicate('holding', ('blue_cube',))], gt).ok
    # the same cube floating far from the robot is not 'held'
    far = ground_truth_world(world, poses, (-2.0, 0.0, 0.0))
    assert far.held == {'left': None, 'right': None}


def test_a_vial_lying_in_the_bin_is_in_it_when_orientation_is_known():
    """Lab task vial-carry-to-bin (re-run 2026-11-27): the task reported success and the vial
    lay in the bin's footprint with its centre 748 mm high; taken upright it reached 2 cm
    below the bin's floor and the judge said "not in the bin". Lying (turned 90 degrees about
    x) it is in the bin; upright at that height it is not."""
    world = initial_world('lab')
    poses = poses_of(world)
    poses['yellow_vial'] = ((0.433, -1.929, 0.748), 0.0)
    goal = [Predicate('in', ('yellow_vial', 'bin'))]
    lying = (math.cos(math.pi / 4), math.sin(math.pi / 4), 0.0, 0.0)
    upright = (1.0, 0.0, 0.0, 0.0)
    assert not judge(goal, ground_truth_world(world, poses)).ok
    assert not judge(goal, ground_truth_world(world, poses, None, {'yellow_vial': upright})).ok
    gt = ground_truth_world(world, poses, None, {'yellow_vial': lying})
    assert judge(goal, gt).ok
    assert gt.obj('yellow_vial').size == pytest.approx((0.04, 0.10, 0.04))
    on_its_side = (math.cos(math.pi / 4), 0.0, math.sin(math.pi / 4), 0.0)  # a cube's face
    leaning = (math.cos(math.pi / 8), math.sin(math.pi / 8), 0.0, 0.0)  # on an edge, 45 deg
    turns = {'yellow_vial': lying, 'red_cube': on_its_side, 'blue_cube': leaning, 'tray': upright}
    assert tipped_objects(world, turns) == ['blue_cube', 'yellow_vial']


def test_orientation_helpers():
    yawed = (math.cos(0.3), 0.0, 0.0, math.sin(0.3))  # 0.6 rad about z: still upright
    assert tilt_of(yawed) == pytest.approx(0.0, abs=1e-9)
    assert tilt_of((0.0, 1.0, 0.0, 0.0)) == pytest.approx(math.pi)  # upside down
    assert tilt_of((2.0, 0.0, 0.0, 0.0)) == 0.0  # not normalized: still a rotation
    # a 0.1 x 0.2 x 0.3 box turned 90 degrees about z swaps its x and y extents
    turned = (math.cos(math.pi / 4), 0.0, 0.0, math.sin(math.pi / 4))
    assert world_extent((0.1, 0.2, 0.3), turned) == pytest.approx((0.2, 0.1, 0.3))
    with pytest.raises(ValueError, match='zero quaternion'):
        tilt_of((0.0, 0.0, 0.0, 0.0))


def test_goals_from_plan_are_the_created_relations():
    world = initial_world('lab')
    registry = SkillRegistry.from_yaml()
    plan = Plan(
        (
            PlanStep('pick', {'object': 'red_cube'}),
            PlanStep('place_in', {'object': 'red_cube', 'container': 'tray'}),
        )
    )
    goals = goals_from_plan(plan, world, registry)
    assert [str(g) for g in goals] == ['in(red_cube, tray)']


def test_find_task_in_suites_ignores_case_and_spacing():
    task = find_task('Put  the red cube in the TRAY', sorted(SUITES.glob('*.yaml')))
    assert task is not None
    assert [str(g) for g in task.goal] == ['in(red_cube, tray)']
    assert find_task('dance a jig', sorted(SUITES.glob('*.yaml'))) is None


def test_moved_objects():
    world = initial_world('lab')
    before = poses_of(world)
    after = dict(before)
    p = before['green_cube'][0]
    after['green_cube'] = ((p[0] + 0.05, p[1], p[2]), 0.0)
    assert moved_objects(before, after) == ['green_cube']
    assert moved_objects(before, before) == []
