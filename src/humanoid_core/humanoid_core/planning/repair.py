"""Validate-and-repair: the loop every planner backend runs through.

Each proposal is validated symbolically against the world model; an invalid plan is sent back
to the backend with the validator's per-step explanation, for a bounded number of attempts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
import time

from humanoid_core.planning.backends import REFUSAL_CODES, PlannerBackend
from humanoid_core.planning.errors import ErrorCode
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import Plan, PlanProposal
from humanoid_core.planning.validator import ValidationResult, validate
from humanoid_core.world.types import WorldSnapshot


@dataclass
class PlanOutcome:
    """Result of planning one instruction: code, validated plan (None unless SUCCESS), the
    message for the operator, attempts used, the last validation and the time spent."""

    code: ErrorCode
    plan: Plan | None
    message: str
    attempts: int
    validation: ValidationResult | None
    planning_time: float
    last_plan: Plan | None = None
    """The last proposed plan, valid or not (for metrics and diagnostics)."""


def repair_loop(
    backend: PlannerBackend,
    instruction: str,
    world: WorldSnapshot,
    registry: SkillRegistry,
    max_attempts: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    feedback: str | None = None,
) -> PlanOutcome:
    """Propose, validate, and on an invalid plan re-propose with the validator's explanation as
    feedback, at most ``max_attempts`` times (default: the registry's limit; deterministic
    backends get one). Refusals (unknown object, ambiguous, rejected, invalid instruction)
    end the loop at once. Exceeding the planning time limit gives TIMEOUT. ``feedback`` goes
    with the first proposal (e.g. why the previous plan failed during execution)."""
    if max_attempts is None:
        max_attempts = registry.limits.max_repair_attempts
    if getattr(backend, 'deterministic', False):
        max_attempts = 1
    max_attempts = max(1, max_attempts)
    t0 = clock()
    result: ValidationResult | None = None
    last: Plan | None = None
    last_message = ''
    for attempt in range(1, max_attempts + 1):
        proposal = backend.propose(instruction, world, registry, feedback)
        elapsed = clock() - t0
        if elapsed > registry.limits.max_planning_time_s:
            return PlanOutcome(
                ErrorCode.TIMEOUT,
                None,
                f'planning took {elapsed:.1f} s (limit {registry.limits.max_planning_time_s:g} s)',
                attempt,
                result,
                elapsed,
                last,
            )
        if proposal.code != ErrorCode.SUCCESS or proposal.plan is None:
            code = (
                proposal.code if proposal.code != ErrorCode.SUCCESS else ErrorCode.PLANNING_FAILED
            )
            if code in REFUSAL_CODES or code == ErrorCode.TIMEOUT:
                return PlanOutcome(code, None, proposal.message, attempt, None, elapsed, last)
            feedback = f'The previous answer was unusable: {proposal.message}'
            last_message = proposal.message
            continue
        last = proposal.plan
        last_message = ''
        result = validate(proposal.plan, world, registry)
        if result.ok:
            msg = proposal.message or f'plan with {len(proposal.plan)} steps'
            return PlanOutcome(
                ErrorCode.SUCCESS, proposal.plan, msg, attempt, result, elapsed, last
            )
        feedback = result.feedback()
    elapsed = clock() - t0
    why = result.explanation() if result is not None else (last_message or 'no usable plan')
    return PlanOutcome(
        ErrorCode.PLANNING_FAILED,
        None,
        f'no valid plan after {max_attempts} attempt(s): {why}',
        max_attempts,
        result,
        elapsed,
        last,
    )


def plan_with_repair(
    backend: PlannerBackend,
    instruction: str,
    world: WorldSnapshot,
    registry: SkillRegistry,
    feedback: str | None = None,
    max_attempts: int | None = None,
) -> PlanProposal:
    """:func:`repair_loop` as a PlanProposal (plan set only when valid); ``feedback`` is the
    reason for re-planning (e.g. an execution failure) given to the first proposal."""
    out = repair_loop(backend, instruction, world, registry, max_attempts, feedback=feedback)
    return PlanProposal(out.code, out.plan, out.message)


__all__ = ['PlanOutcome', 'plan_with_repair', 'repair_loop']
