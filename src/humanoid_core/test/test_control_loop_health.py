"""LoopMonitor: a loop is steady only when its ticks keep the rate, without long gaps."""

from humanoid_core.control.loop_health import LoopMonitor
import pytest


def _ticks(mon: LoopMonitor, start: float, stop: float, period: float) -> float:
    t = start
    while t < stop - 1e-9:
        mon.tick(t)
        t += period
    return t


def test_regular_ticks_are_steady_and_a_gap_is_not():
    mon = LoopMonitor(period=0.01, window=1.0)
    assert mon.status(0.0)[0] is False  # no ticks yet
    t = _ticks(mon, 0.0, 2.0, 0.01)
    assert mon.status(t) == (True, '')
    assert mon.max_interval(t) == pytest.approx(0.01, abs=1e-6)
    # a 50 ms hole (an overloaded machine) makes it unsteady for one window
    t = _ticks(mon, t + 0.05, t + 0.3, 0.01)
    steady, why = mon.status(t)
    assert not steady and 'ms apart' in why
    t = _ticks(mon, t, t + 1.1, 0.01)
    assert mon.status(t)[0]
    # the loop stopped: the time since the last tick counts as a gap
    assert not mon.status(t + 0.2)[0]


def test_a_clock_reset_starts_afresh():
    mon = LoopMonitor(period=0.01, window=1.0)
    t = _ticks(mon, 10.0, 12.0, 0.01)
    assert mon.status(t)[0]
    _ticks(mon, 0.0, 0.3, 0.01)  # the simulator was reset: stamps start again at 0
    assert not mon.status(0.3)[0]  # too few ticks since the reset
    t = _ticks(mon, 0.3, 1.5, 0.01)
    assert mon.status(t)[0]


def test_a_slow_loop_is_not_steady():
    mon = LoopMonitor(period=0.01, window=1.0, max_gap=3.0)
    t = _ticks(mon, 0.0, 2.0, 0.025)  # 40 Hz instead of 100 Hz, no single long gap
    steady, why = mon.status(t)
    assert not steady and 'ticks in the last' in why


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match='period'):
        LoopMonitor(period=0.0)
    with pytest.raises(ValueError, match='max_gap'):
        LoopMonitor(period=0.01, max_gap=0.5)
