"""Planner backend selection for the task_planner node (parameters -> core objects)."""

from __future__ import annotations

from dataclasses import dataclass
import os
from typing import Any

from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.types import MotionCall, PlanProposal, PlanStep
from humanoid_core.planning.validator import apply_step
from humanoid_core.tasks.runner import relations_left
from humanoid_core.world.types import Relation, WorldSnapshot
from humanoid_ros.params import ParameterError

BACKENDS = ('embedded', 'transformers', 'openai')


@dataclass
class PlannerSetup:
    registry: SkillRegistry
    backend: Any

    def propose(
        self, instruction: str, world: WorldSnapshot, feedback: str | None
    ) -> PlanProposal:
        from humanoid_core.planning.repair import plan_with_repair

        return plan_with_repair(self.backend, instruction, world, self.registry, feedback)

    def expand(self, step: PlanStep, world: WorldSnapshot) -> list[MotionCall]:
        return list(self.registry.expand(step, world))

    def check_effects(
        self, step: PlanStep, before: WorldSnapshot, after: WorldSnapshot
    ) -> str | None:
        """None when the relations the step should create (in/on/held_by of its objects)
        hold in the observed world, else a description of what is missing."""
        expected = apply_step(step, before, self.registry)
        missing = []
        for hand, obj in expected.held.items():
            if obj != before.held.get(hand) and after.held.get(hand) != obj:
                missing.append(
                    f'{hand} hand should hold {obj or "nothing"}, '
                    f'holds {after.held.get(hand) or "nothing"}'
                )
        new = set(expected.relations) - set(before.relations)
        for rel in sorted(new, key=str):
            if rel.predicate in ('in', 'on') and rel not in after.relations:
                missing.append(f'expected {rel}')
        return '; '.join(missing) or None

    def promises(self, step: PlanStep, before: WorldSnapshot) -> dict[str, frozenset[Relation]]:
        """The task runner's `Promises`: object id -> the `in` / `on` / `held_by` relations
        the step creates for it (as the validator applies it), for each object whose such
        relations it changes; checked again once the whole plan has run."""
        return relations_left(apply_step(step, before, self.registry), before)


def build_planner(params: dict[str, Any], logger: Any) -> PlannerSetup:
    name = params['backend']
    if name not in BACKENDS:
        raise ParameterError(
            f"parameter 'backend' = {name!r} is not one of: {', '.join(BACKENDS)}"
        )
    try:
        registry = SkillRegistry.from_yaml(params['skills_file'] or None)
    except (OSError, ValueError) as exc:
        raise ParameterError(f"parameter 'skills_file': {exc}") from None
    from humanoid_core.planning import backends

    if name == 'embedded':
        backend = backends.make_backend('embedded')
    elif name == 'transformers':
        if not params['model_path']:
            raise ParameterError(
                "parameter 'model_path' must name a local model folder for backend 'transformers'"
            )
        backend = backends.make_backend('transformers', model_path=params['model_path'])
    else:
        base_url = params['base_url'] or os.environ.get('OPENAI_BASE_URL', '')
        if not base_url:
            raise ParameterError(
                "parameter 'base_url' (or env OPENAI_BASE_URL) must be set for backend 'openai'"
            )
        backend = backends.make_backend(
            'openai',
            base_url=base_url,
            model=params['model'],
            api_key=os.environ.get(params['api_key_env'], '') or 'none',
            timeout=params['request_timeout'],
        )
    logger.info(f'planner backend {name} with {len(registry.skills)} skills')
    return PlannerSetup(registry, backend)
