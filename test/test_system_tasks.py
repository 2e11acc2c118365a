"""System test: the whole stack from launch/humanoid.launch.xml (simulator, safety supervisor,
controller, perception, world model, planner) in separate processes, three tasks end to end,
judged on simulator ground truth:

1. "put the red cube in the tray" succeeds and the cube is in the tray;
2. an unknown object is reported (UNKNOWN_OBJECT) and nothing moves;
3. a grasp made to fail on purpose (sim fault injection: objects and that hand's fingers
   slippery from the next grasp until the hand opens) is re-planned and the task still
   succeeds.
"""

from __future__ import annotations

from pathlib import Path

from humanoid_bringup.observer import Observer
from humanoid_bringup.stack import Stack, wait_until
from humanoid_bringup.task_view import error_name
from humanoid_core.planning.suite import Predicate
from humanoid_core.tasks.judge import judge, moved_objects
import numpy as np
import pytest
from testutil import real_time_factor

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope='module')
def stack(tmp_path_factory):
    log = tmp_path_factory.mktemp('system') / 'stack.log'
    st = Stack(
        {
            'sim': 'mujoco',
            'headless': 'true',
            'planner': 'embedded',
            'real_time_factor': f'{real_time_factor():g}',
        },
        log,
    )
    st.start()
    obs = None
    try:
        obs = Observer('system_test')
        ready = wait_until(
            lambda: (
                obs.world_objects() > 0
                and bool(obs.ground_truth())
                and obs.robot() is not None
                and obs.task_client.server_is_ready()
            ),
            timeout=180,
            alive=st.alive,
        )
        assert ready, 'stack did not come up:\n' + st.log_tail(40)
        obs.wait_world_settled()
        yield st, obs
    finally:
        if obs is not None:
            obs.close()
        code = st.stop()
        assert code == 0, f'launcher exit {code}:\n' + st.log_tail(40)


def _world(obs):
    return obs.truth_world('lab')


def _world_events(st, last: int = 30) -> str:
    """The world model's event lines (objects new, moved, removed) in the stack's log."""
    try:
        lines = st.log_path.read_text(errors='replace').splitlines()
    except OSError:
        return '(no stack log)'
    keys = ('new object', 'removed ', ' moved ', 'time jumped back')
    events = [x for x in lines if '[world_model]' in x and any(k in x for k in keys)]
    return '\n'.join(events[-last:]) or '(none)'


def _reset(obs, seed: int = -1) -> None:
    assert obs.reset_sim(seed)
    wait_until(lambda: False, timeout=3.0)  # settle; perception sees the reset scene


def test_unknown_object_moves_nothing(stack):
    _st, obs = stack
    before = obs.ground_truth()
    result = obs.run_task('put the purple cube in the tray', timeout=60)
    assert result is not None
    assert error_name(result.error_code) == 'UNKNOWN_OBJECT'
    assert 'purple' in result.message
    wait_until(lambda: False, timeout=1.0)
    assert moved_objects(before, obs.ground_truth()) == []


def test_red_cube_into_tray(stack):
    st, obs = stack
    _reset(obs)
    result = obs.run_task('put the red cube in the tray', timeout=300)
    assert result is not None, st.log_tail(40)
    assert error_name(result.error_code) == 'SUCCESS', result.message
    wait_until(lambda: False, timeout=1.5)
    verdict = judge([Predicate('in', ('red_cube', 'tray'))], _world(obs))
    assert verdict.ok, f'ground truth: {obs.ground_truth()["red_cube"]}'
    # the world model's belief agrees (what `humanoid bench tasks` records for a failure)
    belief = obs.belief()
    assert 'in(red_cube, tray)' in belief['relations'], belief
    seen = np.array(belief['objects']['red_cube']['position_mm']) / 1000.0
    assert np.linalg.norm(seen[:2] - np.array(obs.ground_truth()['red_cube'][0][:2])) < 0.03
    tilt = obs.tilt()
    assert tilt is not None and tilt < 0.5, f'robot fell (pelvis tilt {tilt} rad)'


# The injected failure itself did not work until 2026-11-27 (MuJoCo takes the larger friction of
# two touching geoms: slippery objects against the finger pads' 1.8 still held); now the hand's
# fingers go slippery too, until that gripper opens, and the grasp fails every time.
@pytest.mark.xfail(
    reason='known flaky: the injected failure now works (4 of 4 passed alone and in the '
    'file), but in a fresh-clone CI run the re-plan failed AMBIGUOUS: the world model held a '
    'ghost second tray (tray_2) after the failed grasp, so "the tray" was ambiguous',
    strict=False,
)
def test_failed_grasp_is_replanned(stack):
    st, obs = stack
    _reset(obs)
    assert obs.fail_next_grasp()
    result = obs.run_task('put the blue cube in the tray', timeout=400)
    assert result is not None, st.log_tail(40)
    # on a failure: the world model's own events (a ghost tray_2 once made the re-plan
    # ambiguous) and its belief, beside the stack's last lines
    why = (
        f'{result.message}\nworld model events:\n{_world_events(st)}\n'
        f'belief: {obs.belief()}\n{st.log_tail(30)}'
    )
    if error_name(result.error_code) != 'SUCCESS' or 're-plan' not in result.message:
        # an expected failure hides its message: keep it where a person can read it
        out = ROOT / 'results' / 'test_failed_grasp_is_replanned.txt'
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(why)
    assert error_name(result.error_code) == 'SUCCESS', why
    assert 're-plan' in result.message, why
    wait_until(lambda: False, timeout=1.5)
    assert judge([Predicate('in', ('blue_cube', 'tray'))], _world(obs)).ok
