"""Safety limits: per-joint bounds, the hands' workspace box and keep-out boxes.

`load_safety_limits(path, urdf)` starts from the robot description's `<limit>` tags (through
`humanoid_core.robot.description.joint_limits`) and applies the overrides of a safety YAML
(default `config/safety.yaml`; a real robot's `config/robots/<name>.yaml` points at its own):

```yaml
position_margin: 0.02          # rad (m for prismatic joints), kept from each URDF bound
default_acceleration: 40.0     # rad/s^2 (m/s^2), the URDF has no acceleration limits
groups:                        # scale factors / values per joint group (ROBOT_INFO.groups)
  arms: {velocity_scale: 0.8, acceleration: 30.0, effort_scale: 1.0}
joints:                        # absolute values per joint, applied last
  left_elbow_joint: {lower: -2.5, upper: 0.0, velocity: 4.0, acceleration: 20.0, effort: 30.0}
hand_workspace:                # grasp frames must stay inside (base frame, metres)
  min: [-0.4, -0.8, 0.2]
  max: [0.9, 0.8, 1.8]
keep_out:                      # boxes the grasp frames must stay `keep_out_margin` away from
  - {name: bench, frame: world, min: [0.22, -0.6, 0.0], max: [0.72, 0.6, 0.72]}
keep_out_margin: 0.01          # m
self_collision_margin: 0.005   # m, distance robot links must keep from each other
self_collision_ignore: [[left_foot, right_foot]]   # link pairs not checked
max_start_jump: 0.1            # rad, largest step from the measured position to a t=0 point
velocity_tolerance: 0.1        # fraction over the velocity limit tolerated for finite differences
effort_hold_time: 0.2          # s an effort must stay over its limit before the supervisor holds
```

Every key is optional. Unknown keys, joints or groups, and bad values raise `SafetyConfigError`
naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from humanoid_core import paths
from humanoid_core.robot.description import ROBOT_INFO, joint_limits, render_urdf

__all__ = [
    'Box',
    'JointSafetyLimit',
    'SafetyConfigError',
    'SafetyLimits',
    'default_limits_file',
    'limits_from_dict',
    'load_safety_limits',
]

_TOP_KEYS = {
    'position_margin',
    'default_acceleration',
    'groups',
    'joints',
    'hand_workspace',
    'keep_out',
    'keep_out_margin',
    'self_collision_margin',
    'self_collision_ignore',
    'max_start_jump',
    'velocity_tolerance',
    'effort_hold_time',
}
_GROUP_KEYS = {'velocity_scale', 'acceleration', 'effort_scale', 'position_margin'}
_JOINT_KEYS = {'lower', 'upper', 'velocity', 'acceleration', 'effort'}
FRAMES = ('base', 'world')


class SafetyConfigError(ValueError):
    """A safety configuration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class JointSafetyLimit:
    """Enforced limits of one joint: position bounds (margin applied), rad/s, rad/s^2, N m.

    Prismatic joints use m, m/s, m/s^2, N. Satisfies `humanoid_core.sim.trajectory.LimitLike`.
    """

    lower: float
    upper: float
    velocity: float
    acceleration: float = math.inf
    effort: float = math.inf


@dataclass(frozen=True)
class Box:
    """An axis-aligned box `[min, max]` (metres) in `frame` ('base' or 'world')."""

    min: tuple[float, float, float]
    max: tuple[float, float, float]
    name: str = ''
    frame: str = 'base'

    def contains(self, point: Sequence[float] | np.ndarray, margin: float = 0.0) -> bool:
        """True if `point` lies inside the box grown by `margin` on every side."""
        return all(
            lo - margin <= p <= hi + margin
            for p, lo, hi in zip(point, self.min, self.max, strict=True)
        )

    def outside_by(self, point: Sequence[float] | np.ndarray) -> float:
        """How far (m) `point` lies outside the box; 0 inside."""
        d = [max(lo - p, 0.0, p - hi) for p, lo, hi in zip(point, self.min, self.max, strict=True)]
        return math.sqrt(sum(x * x for x in d))


