"""Robot description: render the xacro, read joint limits, and the ordered joint names.

`render_urdf(hardware='mujoco', camera=True, prefix='')` runs xacro in-process (cached per
argument set). `joint_limits(urdf)` parses `<limit>` of every movable joint. `ROBOT_INFO` holds
the joint-name lists (legs, waist, arms, neck, grippers) in one canonical order, so the rest of
the stack never hard-codes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
import xml.etree.ElementTree as ET

from humanoid_core import paths

__all__ = [
    'GRIPPER_MAX_WIDTH',
    'HARDWARE_CHOICES',
    'ROBOT_INFO',
    'JointLimit',
    'RobotInfo',
    'joint_limits',
    'render_urdf',
]

HARDWARE_CHOICES = ('mujoco', 'gazebo', 'mock', 'real')
SIDES = ('left', 'right')
LEG_JOINTS = ('hip_yaw', 'hip_roll', 'hip_pitch', 'knee', 'ankle_pitch', 'ankle_roll')
ARM_JOINTS = (
    'shoulder_pitch',
    'shoulder_roll',
    'shoulder_yaw',
    'elbow',
    'wrist_yaw',
    'wrist_pitch',
    'wrist_roll',
)


@dataclass(frozen=True)
class JointLimit:
    """Limits of one joint (rad, rad/s, N m for revolute; m, m/s, N for prismatic)."""

    lower: float
    upper: float
    velocity: float
    effort: float

    def clip(self, value: float) -> float:
        """`value` clipped to [lower, upper]."""
        return min(max(value, self.lower), self.upper)


@dataclass(frozen=True)
class RobotInfo:
    """Ordered joint and frame names of the humanoid (optionally with a name prefix)."""

    prefix: str = ''

    def _side(self, side: str, names: tuple[str, ...]) -> tuple[str, ...]:
        if side not in SIDES:
            raise ValueError(f'side must be one of {SIDES}, got {side!r}')
        return tuple(f'{self.prefix}{side}_{n}_joint' for n in names)

    def leg_joints(self, side: str) -> tuple[str, ...]:
        """hip_yaw, hip_roll, hip_pitch, knee, ankle_pitch, ankle_roll of one leg."""
        return self._side(side, LEG_JOINTS)

    def arm_joints(self, side: str) -> tuple[str, ...]:
        """The 7 arm joints of one side, shoulder to wrist."""
        return self._side(side, ARM_JOINTS)

    def gripper_joints(self, side: str) -> tuple[str, ...]:
        """The two prismatic finger joints of one hand (left finger, right finger)."""
        if side not in SIDES:
            raise ValueError(f'side must be one of {SIDES}, got {side!r}')
        return tuple(f'{self.prefix}{side}_gripper_finger_{f}_joint' for f in ('left', 'right'))

    @property
    def legs(self) -> tuple[str, ...]:
        """Left leg then right leg (12 joints)."""
        return self.leg_joints('left') + self.leg_joints('right')

    @property
    def waist(self) -> tuple[str, ...]:
        return (f'{self.prefix}waist_yaw_joint',)

    @property
    def arms(self) -> tuple[str, ...]:
        """Left arm then right arm (14 joints)."""
        return self.arm_joints('left') + self.arm_joints('right')

    @property
    def neck(self) -> tuple[str, ...]:
        return (f'{self.prefix}neck_yaw_joint', f'{self.prefix}neck_pitch_joint')

    @property
    def grippers(self) -> tuple[str, ...]:
        """Left hand's two fingers then the right hand's (4 prismatic joints)."""
        return self.gripper_joints('left') + self.gripper_joints('right')

    @property
    def body_joints(self) -> tuple[str, ...]:
        """All revolute joints: legs, waist, arms, neck (29)."""
        return self.legs + self.waist + self.arms + self.neck

    @property
    def joints(self) -> tuple[str, ...]:
        """Every movable joint in canonical order: legs, waist, arms, neck, grippers (33)."""
        return self.body_joints + self.grippers

    @property
    def groups(self) -> dict[str, tuple[str, ...]]:
        """Joint groups by name: legs, waist, arms, neck, grippers."""
        return {
            'legs': self.legs,
            'waist': self.waist,
            'arms': self.arms,
            'neck': self.neck,
            'grippers': self.grippers,
        }

    # frames
    @property
    def base_link(self) -> str:
        return f'{self.prefix}pelvis'

    def grasp_frame(self, side: str) -> str:
        self._side(side, ())
        return f'{self.prefix}{side}_grasp_frame'

    def sole_frame(self, side: str) -> str:
        self._side(side, ())
        return f'{self.prefix}{side}_sole'

    def hand_link(self, side: str) -> str:
        self._side(side, ())
        return f'{self.prefix}{side}_hand'

    def foot_link(self, side: str) -> str:
        self._side(side, ())
        return f'{self.prefix}{side}_foot'

    @property
    def camera_link(self) -> str:
        return f'{self.prefix}head_camera_link'

    @property
    def camera_optical_frame(self) -> str:
        return f'{self.prefix}head_camera_optical_frame'

    @property
    def imu_link(self) -> str:
        return f'{self.prefix}imu_link'


ROBOT_INFO = RobotInfo()
"""The humanoid's names without a prefix."""

