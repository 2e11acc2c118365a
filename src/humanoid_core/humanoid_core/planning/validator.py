"""Symbolic plan validation: simulate a plan step by step against the world state.

Each step's arguments are type-checked against the world (objects, containers, places), its
preconditions are checked in the world as left by the previous steps, and its effects are
applied (geometrically: objects get real positions, relations are re-inferred). Every problem is
reported per step with an explanation that names what to do about it; the text of
:meth:`ValidationResult.feedback` is what model backends get back for repair.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

from humanoid_core.planning.skills import (
    AUTO_HAND,
    ArgSpec,
    Condition,
    Skill,
    SkillRegistry,
    number_ok,
)
from humanoid_core.planning.types import ArgValue, Plan, PlanStep
from humanoid_core.world.geometry import in_the_way, refresh, spot_in_container, spot_on_place
from humanoid_core.world.types import HANDS, ObjectInfo, WorldSnapshot


@dataclass(frozen=True)
class StepIssue:
    """Why step ``index`` (0-based; -1 = the plan as a whole) cannot run."""

    index: int
    step: str
    message: str

    def __str__(self) -> str:
        if self.index < 0:
            return f'plan: {self.message}'
        return f'step {self.index + 1} {self.step}: {self.message}'


@dataclass
class ValidationResult:
    ok: bool
    issues: list[StepIssue] = field(default_factory=list)
    executable: list[bool] = field(default_factory=list)
    """Per step: preconditions held when it was reached (failed steps are skipped)."""
    final_world: WorldSnapshot | None = None

    @property
    def exec_fraction(self) -> float:
        return sum(self.executable) / len(self.executable) if self.executable else 0.0

    def explanation(self) -> str:
        return '\n'.join(str(i) for i in self.issues) if self.issues else 'plan is valid'

    def feedback(self) -> str:
        """Text for a model backend's repair attempt."""
        if self.ok:
            return 'The plan is valid.'
        return (
            'The previous plan is invalid:\n'
            + self.explanation()
            + '\nReturn a corrected complete plan using only the listed skills and ids.'
        )


class StepError(Exception):
    pass


def resolve_hand(step: PlanStep, world: WorldSnapshot) -> str | None:
    """The hand a step uses: its explicit `hand` argument, else the hand holding its object,
    else the first free hand (None when no hand applies)."""
    hand = step.args.get('hand')
    if isinstance(hand, str) and hand and hand != AUTO_HAND:
        return hand
    obj = step.args.get('object')
    if isinstance(obj, str):
        holding = world.hand_holding(obj)
        if holding is not None:
            return holding
    free = world.free_hands()
    return free[0] if free else None


def _check_arg(spec: ArgSpec, value: ArgValue, world: WorldSnapshot) -> None:
    t = spec.type
    if t == 'number':
        err = number_ok(value, spec)
        if err:
            raise StepError(err)
        return
    if not isinstance(value, str):
        raise StepError(f'{spec.name} must be text, got {value!r}')
    if t == 'text':
        if len(value) > spec.max_len:
            raise StepError(f'{spec.name} is longer than {spec.max_len} characters')
        return
    if t == 'hand':
        valid = (*HANDS, AUTO_HAND) if spec.optional else HANDS
        if value not in valid:
            raise StepError(f'{spec.name} must be one of {", ".join(valid)}, got {value!r}')
        return
    objects = ', '.join(o for o in world.objects if o not in world.handed_over)
    places = ', '.join(world.places)
    if t in ('object', 'graspable', 'container'):
        if value in world.handed_over:
            raise StepError(f'{value} was handed over to the operator and is gone')
        if value not in world.objects:
            hint = ' (that is a place)' if value in world.places else ''
            raise StepError(f'unknown object {value!r}{hint}; objects: {objects}')
        if t == 'container' and not world.objects[value].is_container:
            containers = ', '.join(o.id for o in world.objects.values() if o.is_container)
            raise StepError(f'{value} is not a container; containers: {containers}')
    elif t in ('place', 'surface') and value not in world.places:
        hint = ''
        if value in world.objects and world.objects[value].is_container:
            hint = f' ({value} is a container: use place_in)'
        raise StepError(f'unknown place {value!r}{hint}; places: {places}')
    elif t == 'target' and value not in world.objects and value not in world.places:
        raise StepError(f'unknown target {value!r}; objects: {objects}; places: {places}')


