"""`humanoid bench plan`: run a task suite through a planner backend symbolically.

    humanoid bench plan --suite config/suites/lab.yaml [--planner embedded] [--json OUT]
                        [--seed N] [--attempts K]
    humanoid bench plan --suite ... --planner transformers --model-path DIR [--max-new-tokens N]
    humanoid bench plan --suite ... --planner openai --base-url URL [--model M] [--timeout S]

Every task is planned against the scene's initial world state, validated (with repair
attempts for model backends), executed symbolically and scored (SR / Exec / GCR, see
humanoid_core.planning.suite). Prints a table per task and the overall figures; the JSON has
an `overall` object and a `tasks` list (one entry per task id).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
import random
import sys
import time
from typing import Any

from humanoid_core.planning.backends import BACKENDS, make_backend
from humanoid_core.planning.errors import ConfigError
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.suite import TaskResult, load_suite, run_task, summarize


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid bench plan',
        description='Plan every task of a suite and score it symbolically (no simulator).',
    )
    p.add_argument('--suite', required=True, help='task suite YAML (e.g. config/suites/lab.yaml)')
    p.add_argument(
        '--planner',
        default='embedded',
        help=f'planner backend: {", ".join(BACKENDS)} or module:Class (default: embedded)',
    )
    p.add_argument('--json', metavar='OUT', help='write the results as JSON here')
    p.add_argument('--seed', type=int, default=0, help='seed for sampling backends (default 0)')
    p.add_argument('--skills', help='skill registry YAML (default: config/skills.yaml)')
    p.add_argument(
        '--attempts', type=int, default=None, help='max validate/repair attempts per task'
    )
    p.add_argument('--quiet', action='store_true', help='no progress bar or table')
    m = p.add_argument_group('model backends')
    m.add_argument('--model-path', help='transformers: local causal-LM folder')
    m.add_argument('--max-new-tokens', type=int, help='transformers: token budget of one answer')
    m.add_argument('--device', default='cpu', help='transformers: torch device (default cpu)')
    m.add_argument(
        '--base-url',
        help='openai: server URL, e.g. http://127.0.0.1:8000/v1 (env OPENAI_BASE_URL)',
    )
    m.add_argument('--model', default='', help='openai: model name (default: the first listed)')
    m.add_argument(
        '--api-key-env',
        default='OPENAI_API_KEY',
        help='openai: environment variable holding the key (default OPENAI_API_KEY)',
    )
    m.add_argument(
        '--timeout', type=float, default=30.0, help='openai: seconds per request (default 30)'
    )
    return p


def backend_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """Constructor arguments of the chosen backend from the command line."""
    if args.planner == 'embedded':
        return {}
    if args.planner == 'transformers':
        if not args.model_path:
            raise ValueError(
                '--planner transformers needs --model-path DIR (a local model folder)'
            )
        kwargs: dict[str, Any] = {
            'model_path': args.model_path,
            'seed': args.seed,
            'device': args.device,
        }
        if args.max_new_tokens is not None:
            kwargs['max_new_tokens'] = args.max_new_tokens
        return kwargs
    if args.planner == 'openai':
        import os

        return {
            'base_url': args.base_url or '',
            'model': args.model,
            'api_key': os.environ.get(args.api_key_env, '') or None,
            'timeout': args.timeout,
            'seed': args.seed,
        }
    return {'seed': args.seed}


def _table(results: list[TaskResult], overall: dict[str, Any]) -> Any:
    from rich.table import Table

    table = Table(title='plan benchmark', show_lines=False)
    for col in ('task', 'expect', 'got', 'ok', 'Exec', 'GCR', 'steps', 'ms'):
        table.add_column(col, justify='right' if col in ('Exec', 'GCR', 'steps', 'ms') else 'left')
    for r in results:
        table.add_row(
            r.id,
            r.expect.name.lower(),
            r.code.name.lower(),
            '[green]yes[/]' if r.success else '[red]NO[/]',
            '-' if r.exec is None else f'{r.exec:.2f}',
            f'{r.gcr:.2f}',
            str(len(r.plan.steps)) if r.plan else '0',
            f'{r.latency_ms:.1f}',
        )
    table.add_section()
    table.add_row(
        'overall',
        '',
        '',
        f'SR {overall["SR"]:.3f}',
        f'{overall["Exec"]:.3f}',
        f'{overall["GCR"]:.3f}',
        '',
        f'{overall["planner_latency_ms_median"]:.1f}',
    )
    return table


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rich.console import Console

    console = Console(stderr=False, quiet=args.quiet)
    err = Console(stderr=True)
    try:
        suite = load_suite(args.suite)
        registry = SkillRegistry.from_yaml(args.skills)
    except (ConfigError, FileNotFoundError) as exc:
        err.print(f'[red]error:[/] {exc}')
        return 2
    random.seed(args.seed)
    try:
        backend = make_backend(args.planner, **backend_kwargs(args))
    except (ValueError, TypeError) as exc:
        err.print(f'[red]error:[/] {exc}')
        return 2
    world = suite.initial_world()
    results: list[TaskResult] = []
    t0 = time.perf_counter()
    if args.quiet:
        for task in suite.tasks:
            results.append(run_task(task, backend, world, registry, args.attempts))
    else:
        from rich.progress import Progress

        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task(f'planning ({args.planner})', total=len(suite.tasks))
            for task in suite.tasks:
                results.append(run_task(task, backend, world, registry, args.attempts))
                progress.advance(bar)
    wall = time.perf_counter() - t0
    overall = summarize(results)
    overall['wall_s'] = round(wall, 3)
    if not args.quiet:
        console.print(_table(results, overall))
        for r in results:
            if not r.success:
                console.print(
                    f'[red]FAIL[/] {r.id}: {r.instruction!r} -> {r.code.name}: {r.message}'
                )
    data = {
        'benchmark': 'plan',
        'suite': str(args.suite),
        'scene': suite.scene,
        'planner': args.planner,
        'planner_options': {
            k: v for k, v in backend_kwargs(args).items() if k not in ('api_key', 'seed')
        },
        'seed': args.seed,
        'overall': overall,
        'tasks': [r.to_dict() for r in results],
    }
    if args.json:
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + '\n', encoding='utf-8')
    print(
        f'[{args.planner}] SR {overall["SR"]:.3f}  Exec {overall["Exec"]:.3f}  '
        f'GCR {overall["GCR"]:.3f}  latency median {overall["planner_latency_ms_median"]:.2f} ms '
        f'p95 {overall["planner_latency_ms_p95"]:.2f} ms  '
        f'({overall["succeeded"]}/{overall["tasks"]} tasks)'
    )
    return 0


if __name__ == '__main__':  # pragma: no cover
    sys.exit(main())
