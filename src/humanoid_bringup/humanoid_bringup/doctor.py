"""`humanoid doctor`: check the installation, say what is wrong and how to fix it.

Each check returns (ok, detail, fix). Exit status 0 when every required check passes.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
import os
from pathlib import Path
import shutil
import subprocess
import sys

from rich.console import Console
from rich.table import Table


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ''
    required: bool = True


def check_python() -> Check:
    ok = sys.version_info[:2] == (3, 11)
    return Check(
        'python',
        ok,
        f'{sys.version.split()[0]} at {sys.executable}',
        'The ROS 2 Kilted wheels are built for CPython 3.11: run `make setup` with python3.11 '
        'on PATH (or PYTHON=/path/to/python3.11 make setup).',
    )


def check_rclpy() -> Check:
    try:
        import rclpy
        from rclpy.utilities import get_rmw_implementation_identifier

        rmw = get_rmw_implementation_identifier()
        return Check('rclpy', True, f'rclpy from {Path(rclpy.__file__).parent}, rmw {rmw}')
    except Exception as exc:
        return Check(
            'rclpy',
            False,
            f'cannot import rclpy: {exc}',
            'Run `make setup` (installs the ROS 2 wheels into .venv); on a ROS 2 install, '
            '`source /opt/ros/<distro>/setup.bash` first.',
        )


def check_rmw() -> Check:
    rmw = os.environ.get('RMW_IMPLEMENTATION', '')
    ok = rmw in ('', 'rmw_fastrtps_cpp', 'rmw_cyclonedds_cpp', 'rmw_zenoh_cpp')
    return Check(
        'rmw',
        ok,
        f'RMW_IMPLEMENTATION={rmw or "(default)"}',
        'Unset RMW_IMPLEMENTATION or set it to an installed rmw (the pip wheels only have '
        'rmw_fastrtps_cpp).',
    )


def check_discovery() -> Check:
    rng = os.environ.get('ROS_AUTOMATIC_DISCOVERY_RANGE', '')
    domain = os.environ.get('ROS_DOMAIN_ID', '0')
    ok_range = rng in ('LOCALHOST', 'OFF')
    ok_domain = domain.isdigit() and 0 <= int(domain) <= 101
    detail = f'ROS_AUTOMATIC_DISCOVERY_RANGE={rng or "(unset = SUBNET)"}, ROS_DOMAIN_ID={domain}'
    fix = []
    if not ok_range:
        fix.append(
            'export ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST to keep DDS traffic on this '
            'machine (Kilted ignores ROS_LOCALHOST_ONLY); use SUBNET only for multi-machine '
            'setups on a trusted network'
        )
    if not ok_domain:
        fix.append('set ROS_DOMAIN_ID to an integer 0..101')
    return Check('discovery', ok_range and ok_domain, detail, '; '.join(fix))


def check_transports() -> Check:
    value = os.environ.get('FASTDDS_BUILTIN_TRANSPORTS', '')
    ok = value.upper() in ('UDPV4', 'UDPV6')
    return Check(
        'transports',
        ok,
        f'FASTDDS_BUILTIN_TRANSPORTS={value or "(unset = shared memory + UDPv4)"}',
        'export FASTDDS_BUILTIN_TRANSPORTS=UDPv4 (the venv sets it for its own Python '
        "processes): Fast DDS 3.2's shared-memory transport can leave a publisher blocked for "
        'good after a subscriber process crashes (a killed node froze the simulator here)',
    )


def check_workspace() -> Check:
    try:
        from ament_index_python.packages import get_package_prefix, get_package_share_directory

        share = get_package_share_directory('humanoid_bringup')
        prefix = get_package_prefix('humanoid_interfaces')
        from humanoid_interfaces.action import ExecuteTask  # noqa: F401

        return Check('workspace', True, f'interfaces in {prefix}; files in {share}')
    except Exception as exc:
        return Check(
            'workspace',
            False,
            f'built workspace not found or incomplete: {exc}',
            'Run `make setup` (colcon build into install/). With a ROS 2 install: '
            '`colcon build --symlink-install && source install/setup.bash`.',
        )


def check_executables() -> Check:
    missing = []
    try:
        from ament_index_python.packages import get_package_prefix
    except ImportError:
        return Check('executables', False, 'ament_index_python missing', 'Run `make setup`.')
    for pkg in (
        'humanoid_hardware',
        'humanoid_control',
        'humanoid_perception',
        'humanoid_planning',
        'humanoid_safety',
    ):
        try:
            lib = Path(get_package_prefix(pkg)) / 'lib' / pkg
            if not lib.is_dir() or not any(lib.iterdir()):
                missing.append(pkg)
        except Exception:
            missing.append(pkg)
    return Check(
        'executables',
        not missing,
        'all node packages have executables' if not missing else f'no nodes in: {missing}',
        'Rebuild: `make setup` (or scripts/build.sh).',
        required=False,
    )


def _probe_gl(backend: str) -> tuple[bool, str]:
    code = (
        'import mujoco\n'
        'm = mujoco.MjModel.from_xml_string(\'<mujoco><worldbody><geom size="1"/>'
        "</worldbody></mujoco>')\n"
        'r = mujoco.Renderer(m, 32, 32)\n'
        'd = mujoco.MjData(m); mujoco.mj_forward(m, d); r.update_scene(d); r.render()\n'
        "print('ok')\n"
    )
    env = dict(os.environ, MUJOCO_GL=backend, PYOPENGL_PLATFORM=backend)
    try:
        out = subprocess.run(
            [sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        return False, 'timed out'
    if out.returncode == 0 and 'ok' in out.stdout:
        return True, 'renders'
    lines = (out.stderr or out.stdout).strip().splitlines()
    return False, lines[-1] if lines else f'exit {out.returncode}'


def check_gl() -> Check:
    results = {}
    for backend in ('egl', 'osmesa'):
        ok, detail = _probe_gl(backend)
        results[backend] = (ok, detail)
        if ok:
            break
    good = [b for b, (ok, _) in results.items() if ok]
    detail = ', '.join(f'{b}: {d}' for b, (_ok, d) in results.items())
    return Check(
        'mujoco-gl',
        bool(good),
        detail,
        'Install the headless GL libraries: `sudo apt-get install libegl1 libegl-mesa0 '
        'libgl1-mesa-dri libosmesa6` (make setup does this), then export MUJOCO_GL=egl '
        '(or osmesa).',
    )


def check_shm() -> Check:
    try:
        usage = shutil.disk_usage('/dev/shm')
    except OSError as exc:
        return Check('shm', False, str(exc), 'Fast DDS needs /dev/shm (mount a tmpfs).')
    free_mb = usage.free / 2**20
    return Check(
        'shm',
        free_mb > 64,
        f'/dev/shm free {free_mb:.0f} MB',
        'Free /dev/shm (stale fastrtps_* files of dead processes can be deleted) or enlarge '
        'it (docker: --shm-size=1g).',
    )


CHECKS: list[Callable[[], Check]] = [
    check_python,
    check_rclpy,
    check_rmw,
    check_discovery,
    check_workspace,
    check_executables,
    check_gl,
    check_transports,
    check_shm,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog='humanoid doctor', description='Check the installation and say how to fix it.'
    )
    parser.add_argument('--skip-gl', action='store_true', help='skip the rendering probe')
    args = parser.parse_args(argv)
    console = Console()
    table = Table(title='humanoid doctor', show_lines=False)
    table.add_column('check')
    table.add_column('')
    table.add_column('detail')
    failures = []
    for fn in CHECKS:
        if args.skip_gl and fn is check_gl:
            continue
        c = fn()
        mark = (
            '[green]ok[/green]'
            if c.ok
            else ('[red]FAIL[/red]' if c.required else '[yellow]warn[/yellow]')
        )
        table.add_row(c.name, mark, c.detail)
        if not c.ok:
            failures.append(c)
    console.print(table)
    for c in failures:
        console.print(f'[bold]{c.name}[/bold]: {c.fix}')
    bad = [c for c in failures if c.required]
    if bad:
        console.print(f'[red]{len(bad)} check(s) failed.[/red]')
        return 1
    console.print('[green]All required checks passed.[/green]')
    return 0
