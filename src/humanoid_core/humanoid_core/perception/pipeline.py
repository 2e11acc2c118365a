"""The classical RGB-D detector: support plane, clusters, colour + shape labels, 6-DoF poses.

Steps per frame (`ObjectDetector.detect`):
1. check the frame (`validate_frame`), back-project the depth (every `stride`-th pixel) into
   the `world` frame with the camera pose;
2. find the support plane (a table top) with RANSAC (open3d) among horizontal-ish points above
   the floor, falling back to the floor;
3. keep points above the plane over its footprint, name each pixel's colour (OpenCV HSV), and
   cluster the points per colour with DBSCAN (open3d) so touching objects of different colours
   (a cube in the tray) separate;
4. measure each cluster (height, footprint rectangle, fill ratio), match it to the vocabulary
   (label, shape, size), and fit the pose: footprint centre and yaw, the top at the highest
   points; a side that ends at an occluder (something nearer the camera just past it) is
   extended to the vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
import math
import time

import cv2
import numpy as np

from humanoid_core.perception.classify import UNKNOWN, Vocabulary, VocabularyEntry
from humanoid_core.perception.frame import FrameError, Intrinsics, RgbdFrame, validate_frame
from humanoid_core.world.types import ObjectInfo

Exclude = Callable[[np.ndarray], np.ndarray]
"""World points (N x 3) -> boolean mask of the points a detector ignores."""

__all__ = [
    'Detection',
    'DetectionResult',
    'DetectorConfig',
    'Exclude',
    'ObjectDetector',
    'SupportPlane',
    'annotate',
    'yaw_quaternion',
]


@dataclass(frozen=True)
class DetectorConfig:
    """Tuning of the classical detector (lengths in metres)."""

    stride: int = 3
    """Use every stride-th pixel in each direction (3 at 640x480: 34000 points; at 1 m a
    point every 7 mm)."""
    min_depth: float = 0.1
    max_depth: float = 4.0
    min_support_height: float = 0.1
    """Supports (table tops) are searched above this height first, then the floor."""
    plane_distance: float = 0.006
    plane_iterations: int = 100
    max_plane_points: int = 5000
    min_plane_points: int = 300
    max_plane_tilt_deg: float = 12.0
    support_margin: float = 0.03
    """Objects may overhang the plane's footprint by this much."""
    min_height: float = 0.004
    max_height: float = 0.45
    cluster_eps: float = 0.018
    cluster_min_points: int = 4
    min_cluster_points: int = 12
    max_match_cost: float = 1.0
    min_confidence: float = 0.25
    occlusion_tolerance: float = 0.008
    merge_fragments: bool = True
    """Join same-colour clusters that fit one vocabulary object (split by an occluder)."""
    max_future: float = 0.1
    """Frames stamped more than this after `now` are rejected (s)."""

    def check(self) -> None:
        if self.stride < 1:
            raise ValueError(f'stride must be >= 1, got {self.stride}')
        if not 0.0 < self.min_depth < self.max_depth:
            raise ValueError(
                f'need 0 < min_depth < max_depth, got {self.min_depth}, {self.max_depth}'
            )
        if self.cluster_eps <= 0.0 or self.plane_distance <= 0.0:
            raise ValueError('cluster_eps and plane_distance must be positive')


@dataclass(frozen=True)
class SupportPlane:
    """A horizontal support: unit normal (z up) and offset (n . p + d = 0), its footprint."""

    normal: np.ndarray
    d: float
    centre: tuple[float, float]
    extent: tuple[float, float]
    angle: float

    def height_of(self, points: np.ndarray) -> np.ndarray:
        return _dot(points, self.normal) + self.d

    @property
    def z(self) -> float:
        """Height of the plane at its footprint centre."""
        n = self.normal
        return float(-(self.d + n[0] * self.centre[0] + n[1] * self.centre[1]) / n[2])


