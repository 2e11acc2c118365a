"""Debugging aid (not a test): in-process, pick one object with each hand at the bench, then
walk to the station, printing the base and both hands at each phase of the walk and whether
the robot fell.

Usage: .venv/bin/python scripts/debug/two_hand_carry_walk.py [LEFT_OBJECT] [RIGHT_OBJECT]
(default: red_cube yellow_vial). On 2026-11-27 it reproduced the fall of the `lab_long` task
everything-to-station: both picks succeed, the hands are retracted to 7-12 cm in front of the
base at chest height, and the robot fell about 1 s into the first leg of the walk (stepping
back from the bench): the legs had been balanced for the arms out in front. Since they are
balanced again after the retract, the red cube and the vial arrive; with the red and the blue
cube the robot still falls, turning at the station at the end of the walk.
"""

from pathlib import Path
import sys

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / 'bench'))
import bench_motion as bm
from humanoid_core.control.controller import WholeBodyController, avoid_sets
from humanoid_core.planning.skills import SkillRegistry
from humanoid_core.planning.validator import apply_step
from humanoid_core.sim.backend import MujocoBackend
from humanoid_core.world.scene import initial_world

left = sys.argv[1] if len(sys.argv) > 1 else 'red_cube'
right = sys.argv[2] if len(sys.argv) > 2 else 'yellow_vial'
sim = MujocoBackend('lab', control_period=bm.CONTROL_DT)
ctrl = WholeBodyController()
run = bm._Runner(sim, ctrl)
registry = SkillRegistry.from_yaml()
world = initial_world('lab')
for _ in range(50):
    run.tick()
for name, hand in ((left, 'left'), (right, 'right')):
    step = registry.step('pick', name, hand)
    world = bm._world_from_sim(world, sim)
    for call in registry.expand(step, world):
        now = bm._world_from_sim(world, sim)
        ctrl.set_obstacles(*avoid_sets(now.objects.values(), now.held.values()))
        act = run.call(call)
        code = act.code.name if act.code is not None else '?'
        print(f'{sim.time:6.2f} s {call.action:12s} {code} {act.message}')
    world = apply_step(step, world, registry)
world = bm._world_from_sim(world, sim)
ctrl.set_obstacles(*avoid_sets(world.objects.values(), world.held.values()))
goal = registry.expand(registry.step('walk_to', 'station'), world)[-1].goal
act = ctrl.walk_to(goal['x'], goal['y'], goal['theta'], goal['position_tolerance'],
                   goal['angle_tolerance'])  # fmt: skip
t0, phase = sim.time, ''
while not act.done and sim.time - t0 < 120.0:
    run.tick()
    if act._state.get('phase') != phase:
        phase = act._state.get('phase', '')
        b = ctrl._base_pose()
        hands = '  '.join(f'{h} {ctrl.hand_pose(h)[:3, 3].round(3).tolist()}'
                          for h in ('left', 'right'))  # fmt: skip
        print(f'{sim.time:6.2f} s phase {phase:10s} base ({b.x:.3f}, {b.y:.3f}, {b.yaw:.2f})  '
              f'{hands}')  # fmt: skip
code = act.code.name if act.code is not None else 'running'
print(
    f'walk_to: {code} {act.message}; fell: {ctrl.fallen}; '
    f'holding: left {ctrl.holding("left")}, right {ctrl.holding("right")}'
)
sim.close()
