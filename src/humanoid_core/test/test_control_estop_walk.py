"""E-stop while walking, closed loop in MuJoCo: controller -> SupervisorCore -> simulator.

Freezing every joint mid-step tips the robot over (measured on the stack: 4 of 5 falls); the
controlled stop (the gait finishes its step and closes the feet, arms hold at once, then
everything holds) keeps it upright. Both are run here, so the test shows the difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip('mink')

from humanoid_core.control.balance import MeasuredState
from humanoid_core.control.controller import ErrorCode, WholeBodyController
from humanoid_core.robot.description import ROBOT_INFO
from humanoid_core.safety.limits import load_safety_limits
from humanoid_core.safety.supervisor import SupervisorCore
from humanoid_core.sim.backend import MujocoBackend

pytestmark = pytest.mark.slow


def _tilt(m: MeasuredState) -> float:
    _w, x, y, _z = (float(v) for v in m.pelvis_quaternion)
    cos_tilt = 1.0 - 2.0 * (x * x + y * y)
    return math.acos(max(-1.0, min(1.0, cos_tilt)))


def _mid_swing(ctrl: WholeBodyController, step: int) -> bool:
    w = ctrl.walking
    if w.timeline is None:
        return False
    for ph in w.timeline.phases:
        if ph.kind == 'single' and ph.step_index == step:
            return ph.t0 + 0.5 * (ph.t1 - ph.t0) <= w.time < ph.t1
    return False


def _walk_then_estop(walk_stop_time: float, step: int = 1) -> dict:
    sim = MujocoBackend('lab', seed=0, control_period=0.01)
    ctrl = WholeBodyController()
    core = SupervisorCore(load_safety_limits(), sim.time, watchdog_timeout=0.5,
                          walk_stop_time=walk_stop_time)  # fmt: skip
    out: dict = {'arm_commands': 0}
    estop_at = None
    arms = set(ROBOT_INFO.arms)
    try:
        walk = None
        for k in range(1000):  # 10 s of 10 ms control periods
            st = sim.read_state()
            m = MeasuredState.from_sim_state(st)
            core.update_joint_state(st.joint_names, st.positions, None, sim.time)
            if k == 30:
                walk = ctrl.walk_to(m.base_pose.x - 1.0, 0.0, 0.0)
            if walk is not None and estop_at is None and _mid_swing(ctrl, step):
                # the swing foot in the air, halfway through step `step`
                estop_at = sim.time
                hold = core.engage_estop(sim.time, 'test')
                assert hold is not None
                sim.set_trajectory(hold)
                ctrl.set_safety_status(True, True, 'estop')
                out['walk_code'] = walk.code
                out['held_at_once'] = set(hold.joint_names)
            cmd = ctrl.tick(m)
            if cmd.trajectory is not None:
                verdict = core.check_trajectory(cmd.trajectory, sim.time)
                if verdict.trajectory is not None:
                    if estop_at is not None:
                        out['arm_commands'] += len(arms & set(verdict.trajectory.joint_names))
                    sim.set_trajectory(verdict.trajectory)
            hold = core.tick(sim.time)
            if hold is not None:
                out.setdefault('full_hold_after', sim.time - estop_at if estop_at else None)
                speed = float(np.linalg.norm(np.asarray(st.base_linear_velocity)[:2]))
                out.setdefault('base_speed_at_hold', speed)
                sim.set_trajectory(hold)
            sim.step(1)
            out['max_tilt_after'] = max(out.get('max_tilt_after', 0.0),
                                        _tilt(m) if estop_at else 0.0)  # fmt: skip
        st = sim.read_state()
        out['final_tilt'] = _tilt(MeasuredState.from_sim_state(st))
        out['final_speed'] = float(np.max(np.abs(st.velocities[: len(st.joint_names)])))
        out['estopped'] = core.estopped
        out['walking'] = ctrl.walking.walking
        # a new goal is refused while the e-stop is latched
        out['refused'] = ctrl.go_to_posture('stand').code
    finally:
        sim.close()
    return out


@pytest.mark.parametrize('step', [0, 2])
def test_estop_while_walking_is_a_controlled_stop(step: int) -> None:
    out = _walk_then_estop(walk_stop_time=5.0, step=step)  # the supervisor node's default
    assert out['walk_code'] == ErrorCode.ESTOPPED  # the walk ends with the e-stop code at once
    # arms and head held at once; legs and waist left to the gait
    assert out['held_at_once'] and not (out['held_at_once'] & set(ROBOT_INFO.legs))
    assert out['arm_commands'] == 0  # no arm joint was ever forwarded after the e-stop
    assert out['full_hold_after'] is not None and out['full_hold_after'] <= 5.0 + 0.02
    # the legs balance until the base is still, then everything holds
    assert out['base_speed_at_hold'] < 0.05, out
    assert out['estopped'] and not out['walking']
    assert out['refused'] == ErrorCode.ESTOPPED
    assert out['final_tilt'] < 0.2, f'robot tilted {out["final_tilt"]:.2f} rad (fell?)'
    assert out['final_speed'] < 0.05


def test_estop_freezing_every_joint_mid_step_tips_the_robot() -> None:
    """What the controlled stop is for: the same e-stop with walk_stop_time=0."""
    out = _walk_then_estop(walk_stop_time=0.0, step=1)
    assert out['held_at_once'] >= set(ROBOT_INFO.legs)
    assert out['max_tilt_after'] > 0.5, out
