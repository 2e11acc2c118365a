"""`humanoid record`: record the contract topics to MCAP with ROS 2 message schemas.

The pip wheels have no rosbag2, so this is a small recorder: generic (raw, serialized CDR)
subscriptions by the type name the ROS graph reports, written as MCAP channels with
`message_encoding=cdr` and `ros2msg` schemas built from the installed `.msg` files (nested
types concatenated in the rosbag2 format). The files open in Foxglove Studio and in standard
readers (`mcap-ros2-support`'s decoder, `rosbags`, `ros2 bag info` with the MCAP plugin).

Topics that appear later (a node started after the recorder) are picked up by a 1 Hz graph
scan. QoS follows the publishers: TRANSIENT_LOCAL publishers (world_state, estop,
safety/status) are subscribed TRANSIENT_LOCAL so their latched message is recorded too.

Also usable from code: `start_recording(path)` / `stop_recording(proc)` run a recorder
process (e.g. one per task in `humanoid bench tasks`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
import contextlib
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import threading
import time
from typing import Any

__all__ = [
    'CONTRACT_TOPICS',
    'RecordingSession',
    'main',
    'msg_definition',
    'recorder_main',
    'start_recording',
    'stop_recording',
]

# The contract topics (ARCHITECTURE.md) plus the safety status; relative names.
CONTRACT_TOPICS: tuple[str, ...] = (
    'joint_states',
    'imu',
    'odom',
    'camera/color/image_raw',
    'camera/color/camera_info',
    'camera/depth/image_raw',
    'joint_trajectory_controller/joint_trajectory',
    'cmd_vel',
    'perception/objects',
    'world_state',
    'estop',
    'safety/status',
    'diagnostics',
)
IMAGE_TOPICS = ('camera/color/image_raw', 'camera/depth/image_raw')

_PRIMITIVES = {
    'bool',
    'byte',
    'char',
    'float32',
    'float64',
    'int8',
    'uint8',
    'int16',
    'uint16',
    'int32',
    'uint32',
    'int64',
    'uint64',
    'string',
    'wstring',
    'time',
    'duration',
}
_SEPARATOR = '=' * 80


def _msg_file(type_name: str) -> Path:
    pkg, kind, name = _split(type_name)
    from ament_index_python.packages import PackageNotFoundError, get_package_share_directory

    try:
        share = Path(get_package_share_directory(pkg))
    except (PackageNotFoundError, LookupError, ValueError) as exc:
        raise LookupError(
            f'message package {pkg!r} (for {type_name}) is not installed or not on '
            'AMENT_PREFIX_PATH: install it (e.g. pip install ros-' + pkg.replace('_', '-') + ')'
        ) from exc
    path = share / kind / f'{name}.{kind}'
    if not path.is_file():
        raise LookupError(f'no definition file {path} for {type_name}')
    return path


def _split(type_name: str) -> tuple[str, str, str]:
    parts = type_name.split('/')
    if len(parts) == 2:
        return parts[0], 'msg', parts[1]
    if len(parts) == 3 and parts[1] == 'msg':
        return parts[0], parts[1], parts[2]
    raise ValueError(f'{type_name!r} is not a message type name like "sensor_msgs/msg/Image"')


def _field_types(text: str, pkg: str) -> list[str]:
    """Nested (non-primitive) message types used by the fields of a .msg text."""
    types = []
    for raw in text.splitlines():
        line = raw.split('#', 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        if len(tokens) < 2 or '=' in tokens[1] or (len(tokens) > 2 and tokens[2] == '='):
            continue  # constant
        base = re.sub(r'\[.*\]$', '', tokens[0])
        base = re.sub(r'<=\d+$', '', base)
        if base in _PRIMITIVES:
            continue
        if base == 'Header':
            full = 'std_msgs/msg/Header'
        elif '/' in base:
            p, n = base.split('/')[0], base.split('/')[-1]
            full = f'{p}/msg/{n}'
        else:
            full = f'{pkg}/msg/{base}'
        types.append(full)
    return types


def msg_definition(type_name: str) -> str:
    """The `ros2msg` schema text of a message type: its .msg file followed by every nested
    type's file, each introduced by a line of 80 '=' and `MSG: pkg/msg/Type` (rosbag2's
    format, which Foxglove, mcap-ros2-support and rosbags parse).

    Raises:
        ValueError: not a message type name.
        LookupError: the package or a definition file is not installed.
    """
    pkg, _kind, name = _split(type_name)
    root = f'{pkg}/msg/{name}'
    texts: dict[str, str] = {}
    order: list[str] = []

    def visit(full: str) -> None:
        if full in texts:
            return
        text = _msg_file(full).read_text()
        texts[full] = text
        if full != root:
            order.append(full)
        for dep in _field_types(text, full.split('/')[0]):
            visit(dep)

    visit(root)
    parts = [texts[root].rstrip('\n')]
    for dep in order:
        parts.append(f'{_SEPARATOR}\nMSG: {dep}\n{texts[dep].rstrip(chr(10))}')
    return '\n'.join(parts) + '\n'


def message_class(type_name: str) -> Any:
    """'sensor_msgs/msg/Image' -> the Python message class (rosidl_runtime_py is not in the
    pip wheels)."""
    import importlib

    pkg, kind, name = _split(type_name)
    return getattr(importlib.import_module(f'{pkg}.{kind}'), name)


def _qos_for(node: Any, topic: str) -> Any:
    """A subscription QoS compatible with every current publisher of `topic`."""
    from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

    infos = node.get_publishers_info_by_topic(topic)
    reliable = bool(infos) and all(
        i.qos_profile.reliability == ReliabilityPolicy.RELIABLE for i in infos
    )
    latched = bool(infos) and all(
        i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for i in infos
    )
    return QoSProfile(
        depth=1 if latched else 50,
        reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
        durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE,
    )


class RecordingSession:
    """Subscribes topics on `node` and writes them into an open MCAP file."""

    def __init__(self, node: Any, path: Path, topics: Sequence[str]) -> None:
        from mcap.writer import CompressionType, Writer

        self.node = node
        self.path = path
        self.wanted = {self._resolve(t): t for t in topics}
        self._file = open(path, 'wb')  # noqa: SIM115 - closed in close()
        self.writer = Writer(self._file, compression=CompressionType.ZSTD)
        self.writer.start(profile='ros2', library='humanoid record')
        self._file.flush()  # the header is on disk as soon as `recording` is printed
        self.counts: dict[str, int] = {}
        self.types: dict[str, str] = {}
        self.skipped: dict[str, str] = {}
        self._schemas: dict[str, int] = {}
        self._subs: list[Any] = []
        self._lock = threading.Lock()
        self._closed = False
        self.scan()
        self._timer = node.create_timer(1.0, self.scan)

    def _resolve(self, topic: str) -> str:
        if topic.startswith('/'):
            return topic
        ns = self.node.get_namespace().rstrip('/')
        return f'{ns}/{topic}'

    def scan(self) -> None:
        """Subscribe every wanted topic that has appeared in the graph since the last scan."""
        for name, types in self.node.get_topic_names_and_types():
            if name not in self.wanted or name in self.types or name in self.skipped:
                continue
            type_name = types[0]
            try:
                schema = msg_definition(type_name)
            except (LookupError, ValueError) as exc:
                self.skipped[name] = str(exc)
                self.node.get_logger().warning(f'not recording {name}: {exc}')
                continue
            self._subscribe(name, type_name, schema)

    def _subscribe(self, topic: str, type_name: str, schema: str) -> None:
        msg_type = message_class(type_name)
        qos = _qos_for(self.node, topic)
        with self._lock:
            if type_name not in self._schemas:
                self._schemas[type_name] = self.writer.register_schema(
                    name=type_name, encoding='ros2msg', data=schema.encode()
                )
            channel = self.writer.register_channel(
                topic=topic, message_encoding='cdr', schema_id=self._schemas[type_name]
            )
        self.types[topic] = type_name
        self.counts[topic] = 0

        def on_message(data: bytes, topic: str = topic, channel: int = channel) -> None:
            now = time.time_ns()
            with self._lock:
                if self._closed:
                    return
                self.writer.add_message(
                    channel_id=channel,
                    log_time=now,
                    publish_time=now,
                    data=bytes(data),
                    sequence=self.counts[topic],
                )
                self.counts[topic] += 1

        self._subs.append(
            self.node.create_subscription(msg_type, topic, on_message, qos, raw=True)
        )

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self.writer.finish()
            self._file.close()
        self._timer.cancel()
        for sub in self._subs:
            self.node.destroy_subscription(sub)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog='humanoid record',
        description='Record ROS topics (default: the contract topics) to an MCAP file with ROS 2 '
        'schemas, readable by Foxglove Studio, rosbags and mcap-ros2-support.',
    )
    p.add_argument(
        '-o',
        '--output',
        type=Path,
        default=None,
        help='MCAP file to write, or a folder for a time-stamped file in it (default: '
        'recordings/humanoid_YYYYmmdd_HHMMSS.mcap)',
    )
    p.add_argument(
        '--topics',
        nargs='+',
        default=None,
        metavar='TOPIC',
        help='topics to record, relative to --namespace (default: the contract topics)',
    )
    p.add_argument(
        '--no-images',
        action='store_true',
        help='skip the camera image topics (about 1 MB a frame each)',
    )
    p.add_argument(
        '--duration',
        type=float,
        default=None,
        metavar='S',
        help='stop after S seconds (default: until Ctrl-C / SIGTERM)',
    )
    p.add_argument('--namespace', default='', help='robot namespace, e.g. robot1')
    return p


def _topics(args: argparse.Namespace) -> list[str]:
    topics = list(args.topics) if args.topics else list(CONTRACT_TOPICS)
    if args.no_images:
        topics = [t for t in topics if t not in IMAGE_TOPICS]
    return topics


def _default_output() -> Path:
    return Path('recordings') / time.strftime('humanoid_%Y%m%d_%H%M%S.mcap')


def main(argv: list[str] | None = None, ros_args: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.duration is not None and args.duration <= 0:
        print('humanoid record: --duration must be > 0 seconds', file=sys.stderr)
        return 2
    output: Path = args.output or _default_output()
    if output.suffix == '' or output.is_dir():
        output = output / _default_output().name
    if output.suffix != '.mcap':
        print(f'humanoid record: {output} should end in .mcap', file=sys.stderr)
        return 2
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f'humanoid record: cannot create {output.parent}: {exc}', file=sys.stderr)
        return 2

    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    rclpy.init(args=ros_args)
    node = rclpy.create_node('humanoid_recorder', namespace=args.namespace or None)
    session = RecordingSession(node, output, _topics(args))
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    print(
        f'humanoid record: recording {len(session.wanted)} topic(s) to {output} (Ctrl-C to stop)',
        flush=True,
    )
    end = time.monotonic() + args.duration if args.duration else float('inf')
    try:
        while rclpy.ok() and time.monotonic() < end:
            executor.spin_once(timeout_sec=0.1)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        session.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    _summary(session, output)
    return 0


def _summary(session: RecordingSession, output: Path) -> None:
    total = sum(session.counts.values())
    print(f'humanoid record: wrote {total} message(s) to {output}', flush=True)
    for topic, n in sorted(session.counts.items()):
        print(f'  {topic:<48} {n:>7}  {session.types[topic]}')
    missing = [t for t in session.wanted if t not in session.counts and t not in session.skipped]
    if missing:
        print(f'  never published: {", ".join(sorted(missing))}')
    for topic, why in session.skipped.items():
        print(f'  skipped {topic}: {why}')


def recorder_main() -> None:
    """`recorder` node entry point for launch files: `humanoid record` options after the
    executable, ROS arguments (`--ros-args -r __ns:=/robot1`) passed to rclpy."""
    from rclpy.utilities import remove_ros_args

    argv = remove_ros_args(sys.argv)[1:]
    sys.exit(main(argv, ros_args=sys.argv))


def start_recording(
    path: str | Path,
    topics: Iterable[str] | None = None,
    namespace: str = '',
    env: dict[str, str] | None = None,
    no_images: bool = False,
) -> subprocess.Popen:
    """Start `humanoid record` in a child process (its own process group); returns it once it
    is recording. Stop it with `stop_recording(proc)`."""
    cmd = [sys.executable, '-m', 'humanoid_bringup.cli', 'record', '-o', str(path)]
    if topics:
        cmd += ['--topics', *topics]
    if namespace:
        cmd += ['--namespace', namespace]
    if no_images:
        cmd.append('--no-images')
    proc = subprocess.Popen(
        cmd,
        env=env if env is not None else dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if 'recording' not in line:
        rest = proc.communicate(timeout=10)[0] if proc.poll() is not None else ''
        raise RuntimeError(f'humanoid record did not start: {line}{rest}')
    return proc


def stop_recording(proc: subprocess.Popen, timeout: float = 15.0) -> str:
    """SIGINT the recorder, wait for it to finish the file; returns its summary output."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
    return out or ''