@dataclass(frozen=True)
class SafetyLimits:
    """Everything the supervisor enforces (see the module docstring for units)."""

    joints: Mapping[str, JointSafetyLimit]
    hand_workspace: Box | None = None
    keep_out: tuple[Box, ...] = ()
    keep_out_margin: float = 0.01
    self_collision_margin: float = 0.005
    self_collision_ignore: frozenset[tuple[str, str]] = frozenset()
    max_start_jump: float = 0.05
    velocity_tolerance: float = 0.1
    effort_hold_time: float = 0.2
    source: str = field(default='', compare=False)


def default_limits_file() -> Path:
    """`config/safety.yaml` of the workspace."""
    return paths.config_dir() / 'safety.yaml'


def _number(value: Any, key: str, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SafetyConfigError(f'{key} must be a number, got {value!r}')
    x = float(value)
    if math.isnan(x):
        raise SafetyConfigError(f'{key} must not be NaN')
    if positive and not x > 0.0:
        raise SafetyConfigError(f'{key} must be > 0, got {x}')
    if nonneg and not x >= 0.0:
        raise SafetyConfigError(f'{key} must be >= 0, got {x}')
    return x


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SafetyConfigError(f'{key} must be a mapping, got {type(value).__name__}')
    return value


def _check_keys(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise SafetyConfigError(f'{where}: unknown keys {unknown}; allowed: {sorted(allowed)}')


def _box(data: Any, key: str, default_frame: str) -> Box:
    data = _mapping(data, key)
    _check_keys(data, {'min', 'max', 'name', 'frame'}, key)
    corners = []
    for corner in ('min', 'max'):
        value = data.get(corner)
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 3:
            raise SafetyConfigError(f'{key}.{corner} must be a list of 3 numbers, got {value!r}')
        corners.append(tuple(_number(v, f'{key}.{corner}') for v in value))
    lo, hi = corners
    if any(a > b for a, b in zip(lo, hi, strict=True)):
        raise SafetyConfigError(f'{key}: min {list(lo)} is above max {list(hi)}')
    frame = str(data.get('frame', default_frame))
    if frame not in FRAMES:
        raise SafetyConfigError(f'{key}.frame must be one of {FRAMES}, got {frame!r}')
    return Box(lo, hi, str(data.get('name', key)), frame)  # type: ignore[arg-type]


def limits_from_dict(config: Mapping[str, Any], urdf: str | None = None) -> SafetyLimits:
    """SafetyLimits from a parsed safety YAML and a URDF string (default: the robot's)."""
    config = _mapping(config if config is not None else {}, 'safety config')
    _check_keys(config, _TOP_KEYS, 'safety config')
    base = joint_limits(urdf if urdf is not None else render_urdf())
    margin = _number(config.get('position_margin', 0.0), 'position_margin', nonneg=True)
    default_acc = _number(
        config.get('default_acceleration', math.inf), 'default_acceleration', positive=True
    )
    joints: dict[str, JointSafetyLimit] = {}
    for name, urdf_lim in base.items():
        span = urdf_lim.upper - urdf_lim.lower
        m = min(margin, span / 4.0) if math.isfinite(span) else margin
        joints[name] = JointSafetyLimit(
            urdf_lim.lower + m, urdf_lim.upper - m, urdf_lim.velocity, default_acc, urdf_lim.effort
        )
    groups = _mapping(config.get('groups') or {}, 'groups')
    known_groups = ROBOT_INFO.groups
    for group, values in groups.items():
        if group not in known_groups:
            raise SafetyConfigError(
                f'groups: unknown group {group!r}; known groups: {sorted(known_groups)}'
            )
        values = _mapping(values, f'groups.{group}')
        _check_keys(values, _GROUP_KEYS, f'groups.{group}')
        for name in known_groups[group]:
            if name not in joints:
                continue
            lim: JointSafetyLimit = joints[name]
            orig = base[name]
            if 'position_margin' in values:
                gm = _number(
                    values['position_margin'], f'groups.{group}.position_margin', nonneg=True
                )
                gm = min(gm, (orig.upper - orig.lower) / 4.0)
                lim = replace(lim, lower=orig.lower + gm, upper=orig.upper - gm)
            if 'velocity_scale' in values:
                s = _number(
                    values['velocity_scale'], f'groups.{group}.velocity_scale', positive=True
                )
                lim = replace(lim, velocity=orig.velocity * s)
            if 'effort_scale' in values:
                s = _number(values['effort_scale'], f'groups.{group}.effort_scale', positive=True)
                lim = replace(lim, effort=orig.effort * s)
            if 'acceleration' in values:
                a = _number(values['acceleration'], f'groups.{group}.acceleration', positive=True)
                lim = replace(lim, acceleration=a)
            joints[name] = lim
    per_joint = _mapping(config.get('joints') or {}, 'joints')
    for name, values in per_joint.items():
        if name not in joints:
            raise SafetyConfigError(
                f'joints: unknown joint {name!r}; known joints: {sorted(joints)}'
            )
        values = _mapping(values, f'joints.{name}')
        _check_keys(values, _JOINT_KEYS, f'joints.{name}')
        kwargs = {}
        for key, value in values.items():
            kwargs[key] = _number(
                value,
                f'joints.{name}.{key}',
                positive=key in ('velocity', 'acceleration', 'effort'),
            )
        new_lim = replace(joints[name], **kwargs)
        if new_lim.lower > new_lim.upper:
            raise SafetyConfigError(
                f'joints.{name}: lower {new_lim.lower} is above upper {new_lim.upper}'
            )
        joints[name] = new_lim
    workspace = config.get('hand_workspace')
    ignore_cfg = config.get('self_collision_ignore') or []
    ignore: set[tuple[str, str]] = set()
    if not isinstance(ignore_cfg, Sequence) or isinstance(ignore_cfg, str):
        raise SafetyConfigError(
            f'self_collision_ignore must be a list of [link, link] pairs, got {ignore_cfg!r}'
        )
    for i, pair in enumerate(ignore_cfg):
        if (
            not isinstance(pair, Sequence)
            or isinstance(pair, str)
            or len(pair) != 2
            or not all(isinstance(x, str) for x in pair)
        ):
            raise SafetyConfigError(
                f'self_collision_ignore[{i}] must be a [link, link] pair, got {pair!r}'
            )
        a, b = sorted(pair)
        ignore.add((a, b))
    keep_out_cfg = config.get('keep_out') or []
    if not isinstance(keep_out_cfg, Sequence) or isinstance(keep_out_cfg, str):
        raise SafetyConfigError(f'keep_out must be a list of boxes, got {keep_out_cfg!r}')
    return SafetyLimits(
        joints=joints,
        hand_workspace=None if workspace is None else _box(workspace, 'hand_workspace', 'base'),
        keep_out=tuple(_box(b, f'keep_out[{i}]', 'world') for i, b in enumerate(keep_out_cfg)),
        keep_out_margin=_number(
            config.get('keep_out_margin', 0.01), 'keep_out_margin', nonneg=True
        ),
        self_collision_margin=_number(
            config.get('self_collision_margin', 0.005), 'self_collision_margin', nonneg=True
        ),
        self_collision_ignore=frozenset(ignore),
        max_start_jump=_number(config.get('max_start_jump', 0.05), 'max_start_jump', nonneg=True),
        velocity_tolerance=_number(
            config.get('velocity_tolerance', 0.1), 'velocity_tolerance', nonneg=True
        ),
        effort_hold_time=_number(
            config.get('effort_hold_time', 0.2), 'effort_hold_time', nonneg=True
        ),
    )


def load_safety_limits(path: str | Path | None = None, urdf: str | None = None) -> SafetyLimits:
    """SafetyLimits from a safety YAML (default `config/safety.yaml`) and the robot's URDF.

    Raises:
        FileNotFoundError: the YAML file does not exist.
        SafetyConfigError: the YAML is malformed or has a bad key/value (message names it).
    """
    file = Path(path) if path is not None else default_limits_file()
    if not file.is_file():
        raise FileNotFoundError(f'safety limits file not found: {file}')
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise SafetyConfigError(f'{file}: not valid YAML: {exc}') from exc
    try:
        limits = limits_from_dict(data, urdf)
    except SafetyConfigError as exc:
        raise SafetyConfigError(f'{file}: {exc}') from exc
    return replace(limits, source=str(file))