# The gripper: each finger travels 0 .. 0.045 m from closed; the hand's command is the jaw
# width (m) = 2 x the finger travel, at most:
GRIPPER_MAX_WIDTH = 0.09


def _as_xacro_value(value: object) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


@lru_cache(maxsize=16)
def _render_cached(path: str, items: tuple[tuple[str, str], ...]) -> str:
    import xacro  # imported lazily: only needed to render

    doc = xacro.process_file(path, mappings=dict(items))
    return doc.toprettyxml(indent='  ')


def render_urdf(xacro_file: str | Path | None = None, **args: object) -> str:
    """Render the robot's xacro to a URDF string (cached per file and argument set).

    Args:
        xacro_file: the xacro to render; default `urdf/humanoid.urdf.xacro`.
        **args: xacro arguments, e.g. `hardware='gazebo'`, `camera=False`, `prefix='r1_'`,
            `real_plugin='...'`, `controllers_file='/abs/path.yaml'`. Booleans become
            `true`/`false`.

    Raises:
        ValueError: `hardware` is not one of HARDWARE_CHOICES, or xacro fails (message names the
            problem).
    """
    hardware = args.get('hardware', 'mujoco')
    if hardware not in HARDWARE_CHOICES:
        raise ValueError(f'hardware must be one of {HARDWARE_CHOICES}, got {hardware!r}')
    path = Path(xacro_file) if xacro_file is not None else paths.urdf_file()
    if not path.is_file():
        raise FileNotFoundError(f'xacro file not found: {path}')
    if hardware == 'gazebo' and 'controllers_file' not in args:
        args['controllers_file'] = str(paths.config_dir() / 'gazebo' / 'controllers.yaml')
    # Resolve symlinks (symlink-installed share) so relative xacro includes are found.
    items = tuple(sorted((str(k), _as_xacro_value(v)) for k, v in args.items()))
    try:
        return _render_cached(str(path.resolve()), items)
    except Exception as exc:  # xacro raises XacroException / plain Exceptions
        if isinstance(exc, (FileNotFoundError, ValueError)):
            raise
        raise ValueError(f'xacro failed on {path} with args {dict(items)}: {exc}') from exc


def joint_limits(urdf: str) -> dict[str, JointLimit]:
    """Limits of every revolute/prismatic joint of a URDF string, by joint name.

    Continuous joints get lower=-inf, upper=inf. Raises ValueError naming the joint if a movable
    joint lacks a `<limit>` or an attribute of it.
    """
    try:
        root = ET.fromstring(urdf)
    except ET.ParseError as exc:
        raise ValueError(f'URDF is not well-formed XML: {exc}') from exc
    limits: dict[str, JointLimit] = {}
    for joint in root.iter('joint'):
        kind = joint.get('type')
        if kind not in ('revolute', 'prismatic', 'continuous'):
            continue
        name = joint.get('name', '?')
        # skip <joint> elements inside <ros2_control>/<transmission> (no type attribute)
        limit = joint.find('limit')
        if limit is None:
            raise ValueError(f'joint {name!r} ({kind}) has no <limit>')
        try:
            velocity = float(limit.attrib['velocity'])
            effort = float(limit.attrib['effort'])
            if kind == 'continuous':
                lower, upper = float('-inf'), float('inf')
            else:
                lower, upper = float(limit.attrib['lower']), float(limit.attrib['upper'])
        except KeyError as exc:
            raise ValueError(f'joint {name!r}: <limit> lacks attribute {exc.args[0]!r}') from exc
        if not lower <= upper:
            raise ValueError(f'joint {name!r}: lower limit {lower} > upper limit {upper}')
        limits[name] = JointLimit(lower, upper, velocity, effort)
    return limits
