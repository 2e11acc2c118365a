"""humanoid_ros.executors: `spin_until_shutdown` ends quietly on a shutdown race and raises a
real error; `SideNode` delivers messages on its own thread."""

from __future__ import annotations

import threading
import time

import pytest

rclpy = pytest.importorskip('rclpy')
from humanoid_ros.executors import SideNode, spin_until_shutdown  # noqa: E402
from rclpy.executors import SingleThreadedExecutor  # noqa: E402
from std_msgs.msg import String  # noqa: E402


@pytest.fixture
def context():
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    try:
        yield ctx
    finally:
        ctx.try_shutdown()


def _spin_with(context, callback) -> BaseException | None:
    """Spin a node whose timer runs `callback` once; returns what spin_until_shutdown raised."""
    node = rclpy.create_node('spin_test', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    node.create_timer(0.01, callback)
    raised: list[BaseException] = []

    def spin() -> None:
        try:
            spin_until_shutdown(node, executor)
        except BaseException as exc:  # reported to the test
            raised.append(exc)

    thread = threading.Thread(target=spin, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), 'spin_until_shutdown did not return'
    executor.shutdown()
    node.destroy_node()
    return raised[0] if raised else None


def test_error_during_shutdown_ends_quietly(context):
    # what rclpy raises when a message is taken while SIGINT shuts the context down
    def shutting_down() -> None:
        context.shutdown()
        raise RuntimeError("Unable to convert call argument '0' to Python object")

    assert _spin_with(context, shutting_down) is None


def test_interrupt_inside_deserialization_ends_quietly(context):
    # SIGINT's KeyboardInterrupt raised inside rclpy's deserialize_message comes out as a
    # TypeError caused by it (safety supervisor log, task benchmark)
    def interrupted() -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise TypeError('Unable to convert function return value to a Python type!') from exc

    assert _spin_with(context, interrupted) is None


def test_type_error_while_running_is_raised(context):
    def broken() -> None:
        raise TypeError('a real bug in a callback')

    raised = _spin_with(context, broken)
    assert isinstance(raised, TypeError) and 'real bug' in str(raised)


def test_error_while_running_is_raised(context):
    def broken() -> None:
        raise RuntimeError('a real bug in a callback')

    raised = _spin_with(context, broken)
    assert isinstance(raised, RuntimeError) and 'real bug' in str(raised)


def test_side_node_delivers_on_its_own_thread(context):
    side = SideNode('side_test', '', context)
    got: list[tuple[str, str]] = []

    def on_msg(msg: String) -> None:
        got.append((msg.data, threading.current_thread().name))

    side.node.create_subscription(String, 'side_test_topic', on_msg, 10)
    side.start()
    pub_node = rclpy.create_node('side_test_pub', context=context)
    pub = pub_node.create_publisher(String, 'side_test_topic', 10)
    try:
        deadline = time.monotonic() + 20
        while not got and time.monotonic() < deadline:
            pub.publish(String(data='hello'))
            time.sleep(0.05)
        assert got and got[0] == ('hello', 'side_test')
    finally:
        side.stop()
        pub_node.destroy_node()
