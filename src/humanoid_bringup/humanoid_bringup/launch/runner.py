"""Starts the resolved nodes and supervises them until they exit or the launcher is stopped.

- Every child runs in its own process group and gets ``PR_SET_PDEATHSIG`` = SIGKILL, so it
  dies with the launcher even if the launcher is SIGKILLed (no orphans).
- stdout and stderr of each child are forwarded live, one line at a time, prefixed with
  ``[label]``; the last lines are kept for the crash report.
- A child exiting non-zero while the launch runs is reported with its exit code and log tail;
  the others keep running (as ``ros2 launch``) unless ``exit_on_failure``. The launcher exits
  when every child has exited: 1 if any failed, else 0.
- SIGINT/SIGTERM to the launcher: SIGINT to each child's group, after ``grace_period`` s
  SIGTERM, after another ``grace_period`` s SIGKILL (a second Ctrl-C skips a stage).
  Children that exit during this shutdown are not failures.
- Afterwards, Fast DDS shared-memory files left by our children are removed (see shm.py).
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import IO, Any

from . import shm
from .parser import NodeSpec

PR_SET_PDEATHSIG = 1
TAIL_LINES = 20


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL):
    """A Popen ``preexec_fn`` that makes the child receive ``sig`` when its parent dies."""
    libc = ctypes.CDLL(None, use_errno=True)  # loaded before fork: async-signal-safe use

    def preexec() -> None:
        libc.prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent_pid:  # the launcher died between fork and prctl
            os._exit(1)

    return preexec


class _Child:
    def __init__(self, spec: NodeSpec) -> None:
        self.spec = spec
        self.popen: subprocess.Popen[bytes] | None = None
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.reader: threading.Thread | None = None
        self.returncode: int | None = None

    @property
    def label(self) -> str:
        return self.spec.label

    @property
    def running(self) -> bool:
        return self.popen is not None and self.returncode is None


class Runner:
    """Runs ``nodes`` (from :func:`load_launch`) and supervises them; :meth:`run` blocks."""

    def __init__(
        self,
        nodes: list[NodeSpec],
        grace_period: float = 5.0,
        exit_on_failure: bool = False,
        out: IO[str] | None = None,
    ) -> None:
        if grace_period < 0:
            raise ValueError(f'grace_period must be >= 0, got {grace_period}')
        self.children = [_Child(spec) for spec in nodes]
        self.grace_period = grace_period
        self.exit_on_failure = exit_on_failure
        self.out = out if out is not None else sys.stdout
        self.failed: list[str] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop_requests = 0
        self._shutdown_stage = 0  # 0 running, 1 SIGINT sent, 2 SIGTERM sent, 3 SIGKILL sent
        self._stage_deadline = 0.0

    # ---------------------------------------------------------------------------- output

    def log(self, level: str, message: str) -> None:
        self.emit(f'[{level}] [launch]: {message}')

    def emit(self, line: str) -> None:
        with self._lock:
            try:
                self.out.write(line + '\n')
                self.out.flush()
            except (OSError, ValueError):
                pass

    def _read(self, child: _Child, stream: IO[bytes]) -> None:
        forward = child.spec.output in ('screen', 'both')
        for raw in iter(stream.readline, b''):
            line = raw.decode('utf-8', errors='replace').rstrip('\r\n')
            child.tail.append(line)
            if forward:
                self.emit(f'[{child.label}] {line}')
        stream.close()
        self._wake.set()

    # --------------------------------------------------------------------------- control

    def request_stop(self, signum: int | None = None, _frame: object = None) -> None:
        """What SIGINT/SIGTERM do: start (or advance) the shutdown."""
        self._stop_requests += 1
        self._wake.set()

    def _start(self, child: _Child, params_dir: str) -> bool:
        spec = child.spec
        env = dict(spec.env)
        env.setdefault('PYTHONUNBUFFERED', '1')
        cmd = spec.command(params_dir)
        try:
            child.popen = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                env=env,
                process_group=0,
                preexec_fn=die_with_parent(os.getpid()),
                close_fds=True,
            )
        except OSError as exc:
            self.log('ERROR', f"could not start '{child.label}' ({spec.path}): {exc}")
            child.returncode = -1
            return False
        self.log('INFO', f"started '{child.label}' (pid {child.popen.pid}): " + ' '.join(cmd))
        return True

    def _signal_all(self, sig: signal.Signals) -> None:
        for child in self.children:
            if child.running and child.popen is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.popen.pid, sig)

    def _advance_shutdown(self, reason: str) -> None:
        stage = self._shutdown_stage + 1
        if stage > 3:
            return
        self._shutdown_stage = stage
        sig = {1: signal.SIGINT, 2: signal.SIGTERM, 3: signal.SIGKILL}[stage]
        running = [c.label for c in self.children if c.running]
        if running:
            self.log('INFO', f'{reason}: sending {sig.name} to {", ".join(running)}')
        self._signal_all(sig)
        self._stage_deadline = time.monotonic() + self.grace_period

    def _on_exit(self, child: _Child, returncode: int) -> None:
        child.returncode = returncode
        if child.reader is not None:
            child.reader.join(timeout=2.0)
        pid = child.popen.pid if child.popen is not None else '?'
        if self._shutdown_stage:
            self.log('INFO', f"process '{child.label}' (pid {pid}) exited with code {returncode}")
            return
        if returncode == 0:
            self.log('INFO', f"process '{child.label}' (pid {pid}) finished cleanly")
            return
        self._report_failure(child, returncode)

    def _report_failure(self, child: _Child, returncode: int) -> None:
        self.failed.append(child.label)
        how = f'exit code {returncode}'
        if returncode < 0:
            with contextlib.suppress(ValueError):
                how += f' (killed by {signal.Signals(-returncode).name})'
        pid = child.popen.pid if child.popen is not None else '?'
        lines = [
            f"process '{child.label}' (pid {pid}) died with {how}; started at {child.spec.source}"
        ]
        if child.tail:
            lines.append(f'last {len(child.tail)} line(s) of its output:')
            lines += [f'    {line}' for line in child.tail]
        else:
            lines.append('(it printed nothing)')
        self.log('ERROR', '\n'.join(lines))
        if self.exit_on_failure and any(c.running for c in self.children):
            self._advance_shutdown(f"'{child.label}' failed and --exit-on-failure is set")

    # ------------------------------------------------------------------------------- run

    def run(self) -> int:
        """Starts every node, supervises until all exited; returns the launcher's exit code."""
        shm_before = shm.snapshot()
        params_dir = tempfile.mkdtemp(prefix='humanoid_launch_')
        handlers: dict[signal.Signals, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                handlers[sig] = signal.signal(sig, self.request_stop)
        try:
            for child in self.children:
                if self._stop_requests:
                    break
                if not self._start(child, params_dir):
                    self.failed.append(child.label)
                    if self.exit_on_failure:
                        self._advance_shutdown(f"'{child.label}' failed to start")
                        break
            # Readers start only once every child is forked: preexec_fn is not safe while
            # other threads run (a pipe holds 64 KiB meanwhile, far more than startup needs).
            for child in self.children:
                if child.popen is not None and child.popen.stdout is not None:
                    child.reader = threading.Thread(
                        target=self._read, args=(child, child.popen.stdout), daemon=True
                    )
                    child.reader.start()
            handled_requests = 0
            while any(c.running for c in self.children):
                if self._stop_requests > handled_requests:
                    handled_requests = self._stop_requests
                    self._advance_shutdown('stop requested')
                elif self._shutdown_stage and time.monotonic() >= self._stage_deadline:
                    self._advance_shutdown(f'still running after {self.grace_period:g} s')
                for child in self.children:
                    if child.running and child.popen is not None:
                        rc = child.popen.poll()
                        if rc is not None:
                            self._on_exit(child, rc)
                self._wake.wait(0.1)
                self._wake.clear()
        finally:
            # never leave a child behind, whatever happened above
            for child in self.children:
                if child.running and child.popen is not None:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(child.popen.pid, signal.SIGKILL)
                    child.returncode = child.popen.wait()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)  # type: ignore[arg-type]
            shutil.rmtree(params_dir, ignore_errors=True)
        removed = shm.remove_stale(shm_before)
        if removed:
            self.log('INFO', f'removed {len(removed)} stale Fast DDS shared-memory file(s)')
        if self.failed:
            self.log('ERROR', f'failed: {", ".join(self.failed)}')
            return 1
        return 0
