"""Debugging aid (not a test): in-process, pick an object at the bench, walk to the station
and place it there, checking every commanded trajectory for self-contacts as the safety
supervisor does (its `HandKinematics`; the supervisor's ignore list is not applied, so foot
contacts while walking show up too).

Usage: .venv/bin/python scripts/debug/station_place_selfcheck.py [OBJECT] [SKILL] [TARGET]
(default: yellow_vial place_on station). On 2026-11-27 it reproduced the over-ROS failure of
the lab task vial-leave-there: the place's move_hand commands postures with the free left
hand 4 cm into its thigh and the right forearm 2 cm into the torso.
"""

from pathlib import Path
import sys

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'bench'))
import bench_motion as bm
from humanoid_core.control.controller import WholeBodyController, avoid_sets
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.validator import apply_step
from humanoid_core.safety import load_safety_limits
from humanoid_core.safety.kinematics import HandKinematics
from humanoid_core.sim.backend import MujocoBackend
from humanoid_core.world.scene import initial_world

obj = sys.argv[1] if len(sys.argv) > 1 else 'yellow_vial'
target_skill = sys.argv[2] if len(sys.argv) > 2 else 'place_on'
target = sys.argv[3] if len(sys.argv) > 3 else 'station'
limits = load_safety_limits(None)
hk = HandKinematics(limits.self_collision_margin)
sim = MujocoBackend('lab', control_period=bm.CONTROL_DT)
ctrl = WholeBodyController()
run = bm._Runner(sim, ctrl)
state = {'label': '', 'bad': 0}


def tick() -> None:
    from humanoid_core.control.balance import MeasuredState

    cmd = ctrl.tick(MeasuredState.from_sim_state(sim.read_state()))
    if cmd.trajectory is not None:
        tr = cmd.trajectory
        for k in (0, len(tr.points) - 1):
            pos = dict(zip(tr.joint_names, tr.points[k].positions, strict=True))
            post = hk.evaluate(pos)
            bad = [c for c in post.contacts if c[2] < limits.self_collision_margin]
            if bad:
                state['bad'] += 1
                if state['bad'] <= 3 or state['bad'] % 50 == 0:
                    print(
                        f'  t={sim.time:.2f} [{state["label"]}] point {k}: {bad[:2]}', flush=True
                    )
                break
        sim.set_trajectory(tr)
    for hand, width in cmd.grippers.items():
        sim.set_gripper(hand, width)
    sim.step(1)


run.tick = tick  # type: ignore[method-assign]
registry = SkillRegistry.from_yaml()
world = initial_world('lab')
for _ in range(50):
    run.tick()
steps = [
    registry.step('pick', obj),
    registry.step('walk_to', target if target != 'bin' else 'station'),
    registry.step(target_skill, obj, target),
]
for step in steps:
    world = bm._world_from_sim(world, sim)
    calls = registry.expand(step, world)
    for call in calls:
        state['label'] = f'{step.skill}/{call.action}'
        if call.action == 'move_hand':
            now = bm._world_from_sim(world, sim)
            boxes, items = avoid_sets(now.objects.values(), now.held.values())
            ctrl.set_obstacles(boxes, items)
        n0 = state['bad']
        act = run.call(call, timeout=120.0)
        code = act.code.name if act.code else None
        bad = state['bad'] - n0
        print(f'{sim.time:7.2f} {state["label"]}: {code} {act.message[:80]} ({bad} bad commands)')
        held = sim.object_poses()[obj]
        args = str({k: v for k, v in call.goal.items() if k in ('position', 'hand', 'width')})
        print(
            f'        {obj} at {np.round(held.position, 3).tolist()} quat '
            f'{np.round(held.quaternion, 2).tolist()}; call {args}'
        )
        if not act.succeeded and not (call.optional and not ctrl.fallen):
            break
    world = apply_step(step, world, registry)
for _ in range(100):
    run.tick()
print('final', obj, sim.object_poses()[obj], 'fallen', ctrl.fallen)
