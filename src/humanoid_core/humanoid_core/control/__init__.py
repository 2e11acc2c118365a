"""Motion control core (no ROS): trajectories, LIPM/ZMP preview walking, footsteps, swing
feet, whole-body IK (mink), balance, grippers, and a floor testbed for trials.

Names are loaded lazily so that `from humanoid_core.control import QuinticTrajectory` does not
import mink/MuJoCo.

- `trajectory`: `QuinticTrajectory`, `duration_for` (synchronised, within vmax/amax)
- `lipm`: `LIPMParams`, `PreviewController`, `com_from_zmp` (Kajita preview control)
- `footsteps`: `Pose2D`, `FootstepPlanner`, `FootstepLimits`, `GaitTiming`, `GaitTimeline`
- `swing`: `SwingTrajectory`
- `kinematics`: `RobotKinematics` (FK, CoM, Jacobians on the robot's MuJoCo model)
- `ik`: `WholeBodyIK` (`solve_hand_pose`, `solve_walk_frame`), `corrected_target`
- `balance`: `AnkleBalance`, `BalanceGains`, `MeasuredState`
- `walking`: `WalkingController`, `WalkingParams`
- `gripper`: `HoldingDetector`, `grasp_width`, `pre_grasp_width`
- `testbed`: `FloorSim` (robot on a floor; `base_mode='kinematic_base'` is the named fallback)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    'QuinticTrajectory': 'trajectory',
    'duration_for': 'trajectory',
    'LIPMParams': 'lipm',
    'PreviewController': 'lipm',
    'com_from_zmp': 'lipm',
    'Footstep': 'footsteps',
    'FootstepLimits': 'footsteps',
    'FootstepPlan': 'footsteps',
    'FootstepPlanner': 'footsteps',
    'GaitTimeline': 'footsteps',
    'GaitTiming': 'footsteps',
    'Pose2D': 'footsteps',
    'SwingTrajectory': 'swing',
    'RobotKinematics': 'kinematics',
    'HandIKResult': 'ik',
    'IKSettings': 'ik',
    'WholeBodyIK': 'ik',
    'corrected_target': 'ik',
    'AnkleBalance': 'balance',
    'BalanceGains': 'balance',
    'MeasuredState': 'balance',
    'WalkingController': 'walking',
    'WalkingParams': 'walking',
    'GripperParams': 'gripper',
    'HoldingDetector': 'gripper',
    'grasp_width': 'gripper',
    'pre_grasp_width': 'gripper',
    'FloorSim': 'testbed',
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    return getattr(importlib.import_module(f'{__name__}.{module}'), name)
