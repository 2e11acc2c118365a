"""The task state machine: planning errors, dry run, approval, execution, re-planning,
cancel and e-stop, on plain Python objects (no ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from humanoid_core.planning.errors import ErrorCode
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import MotionCall, Plan, PlanProposal, PlanStep
from humanoid_core.planning.validator import apply_step
from humanoid_core.tasks.runner import (
    Approval,
    MotionResult,
    RunnerConfig,
    TaskRequest,
    TaskRunner,
    TaskState,
    describe_missing,
    relations_left,
    restore_instruction,
)
from humanoid_core.world.scene import initial_world
from humanoid_core.world.types import ObjectInfo, Place, Relation, WorldSnapshot
import pytest

PICK = PlanStep('pick', {'object': 'red_cube'})
PLACE = PlanStep('place_in', {'object': 'red_cube', 'container': 'tray'})
PLAN = Plan((PICK, PLACE), planner='test')


def world() -> WorldSnapshot:
    return WorldSnapshot(
        objects={
            'red_cube': ObjectInfo('red_cube', 'red cube', 'cube', 'red', (0.4, 0.1, 0.745)),
            'tray': ObjectInfo(
                'tray', 'tray', 'container', 'gray', (0.5, 0, 0.74), is_container=True
            ),
        },
        places={'bench': Place('bench', 'table', (0.47, 0, 0.72), (0.5, 1.2, 0.72), (0, 0, 0))},
        robot_place='bench',
    )


@dataclass
class Hooks:
    approval: Approval | None = None
    cancel_after_feedbacks: int | None = None
    estop_after_feedbacks: int | None = None
    fault_after_feedbacks: int | None = None
    events: list[tuple[TaskState, int, str]] = field(default_factory=list)

    def feedback(self, state, plan, step_index, progress, status):
        assert 0.0 <= progress <= 1.0
        self.events.append((state, step_index, status))

    def wait_for_approval(self, plan):
        return self.approval

    def canceled(self):
        n = self.cancel_after_feedbacks
        return n is not None and len(self.events) >= n

    def estopped(self):
        n = self.estop_after_feedbacks
        return n is not None and len(self.events) >= n

    def fault(self):
        n = self.fault_after_feedbacks
        if n is not None and len(self.events) >= n:
            return 'node whole_body_controller died'
        return None


class Motion:
    def __init__(self, fail: dict[str, int] | None = None, code: str = 'FAILED') -> None:
        self.calls: list[str] = []
        self.fail = dict(fail or {})
        self.code = code

    def execute(self, call, should_stop):
        self.calls.append(call.action)
        if self.fail.get(call.action, 0) > 0:
            self.fail[call.action] -= 1
            return MotionResult(False, self.code, 'fingers closed on nothing')
        return MotionResult(True)


def expand(step, _world):
    if step.skill == 'pick':
        return [MotionCall('move_hand', {}), MotionCall('grasp', {})]
    return [MotionCall('move_hand', {}), MotionCall('release', {})]


def make_runner(motion, proposals=None, world_fn=world, **cfg):
    seen_feedback: list[str | None] = []
    queue = list(proposals or [])

    def propose(instruction, w, feedback):
        seen_feedback.append(feedback)
        if queue:
            return queue.pop(0)
        return PlanProposal(ErrorCode.SUCCESS, PLAN)

    runner = TaskRunner(
        world_fn,
        propose,
        expand,
        motion,
        config=RunnerConfig(world_timeout_s=0.2, poll_s=0.01, **cfg),
    )
    return runner, seen_feedback


def test_success_runs_every_motion_in_order():
    motion = Motion()
    runner, _ = make_runner(motion)
    hooks = Hooks()
    out = runner.run(TaskRequest('put the red cube in the tray'), hooks)
    assert out.code == ErrorCode.SUCCESS, out.message
    assert motion.calls == ['move_hand', 'grasp', 'move_hand', 'release']
    assert [s.skill for s in out.executed.steps] == ['pick', 'place_in']
    assert out.approved_by == 'auto'
    states = [e[0] for e in hooks.events]
    assert states[0] == TaskState.PLANNING and TaskState.EXECUTING in states


def test_planning_error_code_is_returned_and_nothing_moves():
    motion = Motion()
    runner, _ = make_runner(
        motion, [PlanProposal(ErrorCode.UNKNOWN_OBJECT, None, 'no purple cube')]
    )
    out = runner.run(TaskRequest('put the purple cube in the tray'), Hooks())
    assert out.code == ErrorCode.UNKNOWN_OBJECT
    assert 'purple' in out.message
    assert motion.calls == []


def test_dry_run_returns_plan_without_moving():
    motion = Motion()
    runner, _ = make_runner(motion)
    out = runner.run(TaskRequest('x', dry_run=True), Hooks())
    assert out.code == ErrorCode.SUCCESS
    assert out.executed == PLAN
    assert motion.calls == []


def test_no_world_state_fails_with_a_hint():
    runner, _ = make_runner(Motion(), world_fn=lambda: None)
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code == ErrorCode.PLANNING_FAILED
    assert 'world_model' in out.message


def test_rejected_approval_moves_nothing():
    motion = Motion()
    runner, _ = make_runner(motion)
    hooks = Hooks(approval=Approval(False, 'operator:ann', 'wrong cube'))
    out = runner.run(TaskRequest('x', require_approval=True), hooks)
    assert out.code == ErrorCode.REJECTED
    assert 'operator:ann' in out.message and 'wrong cube' in out.message
    assert motion.calls == []
    assert any(e[0] == TaskState.AWAITING_APPROVAL for e in hooks.events)


def test_approval_is_recorded():
    runner, _ = make_runner(Motion())
    out = runner.run(
        TaskRequest('x', require_approval=True), Hooks(approval=Approval(True, 'console'))
    )
    assert out.code == ErrorCode.SUCCESS
    assert out.approved_by == 'console'


def test_failed_grasp_triggers_replan_with_failure_as_feedback():
    motion = Motion(fail={'grasp': 1})
    runner, feedback = make_runner(motion)
    hooks = Hooks()
    out = runner.run(TaskRequest('put the red cube in the tray'), hooks)
    assert out.code == ErrorCode.SUCCESS, out.message
    assert out.replans == 1
    assert feedback[0] is None
    assert feedback[1] is not None and 'grasp returned FAILED' in feedback[1]
    assert any(e[0] == TaskState.REPLANNING for e in hooks.events)
    assert motion.calls.count('grasp') == 2


def test_replans_are_bounded():
    motion = Motion(fail={'grasp': 99})
    runner, feedback = make_runner(motion, max_replans=2)
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code == ErrorCode.EXECUTION_FAILED
    assert out.replans == 2
    assert len(feedback) == 3
    assert 'gave up after 2 re-plan(s)' in out.message


def test_estop_ends_task_with_estopped():
    motion = Motion()
    runner, _ = make_runner(motion)
    out = runner.run(TaskRequest('x'), Hooks(estop_after_feedbacks=4))
    assert out.code == ErrorCode.ESTOPPED
    assert len(motion.calls) < 4


def test_dead_node_ends_task_naming_it():
    motion = Motion()
    runner, _ = make_runner(motion)
    out = runner.run(TaskRequest('x'), Hooks(fault_after_feedbacks=4))
    assert out.code == ErrorCode.EXECUTION_FAILED
    assert 'whole_body_controller died' in out.message
    assert out.replans == 0


def test_cancel_ends_task_with_canceled():
    runner, _ = make_runner(Motion())
    out = runner.run(TaskRequest('x'), Hooks(cancel_after_feedbacks=3))
    assert out.code == ErrorCode.CANCELED


def test_backend_exception_becomes_planning_failed():
    def boom(*_a):
        raise RuntimeError('model server returned HTTP 500')

    runner = TaskRunner(world, boom, expand, Motion(), config=RunnerConfig(poll_s=0.01))
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code == ErrorCode.PLANNING_FAILED
    assert 'HTTP 500' in out.message


@pytest.mark.parametrize('observed', [False, True])
def test_effects_are_checked_after_each_step(observed):
    def check(step, before, after):
        return None if observed else f'{step.text}: red_cube not held'

    runner = TaskRunner(
        world,
        lambda *_a: PlanProposal(ErrorCode.SUCCESS, PLAN),
        expand,
        Motion(),
        check_effects=check,
        config=RunnerConfig(max_replans=0, effect_settle_s=0.05, poll_s=0.01),
    )
    out = runner.run(TaskRequest('x'), Hooks())
    if observed:
        assert out.code == ErrorCode.SUCCESS
    else:
        assert out.code == ErrorCode.EXECUTION_FAILED
        assert 'effects not observed' in out.message


def test_optional_motion_failure_does_not_fail_the_step():
    def expand_with_look(step, _world):
        return [MotionCall('look_at', {}, optional=True), *expand(step, _world)]

    motion = Motion(fail={'look_at': 99})
    runner = TaskRunner(
        world,
        lambda *_a: PlanProposal(ErrorCode.SUCCESS, PLAN),
        expand_with_look,
        motion,
        config=RunnerConfig(poll_s=0.01),
    )
    hooks = Hooks()
    out = runner.run(TaskRequest('x'), hooks)
    assert out.code == ErrorCode.SUCCESS, out.message
    assert motion.calls.count('look_at') == 2
    assert any('look_at skipped' in e[2] for e in hooks.events)
    # ...but a fall during an optional motion is never skipped
    fell = Motion(fail={'look_at': 99}, code='FELL')
    config = RunnerConfig(poll_s=0.01, max_replans=0)
    propose = lambda *_a: PlanProposal(ErrorCode.SUCCESS, PLAN)  # noqa: E731
    runner = TaskRunner(world, propose, expand_with_look, fell, config=config)
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code != ErrorCode.SUCCESS and 'look_at returned FELL' in out.message
    assert fell.calls == ['look_at']


IN_TRAY = Relation('red_cube', 'in', 'tray')
HELD = Relation('red_cube', 'held_by', 'right_hand')


def promise_of(step, _before):
    return {'red_cube': frozenset({HELD if step.skill == 'pick' else IN_TRAY})}


@pytest.mark.parametrize('max_replans', [0, 1])
def test_what_the_steps_left_is_checked_once_the_plan_has_run(max_replans):
    """The place's effect was seen, but by the end of the plan the cube is out of the tray
    (it bounced off the rim; a later step pushed the tray): not a success. With a re-plan
    left, the runner plans again from the world as it is, naming the broken relation."""
    placed = {'n': 0}

    class Placing(Motion):
        def execute(self, call, should_stop):
            if call.action == 'release':
                placed['n'] += 1
            return super().execute(call, should_stop)

    def observed():
        # in the tray only after the second place
        where = IN_TRAY if placed['n'] >= 2 else Relation('red_cube', 'on', 'bench')
        return replace(world(), relations=(where, Relation('robot', 'near', 'bench')))

    seen: list[str | None] = []
    asked: list[str] = []

    def propose(instruction, _w, feedback):
        seen.append(feedback)
        asked.append(instruction)
        return PlanProposal(ErrorCode.SUCCESS, PLAN)

    runner = TaskRunner(
        observed,
        propose,
        expand,
        Placing(),
        promises=promise_of,
        config=RunnerConfig(max_replans=max_replans, effect_settle_s=0.05, poll_s=0.01),
    )
    hooks = Hooks()
    out = runner.run(TaskRequest('put everything from the bench in the tray'), hooks)
    broken = 'in(red_cube, tray) no longer holds (the world state has on(red_cube, bench))'
    if max_replans == 0:
        assert out.code == ErrorCode.EXECUTION_FAILED
        assert out.message == f'after the plan, {broken} (gave up after 0 re-plan(s))'
        assert out.failures == [f'after the plan: {broken}']
        return
    assert out.code == ErrorCode.SUCCESS, out.message
    assert out.replans == 1 and placed['n'] == 2
    assert seen[1] is not None and seen[1].startswith(f'after the plan, {broken}.')
    # the operator's words no longer cover the cube (it is not on the bench any more...):
    # the re-plan asks for what was undone, in words any planner backend takes
    assert asked == ['put everything from the bench in the tray', 'put the red cube in the tray']
    assert any(e[0] == TaskState.REPLANNING and broken in e[2] for e in hooks.events)


def test_a_later_step_replaces_what_an_earlier_one_left():
    """Put in the tray, then picked up again: only the last step's relation is kept."""
    plan = Plan((PICK, PLACE, PICK), planner='test')
    holding = replace(world(), relations=(HELD,))
    runner = TaskRunner(
        lambda: holding,
        lambda *_a: PlanProposal(ErrorCode.SUCCESS, plan),
        expand,
        Motion(),
        promises=promise_of,
        config=RunnerConfig(max_replans=0, effect_settle_s=0.05, poll_s=0.01),
    )
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code == ErrorCode.SUCCESS, out.message
    # ...and the same world fails a plan that ends with the place
    runner.propose = lambda *_a: PlanProposal(ErrorCode.SUCCESS, PLAN)
    out = runner.run(TaskRequest('x'), Hooks())
    assert out.code == ErrorCode.EXECUTION_FAILED
    assert (
        'in(red_cube, tray) no longer holds (the world state has held_by(red_cube, right_hand))'
        in out.message
    )


