"""`humanoid bench perception`: the RGB-D detector against simulator ground truth.

For each of N randomised `lab` layouts (seeds seed .. seed+N-1) the embedded MuJoCo simulator
settles the objects, renders the head camera at 640x480, and the classical detector runs on
the frame. Detections are matched to the ground-truth objects in view (greedy, nearest first,
within --match-radius); reported: precision, recall, label accuracy (matched detections whose
id names the ground-truth object), position error (median, p95), and the detector's
throughput. With --ros (default when the `mujoco_sim` node is installed) the same detector
runs as the `object_detector` node on the simulator node's camera stream and the end-to-end
latency image stamp -> `perception/objects` receipt is measured; without it the latency is the
in-process render-to-detections time (`latency_mode` says which).

    humanoid bench perception [--json OUT] [--layouts N] [--seed N] [--image PNG] [--no-ros]
                              [--depth-noise SIGMA]
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import statistics
import sys
import time
from typing import Any

os.environ.setdefault('MUJOCO_GL', 'egl')
os.environ.setdefault('OMP_NUM_THREADS', '1')  # as in the object_detector node

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _in_view(frame: Any, position: np.ndarray) -> bool:
    """The ground-truth centre projects inside the image, in front of the camera, unoccluded
    (the depth there is not much nearer than the centre)."""
    pose = np.asarray(frame.camera_pose, float)
    p = pose[:3, :3].T @ (position - pose[:3, 3])
    if p[2] <= 0.05:
        return False
    i = frame.intrinsics
    u = round(i.fx * p[0] / p[2] + i.cx)
    v = round(i.fy * p[1] / p[2] + i.cy)
    if not (0 <= u < i.width and 0 <= v < i.height):
        return False
    d = float(frame.depth[v, u])
    return not (math.isfinite(d) and d < p[2] - 0.15)


def match(
    detections: list[Any], truth: dict[str, np.ndarray], radius: float
) -> list[tuple[Any, str, float]]:
    """Greedy nearest-first one-to-one matching within `radius` (m)."""
    pairs = []
    for d in detections:
        for name, pos in truth.items():
            e = float(np.linalg.norm(np.asarray(d.position) - pos))
            if e <= radius:
                pairs.append((e, d, name))
    pairs.sort(key=lambda t: t[0])
    used_d: set[int] = set()
    used_g: set[str] = set()
    out = []
    for e, d, name in pairs:
        if id(d) in used_d or name in used_g:
            continue
        used_d.add(id(d))
        used_g.add(name)
        out.append((d, name, e))
    return out


def add_noise(frame: Any, depth_noise: float, rng: np.random.Generator) -> Any:
    """Depth noise like a structured-light camera (sigma = depth_noise * z^2, z in m) and
    +-4 levels of colour noise."""
    from dataclasses import replace

    z = frame.depth
    depth = (z + rng.normal(0.0, 1.0, z.shape) * depth_noise * z * z).astype(np.float32)
    rgb = np.clip(frame.rgb.astype(np.int16) + rng.integers(-4, 5, frame.rgb.shape), 0, 255)
    return replace(frame, depth=depth, rgb=rgb.astype(np.uint8))


def run_layouts(
    n: int, seed: int, radius: float, image: Path | None, depth_noise: float = 0.0
) -> dict[str, Any]:
    import cv2
    from humanoid_core.perception.classify import Vocabulary
    from humanoid_core.perception.pipeline import ObjectDetector, annotate
    from humanoid_core.perception.sim_frames import ground_truth, render_frame
    from humanoid_core.sim.backend import MujocoBackend

    backend = MujocoBackend('lab', seed=seed)
    detector = ObjectDetector(Vocabulary.from_scene('lab'))
    n_det = n_truth = n_tp = n_label = 0
    errors: list[float] = []
    det_ms: list[float] = []
    e2e_ms: list[float] = []
    per_layout = []
    rng = np.random.default_rng(seed)
    for k in range(n):
        s = seed + k
        backend.reset(s)
        backend.step(300)
        t0 = time.perf_counter()
        frame = render_frame(backend)
        if depth_noise > 0.0:
            frame = add_noise(frame, depth_noise, rng)
        t1 = time.perf_counter()
        result = detector.detect(frame)
        t2 = time.perf_counter()
        det_ms.append(1e3 * (t2 - t1))
        e2e_ms.append(1e3 * (t2 - t0))
        truth = {name: pos for name, pos in ground_truth(backend).items() if _in_view(frame, pos)}
        pairs = match(result.detections, truth, radius)
        labels_ok = sum(1 for d, name, _ in pairs if d.id == name)
        n_det += len(result.detections)
        n_truth += len(truth)
        n_tp += len(pairs)
        n_label += labels_ok
        errors += [e for _, _, e in pairs]
        per_layout.append(
            {
                'seed': s,
                'truth': len(truth),
                'detections': len(result.detections),
                'matched': len(pairs),
                'labels_ok': labels_ok,
                'pos_err_cm_max': round(100 * max((e for _, _, e in pairs), default=0.0), 2),
            }
        )
        if k == 0:
            st = backend.read_state()
            sample = {
                'frame': frame,
                'joints': (list(st.joint_names), [float(v) for v in st.positions]),
                'base': (st.base_pose.position, st.base_pose.quaternion),
            }
        if image is not None and k == 0:
            image.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(image), annotate(frame.rgb, result)[:, :, ::-1])
    backend.close()
    errors_cm = sorted(100 * e for e in errors)
    return {
        'layouts': n,
        'precision': n_tp / n_det if n_det else 0.0,
        'recall': n_tp / n_truth if n_truth else 0.0,
        'label_accuracy': n_label / n_tp if n_tp else 0.0,
        'pos_err_cm_median': statistics.median(errors_cm) if errors_cm else float('nan'),
        'pos_err_cm_p95': errors_cm[int(0.95 * (len(errors_cm) - 1))] if errors_cm else math.nan,
        'detect_ms_median': statistics.median(det_ms),
        'hz': 1000.0 / statistics.median(det_ms),
        'latency_ms_median': statistics.median(e2e_ms),
        'latency_mode': 'in-process render+detect',
        'per_layout': per_layout,
        'sample': sample,
    }


def measure_ros(seconds: float, seed: int) -> dict[str, Any] | None:
    """Run `mujoco_sim` + `object_detector` as processes; measure the objects rate and the
    latency image stamp -> objects receipt (sim time mapped to wall time with /clock: offset =
    the least receipt wall time - clock value over the /clock messages of the second before).
    None if the nodes are not installed."""
    import signal
    import subprocess

    sim_exe = ROOT / 'install' / 'lib' / 'humanoid_hardware' / 'mujoco_sim'
    det_exe = ROOT / 'install' / 'lib' / 'humanoid_perception' / 'object_detector'
    if not (sim_exe.exists() and det_exe.exists()):
        return None
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image

    from humanoid_interfaces.msg import ObjectArray

    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 1))
    os.environ.update({k: env[k] for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID')})
    procs = [
        subprocess.Popen([str(sim_exe), '--ros-args', '-p', f'seed:={seed}'], env=env,
                         start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL),
        subprocess.Popen([str(det_exe)], env=env, start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]  # fmt: skip
    offsets: list[tuple[float, float]] = []  # (receipt wall time, wall - sim time)
    objects: list[tuple[float, float]] = []  # (receipt wall time, stamp)
    images: list[float] = []
    rclpy.init()
    node = rclpy.create_node('perception_bench')

    def stamp(msg: Any) -> float:
        return msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec

    node.create_subscription(
        Clock, 'clock',
        lambda m: offsets.append((t := time.time(), t - (m.clock.sec + 1e-9 * m.clock.nanosec))),
        qos_profile_sensor_data,
    )  # fmt: skip
    node.create_subscription(
        ObjectArray, 'perception/objects', lambda m: objects.append((time.time(), stamp(m))),
        QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
    )  # fmt: skip
    node.create_subscription(
        Image, 'camera/color/image_raw', lambda m: images.append(time.time()),
        QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE),
    )  # fmt: skip
    try:
        deadline = time.time() + 60.0
        while not objects and time.time() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        if not objects:
            return {'hz': 0.0, 'latency_ms_median': math.nan, 'image_hz': 0.0}
        start = time.time()
        objects.clear()
        images.clear()
        while time.time() - start < seconds:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def offset_at(t: float) -> float:
        # the least-delayed /clock message in the second before t (sim may run slower than
        # real time, so the offset drifts and must be local)
        near = [o for w, o in offsets if t - 1.0 <= w <= t]
        return min(near) if near else min(o for _, o in offsets)

    lat = sorted(1e3 * (t - (s + offset_at(t))) for t, s in objects) if offsets else []
    span = objects[-1][0] - objects[0][0] if len(objects) > 1 else math.inf
    ispan = images[-1] - images[0] if len(images) > 1 else math.inf
    return {
        'hz': (len(objects) - 1) / span if len(objects) > 1 else 0.0,
        'image_hz': (len(images) - 1) / ispan if len(images) > 1 else 0.0,
        'latency_ms_median': statistics.median(lat) if lat else math.nan,
        'latency_ms_p95': lat[int(0.95 * (len(lat) - 1))] if lat else math.nan,
    }


def measure_replay(seconds: float, sample: dict[str, Any], rate: float) -> dict[str, Any] | None:
    """The `object_detector` node alone: publish one rendered frame (colour, depth,
    camera_info, joint_states, odom) at `rate` Hz with wall-clock stamps; measure the objects
    rate and the latency stamp -> objects receipt. None if the node is not installed."""
    import signal
    import subprocess

    det_exe = ROOT / 'install' / 'lib' / 'humanoid_perception' / 'object_detector'
    if not det_exe.exists():
        return None
    from nav_msgs.msg import Odometry
    import rclpy
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from sensor_msgs.msg import CameraInfo, Image, JointState

    from humanoid_interfaces.msg import ObjectArray
    from humanoid_perception import conversions as conv

    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env.setdefault('ROS_DOMAIN_ID', str(os.getpid() % 100 + 1))
    os.environ.update({k: env[k] for k in ('ROS_AUTOMATIC_DISCOVERY_RANGE', 'ROS_DOMAIN_ID')})
    proc = subprocess.Popen([str(det_exe)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    objects: list[tuple[float, float]] = []
    rclpy.init()
    node = rclpy.create_node('perception_bench_replay')
    reliable = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)
    pub_rgb = node.create_publisher(Image, 'camera/color/image_raw', reliable)
    pub_depth = node.create_publisher(Image, 'camera/depth/image_raw', reliable)
    pub_info = node.create_publisher(CameraInfo, 'camera/color/camera_info', reliable)
    pub_js = node.create_publisher(JointState, 'joint_states', qos_profile_sensor_data)
    pub_odom = node.create_publisher(Odometry, 'odom', qos_profile_sensor_data)
    node.create_subscription(
        ObjectArray, 'perception/objects',
        lambda m: objects.append(
            (time.time(), m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec)),
        QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
    )  # fmt: skip
    f = sample['frame']
    names, positions = sample['joints']
    (x, y, z), (qw, qx, qy, qz) = sample['base']
    frame_id = 'head_camera_optical_frame'
    rgb_msg = conv.image_from_rgb(f.rgb, conv.sec_to_stamp(0.0), frame_id)
    depth_msg = conv.image_from_depth(f.depth, conv.sec_to_stamp(0.0), frame_id)
    info_msg = conv.camera_info_from_intrinsics(f.intrinsics, conv.sec_to_stamp(0.0), frame_id)

    def publish() -> None:
        stamp = conv.sec_to_stamp(time.time())
        js = JointState(name=names, position=positions)
        js.header.stamp = stamp
        pub_js.publish(js)
        od = Odometry()
        od.header.stamp = stamp
        p, q = od.pose.pose.position, od.pose.pose.orientation
        p.x, p.y, p.z, q.w, q.x, q.y, q.z = map(float, (x, y, z, qw, qx, qy, qz))
        pub_odom.publish(od)
        for m in (info_msg, rgb_msg, depth_msg):
            m.header.stamp = stamp
        pub_info.publish(info_msg)
        pub_rgb.publish(rgb_msg)
        pub_depth.publish(depth_msg)

    try:
        period, next_pub = 1.0 / rate, time.time()
        deadline = time.time() + 60.0
        while not objects and time.time() < deadline:
            if time.time() >= next_pub:
                publish()
                next_pub += period
            rclpy.spin_once(node, timeout_sec=0.005)
        objects.clear()
        start, sent = time.time(), 0
        next_pub = start
        while time.time() - start < seconds:
            if time.time() >= next_pub:
                publish()
                sent += 1
                next_pub += period
            rclpy.spin_once(node, timeout_sec=max(0.0, min(0.005, next_pub - time.time())))
    finally:
        node.destroy_node()
        rclpy.shutdown()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    lat = sorted(1e3 * (t - s) for t, s in objects)
    span = objects[-1][0] - objects[0][0] if len(objects) > 1 else math.inf
    return {
        'hz': (len(objects) - 1) / span if len(objects) > 1 else 0.0,
        'sent_hz': sent / seconds,
        'latency_ms_median': statistics.median(lat) if lat else math.nan,
        'latency_ms_p95': lat[int(0.95 * (len(lat) - 1))] if lat else math.nan,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog='humanoid bench perception', description=__doc__.split('\n')[0]
    )
    ap.add_argument('--json', type=Path, help='write the results here')
    ap.add_argument('--layouts', type=int, default=50, help='randomised layouts (default 50)')
    ap.add_argument('--seed', type=int, default=0, help='first layout seed (default 0)')
    ap.add_argument('--match-radius', type=float, default=0.05, help='metres (default 0.05)')
    ap.add_argument(
        '--image', type=Path, default=ROOT / 'results' / 'perception_annotated.png',
        help='annotated image of the first layout',
    )  # fmt: skip
    ap.add_argument('--ros', dest='ros', action='store_true', default=None,
                    help='also measure rate and latency through the ROS nodes')  # fmt: skip
    ap.add_argument('--no-ros', dest='ros', action='store_false')
    ap.add_argument('--ros-seconds', type=float, default=8.0)
    ap.add_argument(
        '--replay-rate', type=float, default=15.0,
        help='Hz of the replayed camera stream for the node-only measurement',
    )  # fmt: skip
    ap.add_argument(
        '--depth-noise', type=float, default=0.0,
        help='depth noise sigma per m^2 of depth, e.g. 0.002 (default 0: exact)',
    )  # fmt: skip
    args = ap.parse_args(argv)
    if args.layouts < 1:
        ap.error('--layouts must be >= 1')
    res = run_layouts(args.layouts, args.seed, args.match_radius, args.image, args.depth_noise)
    res['depth_noise'] = args.depth_noise
    sample = res.pop('sample')
    ros_res = None
    if args.ros is not False:
        replay = measure_replay(args.ros_seconds, sample, args.replay_rate)
        if replay:
            res.update(
                node_hz=replay['hz'],
                node_input_hz=replay['sent_hz'],
                node_latency_ms_median=replay['latency_ms_median'],
                node_latency_ms_p95=replay['latency_ms_p95'],
            )
        ros_res = measure_ros(args.ros_seconds, args.seed)
        if ros_res is None and args.ros:
            print('perception bench: --ros needs the built mujoco_sim and object_detector nodes',
                  file=sys.stderr)  # fmt: skip
            return 2
    if ros_res:
        res.update(
            in_process_hz=res['hz'],
            in_process_latency_ms_median=res['latency_ms_median'],
            hz=ros_res['hz'],
            image_hz=ros_res['image_hz'],
            latency_ms_median=ros_res['latency_ms_median'],
            latency_ms_p95=ros_res['latency_ms_p95'],
            latency_mode='ros: mujoco_sim image stamp -> perception/objects receipt',
        )
    overall = {k: v for k, v in res.items() if k != 'per_layout'}
    print(f'perception benchmark: {args.layouts} layouts from seed {args.seed}')
    print(f'{"metric":<22} value')
    for k, v in overall.items():
        print(f'{k:<22} {v:.4g}' if isinstance(v, float) else f'{k:<22} {v}')
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps({'overall': overall, 'layouts': res['per_layout']}, indent=2)
        )
    return 0


if __name__ == '__main__':
    sys.exit(main())
