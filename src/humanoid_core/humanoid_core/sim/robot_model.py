"""The humanoid as a MuJoCo `MjSpec`, built from the URDF (`urdf/humanoid.urdf.xacro`).

`load_robot_spec()` returns a spec whose worldbody holds one body tree rooted at `pelvis`, ready
to be attached into a scene (`frame.attach_body(spec.worldbody.first_body(), '', '')`):

- floating base: a free joint `floating_base` on `pelvis`; the pelvis body sits at the height
  where the soles touch z = 0 with every joint at 0 (straight legs). For the standing posture
  put the joints at `STANDING_POSTURE` and the pelvis at `standing_pelvis_height()`
  (`standing_qpos()` does both).
- actuators: one position servo per joint, named after the joint (`trntype=mjTRN_JOINT`), with
  kp/kv per joint group (`ACTUATOR_GAINS`), `ctrlrange` = the joint's position limits and
  `forcerange` = its effort limit. The gripper has one actuator per finger; the hand's jaw
  width w maps to ctrl = w / 2 on both fingers (`gripper_ctrl`).
- frames (URDF links without geometry: imu_link, left/right_sole, left/right_grasp_frame,
  head_camera_link, head_camera_optical_frame) become sites of the same name on the body
  that carries them; `imu` is an alias site of `imu_link`.
- the MuJoCo camera `head_camera` sits on the optical frame (MuJoCo cameras look along -z with
  y up, i.e. the optical frame turned by pi about x), fovy `HEAD_CAMERA_FOVY`.
- sensors: `imu_quat` (framequat), `imu_gyro`, `imu_accel`, `imu_linvel` on site `imu`;
  `left_foot_touch` / `right_foot_touch` (touch, N) on the soles.
- contacts: collision geoms (URDF <collision>) collide; URDF <visual> geoms are in group 1,
  visual only; collision geoms are hidden in group 3. Foot collision boxes are named
  `left_sole_geom` / `right_sole_geom`; soles and finger pads have torsional friction
  (condim 4: a rubber sole's contact patch resists spinning; with condim 3 a stance foot on an
  edge contact spun and the robot fell while side-stepping), finger pads are high-friction.
  Contacts between a body and its nearest colliding ancestor (e.g. thigh-pelvis, hand-forearm)
  and between the two fingers of a hand are excluded.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
import math

import mujoco
import numpy as np

from humanoid_core.robot.description import (
    GRIPPER_MAX_WIDTH,
    ROBOT_INFO,
    joint_limits,
    render_urdf,
)

__all__ = [
    'ACTUATOR_GAINS',
    'FLOATING_BASE_JOINT',
    'GRIPPER_MAX_WIDTH',
    'HEAD_CAMERA',
    'HEAD_CAMERA_FOVY',
    'IMU_SENSORS',
    'STANDING_POSTURE',
    'gripper_ctrl',
    'joint_group',
    'load_robot_spec',
    'standing_pelvis_height',
    'standing_qpos',
]

FLOATING_BASE_JOINT = 'floating_base'
HEAD_CAMERA = 'head_camera'
HEAD_CAMERA_FOVY = 60.0  # degrees (vertical); 640x480 -> 75 deg horizontal
IMU_SENSORS = {
    'quat': 'imu_quat',
    'gyro': 'imu_gyro',
    'accel': 'imu_accel',
    'linvel': 'imu_linvel',
}

# Standing: knees slightly bent (pelvis 0.867 m), arms hanging slightly outwards with the
# elbows bent (hands in front of the thighs), head pitched down 0.35 rad so the camera sees the
# whole bench top, grippers closed.
STANDING_POSTURE: dict[str, float] = {name: 0.0 for name in ROBOT_INFO.joints}
for _side, _s in (('left', 1.0), ('right', -1.0)):
    STANDING_POSTURE.update(
        {
            f'{_side}_hip_pitch_joint': -0.25,
            f'{_side}_knee_joint': 0.5,
            f'{_side}_ankle_pitch_joint': -0.25,
            f'{_side}_shoulder_pitch_joint': 0.1,
            f'{_side}_shoulder_roll_joint': _s * 0.15,
            f'{_side}_elbow_joint': -0.35,
        }
    )
STANDING_POSTURE['neck_pitch_joint'] = 0.35

# (kp, kv) of the position servos per group: N m/rad and N m s/rad (fingers: N/m, N s/m), and
# the joint armature (reflected rotor inertia, kg m^2 or kg). Stiff enough that the robot
# stands on servo targets alone and arm joints track to < 1 deg against gravity.
ACTUATOR_GAINS: dict[str, tuple[float, float, float]] = {
    'hip': (1500.0, 50.0, 0.1),
    'knee': (1500.0, 50.0, 0.1),
    'ankle': (1500.0, 40.0, 0.1),
    'waist': (600.0, 30.0, 0.08),
    'shoulder': (1000.0, 40.0, 0.05),
    'elbow': (600.0, 25.0, 0.03),
    'wrist': (150.0, 5.0, 0.01),
    'neck': (100.0, 5.0, 0.01),
    'gripper': (300.0, 10.0, 0.05),
}


def joint_group(joint: str) -> str:
    """The ACTUATOR_GAINS group of a joint name (e.g. 'left_knee_joint' -> 'knee')."""
    for key in ('gripper', 'hip', 'knee', 'ankle', 'waist', 'shoulder', 'elbow', 'wrist', 'neck'):
        if key in joint:
            return key
    raise ValueError(f'joint {joint!r} belongs to none of the groups {list(ACTUATOR_GAINS)}')


def gripper_ctrl(width: float) -> float:
    """Per-finger actuator target (m) for a jaw opening `width` (m), clipped to the range."""
    return float(min(max(width, 0.0), GRIPPER_MAX_WIDTH)) / 2.0


# Contact parameters.
_SOLE_FRICTION = (1.0, 0.02, 0.001)
_PAD_FRICTION = (1.8, 0.02, 0.001)
_COLLISION_GROUP = 3
_VISUAL_GROUP = 1
_CAMERA_FRAMES = ('head_camera_link', 'head_camera_optical_frame')  # absent with camera:=false
_FRAME_NAMES = (
    'imu_link',
    'left_sole',
    'right_sole',
    'left_grasp_frame',
    'right_grasp_frame',
    'head_camera_link',
    'head_camera_optical_frame',
)


def _quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros(4)
    mujoco.mju_mulQuat(out, np.asarray(a, float), np.asarray(b, float))
    return out


def _compose(pos_a, quat_a, pos_b, quat_b) -> tuple[np.ndarray, np.ndarray]:
    """Pose b (given in frame a) expressed in a's parent: a * b."""
    rotated = np.zeros(3)
    mujoco.mju_rotVecQuat(rotated, np.asarray(pos_b, float), np.asarray(quat_a, float))
    return np.asarray(pos_a, float) + rotated, _quat_mul(quat_a, quat_b)


