"""`humanoid status`: the running nodes, the contract topics' rates and the stack's health.

Listens for `--duration` seconds (default 2): counts the messages on every contract topic that
has a publisher, reads the latched `safety/status` and the latest `diagnostics` level of each
node (status names start with '<node>: '). Exit status 0 when healthy; 1 when no node is
found or something needs attention (e-stop, dead nodes, ERROR/STALE diagnostics, a topic
below its expected rate); each problem is printed with how to fix it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from rich.console import Console
from rich.table import Table

__all__ = ['EXPECTED_HZ', 'build_parser', 'collect', 'main']

# Minimum rates from the contract (ARCHITECTURE.md), checked when the topic is published.
EXPECTED_HZ: dict[str, float] = {
    'joint_states': 200.0,
    'camera/color/image_raw': 10.0,
    'camera/depth/image_raw': 10.0,
}
LEVELS = {0: 'OK', 1: 'WARN', 2: 'ERROR', 3: 'STALE'}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid status',
        description="Show the running nodes, the contract topics' rates, the safety status and "
        "each node's latest diagnostics level.",
    )
    p.add_argument(
        '--duration',
        type=float,
        default=2.0,
        metavar='S',
        help='seconds to measure topic rates (default: 2)',
    )
    p.add_argument('--namespace', default='', help='robot namespace, e.g. robot1')
    p.add_argument('--json', action='store_true', help='print the report as JSON')
    return p


def _fix_no_nodes() -> str:
    domain = os.environ.get('ROS_DOMAIN_ID', '0 (unset)')
    rng = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', 'unset')
    return (
        'no nodes found: is the stack running (humanoid launch launch/humanoid.launch.xml '
        f'sim:=mujoco)? Same ROS_DOMAIN_ID as the stack (here {domain})? Same '
        f'ROS_AUTOMATIC_DISCOVERY_RANGE (here {rng}; LOCALHOST only sees this machine)?'
    )


def collect(duration: float = 2.0, namespace: str = '') -> dict[str, Any]:
    """Measure the running stack; returns the report (nodes, topics, safety, problems)."""
    from diagnostic_msgs.msg import DiagnosticArray
    import rclpy
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    from humanoid_bringup.record import CONTRACT_TOPICS, _qos_for, message_class
    from humanoid_interfaces.msg import SafetyStatus

    rclpy.init(args=None)
    node = rclpy.create_node('_humanoid_status', namespace=namespace or None)
    ns = node.get_namespace().rstrip('/')
    try:
        # Discovery on a loaded machine can take seconds: wait until the graph has been stable
        # for 1 s (at least 1.5 s, at most 5 s), and keep scanning while measuring.
        begin = last_change = time.monotonic()
        seen = -1
        while time.monotonic() < begin + 5.0:
            rclpy.spin_once(node, timeout_sec=0.2)
            n = len(node.get_node_names_and_namespaces()) + len(node.get_topic_names_and_types())
            now = time.monotonic()
            if n != seen:
                seen, last_change = n, now
            elif now > begin + 1.5 and now - last_change > 1.0:
                break
        graph: dict[str, list[str]] = {}
        publishers: dict[str, int] = {}
        counts: dict[str, list[float]] = {}
        subs = []

        def scan() -> None:
            graph.update(node.get_topic_names_and_types())
            for rel in CONTRACT_TOPICS:
                topic = f'{ns}/{rel}'
                if topic not in graph or topic in counts:
                    continue
                publishers[topic] = len(node.get_publishers_info_by_topic(topic))
                if not publishers[topic]:
                    continue
                counts[topic] = []
                subs.append(
                    node.create_subscription(
                        message_class(graph[topic][0]),
                        topic,
                        lambda _m, t=topic: counts[t].append(time.monotonic()),
                        _qos_for(node, topic),
                        raw=True,
                    )
                )

        scan()
        safety: dict[str, Any] = {}
        diagnostics: dict[str, dict[str, Any]] = {}

        def on_safety(msg: Any) -> None:
            safety.update(
                ready=bool(msg.ready),
                estopped=bool(msg.estopped),
                holding=bool(msg.holding),
                reason=msg.reason,
                dead_nodes=list(msg.dead_nodes),
                rejected_commands=int(msg.rejected_commands),
            )

        def on_diag(msg: Any) -> None:
            for status in msg.status:
                name = status.name.split(':', 1)[0].strip() if ':' in status.name else status.name
                level = (
                    int.from_bytes(status.level, 'little')
                    if isinstance(status.level, bytes)
                    else int(status.level)
                )
                prev = diagnostics.get(name)
                if prev is None or prev['_t'] < time.monotonic() - 0.5 or level > prev['level']:
                    diagnostics[name] = {
                        'level': level,
                        'level_name': LEVELS.get(level, str(level)),
                        'message': status.message,
                        '_t': time.monotonic(),
                    }

        latched = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        node.create_subscription(SafetyStatus, 'safety/status', on_safety, latched)
        diag_qos = QoSProfile(depth=50, reliability=ReliabilityPolicy.BEST_EFFORT)
        node.create_subscription(DiagnosticArray, 'diagnostics', on_diag, diag_qos)
        start = time.monotonic()
        end = start + duration
        next_scan = start + 0.5
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
            if time.monotonic() > next_scan:
                scan()
                next_scan += 0.5
        nodes = sorted(
            (f'{n_ns.rstrip("/")}/{name}', name)
            for name, n_ns in node.get_node_names_and_namespaces()
            if not name.startswith('_')
        )
    finally:
        node.destroy_node()
        rclpy.try_shutdown()

    topics = []
    problems: list[str] = []
    for rel in CONTRACT_TOPICS:
        topic = f'{ns}/{rel}'
        stamps = counts.get(topic)
        entry: dict[str, Any] = {
            'topic': topic,
            'type': graph.get(topic, [''])[0],
            'publishers': publishers.get(topic, 0),
        }
        if stamps is None:
            entry.update(messages=0, hz=None)
        else:
            hz = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) >= 3 else None
            entry.update(messages=len(stamps), hz=None if hz is None else round(hz, 1))
            want = EXPECTED_HZ.get(rel)
            if want is not None and (hz is None or hz < 0.8 * want):
                got = 'no messages' if hz is None else f'{hz:.1f} Hz'
                problems.append(
                    f'{topic}: {got}, expected >= {want:.0f} Hz: is the machine overloaded? '
                    '(`humanoid bench sim` measures the simulator alone)'
                )
        topics.append(entry)
    node_names = {short for _full, short in nodes}
    node_rows = []
    for full, short in nodes:
        diag = diagnostics.get(short)
        node_rows.append(
            {
                'node': full,
                'diagnostics': diag['level_name'] if diag else None,
                'message': diag['message'] if diag else '',
            }
        )
        if diag and diag['level'] >= 2:
            problems.append(f'{full}: diagnostics {diag["level_name"]}: {diag["message"]}')
    if not nodes:
        problems.insert(0, _fix_no_nodes())
    if safety:
        if not safety['ready']:
            problems.append(
                'safety supervisor has no joint measurements yet and rejects every command: '
                'is joint_states published (simulator or hardware driver running)?'
            )
        if safety['estopped']:
            problems.append(
                'e-stop engaged: release it when safe (`humanoid estop --release` or the '
                "console's Release button)"
            )
        if safety['dead_nodes']:
            problems.append(
                f'dead nodes {safety["dead_nodes"]}: their diagnostics heartbeat stopped; '
                'check their log (the launcher prints it) and restart the stack'
            )
    elif 'safety_supervisor' in node_names:
        problems.append('no safety/status received from safety_supervisor within the window')
    return {
        'nodes': node_rows,
        'topics': topics,
        'safety': safety or None,
        'duration': duration,
        'problems': problems,
    }


def render(report: dict[str, Any], console: Console) -> None:
    nodes = Table(title='Nodes', title_justify='left')
    nodes.add_column('node')
    nodes.add_column('diagnostics')
    nodes.add_column('message', overflow='fold')
    colours = {'OK': 'green', 'WARN': 'yellow', 'ERROR': 'red', 'STALE': 'red'}
    for row in report['nodes']:
        level = row['diagnostics']
        shown = f'[{colours.get(level, "white")}]{level}[/]' if level else '[dim]-[/dim]'
        nodes.add_row(row['node'], shown, row['message'])
    console.print(nodes)
    if not report['nodes']:
        for problem in report['problems']:
            console.print(f'[red]problem:[/red] {problem}')
        return
    topics = Table(
        title=f'Contract topics (measured {report["duration"]:.1f} s)', title_justify='left'
    )
    topics.add_column('topic')
    topics.add_column('type', style='dim')
    topics.add_column('rate', justify='right')
    for row in report['topics']:
        if not row['publishers']:
            rate = '[dim]no publisher[/dim]'
        elif row['hz'] is None:
            rate = f'{row["messages"]} msg' if row['messages'] else '[yellow]silent[/yellow]'
        else:
            rate = f'{row["hz"]:.1f} Hz'
        topics.add_row(row['topic'], row['type'], rate)
    console.print(topics)
    safety = report['safety']
    if safety is None:
        console.print('[yellow]Safety: no safety/status (is safety_supervisor running?)[/yellow]')
    else:
        state = '[red]E-STOPPED[/red]' if safety['estopped'] else '[green]ok[/green]'
        hold = f', holding ({safety["reason"]})' if safety['holding'] else ''
        console.print(
            f'Safety: {state}{hold}; rejected commands: {safety["rejected_commands"]}'
            + (f'; dead nodes: {safety["dead_nodes"]}' if safety['dead_nodes'] else '')
        )
    for problem in report['problems']:
        console.print(f'[red]problem:[/red] {problem}')
    if not report['problems']:
        console.print('[green]healthy[/green]')


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 0.2 <= args.duration <= 60:
        print('humanoid status: --duration must be between 0.2 and 60 seconds', file=sys.stderr)
        return 2
    report = collect(args.duration, args.namespace)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report, Console())
    return 1 if report['problems'] else 0
