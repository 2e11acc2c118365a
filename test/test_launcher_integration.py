"""`humanoid launch` end to end: real demo nodes over DDS, Ctrl-C, crashes, SIGKILL of the
launcher (no orphans), and a bad launch file."""

from __future__ import annotations

import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from testutil import Processes, wait_for_line

from humanoid_bringup.launch import shm

pytestmark = pytest.mark.slow

LAUNCHER = [sys.executable, '-m', 'humanoid_bringup.launch']

TALK_LISTEN = """
<launch>
  <arg name="namespace" default=""/>
  <arg name="rate" default="20.0"/>
  <group>
    <push_ros_namespace namespace="$(var namespace)"/>
    <node pkg="humanoid_bringup" exec="demo_talker" name="talker">
      <param name="rate_hz" value="$(var rate)"/>
      <param name="message" value="hello from $(var namespace)"/>
      <remap from="chatter" to="chat"/>
    </node>
    <node pkg="humanoid_bringup" exec="demo_listener" name="listener">
      <remap from="chatter" to="chat"/>
    </node>
  </group>
</launch>
"""


def write(tmp_path: Path, body: str, name: str = 'test.launch.xml') -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(body).lstrip('\n'))
    return str(path)


def child_pids(lines: list[str]) -> dict[str, int]:
    """{label: pid} from the launcher's "started 'label' (pid N)" lines."""
    found = {}
    for line in lines:
        match = re.search(r"started '([^']+)' \(pid (\d+)\)", line)
        if match:
            found[match.group(1)] = int(match.group(2))
    return found


def alive(pid: int) -> bool:
    """True if pid runs (a zombie, dead but not yet reaped by init, counts as gone)."""
    try:
        with open(f'/proc/{pid}/status') as f:
            return not any(line.startswith('State:\tZ') for line in f)
    except FileNotFoundError:
        return False


def wait_gone(pids: list[int], timeout: float = 20.0) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@pytest.mark.parametrize('stop_signal', [signal.SIGINT, signal.SIGTERM])
def test_talker_listener_exchange_and_stop(
    tmp_path: Path, processes: Processes, stop_signal: signal.Signals
) -> None:
    shm_before = shm.snapshot()
    path = write(tmp_path, TALK_LISTEN)
    proc = processes.start([*LAUNCHER, path, 'namespace:=robot1'])
    lines = wait_for_line(proc, 'I heard: "hello from robot1', timeout=60)
    pids = child_pids(lines)
    assert set(pids) == {'talker', 'listener'}
    assert any('[listener] ' in line and '[robot1.listener]' in line for line in lines)
    os.kill(proc.pid, stop_signal)
    assert proc.wait(timeout=30) == 0
    assert wait_gone(list(pids.values())) == []
    out = '\n'.join(proc.lines)  # type: ignore[attr-defined]
    assert 'stop requested: sending SIGINT to talker, listener' in out
    assert 'died with' not in out
    # whatever Fast DDS files appeared meanwhile are used by someone (other tests may run)
    leftovers = shm.snapshot() - shm_before
    in_use = shm.files_in_use()
    stale = {n for n in leftovers if shm._base(n) not in {shm._base(u) for u in in_use}}
    assert stale == set()


def test_crash_is_reported_and_exit_on_failure_stops_the_rest(
    tmp_path: Path, processes: Processes
) -> None:
    path = write(
        tmp_path,
        """
        <launch>
          <node pkg="humanoid_bringup" exec="demo_listener" name="listener"/>
          <node pkg="humanoid_bringup" exec="demo_talker" name="bad_talker">
            <param name="rate_hz" value="-5.0"/>
          </node>
        </launch>
        """,
    )
    proc = processes.start([*LAUNCHER, path, '--exit-on-failure', '--grace-period', '10'])
    assert proc.wait(timeout=60) == 1
    time.sleep(0.3)  # let the reader thread drain the pipe
    out = '\n'.join(proc.lines)  # type: ignore[attr-defined]
    assert "process 'bad_talker'" in out and 'died with exit code 1' in out
    report = out[out.index('died with exit code 1') :]
    assert f'started at {path}:3' in report
    assert 'last 20 line(s) of its output:' in report
    assert 'rate_hz out of range' in report  # the node's own error, in the tail
    assert 'sending SIGINT to listener' in out
    assert 'failed: bad_talker' in out
    assert wait_gone(list(child_pids(proc.lines).values())) == []  # type: ignore[attr-defined]


def test_children_die_with_a_sigkilled_launcher(tmp_path: Path, processes: Processes) -> None:
    shm_before = shm.snapshot()
    path = write(tmp_path, TALK_LISTEN)
    proc = processes.start([*LAUNCHER, path, 'rate:=5.0'])
    lines = wait_for_line(proc, 'I heard', timeout=60)
    pids = child_pids(lines)
    assert len(pids) == 2
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    try:
        assert wait_gone(list(pids.values())) == []
    finally:
        shm.remove_stale(shm_before)  # SIGKILLed nodes cannot clean up after themselves


def test_unsupported_tag_is_a_file_line_error(tmp_path: Path) -> None:
    path = write(
        tmp_path, '<launch>\n  <arg name="a" default="1"/>\n  <timer period="1"/>\n</launch>'
    )
    result = subprocess.run(
        [*LAUNCHER, path], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert f'humanoid launch: error: {path}:3: unsupported tag <timer>' in result.stderr
    assert result.stdout == ''
