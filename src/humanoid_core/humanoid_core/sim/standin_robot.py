"""A tiny stand-in robot (MjSpec) for fast simulator tests: a floating base with a wide foot,
a column, one arm (shoulder pitch, elbow), a gripper with two slide fingers, a neck-less head
camera `head_camera` and an `imu_link` site. Joint and frame names follow the humanoid's
conventions so backend code paths are the same; it is not a humanoid."""

from __future__ import annotations

import math

import mujoco

from .builder import look_at_quat

__all__ = ['STANDIN_POSTURE', 'standin_robot_spec']

STANDIN_POSTURE = {
    'left_shoulder_pitch_joint': 0.3,
    'left_elbow_joint': -0.6,
    'left_gripper_finger_left_joint': 0.02,
    'left_gripper_finger_right_joint': 0.02,
}


def standin_robot_spec() -> mujoco.MjSpec:
    """The stand-in robot; root body `pelvis`, resting on the floor."""
    spec = mujoco.MjSpec()
    spec.compiler.degree = False
    pelvis = spec.worldbody.add_body(name='pelvis', pos=[0.0, 0.0, 0.03])
    pelvis.add_freejoint(name='floating_base')
    pelvis.add_geom(
        name='foot', type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.2, 0.2, 0.03], mass=30.0,
        rgba=[0.3, 0.3, 0.3, 1.0],
    )  # fmt: skip
    pelvis.add_geom(
        name='column', type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.04, 0.45, 0.0],
        pos=[-0.1, 0.0, 0.5], mass=3.0, rgba=[0.5, 0.5, 0.55, 1.0], contype=0, conaffinity=0,
    )  # fmt: skip
    pelvis.add_site(name='imu_link', pos=[0.0, 0.0, 0.05])
    cam_pos = [-0.05, 0.0, 1.45]
    pelvis.add_camera(
        name='head_camera', pos=cam_pos, quat=look_at_quat(cam_pos, [0.45, 0.0, 0.72]),
        fovy=58.0,
    )  # fmt: skip
    upper = pelvis.add_body(name='left_upper_arm', pos=[-0.1, 0.25, 1.0])
    upper.add_joint(
        name='left_shoulder_pitch_joint', type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0],
        range=[-1.5, 1.5], limited=mujoco.mjtLimited.mjLIMITED_TRUE, damping=2.0, armature=0.05,
    )  # fmt: skip
    upper.add_geom(
        name='left_upper_arm_geom', type=mujoco.mjtGeom.mjGEOM_CAPSULE,
        fromto=[0, 0, 0, 0, 0, -0.25], size=[0.03, 0, 0], mass=1.0, contype=0, conaffinity=0,
    )  # fmt: skip
    lower = upper.add_body(name='left_lower_arm', pos=[0.0, 0.0, -0.25])
    lower.add_joint(
        name='left_elbow_joint', type=mujoco.mjtJoint.mjJNT_HINGE, axis=[0, 1, 0],
        range=[-2.0, 0.0], limited=mujoco.mjtLimited.mjLIMITED_TRUE, damping=1.0, armature=0.02,
    )  # fmt: skip
    lower.add_geom(
        name='left_lower_arm_geom', type=mujoco.mjtGeom.mjGEOM_CAPSULE,
        fromto=[0, 0, 0, 0, 0, -0.22], size=[0.025, 0, 0], mass=0.6, contype=0, conaffinity=0,
    )  # fmt: skip
    hand = lower.add_body(name='left_hand', pos=[0.0, 0.0, -0.24])
    hand.add_site(name='left_grasp_frame', pos=[0.0, 0.0, -0.05])
    for side, sign in (('left', 1.0), ('right', -1.0)):
        finger = hand.add_body(name=f'left_gripper_finger_{side}', pos=[0.0, 0.0, -0.03])
        finger.add_joint(
            name=f'left_gripper_finger_{side}_joint', type=mujoco.mjtJoint.mjJNT_SLIDE,
            axis=[0, sign, 0], range=[0.0, 0.04], limited=mujoco.mjtLimited.mjLIMITED_TRUE,
            damping=5.0,
        )  # fmt: skip
        finger.add_geom(
            name=f'left_gripper_finger_{side}_geom', type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[0.01, 0.005, 0.03], pos=[0.0, sign * 0.005, -0.03], mass=0.05,
        )  # fmt: skip
    gains = {
        'left_shoulder_pitch_joint': 200.0,
        'left_elbow_joint': 100.0,
        'left_gripper_finger_left_joint': 400.0,
        'left_gripper_finger_right_joint': 400.0,
    }
    for joint, kp in gains.items():
        act = spec.add_actuator(name=joint, target=joint)
        act.trntype = mujoco.mjtTrn.mjTRN_JOINT
        act.set_to_position(kp=kp, kv=0.1 * math.sqrt(kp))
    return spec
