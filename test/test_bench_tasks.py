"""`humanoid bench tasks --resume`: a long suite run continued from its JSON; stopping a run.

Runs the real benchmark entry point (`humanoid bench tasks`) with every selected task already
in the result file, so no stack starts: what is checked is what a resumed run keeps, refuses
and writes. One test starts a real task and stops the run with SIGTERM mid-task.
"""

from __future__ import annotations

import json
from pathlib import Path
import signal
import subprocess
import time

import psutil
import pytest
from testutil import ROOT, VENV_BIN

SUITE = ROOT / 'config' / 'suites' / 'lab.yaml'
SETTINGS = {
    'suite': str(SUITE),
    'planner': 'embedded',
    'seed': -1,
    'max_speed': False,
    'real_time_factor': 0.5,
}


def entry(task_id: str, success: bool, wall: float) -> dict[str, object]:
    return {
        'id': task_id,
        'instruction': '...',
        'expect': 'success',
        'code': 'success' if success else 'execution_failed',
        'success': success,
        'exec': 1.0 if success else 0.5,
        'gcr': 1.0 if success else 0.0,
        'wall_s': wall,
        'sim_s': wall / 2,
        'planner_latency_ms': 10.0,
    }


def said(done: subprocess.CompletedProcess[str]) -> str:
    """What the benchmark printed, with rich's line wrapping undone."""
    return ' '.join((done.stdout + done.stderr).split())


def bench(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(VENV_BIN / 'humanoid'), 'bench', 'tasks', '--suite', str(SUITE), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_resume_keeps_the_finished_tasks_and_summarizes_them_all(tmp_path: Path) -> None:
    out = tmp_path / 'lab.json'
    # an interrupted run: two of the three wanted tasks done (in another order), plus a task
    # that is not selected this time
    tasks = [entry('blue-pick-then-put', False, 80.0), entry('red-to-tray', True, 60.0)]
    tasks.append(entry('look-tray', True, 30.0))
    out.write_text(json.dumps(dict(SETTINGS, complete=False, tasks=tasks)))
    done = bench(
        '--tasks', 'red-to-tray,blue-pick-then-put', '--json', str(out), '--resume',
        '--real-time-factor', '0.5',
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert '2 of 2 tasks already run' in said(done)
    result = json.loads(out.read_text())
    assert result['complete'] is True
    # the selection only, in suite order (red-to-tray comes first in lab.yaml)
    assert [t['id'] for t in result['tasks']] == ['red-to-tray', 'blue-pick-then-put']
    assert result['overall']['tasks'] == 2 and result['overall']['succeeded'] == 1
    assert result['overall']['SR'] == 0.5
    assert result['overall']['wall_s_mean'] == 70.0
    assert not out.with_name('lab.json.tmp').exists()


def test_resume_refuses_a_file_measured_with_other_settings(tmp_path: Path) -> None:
    out = tmp_path / 'lab.json'
    before = json.dumps(dict(SETTINGS, complete=False, tasks=[entry('red-to-tray', True, 60.0)]))
    out.write_text(before)
    done = bench(
        '--tasks', 'red-to-tray', '--json', str(out), '--resume', '--real-time-factor', '1.0'
    )
    assert done.returncode == 2
    assert 'real_time_factor 0.5 there, 1.0 now' in said(done)
    assert out.read_text() == before  # nothing overwritten


def test_resume_refuses_a_file_that_is_not_a_result(tmp_path: Path) -> None:
    out = tmp_path / 'lab.json'
    out.write_text('{"tasks": ')
    done = bench('--tasks', 'red-to-tray', '--json', str(out), '--resume')
    assert done.returncode == 2
    assert 'cannot resume from' in said(done)
    out.write_text('[1, 2]')
    done = bench('--tasks', 'red-to-tray', '--json', str(out), '--resume')
    assert done.returncode == 2 and 'not a `humanoid bench tasks` result' in said(done)


def test_resume_needs_a_result_file() -> None:
    done = bench('--tasks', 'red-to-tray', '--resume')
    assert done.returncode == 2
    assert '--resume needs --json' in said(done)


@pytest.mark.parametrize('sig', [signal.SIGTERM, signal.SIGINT])
def test_a_signal_mid_task_stops_the_run_and_its_stack(tmp_path: Path, sig: int) -> None:
    """SIGTERM (and SIGINT where the shell ignored it: `cmd &` in a script) stops a run like
    Ctrl-C: the task's stack is shut down, nothing is left running, the exit code is 130.
    Started in the background by a script, `kill -INT` did nothing and a plain kill left the
    task's six nodes running."""
    out, logs = tmp_path / 'lab.json', tmp_path / 'logs'
    proc = subprocess.Popen(
        [str(VENV_BIN / 'humanoid'), 'bench', 'tasks', '--suite', str(SUITE), '--tasks',
         'red-to-tray', '--json', str(out), '--logs', str(logs), '--real-time-factor', '0.5'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )  # fmt: skip
    log = logs / 'red-to-tray.log'
    try:
        deadline = time.monotonic() + 150.0
        while time.monotonic() < deadline and proc.poll() is None:
            if log.exists() and "task: 'put the red cube in the tray'" in log.read_text():
                break
            time.sleep(0.5)
        assert proc.poll() is None, proc.communicate()[0]
        assert log.exists() and 'task:' in log.read_text(), 'the task was never sent'
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 6, [c.name() for c in children]  # launcher and nodes
        proc.send_signal(sig)  # SIGINT is ignored here, as in a background job: handled
        text, _ = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    said_ = ' '.join(text.split())
    assert proc.returncode == 130, said_
    why = 'interrupted' if sig == signal.SIGINT else f'stopped by signal {int(sig)}'
    assert f'stopped ({why}): 0 of 1 tasks finished' in said_, said_
    _gone, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [p.cmdline()[:3] for p in alive]
    assert not out.exists()  # no task finished: nothing written