def _frames_to_sites(
    spec: mujoco.MjSpec,
) -> dict[str, tuple[mujoco.MjsBody, np.ndarray, np.ndarray]]:
    """Replace geometry-less fixed frame bodies by sites; returns name -> (body, pos, quat)."""
    placed: dict[str, tuple[mujoco.MjsBody, np.ndarray, np.ndarray]] = {}
    frames = {b.name: b for b in spec.bodies if b.name in _FRAME_NAMES}
    missing = [n for n in _FRAME_NAMES if n not in frames and n not in _CAMERA_FRAMES]
    if missing:
        raise ValueError(f'robot URDF lacks the frame links {missing}')

    def resolve(body: mujoco.MjsBody) -> tuple[mujoco.MjsBody, np.ndarray, np.ndarray]:
        parent = body.parent
        if parent.name in frames:
            pbody, ppos, pquat = resolve(parent)
            pos, quat = _compose(ppos, pquat, body.pos, body.quat)
            return pbody, pos, quat
        return parent, np.array(body.pos, float), np.array(body.quat, float)

    for name, body in frames.items():
        if len(body.geoms) or len(body.joints):
            raise ValueError(f'frame link {name!r} must have no geometry and a fixed joint')
        placed[name] = resolve(body)
    # delete the top-most frame bodies (children go with them)
    for body in frames.values():
        if body.parent.name not in frames:
            spec.delete(body)
    for name, (body, pos, quat) in placed.items():
        body.add_site(name=name, pos=pos, quat=quat, size=[0.005, 0.005, 0.005], group=4)
    return placed


