"""Helpers for the cross-package tests: real processes that always get cleaned up, with the
test run's ROS environment (domain id, loopback discovery)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


def ros_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_LOG_DIR', str(ROOT / 'log' / 'ros'))
    env['PYTHONUNBUFFERED'] = '1'
    env.update(extra)
    return env


def real_time_factor() -> float:
    """The simulator speed of the test stacks: as `humanoid demo` and `humanoid bench tasks`
    choose it (0.5 with fewer than 4 CPUs, where the whole stack cannot keep real time;
    HUMANOID_REAL_TIME_FACTOR overrides)."""
    from humanoid_bringup.stack import default_real_time_factor

    return default_real_time_factor()


def speed_args() -> list[str]:
    """`-p real_time_factor:=X` for a simulator, controller or planner command line."""
    return ['-p', f'real_time_factor:={real_time_factor():g}']


def _drain(proc: subprocess.Popen) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        proc.lines.append(line.rstrip('\n'))  # type: ignore[attr-defined]


class Processes:
    """Starts subprocesses in their own process groups; stops them all at teardown."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def start(self, args: list[str], **kwargs) -> subprocess.Popen:
        kwargs.setdefault('env', ros_env())
        kwargs.setdefault('stdout', subprocess.PIPE)
        kwargs.setdefault('stderr', subprocess.STDOUT)
        kwargs.setdefault('text', True)
        proc = subprocess.Popen(args, start_new_session=True, **kwargs)
        # Drain the output in a thread (a full pipe would block a chatty node) and keep the
        # lines for assertions: proc.lines.
        proc.lines = []  # type: ignore[attr-defined]
        if proc.stdout is not None:
            threading.Thread(target=_drain, args=(proc,), daemon=True).start()
        self.procs.append(proc)
        return proc

    def stop_all(self, grace: float = 5.0) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def python_stacks(pid: int, timeout: float = 30.0) -> str:
    """Every thread's Python (and native) stack of a running process, by py-spy, for failure
    messages of a process that is alive but silent (a hang, a deadlock); a note when py-spy is
    not there or cannot attach."""
    spy = VENV_BIN / 'py-spy'
    if not spy.exists():
        return f'(no stacks: {spy} not installed)'
    try:
        out = subprocess.run(
            [str(spy), 'dump', '--native', '--pid', str(pid)],
            capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return f'(no stacks: py-spy dump of pid {pid} took over {timeout} s)'
    return (out.stdout + out.stderr).strip() or f'(py-spy dump of pid {pid}: no output)'


def wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 30.0) -> list[str]:
    """Wait until a line of proc's output (collected by Processes.start) contains needle;
    returns the lines read so far."""
    lines: list[str] = proc.lines  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(needle in line for line in list(lines)):
            return list(lines)
        if proc.poll() is not None:
            time.sleep(0.2)  # let the reader thread drain the pipe
            if any(needle in line for line in list(lines)):
                return list(lines)
            break
        time.sleep(0.05)
    raise AssertionError(
        f'{needle!r} not seen within {timeout} s (exit={proc.poll()}); output:\n'
        + '\n'.join(lines[-60:])
    )
