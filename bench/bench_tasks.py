"""`humanoid bench tasks --suite FILE [--planner NAME] [--json OUT] [--seed N] [--max-speed]`:
every task of a suite end to end through the real multi-process stack, judged on simulator
ground truth.

Each task gets a fresh headless simulation: the whole stack (simulator, safety supervisor,
controller, perception, world model, planner) is launched from launch/humanoid.launch.xml
for that task and stopped after it, on its own ROS domain. The task is sent as an
ExecuteTask goal; the result code, the executed plan and the final ground-truth object poses
give the metrics:

* SR: a task expecting success succeeds when the planner returns SUCCESS and every goal
  predicate holds on ground truth; a task with ``expect: <code>`` succeeds when that code is
  returned and nothing moved (no object moved more than 1 cm, the robot base less than 5 cm).
* Exec: executed steps / steps of the last plan the planner ran (1.0 when nothing failed);
  tasks that end before any plan (refusals) have no Exec and are left out of its mean.
* GCR: fraction of goal predicates satisfied on ground truth (expect tasks: 1 or 0).

Prints a table with a progress bar, writes JSON (`overall`: SR, Exec, GCR,
planner_latency_ms_median, mean times; `tasks`: one entry per task id). The JSON is written
again after every task (`complete: false` until the last), so a long run that is stopped
keeps what it measured; `--resume` continues it: the tasks already in the file are kept
(when the suite, planner, seed and simulator speed match) and only the others are run, and
the summary covers them all.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import signal
import statistics
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='humanoid bench tasks', description=__doc__.split('\n')[0])
    p.add_argument('--suite', type=Path, default=ROOT / 'config' / 'suites' / 'lab.yaml')
    p.add_argument('--planner', default='embedded')
    p.add_argument('--json', type=Path, default=None, help='write the results here')
    p.add_argument('--seed', type=int, default=-1, help='layout seed (-1: nominal layout)')
    p.add_argument('--max-speed', action='store_true', help='simulate faster than real time')
    p.add_argument(
        '--real-time-factor', type=float, default=None,
        help='simulator seconds per wall second (default: 1.0 with 4 or more CPUs, 0.5 with '
        'fewer, where the whole stack cannot run in real time; reported with the results)',
    )  # fmt: skip
    p.add_argument('--tasks', default='', help='comma-separated task ids to run (default: all)')
    p.add_argument('--limit', type=int, default=0, help='run at most N tasks')
    p.add_argument(
        '--task-timeout',
        type=float,
        default=900.0,
        help='simulated seconds per task (the wall-clock limit is this divided by '
        '--real-time-factor; with --max-speed it is this): four objects to the bin, one '
        'walk each, took over 450 s of sim time',
    )
    p.add_argument('--startup-timeout', type=float, default=120.0)
    p.add_argument('--logs', type=Path, default=ROOT / 'results' / 'bench_tasks', help='logs')
    p.add_argument(
        '--record', action='store_true', help='keep an MCAP recording per task (in --logs)'
    )
    p.add_argument(
        '--resume', action='store_true',
        help='keep the tasks already in --json (same suite, planner, seed and simulator speed) '
        'and run only the others',
    )  # fmt: skip
    return p


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """What makes two runs' results comparable: a resumed run must match these."""
    return {
        'suite': str(args.suite),
        'planner': args.planner,
        'seed': args.seed,
        'max_speed': args.max_speed,
        'real_time_factor': None if args.max_speed else args.real_time_factor,
    }


