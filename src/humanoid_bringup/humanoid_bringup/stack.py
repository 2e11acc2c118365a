"""Start the whole stack from the main launch file in a child process and stop it cleanly
(used by `humanoid demo`, `humanoid bench tasks` and the system tests).

The launcher runs in its own process group with its output in a log file; :meth:`stop`
sends SIGINT (the launcher then stops every node: SIGINT, SIGTERM, SIGKILL stages) and
waits. The launcher's children die with it even if it is killed (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import TextIO


def workspace_root() -> Path:
    env = os.environ.get('HUMANOID_WORKSPACE')
    if env:
        return Path(env)
    for p in Path(__file__).resolve().parents:
        if (p / 'launch' / 'humanoid.launch.xml').is_file() and (p / 'src').is_dir():
            return p
    return Path.cwd()


def default_launch_file() -> Path:
    path = workspace_root() / 'launch' / 'humanoid.launch.xml'
    if path.is_file():
        return path
    from ament_index_python.packages import get_package_share_directory

    return Path(get_package_share_directory('humanoid_bringup')) / 'launch' / path.name


def free_domain_id() -> int:
    """A ROS domain id for a private stack: ROS_DOMAIN_ID if set, else one from the pid."""
    env = os.environ.get('ROS_DOMAIN_ID')
    if env and env.isdigit():
        return int(env)
    return 20 + os.getpid() % 80


# CPUs below which the simulator runs at half speed by default (the whole stack at real time
# needs about 1.9 cores: measured on 2 cores, where commands then came 20-70 ms late and
# carrying walks fell; at half speed none did)
REAL_TIME_MIN_CPUS = 4
REAL_TIME_FACTOR_RANGE = (0.05, 10.0)  # as the nodes' real_time_factor parameters


def available_cpus() -> int:
    """CPUs this process may run on."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    return cpus or 1


def check_real_time_factor(value: float, what: str) -> float:
    """`value` if within `REAL_TIME_FACTOR_RANGE`, else ValueError naming `what`."""
    low, high = REAL_TIME_FACTOR_RANGE
    if not low <= value <= high:
        raise ValueError(f'{what} must be in [{low:g}, {high:g}], got {value}')
    return value


def default_real_time_factor() -> float:
    """The simulator's real-time factor for a local stack: HUMANOID_REAL_TIME_FACTOR if set,
    else 1.0 with at least `REAL_TIME_MIN_CPUS` CPUs available to this process and 0.5 with
    fewer."""
    env = os.environ.get('HUMANOID_REAL_TIME_FACTOR', '').strip()
    if env:
        try:
            value = float(env)
        except ValueError:
            raise ValueError(f'HUMANOID_REAL_TIME_FACTOR must be a number, got {env!r}') from None
        return check_real_time_factor(value, 'HUMANOID_REAL_TIME_FACTOR')
    return 1.0 if available_cpus() >= REAL_TIME_MIN_CPUS else 0.5


class Stack:
    """`humanoid launch FILE args` as a child process."""

    def __init__(
        self,
        launch_args: dict[str, str],
        log_path: Path,
        launch_file: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.launch_file = launch_file or default_launch_file()
        self.launch_args = dict(launch_args)
        self.log_path = log_path
        self.env = dict(os.environ if env is None else env)
        self.env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
        self.env['PYTHONUNBUFFERED'] = '1'
        self.proc: subprocess.Popen | None = None
        self._log: TextIO | None = None

    def command(self) -> list[str]:
        args = [f'{k}:={v}' for k, v in self.launch_args.items()]
        return [sys.executable, '-m', 'humanoid_bringup.launch', str(self.launch_file), *args]

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, 'w', buffering=1)  # noqa: SIM115 - closed in stop()
        from humanoid_bringup.launch.runner import die_with_parent

        self.proc = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            # If this process dies without stop(), the launcher gets SIGINT and shuts the
            # stack down cleanly instead of running on as an orphan.
            preexec_fn=die_with_parent(os.getpid(), signal.SIGINT),
        )

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return '\n'.join(self.log_path.read_text(errors='replace').splitlines()[-lines:])
        except OSError:
            return ''

    def stop(self, timeout: float = 30.0) -> int | None:
        """Stop the stack; returns the launcher's exit code (None if it never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def __enter__(self) -> Stack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(predicate, timeout: float, poll: float = 0.1, alive=None) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until true or ``timeout``; stops early if ``alive()`` turns false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        if alive is not None and not alive():
            return False
        time.sleep(poll)
    return bool(predicate())
