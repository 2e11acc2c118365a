"""`humanoid bench NAME [...]`: dispatch to the benchmark implementations.

A benchmark is either a module in the packages (``module:function``) or a script
``bench/bench_<name>.py`` in the workspace with a ``main(argv) -> int``. Every benchmark
prints a table and writes JSON with an ``overall`` object (see README, "Benchmarks").
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
import sys

# Benchmarks that live inside packages; all others are looked up as bench/bench_<name>.py.
PACKAGED = {
    'plan': 'humanoid_core.planning.bench:main',
}

DESCRIPTIONS = {
    'sim': 'simulator real-time factor, topic rates, memory',
    'motion': 'reach accuracy, pick-and-place, walking, IK timing',
    'perception': 'detection precision/recall and pose error vs ground truth',
    'plan': 'planner SR/Exec/GCR on a task suite, symbolically (no simulator)',
    'tasks': 'task suite end to end in the simulator (SR/Exec/GCR)',
    'safety': 'e-stop latency and fault survival',
    'soak': '100 consecutive tasks: success, memory, leaks',
}


def workspace_root() -> Path:
    env = os.environ.get('HUMANOID_WORKSPACE')
    if env:
        return Path(env)
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / 'bench').is_dir() and (p / 'src').is_dir():
            return p
    return here


def find(name: str):
    if name in PACKAGED:
        mod, fn = PACKAGED[name].split(':')
        return getattr(importlib.import_module(mod), fn)
    script = workspace_root() / 'bench' / f'bench_{name}.py'
    if not script.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f'bench_{name}', script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.main


def available() -> list[str]:
    names = set(PACKAGED)
    bench_dir = workspace_root() / 'bench'
    if bench_dir.is_dir():
        names |= {p.stem[len('bench_') :] for p in bench_dir.glob('bench_*.py')}
    return sorted(names)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    names = available()
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: humanoid bench NAME [--json OUT] [--seed N] [...]\n\nbenchmarks:')
        for n in names:
            print(f'  {n:<12} {DESCRIPTIONS.get(n, "")}')
        return 0 if argv else 2
    name = argv[0]
    fn = find(name) if name in names else None
    if fn is None:
        print(
            f"humanoid bench: unknown benchmark '{name}' (available: {', '.join(names)})",
            file=sys.stderr,
        )
        return 2
    return int(fn(argv[1:]) or 0)
