"""A helper node whose callbacks run on their own executor thread (rclpy's events executor
where available, else a single-threaded one; HUMANOID_WAITSET_EXECUTOR=1 forces the latter for
A/B measurements).

Latency-critical subscriptions (a controller's sensors, a simulator's commands) go here instead
of the main node's multi-threaded executor: there they were delivered tens to hundreds of ms
late (measured in the simulator: 50-280 ms gaps between trajectories), the executor competing
for the GIL with the process's other threads.
"""

from __future__ import annotations

import os
import threading

import rclpy
from rclpy.context import Context
from rclpy.executors import Executor, ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node

__all__ = ['SideNode', 'spin_until_shutdown']


def spin_until_shutdown(node: Node, executor: Executor | None = None) -> None:
    """Spin `node` (on `executor`, else rclpy's global one) until the context shuts down
    (SIGINT/SIGTERM, `rclpy.shutdown`), returning normally then.

    A shutdown race is not a node failure: on a loaded machine, a message the executor takes
    while SIGINT shuts the context down fails inside rclpy with `RuntimeError: Unable to convert
    call argument '0' to Python object` (the same as ros/joint_state_publisher#117). Nodes exited
    with code 1 and a traceback at the end of 16 of 358 launches (benchmark logs). Such an
    error once the context is down ends the spin quietly; while it is still up it is raised.
    The same for the `TypeError: Unable to convert function return value` that
    `deserialize_message` raises when SIGINT's KeyboardInterrupt lands inside it (the safety
    supervisor, taking trajectories raw, at the end of a task benchmark run): one caused by a
    KeyboardInterrupt is a shutdown too.
    """
    try:
        if executor is None:
            rclpy.spin(node)
        else:
            executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (RuntimeError, TypeError) as exc:
        if node.context.ok() and not isinstance(exc.__cause__, KeyboardInterrupt):
            raise


def _executor(context: Context) -> Executor:
    if os.environ.get('HUMANOID_WAITSET_EXECUTOR'):  # A/B comparisons
        return SingleThreadedExecutor(context=context)
    try:
        from rclpy.experimental import EventsExecutor
    except ImportError:
        return SingleThreadedExecutor(context=context)
    return EventsExecutor(context=context)


class SideNode:
    """`node` (named `name` in `namespace`) spun by a daemon thread between `start` and
    `stop`; create its subscriptions before `start`."""

    def __init__(self, name: str, namespace: str, context: Context) -> None:
        self.context = context
        self.node: Node = rclpy.create_node(name, namespace=namespace, context=context)
        # The events executor (C++ event queue) when this rclpy has it: the wait-set executor
        # rebuilds its wait set in Python on every wake-up, which at a few hundred messages
        # per second cost more CPU than the callbacks. A side node has subscriptions only (no
        # timers, so the events executor's missing sim-time timers do not matter).
        self._executor = _executor(context)
        self._executor.add_node(self.node)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._spin, name=name, daemon=True)
        self._destroyed = False

    def start(self) -> None:
        self._thread.start()

    def _spin(self) -> None:
        try:
            while not self._stop.is_set() and rclpy.ok(context=self.context):
                self._executor.spin_once(timeout_sec=0.1)
        except (ExternalShutdownException, KeyboardInterrupt):
            pass
        except Exception as exc:  # the context going away under a last spin_once
            if not self._stop.is_set():
                self.node.get_logger().error(f'{self.node.get_name()} thread failed: {exc!r}')

    def stop(self) -> None:
        """Join the thread, destroy the node (idempotent)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        if not self._destroyed:
            self._destroyed = True
            self._executor.shutdown()
            self.node.destroy_node()
