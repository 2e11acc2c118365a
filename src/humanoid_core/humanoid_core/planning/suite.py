"""Task suites (contract format, see ARCHITECTURE.md "Scenes and task suites"), goal
predicates, the symbolic executor and the ProgPrompt metrics.

Metric definitions (per task, then averaged over tasks):

* **SR** (success): a task expecting success succeeds when the planner returns SUCCESS, the
  plan passes the validator, and every goal predicate holds in the world after executing the
  plan symbolically. A task with ``expect: <code>`` succeeds when exactly that code is returned
  and nothing moved (no plan was executed).
* **Exec** (executability, ProgPrompt): the fraction of a proposed plan's steps whose
  preconditions hold when reached, executing the plan symbolically from the initial world and
  skipping non-executable steps (the world is left unchanged by them). Averaged over the tasks
  for which the planner proposed a plan; tasks that end in a refusal have no plan and do not
  count (reported as null per task). If no task produced a plan, Exec is 0.
* **GCR** (goal-condition recall): for tasks expecting success, the fraction of goal predicates
  satisfied in the final world (an invalid plan is not executed, so only predicates already
  true initially count); for ``expect`` tasks, 1 when the task succeeded else 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
import statistics
import time
from typing import Any

import yaml

from humanoid_core.planning.backends import PlannerBackend
from humanoid_core.planning.errors import ConfigError, ErrorCode
from humanoid_core.planning.repair import repair_loop
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import Plan
from humanoid_core.planning.validator import validate
from humanoid_core.world.scene import SceneError, initial_world, resolve_scene_path
from humanoid_core.world.types import WorldSnapshot

PREDICATE_ARITY = {'in': 2, 'on': 2, 'holding': 1, 'near': 2}


@dataclass(frozen=True)
class Predicate:
    """A goal condition: name in (in, on, holding, near) with its arguments, or a negation."""

    name: str
    args: tuple[str, ...] = ()
    negated: Predicate | None = None

    def holds(self, world: WorldSnapshot) -> bool:
        if self.name == 'not':
            assert self.negated is not None
            return not self.negated.holds(world)
        if self.name == 'holding':
            return world.hand_holding(self.args[0]) is not None
        if self.name == 'near':
            return world.robot_place == self.args[1]
        return world.has(self.args[0], self.name, self.args[1])

    def __str__(self) -> str:
        if self.name == 'not':
            return f'not {self.negated}'
        return f'{self.name}({", ".join(self.args)})'


@dataclass(frozen=True)
class Task:
    id: str
    instruction: str
    goal: tuple[Predicate, ...] = ()
    expect: ErrorCode = ErrorCode.SUCCESS


@dataclass(frozen=True)
class Suite:
    scene: str
    tasks: tuple[Task, ...]
    path: Path | None = None
    scene_path: Path | None = None

    def initial_world(self) -> WorldSnapshot:
        return initial_world(self.scene_path or self.scene)


def parse_predicate(data: Any, where: str, world: WorldSnapshot | None = None) -> Predicate:
    if not isinstance(data, dict) or len(data) != 1:
        raise ConfigError(
            f'{where}: a goal predicate is a one-key mapping such as {{in: [obj, container]}}, '
            f'got {data!r}'
        )
    ((name, args),) = data.items()
    if name is True:  # YAML 1.1 reads a bare `on` key as the boolean True
        name = 'on'
    if name == 'not':
        return Predicate('not', (), parse_predicate(args, f'{where}.not', world))
    if name not in PREDICATE_ARITY:
        raise ConfigError(
            f'{where}: unknown predicate {name!r}; valid: {", ".join([*PREDICATE_ARITY, "not"])}'
        )
    if isinstance(args, str):
        args = [args]
    if not isinstance(args, list) or len(args) != PREDICATE_ARITY[name]:
        raise ConfigError(f'{where}: {name} takes a list of {PREDICATE_ARITY[name]}, got {args!r}')
    args = [str(a) for a in args]
    if world is not None:
        objects, places = set(world.objects), set(world.places)
        containers = {o.id for o in world.objects.values() if o.is_container}
        checks = {
            'in': [(objects, 'object'), (containers, 'container')],
            'on': [(objects, 'object'), (places, 'place')],
            'holding': [(objects, 'object')],
            'near': [({'robot'}, "'robot'"), (places, 'place')],
        }[name]
        for value, (valid, what) in zip(args, checks, strict=True):
            if value not in valid:
                raise ConfigError(
                    f'{where}: {name}: {value!r} is not a known {what}; valid: '
                    f'{", ".join(sorted(valid))}'
                )
    return Predicate(name, tuple(args))


def load_suite(path: str | Path) -> Suite:
    """Load and check a suite YAML file; errors name the task and field."""
    path = Path(path)
    try:
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
    except FileNotFoundError:
        raise ConfigError(f'suite file not found: {path}') from None
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path}: invalid YAML: {exc}') from None
    try:
        return suite_from_dict(data, base_dir=path.parent, path=path)
    except ConfigError as exc:
        raise ConfigError(f'{path}: {exc}') from None


def suite_from_dict(data: Any, base_dir: Path | None = None, path: Path | None = None) -> Suite:
    if not isinstance(data, dict):
        raise ConfigError('expected a mapping with `scene` and `tasks`')
    unknown = set(data) - {'scene', 'tasks', 'description', 'name'}
    if unknown:
        raise ConfigError(f'unknown top-level key(s): {", ".join(sorted(unknown))}')
    scene = data.get('scene')
    if not isinstance(scene, str) or not scene:
        raise ConfigError('`scene` must name a scene, e.g. `scene: lab`')
    try:
        scene_path = resolve_scene_path(scene, base_dir)
        world = initial_world(scene_path)
    except SceneError as exc:
        raise ConfigError(f'scene: {exc}') from None
    raw_tasks = data.get('tasks')
    if not isinstance(raw_tasks, list) or not raw_tasks:
        raise ConfigError('`tasks` must be a non-empty list')
    tasks = []
    seen: set[str] = set()
    for i, t in enumerate(raw_tasks):
        where = f'tasks[{i}]'
        if not isinstance(t, dict):
            raise ConfigError(f'{where}: expected a mapping with id, instruction, goal/expect')
        tid = t.get('id')
        if not isinstance(tid, str) or not tid:
            raise ConfigError(f'{where}: missing `id`')
        where = f'task {tid!r}'
        if tid in seen:
            raise ConfigError(f'{where}: duplicate id')
        seen.add(tid)
        bad = set(t) - {'id', 'instruction', 'goal', 'expect', 'note'}
        if bad:
            raise ConfigError(f'{where}: unknown key(s) {", ".join(sorted(bad))}')
        instruction = t.get('instruction')
        if not isinstance(instruction, str):
            raise ConfigError(f'{where}: `instruction` must be a string')
        expect_raw = t.get('expect', 'success')
        try:
            expect = ErrorCode.parse(str(expect_raw))
        except ValueError as exc:
            raise ConfigError(f'{where}: expect: {exc}') from None
        goal_raw = t.get('goal') or []
        if not isinstance(goal_raw, list):
            raise ConfigError(f'{where}: `goal` must be a list of predicates')
        goal = tuple(
            parse_predicate(g, f'{where}: goal[{j}]', world) for j, g in enumerate(goal_raw)
        )
        if expect == ErrorCode.SUCCESS and not goal:
            raise ConfigError(f'{where}: a task expecting success needs a `goal`')
        tasks.append(Task(tid, instruction, goal, expect))
    return Suite(scene, tuple(tasks), path, scene_path)


@dataclass
class TaskResult:
    id: str
    instruction: str
    expect: ErrorCode
    code: ErrorCode
    message: str
    success: bool
    exec: float | None
    gcr: float
    goals_met: int
    goals_total: int
    plan: Plan | None
    latency_ms: float
    attempts: int
    failed_goals: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            'id': self.id,
            'instruction': self.instruction,
            'expect': self.expect.name.lower(),
            'code': self.code.name.lower(),
            'success': self.success,
            'exec': self.exec,
            'gcr': self.gcr,
            'goals_met': self.goals_met,
            'goals_total': self.goals_total,
            'failed_goals': self.failed_goals,
            'steps': [s.text for s in self.plan.steps] if self.plan else [],
            'latency_ms': round(self.latency_ms, 3),
            'attempts': self.attempts,
            'message': self.message,
        }


def evaluate_task(
    task: Task,
    world: WorldSnapshot,
    registry: SkillRegistry,
    code: ErrorCode,
    plan: Plan | None,
    message: str = '',
    latency_ms: float = 0.0,
    attempts: int = 1,
) -> TaskResult:
    """Score one task given the planner's final code and the last proposed plan."""
    exec_frac: float | None = None
    final = world
    if plan is not None and plan.steps:
        sim = validate(plan, world, registry)
        exec_frac = sim.exec_fraction
        if code == ErrorCode.SUCCESS and sim.ok and sim.final_world is not None:
            final = sim.final_world  # only a valid plan is executed
    met = [g for g in task.goal if g.holds(final)]
    failed = [str(g) for g in task.goal if not g.holds(final)]
    if task.expect == ErrorCode.SUCCESS:
        success = code == ErrorCode.SUCCESS and not failed
        gcr = len(met) / len(task.goal) if task.goal else float(success)
    else:
        success = code == task.expect and final is world and not failed
        gcr = float(success)
    return TaskResult(
        task.id,
        task.instruction,
        task.expect,
        code,
        message,
        success,
        exec_frac,
        gcr,
        len(met),
        len(task.goal),
        plan,
        latency_ms,
        attempts,
        failed,
    )


