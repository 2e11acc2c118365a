"""Task execution state machine (ROS-free): plan -> validate -> approve -> execute -> re-plan.

The ExecuteTask action server (humanoid_planning's task_planner node) is a thin wrapper
around :class:`TaskRunner`: it injects the world-state source, the planner, the motion port
(action clients on the motion controller) and the hooks that publish feedback, wait for
approval and report cancel / e-stop. Everything here runs on plain Python objects so the
state machine is tested without ROS.

States (ExecuteTask feedback): PLANNING -> [AWAITING_APPROVAL] -> EXECUTING
(-> REPLANNING -> EXECUTING ...). Failures found before execution leave the robot still.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
import time
from typing import Protocol

from humanoid_core.planning.errors import ErrorCode
from humanoid_core.planning.types import MotionCall, Plan, PlanProposal, PlanStep
from humanoid_core.world.geometry import OPERATOR
from humanoid_core.world.types import Relation, WorldSnapshot


class TaskState(IntEnum):
    """Mirror of ExecuteTask.Feedback STATE_* constants."""

    PLANNING = 0
    AWAITING_APPROVAL = 1
    EXECUTING = 2
    REPLANNING = 3


@dataclass(frozen=True)
class TaskRequest:
    instruction: str
    dry_run: bool = False
    require_approval: bool = False


@dataclass(frozen=True)
class Approval:
    approved: bool
    approver: str
    reason: str = ''


@dataclass(frozen=True)
class MotionResult:
    """Outcome of one motion call. ``code`` is the motion action's error-code name
    ('SUCCESS', 'UNREACHABLE', 'TIMEOUT', 'FELL', 'PREEMPTED', 'ESTOPPED', ...)."""

    ok: bool
    code: str = 'SUCCESS'
    message: str = ''
    data: dict[str, float | str] = field(default_factory=dict)


@dataclass
class TaskOutcome:
    code: ErrorCode
    message: str
    executed: Plan = field(default_factory=Plan)
    approved_by: str = ''
    planning_time: float = 0.0
    execution_time: float = 0.0
    replans: int = 0
    failures: list[str] = field(default_factory=list)


class TaskHooks(Protocol):
    def feedback(
        self, state: TaskState, plan: Plan | None, step_index: int, progress: float, status: str
    ) -> None: ...

    def wait_for_approval(self, plan: Plan) -> Approval | None:
        """Block until the operator decides; None when the task was canceled meanwhile."""
        ...

    def canceled(self) -> bool: ...

    def estopped(self) -> bool: ...

    def fault(self) -> str | None:
        """A reason the task cannot go on (e.g. 'node whole_body_controller died'), or None."""
        ...


class MotionPort(Protocol):
    def execute(self, call: MotionCall, should_stop: Callable[[], bool]) -> MotionResult: ...


Proposer = Callable[[str, WorldSnapshot, str | None], PlanProposal]
"""(instruction, world, feedback about the last failure) -> a *validated* proposal."""
Expander = Callable[[PlanStep, WorldSnapshot], Sequence[MotionCall]]
EffectCheck = Callable[[PlanStep, WorldSnapshot, WorldSnapshot], str | None]
"""(step, world before, world after) -> None if the step's effects hold, else why not."""
Promises = Callable[[PlanStep, WorldSnapshot], Mapping[str, frozenset[Relation]]]
"""(step, world before) -> object id -> the relations the step leaves that object in (for each
object whose `in` / `on` / `held_by` relations the step changes; empty: none to keep)."""


KEPT = ('in', 'on', 'held_by')


def relations_left(
    expected: WorldSnapshot, before: WorldSnapshot
) -> dict[str, frozenset[Relation]]:
    """Object id -> its `KEPT` relations new in `expected` (the world after a step) over
    `before`, for every object whose `KEPT` relations differ between the two (an object
    picked up loses its `in` / `on`: it maps to its `held_by`; one handed to the operator,
    held by nobody here, maps to the empty set)."""

    def kept(world: WorldSnapshot) -> dict[str, set[Relation]]:
        out: dict[str, set[Relation]] = {}
        for r in world.relations:
            if r.predicate in KEPT:
                out.setdefault(r.subject, set()).add(r)
        return out

    old, new = kept(before), kept(expected)
    out = {}
    for obj in set(old) | set(new):
        a, b = old.get(obj, set()), new.get(obj, set())
        if a != b:
            out[obj] = frozenset(r for r in b - a if r.object != OPERATOR)
    return out