def test_restore_instruction_names_what_was_undone():
    w = world()
    missing = [IN_TRAY, Relation('red_cube', 'on', 'bench'), HELD]
    assert restore_instruction(missing, w) == (
        'put the red cube in the tray, then put the red cube on the bench, '
        'then pick up the red cube'
    )
    assert restore_instruction([Relation('red_cube', 'in', 'bin')], w) == ''  # no such bin
    assert restore_instruction([Relation('vial', 'on', 'bench')], w) == ''  # no such object
    assert restore_instruction([IN_TRAY], None) == ''
    assert describe_missing([IN_TRAY], w) == (
        'in(red_cube, tray) no longer holds (the world state has no in/on relation)'
    )


def test_relations_left_by_real_skills():
    """`relations_left` on the validator's own world after pick / place_in / place_on in the
    `lab` scene: each object whose relations change maps to what it is left in."""
    registry = SkillRegistry.from_yaml()
    w0 = initial_world('lab')
    pick = PlanStep('pick', {'object': 'red_cube', 'hand': 'right'})
    w1 = apply_step(pick, w0, registry)
    assert relations_left(w1, w0) == {'red_cube': frozenset({HELD})}
    place = PlanStep('place_in', {'object': 'red_cube', 'container': 'tray'})
    w2 = apply_step(place, w1, registry)
    assert relations_left(w2, w1) == {'red_cube': frozenset({IN_TRAY})}
    assert relations_left(w2, w2) == {}
