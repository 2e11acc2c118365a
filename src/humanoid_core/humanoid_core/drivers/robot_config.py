"""Per-robot configuration: `config/robots/<name>.yaml` (loaded with pydantic, clear errors).

One file selects, for `robot:=<name>`: the driver (`dynamixel`, `unitree` or `simulator`), the
robot description, the safety limits file the supervisor and the hardware node both use, the
joint map (our URDF joint names -> actuator ids/indices, direction, offset, gains) and the joints
the robot does not have (`held_joints`: reported at a fixed position, never moved). Every joint of
our robot description must be either mapped or held, so the rest of the stack always sees the
whole model. See docs/DRIVERS.md for the fields.
"""

from __future__ import annotations

from collections.abc import Mapping
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
import yaml

from humanoid_core import paths
from humanoid_core.robot.description import ROBOT_INFO

from .base import FaultAction

__all__ = [
    'DynamixelConfig',
    'DynamixelJoint',
    'RegisterGains',
    'RobotConfig',
    'RobotConfigError',
    'UnitreeConfig',
    'UnitreeJoint',
    'available_robots',
    'load_robot_config',
    'robot_config_path',
]


class RobotConfigError(ValueError):
    """A robot configuration that cannot be used; the message names the file and the key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)


class RegisterGains(_Strict):
    """Dynamixel position PID registers (raw register units, XM430 defaults P 800, I 0, D 0)."""

    p: int = Field(800, ge=0, le=16383)
    i: int = Field(0, ge=0, le=16383)
    d: int = Field(0, ge=0, le=16383)


class DynamixelJoint(_Strict):
    """One servo: bus id, model, direction (+1/-1), offset (rad, joint zero in servo frame)."""

    id: int = Field(ge=0, le=252)
    model: str = 'XM430-W350'
    direction: Literal[1, -1] = 1
    offset: float = 0.0
    gains: RegisterGains = RegisterGains(p=800, i=0, d=0)
    lower: float | None = None  # rad, joint frame; default: the safety limits
    upper: float | None = None


class DynamixelConfig(_Strict):
    port: str = '/dev/ttyUSB0'
    baudrate: int = 1_000_000
    retries: int = Field(2, ge=0, le=10)  # extra attempts after a CRC error / timeout
    # USB-serial latency timer (ms): the reply timeout is 2 x this + 2 ms + wire time, as in the
    # SDK (16 = FTDI default; set 1 with `setserial`/sysfs latency_timer for faster cycles)
    latency_timer_ms: float = Field(16.0, gt=0.0, le=1000.0)
    reconnect_period: float = Field(1.0, gt=0.0)  # s between pings of a lost servo
    error_poll_period: float = Field(0.5, gt=0.0)  # s between hardware-error-status reads
    damping_gains: RegisterGains = RegisterGains(p=60, i=0, d=0)
    joints: dict[str, DynamixelJoint]

    @field_validator('joints')
    @classmethod
    def _unique_ids(cls, joints: dict[str, DynamixelJoint]) -> dict[str, DynamixelJoint]:
        seen: dict[int, str] = {}
        for name, j in joints.items():
            if j.id in seen:
                raise ValueError(f'servo id {j.id} is used by both {seen[j.id]} and {name}')
            seen[j.id] = name
        if not joints:
            raise ValueError('no joints mapped')
        return joints


class UnitreeJoint(_Strict):
    """One motor slot of LowCmd_/LowState_: index, gains (N m/rad, N m s/rad)."""

    index: int = Field(ge=0, le=34)
    kp: float = Field(ge=0.0)
    kd: float = Field(ge=0.0)
    direction: Literal[1, -1] = 1
    offset: float = 0.0


class UnitreeConfig(_Strict):
    message_family: Literal['hg', 'go'] = 'hg'  # hg: G1 / H1-2 (35 slots); go: H1 (20 slots)
    network_interface: str = 'eth0'
    mode_machine: int = Field(0, ge=0, le=255)
    mode_pr: int = Field(0, ge=0, le=1)  # 0: PR (pitch/roll ankles), 1: AB
    joints: dict[str, UnitreeJoint]

    @field_validator('joints')
    @classmethod
    def _unique_index(cls, joints: dict[str, UnitreeJoint]) -> dict[str, UnitreeJoint]:
        seen: dict[int, str] = {}
        for name, j in joints.items():
            if j.index in seen:
                raise ValueError(
                    f'motor index {j.index} is used by both {seen[j.index]} and {name}'
                )
            seen[j.index] = name
        return joints


class RobotConfig(_Strict):
    name: str
    description: str = ''
    driver: Literal['dynamixel', 'unitree', 'simulator']
    urdf: str = 'humanoid'  # robot description providing the joint names
    safety_limits: str = '../safety.yaml'  # relative to the robot file
    control_rate: float = Field(100.0, gt=0.0, le=1000.0)  # Hz, read + write cycle
    estop_action: FaultAction = FaultAction.DAMP
    on_actuator_loss: FaultAction = FaultAction.HOLD  # the other actuators
    held_joints: dict[str, float] = {}  # joints the robot lacks -> reported position
    dynamixel: DynamixelConfig | None = None
    unitree: UnitreeConfig | None = None
    source: str = ''  # the file it came from (filled by the loader)

    @property
    def mapped_joints(self) -> tuple[str, ...]:
        if self.dynamixel is not None:
            return tuple(self.dynamixel.joints)
        if self.unitree is not None:
            return tuple(self.unitree.joints)
        return ()

    def safety_limits_path(self) -> Path:
        base = Path(self.source).parent if self.source else paths.config_dir() / 'robots'
        return (base / self.safety_limits).resolve()


def robot_config_path(name_or_path: str | Path) -> Path:
    """`config/robots/<name>.yaml`, or the path itself if it names a file."""
    text = str(name_or_path)
    if text.endswith(('.yaml', '.yml')) or '/' in text:
        return Path(text)
    return paths.config_dir() / 'robots' / f'{text}.yaml'


def available_robots() -> list[str]:
    folder = paths.config_dir() / 'robots'
    return sorted(p.stem for p in folder.glob('*.yaml') if not p.name.endswith('.safety.yaml'))


def _format_pydantic(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = '.'.join(str(x) for x in err['loc'])
        parts.append(f'{loc}: {err["msg"]}')
    return '; '.join(parts)


def load_robot_config(
    name_or_path: str | Path, data: Mapping[str, Any] | None = None
) -> RobotConfig:
    """Load and check a robot configuration (`data` overrides reading the file, for tests).

    Raises RobotConfigError naming the file and the offending key: unknown robot (listing the
    available ones), YAML errors, unknown/missing keys, bad values, duplicate ids, joints that
    are not in our robot description, and description joints neither mapped nor held.
    """
    path = robot_config_path(name_or_path)
    if data is None:
        if not path.is_file():
            raise RobotConfigError(
                f'robot configuration {str(name_or_path)!r} not found ({path}); '
                f'available robots: {available_robots()}'
            )
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise RobotConfigError(f'{path}: invalid YAML: {exc}') from None
        if not isinstance(data, Mapping):
            raise RobotConfigError(f'{path}: expected a mapping at the top level')
    try:
        cfg = RobotConfig.model_validate({**data, 'source': str(path.resolve())})
    except ValidationError as exc:
        raise RobotConfigError(f'{path}: {_format_pydantic(exc)}') from None
    section = {'dynamixel': cfg.dynamixel, 'unitree': cfg.unitree}
    if cfg.driver in section and section[cfg.driver] is None:
        raise RobotConfigError(f'{path}: driver {cfg.driver!r} needs a {cfg.driver!r} section')
    if cfg.urdf != 'humanoid':
        raise RobotConfigError(
            f'{path}: urdf {cfg.urdf!r}: only our description "humanoid" is supported (the '
            'joint map uses its joint names)'
        )
    known = set(ROBOT_INFO.joints)
    mapped = set(cfg.mapped_joints)
    for where, names in (('joint map', mapped), ('held_joints', set(cfg.held_joints))):
        unknown = sorted(names - known)
        if unknown:
            raise RobotConfigError(
                f'{path}: {where} names joints not in the robot description: {unknown}'
            )
    both = sorted(mapped & set(cfg.held_joints))
    if both:
        raise RobotConfigError(f'{path}: joints both mapped and held: {both}')
    for name, q in cfg.held_joints.items():
        if not math.isfinite(q):
            raise RobotConfigError(f'{path}: held_joints.{name} is not finite')
    if cfg.driver != 'simulator':
        missing = [n for n in ROBOT_INFO.joints if n not in mapped and n not in cfg.held_joints]
        if missing:
            raise RobotConfigError(
                f'{path}: joints neither mapped nor listed in held_joints: {missing}'
            )
    if not cfg.safety_limits_path().is_file():
        raise RobotConfigError(f'{path}: safety_limits file not found: {cfg.safety_limits_path()}')
    return cfg
