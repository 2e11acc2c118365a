"""Open-vocabulary detector backend (OWLv2 / OWL-ViT through transformers) and the backend
factory.

`OpenVocabDetector` loads a zero-shot object detection model and its tokenizer from a local
folder (`from_pretrained(model_dir, local_files_only=True)`: never the hub), queries it with the
vocabulary's labels ("red cube", "tray", ...), keeps boxes above `score_threshold` after NMS,
and lifts each box to 3D with the depth image: the points above the support plane inside the
box, their largest DBSCAN cluster, a height check against the label's size (boxes whose
points are much shorter or taller than the named object are dropped), then the classical pose
fit (`ObjectDetector.fit`). Image
preprocessing is done here with OpenCV (OWLv2: pad to a square at the bottom/right, then
resize; OWL-ViT: resize), so no torchvision/PIL is needed; mean/std come from the folder's
`preprocessor_config.json` when present (CLIP's otherwise).
"""

from __future__ import annotations

import json
from pathlib import Path
import time
from typing import Any

import cv2
import numpy as np

from humanoid_core.perception.classify import Vocabulary
from humanoid_core.perception.frame import RgbdFrame, validate_frame
from humanoid_core.perception.pipeline import (
    DetectionResult,
    DetectorConfig,
    Exclude,
    ObjectDetector,
    drop_excluded,
)

__all__ = ['BACKENDS', 'OpenVocabDetector', 'OpenVocabError', 'make_detector']

BACKENDS = ('classical', 'owlv2', 'owlvit')
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


class OpenVocabError(RuntimeError):
    """The open-vocabulary model cannot be loaded or run; the message names the folder/file."""


def make_detector(
    backend: str,
    vocabulary: Vocabulary,
    config: DetectorConfig | None = None,
    model_dir: str | Path = '',
    score_threshold: float = 0.1,
) -> ObjectDetector | OpenVocabDetector:
    """The detector for `backend` ('classical', 'owlv2' or 'owlvit')."""
    if backend not in BACKENDS:
        raise ValueError(f'unknown detector backend {backend!r}; backends: {list(BACKENDS)}')
    if backend == 'classical':
        return ObjectDetector(vocabulary, config)
    return OpenVocabDetector(vocabulary, model_dir, backend, config, score_threshold)


