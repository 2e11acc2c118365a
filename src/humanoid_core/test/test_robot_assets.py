"""Asset tests of the humanoid: xacro rendering, URDF sanity (limits, masses, inertias),
geometry targets, and MuJoCo behaviour (stands, tracks, grasps, sees the bench)."""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET

from humanoid_core.robot.description import (
    HARDWARE_CHOICES,
    ROBOT_INFO,
    JointLimit,
    RobotInfo,
    joint_limits,
    render_urdf,
)
from humanoid_core.sim import robot_model as rm
import mujoco
import numpy as np
import pytest

from humanoid_core import paths

TIMESTEP = 0.002
pytestmark = pytest.mark.filterwarnings('ignore:Attaching a spec with an empty prefix')


# ----------------------------------------------------------------------------- helpers
def _rpy_matrix(rpy: tuple[float, float, float]) -> np.ndarray:
    r, p, y = rpy
    rx = np.array([[1, 0, 0], [0, math.cos(r), -math.sin(r)], [0, math.sin(r), math.cos(r)]])
    ry = np.array([[math.cos(p), 0, math.sin(p)], [0, 1, 0], [-math.sin(p), 0, math.cos(p)]])
    rz = np.array([[math.cos(y), -math.sin(y), 0], [math.sin(y), math.cos(y), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _floats(text: str | None, n: int) -> tuple[float, ...]:
    values = tuple(float(v) for v in (text or ' '.join(['0'] * n)).split())
    assert len(values) == n
    return values


def _world_spec(robot: mujoco.MjSpec, timestep: float = TIMESTEP) -> mujoco.MjSpec:
    spec = mujoco.MjSpec()
    spec.option.timestep = timestep
    spec.option.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    spec.option.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    spec.option.impratio = 10.0
    spec.worldbody.add_geom(name='floor', type=mujoco.mjtGeom.mjGEOM_PLANE, size=[5, 5, 0.1])
    spec.worldbody.add_frame().attach_body(robot.worldbody.first_body(), '', '')
    return spec


def _tilt_deg(quat: np.ndarray) -> float:
    """Angle between the body z axis and the world z axis."""
    mat = np.zeros(9)
    mujoco.mju_quat2Mat(mat, quat)
    return math.degrees(math.acos(float(np.clip(mat[8], -1.0, 1.0))))


def _assert_no_warnings(data: mujoco.MjData) -> None:
    counts = {mujoco.mjtWarning(i).name: int(w.number) for i, w in enumerate(data.warning)}
    assert not any(counts.values()), f'MuJoCo warnings: {counts}'


def _set_ctrl(model: mujoco.MjModel, data: mujoco.MjData, posture: dict[str, float]) -> None:
    for i in range(model.nu):
        data.ctrl[i] = posture[model.actuator(i).name]


@pytest.fixture(scope='module')
def urdf() -> str:
    return render_urdf(hardware='mujoco')


@pytest.fixture(scope='module')
def standing_model() -> mujoco.MjModel:
    return _world_spec(rm.load_robot_spec()).compile()


# ----------------------------------------------------------------------------- xacro
def test_paths_find_the_data_folders() -> None:
    assert (paths.urdf_dir() / 'humanoid.urdf.xacro').is_file()
    assert (paths.config_dir() / 'scenes' / 'lab.yaml').is_file()
    assert paths.launch_dir().is_dir()
    with pytest.raises(FileNotFoundError, match=r'no_such\.xacro'):
        paths.urdf_file('no_such.xacro')


@pytest.mark.parametrize(
    ('hardware', 'camera'), list(itertools.product(HARDWARE_CHOICES, (True, False)))
)
def test_xacro_renders_every_combination(hardware: str, camera: bool) -> None:
    text = render_urdf(hardware=hardware, camera=camera)
    root = ET.fromstring(text)
    assert root.tag == 'robot'
    links = {link.get('name') for link in root.findall('link')}
    assert ('head_camera_optical_frame' in links) is camera
    assert ('head_camera_link' in links) is camera
    joints = {j.get('name') for j in root.findall('joint') if j.get('type') != 'fixed'}
    assert joints == set(ROBOT_INFO.joints)
    plugin = root.find('ros2_control/hardware/plugin')
    assert plugin is not None
    expected = {
        'gazebo': 'gz_ros2_control/GazeboSimSystem',
        'mock': 'mock_components/GenericSystem',
        'mujoco': 'mock_components/GenericSystem',
        'real': 'humanoid_hardware/HumanoidSystem',
    }[hardware]
    assert plugin.text.strip() == expected
    gz_plugins = root.findall('gazebo/plugin')
    sensors = {s.get('type') for s in root.iter('sensor')}
    if hardware == 'gazebo':
        assert [p.get('filename') for p in gz_plugins] == ['gz_ros2_control-system']
        params = gz_plugins[0].findtext('parameters')
        assert params is not None and params.endswith('config/gazebo/controllers.yaml')
        assert sensors == ({'imu', 'rgbd_camera'} if camera else {'imu'})
    else:
        assert gz_plugins == [] and sensors == set()


def test_ros2_control_block_lists_every_joint_with_interfaces(urdf: str) -> None:
    block = ET.fromstring(urdf).find('ros2_control')
    assert block is not None
    names = [j.get('name') for j in block.findall('joint')]
    assert names == list(ROBOT_INFO.joints)
    for joint in block.findall('joint'):
        commands = [c.get('name') for c in joint.findall('command_interface')]
        states = [s.get('name') for s in joint.findall('state_interface')]
        assert commands == ['position', 'velocity'], joint.get('name')
        assert states == ['position', 'velocity', 'effort'], joint.get('name')


def test_xacro_args_real_plugin_and_prefix() -> None:
    text = render_urdf(hardware='real', real_plugin='acme/AcmeSystem', prefix='r1_')
    root = ET.fromstring(text)
    assert root.findtext('ros2_control/hardware/plugin').strip() == 'acme/AcmeSystem'
    joints = {j.get('name') for j in root.findall('joint') if j.get('type') != 'fixed'}
    assert joints == set(RobotInfo(prefix='r1_').joints)
    assert {'r1_pelvis', 'r1_left_grasp_frame'} <= {lk.get('name') for lk in root.iter('link')}


def test_bad_xacro_args_fail_clearly() -> None:
    with pytest.raises(ValueError, match='hardware must be one of'):
        render_urdf(hardware='webots')
    with pytest.raises(ValueError, match='camera:=maybe is not true or false'):
        render_urdf(camera='maybe')


# ----------------------------------------------------------------------------- URDF sanity
def test_every_movable_joint_has_full_limits(urdf: str) -> None:
    limits = joint_limits(urdf)
    assert set(limits) == set(ROBOT_INFO.joints)
    for name, lim in limits.items():
        assert isinstance(lim, JointLimit)
        assert lim.lower < lim.upper, name
        assert lim.velocity > 0 and lim.effort > 0, name
    for name in ROBOT_INFO.grippers:
        assert limits[name].lower == 0.0
        assert 0.04 <= limits[name].upper <= 0.05  # jaw opens to >= 8 cm
    for joint in ET.fromstring(urdf).findall('joint'):
        if joint.get('type') != 'fixed':
            dyn = joint.find('dynamics')
            assert dyn is not None and float(dyn.get('damping', '0')) > 0, joint.get('name')


def test_joint_limits_rejects_a_joint_without_limits() -> None:
    bad = '<robot name="r"><joint name="j" type="revolute"><parent link="a"/></joint></robot>'
    with pytest.raises(ValueError, match="joint 'j'"):
        joint_limits(bad)
    with pytest.raises(ValueError, match='not well-formed'):
        joint_limits('<robot>')


def test_links_have_mass_and_physical_inertia(urdf: str) -> None:
    total = 0.0
    for link in ET.fromstring(urdf).findall('link'):
        name = link.get('name')
        has_geometry = link.find('visual') is not None or link.find('collision') is not None
        inertial = link.find('inertial')
        if not has_geometry:
            assert inertial is None, f'frame link {name} carries mass'
            continue
        assert inertial is not None, f'link {name} has geometry but no <inertial>'
        mass = float(inertial.find('mass').get('value'))
        assert mass > 0, name
        total += mass
        i = inertial.find('inertia').attrib
        tensor = np.array(
            [
                [float(i['ixx']), float(i['ixy']), float(i['ixz'])],
                [float(i['ixy']), float(i['iyy']), float(i['iyz'])],
                [float(i['ixz']), float(i['iyz']), float(i['izz'])],
            ]
        )
        origin = inertial.find('origin')
        rot = _rpy_matrix(_floats(origin.get('rpy') if origin is not None else None, 3))
        moments = np.linalg.eigvalsh(rot @ tensor @ rot.T)
        assert np.all(moments > 0), f'{name}: inertia not positive definite {moments}'
        a, b, c = moments
        tol = 1e-12
        assert a + b >= c - tol and a + c >= b - tol and b + c >= a - tol, (
            f'{name}: principal moments {moments} violate the triangle inequality'
        )
    assert 50.0 <= total <= 62.0, f'total mass {total:.1f} kg'


def test_frames_and_collision_geometry(urdf: str) -> None:
    root = ET.fromstring(urdf)
    links = {lk.get('name'): lk for lk in root.findall('link')}
    for frame in (
        'torso', 'head', 'head_camera_link', 'head_camera_optical_frame', 'imu_link',
        'left_hand', 'right_hand', 'left_grasp_frame', 'right_grasp_frame', 'left_foot',
        'right_foot', 'left_sole', 'right_sole',
    ):  # fmt: skip
        assert frame in links, frame
    for side in ('left', 'right'):
        box = links[f'{side}_foot'].find('collision/geometry/box')
        size = _floats(box.get('size'), 3)
        assert size[0] == pytest.approx(0.22) and size[1] == pytest.approx(0.11)


# ----------------------------------------------------------------------------- MuJoCo model
def test_mujoco_model_contents(standing_model: mujoco.MjModel) -> None:
    m = standing_model
    names = lambda kind, n: {mujoco.mj_id2name(m, kind, i) for i in range(n)}  # noqa: E731
    assert names(mujoco.mjtObj.mjOBJ_ACTUATOR, m.nu) == set(ROBOT_INFO.joints)
    sites = names(mujoco.mjtObj.mjOBJ_SITE, m.nsite)
    assert {
        'imu', 'imu_link', 'left_sole', 'right_sole', 'left_grasp_frame', 'right_grasp_frame',
        'head_camera_link', 'head_camera_optical_frame',
    } <= sites  # fmt: skip
    assert rm.HEAD_CAMERA in names(mujoco.mjtObj.mjOBJ_CAMERA, m.ncam)
    assert 60.0 <= m.camera(rm.HEAD_CAMERA).fovy[0] <= 70.0
    assert {'left_sole_geom', 'right_sole_geom'} <= names(mujoco.mjtObj.mjOBJ_GEOM, m.ngeom)
    sensors = names(mujoco.mjtObj.mjOBJ_SENSOR, m.nsensor)
    assert set(rm.IMU_SENSORS.values()) <= sensors
    assert m.joint(rm.FLOATING_BASE_JOINT).type == mujoco.mjtJoint.mjJNT_FREE
    limits = joint_limits(render_urdf(hardware='mujoco'))
    for name in ROBOT_INFO.joints:
        act = m.actuator(name)
        assert act.trntype == mujoco.mjtTrn.mjTRN_JOINT
        assert m.joint(act.trnid[0]).name == name
        assert act.forcerange[1] == pytest.approx(limits[name].effort)
        assert tuple(act.ctrlrange) == pytest.approx((limits[name].lower, limits[name].upper))
    # adjacent links do not collide; the fingers of a hand do not collide with each other
    excluded = {
        frozenset((m.body(b1).name, m.body(b2).name))
        for b1, b2 in (divmod(int(sig), 1 << 16) for sig in m.exclude_signature)
    }
    for pair in (
        ('pelvis', 'left_thigh'), ('left_thigh', 'left_shank'), ('left_shank', 'left_foot'),
        ('pelvis', 'torso'), ('torso', 'head'), ('torso', 'right_upper_arm'),
        ('right_upper_arm', 'right_forearm'), ('right_forearm', 'right_hand'),
        ('left_hand', 'left_gripper_finger_left'),
        ('left_gripper_finger_left', 'left_gripper_finger_right'),
    ):  # fmt: skip
        assert frozenset(pair) in excluded, pair
    assert frozenset(('left_thigh', 'right_thigh')) not in excluded
    # finger pads: grippy, torsional friction
    for side in ('left', 'right'):
        for finger in ('left', 'right'):
            pad = m.geom(f'{side}_gripper_finger_{finger}_pad')
            assert pad.condim[0] >= 4 and 1.5 <= pad.friction[0] <= 2.0


def test_robot_without_camera_loads() -> None:
    model = rm.load_robot_spec(render_urdf(hardware='mujoco', camera=False)).compile()
    assert model.ncam == 0
    assert mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, 'left_grasp_frame') >= 0
    with pytest.raises(ValueError, match='lacks the joints'):
        rm.load_robot_spec('<robot name="r"><link name="pelvis"/></robot>')


def test_camera_is_aligned_with_the_optical_frame(standing_model: mujoco.MjModel) -> None:
    m = standing_model
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    mujoco.mj_forward(m, d)
    cam = d.camera(rm.HEAD_CAMERA).xmat.reshape(3, 3)
    opt = d.site('head_camera_optical_frame').xmat.reshape(3, 3)
    link = d.site('head_camera_link').xmat.reshape(3, 3)
    np.testing.assert_allclose(cam[:, 2], -opt[:, 2], atol=1e-9)  # looks along optical +z
    np.testing.assert_allclose(cam[:, 1], -opt[:, 1], atol=1e-9)  # up = -(y down)
    np.testing.assert_allclose(opt[:, 2], link[:, 0], atol=1e-9)  # optical z = link x
    np.testing.assert_allclose(opt[:, 0], -link[:, 1], atol=1e-9)  # optical x = right
    np.testing.assert_allclose(
        d.camera(rm.HEAD_CAMERA).xpos, d.site_xpos[m.site('head_camera_optical_frame').id]
    )


def test_geometry_targets(standing_model: mujoco.MjModel) -> None:
    m = standing_model
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    mujoco.mj_kinematics(m, d)
    body = lambda n: d.body(n).xpos  # noqa: E731
    site = lambda n: d.site(n).xpos  # noqa: E731
    assert 1.28 <= body('left_shoulder_pitch_link')[2] <= 1.32
    assert 0.84 <= d.qpos[2] <= 0.90  # pelvis height, standing
    assert 0.85 <= rm.standing_pelvis_height({}) <= 0.92  # straight legs
    hip = body('left_hip_roll_link') - body('right_hip_roll_link')
    assert 0.18 <= hip[1] <= 0.20
    for side in ('left', 'right'):
        thigh = np.linalg.norm(body(f'{side}_shank') - body(f'{side}_thigh'))
        shank = np.linalg.norm(body(f'{side}_foot') - body(f'{side}_shank'))
        assert 0.36 <= thigh <= 0.40 and 0.36 <= shank <= 0.40
        assert 0.06 <= body(f'{side}_foot')[2] - site(f'{side}_sole')[2] <= 0.08
        assert abs(site(f'{side}_sole')[2]) < 1e-6  # soles on the floor
        upper = np.linalg.norm(body(f'{side}_forearm') - body(f'{side}_upper_arm'))
        fore = np.linalg.norm(body(f'{side}_hand') - body(f'{side}_forearm'))
        grasp = np.linalg.norm(site(f'{side}_grasp_frame') - body(f'{side}_hand'))
        assert upper == pytest.approx(0.28, abs=0.01) and fore == pytest.approx(0.26, abs=0.01)
        assert 0.10 <= grasp <= 0.12
    arm_joints = [j for j in ROBOT_INFO.arm_joints('left') if m.joint(j).type != 2]
    assert len(arm_joints) == 7


@pytest.mark.parametrize('timestep', [0.001, 0.002])
def test_stands_with_control_noise(timestep: float) -> None:
    """All servo targets at STANDING_POSTURE plus 0.01 rad noise (new sample every 20 ms) for
    4 s: no warnings, finite, pelvis height within 3 cm, tilt < 10 deg, both feet loaded."""
    m = _world_spec(rm.load_robot_spec(), timestep).compile()
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    _set_ctrl(m, d, rm.STANDING_POSTURE)
    mujoco.mj_forward(m, d)
    ctrl0 = d.ctrl.copy()
    height = rm.standing_pelvis_height()
    rng = np.random.default_rng(7)
    low, high = m.actuator_ctrlrange[:, 0], m.actuator_ctrlrange[:, 1]
    steps_per_ctrl = round(0.02 / timestep)
    for k in range(round(4.0 / timestep)):
        if k % steps_per_ctrl == 0:
            d.ctrl[:] = np.clip(ctrl0 + rng.normal(0.0, 0.01, m.nu), low, high)
        mujoco.mj_step(m, d)
    _assert_no_warnings(d)
    assert np.all(np.isfinite(d.qpos)) and np.all(np.isfinite(d.qvel))
    floor = m.geom('floor').id
    for contact in d.contact[: d.ncon]:  # no self-contact while standing
        assert floor in (contact.geom1, contact.geom2)
    assert abs(d.qpos[2] - height) < 0.03, f'pelvis at {d.qpos[2]:.3f}, expected {height:.3f}'
    assert _tilt_deg(d.qpos[3:7]) < 10.0
    assert np.linalg.norm(d.qpos[:2]) < 0.05  # did not walk away
    # at rest the IMU reads gravity (accelerometer: +g along the pelvis z)
    accel = d.sensor(rm.IMU_SENSORS['accel']).data
    assert accel[2] == pytest.approx(9.81, abs=1.0)
    assert d.sensor('left_foot_touch').data[0] > 50 and d.sensor('right_foot_touch').data[0] > 50


def test_arm_targets_are_tracked_within_one_degree(standing_model: mujoco.MjModel) -> None:
    m = standing_model
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    target = dict(rm.STANDING_POSTURE)
    target.update(
        left_shoulder_pitch_joint=-1.57,  # arm straight forward: worst gravity load
        left_elbow_joint=0.0,
        right_shoulder_pitch_joint=-1.1,
        right_shoulder_roll_joint=-0.3,
        right_elbow_joint=-0.9,
        right_wrist_pitch_joint=0.5,
        right_wrist_yaw_joint=0.4,
    )
    _set_ctrl(m, d, target)
    for _ in range(round(3.0 / TIMESTEP)):
        mujoco.mj_step(m, d)
    _assert_no_warnings(d)
    errors = {n: math.degrees(abs(d.joint(n).qpos[0] - target[n])) for n in ROBOT_INFO.arms}
    worst = max(errors, key=errors.__getitem__)
    assert errors[worst] < 1.0, f'{worst} off by {errors[worst]:.2f} deg'
    assert _tilt_deg(d.qpos[3:7]) < 10.0


def test_gripper_lifts_a_cube_by_friction() -> None:
    """Fixed-base robot, left hand pointing down around a 5 cm 0.1 kg cube on a small
    pedestal: close the real gripper, raise the arm, the cube comes along (no weld)."""
    robot = rm.load_robot_spec()
    robot.delete(robot.joint(rm.FLOATING_BASE_JOINT))
    spec = _world_spec(robot)
    posture = dict(rm.STANDING_POSTURE)
    posture.update(
        left_shoulder_roll_joint=0.0,
        left_shoulder_pitch_joint=-0.4,
        left_elbow_joint=-1.0,
        left_wrist_pitch_joint=1.4,  # hand points straight down
        left_gripper_finger_left_joint=0.045,
        left_gripper_finger_right_joint=0.045,
    )
    probe = spec.compile()
    pd = mujoco.MjData(probe)
    for name, value in posture.items():
        pd.joint(name).qpos = value
    mujoco.mj_kinematics(probe, pd)
    grasp = pd.site('left_grasp_frame')
    np.testing.assert_allclose(grasp.xmat.reshape(3, 3)[:, 0], [0, 0, -1], atol=1e-6)
    p = grasp.xpos.copy()
    cube = spec.worldbody.add_body(name='cube', pos=p)
    cube.add_freejoint()
    cube.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.025] * 3, mass=0.1, friction=[1.0, 0.02, 0.001]
    )
    # pedestal narrower than the cube so the finger pads do not touch it
    spec.worldbody.add_geom(
        type=mujoco.mjtGeom.mjGEOM_BOX, size=[0.015, 0.015, 0.01], pos=[p[0], p[1], p[2] - 0.035]
    )
    m = spec.compile()
    d = mujoco.MjData(m)
    for name, value in posture.items():
        d.joint(name).qpos = value
    _set_ctrl(m, d, posture)

    def run(seconds: float) -> None:
        for _ in range(round(seconds / TIMESTEP)):
            mujoco.mj_step(m, d)

    run(0.3)
    fingers = ROBOT_INFO.gripper_joints('left')
    for name in fingers:
        d.actuator(name).ctrl = rm.gripper_ctrl(0.0)
    run(0.7)
    travel = [float(d.joint(n).qpos[0]) for n in fingers]
    assert travel == pytest.approx([0.025, 0.025], abs=0.002)  # closed on the 5 cm cube
    z0 = float(d.body('cube').xpos[2])
    start = float(d.ctrl[m.actuator('left_shoulder_pitch_joint').id])
    for k in range(100):  # raise the arm over 1 s
        d.actuator('left_shoulder_pitch_joint').ctrl = start - 0.5 * (k + 1) / 100
        run(0.01)
    run(1.0)
    _assert_no_warnings(d)
    lift = float(d.body('cube').xpos[2]) - z0
    assert lift > 0.15, f'cube lifted by only {lift:.3f} m'
    slip = np.linalg.norm(d.body('cube').xpos - d.site('left_grasp_frame').xpos)
    assert slip < 0.015, f'cube slipped {slip:.3f} m from the grasp frame'


