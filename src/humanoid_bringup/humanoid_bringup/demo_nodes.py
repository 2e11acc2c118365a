"""Two tiny demo nodes (a talker and a listener on relative topic ``chatter``).

They exist to exercise the launcher end to end (namespaces, remaps, parameters, supervision)
and as a smoke test of a workspace: ``humanoid launch`` a file with both and the listener logs
``I heard: ...``.
"""

import sys

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor
import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from std_msgs.msg import String

# Commands-like stream: reliable, a short queue.
CHATTER_QOS_DEPTH = 10


class Talker(Node):
    """Publishes ``<message> <n>`` on ``chatter`` at ``rate_hz``."""

    def __init__(self) -> None:
        super().__init__('talker')
        self.rate_hz: float = self.declare_parameter(
            'rate_hz',
            10.0,
            ParameterDescriptor(
                description='Publishing rate in Hz.',
                floating_point_range=[
                    FloatingPointRange(from_value=0.1, to_value=1000.0, step=0.0)
                ],
            ),
        ).value
        self.message: str = self.declare_parameter(
            'message', 'Hello World', ParameterDescriptor(description='Text before the counter.')
        ).value
        self.count = 0
        self.publisher = self.create_publisher(String, 'chatter', CHATTER_QOS_DEPTH)
        self.timer = self.create_timer(1.0 / self.rate_hz, self.on_timer)

    def on_timer(self) -> None:
        self.count += 1
        msg = String(data=f'{self.message} {self.count}')
        self.publisher.publish(msg)
        self.get_logger().info(f'Publishing: "{msg.data}"')


class Listener(Node):
    """Logs ``I heard: <text>`` for every message on ``chatter``."""

    def __init__(self) -> None:
        super().__init__('listener')
        self.max_messages: int = self.declare_parameter(
            'max_messages',
            0,
            ParameterDescriptor(
                description='Exit (code 0) after this many messages; 0 = run until stopped.',
                integer_range=[IntegerRange(from_value=0, to_value=1_000_000, step=1)],
            ),
        ).value
        self.count = 0
        self.subscription = self.create_subscription(
            String, 'chatter', self.on_message, CHATTER_QOS_DEPTH
        )

    def on_message(self, msg: String) -> None:
        self.count += 1
        self.get_logger().info(f'I heard: "{msg.data}"')

    @property
    def done(self) -> bool:
        return self.max_messages > 0 and self.count >= self.max_messages


def _run(node_class: type[Talker] | type[Listener], argv: list[str] | None) -> int:
    rclpy.init(args=argv)
    node = None
    try:
        node = node_class()
        while rclpy.ok() and not getattr(node, 'done', False):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def talker_main(argv: list[str] | None = None) -> None:
    """Entry point ``demo_talker``."""
    sys.exit(_run(Talker, argv if argv is not None else sys.argv))


def listener_main(argv: list[str] | None = None) -> None:
    """Entry point ``demo_listener``."""
    sys.exit(_run(Listener, argv if argv is not None else sys.argv))
