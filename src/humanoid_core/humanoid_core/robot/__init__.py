"""The humanoid's description: URDF rendering, joint limits and ordered joint names."""

from humanoid_core.robot.description import (
    ROBOT_INFO,
    JointLimit,
    RobotInfo,
    joint_limits,
    render_urdf,
)

__all__ = ['ROBOT_INFO', 'JointLimit', 'RobotInfo', 'joint_limits', 'render_urdf']
