"""Observer.wait_world_settled: a task starts only once the world model's object list has
stopped changing (right after start-up it knew the containers but not yet the cubes)."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

pytest.importorskip('rclpy')
from humanoid_bringup.observer import Observer


def _world(*ids: str) -> SimpleNamespace:
    return SimpleNamespace(objects=[SimpleNamespace(id=i) for i in ids])


def _observer() -> Observer:
    obs = Observer.__new__(Observer)  # no ROS node: only the world state is used here
    obs._lock = threading.Lock()
    obs.world = None
    return obs


def test_waits_until_the_object_list_is_quiet():
    obs = _observer()

    def perception() -> None:
        for ids, delay in ((('bin', 'tray'), 0.2), (('bin', 'red_cube', 'tray'), 0.4)):
            time.sleep(delay)
            with obs._lock:
                obs.world = _world(*ids)

    threading.Thread(target=perception, daemon=True).start()
    t0 = time.monotonic()
    ids = obs.wait_world_settled(quiet=0.5, timeout=10.0)
    took = time.monotonic() - t0
    assert ids == ('bin', 'red_cube', 'tray')
    assert 1.0 <= took < 5.0  # the last change at ~0.6 s, then 0.5 s quiet


def test_an_empty_world_is_not_settled_and_the_timeout_returns():
    obs = _observer()
    t0 = time.monotonic()
    assert obs.wait_world_settled(quiet=0.2, timeout=0.6) == ()
    assert time.monotonic() - t0 >= 0.6
