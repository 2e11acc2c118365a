"""Ankle balance feedback: separate roll gains, gain validation."""

from __future__ import annotations

import math

from humanoid_core.control.balance import AnkleBalance, BalanceGains
from humanoid_core.control.walking import WalkingParams
import numpy as np
import pytest


def _quat(roll: float, pitch: float) -> np.ndarray:
    """(w, x, y, z) of a roll about x then a pitch about y."""
    cr, sr = math.cos(roll / 2), math.sin(roll / 2)
    cp, sp = math.cos(pitch / 2), math.sin(pitch / 2)
    return np.array([cr * cp, sr * cp, cr * sp, -sr * sp])


def test_roll_gains_default_to_the_tilt_gains_and_can_differ() -> None:
    q = _quat(0.05, 0.05)
    still = np.zeros(3)
    same = AnkleBalance(BalanceGains(tilt_kp=1.0, tilt_kd=0.0, hip_ratio=0.0))
    out = same.corrections(q, still)
    assert out['left_ankle_roll_joint'] == pytest.approx(out['left_ankle_pitch_joint'], rel=0.05)
    split = AnkleBalance(BalanceGains(tilt_kp=1.0, tilt_kd=0.0, roll_kp=2.0, hip_ratio=0.0))
    out2 = split.corrections(q, still)
    assert out2['left_ankle_pitch_joint'] == pytest.approx(out['left_ankle_pitch_joint'])
    assert out2['right_ankle_roll_joint'] == pytest.approx(2.0 * out['right_ankle_roll_joint'])
    # the roll rate goes through roll_kd
    rate = AnkleBalance(BalanceGains(tilt_kp=0.0, tilt_kd=0.0, roll_kd=0.5, hip_ratio=0.0))
    out3 = rate.corrections(_quat(0.0, 0.0), np.array([0.2, 0.3, 0.0]))
    assert out3['left_ankle_roll_joint'] == pytest.approx(0.1)
    assert out3['left_ankle_pitch_joint'] == pytest.approx(0.0)


def test_walking_uses_softer_pitch_than_roll_feedback() -> None:
    g = WalkingParams().balance
    assert g.roll_kp is not None and g.tilt_kp < g.roll_kp


@pytest.mark.parametrize('field', ['roll_kp', 'roll_kd', 'tilt_kp'])
def test_negative_or_nan_gains_are_rejected(field: str) -> None:
    for bad in (-1.0, float('nan')):
        with pytest.raises(ValueError, match=field):
            BalanceGains(**{field: bad})
