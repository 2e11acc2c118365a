"""`humanoid task` against a running ExecuteTask server, in separate processes over DDS."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from testutil import ROOT, VENV_BIN, ros_env, wait_for_line

SERVER = ROOT / 'test' / 'fixtures' / 'scripted_task_server.py'


def humanoid(*args: str, env: dict[str, str] | None = None, timeout: float = 90):
    return subprocess.run(
        [str(VENV_BIN / 'humanoid'), *args],
        env=env or ros_env(COLUMNS='160'),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def server(processes):
    proc = processes.start([sys.executable, str(SERVER)])
    wait_for_line(proc, 'ready', timeout=60)
    return proc


def test_success_streams_plan_and_result(server):
    out = humanoid('task', 'put the red cube in the tray')
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'place_in(red_cube, tray)' in out.stdout
    assert 'SUCCESS' in out.stdout
    assert 'red_cube is in tray' in out.stdout


def test_failure_exits_nonzero_with_code_name(server):
    out = humanoid('task', 'put the unknown purple cube in the tray')
    assert out.returncode == 1
    assert 'UNKNOWN_OBJECT' in out.stdout


def test_approve_from_cli_is_recorded(server):
    out = humanoid('task', '--approve', '--json', 'put the red cube in the tray')
    assert out.returncode == 0, out.stdout + out.stderr
    result = json.loads(out.stdout)
    assert result['error_code'] == 'SUCCESS'
    assert result['approved_by'].startswith('cli:')


def test_dry_run_json_has_plan(server):
    out = humanoid('task', '--dry-run', '--json', 'put the red cube in the tray')
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert [s['skill'] for s in result['executed_plan']['steps']] == ['pick', 'place_in']
    assert result['executed_plan']['steps'][1]['args'] == {
        'object': 'red_cube',
        'container': 'tray',
    }


def test_client_timeout_cancels(server):
    out = humanoid('task', '--timeout', '3', 'do something slow')
    assert out.returncode == 4
    assert 'TIMEOUT' in out.stdout


def test_server_dying_mid_task_ends_the_wait(server):
    # SIGKILL the task server while the CLI waits for a long task's result: the CLI notices the
    # server is gone (DDS liveliness) and exits 3 saying so, well before its own timeout.
    cli = subprocess.Popen(
        [str(VENV_BIN / 'humanoid'), 'task', '--timeout', '300', 'do something slow'],
        env=ros_env(COLUMNS='160'), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        time.sleep(4.0)  # the goal is accepted and running (5 s per step)
        assert cli.poll() is None, cli.communicate()[0]
        os.killpg(server.pid, signal.SIGKILL)
        t0 = time.monotonic()
        out, _ = cli.communicate(timeout=120)
        took = time.monotonic() - t0
    finally:
        if cli.poll() is None:
            cli.kill()
    assert cli.returncode == 3, out
    assert 'task planner disappeared' in out, out
    print(f'\nCLI ended {took:.1f} s after the server was killed', flush=True)


def test_no_server_says_how_to_fix():
    # A domain nobody uses in this test run: nothing answers.
    env = ros_env(ROS_DOMAIN_ID='77' if ros_env().get('ROS_DOMAIN_ID') != '77' else '78')
    out = humanoid('task', '--server-timeout', '1', 'put the red cube in the tray', env=env)
    assert out.returncode == 3
    assert 'humanoid launch' in out.stdout


def test_empty_instruction_is_rejected_before_ros():
    out = humanoid('task', '   ')
    assert out.returncode == 2
    assert 'empty' in out.stderr