def _check_condition(
    cond: Condition,
    step: PlanStep,
    world: WorldSnapshot,
    registry: SkillRegistry,
    hand: str | None,
) -> None:
    def arg(i: int) -> str:
        name = cond.args[i]
        if name == 'hand':
            return hand or ''
        return str(step.args.get(name, ''))

    n = cond.name
    if n == 'free_hand':
        if hand is None:
            held = ', '.join(f'{h}: {world.held.get(h)}' for h in HANDS)
            raise StepError(f'both hands are full ({held}); put something down first')
        if world.held.get(hand):
            raise StepError(
                f'the {hand} hand already holds {world.held[hand]}; use the other hand or '
                'put it down first'
            )
    elif n == 'holding':
        obj = arg(0)
        if world.hand_holding(obj) is None:
            raise StepError(f'the robot is not holding {obj}; pick({obj}) first')
    elif n == 'not_held':
        obj = arg(0)
        h = world.hand_holding(obj)
        if h is not None:
            raise StepError(f'{obj} is already held in the {h} hand')
    elif n == 'graspable':
        o = world.obj(arg(0))
        width = min(o.size[0], o.size[1])
        if o.is_container or width > registry.limits.max_grasp_width:
            raise StepError(
                f'{o.id} cannot be grasped ({width * 100:.0f} cm wide; the gripper opens '
                f'{registry.limits.max_grasp_width * 100:.0f} cm)'
            )
    elif n == 'reachable':
        x = arg(0)
        where = x if x in world.places else world.object_place(x)
        if where is None:
            raise StepError(f'{x} is not on any table the robot can walk to')
        if where != world.robot_place:
            here = world.robot_place or 'between places'
            raise StepError(
                f'{x} is at {where} but the robot is at {here}; add walk_to({where}) first'
            )
    elif n == 'has_room':
        item, dest = world.obj(arg(0)), arg(1)
        if dest in world.places:
            if spot_on_place(world, item, world.places[dest]) is None:
                raise StepError(f'there is no free spot for {item.id} on {dest}')
        elif spot_in_container(world, item, world.obj(dest)) is None:
            taken = in_the_way(world, item, world.obj(dest))
            seen = f' (in it: {", ".join(taken)})' if taken else ' (nothing seen in it)'
            raise StepError(f'{dest} is full: no room for {item.id}{seen}')
    elif n == 'distinct':
        if arg(0) == arg(1):
            raise StepError(f'{cond.args[0]} and {cond.args[1]} must differ')
    elif n == 'at_place_kind':
        kind = cond.args[0]
        place = world.places.get(world.robot_place)
        if place is None or place.kind != kind:
            raise StepError(f'the robot must stand at a {kind} place; walk to one first')


def _set_down(world: WorldSnapshot, obj: ObjectInfo) -> ObjectInfo:
    place = world.places.get(world.robot_place)
    spot = spot_on_place(world, obj, place) if place else None
    if spot is None:  # on the floor in front of the robot
        x, y, yaw = world.robot_pose
        spot = (x + 0.3 * math.cos(yaw), y + 0.3 * math.sin(yaw), obj.size[2] / 2.0)
    return ObjectInfo(**{**obj.__dict__, 'position': spot})


