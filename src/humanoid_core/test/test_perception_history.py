"""StampedHistory: the sample nearest to a stamp, clock resets, bounds."""

from humanoid_core.perception.history import StampedHistory
import pytest


def test_nearest_sample_by_stamp():
    h: StampedHistory[str] = StampedHistory(maxlen=100)
    assert h.nearest(1.0) is None and h.latest() is None
    for k in range(10):
        h.append(0.004 * k, f's{k}')
    assert h.nearest(0.0131) == (pytest.approx(0.012), 's3')
    assert h.nearest(0.0141) == (pytest.approx(0.016), 's4')
    assert h.nearest(-5.0)[1] == 's0'  # before the history: the oldest
    assert h.nearest(5.0)[1] == 's9'  # after it: the newest
    assert h.latest() == 's9' and len(h) == 10


def test_bounded_and_reset_by_a_clock_jump():
    h: StampedHistory[int] = StampedHistory(maxlen=3)
    for k in range(5):
        h.append(float(k), k)
    assert len(h) == 3 and h.nearest(0.0) == (2.0, 2)
    h.append(0.5, 99)  # the simulator was reset: stamps start again
    assert len(h) == 1 and h.nearest(3.0) == (0.5, 99)
    with pytest.raises(ValueError, match='maxlen'):
        StampedHistory(maxlen=0)