def _nearest_colliding_ancestor(body: mujoco.MjsBody, colliding: set[str]) -> str | None:
    parent = body.parent
    while parent is not None and parent.name and parent.name != 'world':
        if parent.name in colliding:
            return str(parent.name)
        parent = parent.parent
    return None


def load_robot_spec(urdf: str | None = None) -> mujoco.MjSpec:
    """The humanoid as an MjSpec (floating base, servos, sites, camera, sensors).

    Args:
        urdf: a URDF string; default `render_urdf(hardware='mujoco')`.

    Raises:
        ValueError: the URDF misses a joint or frame the model needs (message names it).
    """
    if urdf is None:
        urdf = render_urdf(hardware='mujoco')
    limits = joint_limits(urdf)
    missing = [j for j in ROBOT_INFO.joints if j not in limits]
    if missing:
        raise ValueError(f'robot URDF lacks the joints {missing}')
    spec = mujoco.MjSpec.from_string(urdf)
    spec.modelname = 'humanoid'
    spec.compiler.degree = False

    # --- frames -> sites, camera -------------------------------------------------------
    placed = _frames_to_sites(spec)
    imu_body, imu_pos, imu_quat = placed['imu_link']
    imu_body.add_site(name='imu', pos=imu_pos, quat=imu_quat, size=[0.01, 0.01, 0.01], group=4)
    if 'head_camera_optical_frame' in placed:
        cam_body, cam_pos, cam_quat = placed['head_camera_optical_frame']
        # optical frame (z forward, y down) -> MuJoCo camera (-z forward, y up): pi about x
        quat = _quat_mul(cam_quat, np.array([0.0, 1.0, 0.0, 0.0]))
        cam_body.add_camera(name=HEAD_CAMERA, pos=cam_pos, quat=quat, fovy=HEAD_CAMERA_FOVY)

    # --- geoms: visual vs collision, contact parameters ---------------------------------
    colliding: set[str] = set()
    for geom in spec.geoms:
        if geom.contype == 0 and geom.conaffinity == 0:
            geom.group = _VISUAL_GROUP
            geom.mass = 0.0
            continue
        geom.group = _COLLISION_GROUP
        geom.condim = 3
        body_name = geom.parent.name
        colliding.add(body_name)
        if body_name.endswith('_foot'):
            geom.name = body_name.replace('_foot', '_sole_geom')
            geom.friction = list(_SOLE_FRICTION)
            geom.condim = 4  # torsional friction (see the module doc)
        elif '_gripper_finger_' in body_name:
            geom.friction = list(_PAD_FRICTION)
            geom.condim = 4
            geom.solref = [0.005, 1.0]
            geom.solimp = [0.95, 0.99, 0.001, 0.5, 2.0]
    for body in spec.bodies:
        if body.name in colliding:
            ancestor = _nearest_colliding_ancestor(body, colliding)
            if ancestor is not None:
                spec.add_exclude(bodyname1=ancestor, bodyname2=body.name)
    for side in ('left', 'right'):
        a, b = (f'{side}_gripper_finger_{f}' for f in ('left', 'right'))
        spec.add_exclude(name=f'{side}_fingers', bodyname1=a, bodyname2=b)

    # --- floating base -----------------------------------------------------------------
    pelvis = spec.body(ROBOT_INFO.base_link)
    pelvis.add_freejoint(name=FLOATING_BASE_JOINT)

    # --- joints and actuators -----------------------------------------------------------
    for name in ROBOT_INFO.joints:
        joint = spec.joint(name)
        kp, kv, armature = ACTUATOR_GAINS[joint_group(name)]
        lim = limits[name]
        joint.armature = armature
        act = spec.add_actuator(name=name, target=name, trntype=mujoco.mjtTrn.mjTRN_JOINT)
        act.set_to_position(kp=kp, kv=kv)
        act.ctrllimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.ctrlrange = [lim.lower, lim.upper]
        act.forcelimited = mujoco.mjtLimited.mjLIMITED_TRUE
        act.forcerange = [-lim.effort, lim.effort]

    # --- sensors ------------------------------------------------------------------------
    site = mujoco.mjtObj.mjOBJ_SITE
    st = mujoco.mjtSensor
    spec.add_sensor(
        name=IMU_SENSORS['quat'], type=st.mjSENS_FRAMEQUAT, objtype=site, objname='imu'
    )
    spec.add_sensor(name=IMU_SENSORS['gyro'], type=st.mjSENS_GYRO, objtype=site, objname='imu')
    spec.add_sensor(
        name=IMU_SENSORS['accel'], type=st.mjSENS_ACCELEROMETER, objtype=site, objname='imu'
    )
    spec.add_sensor(
        name=IMU_SENSORS['linvel'], type=st.mjSENS_VELOCIMETER, objtype=site, objname='imu'
    )
    for side in ('left', 'right'):
        foot = spec.body(f'{side}_foot')
        sole = spec.geom(f'{side}_sole_geom')
        half = np.array(sole.size[:3], float)
        foot.add_site(
            name=f'{side}_sole_touch',
            type=mujoco.mjtGeom.mjGEOM_BOX,
            pos=sole.pos,
            quat=sole.quat,
            size=[half[0] + 0.002, half[1] + 0.002, half[2] + 0.004],
            group=4,
        )
        spec.add_sensor(
            name=f'{side}_foot_touch', type=st.mjSENS_TOUCH, objtype=site,
            objname=f'{side}_sole_touch',
        )  # fmt: skip

    # pelvis height such that the soles touch z = 0 at qpos0 (straight legs)
    pelvis.pos = [0.0, 0.0, _sole_drop(urdf, posture=None)]
    return spec


