"""`humanoid bench soak [--tasks 100] [--json OUT]`: many consecutive tasks in one running
stack (issue "Safety and reliability", part 6).

One stack from launch/humanoid.launch.xml (MuJoCo, headless) on a private ROS domain; a
rotating list of tasks is sent as ExecuteTask goals one after the other: dry runs (plan and
validate only), planning errors with their expected code (unknown object, ambiguous), and, when
the motion action servers are up (the whole-body controller is part of the launch), real
pick-and-place tasks every `--real-every` tasks with `sim/reset` before and after each, judged
on the simulator's ground truth. A task succeeds when it returns its expected code (and, for real
tasks, the goal holds on ground truth).

Measured per process of the stack (the launcher's descendants, from /proc): RSS and open file
descriptors at the start (after the stack is ready) and at the end (before stopping). After
`Stack.stop()`: processes of the stack still alive (leaked), and /dev/shm files that a process of
the stack had open or mapped during the run and that still exist with no living process holding
them (Fast DDS shared-memory segments and their `_el` locks: the run's own leak, not other
users' segments on a shared machine).

JSON `overall` (contract): tasks, SR, rss_growth_mb_max, leaked_processes, leaked_shm_files;
extras: per-kind SR, fd_growth_max, wall times. `processes`: start/end RSS and fds per node.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import sys
import time
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PAGE_KB = os.sysconf('SC_PAGE_SIZE') // 1024

# (kind, instruction, expected ExecuteTask code name, goal predicates for real tasks)
TASKS: list[tuple[str, str, str, list[tuple[str, tuple[str, str]]]]] = [
    ('dry', 'put the red cube in the tray', 'SUCCESS', []),
    ('error', 'put the purple cube in the tray', 'UNKNOWN_OBJECT', []),
    ('dry', 'Move the green block to the tray', 'SUCCESS', []),
    ('error', 'put both cubes in the tray', 'AMBIGUOUS', []),
    ('dry', 'walk to the station', 'SUCCESS', []),
    ('error', 'take the cube out of the tray and put it in the bin', 'UNKNOWN_OBJECT', []),
    ('dry', 'pick up the blue cube and put it in the tray', 'SUCCESS', []),
]
REAL_TASKS = [
    ('real', 'put the red cube in the tray', 'SUCCESS', [('in', ('red_cube', 'tray'))]),
    ('real', 'put the blue cube in the tray', 'SUCCESS', [('in', ('blue_cube', 'tray'))]),
]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='humanoid bench soak', description=__doc__.split('\n')[0])
    p.add_argument('--tasks', type=int, default=100, help='number of consecutive tasks')
    p.add_argument('--json', type=Path, default=None, help='write the results here')
    p.add_argument(
        '--real-every',
        type=int,
        default=10,
        help='every N-th task is a real pick-and-place when motion is available (0 = never)',
    )
    p.add_argument('--task-timeout', type=float, default=300.0, help='seconds per task')
    p.add_argument('--startup-timeout', type=float, default=180.0)
    p.add_argument('--planner', default='embedded')
    p.add_argument(
        '--no-controller',
        action='store_true',
        help='do not start the whole-body controller (dry runs and planning errors only)',
    )
    p.add_argument('--logs', type=Path, default=ROOT / 'results' / 'bench_soak')
    return p


# -- /proc ---------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) or None if gone."""
    try:
        text = Path(f'/proc/{pid}/stat').read_text()
    except OSError:
        return None
    fields = text[text.rindex(')') + 2 :].split()
    return int(fields[1]), int(fields[19])


def descendants(root: int) -> dict[int, int]:
    """pid -> start time of every living descendant of root (and root itself)."""
    parents: dict[int, list[int]] = {}
    starts: dict[int, int] = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        st = _stat(int(entry))
        if st is not None:
            parents.setdefault(st[0], []).append(int(entry))
            starts[int(entry)] = st[1]
    out: dict[int, int] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in starts and pid not in out:
            out[pid] = starts[pid]
            todo.extend(parents.get(pid, []))
    return out


def alive(pid: int, start: int) -> bool:
    st = _stat(pid)
    return st is not None and st[1] == start


def proc_name(pid: int) -> str:
    """The node name for a ROS node process (`__node:=` or the executable), else comm."""
    try:
        args = Path(f'/proc/{pid}/cmdline').read_bytes().split(b'\0')
    except OSError:
        return '?'
    text = [a.decode(errors='replace') for a in args if a]
    for a in text:
        if a.startswith('__node:='):
            return a.split(':=', 1)[1]
    for a in text[:3]:
        if '/install/lib/' in a:
            return Path(a).name
    if any('humanoid_bringup.launch' in a for a in text):
        return 'launcher'
    return Path(text[0]).name if text else '?'


def sample(pid: int) -> dict[str, float] | None:
    try:
        rss_pages = int(Path(f'/proc/{pid}/statm').read_text().split()[1])
        fds = len(os.listdir(f'/proc/{pid}/fd'))
    except (OSError, IndexError, ValueError):
        return None
    return {'rss_mb': rss_pages * PAGE_KB / 1024.0, 'fds': fds}


