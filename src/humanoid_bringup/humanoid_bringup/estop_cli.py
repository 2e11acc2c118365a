"""`humanoid estop`: engage (default) or release (`--release`) the e-stop, or show the safety
status (`--status`).

Publishes on `estop` (std_msgs/Bool, TRANSIENT_LOCAL) and also calls the supervisor's `estop`
service (std_srvs/SetBool) when it is available, then waits until `safety/status` shows the new
state. Exit 0 only when the supervisor confirmed; 1 with a message saying so when no
supervisor answered within `--timeout`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

__all__ = ['format_status', 'main']


def format_status(msg) -> str:
    """One-line human-readable summary of a humanoid_interfaces/SafetyStatus."""
    parts = [
        f'e-stop: {"ENGAGED" if msg.estopped else "released"}',
        f'joint measurements: {"yes" if msg.ready else "NONE YET (commands rejected)"}',
        f'holding: {"yes (" + msg.reason + ")" if msg.holding else "no"}',
        f'dead nodes: {", ".join(msg.dead_nodes) if msg.dead_nodes else "none"}',
        f'rejected commands: {msg.rejected_commands}',
    ]
    if msg.last_rejection:
        parts.append(f'last rejection: {msg.last_rejection}')
    return '; '.join(parts)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='humanoid estop',
        description='Engage the e-stop (default), release it, or show the safety status. '
        'The e-stop stays engaged until released.',
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--release', action='store_true', help='release the e-stop')
    mode.add_argument('--status', action='store_true', help='print the safety status')
    parser.add_argument(
        '--timeout', type=float, default=5.0, help='s to wait for the supervisor (default 5)'
    )
    parser.add_argument('--namespace', default='', help='robot namespace, e.g. robot1')
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    if not args.timeout > 0.0:
        print('humanoid estop: --timeout must be > 0', file=sys.stderr)
        return 2
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')

    import rclpy
    from rclpy.node import Node
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
    from std_msgs.msg import Bool
    from std_srvs.srv import SetBool

    from humanoid_interfaces.msg import SafetyStatus

    latched = QoSProfile(
        depth=1,
        reliability=ReliabilityPolicy.RELIABLE,
        durability=DurabilityPolicy.TRANSIENT_LOCAL,
    )
    rclpy.init(args=None)
    node = Node(f'humanoid_estop_{os.getpid()}', namespace=args.namespace or None)
    latest: list = []
    node.create_subscription(SafetyStatus, 'safety/status', latest.append, latched)
    deadline = time.monotonic() + args.timeout
    try:
        if args.status:
            while not latest and time.monotonic() < deadline:
                rclpy.spin_once(node, timeout_sec=0.05)
            if not latest:
                print(
                    f'humanoid estop: no safety supervisor answered on safety/status within '
                    f'{args.timeout:g} s (is the stack running, same ROS_DOMAIN_ID?)',
                    file=sys.stderr,
                )
                return 1
            print(format_status(latest[-1]))
            return 0

        engage = not args.release
        pub = node.create_publisher(Bool, 'estop', latched)
        pub.publish(Bool(data=engage))
        client: Any = node.create_client(SetBool, 'estop')
        future: Any = None
        while time.monotonic() < deadline:
            if future is None and client.service_is_ready():
                future = client.call_async(SetBool.Request(data=engage))
            if latest and latest[-1].estopped == engage and (future is None or future.done()):
                break
            rclpy.spin_once(node, timeout_sec=0.02)
        what = 'engaged' if engage else 'released'
        if latest and latest[-1].estopped == engage:
            print(
                f'e-stop {what} (confirmed by the safety supervisor): {format_status(latest[-1])}'
            )
            return 0
        if latest:
            print(
                f'humanoid estop: the supervisor did not confirm the e-stop {what} within '
                f'{args.timeout:g} s; status: {format_status(latest[-1])}',
                file=sys.stderr,
            )
        else:
            print(
                f'humanoid estop: no safety supervisor answered within {args.timeout:g} s '
                f'(published on estop anyway; it stays latched only while this command runs). '
                'Is the stack running, with the same ROS_DOMAIN_ID?',
                file=sys.stderr,
            )
        return 1
    finally:
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()


if __name__ == '__main__':
    sys.exit(main())
