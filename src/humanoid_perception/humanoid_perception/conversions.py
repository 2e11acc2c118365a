"""Message <-> core conversions for the perception nodes (images, camera info, detections,
diagnostics); world-state conversions are shared in humanoid_ros.world."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from humanoid_core.perception.frame import FrameError, Intrinsics
from humanoid_core.perception.pipeline import Detection
from humanoid_ros.world import (
    WORLD_FRAME,
    object_from_msg,
    object_to_msg,
    quaternion_to_yaw,
    sec_to_stamp,
    world_to_msg,
)
import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from humanoid_interfaces.msg import ObjectArray


def stamp_to_sec(t: Time) -> float:
    return float(t.sec) + 1e-9 * float(t.nanosec)


def intrinsics_from_camera_info(msg: CameraInfo) -> Intrinsics:
    return Intrinsics.from_matrix(list(msg.k), msg.width, msg.height)


def rgb_from_image(msg: Image) -> np.ndarray:
    """HxWx3 uint8 RGB from an rgb8 / bgr8 / rgba8 / bgra8 image (FrameError otherwise)."""
    channels = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4}
    n = channels.get(msg.encoding)
    if n is None:
        raise FrameError(
            f'colour image encoding {msg.encoding!r} unsupported; use {list(channels)}'
        )
    if msg.width == 0 or msg.height == 0:
        raise FrameError('colour image is empty (0 pixels)')
    buf = np.frombuffer(bytes(msg.data), np.uint8)
    if msg.step < msg.width * n or len(buf) < msg.step * msg.height:
        raise FrameError(
            f'colour image data ({len(buf)} bytes, step {msg.step}) too short for '
            f'{msg.width}x{msg.height} {msg.encoding}'
        )
    img = buf[: msg.step * msg.height].reshape(msg.height, msg.step)[:, : msg.width * n]
    img = img.reshape(msg.height, msg.width, n)[:, :, :3]
    if msg.encoding.startswith('bgr'):
        img = img[:, :, ::-1]
    return np.ascontiguousarray(img)


def depth_from_image(msg: Image) -> np.ndarray:
    """HxW float32 metres from a 32FC1 (m) or 16UC1 (mm) image (FrameError otherwise)."""
    if msg.width == 0 or msg.height == 0:
        raise FrameError('depth image is empty (0 pixels)')
    if msg.encoding == '32FC1':
        dtype, scale, size = np.dtype('<f4' if not msg.is_bigendian else '>f4'), 1.0, 4
    elif msg.encoding == '16UC1':
        dtype, scale, size = np.dtype('<u2' if not msg.is_bigendian else '>u2'), 1e-3, 2
    else:
        raise FrameError(f'depth image encoding {msg.encoding!r} unsupported; use 32FC1 or 16UC1')
    raw = bytes(msg.data)
    if msg.step < msg.width * size or len(raw) < msg.step * msg.height:
        raise FrameError(
            f'depth image data ({len(raw)} bytes, step {msg.step}) too short for '
            f'{msg.width}x{msg.height} {msg.encoding}'
        )
    rows = np.frombuffer(raw, np.uint8)[: msg.step * msg.height].reshape(msg.height, msg.step)
    img = rows[:, : msg.width * size].copy().view(dtype).reshape(msg.height, msg.width)
    out = img.astype(np.float32) * np.float32(scale)
    if msg.encoding == '16UC1':
        out[img == 0] = np.nan
    return out


def image_from_rgb(rgb: np.ndarray, stamp: Time, frame_id: str) -> Image:
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = 'rgb8'
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb, np.uint8).tobytes()
    return msg


def image_from_depth(depth: np.ndarray, stamp: Time, frame_id: str) -> Image:
    msg = Image()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(depth.shape[0]), int(depth.shape[1])
    msg.encoding = '32FC1'
    msg.step = msg.width * 4
    msg.data = np.ascontiguousarray(depth, '<f4').tobytes()
    return msg


def camera_info_from_intrinsics(i: Intrinsics, stamp: Time, frame_id: str) -> CameraInfo:
    msg = CameraInfo()
    msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = i.width, i.height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = [i.fx, 0.0, i.cx, 0.0, i.fy, i.cy, 0.0, 0.0, 1.0]
    msg.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    msg.p = [i.fx, 0.0, i.cx, 0.0, 0.0, i.fy, i.cy, 0.0, 0.0, 0.0, 1.0, 0.0]
    return msg


def object_array(detections: Sequence[Detection], stamp: Time) -> ObjectArray:
    msg = ObjectArray()
    msg.header.stamp = stamp
    msg.header.frame_id = WORLD_FRAME
    msg.objects = [object_to_msg(d.as_object(), stamp) for d in detections]
    return msg


def diagnostics(
    stamp: Time, name: str, level: int, message: str, values: Mapping[str, str] | None = None
) -> DiagnosticArray:
    """A one-status DiagnosticArray; `level` is DiagnosticStatus.OK / WARN / ERROR."""
    arr = DiagnosticArray()
    arr.header.stamp = stamp
    st = DiagnosticStatus(level=bytes([level]), name=name, message=message, hardware_id='')
    st.values = [KeyValue(key=k, value=str(v)) for k, v in (values or {}).items()]
    arr.status.append(st)
    return arr


OK, WARN, ERROR = (int.from_bytes(b, 'little') for b in (
    DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR))  # fmt: skip


__all__ = [
    'WORLD_FRAME',
    'object_from_msg',
    'quaternion_to_yaw',
    'sec_to_stamp',
    'world_to_msg',
]