class OpenVocabDetector:
    """Zero-shot 2D boxes from a transformers model, lifted to 3D with depth."""

    def __init__(
        self,
        vocabulary: Vocabulary,
        model_dir: str | Path,
        kind: str = 'owlv2',
        config: DetectorConfig | None = None,
        score_threshold: float = 0.1,
        nms_iou: float = 0.3,
        num_threads: int = 1,
    ) -> None:
        if kind not in ('owlv2', 'owlvit'):
            raise ValueError(f'kind must be owlv2 or owlvit, got {kind!r}')
        folder = Path(model_dir) if model_dir else None
        if folder is None or not (folder / 'config.json').is_file():
            raise OpenVocabError(
                f'open-vocabulary backend {kind!r} needs a local model folder with config.json '
                f'(parameter model_dir), got {str(model_dir)!r}'
            )
        try:
            import torch
            from transformers import AutoModelForZeroShotObjectDetection, AutoTokenizer
        except ImportError as exc:  # pragma: no cover - requirements/perception.txt has them
            raise OpenVocabError(f'backend {kind!r} needs torch and transformers: {exc}') from exc
        torch.set_num_threads(max(1, int(num_threads)))
        try:
            self.model = AutoModelForZeroShotObjectDetection.from_pretrained(
                folder, local_files_only=True
            ).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise OpenVocabError(f'cannot load the model in {folder}: {exc}') from exc
        self._torch = torch
        self.kind = kind
        self.vocabulary = vocabulary
        self.geometry = ObjectDetector(vocabulary, config)
        self.config = self.geometry.config
        self.score_threshold = float(score_threshold)
        self.nms_iou = float(nms_iou)
        self.image_size = int(self.model.config.vision_config.image_size)
        self.mean, self.std = self._norm(folder)
        self.queries = list(vocabulary.labels)
        if not self.queries:
            raise OpenVocabError('the vocabulary has no labels to query the model with')
        max_len = int(getattr(self.model.config.text_config, 'max_position_embeddings', 16))
        self.text = self.tokenizer(
            self.queries,
            padding='max_length',
            max_length=max_len,
            truncation=True,
            return_tensors='pt',
        )

    @staticmethod
    def _norm(folder: Path) -> tuple[np.ndarray, np.ndarray]:
        mean, std = CLIP_MEAN, CLIP_STD
        pre = folder / 'preprocessor_config.json'
        if pre.is_file():
            data: dict[str, Any] = json.loads(pre.read_text())
            mean = tuple(data.get('image_mean', mean))
            std = tuple(data.get('image_std', std))
        return np.asarray(mean, np.float32), np.asarray(std, np.float32)

    def preprocess(self, rgb: np.ndarray) -> tuple[Any, float, float]:
        """pixel_values (1x3xSxS) and the scale from model pixels back to image pixels."""
        h, w = rgb.shape[:2]
        s = self.image_size
        if self.kind == 'owlv2':
            side = max(h, w)
            padded = np.full((side, side, 3), 127, np.uint8)  # OWLv2 pads with gray 0.5
            padded[:h, :w] = rgb
            img = cv2.resize(padded, (s, s), interpolation=cv2.INTER_AREA)
            sx = sy = side / s
        else:
            img = cv2.resize(rgb, (s, s), interpolation=cv2.INTER_AREA)
            sx, sy = w / s, h / s
        x = (img.astype(np.float32) / 255.0 - self.mean) / self.std
        pixel_values = self._torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None]
        return pixel_values, sx, sy

    def detect_2d(self, rgb: np.ndarray) -> list[tuple[tuple[int, int, int, int], int, float]]:
        """(box u0 v0 u1 v1 in image pixels, query index, score) after per-query NMS."""
        torch = self._torch
        pixel_values, sx, sy = self.preprocess(rgb)
        with torch.no_grad():
            out = self.model(
                input_ids=self.text['input_ids'],
                attention_mask=self.text['attention_mask'],
                pixel_values=pixel_values,
            )
        logits = out.logits[0].float().numpy()  # (boxes, queries)
        boxes = out.pred_boxes[0].float().numpy()  # (boxes, 4) cx cy w h in 0..1
        scores = 1.0 / (1.0 + np.exp(-logits))
        best_q = scores.argmax(axis=1)
        best_s = scores[np.arange(len(scores)), best_q]
        s = self.image_size
        cx, cy, bw, bh = (boxes[:, i] * s for i in range(4))
        u0, v0 = (cx - bw / 2) * sx, (cy - bh / 2) * sy
        u1, v1 = (cx + bw / 2) * sx, (cy + bh / 2) * sy
        h, w = rgb.shape[:2]
        out_boxes = []
        for q in range(len(self.queries)):
            idx = np.nonzero((best_q == q) & (best_s >= self.score_threshold))[0]
            if len(idx) == 0:
                continue
            rects = [
                [float(u0[i]), float(v0[i]), float(u1[i] - u0[i]), float(v1[i] - v0[i])]
                for i in idx
            ]
            keep = cv2.dnn.NMSBoxes(rects, [float(best_s[i]) for i in idx], 0.0, self.nms_iou)
            for k in np.asarray(keep).reshape(-1):
                i = idx[int(k)]
                box = (
                    int(np.clip(u0[i], 0, w - 1)),
                    int(np.clip(v0[i], 0, h - 1)),
                    int(np.clip(u1[i], 0, w - 1)),
                    int(np.clip(v1[i], 0, h - 1)),
                )
                if box[2] > box[0] and box[3] > box[1]:
                    out_boxes.append((box, q, float(best_s[i])))
        return out_boxes

    def detect(
        self, frame: RgbdFrame, now: float | None = None, exclude: Exclude | None = None
    ) -> DetectionResult:
        """Like `ObjectDetector.detect`, with the model's boxes instead of colour clusters."""
        cfg = self.config
        geo = self.geometry
        t0 = time.perf_counter()
        validate_frame(frame, now=now, max_future=cfg.max_future)
        assert frame.intrinsics is not None and frame.camera_pose is not None
        points, pix, _ = geo.back_project(frame.depth, frame.intrinsics, frame.camera_pose)
        plane = geo.find_support(points) if len(points) >= cfg.min_plane_points else None
        boxes = self.detect_2d(frame.rgb)
        t1 = time.perf_counter()
        detections = []
        if plane is not None:
            h = plane.height_of(points)
            above = (h > cfg.min_height) & (h < cfg.max_height)
            if exclude is not None:
                drop_excluded(above, points, exclude)
            s = cfg.stride
            rows, cols = pix[:, 0] * s, pix[:, 1] * s
            for (u0, v0, u1, v1), q, score in boxes:
                sel = np.nonzero(
                    above & (cols >= u0) & (cols <= u1) & (rows >= v0) & (rows <= v1)
                )[0]
                if len(sel) < cfg.min_cluster_points:
                    continue
                labels = geo._cluster(points[sel], np.zeros(len(sel), int))
                if labels.max(initial=-1) < 0:
                    continue
                biggest = np.bincount(labels[labels >= 0]).argmax()
                sel = sel[labels == biggest]
                if len(sel) < cfg.min_cluster_points:
                    continue
                entry = self.vocabulary.entries[q]
                # geometric check: the box's object must be about as tall as the label says
                top_h = float(np.percentile(h[sel], 98))
                if not 0.5 * entry.size[2] <= top_h <= 1.5 * entry.size[2] + 0.01:
                    continue
                det = geo.fit(entry, points[sel], pix[sel], frame, score, entry.color)
                if det.confidence >= cfg.min_confidence:
                    detections.append(det)
        detections = geo._assign_ids(detections)
        timings = {'model': 1e3 * (t1 - t0), 'total': 1e3 * (time.perf_counter() - t0)}
        return DetectionResult(detections, plane, frame.stamp, timings)
