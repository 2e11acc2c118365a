"""`humanoid bench sim`: simulator speed, topic rates and memory.

1. Core level (no ROS): real-time factor of `MujocoBackend` on the lab scene at max speed,
   with the head camera off and on (640x480 RGB + depth at 15 Hz sim time).
2. Node level: starts the `mujoco_sim` node (real time, default parameters) and a separate
   subscriber process that counts joint_states, rgb and depth messages; reads the node's RSS.
3. Saves one head-camera frame and one overview frame as PNG under results/.

Usage: humanoid bench sim [--json OUT] [--seconds S] [--seed N] [--no-node]
       python bench/bench_sim.py ...
`overall` keys: rtf_cameras_on, rtf_cameras_off, joint_states_hz, rgb_hz, depth_hz, rss_mb.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path
import struct
import subprocess
import sys
import time
from typing import Any
import zlib

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'results'
WIDTH, HEIGHT, CAMERA_RATE = 640, 480, 15.0


def write_png(path: Path, rgb: Any) -> None:
    """Minimal RGB8 PNG writer (no imaging library needed)."""
    h, w, _ = rgb.shape
    raw = b''.join(b'\x00' + rgb[i].tobytes() for i in range(h))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack('>I', len(data)) + tag + data + struct.pack('>I', crc)

    header = struct.pack('>IIBBBBB', w, h, 8, 2, 0, 0, 0)
    png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header)
    png += chunk(b'IDAT', zlib.compress(raw, 6)) + chunk(b'IEND', b'')
    path.write_bytes(png)


def core_rtf(seconds: float, cameras: bool, seed: int | None) -> dict[str, float]:
    """Real-time factor of the core backend stepping as fast as possible for `seconds`."""
    from humanoid_core.sim.backend import MujocoBackend

    with MujocoBackend('lab', seed=seed) as sim:
        if cameras:
            sim.render('head_camera', WIDTH, HEIGHT)  # GL context + first frame: not timed
        next_frame = 0.0
        frames = 0
        render_s = 0.0
        t0 = time.perf_counter()
        sim0 = sim.time
        while time.perf_counter() - t0 < seconds:
            sim.step(1)
            if cameras and sim.time >= next_frame:
                r0 = time.perf_counter()
                sim.render('head_camera', WIDTH, HEIGHT, depth=True)
                render_s += time.perf_counter() - r0
                frames += 1
                next_frame += 1.0 / CAMERA_RATE
        wall = time.perf_counter() - t0
        return {
            'rtf': (sim.time - sim0) / wall,
            'sim_seconds': sim.time - sim0,
            'wall_seconds': wall,
            'frames': frames,
            'render_ms_mean': 1e3 * render_s / frames if frames else 0.0,
        }


def save_frames(seed: int | None) -> dict[str, str]:
    from humanoid_core.sim.backend import MujocoBackend

    RESULTS.mkdir(exist_ok=True)
    out = {}
    with MujocoBackend('lab', seed=seed) as sim:
        sim.step(round(0.5 / sim.control_period))
        for camera in ('head_camera', 'overview'):
            img = sim.render(camera, WIDTH, HEIGHT, depth=False)
            path = RESULTS / f'sim_{camera}.png'
            write_png(path, img.rgb)
            out[camera] = str(path)
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f'/proc/{pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return float('nan')


def _node_command() -> list[str]:
    exe = ROOT / 'install' / 'lib' / 'humanoid_hardware' / 'mujoco_sim'
    if exe.exists():
        return [str(exe)]
    return [sys.executable, '-m', 'humanoid_hardware.mujoco_sim_node']


def node_rates(seconds: float, seed: int | None) -> dict[str, Any]:
    """Start mujoco_sim and a subscriber process; rates seen by the subscriber, node RSS."""
    env = dict(os.environ)
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    env.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 101))
    env.setdefault('MUJOCO_GL', 'egl')
    args = [*_node_command(), '--ros-args', '-p', f'seed:={-1 if seed is None else seed}']
    node = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        sub = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), '--_subscriber', str(seconds)],
            env=env, capture_output=True, text=True, timeout=seconds + 120,
        )  # fmt: skip
        rss = _rss_mb(node.pid)
        if sub.returncode != 0:
            raise RuntimeError(f'subscriber failed: {sub.stderr[-2000:]}')
        result = json.loads(sub.stdout.strip().splitlines()[-1])
        result['rss_mb'] = rss
        return result
    finally:
        node.send_signal(2)
        try:
            node.wait(timeout=15)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


def _subscriber(seconds: float) -> int:
    """Child process: count messages on the node's topics for `seconds` after the first."""
    from diagnostic_msgs.msg import DiagnosticArray
    from humanoid_hardware.qos import CAMERA_QOS
    import rclpy
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image, JointState

    rclpy.init()
    node = rclpy.create_node('bench_sim_subscriber')
    counts = {'joint_states': 0, 'rgb': 0, 'depth': 0}
    arrivals: list[float] = []
    measuring = [False]

    def counter(key: str) -> Any:
        def cb(_msg: Any) -> None:
            counts[key] += 1
            if key == 'joint_states' and measuring[0]:
                arrivals.append(time.monotonic())

        return cb

    node.create_subscription(
        JointState, 'joint_states', counter('joint_states'), qos_profile_sensor_data
    )
    node.create_subscription(Image, 'camera/color/image_raw', counter('rgb'), CAMERA_QOS)
    node.create_subscription(Image, 'camera/depth/image_raw', counter('depth'), CAMERA_QOS)
    diagnostics: dict[str, str] = {}

    def on_diagnostics(msg: DiagnosticArray) -> None:
        for status in msg.status:
            if status.name.startswith('mujoco_sim'):
                diagnostics.update({kv.key: kv.value for kv in status.values})

    node.create_subscription(DiagnosticArray, 'diagnostics', on_diagnostics, 10)
    deadline = time.monotonic() + 90.0
    while min(counts.values()) == 0 and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.1)
    warm_end = time.monotonic() + 1.0  # let discovery and the first frames settle
    while time.monotonic() < warm_end:
        rclpy.spin_once(node, timeout_sec=0.05)
    start = dict(counts)
    measuring[0] = True
    t0 = time.monotonic()
    while time.monotonic() - t0 < seconds:
        rclpy.spin_once(node, timeout_sec=0.05)
    wall = time.monotonic() - t0
    rates: dict[str, float] = {f'{k}_hz': (counts[k] - start[k]) / wall for k in counts}
    gaps = sorted(b - a for a, b in itertools.pairwise(arrivals))
    if gaps:
        rates['joint_states_gap_ms_p99'] = 1e3 * gaps[int(0.99 * (len(gaps) - 1))]
        rates['joint_states_gap_ms_max'] = 1e3 * gaps[-1]
    out: dict[str, Any] = dict(rates)
    out['node_diagnostics'] = diagnostics  # the node's own view (last 1 s window)
    print(json.dumps(out))
    node.destroy_node()
    rclpy.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='humanoid bench sim', description=__doc__.split('\n')[0])
    parser.add_argument('--json', type=Path, help='write the results here')
    parser.add_argument('--seconds', type=float, default=5.0, help='duration of each measurement')
    parser.add_argument('--seed', type=int, default=-1, help='layout seed (-1: nominal)')
    parser.add_argument('--no-node', action='store_true', help='skip the ROS node measurement')
    parser.add_argument('--_subscriber', type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._subscriber is not None:
        return _subscriber(args._subscriber)
    os.environ.setdefault('MUJOCO_GL', 'egl')
    seed = None if args.seed < 0 else args.seed

    from rich.console import Console
    from rich.table import Table

    console = Console()
    off = core_rtf(args.seconds, cameras=False, seed=seed)
    on = core_rtf(args.seconds, cameras=True, seed=seed)
    frames = save_frames(seed)
    node: dict[str, Any] = {}
    if not args.no_node:
        node = node_rates(args.seconds, seed)
    nan = float('nan')
    overall = {
        'rtf_cameras_on': on['rtf'],
        'rtf_cameras_off': off['rtf'],
        'joint_states_hz': node.get('joint_states_hz', nan),
        'rgb_hz': node.get('rgb_hz', nan),
        'depth_hz': node.get('depth_hz', nan),
        'rss_mb': node.get('rss_mb', nan),
    }
    table = Table(title='humanoid bench sim (lab scene)')
    table.add_column('metric')
    table.add_column('value', justify='right')
    table.add_column('note')
    notes = {
        'rtf_cameras_off': 'core, max speed, 1 ms physics',
        'rtf_cameras_on': f'core, + head camera {WIDTH}x{HEIGHT} rgb+depth @ {CAMERA_RATE:g} Hz '
        f'({on["render_ms_mean"]:.1f} ms/frame)',
        'joint_states_hz': 'node at real time, seen by a subscriber process',
        'rgb_hz': 'camera/color/image_raw (node target 15 Hz)',
        'depth_hz': 'camera/depth/image_raw (node target 15 Hz)',
        'rss_mb': 'mujoco_sim process resident memory',
    }
    for key, value in overall.items():
        table.add_row(key, f'{value:.2f}', notes[key])
    console.print(table)
    if node:
        console.print(
            f'joint_states inter-arrival gap: p99 {node.get("joint_states_gap_ms_p99", nan):.1f}'
            f' ms, max {node.get("joint_states_gap_ms_max", nan):.1f} ms (subscriber side)'
        )
        diag = node.get('node_diagnostics', {})
        if diag:
            console.print(
                'node diagnostics (last second): '
                + ', '.join(f'{k} {diag[k]}' for k in (
                    'real_time_factor', 'joint_states_hz', 'camera_hz', 'render_ms_mean',
                    'camera_frames_dropped', 'slips') if k in diag)
            )  # fmt: skip
    console.print(f'frames: {frames}')
    result = {
        'benchmark': 'sim',
        'overall': overall,
        'details': {'core_cameras_off': off, 'core_cameras_on': on, 'frames': frames,
                    'node': node, 'seconds': args.seconds, 'seed': args.seed},
    }  # fmt: skip
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))
        console.print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
