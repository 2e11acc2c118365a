"""Grasp widths and holding detection."""

from __future__ import annotations

from humanoid_core.control.gripper import (
    GripperParams,
    HoldingDetector,
    grasp_width,
    pre_grasp_width,
)
import pytest


def test_grasp_widths_bracket_the_object():
    assert pre_grasp_width(0.05) == pytest.approx(0.07)
    assert grasp_width(0.05) == pytest.approx(0.04)
    assert pre_grasp_width(0.085) == pytest.approx(0.09)  # clipped to the jaw range
    with pytest.raises(ValueError, match='exceeds the gripper opening'):
        grasp_width(0.2)
    with pytest.raises(ValueError, match='positive'):
        pre_grasp_width(-0.01)


def test_holding_is_detected_when_the_jaw_is_blocked():
    det = HoldingDetector(GripperParams(debounce=3))
    # Closing on a 5 cm cube: command 4 cm, jaw stops at 5 cm, fingers press.
    states = [det.update(0.04, 0.05, (5.0, 6.0)) for _ in range(3)]
    assert [s.holding for s in states] == [False, False, True]
    assert states[-1].reason == 'jaw stopped by an object'
    # The object slips out: the jaw closes fully -> not holding, at once.
    s = det.update(0.04, 0.0405, (0.0, 0.0))
    assert not s.holding


def test_no_false_positive_on_empty_or_open_gripper():
    det = HoldingDetector()
    for _ in range(5):
        assert not det.update(0.0, 0.001).holding  # closed on nothing
    assert det.state.reason == 'jaw reached its command (nothing in between)'
    for _ in range(5):
        assert not det.update(0.08, 0.08).holding  # open
    for _ in range(5):  # blocked but only one finger touches (e.g. pushing the object)
        assert not det.update(0.02, 0.05, (4.0, 0.1)).holding
    assert det.state.reason == 'fingers not pressing on both sides'
    with pytest.raises(ValueError, match='finite'):
        det.update(float('nan'), 0.0)
