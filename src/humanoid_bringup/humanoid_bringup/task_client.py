"""`humanoid task "<instruction>"`: an ExecuteTask action client with a live progress display.

Exit status: 0 on SUCCESS; otherwise 1 and the error_code name is printed (e.g.
``UNKNOWN_OBJECT``); 3 when no action server answers, or when it disappears while the task
runs (the task planner died: DDS notices within its liveliness lease, up to ~20 s after a
crash); 4 on a client-side timeout (the goal is canceled first); 130 on Ctrl-C (the goal is
canceled first).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import threading
import time
from typing import Any

from rich.console import Console

from humanoid_bringup.task_view import TaskView

EXIT_SERVER_MISSING = 3
EXIT_TIMEOUT = 4


class ServerWatch:
    """Notices an action server that disappears while a goal runs (its process died): the
    result would never come, and a client waiting for it would wait out its whole timeout.
    `lost()` is true once the server has not been ready for `grace` s (checked at most every
    `period` s: the check reads the ROS graph)."""

    def __init__(self, client: Any, grace: float = 3.0, period: float = 0.5) -> None:
        self.client, self.grace, self.period = client, grace, period
        self.checked = -1e9
        self.gone_since: float | None = None

    def lost(self) -> bool:
        now = time.monotonic()
        if now - self.checked >= self.period:
            self.checked = now
            try:
                ready = self.client.server_is_ready()
            except Exception:  # the client's node destroyed (shutting down): nothing to wait for
                return True
            if ready:
                self.gone_since = None
            elif self.gone_since is None:
                self.gone_since = now
        return self.gone_since is not None and now - self.gone_since > self.grace


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid task',
        description='Send a natural-language task to the robot (action `execute_task`).',
    )
    p.add_argument('instruction', help='what to do, in plain words (quote it)')
    p.add_argument('--dry-run', action='store_true', help='plan and validate only; nothing moves')
    p.add_argument(
        '--require-approval',
        action='store_true',
        help='ask the planner to wait for approval before executing',
    )
    p.add_argument(
        '--approve',
        action='store_true',
        help='approve the plan from this client when the planner asks (implies '
        '--require-approval: the plan is shown before anything moves)',
    )
    p.add_argument(
        '--timeout',
        type=float,
        default=600.0,
        metavar='S',
        help='give up (and cancel the goal) after S seconds (default: 600)',
    )
    p.add_argument(
        '--server-timeout',
        type=float,
        default=10.0,
        metavar='S',
        help='how long to wait for the action server to appear (default: 10)',
    )
    p.add_argument('--namespace', default='', help='robot namespace, e.g. robot1 (default: none)')
    p.add_argument('--json', action='store_true', help='print the result as JSON only')
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.instruction.strip():
        print(
            'humanoid task: the instruction is empty; say what the robot should do, e.g. '
            '\'humanoid task "put the red cube in the tray"\'',
            file=sys.stderr,
        )
        return 2
    if args.timeout <= 0:
        print('humanoid task: --timeout must be > 0 seconds', file=sys.stderr)
        return 2

    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor

    from humanoid_interfaces.action import ExecuteTask
    from humanoid_interfaces.srv import ApproveTask

    console = Console(stderr=args.json)
    rclpy.init(args=None)
    node = rclpy.create_node('humanoid_task_cli', namespace=args.namespace or None)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spin_thread = threading.Thread(target=executor.spin, daemon=True)
    spin_thread.start()
    client: ActionClient = ActionClient(node, ExecuteTask, 'execute_task')
    approve_client: Any = node.create_client(ApproveTask, 'approve_task')
    view = TaskView(console, args.instruction, quiet=args.json)
    rc = 1
    goal_handle = None
    try:
        if not client.wait_for_server(timeout_sec=args.server_timeout):
            ns = f' in namespace /{args.namespace}' if args.namespace else ''
            console.print(
                f'[red]No task planner answers on action `execute_task`{ns} '
                f'(waited {args.server_timeout:.0f} s).[/red]\n'
                'Fix: start the stack first, e.g. '
                '`humanoid launch launch/humanoid.launch.xml sim:=mujoco`, and check '
                'ROS_DOMAIN_ID matches (`humanoid doctor`).'
            )
            return EXIT_SERVER_MISSING
        goal = ExecuteTask.Goal()
        goal.instruction = args.instruction
        goal.dry_run = args.dry_run
        goal.require_approval = args.require_approval or args.approve
        approval_sent = threading.Event()

        def on_feedback(msg: object) -> None:
            fb = msg.feedback  # type: ignore[attr-defined]
            view.update(fb)
            awaiting = fb.state == ExecuteTask.Feedback.STATE_AWAITING_APPROVAL
            if awaiting and args.approve and not approval_sent.is_set():
                approval_sent.set()
                req = ApproveTask.Request()
                req.approve = True
                req.approver = f'cli:{getpass.getuser()}'
                approve_client.call_async(req)

        view.start()
        send_future = client.send_goal_async(goal, feedback_callback=on_feedback)
        deadline = time.monotonic() + args.timeout
        while not send_future.done():
            if time.monotonic() > deadline:
                raise TimeoutError
            time.sleep(0.02)
        goal_handle = send_future.result()
        if goal_handle is None or not goal_handle.accepted:
            view.stop()
            console.print('[red]The task planner rejected the goal (busy or shutting down).[/red]')
            return 1
        result_future = goal_handle.get_result_async()
        watch = ServerWatch(client)
        while not result_future.done():
            if time.monotonic() > deadline:
                raise TimeoutError
            if watch.lost():
                view.stop()
                goal_handle = None  # nobody to cancel it with
                console.print(
                    '[red]The task planner disappeared while the task ran (its execute_task '
                    'action server is gone: the node died or was stopped). The outcome of the '
                    'task is unknown; the safety supervisor holds the robot when a required node '
                    'dies. Check `humanoid status`, restart the stack or the task_planner node, '
                    'and run the task again.[/red]'
                )
                return EXIT_SERVER_MISSING
            time.sleep(0.02)
        response: Any = result_future.result()
        result = response.result
        goal_handle = None
        rc = view.show_result(result, as_json=args.json)
        return rc
    except TimeoutError:
        view.stop()
        console.print(f'[red]TIMEOUT: no result within {args.timeout:.0f} s; canceling.[/red]')
        return EXIT_TIMEOUT
    except KeyboardInterrupt:
        view.stop()
        console.print('[yellow]Interrupted: canceling the task.[/yellow]')
        return 130
    finally:
        if goal_handle is not None:
            cancel = goal_handle.cancel_goal_async()
            end = time.monotonic() + 3.0
            while not cancel.done() and time.monotonic() < end:
                time.sleep(0.02)
        executor.shutdown()
        node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
        spin_thread.join(timeout=2.0)
