"""trajectory_msgs/JointTrajectory <-> the core JointTrajectory (humanoid_core.sim.trajectory),
shared by the simulator, the hardware node, the safety supervisor and the controller."""

from __future__ import annotations

import math

from builtin_interfaces.msg import Duration, Time
from humanoid_core.sim.trajectory import JointTrajectory, TrajectoryPoint
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

__all__ = ['duration_msg', 'time_to_sec', 'trajectory_from_msg', 'trajectory_to_msg']


def time_to_sec(stamp: Time | Duration) -> float:
    """A builtin_interfaces Time or Duration in seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def duration_msg(seconds: float) -> Duration:
    sec = math.floor(seconds)
    return Duration(sec=int(sec), nanosec=min(round((seconds - sec) * 1e9), 999_999_999))


def trajectory_from_msg(msg: JointTrajectoryMsg) -> JointTrajectory:
    """Message -> core type. An all-zero header stamp means "start now" (start_time None), as
    for a ros2_control JointTrajectoryController; empty velocity lists mean no velocities."""
    stamp = time_to_sec(msg.header.stamp)
    points = tuple(
        TrajectoryPoint(
            positions=tuple(float(q) for q in p.positions),
            velocities=tuple(float(v) for v in p.velocities) if len(p.velocities) else None,
            time_from_start=time_to_sec(p.time_from_start),
        )
        for p in msg.points
    )
    return JointTrajectory(tuple(msg.joint_names), points, stamp if stamp > 0.0 else None)


def trajectory_to_msg(traj: JointTrajectory, frame_id: str = '') -> JointTrajectoryMsg:
    """Core type -> message; start_time None gives a zero stamp (start on receipt)."""
    msg = JointTrajectoryMsg()
    msg.header.frame_id = frame_id
    if traj.start_time is not None:
        sec = math.floor(traj.start_time)
        msg.header.stamp = Time(sec=int(sec), nanosec=int((traj.start_time - sec) * 1e9))
    msg.joint_names = list(traj.joint_names)
    for p in traj.points:
        point = JointTrajectoryPoint()
        point.positions = [float(q) for q in p.positions]
        if p.velocities is not None:
            point.velocities = [float(v) for v in p.velocities]
        point.time_from_start = duration_msg(p.time_from_start)
        msg.points.append(point)
    return msg
