"""The simulator's run-long histogram of command ages (logged at shutdown)."""

from __future__ import annotations

from humanoid_hardware.mujoco_sim_node import LATE_COMMAND, AgeHistogram
import pytest


def test_quantiles_late_fraction_and_text() -> None:
    h = AgeHistogram()
    # whole physics steps with float noise either side, as backend.time - stamp gives them
    ages = [0.007 + 1e-12] * 50 + [0.007 - 1e-12] * 40 + [0.020] * 5 + [0.021] * 4 + [0.9]
    for a in ages:
        h.add(a)
    assert h.count == 100
    assert h.quantile(0.5) == pytest.approx(0.007)
    assert h.quantile(0.95) == pytest.approx(0.020)
    assert h.quantile(0.99) == pytest.approx(0.021)
    assert h.max == pytest.approx(0.9)  # kept exactly although past the last bin
    # "over 20 ms": 21 ms and 0.9 s, not 20 ms itself
    assert h.fraction_over(LATE_COMMAND) == pytest.approx(0.05)
    text = str(h)
    assert text.startswith('100 commands, median 7 ms, p95 20 ms, p99 21 ms, max 900.0 ms')
    assert text.endswith('5.0% over 20 ms')


def test_empty_and_negative_ages() -> None:
    h = AgeHistogram()
    assert h.fraction_over(LATE_COMMAND) == 0.0
    h.add(-0.002)  # a stamp ahead of the simulator's clock counts as on time
    assert h.quantile(0.5) == 0.0 and h.fraction_over(LATE_COMMAND) == 0.0
