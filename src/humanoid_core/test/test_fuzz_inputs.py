"""Fuzzing the parsers that take outside input (hypothesis): the instruction parser/grounder,
the task-suite loader and the scene loader (the launch XML parser: humanoid_bringup's
test_launch_fuzz.py). Only the documented error
types may escape, and never a crash. (Trajectory validation is fuzzed in
test_safety_fuzz.py.)"""

from __future__ import annotations

import contextlib

from humanoid_core.planning.embedded import EmbeddedPlanner
from humanoid_core.planning.errors import ConfigError, ErrorCode
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.suite import suite_from_dict
from humanoid_core.planning.types import PlanProposal
from humanoid_core.sim.scene import Scene, SceneError
from humanoid_core.world.scene import SceneError as WorldSceneError
from humanoid_core.world.scene import initial_world
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
REGISTRY = SkillRegistry.from_yaml()
WORLD = initial_world('lab')
PLANNER = EmbeddedPlanner()
WORDS = [
    'put', 'the', 'red', 'blue', 'green', 'cube', 'cubes', 'vial', 'tray', 'bin', 'in', 'on',
    'into', 'station', 'bench', 'and', 'then', 'both', 'all', 'it', 'them', 'there', 'first',
    'second', 'left', 'right', 'next', 'to', 'not', 'except', 'throw', 'ignore', 'previous',
    'instructions', 'walk', 'take', 'pick', 'up', 'hand', 'me', 'wait', '3', 'seconds', 'if',
    'one', 'two', ',', '.', '->', 'purple', 'teh', 'cbe', '"', "'", 'please',
]  # fmt: skip
# Arbitrary JSON-like data for the loaders.
json_like = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-3, 3) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _check_proposal(p: PlanProposal) -> None:
    assert isinstance(p, PlanProposal)
    assert isinstance(p.code, ErrorCode)
    if p.ok:
        assert p.plan is not None and p.plan.steps
        for step in p.plan.steps:
            assert step.skill in REGISTRY
    else:
        assert p.message, f'{p.code.name} without a message'


@SETTINGS
@given(st.text(max_size=300))
def test_planner_never_raises_on_arbitrary_text(text):
    _check_proposal(PLANNER.propose(text, WORLD, REGISTRY))


@SETTINGS
@given(st.lists(st.sampled_from(WORDS), max_size=25).map(' '.join))
def test_planner_never_raises_on_word_salad(text):
    _check_proposal(PLANNER.propose(text, WORLD, REGISTRY))


@SETTINGS
@given(json_like)
def test_suite_loader_raises_only_config_errors(data):
    with contextlib.suppress(ConfigError, WorldSceneError):
        suite_from_dict(data)


@SETTINGS
@given(
    st.fixed_dictionaries({'scene': st.sampled_from(['lab', 'nowhere', '']), 'tasks': json_like})
)
def test_suite_loader_with_plausible_shape(data):
    with contextlib.suppress(ConfigError, WorldSceneError):
        suite_from_dict(data)


@SETTINGS
@given(json_like)
def test_scene_loader_raises_only_scene_errors(data):
    with contextlib.suppress(SceneError):
        Scene.from_dict(data, source='fuzz')


@SETTINGS
@given(
    st.dictionaries(
        st.sampled_from(['red_cube', 'tray', 'x']),
        st.fixed_dictionaries(
            {
                'type': st.sampled_from(['cube', 'cylinder', 'tray', 'bin', 'sphere', 7]),
                'size': st.lists(st.floats(-0.1, 0.5) | st.just(float('nan')), max_size=4),
                'on': st.sampled_from(['bench', 'station', 'moon']),
                'xy': st.lists(st.floats(-2, 2) | st.just(float('nan')), max_size=3),
            }
        ),
        max_size=3,
    )
)
def test_scene_objects_raise_only_scene_errors(objects):
    lab = Scene.from_dict(
        {
            'name': 'lab',
            'places': {'bench': {'kind': 'table', 'pose': [0.5, 0, 0], 'size': [0.5, 1, 0.7]}},
            'objects': {},
        },
        source='base',
    )
    data = lab.model_dump()
    data['objects'] = objects
    with contextlib.suppress(SceneError):
        Scene.from_dict(data, source='fuzz')
