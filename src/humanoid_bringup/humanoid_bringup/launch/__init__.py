"""``humanoid launch FILE [name:=value ...]``: runs ROS 2 XML launch files without ``launch``.

Executes the documented subset of the ROS 2 XML launch format (see :mod:`.parser`) with the
semantics of ``ros2 launch`` and supervises the processes (see :mod:`.runner`). No rclpy.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile

from .errors import LaunchError
from .parser import (
    ArgDecl,
    LaunchPlan,
    NodeSpec,
    declared_arguments,
    load_launch,
    parse_cli_arguments,
)
from .runner import Runner

__all__ = [
    'ArgDecl',
    'LaunchError',
    'LaunchPlan',
    'NodeSpec',
    'Runner',
    'declared_arguments',
    'format_plan',
    'load_launch',
    'main',
    'parse_cli_arguments',
]


def format_plan(plan: LaunchPlan) -> str:
    """The resolved node list, as ``--show`` prints it."""
    lines = [f'# {plan.file}: {len(plan.nodes)} node(s)']
    with tempfile.TemporaryDirectory(prefix='humanoid_launch_show_') as params_dir:
        for node in plan.nodes:
            lines.append(f'[{node.label}]  ({node.source})')
            lines.append(f'  package:    {node.package}')
            lines.append(f'  executable: {node.executable}  ({node.path})')
            if node.prefix:
                lines.append(f'  launch-prefix: {shlex.join(node.prefix)}')
            lines.append(f'  name:       {node.name or "(from the executable)"}')
            lines.append(f'  namespace:  {node.namespace or "(none)"}')
            for params in node.parameters:
                if isinstance(params, str):
                    lines.append(f'  params:     file {params}')
                else:
                    text = node.inline_params_yaml(params).rstrip().replace('\n', '\n' + ' ' * 14)
                    lines.append(f'  params:     inline (temporary file)\n              {text}')
            for src, dst in node.remappings:
                lines.append(f'  remap:      {src} -> {dst}')
            for key, value in node.node_env.items():
                lines.append(f'  env:        {key}={value}')
            lines.append(f'  output:     {node.output}')
            cmd = node.command(params_dir)
            lines.append('  command:    ' + shlex.join(cmd).replace(params_dir, '$PARAMS_DIR'))
    if plan.arguments:
        lines.append('# arguments: ' + '; '.join(a.describe() for a in plan.arguments))
    lines.append(
        '# launch configurations: '
        + ', '.join(f'{k}={v!r}' for k, v in sorted(plan.configurations.items()))
    )
    return '\n'.join(lines)


def _build_argparser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='humanoid launch',
        description='Run a ROS 2 XML launch file (the documented subset; see the README).',
    )
    parser.add_argument('file', help='the .launch.xml file')
    parser.add_argument('arguments', nargs='*', metavar='name:=value', help='launch arguments')
    parser.add_argument(
        '--show', action='store_true', help='print the resolved nodes and exit; start nothing'
    )
    parser.add_argument(
        '--show-args', action='store_true', help="print the file's arguments and exit"
    )
    parser.add_argument(
        '--grace-period',
        type=float,
        default=5.0,
        metavar='S',
        help='on Ctrl-C: seconds between SIGINT, SIGTERM and SIGKILL (default 5)',
    )
    parser.add_argument(
        '--exit-on-failure',
        action='store_true',
        help='stop every node when one dies (default: the others keep running)',
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    """``humanoid launch`` entry point; returns the exit code (2 = bad launch file/args)."""
    ns = _build_argparser().parse_args(sys.argv[1:] if argv is None else argv)
    if ns.grace_period < 0:
        print('humanoid launch: error: --grace-period must be >= 0', file=sys.stderr)
        return 2
    try:
        if ns.show_args:
            decls = declared_arguments(ns.file)
            print(f'Arguments of {ns.file}:' if decls else f'{ns.file} declares no arguments')
            for decl in decls:
                print(f'  {decl.describe()}')
            return 0
        plan = load_launch(ns.file, parse_cli_arguments(ns.arguments))
    except LaunchError as exc:
        print(f'humanoid launch: error: {exc}', file=sys.stderr)
        return 2
    for warning in plan.warnings:
        print(f'humanoid launch: warning: {warning}', file=sys.stderr)
    if ns.show:
        print(format_plan(plan))
        return 0
    if not plan.nodes:
        print('humanoid launch: nothing to start (no <node> selected)', file=sys.stderr)
        return 0
    return Runner(plan.nodes, ns.grace_period, ns.exit_on_failure).run()
