"""An RGB-D frame with intrinsics and camera pose, and the checks every detector runs first."""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

__all__ = ['FrameError', 'Intrinsics', 'RgbdFrame', 'validate_frame']


class FrameError(ValueError):
    """A frame that cannot be processed; the message names the problem."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (no distortion); pixel (u, v) = column, row."""

    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float

    @classmethod
    def from_matrix(cls, k: np.ndarray | list[float], width: int, height: int) -> Intrinsics:
        """From a 3x3 camera matrix (or its 9 row-major values, like CameraInfo.k)."""
        m = np.asarray(k, float).reshape(3, 3)
        return cls(int(width), int(height), m[0, 0], m[1, 1], m[0, 2], m[1, 2])

    @classmethod
    def from_fovy(cls, width: int, height: int, fovy_deg: float) -> Intrinsics:
        f = 0.5 * height / math.tan(math.radians(fovy_deg) / 2.0)
        return cls(int(width), int(height), f, f, (width - 1) / 2.0, (height - 1) / 2.0)

    def check(self) -> None:
        """Raise FrameError naming the bad value."""
        if self.width <= 0 or self.height <= 0:
            raise FrameError(f'camera_info size {self.width}x{self.height} is not positive')
        for name in ('fx', 'fy', 'cx', 'cy'):
            v = getattr(self, name)
            if not math.isfinite(v) or (name in ('fx', 'fy') and v <= 0.0):
                raise FrameError(f'camera_info {name} = {v} is not a positive finite number')


@dataclass(frozen=True)
class RgbdFrame:
    """Colour (HxWx3 uint8 RGB), depth (HxW float metres along the optical axis; NaN or 0 =
    no return), intrinsics, and `camera_pose`: the 4x4 transform world <- camera optical frame
    (z forward, x right, y down). `stamp` in seconds on the caller's clock."""

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics | None
    camera_pose: np.ndarray | None
    stamp: float = 0.0


def validate_frame(
    frame: RgbdFrame,
    now: float | None = None,
    max_future: float = 0.1,
    min_valid_fraction: float = 0.01,
) -> np.ndarray:
    """Check a frame; return the boolean mask of valid depth pixels.

    Raises FrameError for: no intrinsics (missing camera_info), bad intrinsics, an empty or
    malformed image, colour/depth/camera_info sizes that disagree, no camera pose, depth with
    (almost) no valid pixels, and a stamp more than `max_future` s after `now`."""
    if frame.intrinsics is None:
        raise FrameError('no camera_info received: intrinsics unknown')
    frame.intrinsics.check()
    rgb, depth = frame.rgb, frame.depth
    if rgb is None or rgb.size == 0:
        raise FrameError('colour image is empty')
    if depth is None or depth.size == 0:
        raise FrameError('depth image is empty')
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise FrameError(f'colour image must be HxWx3 uint8 RGB, got {rgb.dtype} {rgb.shape}')
    if depth.ndim != 2:
        raise FrameError(f'depth image must be HxW, got shape {depth.shape}')
    if rgb.shape[:2] != depth.shape:
        raise FrameError(
            f'colour image {rgb.shape[1]}x{rgb.shape[0]} and depth image '
            f'{depth.shape[1]}x{depth.shape[0]} sizes differ'
        )
    intr = frame.intrinsics
    if (intr.width, intr.height) != (depth.shape[1], depth.shape[0]):
        raise FrameError(
            f'camera_info size {intr.width}x{intr.height} differs from the image size '
            f'{depth.shape[1]}x{depth.shape[0]}'
        )
    if frame.camera_pose is None:
        raise FrameError('camera pose unknown (no joint_states/odom yet)')
    pose = np.asarray(frame.camera_pose, float)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise FrameError(f'camera pose must be a finite 4x4 transform, got shape {pose.shape}')
    if now is not None and frame.stamp > now + max_future:
        raise FrameError(
            f'frame stamp {frame.stamp:.3f} s is {frame.stamp - now:.3f} s in the future '
            f'(now {now:.3f} s)'
        )
    valid = np.isfinite(depth) & (depth > 0.0)
    frac = float(valid.mean())
    if frac < min_valid_fraction:
        what = 'all NaN/zero' if frac == 0.0 else f'only {100 * frac:.2f}% valid'
        raise FrameError(f'depth image is {what}: no usable depth')
    return valid
