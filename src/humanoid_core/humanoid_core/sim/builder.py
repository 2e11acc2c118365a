"""Build a MuJoCo model of a scene: floor, lights, tables, free objects, cameras and the robot.

`build_model(scene, layout, robot_spec)` returns the compiled `mujoco.MjModel` and a `SceneNames`
record of what is in it. Physics: 1 ms step, implicitfast integrator, elliptic friction cones
with a high impratio (stable grasps), torsional friction on objects. Lights cast no shadows
(shadows cost 3-5x render time on the software renderer).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
import math

import mujoco
import numpy as np

from .scene import CONTAINER_TYPES, Layout, ObjectSpec, Scene

__all__ = [
    'OVERVIEW_CAMERA',
    'SceneNames',
    'build_model',
    'build_spec',
    'look_at_quat',
]

OVERVIEW_CAMERA = 'overview'
TABLE_TOP_THICKNESS = 0.04
_ONE_DOF = (int(mujoco.mjtJoint.mjJNT_HINGE), int(mujoco.mjtJoint.mjJNT_SLIDE))
CONTAINER_WALL = 0.008


@dataclass(frozen=True)
class SceneNames:
    """Names of the things `build_model` put in the model."""

    objects: tuple[str, ...]
    places: tuple[str, ...]
    cameras: tuple[str, ...]
    robot_root: str | None
    # Robot 1-DoF joints (hinge/slide) in model order, and the actuator driving each one.
    joints: tuple[str, ...] = ()
    actuators: dict[str, str] = field(default_factory=dict)


def look_at_quat(
    position: np.ndarray | Sequence[float],
    target: np.ndarray | Sequence[float],
    up: Sequence[float] = (0.0, 0.0, 1.0),
) -> np.ndarray:
    """Quaternion (w, x, y, z) of a MuJoCo camera at `position` looking at `target`.

    MuJoCo cameras look along their -z axis with +y up."""
    f = np.asarray(target, float) - np.asarray(position, float)
    f /= np.linalg.norm(f)
    x = np.cross(f, np.asarray(up, float))
    if np.linalg.norm(x) < 1e-9:
        x = np.cross(f, np.array([0.0, 1.0, 0.0]))
    x /= np.linalg.norm(x)
    z = -f
    y = np.cross(z, x)
    mat = np.column_stack([x, y, z])
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, mat.flatten())
    return quat


def _yaw_quat(yaw: float) -> list[float]:
    return [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]


def build_spec(
    scene: Scene,
    layout: Layout | None = None,
    robot_spec: mujoco.MjSpec | None = None,
    *,
    with_robot: bool = True,
    timestep: float = 0.001,
    offscreen_size: tuple[int, int] = (1280, 960),
) -> tuple[mujoco.MjSpec, SceneNames]:
    """The uncompiled scene spec (see `build_model`)."""
    if timestep <= 0.0 or not math.isfinite(timestep):
        raise ValueError(f'timestep must be a positive number of seconds, got {timestep}')
    layout = layout or scene.nominal_layout()
    scene.validate_layout(layout)
    # The scene is built into (a copy of) the robot's spec rather than attaching the robot:
    # attaching without a name prefix works but MuJoCo then warns on every compile, and the
    # robot's names must stay unprefixed (joint names are contract).
    robot_root = None
    if with_robot:
        if robot_spec is None:
            from . import robot_model  # the humanoid as an MjSpec

            spec = robot_model.load_robot_spec()
        else:
            spec = robot_spec.copy()
        root = spec.worldbody.first_body()
        if root is None:
            raise ValueError('robot spec has no body under its worldbody')
        x, y, yaw = scene.robot.pose
        c, s_ = math.cos(yaw), math.sin(yaw)
        px, py, pz = (float(v) for v in root.pos)
        root.pos = [x + c * px - s_ * py, y + s_ * px + c * py, pz]
        quat = np.zeros(4)
        mujoco.mju_mulQuat(quat, np.array(_yaw_quat(yaw)), np.asarray(root.quat, float))
        root.quat = quat
        robot_root = root.name
    else:
        spec = mujoco.MjSpec()
    spec.modelname = f'scene_{scene.name}'
    spec.compiler.degree = False
    _physics(spec, timestep)
    _visual(spec, offscreen_size)
    _floor_and_lights(spec)
    for name, place in scene.places.items():
        _table(spec, name, place.pose, place.size, place.color)
    for name, obj in scene.objects.items():
        p = layout[name]
        _object(spec, name, obj, p.position, p.yaw)

    cameras = [OVERVIEW_CAMERA]
    pos = np.array([2.3, 1.4, 2.0])
    target = np.array([0.35, -0.75, 0.55])
    spec.worldbody.add_camera(
        name=OVERVIEW_CAMERA, pos=pos, quat=look_at_quat(pos, target), fovy=62.0
    )
    return spec, SceneNames(
        objects=tuple(scene.objects),
        places=tuple(scene.places),
        cameras=tuple(cameras),
        robot_root=robot_root,
    )


def build_model(
    scene: Scene,
    layout: Layout | None = None,
    robot_spec: mujoco.MjSpec | None = None,
    *,
    with_robot: bool = True,
    timestep: float = 0.001,
    offscreen_size: tuple[int, int] = (1280, 960),
) -> tuple[mujoco.MjModel, SceneNames]:
    """Compile `scene` with its objects at `layout` (default: nominal) and the robot.

    `robot_spec` None loads the humanoid (`robot_model.load_robot_spec()`); pass a spec to use
    another robot, or `with_robot=False` for the scene alone. `offscreen_size` bounds the
    largest image that can be rendered (width, height)."""
    spec, names = build_spec(
        scene,
        layout,
        robot_spec,
        with_robot=with_robot,
        timestep=timestep,
        offscreen_size=offscreen_size,
    )
    model = spec.compile()
    joints: list[str] = []
    actuators: dict[str, str] = {}
    cameras = [model.camera(i).name for i in range(model.ncam)]
    if names.robot_root is not None:
        root_id = model.body(names.robot_root).id
        for j in range(model.njnt):
            if int(model.jnt_type[j]) not in _ONE_DOF:
                continue
            if _root_of(model, model.jnt_bodyid[j]) == root_id:
                joints.append(model.joint(j).name)
        for a in range(model.nu):
            if int(model.actuator_trntype[a]) == int(mujoco.mjtTrn.mjTRN_JOINT):
                actuators[model.joint(model.actuator_trnid[a, 0]).name] = model.actuator(a).name
    return model, SceneNames(
        objects=names.objects,
        places=names.places,
        cameras=tuple(cameras),
        robot_root=names.robot_root,
        joints=tuple(joints),
        actuators=actuators,
    )


def _root_of(model: mujoco.MjModel, body: int) -> int:
    while model.body_parentid[body] != 0:
        body = int(model.body_parentid[body])
    return int(body)


def _physics(spec: mujoco.MjSpec, timestep: float) -> None:
    opt = spec.option
    opt.timestep = timestep
    opt.integrator = mujoco.mjtIntegrator.mjINT_IMPLICITFAST
    opt.cone = mujoco.mjtCone.mjCONE_ELLIPTIC
    opt.impratio = 10.0
    opt.iterations = 50
    opt.ls_iterations = 20


def _visual(spec: mujoco.MjSpec, offscreen_size: tuple[int, int]) -> None:
    vis = spec.visual
    vis.global_.offwidth = int(offscreen_size[0])
    vis.global_.offheight = int(offscreen_size[1])
    vis.quality.shadowsize = 0
    vis.headlight.ambient = [0.35, 0.35, 0.35]
    vis.headlight.diffuse = [0.45, 0.45, 0.45]
    vis.headlight.specular = [0.0, 0.0, 0.0]
    vis.map.znear = 0.005
    vis.map.zfar = 40.0


def _floor_and_lights(spec: mujoco.MjSpec) -> None:
    spec.add_texture(
        name='floor_checker',
        type=mujoco.mjtTexture.mjTEXTURE_2D,
        builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER,
        rgb1=[0.42, 0.45, 0.48],
        rgb2=[0.36, 0.39, 0.42],
        width=256,
        height=256,
    )
    mat = spec.add_material(name='floor_mat', texrepeat=[1.0, 1.0], texuniform=True)
    mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = 'floor_checker'
    spec.worldbody.add_geom(
        name='floor',
        type=mujoco.mjtGeom.mjGEOM_PLANE,
        size=[0.0, 0.0, 0.05],
        material='floor_mat',
        friction=[1.0, 0.005, 0.0001],
    )
    spec.worldbody.add_light(
        name='sun', pos=[0.5, 0.5, 4.0], dir=[0.0, -0.2, -1.0], castshadow=False,
        diffuse=[0.6, 0.6, 0.6], specular=[0.1, 0.1, 0.1],
    )  # fmt: skip


def _table(
    spec: mujoco.MjSpec,
    name: str,
    pose: tuple[float, float, float],
    size: tuple[float, float, float],
    color: tuple[float, float, float, float],
) -> None:
    x, y, yaw = pose
    sx, sy, h = size
    body = spec.worldbody.add_body(name=name, pos=[x, y, 0.0], quat=_yaw_quat(yaw))
    body.add_geom(
        name=f'{name}_top',
        type=mujoco.mjtGeom.mjGEOM_BOX,
        size=[sx / 2, sy / 2, TABLE_TOP_THICKNESS / 2],
        pos=[0.0, 0.0, h - TABLE_TOP_THICKNESS / 2],
        rgba=list(color),
        friction=[1.0, 0.005, 0.0001],
    )
    leg = 0.03
    leg_h = h - TABLE_TOP_THICKNESS
    for i, (dx, dy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        body.add_geom(
            name=f'{name}_leg{i}',
            type=mujoco.mjtGeom.mjGEOM_BOX,
            size=[leg / 2, leg / 2, leg_h / 2],
            pos=[dx * (sx / 2 - leg), dy * (sy / 2 - leg), leg_h / 2],
            rgba=[c * 0.7 for c in color[:3]] + [1.0],
        )


def _object(
    spec: mujoco.MjSpec,
    name: str,
    obj: ObjectSpec,
    position: tuple[float, float, float],
    yaw: float,
) -> None:
    body = spec.worldbody.add_body(name=name, pos=list(position), quat=_yaw_quat(yaw))
    if not obj.fixed:
        body.add_freejoint(name=f'{name}_free')
    rgba = list(obj.rgba)
    friction = [obj.friction, 0.01, 0.0002]
    sx, sy, sz = obj.size
    common = dict(rgba=rgba, friction=friction, condim=4, solref=[0.005, 1.0])
    # (mass, half sizes, position) of each box part, for the body's explicit inertia (the
    # robot's URDF-derived spec does not compute inertia from geoms).
    parts: list[tuple[float, list[float], list[float]]] = []
    if obj.type == 'cube':
        half = [sx / 2, sy / 2, sz / 2]
        body.add_geom(
            name=f'{name}_geom', type=mujoco.mjtGeom.mjGEOM_BOX, size=half, mass=obj.mass,
            **common,
        )  # fmt: skip
        parts.append((obj.mass, half, [0.0, 0.0, 0.0]))
    elif obj.type == 'cylinder':
        r, h = min(sx, sy) / 2, sz / 2
        body.add_geom(
            name=f'{name}_geom', type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[r, h, 0.0],
            mass=obj.mass, **common,
        )  # fmt: skip
        body.mass = obj.mass
        body.ipos = [0.0, 0.0, 0.0]
        ixx = obj.mass * (3 * r * r + 4 * h * h) / 12
        body.inertia = [ixx, ixx, obj.mass * r * r / 2]
        body.explicitinertial = True
    elif obj.type in CONTAINER_TYPES:
        t = CONTAINER_WALL
        boxes = {
            'base': ([sx / 2, sy / 2, t / 2], [0.0, 0.0, -sz / 2 + t / 2]),
            'wall_px': ([t / 2, sy / 2, sz / 2], [sx / 2 - t / 2, 0.0, 0.0]),
            'wall_nx': ([t / 2, sy / 2, sz / 2], [-sx / 2 + t / 2, 0.0, 0.0]),
            'wall_py': ([sx / 2 - t, t / 2, sz / 2], [0.0, sy / 2 - t / 2, 0.0]),
            'wall_ny': ([sx / 2 - t, t / 2, sz / 2], [0.0, -sy / 2 + t / 2, 0.0]),
        }
        volumes = {k: 8 * b[0] * b[1] * b[2] for k, (b, _) in boxes.items()}
        total = sum(volumes.values())
        for part, (size, pos) in boxes.items():
            mass = obj.mass * volumes[part] / total
            body.add_geom(
                name=f'{name}_{part}', type=mujoco.mjtGeom.mjGEOM_BOX, size=size, pos=pos,
                mass=mass, **common,
            )  # fmt: skip
            parts.append((mass, size, pos))
    else:  # the scene validator already rejects these
        raise ValueError(f'object {name!r}: unknown type {obj.type!r}')
    if parts:
        mass = sum(m for m, _, _ in parts)
        com = sum(m * np.asarray(p) for m, _, p in parts) / mass
        inertia = np.zeros(3)
        for m, half, p in parts:
            a, b, c = (2 * v for v in half)
            inertia += m / 12 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
            d = np.asarray(p) - com
            inertia += m * (d @ d - d * d)  # parallel axis (diagonal terms)
        body.mass = mass
        body.ipos = com
        body.inertia = inertia
        body.explicitinertial = True
