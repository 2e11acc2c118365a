"""RGB-D frames and ground truth from the embedded simulator (tests and the benchmark)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from humanoid_core.perception.frame import Intrinsics, RgbdFrame

if TYPE_CHECKING:  # pragma: no cover
    from humanoid_core.sim.backend import SimulatorBackend

__all__ = ['ground_truth', 'render_frame']


def render_frame(
    backend: SimulatorBackend,
    camera: str = 'head_camera',
    width: int = 640,
    height: int = 480,
) -> RgbdFrame:
    """Render `camera` into an RgbdFrame (pose from the simulator, stamp = sim time)."""
    img = backend.render(camera, width, height, depth=True)
    i = img.intrinsics
    assert img.depth is not None
    return RgbdFrame(
        rgb=img.rgb,
        depth=img.depth,
        intrinsics=Intrinsics(i.width, i.height, i.fx, i.fy, i.cx, i.cy),
        camera_pose=backend.camera_pose(camera).matrix(),
        stamp=img.time,
    )


def ground_truth(backend: SimulatorBackend) -> dict[str, np.ndarray]:
    """Object name -> centre position (world, m)."""
    return {k: np.asarray(p.position, float) for k, p in backend.object_poses().items()}