def test_gripper_opens_to_eight_cm(standing_model: mujoco.MjModel) -> None:
    m = standing_model
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    posture = dict(rm.STANDING_POSTURE)
    for name in ROBOT_INFO.grippers:
        posture[name] = rm.gripper_ctrl(rm.GRIPPER_MAX_WIDTH)
    _set_ctrl(m, d, posture)
    for _ in range(round(1.0 / TIMESTEP)):
        mujoco.mj_step(m, d)
    for side in ('left', 'right'):
        a, b = (f'{side}_gripper_finger_{f}_pad' for f in ('left', 'right'))
        # inner faces of the pads: centre distance minus one pad thickness
        gap = np.linalg.norm(d.geom(a).xpos - d.geom(b).xpos) - 0.012
        assert gap >= 0.08, f'{side} jaw opens to {gap:.3f} m'


def test_head_camera_sees_the_bench_objects(standing_model: mujoco.MjModel) -> None:
    """Every lab object position (x 0.37..0.55, |y| <= 0.25, on the 0.72 m bench) projects
    inside the 640x480 head image at the standing posture."""
    m = standing_model
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    mujoco.mj_forward(m, d)
    cam = d.camera(rm.HEAD_CAMERA)
    rot = cam.xmat.reshape(3, 3)
    f = 240.0 / math.tan(math.radians(m.camera(rm.HEAD_CAMERA).fovy[0]) / 2)
    for x, y in itertools.product((0.22, 0.37, 0.55, 0.70), (-0.25, 0.0, 0.25)):
        local = rot.T @ (np.array([x, y, 0.745]) - cam.xpos)
        assert local[2] < 0, 'point behind the camera'
        u = 320 + f * local[0] / -local[2]
        v = 240 - f * local[1] / -local[2]
        assert 0 <= u < 640 and 0 <= v < 480, f'bench point ({x}, {y}) at pixel ({u:.0f}, {v:.0f})'