def source_version() -> str:
    """The commit the benchmark runs (`+dirty` with uncommitted changes), recorded with every
    task: a resumed run may span commits."""
    import subprocess

    def git(*a: str) -> str:
        done = subprocess.run(['git', *a], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return done.stdout.strip() if done.returncode == 0 else ''

    try:
        commit = git('rev-parse', '--short', 'HEAD')
        dirty = git('status', '--porcelain', '--untracked-files=no')
    except (OSError, subprocess.SubprocessError):
        return 'unknown'
    return (commit or 'unknown') + ('+dirty' if dirty else '')


def resumed_entries(path: Path, settings: dict[str, Any], ids: list[str]) -> list[dict[str, Any]]:
    """The entries of an earlier run in `path` for the task ids `ids`, in their order.

    Raises ValueError naming the problem when the file is not a task-benchmark result or was
    measured with other settings (the figures would not be comparable).
    """
    try:
        old = json.loads(path.read_text())
    except FileNotFoundError:
        return []
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f'cannot resume from {path}: {exc}') from exc
    if not isinstance(old, dict) or not isinstance(old.get('tasks'), list):
        raise ValueError(f'cannot resume from {path}: not a `humanoid bench tasks` result')
    differ = [
        f'{k} {old.get(k)!r} there, {v!r} now' for k, v in settings.items() if old.get(k) != v
    ]
    if differ:
        raise ValueError(f'cannot resume from {path}: other settings ({"; ".join(differ)})')
    by_id = {e['id']: e for e in old['tasks'] if isinstance(e, dict) and 'id' in e}
    return [by_id[i] for i in ids if i in by_id]


def run_one(task: Any, args: argparse.Namespace, index: int, registry: Any) -> dict[str, Any]:
    from humanoid_bringup.observer import Observer
    from humanoid_bringup.stack import Stack, wait_until
    from humanoid_core.tasks.judge import judge, moved_objects, tipped_objects
    from humanoid_core.world.scene import initial_world
    from humanoid_ros.world import plan_from_msg

    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(20 + (os.getpid() + index) % 80)
    seed = args.seed if args.seed < 0 else args.seed + index
    stack = Stack(
        {
            'sim': 'mujoco',
            'headless': 'true',
            'planner': args.planner,
            'seed': str(seed),
            'max_speed': 'true' if args.max_speed else 'false',
            'real_time_factor': f'{args.real_time_factor:g}',
        },
        args.logs / f'{task.id}.log',
        env=env,
    )
    entry: dict[str, Any] = {
        'id': task.id,
        'instruction': task.instruction,
        'expect': task.expect.name.lower(),
        'seed': seed,
    }
    observer = None
    recorder = None
    t0 = time.monotonic()
    last_plan_len = [0]
    try:
        stack.start()
        observer = Observer(
            f'bench_tasks_{index}', domain_id=int(env['ROS_DOMAIN_ID']), cameras=False, imu=False
        )
        ready = wait_until(
            lambda: (
                observer.world_objects() > 0
                and bool(observer.ground_truth())
                and observer.robot() is not None
                and observer.task_client.server_is_ready()
            ),
            timeout=args.startup_timeout,
            alive=stack.alive,
        )
        if not ready:
            entry.update(code='startup_failed', success=False, exec=None, gcr=0.0)
            entry['message'] = 'stack did not start: ' + stack.log_tail(5)
            return entry
        if args.record:
            from humanoid_bringup.record import start_recording

            recorder = start_recording(args.logs / f'{task.id}.mcap', env=env)
        observer.wait_world_settled(quiet=2.0, timeout=20.0)  # perception's first frames
        truth0, robot0 = observer.ground_truth(), observer.robot()
        sim0 = observer.sim_time()

        def on_feedback(fb: Any) -> None:
            if len(fb.plan.steps):
                last_plan_len[0] = len(fb.plan.steps)

        wall_limit = args.task_timeout / (1.0 if args.max_speed else args.real_time_factor)
        result = observer.run_task(task.instruction, on_feedback, timeout=wall_limit)
        time.sleep(1.0)  # let objects settle
        truth1, robot1 = observer.ground_truth(), observer.robot()
        entry['sim_s'] = round(observer.sim_time() - sim0, 2)
        if result is None:
            entry.update(code='timeout', success=False, exec=None, gcr=0.0, message='no result')
            return entry
        from humanoid_bringup.task_view import error_name

        code = error_name(result.error_code).lower()
        done = len(result.executed_plan.steps)
        planned = max(last_plan_len[0], done)
        exec_frac = (done / planned if planned else None) if code != 'success' else 1.0
        if code != 'success' and planned == 0:
            exec_frac = None
        world = observer.truth_world(task_scene(args))
        moved = moved_objects(truth0, truth1)
        base_moved = math.dist(robot0[:2], robot1[:2]) if robot0 and robot1 else 0.0
        if task.expect.name == 'SUCCESS':
            verdict = judge(list(task.goal), world)
            success = code == 'success' and verdict.ok
            gcr = verdict.gcr
            failed = list(verdict.failed)
        else:
            success = code == task.expect.name.lower() and not moved and base_moved < 0.05
            gcr = float(success)
            failed = [] if success else [f'moved: {moved}' if moved else f'code {code}']
        entry.update(
            code=code,
            success=success,
            exec=exec_frac,
            gcr=gcr,
            failed_goals=failed,
            steps=[s.text for s in plan_from_msg(result.executed_plan).steps],
            planner_latency_ms=round(1000.0 * result.planning_time, 2),
            message=result.message,
        )
        if not success:  # what the robot believed and what was true, to trace the failure
            entry['belief'] = observer.belief()
            entry['truth_mm'] = {
                k: [round(1000.0 * v) for v in pos] for k, (pos, _yaw) in truth1.items()
            }
        scene = initial_world(task_scene(args))  # own sizes (`world` has the turned ones)
        tipped = tipped_objects(scene, observer.ground_truth_orientations())
        if tipped:  # knocked over, or lying where it was put
            entry['tipped'] = tipped
        return entry
    finally:
        entry['wall_s'] = round(time.monotonic() - t0, 2)
        if recorder is not None:
            from humanoid_bringup.record import stop_recording

            stop_recording(recorder)
            entry['recording'] = str(args.logs / f'{task.id}.mcap')
        if observer is not None:
            observer.close()
        stack.stop()


