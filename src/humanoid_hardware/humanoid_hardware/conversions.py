"""Message <-> core conversions for the hardware nodes (the only place messages are built).

Core types come from `humanoid_core.sim` (SimState, CameraImage, Pose, JointTrajectory); this
module imports no MuJoCo code itself, so it can be imported before the GL backend is chosen.
"""

from __future__ import annotations

import array
from collections.abc import Mapping, Sequence
import math
from typing import TYPE_CHECKING, Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from geometry_msgs.msg import Pose as PoseMsg

# Re-exported: the trajectory conversion shared by every node lives in humanoid_ros.
from humanoid_ros.trajectory import trajectory_from_msg as trajectory_from_msg
from nav_msgs.msg import Odometry
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, Imu, JointState

from humanoid_interfaces.msg import ObjectArray, ObjectState

if TYPE_CHECKING:
    from humanoid_core.sim.backend import CameraIntrinsics, Pose, SimState
    from humanoid_core.sim.scene import ObjectSpec
    import numpy as np

WORLD_FRAME = 'world'
BASE_FRAME = 'base'
IMU_FRAME = 'imu_link'
CAMERA_OPTICAL_FRAME = 'head_camera_optical_frame'


def time_msg(t: float) -> Time:
    """Seconds -> builtin_interfaces/Time."""
    ns = round(t * 1e9)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def time_from_msg(stamp: Time) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def clock_msg(t: float) -> Clock:
    return Clock(clock=time_msg(t))


def _doubles(values: Any) -> array.array:
    out = array.array('d')
    out.frombytes(memoryview(_as_f64(values)).cast('B'))
    return out


def _as_f64(values: Any) -> Any:
    import numpy as np

    return np.ascontiguousarray(values, dtype=np.float64)


def joint_state_msg(state: SimState, stamp: Time) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp
    msg.name = list(state.joint_names)
    msg.position = _doubles(state.positions)
    msg.velocity = _doubles(state.velocities)
    msg.effort = _doubles(state.efforts)
    return msg


def _set_quat(target: Any, q: Sequence[float]) -> None:
    target.w, target.x, target.y, target.z = (float(v) for v in q)


def _set_vec(target: Any, v: Sequence[float]) -> None:
    target.x, target.y, target.z = (float(c) for c in v)


def pose_msg(pose: Pose) -> PoseMsg:
    msg = PoseMsg()
    _set_vec(msg.position, pose.position)
    _set_quat(msg.orientation, pose.quaternion)
    return msg


def imu_msg(state: SimState, stamp: Time, frame_id: str = IMU_FRAME) -> Imu:
    msg = Imu()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    _set_quat(msg.orientation, state.imu_orientation)
    _set_vec(msg.angular_velocity, state.imu_angular_velocity)
    _set_vec(msg.linear_acceleration, state.imu_linear_acceleration)
    # Ideal sensor: small nominal covariances (variances on the diagonal).
    msg.orientation_covariance[0::4] = [1e-6] * 3
    msg.angular_velocity_covariance[0::4] = [1e-6] * 3
    msg.linear_acceleration_covariance[0::4] = [1e-4] * 3
    return msg


def odom_msg(
    state: SimState, stamp: Time, frame_id: str = WORLD_FRAME, child_frame_id: str = BASE_FRAME
) -> Odometry:
    """`base` (pelvis projected on the floor, pelvis heading) in `world`; twist in `base`."""
    msg = Odometry()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.child_frame_id = child_frame_id
    msg.pose.pose = pose_msg(state.base_pose)
    _set_vec(msg.twist.twist.linear, state.base_linear_velocity)
    _set_vec(msg.twist.twist.angular, state.base_angular_velocity)
    return msg


def rgb_image_msg(rgb: np.ndarray, stamp: Time, frame_id: str = CAMERA_OPTICAL_FRAME) -> Image:
    h, w = rgb.shape[:2]
    msg = Image(height=h, width=w, encoding='rgb8', is_bigendian=0, step=w * 3)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = array.array('B', rgb.tobytes())
    return msg


def depth_image_msg(depth: np.ndarray, stamp: Time, frame_id: str = CAMERA_OPTICAL_FRAME) -> Image:
    """32FC1, metres along the optical axis; NaN where nothing was hit."""
    import numpy as np

    h, w = depth.shape[:2]
    msg = Image(height=h, width=w, encoding='32FC1', is_bigendian=0, step=w * 4)
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.data = array.array('B', np.ascontiguousarray(depth, dtype='<f4').tobytes())
    return msg


def camera_info_msg(
    k: CameraIntrinsics, stamp: Time, frame_id: str = CAMERA_OPTICAL_FRAME
) -> CameraInfo:
    msg = CameraInfo(width=k.width, height=k.height, distortion_model='plumb_bob')
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.d = [0.0] * 5
    msg.k = [k.fx, 0.0, k.cx, 0.0, k.fy, k.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [k.fx, 0.0, k.cx, 0.0, 0.0, k.fy, k.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def image_to_numpy(msg: Image) -> np.ndarray:
    """rgb8 -> HxWx3 uint8, 32FC1 -> HxW float32 (for tests and tools)."""
    import numpy as np

    if msg.encoding == 'rgb8':
        return np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3)
    if msg.encoding == '32FC1':
        return np.frombuffer(bytes(msg.data), '<f4').reshape(msg.height, msg.width)
    raise ValueError(f'unsupported image encoding {msg.encoding!r} (rgb8, 32FC1)')


def object_array_msg(
    poses: Mapping[str, Pose],
    specs: Mapping[str, ObjectSpec],
    stamp: Time,
    frame_id: str = WORLD_FRAME,
) -> ObjectArray:
    """Ground-truth object states (confidence 1)."""
    msg = ObjectArray()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    for name, pose in poses.items():
        spec = specs[name]
        obj = ObjectState()
        obj.id = name
        obj.label = spec.label or name.replace('_', ' ')
        obj.shape = 'container' if spec.is_container else spec.type
        obj.color = spec.color if isinstance(spec.color, str) else ''
        obj.pose = pose_msg(pose)
        _set_vec(obj.size, spec.size)
        obj.confidence = 1.0
        obj.is_container = spec.is_container
        obj.last_seen = stamp
        msg.objects.append(obj)
    return msg


def diagnostics_msg(
    name: str, level: bytes | int, message: str, values: Mapping[str, Any], stamp: Time
) -> DiagnosticArray:
    """One DiagnosticStatus (level: DiagnosticStatus.OK/WARN/ERROR) with key/values."""
    level_byte = level if isinstance(level, bytes) else bytes([level])
    status = DiagnosticStatus(level=level_byte, name=name, message=message)
    status.hardware_id = 'mujoco'
    for k, v in values.items():
        text = f'{v:.4g}' if isinstance(v, float) and math.isfinite(v) else str(v)
        status.values.append(KeyValue(key=k, value=text))
    msg = DiagnosticArray(status=[status])
    msg.header.stamp = stamp
    return msg
