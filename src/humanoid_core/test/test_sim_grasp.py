"""Contact settings of the built scene hold a pinched cube (elliptic cones, impratio 10).

Measured when choosing them (1 ms step, pads like the humanoid's: friction 1.8, condim 4):
a 0.1 kg cube lifted 0.2 m and held 3 s slips 6 mm with pyramidal cones and impratio 1,
0.2 mm with elliptic cones and impratio 10 (2 mm while swinging the gripper at 1 Hz); noslip
iterations remove the rest but cost ~25% speed, so they stay off.
"""

from humanoid_core.sim.builder import build_model
from humanoid_core.sim.scene import load_scene
import mujoco
import numpy as np


def _gripper_spec(x: float, y: float) -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    hand = spec.worldbody.add_body(name='test_hand', pos=[x, y, 0.80])
    hand.add_joint(name='lift_joint', type=mujoco.mjtJoint.mjJNT_SLIDE, axis=[0, 0, 1], damping=50)
    hand.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.03, 0.06, 0.01], mass=0.5, contype=0,
        conaffinity=0,
    )  # fmt: skip
    for side, sign in (('left', 1.0), ('right', -1.0)):
        finger = hand.add_body(name=f'test_finger_{side}', pos=[0, sign * 0.005, -0.05])
        finger.add_joint(
            name=f'test_finger_{side}_joint', type=mujoco.mjtJoint.mjJNT_SLIDE,
            axis=[0, sign, 0], range=[0, 0.045], damping=10,
        )  # fmt: skip
        finger.add_geom(
            type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.015, 0.005, 0.03], mass=0.05,
            friction=[1.8, 0.02, 0.001], condim=4, solref=[0.005, 1.0],
            solimp=[0.95, 0.99, 0.001, 0.5, 2.0],
        )  # fmt: skip
    for joint, kp, kv in (
        ('lift_joint', 3000.0, 300.0),
        ('test_finger_left_joint', 300.0, 10.0),
        ('test_finger_right_joint', 300.0, 10.0),
    ):
        act = spec.add_actuator(name=joint, target=joint, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, kv=kv)
    return spec


def test_pinched_cube_does_not_slip_when_lifted() -> None:
    scene = load_scene('lab')
    red = scene.nominal_layout()['red_cube'].position
    model, _ = build_model(scene, robot_spec=_gripper_spec(red[0], red[1]))
    data = mujoco.MjData(model)
    lift = model.actuator('lift_joint').id
    fingers = [model.actuator(f'test_finger_{s}_joint').id for s in ('left', 'right')]
    for s in ('left', 'right'):
        data.qpos[model.joint(f'test_finger_{s}_joint').qposadr[0]] = 0.04
    data.ctrl[fingers] = 0.04
    mujoco.mj_forward(model, data)
    for i in range(500):  # close
        data.ctrl[fingers] = max(0.0, 0.04 * (1 - i / 300))
        mujoco.mj_step(model, data)
    cube, hand = model.body('red_cube').id, model.body('test_hand').id
    grip = data.xpos[cube] - data.xpos[hand]
    for i in range(1000):  # lift 0.15 m in 1 s
        data.ctrl[lift] = 0.15 * i / 1000
        mujoco.mj_step(model, data)
    for _ in range(2000):  # hold 2 s
        mujoco.mj_step(model, data)
    assert data.xpos[cube][2] > red[2] + 0.14  # lifted with the hand
    slip = np.linalg.norm((data.xpos[cube] - data.xpos[hand]) - grip)
    assert slip < 0.002, f'cube slipped {slip * 1e3:.1f} mm in the grasp'