def _apply_effect(
    cond: Condition, step: PlanStep, world: WorldSnapshot, hand: str | None
) -> WorldSnapshot:
    def arg(i: int) -> str:
        name = cond.args[i]
        return (hand or '') if name == 'hand' else str(step.args.get(name, ''))

    n = cond.name
    objects = dict(world.objects)
    held = dict(world.held)
    if n == 'grasp':
        held[arg(1)] = arg(0)
    elif n in ('put_in', 'put_on'):
        obj = world.obj(arg(0))
        holder = world.hand_holding(obj.id)
        if holder is not None:
            held[holder] = None
        without = world.replace(held=held)
        if n == 'put_in':
            container = world.obj(arg(1))
            spot = spot_in_container(without, obj, container)
            yaw = container.yaw
        else:
            place = world.places[arg(1)]
            spot = spot_on_place(without, obj, place, holder)
            yaw = place.yaw
        if spot is None:
            raise StepError(f'no room for {obj.id}')
        objects[obj.id] = ObjectInfo(**{**obj.__dict__, 'position': spot, 'yaw': yaw})
    elif n == 'move_robot':
        place = world.places[arg(0)]
        return refresh(world.replace(robot_pose=place.approach))
    elif n == 'give':
        obj_id = arg(0)
        holder = world.hand_holding(obj_id)
        if holder is not None:
            held[holder] = None
        return refresh(world.replace(held=held, handed_over=(*world.handed_over, obj_id)))
    elif n == 'open_hand':
        h = arg(0)
        dropped = held.get(h)
        if dropped:
            held[h] = None
            without = world.replace(held=held)
            objects[dropped] = _set_down(without, world.obj(dropped))
    return refresh(world.replace(objects=objects, held=held))


def check_step(
    step: PlanStep, world: WorldSnapshot, registry: SkillRegistry
) -> tuple[Skill, str | None]:
    """Raise StepError when the step cannot run in ``world``; return its skill and hand."""
    if step.skill not in registry:
        raise StepError(
            f'unknown skill {step.skill!r}; valid skills: {", ".join(registry.skills)}'
        )
    skill = registry.get(step.skill)
    names = {a.name for a in skill.args}
    extra = [k for k in step.args if k not in names]
    if extra:
        raise StepError(f'unknown argument(s) {", ".join(extra)}; signature: {skill.signature()}')
    for spec in skill.args:
        if spec.name not in step.args:
            if spec.optional:
                continue
            raise StepError(f'missing argument {spec.name!r}; signature: {skill.signature()}')
        _check_arg(spec, step.args[spec.name], world)
    hand = resolve_hand(step, world)
    for cond in skill.preconditions:
        _check_condition(cond, step, world, registry, hand)
    return skill, hand


def apply_step(step: PlanStep, world: WorldSnapshot, registry: SkillRegistry) -> WorldSnapshot:
    """The world after ``step`` (raises StepError when it cannot run)."""
    skill, hand = check_step(step, world, registry)
    for cond in skill.effects:
        world = _apply_effect(cond, step, world, hand)
    return world


def validate(plan: Plan, world: WorldSnapshot, registry: SkillRegistry) -> ValidationResult:
    """Simulate ``plan`` from ``world``. A failing step is reported and skipped (the world is
    left unchanged by it) so every independent problem is found in one pass; the plan is valid
    only when every step ran. ``executable`` records, per step, whether it could run."""
    issues: list[StepIssue] = []
    executable: list[bool] = []
    if not plan.steps:
        issues.append(StepIssue(-1, '', 'the plan has no steps'))
    if len(plan.steps) > registry.limits.max_plan_steps:
        issues.append(
            StepIssue(
                -1,
                '',
                f'the plan has {len(plan.steps)} steps; at most '
                f'{registry.limits.max_plan_steps} are allowed',
            )
        )
    for i, step in enumerate(plan.steps):
        try:
            world = apply_step(step, world, registry)
            executable.append(True)
        except (StepError, KeyError) as exc:
            msg = exc.args[0] if exc.args else str(exc)
            issues.append(StepIssue(i, step.text, str(msg)))
            executable.append(False)
    return ValidationResult(not issues, issues, executable, world)
