"""The entry-point loop shared by the hardware-facing nodes (`mujoco_sim`, `hardware`).

The node owns worker threads (`start`/`stop`, `_running`, `failed`); the executor serves its
callbacks until the node stops itself (a failed physics or bus thread) or the process is
interrupted. Exit codes: 0 stopped cleanly, 1 a worker thread failed, 2 bad parameters.
"""

from __future__ import annotations

from collections.abc import Callable
import sys
from typing import Any

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

__all__ = ['run_node']


def run_node(
    make_node: Callable[[], Any], name: str, startup_errors: tuple[type[Exception], ...]
) -> int:
    """Build the node (after `rclpy.init`), spin it until it stops, tear everything down."""
    node = None
    executor = MultiThreadedExecutor(num_threads=2)
    try:
        try:
            node = make_node()
        except (
            *startup_errors,
            rclpy.exceptions.InvalidParameterValueException,
            rclpy.exceptions.InvalidParameterTypeException,
        ) as exc:
            print(f'[{name}] startup failed: {exc}', file=sys.stderr)
            return 2
        executor.add_node(node)
        node.start()
        while rclpy.ok() and node._running.is_set():
            executor.spin_once(timeout_sec=0.1)
        return 1 if node.failed else 0
    except (KeyboardInterrupt, ExternalShutdownException):
        return 0
    finally:
        if node is not None:
            node.stop()
            executor.remove_node(node)
            node.destroy_node()
        executor.shutdown()
        if rclpy.ok():
            rclpy.shutdown()
