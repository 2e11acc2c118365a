"""`humanoid demo [--task TEXT]`: launch the simulated stack headless, run one task, judge it on
simulator ground truth, save artifacts, shut everything down.

Artifacts (``results/demo-<time>/``): ``head_before.png``, ``head_after.png``, overview frames
``overview/NNN.png`` and ``overview_montage.png``, ``plan.json`` (plan, result, timings,
verdict) and ``stack.log`` (all node output). Exit status 0 only when the task succeeded
and its goal holds in the simulator.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import time
from typing import Any

import numpy as np
from rich.console import Console

from humanoid_bringup.stack import (
    Stack,
    available_cpus,
    default_real_time_factor,
    free_domain_id,
    wait_until,
    workspace_root,
)
from humanoid_bringup.task_view import TaskView, result_to_dict


def save_png(path: Path, rgb: np.ndarray) -> None:
    import cv2

    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))


def montage(frames: list[np.ndarray], columns: int = 4) -> np.ndarray:
    h, w, _ = frames[0].shape
    rows = (len(frames) + columns - 1) // columns
    sheet = np.zeros((rows * h, columns * w, 3), dtype=np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = f
    return sheet


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid demo',
        description='Launch the simulated humanoid (MuJoCo, headless), run one task, judge it '
        'on simulator ground truth and save pictures of it.',
    )
    p.add_argument('--task', default='put the red cube in the tray', help='the instruction')
    p.add_argument('--planner', default='embedded', help='planner backend (default: embedded)')
    p.add_argument('--seed', type=int, default=-1, help='scene layout seed (-1: nominal)')
    p.add_argument('--out', type=Path, default=None, help='artifact folder')
    p.add_argument('--timeout', type=float, default=600.0, help='task timeout, s')
    p.add_argument(
        '--startup-timeout', type=float, default=180.0, help='stack start-up timeout, s'
    )
    return p


def _goals(instruction: str, result: Any, scene_world: Any) -> tuple[list[Any], str]:
    from humanoid_core.planning.skills import SkillRegistry
    from humanoid_core.tasks.judge import find_task, goals_from_plan
    from humanoid_ros.world import plan_from_msg

    suites = sorted((workspace_root() / 'config' / 'suites').glob('*.yaml'))
    task = find_task(instruction, suites)
    if task is not None and task.goal:
        return list(task.goal), f'suite task {task.id}'
    plan = plan_from_msg(result.executed_plan)
    return goals_from_plan(plan, scene_world, SkillRegistry.from_yaml()), 'the executed plan'


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    out = args.out or workspace_root() / 'results' / time.strftime('demo-%Y%m%d-%H%M%S')
    out.mkdir(parents=True, exist_ok=True)
    os.environ['ROS_DOMAIN_ID'] = str(free_domain_id())
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    rtf = default_real_time_factor()
    console.print(
        f'[bold]humanoid demo[/bold]: "{args.task}"  (ROS_DOMAIN_ID={os.environ["ROS_DOMAIN_ID"]},'
        f' artifacts in {out})'
    )
    if rtf != 1.0:
        console.print(
            f'simulating at {rtf:g} x real time ({available_cpus()} CPUs: the whole '
            'stack needs about 2 cores to itself for real time; HUMANOID_REAL_TIME_FACTOR sets it)'
        )
    stack = Stack(
        {
            'sim': 'mujoco',
            'headless': 'true',
            'planner': args.planner,
            'seed': str(args.seed),
            'overview_rate': '2.0',
            'real_time_factor': f'{rtf:g}',
        },
        out / 'stack.log',
    )
    from humanoid_bringup.observer import Observer

    observer: Observer | None = None
    report: dict[str, Any] = {
        'instruction': args.task,
        'seed': args.seed,
        'artifacts': str(out),
        'real_time_factor': rtf,
    }
    rc = 1
    t_start = time.monotonic()
    try:
        with console.status('starting the stack (simulator, controller, perception, planner)'):
            stack.start()
            observer = Observer('humanoid_demo', keep_overview=True)
            ready = wait_until(
                lambda: (
                    observer.world_objects() > 0
                    and observer.head_frame() is not None
                    and bool(observer.ground_truth())
                    and observer.task_client.server_is_ready()
                ),
                timeout=args.startup_timeout,
                alive=stack.alive,
            )
        if not ready:
            console.print(
                '[red]The stack did not come up[/red] (no world state, camera, ground truth '
                f'or task planner within {args.startup_timeout:.0f} s). Last log lines:\n'
                + stack.log_tail()
            )
            return 1
        observer.wait_world_settled(quiet=3.0, timeout=20.0)  # perception's first frames
        report['startup_s'] = round(time.monotonic() - t_start, 2)
        before = observer.head_frame()
        assert before is not None
        save_png(out / 'head_before.png', before)
        truth_before = observer.ground_truth()

        view = TaskView(console, args.task)
        view.start()
        t_task = time.monotonic()
        result = observer.run_task(args.task, on_feedback=view.update, timeout=args.timeout)
        report['task_wall_s'] = round(time.monotonic() - t_task, 2)
        if result is None:
            view.stop()
            console.print('[red]No result from the task planner (timeout or rejected).[/red]')
            return 1
        task_rc = view.show_result(result)
        report['result'] = result_to_dict(result)
        time.sleep(1.5)  # objects settle; a last overview frame
        after = observer.head_frame()
        if after is not None:
            save_png(out / 'head_after.png', after)
        frames = [f for _t, f in observer.overview]
        for i, f in enumerate(frames):
            save_png(out / 'overview' / f'{i:03d}.png', f)
        if frames:
            pick = np.linspace(0, len(frames) - 1, num=min(8, len(frames))).round().astype(int)
            save_png(out / 'overview_montage.png', montage([frames[i] for i in pick]))

        from humanoid_core.tasks.judge import judge, moved_objects
        from humanoid_core.world.scene import initial_world

        scene_world = initial_world('lab')
        truth_after = observer.ground_truth()
        goals, source = _goals(args.task, result, scene_world)
        gt_world = observer.truth_world('lab')
        verdict = judge(goals, gt_world)
        report['goal_source'] = source
        report['goals_met'] = list(verdict.met)
        report['goals_failed'] = list(verdict.failed)
        report['moved'] = moved_objects(truth_before, truth_after)
        ok = task_rc == 0 and verdict.ok
        if goals:
            colour = 'green' if verdict.ok else 'red'
            console.print(
                f'[{colour}]goal check on simulator ground truth ({source}): '
                f'{len(verdict.met)}/{len(goals)} met[/{colour}]'
                + (f'; failed: {", ".join(verdict.failed)}' if verdict.failed else '')
            )
        else:
            console.print('[yellow]no goal to check for this task[/yellow]')
        report['success'] = ok
        rc = 0 if ok else 1
        return rc
    except KeyboardInterrupt:
        console.print('[yellow]interrupted[/yellow]')
        return 130
    finally:
        if observer is not None:
            observer.close()
        with console.status('stopping the stack'):
            code = stack.stop()
        report['launcher_exit'] = code
        report['total_wall_s'] = round(time.monotonic() - t_start, 2)
        (out / 'plan.json').write_text(json.dumps(report, indent=2))
        console.print(
            f'artifacts: {out} ({"success" if rc == 0 else "FAILED"}; '
            f'result {report.get("result", {}).get("error_code", "none")})'
        )