def shm_files_of(pid: int) -> set[str]:
    """/dev/shm files the process has open (fd) or mapped."""
    found: set[str] = set()
    try:
        for fd in os.listdir(f'/proc/{pid}/fd'):
            try:
                target = os.readlink(f'/proc/{pid}/fd/{fd}')
            except OSError:
                continue
            if target.startswith('/dev/shm/'):
                found.add(target.split(' (deleted)')[0])
        for line in Path(f'/proc/{pid}/maps').read_text().splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith('/dev/shm/'):
                found.add(parts[5].split(' (deleted)')[0])
    except OSError:
        pass
    return found


def shm_in_use() -> set[str]:
    """/dev/shm files held by any living process we can inspect."""
    used: set[str] = set()
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            used |= shm_files_of(int(entry))
    return used


# -- run -------------------------------------------------------------------------------------
def run_soak(args: argparse.Namespace) -> dict[str, Any]:
    from humanoid_bringup.observer import Observer
    from humanoid_bringup.stack import Stack, wait_until
    from humanoid_bringup.task_view import error_name
    from humanoid_core.planning.suite import Predicate
    from humanoid_core.tasks.judge import judge

    env = dict(os.environ)
    env['ROS_DOMAIN_ID'] = str(20 + os.getpid() % 80)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    args.logs.mkdir(parents=True, exist_ok=True)
    launch_args = {'sim': 'mujoco', 'headless': 'true', 'planner': args.planner}
    stack = Stack(launch_args, args.logs / 'stack.log', env=env)
    if 'name="controller"' in stack.launch_file.read_text():
        launch_args['controller'] = 'false' if args.no_controller else 'true'
        stack.launch_args = launch_args
    shm_before = set(os.listdir('/dev/shm'))
    t_start = time.monotonic()
    stack.start()
    assert stack.proc is not None
    seen: dict[int, int] = {}
    seen_names: dict[int, str] = {}
    shm_seen: set[str] = set()

    def scan() -> dict[int, int]:
        procs = descendants(stack.proc.pid)  # type: ignore[union-attr]
        for pid, start in procs.items():
            if pid not in seen:
                seen[pid] = start
                seen_names[pid] = proc_name(pid)
            shm_seen.update(shm_files_of(pid))
        return procs

    obs = Observer('bench_soak', domain_id=int(env['ROS_DOMAIN_ID']), cameras=False, imu=False)
    results: list[dict[str, Any]] = []
    start_samples: dict[int, dict[str, float]] = {}
    end_samples: dict[int, dict[str, float]] = {}
    motion = False
    try:
        ready = wait_until(
            lambda: (
                obs.world_objects() > 0
                and bool(obs.ground_truth())
                and obs.task_client.server_is_ready()
            ),
            timeout=args.startup_timeout,
            alive=stack.alive,
        )
        if not ready:
            raise RuntimeError('stack did not come up:\n' + stack.log_tail(40))
        from rclpy.action import ActionClient

        from humanoid_interfaces.action import WalkTo

        walk = ActionClient(obs.node, WalkTo, 'walk_to')
        motion = walk.wait_for_server(timeout_sec=5.0)
        obs.wait_world_settled()
        for pid in scan():
            s = sample(pid)
            if s is not None:
                start_samples[pid] = s
        real_i = 0
        for i in range(args.tasks):
            real = motion and args.real_every > 0 and (i + 1) % args.real_every == 0
            if real:
                kind, instruction, expect, goal = REAL_TASKS[real_i % len(REAL_TASKS)]
                real_i += 1
                obs.reset_sim(-1)
                time.sleep(3.0)
            else:
                kind, instruction, expect, goal = TASKS[i % len(TASKS)]
            t0 = time.monotonic()
            res = obs.run_task(instruction, dry_run=kind == 'dry', timeout=args.task_timeout)
            wall = time.monotonic() - t0
            code = 'NO_RESULT' if res is None else error_name(res.error_code)
            ok = code == expect
            if ok and goal:
                time.sleep(1.5)
                ok = judge([Predicate(k, a) for k, a in goal], obs.truth_world('lab')).ok
            if real:  # back to the nominal scene: the next tasks' expected codes assume it
                obs.reset_sim(-1)
                time.sleep(3.0)
            results.append(
                {
                    'i': i,
                    'kind': kind,
                    'instruction': instruction,
                    'expect': expect,
                    'code': code,
                    'ok': ok,
                    'wall_s': round(wall, 2),
                    'message': '' if res is None else res.message,
                }
            )
            mark = 'ok ' if ok else 'FAIL'
            print(f'[{i + 1:3d}/{args.tasks}] {mark} {kind:5s} {code:16s} {wall:6.1f}s '
                  f'{instruction}', flush=True)  # fmt: skip
            scan()
            if not stack.alive():
                print('stack died:\n' + stack.log_tail(40), file=sys.stderr)
                break
        for pid in scan():
            s = sample(pid)
            if s is not None:
                end_samples[pid] = s
    finally:
        obs.close()
        t_stop = time.monotonic()
        code = stack.stop()
        stop_s = time.monotonic() - t_stop
    time.sleep(1.0)
    leaked = [{'pid': pid, 'name': seen_names[pid]} for pid, st in seen.items() if alive(pid, st)]
    in_use = shm_in_use()
    # Created during the run by a process of the stack, still there, nobody holds it. (Fast
    # DDS's shared port segments fastdds_port<N> pre-exist and are shared by every participant
    # of the machine: not counted unless this run created them.)
    leaked_shm = sorted(
        f
        for f in shm_seen
        if os.path.basename(f) not in shm_before and os.path.exists(f) and f not in in_use
    )
    new_files = set(os.listdir('/dev/shm')) - shm_before
    processes = {}
    for pid, s0 in start_samples.items():
        s1 = end_samples.get(pid)
        processes[f'{seen_names[pid]}[{pid}]'] = {
            'rss_mb_start': round(s0['rss_mb'], 1),
            'rss_mb_end': None if s1 is None else round(s1['rss_mb'], 1),
            'fds_start': s0['fds'],
            'fds_end': None if s1 is None else s1['fds'],
        }
    growth = [
        p['rss_mb_end'] - p['rss_mb_start']
        for p in processes.values()
        if p['rss_mb_end'] is not None
    ]
    fd_growth = [p['fds_end'] - p['fds_start'] for p in processes.values() if p['fds_end']]
    by_kind: dict[str, list[bool]] = {}
    for r in results:
        by_kind.setdefault(r['kind'], []).append(r['ok'])
    overall = {
        'tasks': len(results),
        'SR': round(sum(r['ok'] for r in results) / len(results), 4) if results else 0.0,
        'rss_growth_mb_max': round(max(growth), 1) if growth else None,
        'leaked_processes': len(leaked),
        'leaked_shm_files': len(leaked_shm),
        'SR_by_kind': {k: round(sum(v) / len(v), 4) for k, v in by_kind.items()},
        'tasks_by_kind': {k: len(v) for k, v in by_kind.items()},
        'motion_available': motion,
        'fd_growth_max': max(fd_growth) if fd_growth else None,
        'launcher_exit_code': code,
        'stop_s': round(stop_s, 1),
        'wall_s': round(time.monotonic() - t_start, 1),
        'task_wall_s_mean': round(sum(r['wall_s'] for r in results) / len(results), 2)
        if results
        else None,
    }
    return {
        'overall': overall,
        'processes': processes,
        'leaked_process_list': leaked,
        'leaked_shm_list': leaked_shm,
        'shm_files_used': len(shm_seen),
        # new files of anyone on this (shared) machine, for reference: not attributed to us
        'shm_files_new_any_owner': len(new_files),
        'tasks': results,
    }