def _site_error(d: mujoco.MjData, sid: int, pos: np.ndarray, rot: np.ndarray) -> np.ndarray:
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, (rot @ d.site_xmat[sid].reshape(3, 3).T).flatten())
    vel = np.zeros(3)
    mujoco.mju_quat2Vel(vel, quat, 1.0)
    return np.concatenate([pos - d.site_xpos[sid], vel])


@pytest.mark.parametrize(
    ('side', 'target'),
    [
        ('left', (0.37, 0.22, 0.745)),  # a cube on the bench, outer slot
        ('right', (0.37, -0.20, 0.745)),
        ('right', (0.53, -0.02, 0.8)),  # above the tray centre
    ],
)
def test_bench_objects_are_reachable_top_down(
    side: str, target: tuple[float, float, float]
) -> None:
    """Kinematic reach of the lab scene: with both soles fixed where they stand and the centre
    of mass kept over the feet, the grasp frame reaches a cube on the bench (x = 0.37) and the
    tray (x = 0.53) pointing straight down, within joint limits, leaning < 25 deg."""
    m = rm.load_robot_spec().compile()
    d = mujoco.MjData(m)
    d.qpos[:] = rm.standing_qpos(m)
    mujoco.mj_kinematics(m, d)
    soles = [m.site(f'{s}_sole').id for s in ('left', 'right')]
    fixed = [(d.site_xpos[s].copy(), d.site_xmat[s].reshape(3, 3).copy()) for s in soles]
    grasp = m.site(f'{side}_grasp_frame').id
    down = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [-1.0, 0.0, 0.0]])  # x axis = -z
    pelvis = m.body('pelvis').id
    for _ in range(300):  # damped least squares
        mujoco.mj_kinematics(m, d)
        mujoco.mj_comPos(m, d)
        rows, errors = [], []
        targets = [*zip(soles, fixed, strict=True), (grasp, (np.array(target), down))]
        for sid, (pos, rot) in targets:
            jp, jr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
            mujoco.mj_jacSite(m, d, jp, jr, sid)
            rows.append(np.vstack([jp, jr]))
            errors.append(_site_error(d, sid, pos, rot))
        jc = np.zeros((3, m.nv))
        mujoco.mj_jacSubtreeCom(m, d, jc, pelvis)
        rows.append(jc[:2])
        errors.append(np.array([0.035, 0.0]) - d.subtree_com[pelvis][:2])
        jac, err = np.vstack(rows), np.concatenate(errors)
        dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-3 * np.eye(len(err)), err)
        mujoco.mj_integratePos(m, d.qpos, 0.5 * dq, 1)
        for j in range(1, m.njnt):
            adr = m.jnt_qposadr[j]
            d.qpos[adr] = np.clip(d.qpos[adr], *m.jnt_range[j])
    mujoco.mj_kinematics(m, d)
    final = _site_error(d, grasp, np.array(target), down)
    assert np.linalg.norm(final[:3]) < 0.005, f'grasp frame {np.linalg.norm(final[:3]):.3f} m off'
    assert math.degrees(np.linalg.norm(final[3:])) < 2.0
    for sid, (pos, rot) in zip(soles, fixed, strict=True):
        assert np.linalg.norm(_site_error(d, sid, pos, rot)[:3]) < 0.005  # feet stayed put
    assert _tilt_deg(d.qpos[3:7]) < 25.0
