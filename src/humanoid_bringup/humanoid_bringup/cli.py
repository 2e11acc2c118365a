"""The `humanoid` command line: one entry point for launching, tasks, diagnostics, benchmarks.

Works without sourcing anything: `.venv/bin/humanoid` runs the venv's Python, whose workspace
hook (scripts/install_workspace_hook.py) puts the built workspace on the path and defaults
`ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`.

Subcommands import their implementation lazily so `humanoid --help` stays fast.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
import importlib
import importlib.util
import os
import sys

# name -> (module, function taking argv and returning an exit code, one-line help)
DELEGATED: dict[str, tuple[str, str, str]] = {
    'launch': (
        'humanoid_bringup.launch',
        'main',
        'run an XML launch file: humanoid launch FILE [name:=value ...]',
    ),
    'task': ('humanoid_bringup.task_client', 'main', 'send a natural-language task to the robot'),
    'doctor': ('humanoid_bringup.doctor', 'main', 'check the installation and say how to fix it'),
    'bench': ('humanoid_bringup.bench', 'main', 'run a benchmark: humanoid bench NAME ...'),
}

# Subcommands that may be added by later work; they exist only when their module does.
OPTIONAL: dict[str, tuple[str, str, str]] = {
    'estop': ('humanoid_bringup.estop_cli', 'main', 'engage or release the e-stop'),
    'demo': ('humanoid_bringup.demo', 'main', 'launch the simulated stack and run one task'),
    'status': ('humanoid_bringup.status', 'main', 'show nodes, topic rates and health'),
    'console': ('humanoid_bringup.console', 'main', 'serve the web console on 127.0.0.1'),
    'record': ('humanoid_bringup.record', 'main', 'record the contract topics to MCAP'),
    'foxglove': ('humanoid_bringup.foxglove_bridge', 'main', 'serve live data to Foxglove Studio'),
}


def _available() -> dict[str, tuple[str, str, str]]:
    commands = dict(DELEGATED)
    for name, spec in OPTIONAL.items():
        if importlib.util.find_spec(spec[0]) is not None:
            commands[name] = spec
    return commands


def _resolve(spec: tuple[str, str, str]) -> Callable[[list[str]], int]:
    module = importlib.import_module(spec[0])
    return getattr(module, spec[1])


def build_parser(commands: dict[str, tuple[str, str, str]]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='humanoid',
        description='Humanoid robot stack: launch, tasks, diagnostics and benchmarks.',
        epilog="Run 'humanoid COMMAND --help' for a command's options.",
    )
    sub = parser.add_subparsers(dest='command', metavar='COMMAND')
    for name, (_mod, _fn, help_text) in sorted(commands.items()):
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _available()
    parser = build_parser(commands)
    if not argv or argv[0] in ('-h', '--help'):
        parser.print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in commands:
        parser.print_usage(sys.stderr)
        choices = ', '.join(sorted(commands))
        print(f"humanoid: unknown command '{name}' (choose from: {choices})", file=sys.stderr)
        return 2
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    try:
        return int(_resolve(commands[name])(rest) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == '__main__':
    sys.exit(main())
