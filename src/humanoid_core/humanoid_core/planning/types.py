"""Plan types shared by every planner backend, the validator and the executor (no ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from humanoid_core.planning.errors import ErrorCode

ArgValue = str | float


@dataclass(frozen=True)
class PlanStep:
    """One typed skill call, e.g. PlanStep('place_in', {'object': 'red_cube', 'container':
    'tray'}). Argument order follows the skill's declaration in the registry."""

    skill: str
    args: dict[str, ArgValue] = field(default_factory=dict)

    @property
    def text(self) -> str:
        def fmt(v: ArgValue) -> str:
            if isinstance(v, float):
                return f'{v:g}'
            return repr(v) if (' ' in v or not v) else v

        return f'{self.skill}({", ".join(fmt(v) for v in self.args.values())})'

    def to_dict(self) -> dict[str, Any]:
        return {'skill': self.skill, 'args': dict(self.args)}

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...] = ()
    planner: str = ''
    rationale: str = ''

    def __len__(self) -> int:
        return len(self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            'planner': self.planner,
            'rationale': self.rationale,
            'steps': [s.to_dict() for s in self.steps],
        }

    def text(self) -> str:
        return '; '.join(s.text for s in self.steps)


@dataclass(frozen=True)
class PlanProposal:
    """What a backend returns: a plan (code SUCCESS) or a refusal/failure code + message."""

    code: ErrorCode
    plan: Plan | None = None
    message: str = ''

    @property
    def ok(self) -> bool:
        return self.code == ErrorCode.SUCCESS and self.plan is not None


@dataclass(frozen=True)
class MotionCall:
    """One call the executor makes for a skill step: an action on the motion controller
    (``action`` = its ROS name, e.g. 'move_hand', goal = the action's goal fields as plain
    data) or, with ``local=True``, an executor-side operation ('wait', 'report')."""

    action: str
    goal: dict[str, Any]
    local: bool = False
    optional: bool = False
    """A failure of this call is reported but does not fail the step (e.g. looking at the
    target before a grasp: perception already has it)."""
