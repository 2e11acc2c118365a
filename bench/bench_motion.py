"""`humanoid bench motion`: reach accuracy, IK timing and walking in MuJoCo.

1. Reach: the robot stands on a flat floor (`humanoid_core.control.testbed.FloorSim`, same
   physics options as the scenes). For each of N random reachable grasp-frame targets in front
   of the robot (alternating hands), whole-body IK (mink) is solved from the measured state,
   the solution is sent as joint position targets along a limit-respecting quintic
   trajectory, and after settling the grasp frame's pose is measured in the simulator.
   Errors: position (cm) and orientation (deg) of measured vs target.
2. IK timing: wall time of each hand-pose solve (median, p99).
3. Walking: trials of 2 m forward, 1 m sideways (alternating left/right) and a 90-degree turn
   in place (alternating), each with a seeded random perturbation of the goal (+-5 % distance,
   +-0.05 rad heading) and a random start heading. Success: no fall, final base within
   0.15 m and 0.15 rad of the goal. Speed = distance / time from command to standing still.
4. Images: a frame sequence of one forward walk, results/walk_forward.png (montage).
5. Pick-and-place (`--layouts N`, default 3; 40+ for the real figure): for each seeded random
   `lab` layout, every bench object (three cubes and the vial) is picked and placed into the
   tray with the motion calls the task planner produces (`SkillRegistry.expand` of `pick` and
   `place_in` on a world built from the simulator's ground truth), executed by the
   whole-body controller core (`WholeBodyController`) against `MujocoBackend` directly (no
   ROS; physical grasps by friction, no welds). Success: the object rests inside the tray's
   footprint, above its floor, and the robot is upright. Per object and overall success rate,
   simulated and wall time per pick-place, failure reasons. An image sequence of the first
   pick-place: results/pick_place_<object>.png (montage) and results/pick_place_NN.png.
   `--grasp-depth D` (m, default 0 = off) evaluates a proposed planner change: grasp/pregrasp/
   lift heights at max(centre, top - D) instead of the centre (the palm is 4.3 cm above the
   grasp frame, so a top-down grasp at the centre of a tall object hits its top).

`mode` is 'dynamic' (floating base simulated) unless `--base-mode kinematic_base` is asked
for (the named fallback: pelvis moved along the plan); it is reported in the JSON and table.
`--leg-gains KP,KV` overrides the leg servo gains of the robot model (reported as well).

Usage: humanoid bench motion [--json OUT] [--seed N] [--reach-targets N] [--walk-trials N]
       [--base-mode dynamic|kinematic_base] [--leg-gains KP,KV] [--no-images]
       [--layouts N] [--jobs N] [--no-pick-place] [--grasp-depth D]
`overall` keys: reach_pos_err_cm_median, reach_rot_err_deg_median, pick_place_success_rate,
walk_success_rate, walk_speed_mps, ik_ms_median, ik_ms_p99, mode.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
import struct
import sys
import time
from typing import Any
import zlib

os.environ.setdefault('MUJOCO_GL', 'egl')

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / 'results'
CONTROL_DT = 0.01


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


def _sim(args: argparse.Namespace):
    from humanoid_core.control.testbed import FloorSim
    from humanoid_core.robot.description import ROBOT_INFO

    gains = None
    if args.leg_gains:
        kp, kv = args.leg_gains
        gains = {n: (kp, kv) for n in ROBOT_INFO.legs}
    return FloorSim(base_mode=args.base_mode, gains=gains)


def _measured_q(kin, sim) -> np.ndarray:
    st = sim.state()
    return kin.q_from(st.joint_positions, st.pelvis_position, st.pelvis_quaternion)


def bench_reach(args: argparse.Namespace, rng: np.random.Generator) -> dict[str, Any]:
    from humanoid_core.control.ik import (
        WholeBodyIK,
        corrected_target,
        sample_reachable_hand_targets,
    )
    from humanoid_core.control.kinematics import rotation_error
    from humanoid_core.control.trajectory import QuinticTrajectory
    from humanoid_core.robot.description import ROBOT_INFO

    ik = WholeBodyIK()
    kin = ik.kin
    sim = _sim(args)
    sim.step(1.0)
    q_stand = _measured_q(kin, sim)
    names = list(ROBOT_INFO.body_joints)
    idx = [kin.qpos_index[n] for n in names]
    pos_err, rot_err, solve_ms, converged, ik_pos = [], [], [], [], []
    per_target: list[dict[str, Any]] = []
    open_pos: list[float] = []
    open_rot: list[float] = []
    fell = 0

    def move(q_from: np.ndarray, q_goal: np.ndarray) -> None:
        traj = QuinticTrajectory.within_limits(q_from[idx], q_goal[idx], 1.0, 3.0, 0.5)
        for t in traj.times(CONTROL_DT)[1:]:
            q_t = q_goal.copy()
            q_t[idx] = traj.sample(float(t))[0]
            targets = dict(zip(names, q_t[idx], strict=True))
            if not args.no_gravity_offsets:
                for name, off in kin.servo_gravity_offsets(q_t).items():
                    targets[name] += off
            sim.set_targets(targets)
            sim.step(CONTROL_DT)
        sim.step(0.8)

    for k in range(args.reach_targets):
        hand = ('left', 'right')[k % 2]
        target = sample_reachable_hand_targets(kin, hand, 1, rng)[0]
        q0 = _measured_q(kin, sim)
        commanded = target
        frame = ROBOT_INFO.grasp_frame(hand)
        for attempt in range(1 + args.reach_corrections):
            res = ik.solve_hand_pose(hand, commanded, q0)
            if attempt == 0:
                solve_ms.append(1e3 * res.solve_time)
                converged.append(res.converged)
                ik_pos.append(res.position_error)
            move(q0, res.q)
            q0 = _measured_q(kin, sim)
            measured = kin.site_transform(q0, frame)  # FK of the measured state
            errs = (
                float(np.linalg.norm(measured[:3, 3] - target[:3, 3])),
                rotation_error(measured[:3, :3], target[:3, :3]),
            )
            if attempt == 0:
                open_pos.append(errs[0])
                open_rot.append(errs[1])
            commanded = corrected_target(target, commanded, measured)
        pos_err.append(errs[0])
        rot_err.append(errs[1])
        move(q0, q_stand)
        fallen = sim.fallen()
        per_target.append({
            'hand': hand, 'target_xyz': target[:3, 3].round(4).tolist(),
            'pos_err_cm': 100.0 * errs[0], 'rot_err_deg': math.degrees(errs[1]),
            'ik_converged': bool(res.converged), 'fell': fallen,
        })  # fmt: skip
        if fallen:
            fell += 1
            sim.reset()
            sim.step(1.0)
    pos_cm = 100.0 * np.asarray(pos_err)
    rot_deg = np.degrees(rot_err)
    return {
        'targets': args.reach_targets,
        'ik_converged_rate': float(np.mean(converged)),
        'ik_pos_err_cm_median': float(100.0 * np.median(ik_pos)),
        'pos_err_cm_median': float(np.median(pos_cm)),
        'pos_err_cm_p90': float(np.percentile(pos_cm, 90)),
        'pos_err_cm_max': float(np.max(pos_cm)),
        'rot_err_deg_median': float(np.median(rot_deg)),
        'rot_err_deg_p90': float(np.percentile(rot_deg, 90)),
        'rot_err_deg_max': float(np.max(rot_deg)),
        'open_loop_pos_err_cm_median': float(100.0 * np.median(open_pos)),
        'open_loop_rot_err_deg_median': float(np.degrees(np.median(open_rot))),
        'corrections': args.reach_corrections,
        'within_1cm_5deg_rate': float(np.mean((pos_cm < 1.0) & (rot_deg < 5.0))),
        'ik_ms_median': float(np.median(solve_ms)),
        'ik_ms_p99': float(np.percentile(solve_ms, 99)),
        'falls': fell,
        'per_target': per_target,
    }


def walk_trial(
    args: argparse.Namespace,
    kind: str,
    index: int,
    rng: np.random.Generator,
    frames: list | None = None,
) -> dict[str, Any]:
    from humanoid_core.control.footsteps import Pose2D, wrap_angle
    from humanoid_core.control.walking import WalkingController
    from humanoid_core.sim.robot_model import standing_qpos

    sim = _sim(args)
    yaw0 = float(rng.uniform(-math.pi, math.pi))
    sim.reset(standing_qpos(sim.model, base_xy_yaw=(0.0, 0.0, yaw0)))
    ctrl = WalkingController()
    kin = ctrl.kin
    ctrl.reset(_measured_q(kin, sim))
    scale = float(rng.uniform(0.95, 1.05))
    dyaw = float(rng.uniform(-0.05, 0.05))
    sign = 1.0 if index % 2 == 0 else -1.0
    local = {
        'forward': Pose2D(2.0 * scale, 0.0, dyaw),
        'sideways': Pose2D(0.0, sign * 1.0 * scale, dyaw),
        'turn': Pose2D(0.0, 0.0, sign * (math.pi / 2) * scale),
    }[kind]
    start = Pose2D(0.0, 0.0, yaw0)
    goal = start.compose(local)

    # --command-latency: each tick's targets reach the servos L ms late, L uniform in
    # [0, 2 x latency], in order (the command age measured over ROS on this machine: median
    # 4-16 ms, max 20-90 ms), applied at 1 ms resolution
    latency = args.command_latency / 1e3
    pending: list[tuple[float, Any]] = []

    def tick() -> None:
        st = sim.state()
        targets = ctrl.update(st)
        base = ctrl.planned_pelvis() if args.base_mode == 'kinematic_base' else None
        if latency <= 0.0:
            sim.set_targets(targets)
            sim.step(CONTROL_DT, base_pose=base)
            return
        # in order, as over one DDS writer -> reader: never before the previous command
        due_at = sim.time + float(rng.uniform(0.0, 2.0 * latency))
        pending.append((max(due_at, pending[-1][0]) if pending else due_at, targets))
        for _ in range(round(CONTROL_DT / 1e-3)):
            due = [p for p in pending if p[0] <= sim.time + 1e-9]
            if due:
                sim.set_targets(due[-1][1])
                pending[:] = [p for p in pending if p[0] > sim.time + 1e-9]
            sim.step(1e-3, base_pose=base)

    for _ in range(50):
        tick()
    n_steps = ctrl.walk_to(goal)
    t0 = sim.time
    fell = False
    tick_ms = []
    next_frame = 0.0
    while ctrl.walking and sim.time - t0 < 60.0:
        w0 = time.perf_counter()
        tick()
        tick_ms.append(1e3 * (time.perf_counter() - w0))
        if frames is not None and sim.time - t0 >= next_frame:
            frames.append(sim.render(320, 240, azimuth=90.0 + math.degrees(yaw0)))
            next_frame += 1.0
        if sim.fallen():
            fell = True
            break
    duration = sim.time - t0
    for _ in range(100):
        tick()
    fell = fell or sim.fallen()
    base = sim.state().base_pose
    pos_err = math.hypot(base.x - goal.x, base.y - goal.y)
    yaw_err = abs(wrap_angle(base.yaw - goal.yaw))
    dist = math.hypot(local.x, local.y)
    ok = (not fell) and pos_err < 0.15 and yaw_err < 0.15
    sim.close()
    return {
        'kind': kind,
        'goal_local': [local.x, local.y, local.yaw],
        'steps': n_steps,
        'fell': fell,
        'success': ok,
        'final_pos_err_m': pos_err,
        'final_yaw_err_rad': yaw_err,
        'duration_s': duration,
        'speed_mps': dist / duration if dist > 0 and not fell else 0.0,
        'turn_rate_radps': abs(local.yaw) / duration if kind == 'turn' and not fell else 0.0,
        'tick_ms_median': float(np.median(tick_ms)) if tick_ms else None,
    }


def push_trial(args: argparse.Namespace, force: float, balance: bool) -> bool:
    """Standing under the walking controller, pushed sideways at the pelvis for 0.2 s with
    `force` N; True if still standing 3 s later."""
    from humanoid_core.control.walking import WalkingController, WalkingParams

    sim = _sim(args)
    ctrl = WalkingController(WalkingParams(balance_enabled=balance))
    ctrl.reset(_measured_q(ctrl.kin, sim))
    push = np.array([0.0, force, 0.0])
    for k in range(350):
        sim.set_targets(ctrl.update(sim.state()))
        sim.step(CONTROL_DT, external_force=push if 150 <= k < 170 else None)
        if sim.fallen():
            return False
    return True


def bench_push(args: argparse.Namespace) -> dict[str, Any]:
    forces = [float(f) for f in args.push_forces]
    out: dict[str, Any] = {'duration_s': 0.2, 'forces_n': forces}
    for balance in (True, False):
        survived = [
            f for f in forces if push_trial(args, f, balance) and push_trial(args, -f, balance)
        ]
        best = 0.0
        for f in forces:  # largest force such that it and all smaller ones were survived
            if f not in survived:
                break
            best = f
        out['balance_on' if balance else 'balance_off'] = {
            'survived_n': survived, 'max_n': best, 'max_impulse_ns': 0.2 * best,
        }  # fmt: skip
    return out


def montage(frames: list, cols: int = 4) -> np.ndarray:
    frames = frames[: 2 * cols] if len(frames) > 2 * cols else frames
    h, w, _ = frames[0].shape
    rows = math.ceil(len(frames) / cols)
    out = np.full((rows * h, cols * w, 3), 255, dtype=np.uint8)
    for i, f in enumerate(frames):
        r, c = divmod(i, cols)
        out[r * h : (r + 1) * h, c * w : (c + 1) * w] = f
    return out


PICK_OBJECTS = ('red_cube', 'blue_cube', 'green_cube', 'yellow_vial')


def _yaw_of(q: Any) -> float:
    w, x, y, z = (float(v) for v in q)
    return math.atan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))


def _world_from_sim(world: Any, sim: Any) -> Any:
    """The planner's world snapshot with object poses from the simulator's ground truth."""
    import dataclasses

    poses = sim.object_poses()
    objects = {
        k: dataclasses.replace(o, position=tuple(float(v) for v in poses[k].position),
                               yaw=_yaw_of(poses[k].quaternion)) if k in poses else o
        for k, o in world.objects.items()
    }  # fmt: skip
    return dataclasses.replace(world, objects=objects)


class _Runner:
    """Ticks the controller core against the simulator (one control period per tick)."""

    def __init__(self, sim: Any, ctrl: Any, frames: list | None = None) -> None:
        self.sim, self.ctrl, self.frames = sim, ctrl, frames
        self.next_frame = 0.0

    def tick(self) -> None:
        from humanoid_core.control.balance import MeasuredState

        cmd = self.ctrl.tick(MeasuredState.from_sim_state(self.sim.read_state()))
        if cmd.trajectory is not None:
            self.sim.set_trajectory(cmd.trajectory)
        for hand, width in cmd.grippers.items():
            self.sim.set_gripper(hand, width)
        self.sim.step(1)
        if self.frames is not None and self.sim.time >= self.next_frame:
            self.frames.append(_render_overview(self.sim))
            self.next_frame = self.sim.time + 1.5

    def call(self, call: Any, timeout: float = 30.0) -> Any:
        """Execute one planner motion call; the finished activity."""
        c = self.ctrl
        act = c.start_call(call.action, call.goal)
        t0 = self.sim.time
        while not act.done and self.sim.time - t0 < timeout:
            self.tick()
        if not act.done:
            c.cancel(act)
        return act


_overview_cam: dict[str, Any] = {}


def _render_overview(sim: Any, width: int = 320, height: int = 240) -> np.ndarray:
    """A free camera looking at the robot and the bench from the side/front."""
    import mujoco

    key = id(sim)
    if _overview_cam.get('key') != key:
        _overview_cam.clear()
        _overview_cam['key'] = key
        _overview_cam['renderer'] = mujoco.Renderer(sim.model, height, width)
        cam = mujoco.MjvCamera()
        cam.lookat[:] = [0.3, 0.0, 0.8]
        cam.distance, cam.azimuth, cam.elevation = 1.9, 215.0, -25.0
        _overview_cam['cam'] = cam
    r = _overview_cam['renderer']
    r.update_scene(sim.data, camera=_overview_cam['cam'])
    return r.render().copy()


def _in_tray(obj: Any, tray: Any, tray_size: tuple[float, float, float]) -> tuple[bool, str]:
    rel = obj.position - tray.position
    yaw = _yaw_of(tray.quaternion)
    c, s = math.cos(yaw), math.sin(yaw)
    lx, ly = c * rel[0] + s * rel[1], -s * rel[0] + c * rel[1]
    hx, hy = 0.5 * tray_size[0], 0.5 * tray_size[1]
    if abs(lx) > hx or abs(ly) > hy:
        return False, f'outside the tray footprint ({lx:+.3f}, {ly:+.3f}) m'
    if not (-0.01 < rel[2] < tray_size[2] + 0.06):
        return False, f'not resting in the tray (height {rel[2]:+.3f} m above its origin)'
    return True, ''


def _grasp_depth_patch(depth: float) -> Any:
    """Context manager: planner grasp heights at max(centre, top - depth) (proposal)."""
    import contextlib

    from humanoid_core.planning import motion

    @contextlib.contextmanager
    def patched():
        original = motion._attr

        def _attr(value, attr, step, world, hand):  # type: ignore[no-untyped-def]
            out = original(value, attr, step, world, hand)
            if attr in ('pregrasp', 'grasp', 'lift') and value in world.objects:
                o = world.obj(value)
                lift = max(0.0, o.top_z - depth - o.position[2])
                out = dict(out, position=[out['position'][0], out['position'][1],
                                          out['position'][2] + lift])  # fmt: skip
            return out

        motion._attr = _attr
        try:
            yield
        finally:
            motion._attr = original

    return patched()


def pick_place_layout(
    seed: int, objects: tuple[str, ...], frames: list | None = None, avoid: str = 'objects'
) -> list[dict[str, Any]]:
    """Pick each object of one seeded layout and place it into the tray. `avoid`: what the
    hand paths go around, from ground truth (as the controller node does from world_state):
    'objects' (containers and the loose objects), 'containers', or 'none'."""
    from humanoid_core.control.controller import WholeBodyController, avoid_sets
    from humanoid_core.planning.skills import SkillRegistry
    from humanoid_core.planning.validator import apply_step
    from humanoid_core.sim.backend import MujocoBackend
    from humanoid_core.world.scene import initial_world

    sim = MujocoBackend('lab', seed=seed, control_period=CONTROL_DT)
    ctrl = WholeBodyController()
    run = _Runner(sim, ctrl, frames)
    registry = SkillRegistry.from_yaml()
    world = initial_world('lab')
    tray_size = tuple(float(v) for v in sim.scene.objects['tray'].size)
    for _ in range(50):
        run.tick()
    out = []
    for name in objects:
        w0, t0 = time.perf_counter(), sim.time
        failed = ''
        if ctrl.fallen:
            out.append({'seed': seed, 'object': name, 'success': False,
                        'reason': 'robot fell earlier', 'sim_s': 0.0, 'wall_s': 0.0})  # fmt: skip
            continue
        for skill in ('pick', 'place_in'):
            world = _world_from_sim(world, sim)
            step = registry.step(skill, name) if skill == 'pick' else registry.step(
                skill, name, 'tray')  # fmt: skip
            try:
                calls = registry.expand(step, world)
            except Exception as exc:
                failed = f'{skill}: cannot expand: {exc}'
                break
            for call in calls:
                if call.action == 'move_hand' and avoid != 'none':
                    now = _world_from_sim(world, sim)
                    boxes, items = avoid_sets(now.objects.values(), now.held.values())
                    ctrl.set_obstacles(boxes, items if avoid == 'objects' else ())
                act = run.call(call)
                # as the task runner: an optional motion may miss, a fall ends the step
                if not act.succeeded and call.optional and not ctrl.fallen:
                    continue
                if not act.succeeded:
                    code = act.code.name if act.code is not None else 'TIMEOUT'
                    failed = f'{skill}/{call.action}: {code} {act.message}'
                    break
            if failed:
                break
            world = apply_step(step, world, registry)
        for _ in range(100):  # let it settle
            run.tick()
        poses = sim.object_poses()
        ok, why = _in_tray(poses[name], poses['tray'], tray_size)
        if ctrl.fallen:
            ok, why = False, 'the robot fell'
        if not failed and not ok:
            failed = why
        elif failed and ok:
            failed = ''  # a step reported a failure but the object ended in the tray
        out.append({
            'seed': seed, 'object': name, 'success': ok and not ctrl.fallen,
            'reason': failed, 'sim_s': sim.time - t0, 'wall_s': time.perf_counter() - w0,
        })  # fmt: skip
        if failed and not ctrl.fallen:
            # Recover for the next object: open the hand, stand.
            for hand in ('left', 'right'):
                run.call(type('C', (), {'action': 'release', 'goal': {'hand': hand}})())
            run.call(type('C', (), {'action': 'go_to_posture',
                                    'goal': {'posture': 'stand', 'duration': 0.0}})())  # fmt: skip
    sim.close()
    return out


def _pick_place_job(job: tuple[int, bool, float, str]) -> tuple[list[dict[str, Any]], list]:
    """One layout (a worker process's unit with `--jobs`): its trials and, when asked, its
    image frames."""
    import contextlib

    seed, want_frames, grasp_depth, avoid = job
    frames: list | None = [] if want_frames else None
    patch = _grasp_depth_patch(grasp_depth) if grasp_depth > 0 else contextlib.nullcontext()
    with patch:
        return pick_place_layout(seed, PICK_OBJECTS, frames, avoid), frames or []


def bench_pick_place(args: argparse.Namespace) -> dict[str, Any]:
    import concurrent.futures
    import contextlib
    import multiprocessing
    import site

    trials: list[dict[str, Any]] = []
    frames: list = []
    seeds = [args.seed * 1000 + k for k in range(args.layouts)]
    # each layout is its own deterministic simulation: worker processes give the same figures
    jobs = [
        (s, k == 0 and not args.no_images, args.grasp_depth, args.avoid)
        for k, s in enumerate(seeds)
    ]
    with (
        concurrent.futures.ProcessPoolExecutor(
            args.jobs,
            mp_context=multiprocessing.get_context('spawn'),
            # the workers import this file by its module name (`humanoid bench` loads it so)
            initializer=site.addsitedir,
            initargs=(str(Path(__file__).resolve().parent),),
        )
        if args.jobs > 1
        else contextlib.nullcontext()
    ) as pool:
        work = pool.map(_pick_place_job, jobs) if pool is not None else map(_pick_place_job, jobs)
        for seed, (res, layout_frames) in zip(seeds, work, strict=True):
            frames += layout_frames
            trials += res
            print(
                f'  pick-place layout {seed}: '
                + ', '.join(f'{r["object"]}={"ok" if r["success"] else "FAIL"}' for r in res),
                flush=True,
            )
            for r in res:
                if not r['success']:
                    print(f'      {r["object"]}: {r["reason"]}', flush=True)
    images = []
    if frames:
        RESULTS.mkdir(exist_ok=True)
        for i, f in enumerate(frames[:24]):
            path = RESULTS / f'pick_place_{i:02d}.png'
            write_png(path, f)
            images.append(str(path))
        write_png(RESULTS / 'pick_place_montage.png', montage(frames[:: max(1, len(frames) // 8)]))
        images.append(str(RESULTS / 'pick_place_montage.png'))
    per_object = {
        name: float(np.mean([t['success'] for t in trials if t['object'] == name]))
        for name in PICK_OBJECTS
    }
    ok = [t for t in trials if t['success']]
    return {
        'layouts': args.layouts,
        'trials': len(trials),
        'success_rate': float(np.mean([t['success'] for t in trials])) if trials else None,
        'success_rate_per_object': per_object,
        'sim_s_per_pick_place_median': float(np.median([t['sim_s'] for t in ok])) if ok else None,
        'wall_s_per_pick_place_median': float(np.median([t['wall_s'] for t in ok]))
        if ok
        else None,
        'grasp_depth': args.grasp_depth,
        'avoid': args.avoid,
        'images': images,
        'failures': [t for t in trials if not t['success']],
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog='humanoid bench motion', description=__doc__.split('\n')[0])
    ap.add_argument('--json', type=Path, help='write the results here')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--reach-targets', type=int, default=50)
    ap.add_argument('--walk-trials', type=int, default=2, help='trials per walking scenario')
    ap.add_argument('--base-mode', choices=('dynamic', 'kinematic_base'), default='dynamic')
    ap.add_argument('--leg-gains', type=lambda s: tuple(float(v) for v in s.split(',')),
                    help='override the leg servo gains: KP,KV')  # fmt: skip
    ap.add_argument(
        '--command-latency',
        type=float,
        default=0.0,
        metavar='MS',
        help='walking: targets reach the servos 0..2 x MS ms late (default 0)',
    )
    ap.add_argument('--no-images', action='store_true')
    ap.add_argument(
        '--reach-corrections',
        type=int,
        default=1,
        help='closed-loop re-solves from the measured hand pose (0 = open loop)',
    )
    ap.add_argument('--no-gravity-offsets', action='store_true',
                    help='send raw IK joint targets (no servo sag compensation)')  # fmt: skip
    ap.add_argument('--no-walk', action='store_true')
    ap.add_argument('--no-push', action='store_true')
    ap.add_argument(
        '--push-forces',
        nargs='+',
        default=[50, 100, 150, 200, 250],
        help='lateral pushes (N, 0.2 s at the pelvis) for the standing test',
    )
    ap.add_argument('--no-reach', action='store_true')
    ap.add_argument(
        '--layouts',
        type=int,
        default=3,
        help='pick-and-place layouts (seeded; 40+ for the reported figure)',
    )
    ap.add_argument('--no-pick-place', action='store_true')
    ap.add_argument(
        '--avoid',
        choices=('objects', 'containers', 'none'),
        default='objects',
        help='what hand paths go around (as the controller node with avoid_objects)',
    )
    ap.add_argument(
        '--jobs',
        type=int,
        default=1,
        help='pick-and-place layouts in this many worker processes (same figures)',
    )
    ap.add_argument(
        '--grasp-depth',
        type=float,
        default=0.0,
        help='evaluate grasp heights at max(centre, top - D) (planner proposal)',
    )
    args = ap.parse_args(argv)
    if args.leg_gains is not None and len(args.leg_gains) != 2:
        ap.error('--leg-gains needs two numbers: KP,KV')
    rng = np.random.default_rng(args.seed)
    t_start = time.perf_counter()
    reach = None if args.no_reach else bench_reach(args, rng)
    push = None if args.no_push else bench_push(args)
    pick = None if args.no_pick_place else bench_pick_place(args)
    trials: list[dict[str, Any]] = []
    image = None
    if not args.no_walk:
        for kind in ('forward', 'sideways', 'turn'):
            for i in range(args.walk_trials):
                frames: list | None = [] if (not args.no_images and not trials) else None
                trials.append(walk_trial(args, kind, i, rng, frames))
                if frames:
                    RESULTS.mkdir(exist_ok=True)
                    image = RESULTS / 'walk_forward.png'
                    write_png(image, montage(frames))
                r = trials[-1]
                print(f'  walk {kind:<8} #{i}: success={r["success"]} fell={r["fell"]} '
                      f'err={r["final_pos_err_m"]:.3f} m/{r["final_yaw_err_rad"]:.3f} rad '
                      f'{r["duration_s"]:.1f} s', flush=True)  # fmt: skip

    def rate(kind: str | None = None) -> float | None:
        sel = [t for t in trials if kind is None or t['kind'] == kind]
        return float(np.mean([t['success'] for t in sel])) if sel else None

    fwd = [t['speed_mps'] for t in trials if t['kind'] == 'forward' and t['success']]
    side = [t['speed_mps'] for t in trials if t['kind'] == 'sideways' and t['success']]
    turn = [t['turn_rate_radps'] for t in trials if t['kind'] == 'turn' and t['success']]
    mode = args.base_mode
    overall = {
        'reach_pos_err_cm_median': reach['pos_err_cm_median'] if reach else None,
        'reach_rot_err_deg_median': reach['rot_err_deg_median'] if reach else None,
        'pick_place_success_rate': pick['success_rate'] if pick else None,
        'walk_success_rate': rate(),
        'walk_speed_mps': float(np.mean(fwd)) if fwd else None,
        'ik_ms_median': reach['ik_ms_median'] if reach else None,
        'ik_ms_p99': reach['ik_ms_p99'] if reach else None,
        'mode': mode,
        'walk_success_rate_forward': rate('forward'),
        'walk_success_rate_sideways': rate('sideways'),
        'walk_success_rate_turn': rate('turn'),
        'walk_sideways_speed_mps': float(np.mean(side)) if side else None,
        'walk_turn_rate_radps': float(np.mean(turn)) if turn else None,
        'walk_trials': len(trials),
        'walk_falls': sum(t['fell'] for t in trials),
        'push_lateral_max_n': push['balance_on']['max_n'] if push else None,
        'push_lateral_max_n_no_balance': push['balance_off']['max_n'] if push else None,
        'pick_place_trials': pick['trials'] if pick else None,
        'pick_place_wall_s_median': pick['wall_s_per_pick_place_median'] if pick else None,
        'pick_place_sim_s_median': pick['sim_s_per_pick_place_median'] if pick else None,
        **{
            f'pick_place_success_rate_{k}': v
            for k, v in (pick['success_rate_per_object'] if pick else {}).items()
        },
    }
    out = {
        'benchmark': 'motion',
        'overall': overall,
        'reach': reach,
        'walk': trials,
        'push': push,
        'pick_place': pick,
        'config': {
            'seed': args.seed,
            'base_mode': mode,
            'command_latency_ms': args.command_latency,
            'leg_gains': list(args.leg_gains) if args.leg_gains else 'robot model',
            'walk_image': str(image) if image else None,
            'wall_s': time.perf_counter() - t_start,
        },
    }
    print(f'\nmotion benchmark (mode={mode}, leg gains={out["config"]["leg_gains"]})')
    for key, value in overall.items():
        text = 'n/a' if value is None else (f'{value:.4g}' if isinstance(value, float) else value)
        print(f'  {key:<28} {text}')
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
        print(f'wrote {args.json}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