@dataclass(frozen=True)
class Detection:
    """One detected object; position, yaw and size in the `world` frame (m, rad)."""

    id: str
    label: str
    shape: str
    color: str
    position: tuple[float, float, float]
    yaw: float
    size: tuple[float, float, float]
    confidence: float
    is_container: bool
    bbox: tuple[int, int, int, int]
    """Pixel box (u0, v0, u1, v1) in the full-resolution image."""
    n_points: int = 0
    partial: bool = False
    """Part of the footprint was not seen: the position was completed towards the hidden side
    where one side borders an occluder, else it is the centre of the part seen. Either may be
    off by centimetres (in-process at the station the arm over the bin hid 8-12 cm of it, the
    hidden side could not be told and the centres were 4-6 cm off; during a pick the arm over
    the tray hid a third of it, and a completion along the wrong axis put it 5.7 cm off). The
    world model moves a tracked container only with whole views."""

    @property
    def quaternion(self) -> tuple[float, float, float, float]:
        return yaw_quaternion(self.yaw)

    def as_object(self) -> ObjectInfo:
        """The world model's input type (plain floats; what `perception/objects` carries)."""
        p, s = self.position, self.size
        return ObjectInfo(
            id=self.id,
            label=self.label,
            shape=self.shape,
            color=self.color,
            position=(float(p[0]), float(p[1]), float(p[2])),
            yaw=float(self.yaw),
            size=(float(s[0]), float(s[1]), float(s[2])),
            confidence=float(self.confidence),
            is_container=bool(self.is_container),
            partial=bool(self.partial),
        )


@dataclass
class DetectionResult:
    detections: list[Detection]
    plane: SupportPlane | None
    stamp: float
    timings_ms: dict[str, float] = field(default_factory=dict)


def yaw_quaternion(yaw: float) -> tuple[float, float, float, float]:
    """(w, x, y, z) of a rotation by `yaw` about z."""
    return (math.cos(yaw / 2.0), 0.0, 0.0, math.sin(yaw / 2.0))


def drop_excluded(keep: np.ndarray, points: np.ndarray, exclude: Exclude) -> None:
    """Clear `keep` (boolean, in place) where `exclude` marks the kept `points`; only the
    kept points are passed to it."""
    idx = np.nonzero(keep)[0]
    keep[idx[exclude(points[idx])]] = False


