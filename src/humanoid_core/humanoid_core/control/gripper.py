"""Grasp and release: gripper width commands and "holding" detection.

The gripper is commanded as one jaw width per hand (m, both fingers move symmetrically, see
DESIGN.md). To grasp an object of width w the controller opens to `pre_grasp_width(w)`,
approaches, then closes to `grasp_width(w)` (a little narrower than the object, so the
position servos squeeze it). `HoldingDetector` decides from the measured width (and, when
available, the finger contact forces) whether something is held: the jaw was commanded
narrower than it is, it stopped short of closed, and (with forces) both fingers press. The
decision is debounced over a few samples so a transient does not flip it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import math

__all__ = ['GripperParams', 'HoldState', 'HoldingDetector', 'grasp_width', 'pre_grasp_width']


@dataclass(frozen=True)
class GripperParams:
    """Jaw range (m), grasp margins (m), contact threshold (N) and debounce (samples)."""

    max_width: float = 0.09
    min_width: float = 0.0
    open_margin: float = 0.02
    squeeze: float = 0.01
    width_tolerance: float = 0.004
    contact_force: float = 2.0
    debounce: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.max_width) and self.max_width > self.min_width >= 0.0):
            raise ValueError(
                f'GripperParams needs max_width > min_width >= 0, got {self.max_width}, '
                f'{self.min_width}'
            )
        for name in ('open_margin', 'squeeze', 'width_tolerance', 'contact_force'):
            if not getattr(self, name) >= 0.0:
                raise ValueError(f'GripperParams.{name} must be >= 0, got {getattr(self, name)}')
        if self.debounce < 1:
            raise ValueError(f'GripperParams.debounce must be >= 1, got {self.debounce}')


def _check_width(object_width: float, params: GripperParams) -> None:
    if not math.isfinite(object_width) or object_width <= 0.0:
        raise ValueError(f'object width must be a positive number of metres, got {object_width}')
    if object_width > params.max_width:
        raise ValueError(
            f'object width {object_width:.3f} m exceeds the gripper opening '
            f'{params.max_width:.3f} m'
        )


def pre_grasp_width(object_width: float, params: GripperParams | None = None) -> float:
    """Opening (m) for the approach: the object plus a margin, within the jaw range."""
    p = params or GripperParams()
    _check_width(object_width, p)
    return min(p.max_width, object_width + p.open_margin)


def grasp_width(object_width: float, params: GripperParams | None = None) -> float:
    """Closing command (m): narrower than the object by `squeeze` (the servo force holds it)."""
    p = params or GripperParams()
    _check_width(object_width, p)
    return max(p.min_width, object_width - p.squeeze)


@dataclass(frozen=True)
class HoldState:
    """Whether an object is held, the measured jaw width (m) and why."""

    holding: bool
    width: float
    reason: str


class HoldingDetector:
    """Debounced "holding" decision from commanded/measured width and finger forces."""

    def __init__(self, params: GripperParams | None = None) -> None:
        self.params = params or GripperParams()
        self._count = 0
        self.state = HoldState(False, math.nan, 'no sample yet')

    def reset(self) -> None:
        self._count = 0
        self.state = HoldState(False, math.nan, 'reset')

    def update(
        self,
        commanded_width: float,
        measured_width: float,
        finger_forces: Sequence[float] | None = None,
    ) -> HoldState:
        """Feed one sample; returns the (debounced) state."""
        p = self.params
        if not (math.isfinite(commanded_width) and math.isfinite(measured_width)):
            raise ValueError(
                f'gripper widths must be finite, got {commanded_width}, {measured_width}'
            )
        blocked = measured_width > commanded_width + p.width_tolerance
        not_closed = measured_width > p.min_width + p.width_tolerance
        if finger_forces is None:
            pressing = True
        else:
            forces = [float(f) for f in finger_forces]
            pressing = bool(forces) and min(forces) >= p.contact_force
        if not blocked:
            reason = 'jaw reached its command (nothing in between)'
        elif not not_closed:
            reason = 'jaw fully closed'
        elif not pressing:
            reason = 'fingers not pressing on both sides'
        else:
            reason = 'jaw stopped by an object'
        candidate = blocked and not_closed and pressing
        self._count = self._count + 1 if candidate else 0
        holding = self._count >= p.debounce
        if candidate and not holding:
            reason = 'contact, confirming'
        self.state = HoldState(holding, float(measured_width), reason)
        return self.state
