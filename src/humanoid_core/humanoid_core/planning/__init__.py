"""Task planning core (no ROS): skill registry, grounding, embedded planner, validator, task
suites and the planning benchmark."""

from humanoid_core.planning.backends import (
    BACKENDS,
    PlannerBackend,
    build_prompt,
    make_backend,
    parse_plan_json,
    plan_json_schema,
)
from humanoid_core.planning.embedded import EmbeddedPlanner
from humanoid_core.planning.errors import ConfigError, ErrorCode, PlanningError
from humanoid_core.planning.motion import expand
from humanoid_core.planning.repair import PlanOutcome, plan_with_repair, repair_loop
from humanoid_core.planning.skills import Limits, Skill, SkillRegistry
from humanoid_core.planning.suite import (
    Predicate,
    Suite,
    Task,
    TaskResult,
    load_suite,
    run_task,
    summarize,
)
from humanoid_core.planning.types import MotionCall, Plan, PlanProposal, PlanStep
from humanoid_core.planning.validator import ValidationResult, apply_step, validate

__all__ = [
    'BACKENDS',
    'ConfigError',
    'EmbeddedPlanner',
    'ErrorCode',
    'Limits',
    'MotionCall',
    'Plan',
    'PlanOutcome',
    'PlanProposal',
    'PlanStep',
    'PlannerBackend',
    'PlanningError',
    'Predicate',
    'Skill',
    'SkillRegistry',
    'Suite',
    'Task',
    'TaskResult',
    'ValidationResult',
    'apply_step',
    'build_prompt',
    'expand',
    'load_suite',
    'make_backend',
    'parse_plan_json',
    'plan_json_schema',
    'plan_with_repair',
    'repair_loop',
    'run_task',
    'summarize',
    'validate',
]