def _dot(points: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Row-wise dot product (N x 3) . (3,) without BLAS (slow for thin matrices here)."""
    return points[:, 0] * n[0] + points[:, 1] * n[1] + points[:, 2] * n[2]


def _wrap(a: float, period: float) -> float:
    """`a` wrapped into [-period/2, period/2)."""
    return (a + period / 2.0) % period - period / 2.0


class ObjectDetector:
    """Classical RGB-D detector over a vocabulary (see module docstring)."""

    def __init__(self, vocabulary: Vocabulary, config: DetectorConfig | None = None) -> None:
        import open3d as o3d  # heavy import: only when a detector is made

        self._o3d = o3d
        self.vocabulary = vocabulary
        self.config = config or DetectorConfig()
        self.config.check()
        self._grid_cache: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] = {}

    # -- geometry helpers ------------------------------------------------------------------
    def _grid(self, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.config.stride
        key = (h, w, s)
        if key not in self._grid_cache:
            v, u = np.mgrid[0:h:s, 0:w:s]
            self._grid_cache[key] = (u.astype(np.float32), v.astype(np.float32))
        return self._grid_cache[key]

    def back_project(
        self, depth: np.ndarray, intr: Intrinsics, pose: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """World points (N x 3) of the valid subsampled pixels, their (row, col) indices in the
        subsampled grid, and the valid mask of that grid."""
        s = self.config.stride
        u, v = self._grid(*depth.shape)
        z = depth[::s, ::s]
        with np.errstate(invalid='ignore'):
            valid = np.isfinite(z) & (z >= self.config.min_depth) & (z <= self.config.max_depth)
        zz = z[valid].astype(np.float64)
        x = (u[valid] - intr.cx) / intr.fx * zz
        y = (v[valid] - intr.cy) / intr.fy * zz
        r, t = pose[:3, :3], pose[:3, 3]
        # explicit sums: (N x 3) @ (3 x 3) through BLAS is slow for thin matrices here
        world = np.empty((len(zz), 3))
        for i in range(3):
            world[:, i] = r[i, 0] * x + r[i, 1] * y + r[i, 2] * zz + t[i]
        rows, cols = np.nonzero(valid)
        return world, np.stack([rows, cols], axis=1), valid

    def find_support(self, points: np.ndarray) -> SupportPlane | None:
        """The largest horizontal plane above `min_support_height` (else the floor)."""
        cfg = self.config
        o3d = self._o3d
        cos_tilt = math.cos(math.radians(cfg.max_plane_tilt_deg))
        rng = np.random.default_rng(0)
        for above in (True, False):
            cand = points[points[:, 2] > cfg.min_support_height] if above else points
            for _ in range(3):
                if len(cand) < cfg.min_plane_points:
                    break
                sample = cand
                if len(cand) > cfg.max_plane_points:
                    sample = cand[rng.choice(len(cand), cfg.max_plane_points, replace=False)]
                pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(sample))
                o3d.utility.random.seed(0)
                model, inliers = pcd.segment_plane(
                    distance_threshold=cfg.plane_distance,
                    ransac_n=3,
                    num_iterations=cfg.plane_iterations,
                )
                n = np.asarray(model[:3], float)
                d = float(model[3])
                norm = float(np.linalg.norm(n))
                if norm == 0.0:
                    break
                n, d = n / norm, d / norm
                if n[2] < 0.0:
                    n, d = -n, -d
                if n[2] < cos_tilt or len(inliers) < cfg.min_plane_points * (
                    len(sample) / max(len(cand), 1)
                ):
                    # a wall or tiny plane: drop its points and look again
                    dist = np.abs(_dot(cand, n) + d)
                    cand = cand[dist > cfg.plane_distance]
                    continue
                # footprint of the plane's inliers (the sample is uniform over the candidates)
                on = sample[np.asarray(inliers, int)]
                xy = (on[:, :2] * 1000.0).astype(np.float32)
                (cx, cy), (ex, ey), ang = cv2.minAreaRect(xy)
                return SupportPlane(
                    n, d, (cx / 1000.0, cy / 1000.0), (ex / 1000.0, ey / 1000.0), ang
                )
        return None

    # -- main entry ------------------------------------------------------------------------
    def detect(
        self, frame: RgbdFrame, now: float | None = None, exclude: Exclude | None = None
    ) -> DetectionResult:
        """Detect vocabulary objects in `frame`; raises FrameError on unusable input.
        `exclude(points)` marks world points to ignore (the robot's own body)."""
        cfg = self.config
        t0 = time.perf_counter()
        validate_frame(frame, now=now, max_future=cfg.max_future)
        intr = frame.intrinsics
        assert intr is not None and frame.camera_pose is not None
        pose = np.asarray(frame.camera_pose, float)
        timings: dict[str, float] = {}
        points, pix, _valid = self.back_project(frame.depth, intr, pose)
        if len(points) < cfg.min_plane_points:
            raise FrameError(
                f'only {len(points)} depth pixels within {cfg.min_depth}..{cfg.max_depth} m'
            )
        t1 = time.perf_counter()
        timings['backproject'] = 1e3 * (t1 - t0)
        plane = self.find_support(points)
        t2 = time.perf_counter()
        timings['plane'] = 1e3 * (t2 - t1)
        if plane is None:
            return DetectionResult([], None, frame.stamp, timings)
        h = plane.height_of(points)
        keep = (h > cfg.min_height) & (h < cfg.max_height)
        keep &= self._over_footprint(points, plane)
        obj_pts, obj_pix, obj_h = points[keep], pix[keep], h[keep]
        s = cfg.stride
        classes = self.vocabulary.colors.classify(np.ascontiguousarray(frame.rgb[::s, ::s]))
        obj_cls = classes[obj_pix[:, 0], obj_pix[:, 1]].astype(int)
        known = obj_cls != UNKNOWN
        if exclude is not None:  # after the colour test: fewer points to look at
            drop_excluded(known, obj_pts, exclude)
        obj_pts, obj_pix, obj_h, obj_cls = (
            obj_pts[known],
            obj_pix[known],
            obj_h[known],
            obj_cls[known],
        )
        t3 = time.perf_counter()
        timings['segment'] = 1e3 * (t3 - t2)
        detections: list[Detection] = []
        if len(obj_pts) >= cfg.min_cluster_points:
            labels = self._cluster(obj_pts, obj_cls)
            t4 = time.perf_counter()
            timings['cluster'] = 1e3 * (t4 - t3)
            clusters = [
                idx
                for lab in range(int(labels.max()) + 1 if len(labels) else 0)
                if len(idx := np.nonzero(labels == lab)[0]) >= cfg.cluster_min_points
            ]
            described = []
            for idx in clusters:
                det = self._describe(
                    obj_pts[idx], obj_pix[idx], obj_h[idx], int(obj_cls[idx[0]]), frame, plane
                )
                described.append((idx, det))
            if cfg.merge_fragments:
                described = self._merge_fragments(described, obj_pts, obj_cls)
            for idx, det in described:
                if det is None:
                    det = self._describe(
                        obj_pts[idx], obj_pix[idx], obj_h[idx], int(obj_cls[idx[0]]), frame,
                        plane,
                    )  # fmt: skip
                if (
                    det is not None
                    and len(idx) >= cfg.min_cluster_points
                    and det.confidence >= cfg.min_confidence
                ):
                    detections.append(det)
            timings['describe'] = 1e3 * (time.perf_counter() - t4)
        detections = self._assign_ids(detections)
        timings['total'] = 1e3 * (time.perf_counter() - t0)
        return DetectionResult(detections, plane, frame.stamp, timings)

    def _merge_fragments(
        self,
        described: list[tuple[np.ndarray, Detection | None]],
        pts: np.ndarray,
        cls: np.ndarray,
    ) -> list[tuple[np.ndarray, Detection | None]]:
        """Join clusters of one colour that are pieces of one object (split by an occluder,
        e.g. an arm across the tray): a matched cluster absorbs same-colour clusters while the
        union's footprint still fits its vocabulary entry. Merged clusters are returned with
        detection None (to be described again)."""
        tol = 0.015
        order = sorted(range(len(described)), key=lambda i: -len(described[i][0]))
        used: set[int] = set()
        out: list[tuple[np.ndarray, Detection | None]] = []
        for i in order:
            if i in used:
                continue
            used.add(i)
            idx, det = described[i]
            if det is None:
                out.append((idx, det))
                continue
            entry = next(e for e in self.vocabulary.entries if e.id == det.id)
            ex, ey = entry.footprint
            merged = False
            for j in order:
                if j in used or cls[described[j][0][0]] != cls[idx[0]]:
                    continue
                other_det = described[j][1]
                if other_det is not None and other_det.id != det.id:
                    continue
                union = np.concatenate([idx, described[j][0]])
                _, (w, ln), _ = cv2.minAreaRect((pts[union, :2] * 1000.0).astype(np.float32))
                if max(w, ln) / 1000.0 <= ex + tol and min(w, ln) / 1000.0 <= ey + tol:
                    idx, merged = union, True
                    used.add(j)
            out.append((idx, None if merged else det))
        return out

    def _over_footprint(self, points: np.ndarray, plane: SupportPlane) -> np.ndarray:
        a = math.radians(plane.angle)
        c, s = math.cos(a), math.sin(a)
        dx = points[:, 0] - plane.centre[0]
        dy = points[:, 1] - plane.centre[1]
        lx = c * dx + s * dy
        ly = -s * dx + c * dy
        m = self.config.support_margin
        return (np.abs(lx) <= plane.extent[0] / 2 + m) & (np.abs(ly) <= plane.extent[1] / 2 + m)

    def _cluster(self, pts: np.ndarray, cls: np.ndarray) -> np.ndarray:
        """DBSCAN labels; each colour class is moved 100 m away so classes never merge."""
        o3d = self._o3d
        shifted = pts.copy()
        shifted[:, 0] += 100.0 * cls
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(shifted))
        return np.asarray(
            pcd.cluster_dbscan(
                eps=self.config.cluster_eps, min_points=self.config.cluster_min_points
            )
        )

    def _describe(
        self,
        pts: np.ndarray,
        pix: np.ndarray,
        h: np.ndarray,
        cls: int,
        frame: RgbdFrame,
        plane: SupportPlane,
    ) -> Detection | None:
        cfg = self.config
        vocab = self.vocabulary
        color = vocab.colors.names[cls]
        top_h = float(np.percentile(h, 98))
        xy = (pts[:, :2] * 1000.0).astype(np.float32)
        _, (w, ln), _ = cv2.minAreaRect(xy)
        w, ln = w / 1000.0, ln / 1000.0
        hull = cv2.convexHull(xy)
        fill = float(cv2.contourArea(hull)) / max(w * ln * 1e6, 1e-9)
        footprint = (max(w, ln), min(w, ln))
        match = vocab.match(color, top_h, footprint, fill, cfg.max_match_cost)
        if match is None:
            return None
        return self.fit(match.entry, pts, pix, frame, match.confidence, color)

    def fit(
        self,
        e: VocabularyEntry,
        pts: np.ndarray,
        pix: np.ndarray,
        frame: RgbdFrame,
        confidence: float,
        color: str = '',
    ) -> Detection:
        """Pose of vocabulary object `e` from its cluster: footprint rectangle centre and yaw
        (occluded sides extended to the entry's size), top at the highest points."""
        cfg = self.config
        xy = (pts[:, :2] * 1000.0).astype(np.float32)
        (cx, cy), (w, ln), ang = cv2.minAreaRect(xy)
        w, ln = w / 1000.0, ln / 1000.0
        # rect axes: a1 along `ang`, length w; a2 perpendicular, length ln
        a = math.radians(ang)
        axes = [np.array([math.cos(a), math.sin(a)]), np.array([-math.sin(a), math.cos(a)])]
        seen = [w, ln]
        # the entry's x size goes with the rect axis closest in length
        ex, ey = e.size[0], e.size[1]
        if abs(seen[0] - ex) + abs(seen[1] - ey) <= abs(seen[0] - ey) + abs(seen[1] - ex):
            expected = [ex, ey]
            yaw_axis = 0
        else:
            expected = [ey, ex]
            yaw_axis = 1
        centre = np.array([cx / 1000.0, cy / 1000.0])
        top_z = float(np.percentile(pts[:, 2], 98))
        partial = False
        for i in range(2):
            if seen[i] < expected[i] - cfg.occlusion_tolerance:
                shift = self._occlusion_shift(centre, axes[i], seen[i], top_z, frame)
                centre = centre + shift * (expected[i] - seen[i]) / 2.0 * axes[i]
                partial = True
        ax = axes[yaw_axis]
        yaw = math.atan2(ax[1], ax[0])
        if e.shape == 'cylinder':
            yaw = 0.0
        elif abs(ex - ey) < 0.01:
            yaw = _wrap(yaw, math.pi / 2.0)
        else:
            yaw = _wrap(yaw, math.pi)
        z = top_z - e.size[2] / 2.0
        s = cfg.stride
        rows, cols = pix[:, 0] * s, pix[:, 1] * s
        bbox = (int(cols.min()), int(rows.min()), int(cols.max()) + s, int(rows.max()) + s)
        return Detection(
            id=e.id,
            label=e.label,
            shape=e.shape,
            color=e.color or color,
            position=(float(centre[0]), float(centre[1]), z),
            yaw=yaw,
            size=e.size,
            confidence=float(confidence),
            is_container=e.is_container,
            bbox=bbox,
            n_points=len(pts),
            partial=partial,
        )

    def _occlusion_shift(
        self, centre: np.ndarray, axis: np.ndarray, seen: float, top_z: float, frame: RgbdFrame
    ) -> float:
        """+1 / -1 when only the +axis / -axis end of the visible extent borders an occluder
        (or the image edge), else 0."""
        occluded = [self._occluded_beyond(centre + sgn * (seen / 2 + 0.012) * axis, top_z, frame)
                    for sgn in (1.0, -1.0)]  # fmt: skip
        if occluded[0] and not occluded[1]:
            return 1.0
        if occluded[1] and not occluded[0]:
            return -1.0
        return 0.0

    def _occluded_beyond(self, xy: np.ndarray, z: float, frame: RgbdFrame) -> bool:
        intr = frame.intrinsics
        assert intr is not None and frame.camera_pose is not None
        pose = np.asarray(frame.camera_pose, float)
        p = pose[:3, :3].T @ (np.array([xy[0], xy[1], z]) - pose[:3, 3])
        if p[2] <= 0.0:
            return True
        u = round(intr.fx * p[0] / p[2] + intr.cx)
        v = round(intr.fy * p[1] / p[2] + intr.cy)
        if not (0 <= u < intr.width and 0 <= v < intr.height):
            return True
        d = float(frame.depth[v, u])
        if not math.isfinite(d) or d <= 0.0:
            return False
        return d < p[2] - 0.015

    def _assign_ids(self, dets: list[Detection]) -> list[Detection]:
        """Unique ids: the best-confidence detection of an entry keeps the entry's id."""
        dets = sorted(dets, key=lambda d: -d.confidence)
        used: dict[str, int] = {}
        out = []
        for d in dets:
            n = used.get(d.id, 0) + 1
            used[d.id] = n
            if n > 1:
                d = Detection(**{**d.__dict__, 'id': f'{d.id}_{n}'})
            out.append(d)
        return out


def annotate(rgb: np.ndarray, result: DetectionResult) -> np.ndarray:
    """A copy of `rgb` with each detection's box, label, confidence and position drawn; a label
    that would overlap an earlier one goes below its box instead of above."""
    img = np.ascontiguousarray(rgb.copy())
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.4
    taken: list[tuple[int, int, int, int]] = []
    for d in result.detections:
        u0, v0, u1, v1 = d.bbox
        cv2.rectangle(img, (u0, v0), (u1, v1), (255, 255, 255), 1)
        lines = (
            f'{d.label} {d.confidence:.2f}',
            f'{d.position[0]:.3f} {d.position[1]:.3f} {d.position[2]:.3f}',
        )
        sizes = [cv2.getTextSize(t, font, scale, 1)[0] for t in lines]
        w = max(s[0] for s in sizes) + 2
        h = 14 * len(lines) + 2
        above = (u0, max(0, v0 - h - 2), u0 + w, max(0, v0 - h - 2) + h)
        below = (u0, v1 + 2, u0 + w, v1 + 2 + h)
        box = above
        if any(_overlap(above, t) for t in taken) and not any(_overlap(below, t) for t in taken):
            box = below
        taken.append(box)
        cv2.rectangle(img, (box[0], box[1]), (box[2], box[3]), (0, 0, 0), -1)
        for i, t in enumerate(lines):
            cv2.putText(img, t, (box[0] + 1, box[1] + 11 + 14 * i), font, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)  # fmt: skip
    return img


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def entry_by_id(vocabulary: Vocabulary, entry_id: str) -> VocabularyEntry:
    for e in vocabulary.entries:
        if e.id == entry_id:
            return e
    raise KeyError(
        f'no vocabulary entry {entry_id!r}; entries: {[e.id for e in vocabulary.entries]}'
    )
