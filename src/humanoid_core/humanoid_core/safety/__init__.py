"""Safety rules of the humanoid, free of ROS: limits, command checks, e-stop, watchdog.

`load_safety_limits()` reads the URDF limits plus `config/safety.yaml`; `SupervisorCore` holds
the supervisor's state and checks (see docs/SAFETY.md for the safety model).
"""

from humanoid_core.safety.kinematics import HandKinematics, Posture
from humanoid_core.safety.limits import (
    Box,
    JointSafetyLimit,
    SafetyConfigError,
    SafetyLimits,
    default_limits_file,
    limits_from_dict,
    load_safety_limits,
)
from humanoid_core.safety.supervisor import HOLD_REASONS, SafetyState, SupervisorCore, Verdict

__all__ = [
    'HOLD_REASONS',
    'Box',
    'HandKinematics',
    'JointSafetyLimit',
    'Posture',
    'SafetyConfigError',
    'SafetyLimits',
    'SafetyState',
    'SupervisorCore',
    'Verdict',
    'default_limits_file',
    'limits_from_dict',
    'load_safety_limits',
]