def print_report(report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title='soak: per process (start -> end)')
    for col in ('process', 'RSS MB start', 'RSS MB end', 'growth', 'fds start', 'fds end'):
        table.add_column(col, justify='left' if col == 'process' else 'right')
    for name, p in report['processes'].items():
        end = p['rss_mb_end']
        table.add_row(
            name,
            f'{p["rss_mb_start"]:.1f}',
            '-' if end is None else f'{end:.1f}',
            '-' if end is None else f'{end - p["rss_mb_start"]:+.1f}',
            str(p['fds_start']),
            '-' if p['fds_end'] is None else str(p['fds_end']),
        )
    console = Console()
    console.print(table)
    o = report['overall']
    console.print(
        f'tasks {o["tasks"]}  SR {o["SR"]:.3f} {o["SR_by_kind"]}  rss_growth_mb_max '
        f'{o["rss_growth_mb_max"]}  fd_growth_max {o["fd_growth_max"]}  leaked_processes '
        f'{o["leaked_processes"]}  leaked_shm_files {o["leaked_shm_files"]}  (motion: '
        f'{o["motion_available"]}, launcher exit {o["launcher_exit_code"]}, '
        f'{o["wall_s"]:.0f} s)'
    )
    for f in report['leaked_shm_list'][:10]:
        console.print(f'  leaked shm: {f}')
    for p in report['leaked_process_list']:
        console.print(f'  leaked process: {p}')


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.tasks < 1:
        print('humanoid bench soak: --tasks must be >= 1', file=sys.stderr)
        return 2
    try:
        report = run_soak(args)
    except RuntimeError as exc:
        print(f'humanoid bench soak: {exc}', file=sys.stderr)
        return 1
    print_report(report)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + '\n')
        print(f'wrote {args.json}')
    o = report['overall']
    return 0 if o['leaked_processes'] == 0 and o['leaked_shm_files'] == 0 else 1


if __name__ == '__main__':
    sys.exit(main())