@dataclass
class RunnerConfig:
    max_replans: int = 2
    world_timeout_s: float = 5.0
    effect_settle_s: float = 1.0
    """How long to wait for the world model to show a step's effects before calling it failed."""
    poll_s: float = 0.05


class TaskRunner:
    def __init__(
        self,
        world: Callable[[], WorldSnapshot | None],
        propose: Proposer,
        expand: Expander,
        motion: MotionPort,
        check_effects: EffectCheck | None = None,
        config: RunnerConfig | None = None,
        promises: Promises | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.world = world
        self.propose = propose
        self.expand = expand
        self.motion = motion
        self.check_effects = check_effects
        self.promises = promises
        self.config = config or RunnerConfig()
        self.clock = clock
        self.sleep = sleep

    # -- helpers ---------------------------------------------------------------------------
    def _current_world(self) -> WorldSnapshot | None:
        deadline = self.clock() + self.config.world_timeout_s
        while True:
            w = self.world()
            if w is not None or self.clock() >= deadline:
                return w
            self.sleep(self.config.poll_s)

    def _plan(self, instruction: str, world: WorldSnapshot, feedback: str | None) -> PlanProposal:
        try:
            return self.propose(instruction, world, feedback)
        except Exception as exc:
            return PlanProposal(
                ErrorCode.PLANNING_FAILED, None, f'planner error: {type(exc).__name__}: {exc}'
            )

    def _stop_code(self, hooks: TaskHooks) -> ErrorCode | None:
        if hooks.estopped():
            return ErrorCode.ESTOPPED
        if hooks.canceled():
            return ErrorCode.CANCELED
        if hooks.fault():
            return ErrorCode.EXECUTION_FAILED
        return None

    # -- the state machine -----------------------------------------------------------------
    def run(self, request: TaskRequest, hooks: TaskHooks) -> TaskOutcome:
        t0 = self.clock()
        hooks.feedback(TaskState.PLANNING, None, -1, 0.0, 'reading the world state')
        world = self._current_world()
        if world is None:
            return TaskOutcome(
                ErrorCode.PLANNING_FAILED,
                f'no world state within {self.config.world_timeout_s:g} s: is the world_model '
                'node running and publishing `world_state`?',
                planning_time=self.clock() - t0,
            )
        hooks.feedback(TaskState.PLANNING, None, -1, 0.0, 'planning')
        proposal = self._plan(request.instruction, world, None)
        planning_time = self.clock() - t0
        if not proposal.ok or proposal.plan is None:
            return TaskOutcome(proposal.code, proposal.message, planning_time=planning_time)
        plan = proposal.plan
        if request.dry_run:
            hooks.feedback(TaskState.PLANNING, plan, -1, 1.0, 'dry run: plan validated')
            return TaskOutcome(
                ErrorCode.SUCCESS,
                f'dry run: plan with {len(plan)} step(s) validated; nothing moved',
                executed=plan,
                planning_time=planning_time,
            )
        approved_by = 'auto'
        if request.require_approval:
            hooks.feedback(TaskState.AWAITING_APPROVAL, plan, -1, 0.0, 'waiting for approval')
            decision = hooks.wait_for_approval(plan)
            stop = self._stop_code(hooks)
            if decision is None or stop is not None:
                code = stop or ErrorCode.CANCELED
                return TaskOutcome(
                    code,
                    'e-stop engaged while waiting for approval'
                    if code == ErrorCode.ESTOPPED
                    else 'canceled while waiting for approval',
                    planning_time=planning_time,
                )
            if not decision.approved:
                why = f': {decision.reason}' if decision.reason else ''
                return TaskOutcome(
                    ErrorCode.REJECTED,
                    f'plan rejected by {decision.approver or "the operator"}{why}',
                    approved_by='',
                    planning_time=planning_time,
                )
            approved_by = decision.approver or 'operator'
        return self._execute(request, plan, world, hooks, approved_by, planning_time)

    def _execute(
        self,
        request: TaskRequest,
        plan: Plan,
        world: WorldSnapshot,
        hooks: TaskHooks,
        approved_by: str,
        planning_time: float,
    ) -> TaskOutcome:
        t_exec = self.clock()
        done: list[PlanStep] = []
        failures: list[str] = []
        replans = 0

        def outcome(code: ErrorCode, message: str) -> TaskOutcome:
            return TaskOutcome(
                code,
                message,
                executed=Plan(tuple(done), plan.planner, plan.rationale),
                approved_by=approved_by,
                planning_time=planning_time,
                execution_time=self.clock() - t_exec,
                replans=replans,
                failures=failures,
            )

        # object id -> the relations the steps done so far left it in (`Promises`)
        promised: dict[str, frozenset[Relation]] = {}
        instruction = request.instruction
        index = 0
        while True:
            if index < len(plan.steps):
                step = plan.steps[index]
                stop = self._stop_code(hooks)
                if stop is not None:
                    return outcome(stop, self._stop_message(stop, step, hooks))
                hooks.feedback(
                    TaskState.EXECUTING, plan, index, index / len(plan.steps), f'{step.text}'
                )
                before = self._current_world() or world
                failure = self._run_step(step, before, hooks, plan, index)
                stop = self._stop_code(hooks)
                if stop is not None:
                    return outcome(stop, self._stop_message(stop, step, hooks))
                if failure is None and self.check_effects is not None:
                    failure = self._await_effects(step, before)
                if failure is None:
                    done.append(step)
                    index += 1
                    if self.promises is not None:
                        promised.update(self.promises(step, before))
                    continue
                failures.append(f'{step.text}: {failure}')
                failed = f'step {index + 1} {step.text} failed: {failure}'
            else:
                # -- every step ran: what the steps left must still hold (an object that
                # fell out of a container after its place, a container pushed away by a
                # later step), else the task is not done
                missing, seen = self._await_promises(promised)
                if not missing:
                    break
                broken = describe_missing(missing, seen)
                failures.append(f'after the plan: {broken}')
                failed = f'after the plan, {broken}'
                # the plan's goal was reached once: what was undone is all there is left to do
                instruction = restore_instruction(missing, seen) or instruction
                before = seen or world
            # -- re-plan from the current world with the failure as feedback
            if replans >= self.config.max_replans:
                return outcome(
                    ErrorCode.EXECUTION_FAILED, f'{failed} (gave up after {replans} re-plan(s))'
                )
            replans += 1
            n = max(1, len(plan.steps))
            now_doing = '' if instruction == request.instruction else f"; now: '{instruction}'"
            hooks.feedback(
                TaskState.REPLANNING,
                plan,
                min(index, n - 1),
                min(1.0, index / n),
                f're-planning after: {failed}{now_doing}',
            )
            now = self._current_world() or before
            done_text = '; '.join(s.text for s in done) or 'none'
            feedback = (
                f'{failed}. Steps completed so far: {done_text}. '
                'Plan again from the current world state.'
            )
            t_plan = self.clock()
            proposal = self._plan(instruction, now, feedback)
            planning_time += self.clock() - t_plan
            if not proposal.ok or proposal.plan is None:
                return outcome(
                    ErrorCode.EXECUTION_FAILED,
                    f'{failed}; re-planning failed: {proposal.code.name}: {proposal.message}',
                )
            plan = proposal.plan
            index = 0
        return outcome(
            ErrorCode.SUCCESS,
            f'done: {len(done)} step(s) executed'
            + (f' after {replans} re-plan(s)' if replans else ''),
        )

    @staticmethod
    def _stop_message(code: ErrorCode, step: PlanStep, hooks: TaskHooks) -> str:
        if code == ErrorCode.ESTOPPED:
            return f'e-stop engaged during {step.text}; the robot holds its position'
        if code == ErrorCode.CANCELED:
            return f'canceled during {step.text}'
        return f'stopped during {step.text}: {hooks.fault()}; the robot holds its position'

    def _run_step(
        self, step: PlanStep, world: WorldSnapshot, hooks: TaskHooks, plan: Plan, index: int
    ) -> str | None:
        try:
            calls = list(self.expand(step, world))
        except Exception as exc:
            return f'cannot expand the step into motions: {exc}'
        for k, call in enumerate(calls):
            if self._stop_code(hooks) is not None:
                return 'stopped'
            hooks.feedback(
                TaskState.EXECUTING,
                plan,
                index,
                (index + (k + 0.5) / max(1, len(calls))) / len(plan.steps),
                f'{step.text}: {call.action}',
            )
            result = self.motion.execute(call, lambda: self._stop_code(hooks) is not None)
            # an optional motion may miss (the step's effect check judges the outcome), but a
            # fall always ends the step
            skip = call.optional and result.code != 'FELL'
            if not result.ok and skip and self._stop_code(hooks) is None:
                hooks.feedback(
                    TaskState.EXECUTING,
                    plan,
                    index,
                    (index + (k + 1.0) / max(1, len(calls))) / len(plan.steps),
                    f'{step.text}: {call.action} skipped ({result.code}: {result.message})',
                )
                continue
            if not result.ok:
                return f'{call.action} returned {result.code}: {result.message}'
        return None

    def _await_effects(self, step: PlanStep, before: WorldSnapshot) -> str | None:
        assert self.check_effects is not None
        deadline = self.clock() + self.config.effect_settle_s
        problem: str | None = 'no world state'
        while True:
            after = self.world()
            if after is not None:
                problem = self.check_effects(step, before, after)
                if problem is None:
                    return None
            if self.clock() >= deadline:
                return f'effects not observed: {problem}'
            self.sleep(self.config.poll_s)

    def _await_promises(
        self, promised: Mapping[str, frozenset[Relation]]
    ) -> tuple[list[Relation], WorldSnapshot | None]:
        """The relations in `promised` that do not hold in the world state (waiting up to
        `effect_settle_s` for it to show them all), with the last world state read."""
        wanted = [r for rels in promised.values() for r in sorted(rels, key=str)]
        world = self.world()
        if not wanted:
            return [], world
        deadline = self.clock() + self.config.effect_settle_s
        while True:
            if world is not None:
                missing = [r for r in wanted if r not in world.relations]
                if not missing:
                    return [], world
            if self.clock() >= deadline:
                return (missing if world is not None else wanted), world
            self.sleep(self.config.poll_s)
            world = self.world()


def describe_missing(missing: Sequence[Relation], world: WorldSnapshot | None) -> str:
    """'in(blue_cube, bin) no longer holds (the world state has on(blue_cube, station))'."""
    if world is None:
        return 'no world state to check what the steps left'
    parts = []
    for r in missing:
        instead = sorted(
            str(x) for x in world.relations if x.subject == r.subject and x.predicate in KEPT
        )
        where = ', '.join(instead) or 'no in/on relation'
        parts.append(f'{r} no longer holds (the world state has {where})')
    return '; '.join(parts)


def restore_instruction(missing: Sequence[Relation], world: WorldSnapshot | None) -> str:
    """An instruction in words that asks for `missing` again ('put the blue cube in the
    bin'), from the objects' labels in `world`; '' when one cannot be named there. The
    operator's instruction may no longer say it: "everything from the bench" leaves out a
    cube that fell beside the bin on the station."""
    if world is None:
        return ''
    parts = []
    for r in missing:
        thing = world.objects.get(r.subject)
        if thing is None:
            return ''
        if r.predicate == 'held_by':
            parts.append(f'pick up the {thing.label}')
            continue
        target = world.objects.get(r.object)
        if target is not None:
            where = target.label
        elif r.object in world.places:
            where = r.object
        else:
            return ''
        parts.append(f'put the {thing.label} {r.predicate} the {where}')
    return ', then '.join(parts)