@lru_cache(maxsize=8)
def _sole_drop_cached(urdf: str, posture: tuple[tuple[str, float], ...] | None) -> float:
    spec = mujoco.MjSpec.from_string(urdf)
    model = spec.compile()
    data = mujoco.MjData(model)
    if posture is not None:
        for name, value in posture:
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            if jid < 0:
                raise ValueError(f'STANDING_POSTURE names an unknown joint {name!r}')
            data.qpos[model.jnt_qposadr[jid]] = value
    mujoco.mj_kinematics(model, data)
    pelvis = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, ROBOT_INFO.base_link)
    lowest = math.inf
    for side in ('left', 'right'):
        bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, f'{side}_sole')
        lowest = min(lowest, float(data.xpos[bid][2]))
    return float(data.xpos[pelvis][2]) - lowest


def _sole_drop(urdf: str, posture: Mapping[str, float] | None) -> float:
    key = None if posture is None else tuple(sorted(posture.items()))
    return _sole_drop_cached(urdf, key)


def standing_pelvis_height(
    posture: Mapping[str, float] | None = None, urdf: str | None = None
) -> float:
    """Pelvis height (m) above the floor at which the soles touch z = 0 with the joints at
    `posture` (default STANDING_POSTURE) and the pelvis level."""
    if urdf is None:
        urdf = render_urdf(hardware='mujoco')
    return _sole_drop(urdf, STANDING_POSTURE if posture is None else posture)


def standing_qpos(
    model: mujoco.MjModel,
    posture: Mapping[str, float] | None = None,
    prefix: str = '',
    base_xy_yaw: tuple[float, float, float] = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """A qpos of `model` (which contains the robot, names optionally prefixed) with the robot's
    joints at `posture` (default STANDING_POSTURE), the pelvis at `base_xy_yaw` and at the
    standing height; other bodies keep `model.qpos0`."""
    posture = STANDING_POSTURE if posture is None else posture
    qpos = model.qpos0.copy()
    for name, value in posture.items():
        jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, prefix + name)
        if jid < 0:
            raise ValueError(f'model has no joint {prefix + name!r}')
        qpos[model.jnt_qposadr[jid]] = value
    jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, prefix + FLOATING_BASE_JOINT)
    if jid < 0:
        raise ValueError(f'model has no free joint {prefix + FLOATING_BASE_JOINT!r}')
    adr = model.jnt_qposadr[jid]
    x, y, yaw = base_xy_yaw
    qpos[adr : adr + 3] = [x, y, standing_pelvis_height(posture)]
    qpos[adr + 3 : adr + 7] = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
    return qpos
