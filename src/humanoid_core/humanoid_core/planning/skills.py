"""Skill registry loaded from configuration (config/skills.yaml).

A skill has typed arguments, preconditions and effects over the world state (named primitives
implemented in :mod:`humanoid_core.planning.validator`), and a motion mapping: the list of
motion actions (with goal fields as plain data) the executor calls for one step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from pathlib import Path
import re
from typing import Any

import yaml

from humanoid_core.planning.errors import ConfigError
from humanoid_core.planning.types import ArgValue, MotionCall, PlanStep
from humanoid_core.world.types import WorldSnapshot

ARG_TYPES = (
    'object',
    'graspable',
    'container',
    'place',
    'surface',
    'target',
    'hand',
    'number',
    'text',
)
PRECONDITIONS = {
    'free_hand': 1,
    'holding': 1,
    'not_held': 1,
    'graspable': 1,
    'reachable': 1,
    'has_room': 2,
    'distinct': 2,
    'at_place_kind': 1,
}
EFFECTS = {
    'grasp': 2,
    'put_in': 2,
    'put_on': 2,
    'move_robot': 1,
    'give': 1,
    'open_hand': 1,
    'none': 0,
}
ACTIONS = ('walk_to', 'look_at', 'move_hand', 'grasp', 'release', 'go_to_posture')
LOCAL_ACTIONS = ('wait', 'report')
AUTO_HAND = 'auto'

_CALL = re.compile(r'^\s*([a-z_][a-z0-9_]*)\s*(?:\(([^()]*)\))?\s*$')


@dataclass(frozen=True)
class Condition:
    """A precondition or effect primitive applied to argument names (or literals)."""

    name: str
    args: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f'{self.name}({", ".join(self.args)})'


@dataclass(frozen=True)
class ArgSpec:
    name: str
    type: str
    optional: bool = False
    min: float | None = None
    max: float | None = None
    max_len: int = 200


@dataclass(frozen=True)
class MotionTemplate:
    action: str
    goal: dict[str, Any]
    local: bool = False
    optional: bool = False


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    args: tuple[ArgSpec, ...]
    preconditions: tuple[Condition, ...] = ()
    effects: tuple[Condition, ...] = ()
    motion: tuple[MotionTemplate, ...] = ()
    returns: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> ArgSpec:
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(name)

    def signature(self) -> str:
        parts = [f'{a.name}: {a.type}{"?" if a.optional else ""}' for a in self.args]
        return f'{self.name}({", ".join(parts)})'


@dataclass(frozen=True)
class Limits:
    max_plan_steps: int = 40
    max_planning_time_s: float = 10.0
    max_repair_attempts: int = 3
    max_grasp_width: float = 0.09
    max_instruction_chars: int = 500


def _parse_condition(
    text: Any, table: dict[str, int], where: str, arg_names: set[str]
) -> Condition:
    m = _CALL.match(str(text))
    if not m:
        raise ConfigError(f'{where}: cannot parse {text!r}; expected name(arg, ...)')
    name = m.group(1)
    if name not in table:
        raise ConfigError(f'{where}: unknown primitive {name!r}; valid: {", ".join(table)}')
    args = tuple(a.strip() for a in (m.group(2) or '').split(',') if a.strip())
    if len(args) != table[name]:
        raise ConfigError(f'{where}: {name} takes {table[name]} argument(s), got {len(args)}')
    if name != 'at_place_kind':
        for a in args:
            if a not in arg_names:
                raise ConfigError(
                    f'{where}: {name}({", ".join(args)}) names {a!r}, which is not an '
                    f'argument of the skill ({", ".join(sorted(arg_names))})'
                )
    return Condition(name, args)


class SkillRegistry:
    """Typed skills + planner limits + the grounding vocabulary, from a YAML document."""

    def __init__(
        self,
        skills: dict[str, Skill],
        limits: Limits | None = None,
        vocabulary: dict[str, Any] | None = None,
    ) -> None:
        self.skills = dict(skills)
        self.limits = limits or Limits()
        self.vocabulary = vocabulary or {}

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path | None = None) -> SkillRegistry:
        """Load config/skills.yaml (default) or the given file."""
        if path is None:
            from humanoid_core.world.scene import find_config

            path = find_config('skills.yaml')
        with open(path, encoding='utf-8') as f:
            data = yaml.safe_load(f)
        try:
            return cls.from_dict(data)
        except ConfigError as exc:
            raise ConfigError(f'{path}: {exc}') from None

    @classmethod
    def from_dict(cls, data: Any) -> SkillRegistry:
        if not isinstance(data, dict) or not isinstance(data.get('skills'), dict):
            raise ConfigError("expected a mapping with a 'skills' mapping")
        limits_data = data.get('limits') or {}
        valid_limits = set(Limits.__dataclass_fields__)
        unknown = set(limits_data) - valid_limits
        if unknown:
            raise ConfigError(
                f'limits: unknown key(s) {", ".join(sorted(unknown))}; '
                f'valid: {", ".join(sorted(valid_limits))}'
            )
        limits = Limits(**limits_data)
        if limits.max_plan_steps < 1 or limits.max_planning_time_s <= 0:
            raise ConfigError('limits: max_plan_steps and max_planning_time_s must be positive')
        skills = {name: cls._parse_skill(name, spec) for name, spec in data['skills'].items()}
        return cls(skills, limits, data.get('vocabulary') or {})

    @staticmethod
    def _parse_skill(name: str, spec: Any) -> Skill:
        where = f'skills.{name}'
        if not isinstance(spec, dict):
            raise ConfigError(f'{where}: expected a mapping')
        args = []
        for i, a in enumerate(spec.get('args') or []):
            if not isinstance(a, dict) or 'name' not in a or 'type' not in a:
                raise ConfigError(f'{where}.args[{i}]: expected {{name: ..., type: ...}}')
            if a['type'] not in ARG_TYPES:
                raise ConfigError(
                    f'{where}.args[{i}]: unknown type {a["type"]!r}; valid: {", ".join(ARG_TYPES)}'
                )
            args.append(
                ArgSpec(
                    name=str(a['name']),
                    type=str(a['type']),
                    optional=bool(a.get('optional', False)),
                    min=None if a.get('min') is None else float(a['min']),
                    max=None if a.get('max') is None else float(a['max']),
                    max_len=int(a.get('max_len', 200)),
                )
            )
        # `hand` always names the hand the step uses (its hand argument, else the hand holding
        # its object, else the first free hand).
        names_with_hand = {a.name for a in args} | {'hand'}
        pre = tuple(
            _parse_condition(c, PRECONDITIONS, f'{where}.preconditions', names_with_hand)
            for c in spec.get('preconditions') or []
        )
        eff = tuple(
            _parse_condition(c, EFFECTS, f'{where}.effects', names_with_hand)
            for c in spec.get('effects') or []
        )
        motion = []
        for i, m in enumerate(spec.get('motion') or []):
            if not isinstance(m, dict) or 'action' not in m:
                raise ConfigError(f'{where}.motion[{i}]: expected {{action: ..., goal: ...}}')
            local = bool(m.get('local', False))
            valid = LOCAL_ACTIONS if local else ACTIONS
            if m['action'] not in valid:
                raise ConfigError(
                    f'{where}.motion[{i}]: unknown {"local " if local else ""}action '
                    f'{m["action"]!r}; valid: {", ".join(valid)}'
                )
            motion.append(
                MotionTemplate(
                    str(m['action']),
                    dict(m.get('goal') or {}),
                    local,
                    bool(m.get('optional', False)),
                )
            )
        return Skill(
            name=name,
            description=str(spec.get('description', '')),
            args=tuple(args),
            preconditions=pre,
            effects=eff,
            motion=tuple(motion),
            returns={str(k): str(v) for k, v in (spec.get('returns') or {}).items()},
        )

    # -- queries ---------------------------------------------------------------------------
    def __contains__(self, name: object) -> bool:
        return name in self.skills

    def get(self, name: str) -> Skill:
        try:
            return self.skills[name]
        except KeyError:
            raise KeyError(
                f'unknown skill {name!r}; valid skills: {", ".join(self.skills)}'
            ) from None

    def step(self, skill: str, *args: ArgValue, **kwargs: ArgValue) -> PlanStep:
        """Build a PlanStep with arguments in declaration order (positional or by name).

        Checks names and arity only; values are checked against the world by the validator.
        """
        spec = self.get(skill)
        if len(args) > len(spec.args):
            raise ValueError(f'{spec.signature()} takes {len(spec.args)} argument(s)')
        values: dict[str, ArgValue] = {}
        for a, v in zip(spec.args, args, strict=False):
            values[a.name] = v
        for k, v in kwargs.items():
            if not any(a.name == k for a in spec.args):
                raise ValueError(f'{spec.signature()} has no argument {k!r}')
            values[k] = v
        ordered: dict[str, ArgValue] = {}
        for a in spec.args:
            if a.name in values:
                v = values[a.name]
                ordered[a.name] = float(v) if a.type == 'number' else str(v)
            elif not a.optional:
                raise ValueError(f'{spec.signature()}: missing argument {a.name!r}')
        return PlanStep(skill, ordered)

    def expand(self, step: PlanStep, world: WorldSnapshot) -> list[MotionCall]:
        """The motion calls for ``step`` in ``world`` (see humanoid_core.planning.motion)."""
        from humanoid_core.planning.motion import expand

        return expand(step, world, self)

    def describe(self) -> str:
        """Skill signatures and descriptions (for model prompts)."""
        return '\n'.join(f'{s.signature()}: {s.description}' for s in self.skills.values())


def number_ok(value: ArgValue, spec: ArgSpec) -> str | None:
    """Error text for a bad number argument, or None."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return f'{spec.name} must be a number, got {value!r}'
    if not math.isfinite(v):
        return f'{spec.name} must be finite, got {value!r}'
    if spec.min is not None and v < spec.min:
        return f'{spec.name} must be >= {spec.min:g}, got {v:g}'
    if spec.max is not None and v > spec.max:
        return f'{spec.name} must be <= {spec.max:g}, got {v:g}'
    return None
