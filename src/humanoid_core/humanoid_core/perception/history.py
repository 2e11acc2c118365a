"""A short history of stamped samples, looked up by the stamp nearest to a time.

The detector's camera pose comes from joint_states and odom. Taken from the newest samples
instead of the ones stamped like the image, the pose is off by however far the robot moved
between the exposure and the processing (~0.1-0.3 s later while walking): objects were placed
in the wrong spot and the world model grew duplicate tracks (bin, bin_3, ... bin_6 after a
walk to the station). This is what a tf2 lookup at the image stamp does on a full ROS install.
"""

from __future__ import annotations

import bisect
from collections import deque
import threading
from typing import Generic, TypeVar

__all__ = ['StampedHistory']

T = TypeVar('T')


class StampedHistory(Generic[T]):
    """The last `maxlen` (stamp, value) samples; stamps in seconds, appended in order.
    Thread-safe: one thread appends (a sensor callback), another looks up."""

    def __init__(self, maxlen: int = 500) -> None:
        if maxlen < 1:
            raise ValueError(f'StampedHistory needs maxlen >= 1, got {maxlen}')
        self._items: deque[tuple[float, T]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, stamp: float, value: T) -> None:
        """Add a sample; a stamp older than the newest one (a clock reset) clears the rest."""
        with self._lock:
            if self._items and stamp < self._items[-1][0]:
                self._items.clear()
            self._items.append((stamp, value))

    def __len__(self) -> int:
        return len(self._items)

    def latest(self) -> T | None:
        with self._lock:
            return self._items[-1][1] if self._items else None

    def nearest(self, stamp: float) -> tuple[float, T] | None:
        """The sample whose stamp is closest to `stamp` (None when empty)."""
        with self._lock:
            items = list(self._items)
        if not items:
            return None
        times = [t for t, _ in items]
        k = bisect.bisect_left(times, stamp)
        if k == 0:
            return items[0]
        if k == len(items):
            return items[-1]
        before, after = items[k - 1], items[k]
        return before if stamp - before[0] <= after[0] - stamp else after
