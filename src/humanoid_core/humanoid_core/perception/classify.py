"""Colour and shape classification, and the object vocabulary a detector labels with.

Colours: OpenCV HSV; a chromatic pixel takes the nearest hue centre of the vocabulary, an
achromatic one is white / gray / black by brightness (`ColorModel`). Shapes: the vocabulary's
entries (from the scene file: label, colour, shape, size) are matched against a cluster's
measured colour, height, footprint and fill ratio (`Vocabulary.match`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

__all__ = [
    'CONTAINER_SHAPE',
    'ColorModel',
    'Match',
    'Vocabulary',
    'VocabularyEntry',
    'VocabularyError',
    'default_vocabulary_file',
]

CONTAINER_SHAPE = 'container'
UNKNOWN = -1
_CONTAINER_TYPES = frozenset({'tray', 'bin', 'box', 'basket', 'container'})


class VocabularyError(ValueError):
    """A vocabulary or colour model that cannot be used; the message names the field."""


def default_vocabulary_file() -> Path:
    """`config/vocabulary.yaml` of the workspace (installed share or source tree)."""
    from humanoid_core import paths

    return paths.config_dir() / 'vocabulary.yaml'


@dataclass(frozen=True)
class ColorModel:
    """Pixel colour naming in HSV (see config/vocabulary.yaml)."""

    hue_centres: Mapping[str, float] = field(
        default_factory=lambda: {
            'red': 0.0,
            'orange': 14.0,
            'yellow': 28.0,
            'green': 62.0,
            'blue': 114.0,
            'purple': 141.0,
        }
    )
    min_saturation: float = 0.60
    max_gray_saturation: float = 0.22
    white_min_value: float = 0.80
    black_max_value: float = 0.18
    aliases: Mapping[str, str] = field(default_factory=lambda: {'grey': 'gray'})

    @property
    def names(self) -> tuple[str, ...]:
        """Colour names by class index (chromatic ones, then white, gray, black)."""
        return (*self.hue_centres, 'white', 'gray', 'black')

    def canonical(self, name: str) -> str:
        name = name.strip().lower()
        return self.aliases.get(name, name)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str = 'vocabulary') -> ColorModel:
        try:
            chrom = {str(k): float(v) for k, v in dict(data['chromatic']).items()}
            model = cls(
                hue_centres=chrom,
                min_saturation=float(data.get('min_saturation', 0.60)),
                max_gray_saturation=float(data.get('max_gray_saturation', 0.22)),
                white_min_value=float(data.get('white_min_value', 0.80)),
                black_max_value=float(data.get('black_max_value', 0.18)),
                aliases={str(k): str(v) for k, v in dict(data.get('aliases') or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise VocabularyError(f'{source}: colors: invalid colour model ({exc!r})') from None
        if not chrom:
            raise VocabularyError(f'{source}: colors.chromatic must name at least one colour')
        for name, hue in chrom.items():
            if not 0.0 <= hue <= 180.0:
                raise VocabularyError(
                    f'{source}: colors.chromatic.{name}: hue {hue} not in 0..180'
                )
        return model

    def classify(self, rgb: np.ndarray) -> np.ndarray:
        """Colour class index per pixel (HxW int8; -1 = unknown) of an RGB uint8 image."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f'expected an HxWx3 uint8 RGB image, got {rgb.dtype} {rgb.shape}')
        hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)
        h = hsv[..., 0].astype(np.float32)
        s = hsv[..., 1].astype(np.float32) / 255.0
        v = hsv[..., 2].astype(np.float32) / 255.0
        centres = np.array(list(self.hue_centres.values()), np.float32)
        # circular hue distance (OpenCV hue period: 180)
        d = np.abs(h[..., None] - centres[None, None, :])
        d = np.minimum(d, 180.0 - d)
        out = np.argmin(d, axis=-1).astype(np.int8)
        n = len(centres)
        out[s < self.min_saturation] = UNKNOWN
        gray = s <= self.max_gray_saturation
        out[gray] = n + 1
        out[gray & (v >= self.white_min_value)] = n
        out[gray & (v <= self.black_max_value)] = n + 2
        # very dark pixels have no reliable hue
        out[(v <= self.black_max_value) & ~gray] = UNKNOWN
        return out


@dataclass(frozen=True)
class VocabularyEntry:
    """One kind of object the detector can name.

    `id` is the scene's object name when it is unique (e.g. 'red_cube'); `size` the x, y, z
    extent (m) of the object's box (cylinder: diameter, diameter, height; container: outer
    extent and wall height)."""

    id: str
    label: str
    shape: str
    color: str
    size: tuple[float, float, float]
    is_container: bool = False

    @property
    def footprint(self) -> tuple[float, float]:
        """Footprint extents, larger first."""
        a, b = self.size[0], self.size[1]
        return (max(a, b), min(a, b))


