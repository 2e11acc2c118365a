"""Is a control loop keeping its rate? Tick regularity over a sliding wall-clock window.

A dynamic gait started while the machine is overloaded (a stack still importing and
warming up: ticks 30-300 ms apart, commands arriving late) falls within its first steps;
measured over ROS on the 2-core development machine, walks sent seconds after launch fell
where the same walks 30 s later arrived. `LoopMonitor` tells the controller node when the
loop is steady enough to start walking.
"""

from __future__ import annotations

from collections import deque
import itertools

__all__ = ['LoopMonitor']


class LoopMonitor:
    """Ticks of a loop with nominal `period` (s) seen over the last `window` seconds.

    Times are whatever clock the loop runs on (the controller node: the joint_states stamps,
    so a simulator running slower or faster than real time is judged in its own time). A
    clock that jumps back (a simulator reset) starts the record afresh.

    Steady: at least `min_fill` of the nominal tick count arrived in the window, and no two
    consecutive ticks (nor the last tick and now) are more than `max_gap` periods apart.
    """

    def __init__(
        self, period: float, window: float = 1.0, max_gap: float = 3.0, min_fill: float = 0.9
    ) -> None:
        if not period > 0.0 or not window >= period:
            raise ValueError(f'LoopMonitor needs 0 < period <= window, got {period}, {window}')
        if not max_gap >= 1.0 or not 0.0 < min_fill <= 1.0:
            raise ValueError('LoopMonitor needs max_gap >= 1 and 0 < min_fill <= 1')
        self.period = period
        self.window = window
        self.max_gap = max_gap
        self.min_fill = min_fill
        self._ticks: deque[float] = deque()

    def tick(self, now: float) -> None:
        """Record a tick at time `now` (s)."""
        self._advance(now)
        self._ticks.append(now)

    def _advance(self, now: float) -> None:
        """Forget a record from before a clock jump back, and the ticks out of the window
        (all but one: the first gap inside the window is measured from it)."""
        if self._ticks and now < self._ticks[-1]:
            self._ticks.clear()
        while len(self._ticks) > 1 and self._ticks[1] < now - self.window:
            self._ticks.popleft()

    def status(self, now: float) -> tuple[bool, str]:
        """(steady, why not) at time `now`."""
        self._advance(now)
        ticks = [t for t in self._ticks if t >= now - self.window]
        expected = self.window / self.period
        if len(ticks) < self.min_fill * expected:
            return False, f'{len(ticks)} of {expected:.0f} ticks in the last {self.window:g} s'
        worst = self.max_interval(now)
        if worst > self.max_gap * self.period:
            period_ms = 1e3 * self.period
            return False, f'ticks up to {1e3 * worst:.0f} ms apart (period {period_ms:.0f} ms)'
        return True, ''

    def max_interval(self, now: float) -> float:
        """Longest time between ticks in the window (s; the window itself when empty)."""
        self._advance(now)
        if not self._ticks:
            return self.window
        return max(b - a for a, b in itertools.pairwise([*self._ticks, now]))
