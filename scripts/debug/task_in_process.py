"""Debugging aid (not a test): run an instruction in one process, without ROS: the embedded
planner plans on the simulator's ground truth, and each step's motion calls run on the
controller core against MuJoCo, as the task runner would send them. Prints every call's
result with both hands' positions, then where the objects ended and whether the robot fell.

Usage: .venv/bin/python scripts/debug/task_in_process.py "INSTRUCTION" [LAYOUT_SEED]
(no seed: the scene's nominal layout). With TRACE=<skill> in the environment, the move_hand,
walk_to and go_to_posture calls of that skill print both hands, the base, its pitch and the bin
every 0.2 s.

With PERCEIVE=1 the world the planner and each step see is the world model's belief, as in
the ROS stack: head-camera frames rendered at PERCEIVE_HZ (default 5) go through the
classical detector (robot's own points filtered) into a `WorldModel` with the scene priors,
the hands from forward kinematics and the camera-view predicate of the world_model node
(config defaults). Each step then prints where the belief has the objects against the truth.

On 2026-11-27 it reproduced `lab_long` everything-to-station failing in 6 of 7 layouts
(spots on the station chosen from its centre) and the holding arm swung onto the bench in
layout 2; see docs/RESULTS.md.
"""

import math
import os
from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'bench'))
import bench_motion as bm
from humanoid_core.control.controller import WholeBodyController, avoid_sets
from humanoid_core.planning.backends import make_backend
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.validator import apply_step
from humanoid_core.sim.backend import MujocoBackend
from humanoid_core.world.scene import initial_world

instruction = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else None
trace = os.environ.get('TRACE', '')
sim = MujocoBackend('lab', seed=seed, control_period=bm.CONTROL_DT)
ctrl = WholeBodyController()
run = bm._Runner(sim, ctrl)
registry = SkillRegistry.from_yaml()
perceiver = None
if os.environ.get('PERCEIVE') == '1':
    from _perceiver import Perceiver

    perceiver = Perceiver(sim, run, float(os.environ.get('PERCEIVE_HZ', '5')))
for _ in range(50):
    run.tick()


def observed(world):
    """The world a step is expanded in: the simulator's truth, or the world model's belief."""
    if perceiver is None:
        return bm._world_from_sim(world, sim)
    return perceiver.world()


world = observed(initial_world('lab'))
proposal = make_backend('embedded').propose(instruction, world, registry)
if proposal.plan is None:
    sys.exit(f'no plan: {proposal.code.name} {proposal.message}')
print('plan:', proposal.plan.text())


def hands() -> str:
    return '  '.join(
        f'{h[0].upper()} {ctrl.hand_pose(h)[:3, 3].round(3).tolist()}' for h in ('left', 'right')
    )


def traced(call) -> object:
    act = ctrl.start_call(call.action, call.goal)
    t0, last = sim.time, -1.0
    while not act.done and sim.time - t0 < 150.0:
        run.tick()
        if sim.time - last > 0.2:
            last = sim.time
            qp = sim.data.qpos
            w, x, y, z = qp[3:7]
            pitch = math.asin(max(-1.0, min(1.0, 2 * (w * y - z * x))))
            bin_xyz = [round(float(v), 3) for v in sim.object_poses()['bin'].position]
            print(f'    {sim.time:7.2f} {hands()} base {qp[:3].round(3).tolist()} '
                  f'pitch {pitch:.3f} bin {bin_xyz}')  # fmt: skip
    return act


for step in proposal.plan.steps:
    world = observed(world)
    print('step', step.text)
    if perceiver is not None:
        perceiver.report()
    ok = True
    for call in registry.expand(step, world):
        now = observed(world)
        ctrl.set_obstacles(*avoid_sets(now.objects.values(), now.held.values()))
        if call.action == 'wait':
            for _ in range(int(call.goal['seconds'] / bm.CONTROL_DT)):
                run.tick()
            continue
        if step.skill == trace and call.action in ('move_hand', 'walk_to', 'go_to_posture'):
            act = traced(call)
        else:
            act = run.call(call, timeout=150.0)
        code = act.code.name if act.code is not None else '?'
        note = ' (optional)' if call.optional else ''
        print(f'{sim.time:8.2f} s {call.action:12s} {code}{note} {act.message}  {hands()}')
        if not act.succeeded and not call.optional:
            ok = False
            break
    if not ok or ctrl.fallen:
        break
    world = apply_step(step, world, registry)
for name, pose in sim.object_poses().items():
    print(f'{name:12s} {[round(float(v), 3) for v in pose.position]}')
if perceiver is not None:
    perceiver.report()
print('fallen:', ctrl.fallen)
sim.close()