@dataclass(frozen=True)
class Match:
    entry: VocabularyEntry
    cost: float
    confidence: float


@dataclass(frozen=True)
class Vocabulary:
    """The objects a detector may report, and the colour model."""

    entries: tuple[VocabularyEntry, ...]
    colors: ColorModel = field(default_factory=ColorModel)
    cylinder_max_fill: float = 0.88

    def __post_init__(self) -> None:
        names = self.colors.names
        for e in self.entries:
            if e.color and e.color not in names:
                raise VocabularyError(
                    f'vocabulary entry {e.id!r}: colour {e.color!r} is not in the colour model '
                    f'{list(names)}'
                )

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(e.label for e in self.entries)

    def color_index(self, name: str) -> int:
        return self.colors.names.index(self.colors.canonical(name))

    @classmethod
    def from_scene(
        cls,
        scene: Mapping[str, Any] | str | Path,
        vocabulary_file: str | Path | None = None,
    ) -> Vocabulary:
        """Entries from a scene's `objects` (a parsed dict, a scene name or a YAML path) and the
        colour/shape model from `vocabulary_file` (default: config/vocabulary.yaml)."""
        if not isinstance(scene, Mapping):
            from humanoid_core.world.scene import resolve_scene_path

            path = resolve_scene_path(scene)
            with open(path, encoding='utf-8') as f:
                scene = yaml.safe_load(f)
            if not isinstance(scene, Mapping):
                raise VocabularyError(f'{path}: expected a mapping at the top level')
        vfile = Path(vocabulary_file) if vocabulary_file else default_vocabulary_file()
        colors, cyl_fill = ColorModel(), 0.88
        if vfile.is_file():
            with open(vfile, encoding='utf-8') as f:
                vdata = yaml.safe_load(f) or {}
            if 'colors' in vdata:
                colors = ColorModel.from_dict(vdata['colors'], str(vfile))
            cyl_fill = float((vdata.get('shapes') or {}).get('cylinder_max_fill', cyl_fill))
        elif vocabulary_file is not None:
            raise VocabularyError(f'vocabulary file not found: {vfile}')
        entries = []
        for oid, spec in (scene.get('objects') or {}).items():
            if not isinstance(spec, Mapping):
                raise VocabularyError(f'objects.{oid}: expected a mapping')
            otype = str(spec.get('type', ''))
            color = spec.get('color', '')
            color = colors.canonical(color) if isinstance(color, str) else ''
            size = spec.get('size')
            if not isinstance(size, list | tuple) or len(size) != 3:
                raise VocabularyError(f'objects.{oid}.size: expected [x, y, z], got {size!r}')
            is_container = otype in _CONTAINER_TYPES
            label = spec.get('label') or oid.replace('_', ' ')
            entries.append(
                VocabularyEntry(
                    id=str(oid),
                    label=str(label),
                    shape=CONTAINER_SHAPE if is_container else otype,
                    color=color,
                    size=(float(size[0]), float(size[1]), float(size[2])),
                    is_container=is_container,
                )
            )
        return cls(tuple(entries), colors, cyl_fill)

    def match(
        self,
        color: str,
        height: float,
        footprint: tuple[float, float],
        fill: float,
        max_cost: float = 1.0,
    ) -> Match | None:
        """Best entry for a cluster: its dominant `color`, `height` above its support (m),
        visible `footprint` extents (larger first, m) and hull/rectangle `fill` ratio.

        The visible footprint may be smaller than the object (occlusion) but not much larger.
        Returns None when no entry's cost is below `max_cost`."""
        best: Match | None = None
        for e in self.entries:
            if e.color and e.color != color:
                continue
            ex, ey = e.footprint
            cost = abs(height - e.size[2]) / max(e.size[2], 0.02)
            # larger than the object: strong penalty; smaller (occluded): weak
            for seen, exp in ((footprint[0], ex), (footprint[1], ey)):
                rel = (seen - exp) / max(exp, 0.02)
                cost += 2.0 * rel if rel > 0.0 else 0.35 * -rel
            if (e.shape == 'cylinder' and fill > self.cylinder_max_fill) or (
                e.shape == 'cube' and fill < self.cylinder_max_fill
            ):
                cost += 0.3
            if cost < max_cost and (best is None or cost < best.cost):
                best = Match(e, cost, float(math.exp(-2.0 * cost)))
        return best
