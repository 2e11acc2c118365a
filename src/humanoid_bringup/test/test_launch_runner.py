"""Process supervision of the launcher with plain shell processes (no ROS): crash reports,
--exit-on-failure, the SIGINT -> SIGTERM -> SIGKILL escalation, environment, output."""

from __future__ import annotations

import io
import os
import threading

from humanoid_bringup.launch.parser import NodeSpec
from humanoid_bringup.launch.runner import Runner


def shell(label: str, script: str, output: str = 'screen', **env: str) -> NodeSpec:
    """A 'node' running ``sh -c script`` (the --ros-args the runner appends become $0...)."""
    return NodeSpec(
        package='test',
        executable='sh',
        path='/bin/sh',
        name=None,
        namespace=None,
        arguments=['-c', script],
        env={'PATH': os.environ['PATH'], **env},
        output=output,
        source=f'test.launch.xml:{len(label)}',
        label=label,
    )


def run(
    nodes: list[NodeSpec], stop_after: float | None = None, **kwargs: object
) -> tuple[int, str]:
    out = io.StringIO()
    runner = Runner(nodes, out=out, **kwargs)  # type: ignore[arg-type]
    timer = threading.Timer(stop_after, runner.request_stop) if stop_after else None
    if timer:
        timer.start()
    try:
        code = runner.run()
    finally:
        if timer:
            timer.cancel()
    for child in runner.children:  # nothing may survive run()
        assert child.popen is None or child.popen.poll() is not None
    return code, out.getvalue()


def test_clean_exit_and_prefixed_output() -> None:
    code, out = run([shell('hello', 'echo "hi $GREETING"; echo err >&2', GREETING='there')])
    assert code == 0
    assert '[hello] hi there' in out and '[hello] err' in out
    assert "process 'hello'" in out and 'finished cleanly' in out


def test_crash_is_reported_with_exit_code_and_tail_while_others_keep_running() -> None:
    lines = '; '.join(f'echo line{i}' for i in range(30))
    nodes = [
        shell('crasher', f'{lines}; echo boom >&2; exit 3'),
        shell('survivor', 'sleep 0.5; echo still here'),
    ]
    code, out = run(nodes)
    assert code == 1
    assert "process 'crasher'" in out and 'died with exit code 3' in out
    report = out[out.index('died with exit code 3') :]
    assert 'started at test.launch.xml:7' in report
    assert 'last 20 line(s) of its output:' in report
    assert '    boom' in report and '    line11' in report and '    line10\n' not in report
    assert '[survivor] still here' in out  # the other process was not stopped
    assert 'failed: crasher' in out


def test_exit_on_failure_stops_the_others() -> None:
    nodes = [shell('crasher', 'sleep 0.3; exit 5'), shell('sleeper', 'exec sleep 60')]
    code, out = run(nodes, exit_on_failure=True, grace_period=5.0)
    assert code == 1
    assert 'died with exit code 5' in out
    assert '--exit-on-failure is set: sending SIGINT to sleeper' in out


def test_stop_escalates_sigint_sigterm_sigkill() -> None:
    stubborn = shell('stubborn', "trap '' INT TERM; echo ready; while :; do sleep 0.05; done")
    polite = shell('polite', 'exec sleep 60')
    code, out = run([stubborn, polite], stop_after=0.5, grace_period=0.3)
    assert code == 0  # a requested stop is a clean shutdown
    assert 'stop requested: sending SIGINT to stubborn, polite' in out
    assert 'still running after 0.3 s: sending SIGTERM to stubborn' in out
    assert 'still running after 0.3 s: sending SIGKILL to stubborn' in out
    assert 'died with' not in out


def test_output_log_is_not_forwarded_but_kept_for_the_report() -> None:
    code, out = run([shell('quiet', 'echo secret; exit 2', output='log')])
    assert code == 1
    assert '[quiet] secret' not in out
    assert '    secret' in out


def test_missing_executable_fails_to_start() -> None:
    spec = shell('ghost', '')
    spec.path = '/nonexistent/ghost'
    code, out = run([spec])
    assert code == 1 and "could not start 'ghost'" in out


def test_launch_prefix_runs_the_node_through_it_and_stop_reaches_the_node() -> None:
    """`launch-prefix="nice -n 7"`: the node runs with niceness +7 (nice execs it, so the
    runner's SIGINT reaches the node itself, not a wrapper)."""
    base = os.getpriority(os.PRIO_PROCESS, 0)
    script = (
        'echo "nice=$(cut -d" " -f19 /proc/$$/stat)"; trap "echo got-int; exit 0" INT; '
        'while :; do sleep 0.05; done'
    )
    spec = shell('niced', script)
    spec.prefix = ['nice', '-n', '7']
    code, out = run([spec], stop_after=1.0)
    assert f'[niced] nice={min(19, base + 7)}' in out
    assert '[niced] got-int' in out and code == 0