def run_task(
    task: Task,
    backend: PlannerBackend,
    world: WorldSnapshot,
    registry: SkillRegistry,
    max_attempts: int | None = None,
) -> TaskResult:
    """Plan (with validation and repair) and score one task symbolically."""
    t0 = time.perf_counter()
    outcome = repair_loop(backend, task.instruction, world, registry, max_attempts)
    latency_ms = (time.perf_counter() - t0) * 1000.0
    plan = outcome.plan if outcome.plan is not None else outcome.last_plan
    return evaluate_task(
        task, world, registry, outcome.code, plan, outcome.message, latency_ms, outcome.attempts
    )


def summarize(results: list[TaskResult]) -> dict[str, Any]:
    """Overall SR / Exec / GCR (see the module docstring) and latency figures."""
    n = len(results)
    execs = [r.exec for r in results if r.exec is not None]
    lat = [r.latency_ms for r in results]
    return {
        'SR': sum(r.success for r in results) / n if n else 0.0,
        'Exec': sum(execs) / len(execs) if execs else 0.0,
        'GCR': sum(r.gcr for r in results) / n if n else 0.0,
        'planner_latency_ms_median': statistics.median(lat) if lat else 0.0,
        'planner_latency_ms_p95': (sorted(lat)[min(n - 1, round(0.95 * (n - 1)))] if lat else 0.0),
        'planner_latency_ms_max': max(lat) if lat else 0.0,
        'tasks': n,
        'succeeded': sum(r.success for r in results),
        'tasks_with_plan': len(execs),
    }
