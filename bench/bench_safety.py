"""`humanoid bench safety [--json OUT] [--trials N] [--seed N] [--no-sim] [--hold-lead-max R]`:
e-stop latency and
fault survival of the safety supervisor.

Starts the safety supervisor and (unless --no-sim, or when it fails to start) the MuJoCo
simulator with cameras off, as separate processes on a private ROS domain, and drives them from
an in-process client:

- e-stop latency, per trial: the arm is moving (a 1 s swing between two far-apart postures is
  running), the client publishes `estop` = true and measures (a) wall ms until the hold command
  (zero commanded joint velocity) arrives on `joint_trajectory_controller/joint_trajectory`
  (two DDS hops plus the supervisor; the simulator runs at real-time factor 1, so this is also
  sim time), (b) the supervisor's own message-in -> hold-out time (from its diagnostics), and,
  with the simulator, (c) sim-time ms from the e-stop until every arm joint's measured velocity
  in `joint_states` is below `--stop-velocity` rad/s (the physical stop, which includes the
  servo settling), and (d) the arm's travel after the e-stop (the largest arm joint change in
  the next 0.6 s). Median and p99 over the trials; `estop_latency_ms_p99` is (a).
  `--hold-lead-max R` starts the supervisor with that `hold_lead_max` (0.5: arms hold their
  commanded positions, the behaviour before 2026-11-28) to compare.
- faults (each survived when the supervisor is still up and its status is the expected one
  afterwards): NaN command, out-of-limit command, command flood (`--flood` commands as fast as
  possible, half of them invalid, then the e-stop still works), watchdog timeout, e-stop
  (latched: commands rejected until released).
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import random
import signal
import subprocess
import sys
import threading
import time

ROOT = Path(__file__).resolve().parents[1]
SUPERVISOR = ROOT / 'install' / 'lib' / 'humanoid_safety' / 'safety_supervisor'
SIM = ROOT / 'install' / 'lib' / 'humanoid_hardware' / 'mujoco_sim'
CONTRACT = 'joint_trajectory_controller/joint_trajectory'


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    s = sorted(values)
    k = (len(s) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


class _Proc:
    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, start_new_session=True)  # fmt: skip
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self.lines.append(line.rstrip())

    def wait_for(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(needle in line for line in list(self.lines)):
                return True
            if self.p.poll() is not None:
                time.sleep(0.2)
                return any(needle in line for line in list(self.lines))
            time.sleep(0.05)
        return False

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self) -> None:
        if self.p.poll() is None:
            os.killpg(self.p.pid, signal.SIGINT)
            try:
                self.p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog='humanoid bench safety', description=__doc__.split('\n')[0]
    )
    parser.add_argument('--json', type=Path, help='write the results as JSON here')
    parser.add_argument('--trials', type=int, default=20, help='e-stop trials (default 20)')
    parser.add_argument('--seed', type=int, default=0, help='random seed of the swing targets')
    parser.add_argument('--no-sim', action='store_true', help='fake joint_states, no simulator')
    parser.add_argument(
        '--stop-velocity',
        type=float,
        default=0.05,
        help='rad/s below which an arm joint counts as stopped (default 0.05)',
    )
    parser.add_argument('--flood', type=int, default=500, help='commands in the flood fault')
    parser.add_argument(
        '--hold-lead-max',
        type=float,
        default=None,
        help="the supervisor's hold_lead_max (rad; default: the node's, 0.03); 0.5 holds "
        'arms at their commanded positions, as before 2026-11-28',
    )
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.trials < 1 or args.flood < 1:
        print('humanoid bench safety: --trials and --flood must be >= 1', file=sys.stderr)
        return 2
    if not SUPERVISOR.exists():
        print(f'humanoid bench safety: {SUPERVISOR} is not built (scripts/build.sh)',
              file=sys.stderr)  # fmt: skip
        return 2
    env = dict(os.environ)
    env.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env['ROS_DOMAIN_ID'] = env.get('ROS_DOMAIN_ID') or str(150 + os.getpid() % 80)
    env.setdefault('ROS_LOG_DIR', str(ROOT / 'log' / 'ros'))
    env.setdefault('MUJOCO_GL', 'egl')
    env['PYTHONUNBUFFERED'] = '1'
    os.environ.update({k: env[k] for k in ('ROS_DOMAIN_ID', 'ROS_AUTOMATIC_DISCOVERY_RANGE')})
    procs: list[_Proc] = []
    try:
        sim = None
        if not args.no_sim and SIM.exists():
            sim = _Proc([str(SIM), '--ros-args', '-p', 'cameras_enabled:=false'], env)
            procs.append(sim)
        lead = [] if args.hold_lead_max is None else ['-p', f'hold_lead_max:={args.hold_lead_max}']
        sup = _Proc([str(SUPERVISOR), '--ros-args', '-p', 'required_nodes:=[]',
                     '-p', 'watchdog_timeout:=0.5', '-p', 'status_rate:=20.0', *lead],
                    env)  # fmt: skip
        procs.append(sup)
        if not sup.wait_for('safety supervisor up', 60):
            print('safety supervisor failed to start:\n' + '\n'.join(sup.lines[-20:]),
                  file=sys.stderr)  # fmt: skip
            return 1
        if sim is not None and not sim.wait_for("scene '", 60):
            print('simulator failed to start; using fake joint_states:\n  '
                  + '\n  '.join(sim.lines[-3:]), file=sys.stderr)  # fmt: skip
            sim.stop()
            sim = None
        return _run(args, sup, sim is not None)
    finally:
        for p in reversed(procs):
            p.stop()


def _run(args: argparse.Namespace, sup: _Proc, with_sim: bool) -> int:
    from builtin_interfaces.msg import Duration
    from diagnostic_msgs.msg import DiagnosticArray
    from humanoid_core.robot.description import ROBOT_INFO
    from humanoid_core.sim.robot_model import STANDING_POSTURE
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import (
        DurabilityPolicy,
        QoSProfile,
        ReliabilityPolicy,
        qos_profile_sensor_data,
    )
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool
    from trajectory_msgs.msg import JointTrajectory, JointTrajectoryPoint

    from humanoid_interfaces.msg import SafetyStatus

    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                         durability=DurabilityPolicy.TRANSIENT_LOCAL)  # fmt: skip
    reliable = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
    arm = ROBOT_INFO.arm_joints('left')
    body = set(ROBOT_INFO.body_joints)
    rng = random.Random(args.seed)

    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node('bench_safety', context=ctx)
    lock = threading.Lock()
    rec: dict = {'holds': [], 'forwarded': [], 'status': [], 'js': [], 'joints': {},
                 'node_ms': []}  # fmt: skip

    def on_traj(msg: JointTrajectory) -> None:
        t = time.perf_counter()
        is_hold = (len(msg.points) == 1 and set(msg.joint_names) == body
                   and all(v == 0.0 for v in msg.points[0].velocities))  # fmt: skip
        with lock:
            rec['holds' if is_hold else 'forwarded'].append((t, msg))

    def on_status(msg: SafetyStatus) -> None:
        with lock:
            rec['status'].append(msg)

    def on_js(msg: JointState) -> None:
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with lock:
            rec['joints'].update(zip(msg.name, msg.position, strict=False))
            if len(msg.velocity) == len(msg.name):
                idx = [i for i, n in enumerate(msg.name) if n in arm]
                vmax = max(abs(msg.velocity[i]) for i in idx) if idx else math.nan
                arm_q = tuple(msg.position[i] for i in idx)
                rec['js'].append((time.perf_counter(), stamp, vmax, arm_q))
                del rec['js'][:-2000]

    def on_diag(msg: DiagnosticArray) -> None:
        for s in msg.status:
            if s.name.startswith('safety_supervisor'):
                for kv in s.values:
                    if kv.key == 'estop_latency_ms_last':
                        with lock:
                            rec['node_ms'].append(float(kv.value))

    node.create_subscription(JointTrajectory, CONTRACT, on_traj, reliable)
    node.create_subscription(SafetyStatus, 'safety/status', on_status, latched)
    node.create_subscription(JointState, 'joint_states', on_js, qos_profile_sensor_data)
    node.create_subscription(DiagnosticArray, 'diagnostics', on_diag, reliable)
    pub_cmd = node.create_publisher(
        JointTrajectory, 'safety_supervisor/joint_trajectory', reliable
    )
    pub_estop = node.create_publisher(Bool, 'estop', latched)
    pub_js = node.create_publisher(JointState, 'joint_states', qos_profile_sensor_data)
    if not with_sim:

        def fake_js() -> None:
            msg = JointState(name=list(STANDING_POSTURE),
                             position=[float(v) for v in STANDING_POSTURE.values()])  # fmt: skip
            msg.header.stamp = node.get_clock().now().to_msg()
            pub_js.publish(msg)

        node.create_timer(0.005, fake_js)
    executor = SingleThreadedExecutor(context=ctx)
    executor.add_node(node)
    spinning = threading.Thread(target=lambda: _spin(executor, ctx), daemon=True)
    spinning.start()

    def wait(pred, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with lock:
                v = pred()
            if v:
                return v
            time.sleep(0.002)
        return None

    def status():
        return rec['status'][-1] if rec['status'] else None

    def command(changes: dict[str, float], duration: float, joints=arm) -> JointTrajectory:
        with lock:
            cur = dict(rec['joints'])
        msg = JointTrajectory(joint_names=list(joints))
        sec = int(duration)
        msg.points = [JointTrajectoryPoint(
            positions=[float(changes.get(j, cur.get(j, STANDING_POSTURE[j]))) for j in joints],
            time_from_start=Duration(sec=sec, nanosec=int((duration - sec) * 1e9)))]  # fmt: skip
        return msg

    def set_estop(on: bool) -> bool:
        pub_estop.publish(Bool(data=on))
        return bool(wait(lambda: status() is not None and status().estopped == on, 10.0))

    results: dict = {'trials': [], 'faults': {}}
    try:
        if not wait(lambda: 'left_elbow_joint' in rec['joints'] and status() is not None, 30):
            print('no joint_states / safety status within 30 s', file=sys.stderr)
            return 1
        # ---------------- e-stop latency
        for trial in range(args.trials):
            set_estop(False)
            # swing between two far-apart arm postures so the arm is moving fast at the e-stop
            far = trial % 2 == 0
            swing = {
                'left_elbow_joint': rng.uniform(-1.7, -1.4) if far else rng.uniform(-0.3, -0.1),
                'left_shoulder_pitch_joint': -0.7 if far else 0.1,
            }
            pub_cmd.publish(command(swing, 1.0))
            time.sleep(rng.uniform(0.3, 0.6))
            with lock:
                n_holds = len(rec['holds'])
                sim_t0 = rec['js'][-1][1] if rec['js'] else math.nan
                moving = rec['js'][-1][2] if rec['js'] else math.nan
                n_node = len(rec['node_ms'])
            t_send = time.perf_counter()
            pub_estop.publish(Bool(data=True))
            got = wait(lambda n=n_holds: rec['holds'][n] if len(rec['holds']) > n else None, 5)
            row: dict = {'trial': trial, 'arm_speed_at_estop': moving}
            row['msg_to_hold_ms'] = (got[0] - t_send) * 1e3 if got else math.nan
            if with_sim:

                def stopped(t=t_send):
                    for tw, ts, v, _q in rec['js']:
                        if tw > t and v < args.stop_velocity:
                            return ts
                    return None

                ts = wait(stopped, 5)
                row['sim_stop_ms'] = (ts - sim_t0) * 1e3 if ts is not None else math.nan
                # how far the arm went after the e-stop: the largest joint change from the
                # last sample before it, over the next 0.6 s (wall)
                time.sleep(0.6)
                with lock:
                    before = [q for tw, _ts, _v, q in rec['js'] if tw <= t_send]
                    after = [q for tw, _ts, _v, q in rec['js'] if t_send < tw <= t_send + 0.6]
                row['travel_rad'] = (
                    max(abs(a - b) for q in after for a, b in zip(q, before[-1], strict=True))
                    if before and after
                    else math.nan
                )
            got_node = wait(lambda n=n_node: rec['node_ms'][n] if len(rec['node_ms']) > n
                            else None, 2)  # fmt: skip
            row['node_ms'] = got_node if got_node is not None else math.nan
            results['trials'].append(row)
        set_estop(False)

        # ---------------- faults
        def rejected_with(needle: str, before: int):
            return wait(lambda: status() is not None and status().rejected_commands > before
                        and needle in status().last_rejection, 5)  # fmt: skip

        faults = results['faults']
        cases = (
            ('nan_command', math.nan, 'not finite'),
            ('out_of_limit_command', 1.5, 'outside its limits'),
        )
        for name, value, needle in cases:
            before = status().rejected_commands
            with lock:
                n_fwd = len(rec['forwarded'])
            pub_cmd.publish(command({'left_elbow_joint': value}, 1.0))
            ok = bool(rejected_with(needle, before))
            time.sleep(0.3)
            with lock:
                ok = ok and len(rec['forwarded']) == n_fwd and not status().estopped
            faults[name] = ok and sup.alive()

        before = status().rejected_commands
        with lock:
            n_fwd = len(rec['forwarded'])
        for i in range(args.flood):
            bad = i % 2 == 1
            pub_cmd.publish(command({'left_elbow_joint': 5.0 if bad else -0.35}, 0.5))
        time.sleep(1.0)
        with lock:
            n_holds = len(rec['holds'])
        ok_flood = set_estop(True) and wait(lambda: len(rec['holds']) > n_holds, 5)
        set_estop(False)
        with lock:
            forwarded = len(rec['forwarded']) - n_fwd
            rejected = status().rejected_commands - before
            leaked = [m for _, m in rec['forwarded'][n_fwd:]
                      if any(abs(q) > 4.0 for q in m.points[0].positions)]  # fmt: skip
        # Commands beyond the subscription queue (depth 10) are dropped by DDS: the newest win.
        results['flood'] = {'sent': args.flood, 'forwarded': forwarded, 'rejected': rejected,
                            'invalid_forwarded': len(leaked)}  # fmt: skip
        faults['command_flood'] = bool(ok_flood) and sup.alive() and not leaked and rejected > 0

        with lock:
            n_holds = len(rec['holds'])
        pub_cmd.publish(command({}, 0.2))
        ok = wait(lambda: len(rec['holds']) > n_holds and status().holding
                  and status().reason.startswith('watchdog'), 5)  # fmt: skip
        faults['watchdog_timeout'] = bool(ok) and sup.alive()

        ok = set_estop(True)
        before = status().rejected_commands
        with lock:
            n_fwd = len(rec['forwarded'])
        time.sleep(0.5)
        pub_cmd.publish(command({}, 0.5))
        ok = ok and bool(rejected_with('e-stop engaged', before))
        with lock:
            ok = ok and len(rec['forwarded']) == n_fwd and status().estopped
        ok = ok and set_estop(False)
        faults['estop'] = bool(ok) and sup.alive()
    finally:
        ctx.try_shutdown()
        spinning.join(timeout=5)
        executor.shutdown()
        node.destroy_node()

    msg_ms = [r['msg_to_hold_ms'] for r in results['trials'] if math.isfinite(r['msg_to_hold_ms'])]
    node_ms = [r['node_ms'] for r in results['trials'] if math.isfinite(r['node_ms'])]
    sim_ms = [r['sim_stop_ms'] for r in results['trials']
              if math.isfinite(r.get('sim_stop_ms', math.nan))]  # fmt: skip
    travel = [r['travel_rad'] for r in results['trials']
              if math.isfinite(r.get('travel_rad', math.nan))]  # fmt: skip
    overall = {
        # e-stop -> zero commanded joint velocity (the hold command received by a subscriber of
        # the contract topic, like the simulator); the simulator runs at real-time factor 1
        'estop_latency_ms_p99': _percentile(msg_ms, 99),
        'estop_latency_ms_median': _percentile(msg_ms, 50),
        'estop_msg_to_hold_ms_median': _percentile(msg_ms, 50),
        'estop_msg_to_hold_ms_p99': _percentile(msg_ms, 99),
        'estop_node_ms_median': _percentile(node_ms, 50),
        'estop_node_ms_p99': _percentile(node_ms, 99),
        'estop_sim_stop_ms_median': _percentile(sim_ms, 50) if with_sim else None,
        'estop_sim_stop_ms_p99': _percentile(sim_ms, 99) if with_sim else None,
        # largest arm joint change in the 0.6 s after the e-stop (the stopping distance)
        'estop_arm_travel_rad_median': _percentile(travel, 50) if with_sim else None,
        'estop_arm_travel_rad_p99': _percentile(travel, 99) if with_sim else None,
        'hold_lead_max': args.hold_lead_max,
        'estop_trials': len(results['trials']),
        'estop_trials_measured': len(msg_ms),
        'stop_velocity_threshold': args.stop_velocity,
        'faults_survived': sum(bool(v) for v in results['faults'].values()),
        'faults_total': len(results['faults']),
        'simulator': with_sim,
    }
    print(f'safety benchmark ({"MuJoCo simulator" if with_sim else "fake joint_states"}, '
          f'{len(results["trials"])} e-stop trials)')  # fmt: skip
    print(f'  {"e-stop latency":<40} {"median":>9} {"p99":>9}')
    rows = [
        ('e-stop -> hold command (wall ms)', msg_ms),
        ('in the supervisor (wall ms)', node_ms),
    ]
    if with_sim:
        rows.append((f'e-stop -> arm |v| < {args.stop_velocity} (sim ms)', sim_ms))
        rows.append(('arm travel after the e-stop (rad)', travel))
    for label, vals in rows:
        print(f'  {label:<40} {_percentile(vals, 50):>9.2f} {_percentile(vals, 99):>9.2f}')
    print('  faults:')
    for name, ok in results['faults'].items():
        print(f'    {name:<30} {"survived" if ok else "FAILED"}')
    print(f'  survived {overall["faults_survived"]}/{overall["faults_total"]}')
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {'overall': overall, 'trials': results['trials'], 'faults': results['faults'],
                   'flood': results.get('flood'), 'seed': args.seed}  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2, default=_json_default) + '\n')
        print(f'  wrote {args.json}')
    return 0 if overall['faults_survived'] == overall['faults_total'] else 1


def _json_default(value):
    return None if isinstance(value, float) and not math.isfinite(value) else str(value)


def _spin(executor, ctx) -> None:
    while ctx.ok():
        try:
            executor.spin_once(timeout_sec=0.05)
        except Exception:
            if not ctx.ok():
                return
            raise


if __name__ == '__main__':
    sys.exit(main())
