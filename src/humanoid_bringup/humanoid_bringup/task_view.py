"""Rendering of ExecuteTask feedback and results for terminals (used by `humanoid task`/`demo`)."""

from __future__ import annotations

import functools
import json
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


def _constants(cls: type, prefix: str = '') -> dict[int, str]:
    names = {}
    for attr in dir(cls):
        if attr.isupper() and attr.startswith(prefix) and isinstance(getattr(cls, attr), int):
            names[getattr(cls, attr)] = attr[len(prefix) :]
    return names


@functools.cache
def _names(which: str) -> dict[int, str]:
    from humanoid_interfaces.action import ExecuteTask

    if which == 'error':
        return _constants(ExecuteTask.Result)
    return _constants(ExecuteTask.Feedback, 'STATE_')


def error_name(code: int) -> str:
    """ExecuteTask result code -> contract name, e.g. 2 -> 'UNKNOWN_OBJECT'."""
    return _names('error').get(code, f'UNKNOWN_CODE_{code}')


def state_name(code: int) -> str:
    """ExecuteTask feedback state -> name, e.g. 1 -> 'AWAITING_APPROVAL'."""
    return _names('state').get(code, f'UNKNOWN_STATE_{code}')


def plan_rows(plan: Any) -> list[tuple[int, str]]:
    rows = []
    for i, step in enumerate(plan.steps):
        text = step.text or (f'{step.skill}(' + ', '.join(f'{v}' for v in step.arg_values) + ')')
        rows.append((i, text))
    return rows


def plan_table(plan: Any, current: int = -1, title: str = 'Plan') -> Table:
    table = Table(title=title, title_justify='left', show_edge=False)
    table.add_column('#', justify='right', style='dim')
    table.add_column('skill call')
    for i, text in plan_rows(plan):
        marker = '[bold cyan]>[/bold cyan] ' if i == current else '  '
        table.add_row(str(i + 1), marker + text)
    if plan.rationale:
        table.caption = f'planner: {plan.planner}; {plan.rationale}'
    elif plan.planner:
        table.caption = f'planner: {plan.planner}'
    return table


def plan_to_dict(plan: Any) -> dict[str, Any]:
    return {
        'planner': plan.planner,
        'rationale': plan.rationale,
        'steps': [
            {
                'skill': s.skill,
                'args': dict(zip(s.arg_names, s.arg_values, strict=False)),
                'text': s.text,
            }
            for s in plan.steps
        ],
    }


def result_to_dict(result: Any) -> dict[str, Any]:
    return {
        'error_code': error_name(result.error_code),
        'message': result.message,
        'approved_by': result.approved_by,
        'planning_time': round(float(result.planning_time), 4),
        'execution_time': round(float(result.execution_time), 4),
        'executed_plan': plan_to_dict(result.executed_plan),
    }


class TaskView:
    """Live progress bar + plan printout driven by ExecuteTask feedback messages."""

    def __init__(self, console: Console, instruction: str, quiet: bool = False) -> None:
        self.console = console
        self.quiet = quiet
        self._progress = Progress(
            TextColumn('[bold]{task.fields[state]:<18}'),
            BarColumn(),
            TextColumn('{task.percentage:>3.0f}%'),
            TimeElapsedColumn(),
            TextColumn('{task.fields[status]}'),
            console=console,
            transient=False,
            disable=quiet,
        )
        self._task = self._progress.add_task(
            instruction, total=1.0, state='sending', status=instruction
        )
        self._shown_plan: tuple[tuple[int, str], ...] = ()
        self.last_state = -1

    def start(self) -> None:
        self._progress.start()

    def stop(self) -> None:
        self._progress.stop()

    def update(self, fb: Any) -> None:
        state = state_name(fb.state).lower().replace('_', ' ')
        rows = tuple(plan_rows(fb.plan))
        if rows and rows != self._shown_plan and not self.quiet:
            self._shown_plan = rows
            self._progress.console.print(plan_table(fb.plan, fb.step_index))
        self.last_state = fb.state
        self._progress.update(
            self._task,
            completed=max(0.0, min(1.0, float(fb.progress))),
            state=state,
            status=fb.status,
        )

    def show_result(self, result: Any, as_json: bool = False) -> int:
        name = error_name(result.error_code)
        ok = name == 'SUCCESS'
        if ok:
            self._progress.update(self._task, completed=1.0, state='done', status='')
        self._progress.stop()
        if as_json:
            print(json.dumps(result_to_dict(result), indent=2))
            return 0 if ok else 1
        if result.executed_plan.steps:
            self.console.print(plan_table(result.executed_plan, title='Executed plan'))
        colour = 'green' if ok else 'red'
        self.console.print(f'[bold {colour}]{name}[/bold {colour}]: {result.message}')
        extra = f'planning {result.planning_time:.2f} s, execution {result.execution_time:.2f} s'
        if result.approved_by:
            extra += f', approved by {result.approved_by}'
        self.console.print(f'[dim]{extra}[/dim]')
        return 0 if ok else 1