def task_scene(args: argparse.Namespace) -> str:
    from humanoid_core.planning.suite import load_suite

    return load_suite(args.suite).scene


def summarize(entries: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(entries)
    execs = [e['exec'] for e in entries if e.get('exec') is not None]
    lat = [e['planner_latency_ms'] for e in entries if 'planner_latency_ms' in e]
    return {
        'SR': sum(bool(e['success']) for e in entries) / n if n else 0.0,
        'Exec': sum(execs) / len(execs) if execs else 0.0,
        'GCR': sum(e.get('gcr', 0.0) for e in entries) / n if n else 0.0,
        'planner_latency_ms_median': statistics.median(lat) if lat else 0.0,
        'wall_s_mean': statistics.mean(e['wall_s'] for e in entries) if entries else 0.0,
        'sim_s_mean': statistics.mean(e.get('sim_s', 0.0) for e in entries) if entries else 0.0,
        'tasks': n,
        'succeeded': sum(bool(e['success']) for e in entries),
    }


def _stop_on_signals() -> None:
    """SIGTERM stops a run as Ctrl-C does (the task's stack is shut down, the finished tasks
    stay in `--json`); so does SIGINT when the shell started the run in the background with
    it ignored (`cmd &` in a script: `kill -INT` did nothing, and a plain kill left the
    task's stack running)."""

    def stop(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f'stopped by signal {signum}')

    signal.signal(signal.SIGTERM, stop)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _stop_on_signals()
    from humanoid_bringup.stack import check_real_time_factor, default_real_time_factor

    if args.real_time_factor is None:
        args.real_time_factor = default_real_time_factor()
    try:
        check_real_time_factor(args.real_time_factor, '--real-time-factor')
    except ValueError as exc:
        parser.error(str(exc))
    from humanoid_core.planning.skills import SkillRegistry
    from humanoid_core.planning.suite import load_suite

    console = Console()
    suite = load_suite(args.suite)
    tasks = list(suite.tasks)
    if args.tasks:
        wanted = {t.strip() for t in args.tasks.split(',') if t.strip()}
        unknown = wanted - {t.id for t in tasks}
        if unknown:
            console.print(f'[red]unknown task id(s): {", ".join(sorted(unknown))}[/red]')
            return 2
        tasks = [t for t in tasks if t.id in wanted]
    if args.limit > 0:
        tasks = tasks[: args.limit]
    registry = SkillRegistry.from_yaml()
    settings = run_settings(args)
    entries: list[dict[str, Any]] = []
    if args.resume:
        if args.json is None:
            parser.error('--resume needs --json (the result file to continue)')
        try:
            entries = resumed_entries(args.json, settings, [t.id for t in tasks])
        except ValueError as exc:
            console.print(f'[red]{exc}[/red]')
            return 2
        console.print(f'resuming {args.json}: {len(entries)} of {len(tasks)} tasks already run')
    done_ids = {e['id'] for e in entries}
    version = source_version()
    order = {t.id: i for i, t in enumerate(tasks)}

    def write(complete: bool) -> None:
        if not args.json:
            return
        out = dict(settings, complete=complete, overall=summarize(entries), tasks=entries)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(args.json.name + '.tmp')
        tmp.write_text(json.dumps(out, indent=2))
        tmp.replace(args.json)  # never a half-written file when stopped

    progress = Progress(
        TextColumn('[bold]tasks'),
        BarColumn(),
        TextColumn('{task.completed}/{task.total}'),
        TimeElapsedColumn(),
        TextColumn('{task.fields[current]}'),
        console=console,
    )
    try:
        with progress:
            bar = progress.add_task('tasks', total=len(tasks), completed=len(done_ids), current='')
            for i, task in enumerate(tasks):
                if task.id in done_ids:
                    continue
                progress.update(bar, current=f'{task.id}: {task.instruction[:50]}')
                entry = run_one(task, args, i, registry)
                entry['finished'] = time.strftime('%Y-%m-%dT%H:%M:%S%z')
                entry['commit'] = version
                entries.append(entry)
                entries.sort(key=lambda e: order[e['id']])
                write(complete=False)
                mark = '[green]ok[/green]' if entry['success'] else '[red]FAIL[/red]'
                progress.console.print(
                    f'{mark} {task.id}: {entry.get("code")} ({entry["wall_s"]:.0f} s) '
                    + (f'- {entry.get("failed_goals")}' if not entry['success'] else '')
                )
                progress.advance(bar)
    except KeyboardInterrupt as exc:
        kept = (
            f'kept in {args.json}; continue with --resume' if args.json and entries else 'finished'
        )
        console.print(
            f'[yellow]stopped ({str(exc) or "interrupted"}): {len(entries)} of {len(tasks)} '
            f'tasks {kept}[/yellow]'
        )
        return 130
    overall = summarize(entries)
    table = Table(title=f'bench tasks: {args.suite.name} ({args.planner})')
    for col in ('task', 'expect', 'result', 'ok', 'Exec', 'GCR', 'wall s', 'sim s'):
        table.add_column(col)
    for e in entries:
        table.add_row(
            e['id'],
            e['expect'],
            str(e.get('code')),
            'yes' if e['success'] else 'no',
            '-' if e.get('exec') is None else f'{e["exec"]:.2f}',
            f'{e.get("gcr", 0.0):.2f}',
            f'{e["wall_s"]:.0f}',
            f'{e.get("sim_s", 0.0):.0f}',
        )
    console.print(table)
    console.print(
        f'SR {overall["SR"]:.3f}  Exec {overall["Exec"]:.3f}  GCR {overall["GCR"]:.3f}  '
        f'mean wall {overall["wall_s_mean"]:.1f} s/task  ({overall["succeeded"]}/{len(entries)})'
        + ('  simulator at max speed' if args.max_speed else
           f'  simulator at {args.real_time_factor:g} x real time')
    )  # fmt: skip
    write(complete=True)
    if args.json:
        console.print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
