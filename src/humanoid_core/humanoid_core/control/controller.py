"""The whole-body controller: motion activities executed by ticking at the control rate.

`WholeBodyController` holds the robot's commanded state (a joint reference for every body
joint plus gripper widths) and runs *activities* started by its methods:

- `move_hand(hand, position, quaternion, frame, position_only, duration)`: whole-body IK
  (`WholeBodyIK`, feet fixed, CoM over the feet) from the measured configuration, a
  synchronised quintic joint move within the velocity/acceleration limits, then closed-loop
  correction from the measured hand pose (forward kinematics of the measured joints) until the
  grasp frame is within tolerance (1 cm / 5 deg by default);
- `grasp(hand, max_effort, object_id)` / `release(hand)`: close / open the gripper and wait
  until the jaw stops; a grasp that closes on nothing fails (unless no object was named);
- `walk_to(x, y, theta, ...)` and `set_velocity(vx, vy, wz)` (cmd_vel, stops after a timeout):
  the body first goes to a walking posture (legs standing, free arms standing, a holding arm
  kept as it is so the object stays gripped); when the robot stands at a table and the goal is
  not right there it first steps back `retreat_distance` m; then `WalkingController` runs;
- `look_at(point)`: neck yaw/pitch so that the head camera's optical axis hits the point;
- `go_to_posture(name)`: a named posture from config/postures.yaml.

Each method returns an `Activity` handle (progress, status text, `done`, `code`, `message`,
`result`). Resources: the body (move_hand, walk_to, cmd_vel, go_to_posture), the head
(look_at) and each gripper; a new activity on a busy resource preempts the old one
(`PREEMPTED`); `cancel(activity)` does the same on request.

`tick(measured, now)` advances everything one control period and returns a `Command`: a short
joint trajectory for all body joints (a point at t=0 on the current reference, then points
along the reference over a short horizon, positions + velocities, with the servo gravity-sag
offsets added) and gripper widths to send. The trajectory is stamped with `now` (the sample
time of the measurement it was computed from), so a driver plays it at the right time however
late it arrives (measured: an unstamped command 5 ms late made walks fall; stamped, walks
survive 8 ms latency plus 60-90 ms gaps). The trajectory starts at the reference (within
the safety supervisor's `max_start_jump` of the measured position) and its Hermite segments
stay within the velocity/acceleration limits, so the supervisor accepts it; streaming it every
tick keeps its watchdog fed.

Safety: the robot counts as fallen when the pelvis tilts more than `fall_tilt` rad or drops
below `fall_height` m: running activities end `FELL` and new goals are refused with `FELL`
until it is upright again. `set_safety_status(estopped, holding, reason)` mirrors the
supervisor: while e-stopped (or held for a dead node) activities end `ESTOPPED`, goals are
refused and nothing is streamed (the reference follows the measured joints so that commands
resume smoothly). An e-stop while walking is a controlled stop: the gait finishes its committed
step and closes the feet (`walking.stop()`), streaming only that, then stops streaming; the
supervisor lets only the leg and waist part of those commands through, for a bounded time.
Bad input (NaN, unknown hand/frame/posture) gives `INVALID_GOAL`; a hand
target that IK cannot reach gives `UNREACHABLE` and the robot does not move; a target inside a
keep-out box (tables, from config/safety.yaml) or inside the robot's body gives `COLLISION`.

No ROS here: the node (humanoid_control.whole_body_controller_node) converts messages; the
benchmark drives this class against `MujocoBackend` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
import copy
from dataclasses import dataclass, field
import enum
import itertools
import math
from pathlib import Path
import threading
from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from humanoid_core.control.balance import MeasuredState, roll_pitch_of
from humanoid_core.control.footsteps import Pose2D, other_side, wrap_angle
from humanoid_core.control.ik import (
    HAND_SIDES,
    WholeBodyIK,
    corrected_target,
    self_collision_distance,
)
from humanoid_core.control.kinematics import RobotKinematics, as_transform, rotation_error
from humanoid_core.control.trajectory import QuinticTrajectory
from humanoid_core.control.walking import WalkingController
from humanoid_core.robot.description import GRIPPER_MAX_WIDTH, ROBOT_INFO
from humanoid_core.safety.limits import Box
from humanoid_core.sim.trajectory import JointTrajectory
from humanoid_core.world.types import ObjectInfo

__all__ = [
    'Activity',
    'Command',
    'ControllerConfig',
    'ErrorCode',
    'WholeBodyController',
    'avoid_sets',
    'estimate_pelvis_position',
    'load_postures',
    'obstacle_boxes',
]

FloatArray = NDArray[np.float64]
FRAMES = ('world', 'base')


class ErrorCode(enum.IntEnum):
    """Result codes shared by all motion actions (same values as the .action files)."""

    SUCCESS = 0
    UNREACHABLE = 1
    COLLISION = 2
    TIMEOUT = 3
    FELL = 4
    PREEMPTED = 5
    INVALID_GOAL = 6
    ESTOPPED = 7
    FAILED = 8


@dataclass(frozen=True)
class ControllerConfig:
    """Controller settings (SI units). See config/whole_body_controller.yaml."""

    control_dt: float = 0.01
    horizon: float = 0.1  # s of reference streamed ahead in each command
    walk_horizon: float = 0.01  # s streamed ahead while walking (0.05 tipped the robot)
    # rad: largest gap between the measured joints and the t=0 point of a command (below the
    # supervisor's max_start_jump); beyond it a single point is sent instead
    max_start_error: float = 0.08
    max_joint_velocity: float = 1.0  # rad/s cap for planned moves (also <= URDF limit)
    max_joint_acceleration: float = 3.0  # rad/s^2 cap for planned moves (also <= safety limit)
    min_move_duration: float = 0.5  # s
    leg_speed_scale: float = 0.5  # legs/waist move at this fraction of the caps above
    position_tolerance: float = 0.01  # m, move_hand success
    orientation_tolerance: float = math.radians(5.0)  # rad, move_hand success
    holding_tolerance_factor: float = 2.5  # position tolerance x this while holding an object
    unreachable_position: float = 0.02  # m, IK residual above which a target is unreachable
    unreachable_orientation: float = math.radians(5.0)
    max_corrections: int = 3
    other_hand_cost: float = 1.0  # IK: keep the free hand where it is (0 = free)
    holding_hand_cost: float = 10.0  # IK: keep a hand that holds an object where it is
    max_correction_offset: float = 0.04  # m between the commanded and the real hand target
    settle_time: float = 0.4  # s after a move before the hand pose is measured
    move_timeout_margin: float = 5.0  # s beyond the planned motion
    gravity_compensation: bool = True
    fall_height: float = 0.4  # m pelvis height (measured) below which the robot has fallen
    fall_tilt: float = 0.6  # rad pelvis roll/pitch beyond which the robot has fallen
    resync_threshold: float = 0.5  # rad: reference further than this from measured -> resync
    cmd_vel_timeout: float = 0.5  # s without cmd_vel -> stop
    walk_position_tolerance: float = 0.15  # m (default when a goal gives 0)
    walk_angle_tolerance: float = 0.15  # rad
    walk_settle_time: float = 0.5  # s standing after the last step before judging
    # e-stop while walking: after the closing step the legs keep balancing until the base has
    # been still (speed < stop_settle_speed m/s) for stop_settle_time s, at most
    # stop_settle_limit s after the e-stop (the supervisor's walk_stop_time bounds it too).
    # Held the moment the steps ended, a robot still drifting backwards at ~0.2 m/s fell over
    # (end to end over ROS, 2 of 3 runs)
    stop_settle_speed: float = 0.03
    stop_settle_time: float = 0.3
    stop_settle_limit: float = 4.0
    # extra walks to the goal when a walk ends outside the tolerance (short walks end before
    # the drift correction acts; backward steps slip in yaw, and a turn is 0.1 rad per step)
    walk_retries: int = 4
    retreat_distance: float = 0.25  # m stepped back from a table before walking elsewhere
    table_clearance: float = 0.35  # m: base this close to a table footprint = at the table
    # Walks longer than this (m) turn to face the way first, walk forward and turn at the end
    # (forward steps are longer and steadier than side steps); 0 = straight to the goal.
    face_travel_distance: float = 0.6
    gripper_open_width: float = GRIPPER_MAX_WIDTH  # m
    gripper_close_width: float = 0.0  # m (the servos squeeze what is between the fingers)
    gripper_min_time: float = 0.4  # s before a gripper activity may finish
    gripper_max_time: float = 2.5  # s
    gripper_hold_tolerance: float = 0.004  # m: jaw stopped this much above the command = held
    gripper_resend_period: float = 0.5  # s between repeated gripper commands
    look_tolerance: float = math.radians(15.0)  # rad (the camera sees +-30 deg)
    keep_out_margin: float = 0.01  # m added to the keep-out boxes for target checks
    object_clearance: float = 0.06  # m: hand paths keep this far from `set_obstacles` boxes
    item_clearance: float = 0.04  # m: ... and at most this far from its `items`
    # m per step forward at most while a hand holds an object (0 = the gait's own limit):
    # carried in front, the object and arm shift the CoM; at 0.2 m steps the robot tipped
    # backwards stopping at the station (in-process, 3 of 3 walks), at 0.12 m it arrived
    carry_step_length: float = 0.12
    # Body keep-out for hand targets, base frame: x, y, z min/max (m).
    body_box: tuple[float, float, float, float, float, float] = (
        -0.25, 0.12, -0.22, 0.22, 0.45, 1.7,
    )  # fmt: skip
    postures_file: str = ''  # '' = config/postures.yaml
    safety_file: str = ''  # '' = config/safety.yaml (keep-out boxes, acceleration limits)

    def __post_init__(self) -> None:
        for name in (
            'control_dt', 'horizon', 'max_joint_velocity', 'max_joint_acceleration',
            'position_tolerance', 'orientation_tolerance', 'settle_time', 'cmd_vel_timeout',
            'walk_position_tolerance', 'walk_angle_tolerance', 'gripper_max_time',
        ):  # fmt: skip
            value = getattr(self, name)
            if not (math.isfinite(value) and value > 0.0):
                raise ValueError(f'ControllerConfig.{name} must be positive, got {value}')
        for name in ('object_clearance', 'item_clearance'):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f'ControllerConfig.{name} must be >= 0, got {value}')
        if self.horizon < self.control_dt:
            raise ValueError('ControllerConfig.horizon must be >= control_dt')
        if self.max_corrections < 0:
            raise ValueError('ControllerConfig.max_corrections must be >= 0')
        if self.walk_retries < 0:
            raise ValueError('ControllerConfig.walk_retries must be >= 0')


@dataclass(frozen=True)
class Command:
    """What to send this tick: a body trajectory (or None) and gripper widths by hand (m)."""

    trajectory: JointTrajectory | None
    grippers: dict[str, float] = field(default_factory=dict)


@dataclass
class Activity:
    """Handle of a running motion activity; `done` once `code` is set."""

    kind: str
    resource: str
    progress: float = 0.0
    status: str = 'starting'
    code: ErrorCode | None = None
    message: str = ''
    result: dict[str, float | bool] = field(default_factory=dict)
    feedback: dict[str, float] = field(default_factory=dict)
    _state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def done(self) -> bool:
        return self.code is not None

    @property
    def succeeded(self) -> bool:
        return self.code == ErrorCode.SUCCESS

    def finish(self, code: ErrorCode, message: str, **result: float | bool) -> None:
        if self.code is not None:
            return
        self.code = ErrorCode(code)
        self.message = message
        self.result.update(result)
        self.status = code.name.lower()
        if code == ErrorCode.SUCCESS:
            self.progress = 1.0


def load_postures(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Named postures (joint -> rad) from YAML `postures:`; unknown joints raise ValueError."""
    import yaml

    if not path:
        from humanoid_core.paths import config_dir

        path = config_dir() / 'postures.yaml'
    data = yaml.safe_load(Path(path).read_text()) or {}
    raw = data.get('postures')
    if not isinstance(raw, dict) or not raw:
        raise ValueError(f'{path}: needs a non-empty mapping `postures:`')
    out: dict[str, dict[str, float]] = {}
    valid = set(ROBOT_INFO.body_joints)
    for name, joints in raw.items():
        joints = joints or {}
        if not isinstance(joints, dict):
            raise ValueError(f'{path}: posture {name!r} must map joint names to angles')
        unknown = sorted(set(joints) - valid)
        if unknown:
            raise ValueError(f'{path}: posture {name!r} names unknown joints {unknown}')
        vals = {str(k): float(v) for k, v in joints.items()}
        bad = [k for k, v in vals.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f'{path}: posture {name!r} has non-finite values for {bad}')
        out[str(name)] = vals
    return out


SELF_CLEARANCE = 0.01  # m: arms vs body in an IK result taken from a restart
# m: arms vs body along a planned joint-space path: the safety supervisor's margin (3 mm) plus
# room for the servo-sag offsets on the commanded posture (it rejected a carried vial's
# forearm 2.8 mm from the torso halfway to over the station, and the place failed)
SELF_PATH_CLEARANCE = 0.008
LINE_VIA_STEP = 0.06  # m between the IK waypoints of a straight hand path (`_line_vias`)
HOLDING_SHIFT_MAX = 0.10  # m: an IK answer moves a hand that holds an object no more
TABLE_PATH_MARGIN = 0.04  # m: grasp frames along a planned path keep this from the tables


def estimate_pelvis_position(
    kin: RobotKinematics,
    joint_positions: Mapping[str, float],
    base_xy: Sequence[float] | FloatArray,
    quaternion: Sequence[float] | FloatArray,
) -> FloatArray:
    """Pelvis position (world) when only the base x, y (odometry) and the pelvis orientation
    (IMU) are measured: the lower sole is put on the floor (z = 0)."""
    q = kin.q_from(
        {n: v for n, v in joint_positions.items() if n in kin.qpos_index},
        (float(base_xy[0]), float(base_xy[1]), 0.0), quaternion,
    )  # fmt: skip
    z = min(float(kin.site_transform(q, ROBOT_INFO.sole_frame(s))[2, 3]) for s in HAND_SIDES)
    return np.array([float(base_xy[0]), float(base_xy[1]), -z])


def obstacle_boxes(objects: Iterable[ObjectInfo], skip: Iterable[str] = ()) -> list[Box]:
    """World-frame boxes around `objects` (their yawed footprint's axis-aligned bounds, from
    the table top to their top) for `WholeBodyController.set_obstacles`; `skip`: ids left
    out (the objects in the hands)."""
    left_out = set(skip)
    boxes = []
    for o in objects:
        if o.id in left_out:
            continue
        c, s = abs(math.cos(o.yaw)), abs(math.sin(o.yaw))
        hx, hy = o.size[0] / 2, o.size[1] / 2
        ex, ey = c * hx + s * hy, s * hx + c * hy
        x, y, _ = o.position
        boxes.append(Box((x - ex, y - ey, o.bottom_z), (x + ex, y + ey, o.top_z), o.id, 'world'))
    return boxes


def avoid_sets(
    objects: Iterable[ObjectInfo], held: Iterable[str | None] = ()
) -> tuple[list[Box], list[Box]]:
    """The `WholeBodyController.set_obstacles` arguments for a world's objects: the
    containers' boxes and the other objects' boxes (items), without those in `held`."""
    skip = [h for h in held if h]
    objects = list(objects)
    return (
        obstacle_boxes([o for o in objects if o.is_container], skip),
        obstacle_boxes([o for o in objects if not o.is_container], skip),
    )


def _over(box: Box, p: FloatArray, margin: float) -> bool:
    """Whether `p` lies over (or under) `box`'s footprint grown by `margin`."""
    return all(box.min[i] - margin <= p[i] <= box.max[i] + margin for i in (0, 1))


def _footprint_distance(box: Box, p: FloatArray) -> float:
    """Horizontal distance (m) from `p` to `box`'s footprint (0 over it)."""
    return math.hypot(
        max(box.min[0] - p[0], 0.0, p[0] - box.max[0]),
        max(box.min[1] - p[1], 0.0, p[1] - box.max[1]),
    )


def _quat_wxyz_ok(quaternion: Sequence[float]) -> bool:
    arr = np.asarray(quaternion, dtype=float).reshape(-1)
    return arr.size == 4 and bool(np.all(np.isfinite(arr))) and float(np.linalg.norm(arr)) > 1e-6


class WholeBodyController:
    """Motion activities on the humanoid, advanced by `tick` (see the module docstring)."""

    def __init__(
        self,
        config: ControllerConfig | None = None,
        *,
        clock: Callable[[], float] | None = None,
    ) -> None:
        from humanoid_core.robot.description import joint_limits, render_urdf
        from humanoid_core.safety.limits import load_safety_limits

        self.config = cfg = config or ControllerConfig()
        self._lock = threading.RLock()
        self.ik = WholeBodyIK()
        self.kin: RobotKinematics = self.ik.kin
        # A second IK (and its kinematics) for planning a reach outside `_lock`: the waypoint
        # search takes up to ~0.5 s, and the control tick must not wait for it.
        self._plan_ik = WholeBodyIK()
        self._plan_lock = threading.Lock()
        self.walking = WalkingController()
        self.walk_kin = self.walking.kin
        self.postures = load_postures(cfg.postures_file or None)
        self.safety = load_safety_limits(cfg.safety_file or None)
        self.names: tuple[str, ...] = tuple(ROBOT_INFO.body_joints)
        self._index = {n: i for i, n in enumerate(self.names)}
        self._qidx = np.array([self.kin.qpos_index[n] for n in self.names])
        urdf = joint_limits(render_urdf())
        self.lower = np.array([urdf[n].lower for n in self.names])
        self.upper = np.array([urdf[n].upper for n in self.names])
        self.vmax = np.array(
            [min(cfg.max_joint_velocity, 0.5 * urdf[n].velocity) for n in self.names]
        )
        self.vlimit = np.array([urdf[n].velocity for n in self.names])
        self.amax = np.array(
            [
                min(cfg.max_joint_acceleration, 0.5 * self.safety.joints[n].acceleration)
                for n in self.names
            ]
        )
        # Legs and waist move the whole body (leaning): slower, so that the robot stays
        # quasi-static and balanced.
        lw = np.array([n in ROBOT_INFO.legs or n in ROBOT_INFO.waist for n in self.names])
        self.vmax[lw] *= cfg.leg_speed_scale
        self.amax[lw] *= cfg.leg_speed_scale
        neck = set(ROBOT_INFO.neck)
        self._neck = np.array([n in neck for n in self.names])
        self._body = ~self._neck
        self._legs_waist = np.array([n in ROBOT_INFO.legs or n in ROBOT_INFO.waist
                                     for n in self.names])  # fmt: skip
        self._arm_mask = {
            h: np.array([n in ROBOT_INFO.arm_joints(h) for n in self.names]) for h in HAND_SIDES
        }
        self._gravity_names = tuple(ROBOT_INFO.arms + ROBOT_INFO.waist + ROBOT_INFO.neck)
        self.standing = np.array(
            [float(self.kin.standing_q()[self.kin.qpos_index[n]]) for n in self.names]
        )
        self._clock = clock
        # Commanded state.
        self._ref: FloatArray | None = None
        self._ref_v = np.zeros(len(self.names))
        self._mode = 'hold'  # hold | move | walk
        self._body_move: tuple[float, QuinticTrajectory, NDArray[np.bool_]] | None = None
        self._body_queue: list[tuple[FloatArray, NDArray[np.bool_]]] = []
        self._head_move: tuple[float, QuinticTrajectory] | None = None
        self._walk_arms: FloatArray | None = None
        self._grip_cmd: dict[str, float] = {}
        self._grip_sent: dict[str, float] = {}
        self._holding = {h: False for h in HAND_SIDES}
        self._obstacles: tuple[Box, ...] = ()
        self._items: tuple[Box, ...] = ()
        self._activities: dict[str, Activity] = {}
        self._measured: MeasuredState | None = None
        self._qm: FloatArray | None = None
        self.now = 0.0
        self.fallen = False
        self.estopped = False
        self._gait_stopping = False
        self._stop_t0 = 0.0  # when the controlled stop began
        self._still_since: float | None = None  # base still since (controlled stop)
        self._safety_reason = ''
        self._last_cmd_vel = -math.inf
        self._velocity_cmd: tuple[float, float, float] | None = None

    # --- state ----------------------------------------------------------------------------
    @property
    def measured(self) -> MeasuredState | None:
        return self._measured

    @property
    def mode(self) -> str:
        return self._mode

    def activity(self, resource: str) -> Activity | None:
        """The running activity on `resource` ('body', 'head', 'left_gripper', ...)."""
        with self._lock:
            act = self._activities.get(resource)
            return act if act is not None and not act.done else None

    def holding(self, hand: str) -> bool:
        return self._holding.get(hand, False)

    def set_obstacles(self, boxes: Sequence[Box], items: Sequence[Box] = ()) -> None:
        """World-frame boxes the hands' paths keep `object_clearance` away from.

        `boxes`: containers (a container's walls). Unlike the keep-out boxes they are no
        targets' concern: a hand may go into a container from above. A path whose both ends
        lie over an obstacle's footprint (down into a container and back up) ignores it.
        `items`: loose objects on the tables (not the ones in the hands). A path may start
        or end near one (the object to grasp, or its neighbour), but must not pass nearer
        to it than its nearer end (or `item_clearance`, if less): the hand reaching across
        the bench for a cube swept its fingers through the vial beside it and knocked it over
        (pick-and-place bench)."""
        for b in (*boxes, *items):
            if b.frame != 'world':
                raise ValueError(f'obstacle {b.name!r} must be in the world frame, got {b.frame}')
        with self._lock:
            self._obstacles = tuple(boxes)
            self._items = tuple(items)

    def set_safety_status(self, estopped: bool, holding: bool = False, reason: str = '') -> None:
        """Mirror the safety supervisor's state (`safety/status`)."""
        with self._lock:
            was_blocked = self.estopped
            blocked = bool(estopped) or (bool(holding) and reason.startswith('dead'))
            self.estopped = blocked
            self._safety_reason = 'e-stop engaged' if estopped else reason
            if blocked and not was_blocked:
                walking = self._mode == 'walk' and self.walking.walking and not self.fallen
                self._abort_all(ErrorCode.ESTOPPED, f'safety supervisor: {self._safety_reason}')
                if walking and estopped:
                    # controlled stop: put the swing foot down and close the feet first
                    self.walking.stop()
                    self._mode = 'walk'
                    self._gait_stopping = True
                    self._stop_t0 = self.now
                    self._still_since = None
            elif not blocked:
                self._gait_stopping = False

    # --- activity plumbing ----------------------------------------------------------------
    def _new(self, kind: str, resource: str) -> Activity:
        act = Activity(kind, resource)
        if self._measured is None:
            act.finish(ErrorCode.FAILED, 'no joint states received yet')
            return act
        if self.estopped:
            act.finish(ErrorCode.ESTOPPED, f'refused: safety supervisor: {self._safety_reason}')
            return act
        if self.fallen:
            act.finish(ErrorCode.FELL, 'refused: the robot has fallen (stand it up first)')
        return act

    def _start(self, act: Activity) -> Activity:
        old = self._activities.get(act.resource)
        if old is not None and not old.done:
            old.finish(ErrorCode.PREEMPTED, f'preempted by a new {act.kind} goal')
        self._activities[act.resource] = act
        act.status = 'running'
        return act

    def cancel(self, act: Activity) -> None:
        """End `act` with PREEMPTED; the body/head stop where their reference is."""
        with self._lock:
            if act.done:
                return
            act.finish(ErrorCode.PREEMPTED, 'canceled')
            if act.resource == 'body':
                self._stop_body()
            elif act.resource == 'head':
                self._head_move = None

    def _stop_body(self) -> None:
        if self._mode == 'walk':
            self.walking.stop()
            self._velocity_cmd = None
        elif self._mode == 'move':
            self._body_move = None
            self._body_queue = []
            self._mode = 'hold'
            self._ref_v[:] = 0.0

    def _abort_all(self, code: ErrorCode, message: str) -> None:
        for act in self._activities.values():
            if not act.done:
                act.finish(code, message)
        self._body_move = None
        self._body_queue = []
        self._head_move = None
        self._velocity_cmd = None
        self._mode = 'hold'
        self._ref_v[:] = 0.0

    # --- geometry helpers -----------------------------------------------------------------
    def _base_pose(self) -> Pose2D:
        assert self._measured is not None
        return self._measured.base_pose

    def _to_world(self, T: FloatArray, frame: str) -> FloatArray:
        if frame == 'world':
            return T
        b = self._base_pose()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        W = np.eye(4)
        W[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
        W[:3, 3] = [b.x, b.y, 0.0]
        return W @ T

    def _collision(self, p: FloatArray) -> str:
        m = self.config.keep_out_margin
        b = self._base_pose()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        d = p[:2] - np.array([b.x, b.y])
        local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], p[2]])
        for box in self.safety.keep_out:
            q = p if box.frame == 'world' else local
            lo, hi = np.asarray(box.min) - m, np.asarray(box.max) + m
            if np.all(q >= lo) and np.all(q <= hi):
                return f'target {np.round(p, 3).tolist()} is inside the {box.name} (keep-out box)'
        x0, x1, y0, y1, z0, z1 = self.config.body_box
        if x0 <= local[0] <= x1 and y0 <= local[1] <= y1 and z0 <= local[2] <= z1:
            return f'target {np.round(p, 3).tolist()} is inside the robot body'
        return ''

    def _at_table(self, pose: Pose2D | None = None) -> bool:
        """The base (or `pose`) is within `table_clearance` of a world keep-out box."""
        b = self._base_pose() if pose is None else pose
        for box in self.safety.keep_out:
            if box.frame != 'world':
                continue
            dx = max(box.min[0] - b.x, 0.0, b.x - box.max[0])
            dy = max(box.min[1] - b.y, 0.0, b.y - box.max[1])
            if math.hypot(dx, dy) < self.config.table_clearance:
                return True
        return False

    def _q_ref_full(self) -> FloatArray:
        assert self._qm is not None and self._ref is not None
        q = self._qm.copy()
        q[self._qidx] = self._ref
        return q

    def hand_pose(self, hand: str) -> FloatArray:
        """Measured grasp-frame pose (4x4, world) from the measured joints (FK)."""
        with self._lock:
            assert self._qm is not None
            return self.kin.site_transform(self._qm, ROBOT_INFO.grasp_frame(hand))

    # --- activities -----------------------------------------------------------------------
    def move_hand(
        self,
        hand: str,
        position: Sequence[float],
        quaternion: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
        frame: str = 'world',
        position_only: bool = False,
        duration: float = 0.0,
    ) -> Activity:
        """Move grasp frame `hand` to `position` (m) / `quaternion` (w, x, y, z) in `frame`
        ('world' or 'base'); `duration` 0 = as fast as the limits allow."""
        with self._lock:
            act = Activity('move_hand', 'body')
            pos = np.asarray(position, dtype=float).reshape(-1)
            if hand not in HAND_SIDES:
                act.finish(ErrorCode.INVALID_GOAL, f'unknown hand {hand!r}; use left or right')
            elif frame not in FRAMES:
                act.finish(ErrorCode.INVALID_GOAL,
                           f'unknown frame {frame!r}; use one of {list(FRAMES)}')  # fmt: skip
            elif pos.size != 3 or not np.all(np.isfinite(pos)):
                act.finish(ErrorCode.INVALID_GOAL, f'target position must be 3 finite numbers, '
                           f'got {pos.tolist()}')  # fmt: skip
            elif not position_only and not _quat_wxyz_ok(quaternion):
                act.finish(ErrorCode.INVALID_GOAL, f'target orientation must be a finite '
                           f'non-zero quaternion, got {list(quaternion)}')  # fmt: skip
            elif not (math.isfinite(duration) and 0.0 <= duration <= 60.0):
                act.finish(
                    ErrorCode.INVALID_GOAL, f'duration must be in [0, 60] s, got {duration}'
                )
            if act.done:
                return act
            act = self._new('move_hand', 'body')
            if act.done:
                return act
            quat = (1.0, 0.0, 0.0, 0.0) if position_only else quaternion
            T = self._to_world(as_transform((pos, np.asarray(quat, float))), frame)
            reason = self._collision(T[:3, 3])
            if reason:
                act.finish(ErrorCode.COLLISION, reason)
                return act
            st = act._state
            st.update(hand=hand, target=T, commanded=T, position_only=bool(position_only),
                      duration=float(duration), corrections=0)  # fmt: skip
            view = self._planning_view()
        # The IK and the waypoint search run on a snapshot, outside the lock: holding it for
        # them (up to ~0.5 s in-process, more on a loaded machine) stopped the control ticks,
        # and over ROS the late trajectories were rejected and the robot fell mid-pick (lab
        # task benchmark).
        with self._plan_lock:
            moves = view._reach_moves(act)
        with self._lock:
            if isinstance(moves, str):
                act.finish(ErrorCode.UNREACHABLE, moves)
                return act
            now = self._new('move_hand', 'body')  # an e-stop or a fall while planning
            if now.done:
                assert now.code is not None
                act.finish(now.code, now.message)
                return act
            self._install_reach(act, moves)
            return self._start(act)

    def _planning_view(self) -> WholeBodyController:
        """A shallow copy of the controller for planning outside `_lock`: the measured and
        commanded state copied now, and the planning IK and kinematics (not thread-safe:
        the control tick uses the others). Call with `_lock` held."""
        assert self._qm is not None and self._ref is not None
        view = copy.copy(self)
        view.ik = self._plan_ik
        view.kin = self._plan_ik.kin
        view._qm = self._qm.copy()
        view._ref = self._ref.copy()
        view._holding = dict(self._holding)
        return view

    def _solve(
        self, hand: str, T: FloatArray, position_only: bool, q_init: FloatArray | None = None
    ) -> Any:
        assert self._qm is not None
        task = self.ik.hands[hand]
        if position_only:
            task.set_orientation_cost(0.0)
        try:
            q0 = self._qm if q_init is None else q_init
            other = other_side(hand)
            keep_other = self.config.other_hand_cost > 0.0
            if self.config.holding_hand_cost > 0.0 and self._holding[other]:
                # A holding arm stays where it is: swung along by the waist, the object it
                # holds hit the bench or the objects on it (lab benchmark, picking a second
                # object). Without it only if the target is out of reach otherwise.
                res = self.ik.solve_hand_pose(
                    hand, T, q0, other_hand_cost=self.config.holding_hand_cost
                )
                if res.position_error < self.config.unreachable_position:
                    return res
            res = self.ik.solve_hand_pose(hand, T, q0)
            if keep_other and (
                self._sweeps_keep_out(other, q0, np.asarray(res.q))
                or self._into_body(q0, np.asarray(res.q))
            ):
                # The free arm swung into a table (waist rotation), or dipped into the
                # station's edge on the way while the robot leaned over it (in-process trace,
                # placing into the bin), or went into its thigh as the legs bent for a reach
                # across the body (the IK's collision limit let it jump through in one
                # step): keep it where it was.
                alt = self.ik.solve_hand_pose(
                    hand, T, q0, other_hand_cost=self.config.other_hand_cost
                )
                if alt.position_error < self.config.unreachable_position:
                    res = alt
            return res
        finally:
            if position_only:
                task.set_orientation_cost(self.ik.settings.hand_orientation_cost)

    def _into_body(self, q0: FloatArray, q1: FloatArray) -> bool:
        """Whether the arms of IK result q1 come nearer than `SELF_CLEARANCE` to the body or
        each other, from a start q0 that kept that clearance (full configurations)."""
        return (
            self_collision_distance(self.kin, q1)
            < SELF_CLEARANCE
            <= (self_collision_distance(self.kin, q0))
        )

    def _sweeps_keep_out(self, hand: str, q0: FloatArray, q1: FloatArray) -> bool:
        """Whether `hand`'s grasp frame comes within 4 cm of a keep-out box on the
        joint-space move from full configuration q0 to q1 (feet where they are measured)."""
        frame = ROBOT_INFO.grasp_frame(hand)
        a, b = np.asarray(q0, dtype=float), np.asarray(q1, dtype=float)
        return any(
            self._keep_out_distance(self.kin.site_transform(qs, frame)[:3, 3]) < TABLE_PATH_MARGIN
            for qs in self._along(a, a[self._qidx], b[self._qidx], np.linspace(0.0, 1.0, 12)[1:])
        )

    def _plan_reach(self, act: Activity) -> str | None:
        """IK for the current commanded target and a move there; an error text if the target
        cannot be reached (nothing moves then)."""
        moves = self._reach_moves(act)
        if isinstance(moves, str):
            return moves
        self._install_reach(act, moves)
        return None

    def _install_reach(self, act: Activity, moves: list[tuple[FloatArray, float]]) -> None:
        """Start the body moves of `_reach_moves` (waypoints, then the goal)."""
        (first, duration), *rest = moves
        self._start_body_move(first, self._body, duration, then=[(g, self._body) for g, _ in rest])
        act._state['phase'] = 'moving'

    def _reach_moves(self, act: Activity) -> str | list[tuple[FloatArray, float]]:
        """`_plan_reach` without starting anything: the body goals (waypoints, then the IK
        solution) with their durations, or the error text. Changes only `act`'s state."""
        st = act._state
        cfg = self.config
        # Corrections warm-start from the previous solution (close to the answer); a first
        # solve that stalls is retried from the standing posture.
        res = self._solve(st['hand'], st['commanded'], st['position_only'], st.get('q_sol'))
        if res.position_error > 0.5 * cfg.unreachable_position and 'q_sol' not in st:
            assert self._qm is not None
            alt = self._solve(
                st['hand'],
                st['commanded'],
                st['position_only'],
                self._standing_like(self._qm, st['hand']),
            )
            # (the IK can cross an arm through the body from standing: a retreat from the bin
            # solved from there put the free hand 8 cm into its thigh)
            if alt.position_error < res.position_error and (
                self_collision_distance(self.kin, np.asarray(alt.q)) >= SELF_CLEARANCE
            ):
                res = alt
        rot_bad = (not st['position_only']) and res.rotation_error > cfg.unreachable_orientation
        if res.position_error > cfg.unreachable_position or rot_bad or res.com_margin < 0.0:
            return (
                f'IK cannot reach the target: residual {100 * res.position_error:.1f} cm, '
                f'{math.degrees(res.rotation_error):.1f} deg, CoM margin '
                f'{100 * res.com_margin:.1f} cm'
            )
        # The arms must not end in the body (the safety supervisor rejects such commands
        # and the move stalls): a solution nearer than the path clearance, from a start that
        # kept it, is refused instead of commanded.
        assert self._qm is not None
        reach_d = self_collision_distance(self.kin, np.asarray(res.q))
        if reach_d < min(SELF_PATH_CLEARANCE, self_collision_distance(self.kin, self._qm) - 0.001):
            return (
                f'IK cannot reach the target without an arm {100 * -reach_d:.1f} cm into the body'
                if reach_d < 0.0
                else f'IK cannot reach the target without an arm '
                f'within {100 * reach_d:.1f} cm of the body'
            )
        swing = self._holding_shift(np.asarray(res.q), st['hand'])
        if swing > HOLDING_SHIFT_MAX:
            return (
                f'IK cannot reach the target without moving the other hand, which holds an '
                f'object, {100 * swing:.0f} cm'
            )
        st['q_sol'] = np.asarray(res.q).copy()
        goal = np.asarray(res.q)[self._qidx]
        vias = [] if 'via_done' in st else self._waypoints(st['hand'], goal)
        st['via_done'] = True
        if vias:
            return [(v, 0.0) for v in vias] + [(goal, 0.0)]
        return [(goal, st['duration'])]

    def _start_body_move(
        self,
        goal: FloatArray,
        mask: NDArray[np.bool_],
        duration: float = 0.0,
        then: list[tuple[FloatArray, NDArray[np.bool_]]] | None = None,
    ) -> None:
        """A quintic move of the `mask` joints to `goal`; `then`: further moves queued after
        it (waypoints)."""
        assert self._ref is not None
        self._body_queue = list(then or [])
        if self._mode == 'walk':
            self.walking.stop()
            self._velocity_cmd = None
        q0 = self._ref.copy()
        q1 = q0.copy()
        q1[mask] = np.clip(goal[mask], self.lower[mask], self.upper[mask])
        traj = QuinticTrajectory.within_limits(
            q0, q1, self.vmax, self.amax, max(self.config.min_move_duration, duration)
        )
        self._body_move = (self.now, traj, mask)
        self._mode = 'move'

    def _balanced(self, goal: FloatArray) -> FloatArray:
        """`goal` (body joints) with the legs re-solved so that the CoM is over the middle of
        the feet where they stand now (a posture's nominal leg angles are balanced only for
        the nominal stance), arms/waist/neck as given."""
        assert self._qm is not None
        ik = self.ik
        q = self._qm.copy()
        q[self._qidx] = goal
        feet = []
        for side in HAND_SIDES:
            T = self.kin.site_transform(self._qm, ROBOT_INFO.sole_frame(side))
            yaw = math.atan2(T[1, 0], T[0, 0])
            F = np.eye(4)
            F[:3, :3] = [[math.cos(yaw), -math.sin(yaw), 0.0],
                         [math.sin(yaw), math.cos(yaw), 0.0], [0.0, 0.0, 1.0]]  # fmt: skip
            F[:2, 3] = T[:2, 3]
            feet.append(F)
        centre = 0.5 * (feet[0][:2, 3] + feet[1][:2, 3])
        saved = ik.posture_q.copy()
        ik.posture_q[:] = q
        try:
            sol = ik.solve_walk_frame(centre, feet[0], feet[1], q, iterations=30)
        finally:
            ik.posture_q[:] = saved
        out = goal.copy()
        out[self._legs_waist] = sol[self._qidx][self._legs_waist]
        return np.clip(out, self.lower, self.upper)

    def _keep_out_distance(self, p: FloatArray) -> float:
        """Signed distance (m) from world point p to the nearest keep-out box: how far
        outside it, negative inside (how deep); inf without keep-out boxes."""
        b = self._base_pose()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        d = p[:2] - np.array([b.x, b.y])
        local = np.array([c * d[0] + s * d[1], -s * d[0] + c * d[1], p[2]])
        nearest = math.inf
        for box in self.safety.keep_out:
            pt = p if box.frame == 'world' else local
            lo, hi = np.asarray(box.min), np.asarray(box.max)
            out = box.outside_by(pt)
            nearest = min(
                nearest, out if out > 0.0 else -float(np.min(np.minimum(pt - lo, hi - pt)))
            )
        return nearest

    def _path_clear(
        self, q0: FloatArray, q1: FloatArray, margin: float = TABLE_PATH_MARGIN
    ) -> bool:
        """True when both grasp frames stay `margin` m outside the keep-out boxes, and
        `object_clearance` m outside the obstacles, along the joint-space path q0 -> q1 (body
        joint vectors; 30 samples; a hand that starts nearer a keep-out box or an obstacle
        must not get nearer: so that backing away from a table's edge is clear).
        An obstacle whose footprint holds a hand's both ends, at about the same x, y, is not
        checked for that hand (going down into a container and back up). The arms also keep
        `SELF_PATH_CLEARANCE` from the body and each other (or, starting nearer, do not get
        nearer)."""
        assert self._qm is not None
        samples = list(self._along(self._qm, q0, q1, np.linspace(0.0, 1.0, 30)))
        clearance = self.config.object_clearance
        # per hand: (obstacle, the distance it must keep from it)
        obstacles: dict[str, list[tuple[Box, float]]] = {hand: [] for hand in HAND_SIDES}
        for hand in HAND_SIDES if (self._obstacles or self._items) else ():
            frame = ROBOT_INFO.grasp_frame(hand)
            ends = [self.kin.site_transform(qs, frame)[:3, 3] for qs in (samples[0], samples[-1])]
            for b in self._items:
                # no nearer than the nearer end (so reaching the object to grasp is clear)
                near = min(b.outside_by(p) for p in ends)
                keep = min(self.config.item_clearance, max(near - 0.01, 0.0))
                obstacles[hand].append((b, keep))
            # Exempt: straight down into a container or back up (both ends over it, about
            # the same x, y). A move from beside a bin to over it is checked: with both its
            # ends within 6 cm of the bin's footprint it was exempt and swung the held vial
            # into the bin's wall (in-process trace; the robot fell).
            vertical = float(np.linalg.norm(ends[0][:2] - ends[1][:2])) < 0.05
            for b in self._obstacles:
                if vertical and all(_over(b, p, clearance) for p in ends):
                    continue
                # A hand that starts closer than the clearance must not get closer still
                # (so that moving up and away from where it stands is clear).
                keep = min(clearance, max(b.outside_by(ends[0]) - 0.01, 0.0))
                obstacles[hand].append((b, keep))
        self_keep = min(SELF_PATH_CLEARANCE, self_collision_distance(self.kin, samples[0]) - 0.001)
        # per hand: the distance to keep from the keep-out boxes (a hand that starts nearer
        # than `margin`, e.g. back at a table after a walk with the hand at its front face,
        # may move if it gets no nearer; every path from there was "not clear" and the reach
        # went direct, under the top: lab suite, every-block-bin)
        table_keep = {
            hand: min(margin, self._keep_out_distance(
                self.kin.site_transform(samples[0], ROBOT_INFO.grasp_frame(hand))[:3, 3]
            ) - 0.002)
            for hand in HAND_SIDES
        }  # fmt: skip
        for k, qs in enumerate(samples):
            for hand in HAND_SIDES:
                p = self.kin.site_transform(qs, ROBOT_INFO.grasp_frame(hand))[:3, 3]
                if self._keep_out_distance(p) < table_keep[hand]:
                    return False
                if any(b.outside_by(p) < keep for b, keep in obstacles[hand]):
                    return False
            if k > 0 and self_collision_distance(self.kin, qs) < self_keep:
                return False
        return True

    def _waypoints(self, hand: str, goal: FloatArray) -> list[FloatArray]:
        """Waypoints (body joints) for a move to `goal` whose direct path would sweep a hand
        through a table or within `object_clearance` of an obstacle: `hand` raised in front
        of the chest, and/or raised over the goal (then straight down to it), at a height
        that clears the obstacles near the goal. Empty when the direct path is clear or no
        waypoint helps (the move then goes direct). When no path keeps clear of the loose
        objects too, they are left out: the direct move that was left then swept the arm
        through the table and the robot fell (pick-and-place bench). A hand that starts
        within the path margin of a table (`_backed_away`) first backs away from it."""
        ways = self._plan_escaping(hand, goal)
        if ways is None and self._items:
            saved = self._items
            self._items = ()
            try:
                ways = self._plan_escaping(hand, goal)
            finally:
                self._items = saved
        return ways or []

    def _plan_escaping(self, hand: str, goal: FloatArray) -> list[FloatArray] | None:
        """`_plan_waypoints`, else the same after `_backed_away`; None when neither helps."""
        ways = self._plan_waypoints(hand, goal)
        if ways is not None:
            return ways
        back = self._backed_away()
        if back is None:
            return None
        rest = self._plan_waypoints(hand, goal, back)
        return None if rest is None else [back, *rest]

    def _backed_away(self) -> FloatArray | None:
        """Body joints with each hand that starts within the 4 cm path margin of a keep-out
        box moved out of it: 7 cm straight back towards the robot, else back and 6 cm up, else
        7 cm straight up (the first that clears the margin, is reachable and has a clear path);
        None when no hand is that near or none of these works for one. (Back at the bench
        after a trip, the right hand hung 0.4 cm from its front face below the top; the reach
        for the next cube went forward under the top and the wrist was blocked: lab suite.)"""
        assert self._ref is not None
        margin = TABLE_PATH_MARGIN
        b = self._base_pose()
        back_dir = -np.array([math.cos(b.yaw), math.sin(b.yaw), 0.0])
        prev = self._ref
        moved = False
        for hand in HAND_SIDES:
            T = self.kin.site_transform(self._q_ref_full_with(prev), ROBOT_INFO.grasp_frame(hand))
            p = T[:3, 3]
            if self._keep_out_distance(p) >= margin:
                continue
            for shift in (back_dir * 0.07, back_dir * 0.07 + (0, 0, 0.06), np.array((0, 0, 0.07))):
                target = T.copy()
                target[:3, 3] = p + shift
                if self._keep_out_distance(target[:3, 3]) < margin + 0.005:
                    continue
                via = self._waypoint(hand, target, True, self._q_ref_full_with(prev))
                if via is not None and self._path_clear(prev, via):
                    prev, moved = via, True
                    break
            else:
                return None
        return prev if moved else None

    def _plan_waypoints(
        self, hand: str, goal: FloatArray, start: FloatArray | None = None
    ) -> list[FloatArray] | None:
        """`_waypoints` with the current obstacles, from body joints `start` (default: the
        reference); None when no waypoint helps."""
        assert self._ref is not None and self._qm is not None
        start = self._ref if start is None else start
        if self._path_clear(start, goal):
            return []
        b = self._base_pose()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        side = 1.0 if hand == 'left' else -1.0
        T_goal = self.kin.site_transform(self._q_ref_full_with(goal), ROBOT_INFO.grasp_frame(hand))
        height = max(float(T_goal[2, 3]) + 0.05, 0.95)
        tops = [
            o.max[2] + self.config.object_clearance + 0.06
            for o in (*self._obstacles, *self._items)
            if _footprint_distance(o, T_goal[:3, 3]) < 0.5
        ]
        height = min(max([height, *tops]), 1.2)
        chest = np.eye(4)
        local = (0.14, side * 0.2)
        chest[:3, 3] = [b.x + c * local[0] - s * local[1], b.y + s * local[0] + c * local[1],
                        height]  # fmt: skip
        over = T_goal.copy()
        over[2, 3] = max(height, float(T_goal[2, 3]))
        raised = self._waypoint(hand, chest, True, self._q_ref_full_with(start))
        if raised is not None and self._clear_via([raised], goal, start):
            return [raised]
        # from the raised posture: close to it in joint space, so the move between them stays
        # near the straight line (from the goal posture it arced 8 cm down)
        above = self._waypoint(
            hand, over, False, self._q_ref_full_with(goal if raised is None else raised)
        )
        if above is None:
            return None
        if raised is not None and self._clear_via([raised, above], goal, start):
            return [raised, above]
        if self._clear_via([above], goal, start):
            return [above]
        # Last resort: follow the straight line at `height` to over the goal with IK solutions
        # a few cm apart. A joint-space move between far-apart postures arcs down: carrying a
        # cube from beside the hip to over the station's bin, 10 cm under the straight line,
        # and the fingers swept the bin off the station (in-process trace).
        T_now = self.kin.site_transform(self._q_ref_full_with(start), ROBOT_INFO.grasp_frame(hand))
        lift = T_goal.copy()
        lift[:3, 3] = [T_now[0, 3], T_now[1, 3], over[2, 3]]
        if raised is not None:
            lift[:3, 3] = chest[:3, 3]
        chain = self._line_vias(hand, lift, over, raised, start=start)
        return chain if chain and self._clear_via(chain, goal, start) else None

    def _line_vias(
        self,
        hand: str,
        T_from: FloatArray,
        T_to: FloatArray,
        first: FloatArray | None,
        position_only: bool = False,
        start: FloatArray | None = None,
    ) -> list[FloatArray]:
        """Body-joint waypoints with `hand` at `T_from` (or the posture `first`), then along
        the straight line to `T_to` every `LINE_VIA_STEP` m (orientation: `T_to`'s, unless
        `position_only`); each IK starts from the previous one (the first from body joints
        `start`, default the reference). Empty if a point is out of reach."""
        assert self._ref is not None
        step_count = max(1, math.ceil(np.linalg.norm(T_to[:3, 3] - T_from[:3, 3]) / LINE_VIA_STEP))
        q_init = self._q_ref_full_with(self._ref if start is None else start)
        prev = first if first is not None else self._waypoint(hand, T_from, position_only, q_init)
        if prev is None:
            return []
        chain = [prev]
        for k in range(1, step_count + 1):
            T = T_to.copy()
            T[:3, 3] = T_from[:3, 3] + (k / step_count) * (T_to[:3, 3] - T_from[:3, 3])
            via = self._waypoint(hand, T, position_only, self._q_ref_full_with(prev))
            if via is None:
                return []
            chain.append(via)
            prev = via
        return chain

    def _clear_via(
        self, ways: list[FloatArray], goal: FloatArray, start: FloatArray | None = None
    ) -> bool:
        """Whether the path from body joints `start` (default: the reference) through `ways`
        to `goal` is clear."""
        assert self._ref is not None
        legs = [self._ref if start is None else start, *ways, goal]
        return all(self._path_clear(q0, q1) for q0, q1 in itertools.pairwise(legs))

    def _waypoint(
        self, hand: str, T: FloatArray, position_only: bool, q_init: FloatArray
    ) -> FloatArray | None:
        """Body joints with `hand` at `T` (IK from `q_init`), None if it is out of reach."""
        assert self._ref is not None
        res = self._solve(hand, T, position_only, q_init)
        if res.position_error > 0.05:
            return None
        out = self._ref.copy()
        out[self._body] = np.asarray(res.q)[self._qidx][self._body]
        return out

    def _holding_shift(self, q: FloatArray, moving: str) -> float:
        """How far (m) full configuration `q` puts the grasp frame of the hand other than
        `moving` from where it is now, if that hand holds an object (else 0). The IK keeps a
        holding hand where it is only while the target can be reached so; without that, on
        one machine, it swung the right hand holding the red cube 27 cm towards the left hand
        lifting the vial: the hands met and the cube was flung off the bench (in-process,
        `lab_long` everything-to-station, layout 2; on others that lift was UNREACHABLE)."""
        assert self._qm is not None
        other = other_side(moving)
        if not self._holding[other]:
            return 0.0
        frame = ROBOT_INFO.grasp_frame(other)
        now = self.kin.site_transform(self._q_ref_full(), frame)[:3, 3]
        return float(np.linalg.norm(self.kin.site_transform(q, frame)[:3, 3] - now))

    def _standing_like(self, q: FloatArray, moving: str) -> FloatArray:
        """`q` (full) with the body joints of the standing posture, except the arm of a hand
        other than `moving` that holds an object: an IK restart point for a move of `moving`.
        (The IK keeps a holding hand where it is in its start: restarted from standing with
        that arm standing too, the right hand holding the red cube was swung down onto the
        bench's edge while the left lifted the vial, and the wrist was blocked; in-process,
        `lab_long` everything-to-station, layout 2.)"""
        out = np.array(q, dtype=float)
        kept = np.zeros_like(self._body)
        for hand in HAND_SIDES:
            if hand != moving and self._holding[hand]:
                kept |= self._arm_mask[hand]
        for n in ROBOT_INFO.body_joints:
            if not kept[self._index[n]]:
                out[self.kin.qpos_index[n]] = self.standing[self._index[n]]
        return out

    def _q_ref_full_with(self, body: FloatArray) -> FloatArray:
        """Full configuration for body joints `body`, standing where the robot stands: the
        floating base is placed so that the left sole stays at its measured pose. (With the
        measured base instead, a posture that bends the legs to lean over a table put the
        hand 7 cm too low, and the predicted path missed a dip into the station's bin.)"""
        assert self._qm is not None
        q = self._qm.copy()
        q[self._qidx] = body
        return self._feet_fixed(q)

    def _feet_fixed(self, q: FloatArray, sole_world: FloatArray | None = None) -> FloatArray:
        """`q` with its floating base moved so that the left sole is where it is measured
        (`sole_world`: the measured left sole's pose, when the caller has it already)."""
        assert self._qm is not None
        sole = ROBOT_INFO.sole_frame('left')
        if sole_world is None:
            sole_world = self.kin.site_transform(self._qm, sole)
        b = self.kin.base_qpos
        rel = q.copy()
        rel[b : b + 3] = 0.0
        rel[b + 3 : b + 7] = (1.0, 0.0, 0.0, 0.0)
        T_base = sole_world @ np.linalg.inv(self.kin.site_transform(rel, sole))
        quat = np.empty(4)
        mujoco.mju_mat2Quat(quat, T_base[:3, :3].flatten())
        out = q.copy()
        out[b : b + 3] = T_base[:3, 3]
        out[b + 3 : b + 7] = quat
        return out

    def _along(
        self, q: FloatArray, body0: FloatArray, body1: FloatArray, fractions: Iterable[float]
    ) -> Iterator[FloatArray]:
        """Full configurations (`q` with the body joints set, feet where they are measured)
        at `fractions` of the joint-space move body0 -> body1 (body joint vectors)."""
        assert self._qm is not None
        sole_world = self.kin.site_transform(self._qm, ROBOT_INFO.sole_frame('left'))
        q = np.array(q, dtype=float)
        for u in fractions:
            q[self._qidx] = body0 + u * (body1 - body0)
            yield self._feet_fixed(q, sole_world)

    def _move_via_retract(
        self,
        goal: FloatArray,
        mask: NDArray[np.bool_],
        duration: float,
        keep_held: bool = False,
    ) -> None:
        """Move to `goal`, first pulling any hand that is out in front (over a table) back
        and up to in front of the belly, so that the arm does not sweep through the table.
        With `keep_held`, a holding arm ends at that retracted pose (carrying)."""
        assert self._ref is not None and self._qm is not None
        q = self._q_ref_full()
        b = self._base_pose()
        c, s = math.cos(b.yaw), math.sin(b.yaw)
        moved: list[tuple[str, FloatArray, FloatArray]] = []  # (hand, from, to)
        for hand in HAND_SIDES:
            T = self.kin.site_transform(q, ROBOT_INFO.grasp_frame(hand))
            d = T[:2, 3] - np.array([b.x, b.y])
            if c * d[0] + s * d[1] < 0.2:  # not out in front
                continue
            side = 1.0 if hand == 'left' else -1.0
            local = np.array([0.14, side * 0.2, max(float(T[2, 3]), 0.95)])
            target = np.eye(4)
            target[:3, 3] = [b.x + c * local[0] - s * local[1], b.y + s * local[0] + c * local[1],
                             local[2]]  # fmt: skip
            res = self._solve(hand, target, True, q)
            if res.position_error >= 0.05:
                # From a cross-body reach (right hand at an object on the left) the solve from
                # the current posture stalled; the hand was carried out in front and its cube
                # hit the station's bin on arrival (in-process trace). Retry from standing.
                alt = self._solve(hand, target, True, self._standing_like(q, hand))
                if alt.position_error < res.position_error and (
                    self_collision_distance(self.kin, np.asarray(alt.q)) >= SELF_CLEARANCE
                ):
                    res = alt
            if res.position_error < 0.05:
                q = np.asarray(res.q).copy()
                moved.append((hand, T, target))
        if not moved:
            self._start_body_move(goal, mask, duration)
            return
        waypoint = self._ref.copy()
        waypoint[self._body] = q[self._qidx][self._body]
        vias: list[FloatArray] = []
        if not self._path_clear(self._ref, waypoint):
            # a holding hand first: its object hangs below the fingers
            for hand, T_from, target in sorted(moved, key=lambda m: not self._holding[m[0]]):
                vias = self._retract_line(hand, T_from, target, waypoint)
                if vias:
                    waypoint = vias.pop()
                    break
        if keep_held and any(self._holding.values()):
            for hand in HAND_SIDES:
                if self._holding[hand]:
                    m = self._arm_mask[hand]
                    goal[m] = waypoint[m]
            # The legs of `goal` were balanced for the arms out in front; with the holding
            # arms pulled in the CoM moved back. With both hands holding the robot fell
            # backwards at the start of every walk (in-process, `lab_long`
            # everything-to-station; scripts/debug/two_hand_carry_walk.py).
            goal = self._balanced(goal)
        moves = [(v, self._body) for v in vias] + [(waypoint, self._body), (goal, mask)]
        self._start_body_move(moves[0][0], self._body, 0.0, then=moves[1:])

    def _retract_line(
        self, hand: str, T_from: FloatArray, target: FloatArray, retracted: FloatArray
    ) -> list[FloatArray]:
        """Body-joint waypoints that pull `hand` back from `T_from` to the `retracted`
        posture (hand at `target`) without passing near the loose objects and containers:
        first straight up to a height that clears those near it (or 10 cm higher still), then
        to `retracted`; if neither is clear, along a straight line at that height, then to
        `retracted` (the other hand's retract). Empty when nothing found is clear. The plain
        joint-space retract swung the hand holding the red cube (on the robot's left) out
        over the vial on its right, 5 cm lower than its start, and knocked the vial over at
        the start of 4 of 5 walks to the station in the `lab` suite (traced in-process)."""
        cfg = self.config
        ends = (T_from[:3, 3], target[:3, 3])
        height = max(float(T_from[2, 3]) + 0.03, float(target[2, 3]))
        for o in (*self._obstacles, *self._items):
            if min(_footprint_distance(o, p) for p in ends) < 0.5:
                height = max(height, o.max[2] + cfg.item_clearance + 0.03)
        for h in (height, height + 0.1):
            lift = T_from.copy()
            lift[2, 3] = min(h, 1.2)
            up = self._waypoint(hand, lift, True, self._q_ref_full())
            if up is not None and self._clear_via([up], retracted):
                return [up, retracted]
        lift = T_from.copy()
        lift[2, 3] = min(height, 1.2)
        back = T_from.copy()
        back[:3, 3] = [target[0, 3], target[1, 3], lift[2, 3]]
        chain = self._line_vias(hand, lift, back, None, position_only=True)
        if len(chain) < 2 or not self._clear_via(chain, retracted):
            return []
        return [*chain, retracted]

    def start_call(self, action: str, goal: Mapping[str, Any]) -> Activity:
        """Start a planner motion call (`humanoid_core.planning.motion`: `action` and its goal
        fields, as the ROS action goals have them) on this controller, without ROS: for
        in-process benchmarks and tests."""
        g = goal
        if action == 'look_at':
            return self.look_at(g['target']['point'], g['target']['frame_id'])
        if action == 'release':
            return self.release(g['hand'])
        if action == 'grasp':
            return self.grasp(g['hand'], float(g['max_effort']), str(g['object_id']))
        if action == 'move_hand':
            t = g['target']
            x, y, z, w = t['orientation']
            return self.move_hand(g['hand'], t['position'], (w, x, y, z), t['frame_id'],
                                  bool(g['position_only']), float(g['duration']))  # fmt: skip
        if action == 'walk_to':
            return self.walk_to(g['x'], g['y'], g['theta'], g['position_tolerance'],
                                g['angle_tolerance'])  # fmt: skip
        if action == 'go_to_posture':
            return self.go_to_posture(g['posture'], float(g['duration']))
        raise ValueError(f'motion call {action!r} has no controller activity')

    def go_to_posture(self, name: str, duration: float = 0.0) -> Activity:
        """Move the body to posture `name` from config/postures.yaml."""
        with self._lock:
            act = self._new('go_to_posture', 'body')
            if act.done:
                return act
            if name not in self.postures:
                act.finish(ErrorCode.INVALID_GOAL, f'unknown posture {name!r}; known: '
                           f'{sorted(self.postures)}')  # fmt: skip
                return act
            if not (math.isfinite(duration) and 0.0 <= duration <= 60.0):
                act.finish(
                    ErrorCode.INVALID_GOAL, f'duration must be in [0, 60] s, got {duration}'
                )
                return act
            goal = self.standing.copy()
            mask = self._body.copy()
            for joint, value in self.postures[name].items():
                goal[self._index[joint]] = value
                mask[self._index[joint]] = True
            self._start(act)
            assert self._ref is not None
            goal[~mask] = self._ref[~mask]
            self._move_via_retract(self._balanced(goal), mask | self._legs_waist, duration)
            act._state['phase'] = 'moving'
            return act

    def walk_to(
        self,
        x: float,
        y: float,
        theta: float,
        position_tolerance: float = 0.0,
        angle_tolerance: float = 0.0,
    ) -> Activity:
        """Walk the base to (x, y, theta) in `world`; tolerances 0 = defaults."""
        with self._lock:
            act = self._new('walk_to', 'body')
            if act.done:
                return act
            vals = (x, y, theta, position_tolerance, angle_tolerance)
            if not all(math.isfinite(float(v)) for v in vals):
                act.finish(ErrorCode.INVALID_GOAL, f'walk_to goal must be finite, got {vals}')
                return act
            if position_tolerance < 0.0 or angle_tolerance < 0.0:
                act.finish(ErrorCode.INVALID_GOAL, 'walk_to tolerances must be >= 0')
                return act
            cfg = self.config
            goal = Pose2D(float(x), float(y), wrap_angle(float(theta)))
            base = self._base_pose()
            legs: list[Pose2D] = []
            far = math.hypot(goal.x - base.x, goal.y - base.y) > 0.3 or (
                abs(wrap_angle(goal.yaw - base.yaw)) > 0.3
            )
            if far and cfg.retreat_distance > 0.0 and self._at_table():
                legs.append(base.compose(Pose2D(-cfg.retreat_distance, 0.0, 0.0)))
            final = [goal]
            if far and cfg.retreat_distance > 0.0 and self._at_table(goal):
                # Arrive at a table square on: walk to a point retreat_distance behind the goal,
                # then straight forward (a diagonal path clipped the table's corner with an arm)
                pre = goal.compose(Pose2D(-cfg.retreat_distance, 0.0, 0.0))
                if math.hypot(pre.x - base.x, pre.y - base.y) > 0.05:
                    final.insert(0, pre)
            start = legs[-1] if legs else base
            travel = final[0]
            dist = math.hypot(travel.x - start.x, travel.y - start.y)
            if cfg.face_travel_distance > 0.0 and dist > cfg.face_travel_distance:
                heading = math.atan2(travel.y - start.y, travel.x - start.x)
                if abs(wrap_angle(heading - start.yaw)) > 0.3:
                    legs.append(Pose2D(start.x, start.y, heading))  # turn on the spot
                if abs(wrap_angle(heading - travel.yaw)) > 0.3:
                    # walk there facing the way, then turn on the spot
                    legs.append(Pose2D(travel.x, travel.y, heading))
            legs.extend(final)
            act._state.update(
                goal=goal, legs=legs, start=base, phase='prepare',
                tol=(position_tolerance or cfg.walk_position_tolerance,
                     angle_tolerance or cfg.walk_angle_tolerance),
            )  # fmt: skip
            self._start(act)
            self._prepare_walk(act)
            return act

    def set_velocity(self, vx: float, vy: float, wz: float) -> None:
        """cmd_vel (body frame, m/s, rad/s); stops after `cmd_vel_timeout` s without one."""
        with self._lock:
            cmd = (float(vx), float(vy), float(wz))
            if not all(math.isfinite(v) for v in cmd):
                raise ValueError(f'velocity command must be finite, got {cmd}')
            if self._measured is None or self.fallen or self.estopped:
                return
            self._last_cmd_vel = self.now
            moving = any(abs(v) > 1e-6 for v in cmd)
            act = self._activities.get('body')
            running = act is not None and not act.done
            if running and act is not None and act.kind == 'cmd_vel':
                act._state['velocity'] = cmd
                if act._state['phase'] == 'walk':
                    self.walking.set_velocity(*cmd)
                return
            if not moving:
                return
            act = self._start(Activity('cmd_vel', 'body'))
            act._state.update(velocity=cmd, phase='prepare')
            self._prepare_walk(act)

    def _prepare_walk(self, act: Activity) -> None:
        """Legs and free arms to the standing posture (a holding arm stays as it is)."""
        assert self._ref is not None
        if self._mode == 'walk':
            act._state['phase'] = 'walk-start'
            return
        goal = self._ref.copy()
        goal[self._legs_waist] = self.standing[self._legs_waist]
        for hand in HAND_SIDES:
            if not self._holding[hand]:
                m = self._arm_mask[hand]
                goal[m] = self.standing[m]
        self._move_via_retract(self._balanced(goal), self._body, 0.0, keep_held=True)
        act._state['phase'] = 'prepare'

    def _enter_walk(self) -> None:
        assert self._qm is not None and self._ref is not None
        q = self._q_ref_full()
        b = self.walk_kin.base_qpos
        q[b : b + 7] = self._qm[b : b + 7]
        self._walk_arms = self._ref.copy()
        # The walking IK keeps the arms where they are (CoM computed with them).
        posture = self.walking.ik.posture_q
        for n in ROBOT_INFO.arms:
            posture[self.walk_kin.qpos_index[n]] = self._ref[self._index[n]]
        self.walking.ik.posture_task.set_target(posture)
        self.walking.reset(q, self.now)
        self._body_move = None
        self._mode = 'walk'

    def look_at(self, point: Sequence[float], frame: str = 'world') -> Activity:
        """Turn the head so that the camera's optical axis points at `point`."""
        with self._lock:
            act = self._new('look_at', 'head')
            if act.done:
                return act
            p = np.asarray(point, dtype=float).reshape(-1)
            if p.size != 3 or not np.all(np.isfinite(p)):
                act.finish(ErrorCode.INVALID_GOAL, f'look_at point must be 3 finite numbers, '
                           f'got {p.tolist()}')  # fmt: skip
                return act
            if frame not in FRAMES:
                act.finish(ErrorCode.INVALID_GOAL,
                           f'unknown frame {frame!r}; use one of {list(FRAMES)}')  # fmt: skip
                return act
            T = np.eye(4)
            T[:3, 3] = p
            p = self._to_world(T, frame)[:3, 3]
            angles, err = self._neck_ik(p)
            if err > self.config.look_tolerance:
                act.finish(ErrorCode.UNREACHABLE, f'the head cannot point at {p.round(3).tolist()}'
                           f' (best {math.degrees(err):.1f} deg off)')  # fmt: skip
                return act
            assert self._ref is not None
            q0 = self._ref[self._neck]
            traj = QuinticTrajectory.within_limits(q0, angles, self.vmax[self._neck],
                                                   self.amax[self._neck], 0.3)  # fmt: skip
            self._head_move = (self.now, traj)
            act._state.update(point=p, phase='moving')
            return self._start(act)

    def _camera_error(self, q: FloatArray, p: FloatArray) -> float:
        T = self.kin.site_transform(q, ROBOT_INFO.camera_optical_frame)
        d = p - T[:3, 3]
        n = float(np.linalg.norm(d))
        if n < 1e-6:
            return 0.0
        c = float(np.clip(T[:3, 2] @ d / n, -1.0, 1.0))
        return math.acos(c)

    def _neck_ik(self, p: FloatArray) -> tuple[FloatArray, float]:
        q = self._q_ref_full()
        idx = [self.kin.qpos_index[n] for n in ROBOT_INFO.neck]
        lo, hi = self.kin.lower[idx], self.kin.upper[idx]

        def residual(x: FloatArray) -> FloatArray:
            q[idx] = x
            T = self.kin.site_transform(q, ROBOT_INFO.camera_optical_frame)
            d = p - T[:3, 3]
            d = d / max(float(np.linalg.norm(d)), 1e-9)
            local = T[:3, :3].T @ d  # target direction in the optical frame
            return np.array([local[0], local[1]])  # zero when on the z axis

        x = q[idx].copy()
        for _ in range(30):
            r = residual(x)
            if float(np.linalg.norm(r)) < 1e-5:
                break
            J = np.zeros((2, 2))
            for k in range(2):
                dx = np.zeros(2)
                dx[k] = 1e-5
                J[:, k] = (residual(x + dx) - r) / 1e-5
            step = np.linalg.lstsq(J, -r, rcond=None)[0]
            x = np.clip(x + np.clip(step, -0.5, 0.5), lo, hi)
        q[idx] = x
        return x, self._camera_error(q, p)

    def grasp(self, hand: str, max_effort: float = 0.0, object_id: str = '') -> Activity:
        """Close `hand`'s gripper; SUCCESS when it stops on an object (or, with no object
        named, when it stops)."""
        return self._gripper('grasp', hand, self.config.gripper_close_width, max_effort,
                             object_id)  # fmt: skip

    def release(self, hand: str) -> Activity:
        """Open `hand`'s gripper fully."""
        return self._gripper('release', hand, self.config.gripper_open_width, 0.0, '')

    def _gripper(
        self, kind: str, hand: str, width: float, max_effort: float, object_id: str
    ) -> Activity:
        with self._lock:
            if hand not in HAND_SIDES:
                act = Activity(kind, 'gripper')
                act.finish(ErrorCode.INVALID_GOAL, f'unknown hand {hand!r}; use left or right')
                return act
            act = self._new(kind, f'{hand}_gripper')
            if act.done:
                return act
            if not (math.isfinite(max_effort) and max_effort >= 0.0):
                act.finish(ErrorCode.INVALID_GOAL, f'max_effort must be >= 0, got {max_effort}')
                return act
            self._grip_cmd[hand] = float(width)
            self._grip_sent.pop(hand, None)
            if kind == 'release':
                self._holding[hand] = False
            act._state.update(hand=hand, width=float(width), t0=self.now, object_id=object_id,
                              history=[])  # fmt: skip
            return self._start(act)

    # --- control tick ---------------------------------------------------------------------
    def tick(self, measured: MeasuredState, now: float | None = None) -> Command:
        """Advance one control period with the latest measurement; the command to send."""
        with self._lock:
            self.now = float(measured.time if now is None else now)
            self._measured = measured
            joints = {
                n: v for n, v in measured.joint_positions.items() if n in self.kin.qpos_index
            }
            self._qm = self.kin.q_from(joints, measured.pelvis_position,
                                       measured.pelvis_quaternion)  # fmt: skip
            qm_body = self._qm[self._qidx]
            roll, pitch = roll_pitch_of(measured.pelvis_quaternion)
            fallen = (
                float(measured.pelvis_position[2]) < self.config.fall_height
                or max(abs(roll), abs(pitch)) > self.config.fall_tilt
            )
            if fallen and not self.fallen:
                self._abort_all(ErrorCode.FELL, 'the robot fell')
            self.fallen = fallen
            if self._gait_stopping and self._ref is not None and not self.fallen:
                self._update_body()  # the controlled stop of the gait (see set_safety_status)
                if self.walking.walking or not self._settled(measured):
                    return Command(self._trajectory(), {})
                self._gait_stopping = False
            if self._ref is None or self.fallen or self.estopped:
                self._resync(qm_body)
                return Command(None, self._gripper_commands(force=self._ref is None))
            deviation = np.abs(self._ref - qm_body)
            if self._mode != 'walk' and np.max(deviation) > self.config.resync_threshold:
                # Name the joint: an arm pressed against a table or an object looks the same
                # as a simulator reset from here.
                k = int(np.argmax(deviation))
                self._abort_all(
                    ErrorCode.FAILED,
                    f'{self.names[k]} is {deviation[k]:.2f} rad from where it was commanded '
                    f'(blocked by a contact, pushed, or the simulator was reset)',
                )
                self._resync(qm_body)
            self._update_body()
            self._update_head()
            self._update_grippers()
            self._update_activities()
            return Command(self._trajectory(), self._gripper_commands())

    def _settled(self, measured: MeasuredState) -> bool:
        """Controlled stop: has the base been still long enough (or the time run out)?"""
        cfg = self.config
        if self.now - self._stop_t0 >= cfg.stop_settle_limit:
            return True
        speed = float(np.linalg.norm(np.asarray(measured.pelvis_linear_velocity, float)[:2]))
        if speed > cfg.stop_settle_speed:
            self._still_since = None
            return False
        if self._still_since is None:
            self._still_since = self.now
        return self.now - self._still_since >= cfg.stop_settle_time

    def _resync(self, qm_body: FloatArray) -> None:
        self._ref = np.clip(qm_body.copy(), self.lower, self.upper)
        self._ref_v = np.zeros(len(self.names))
        self._mode = 'hold'
        self._body_move = None
        self._head_move = None

    def _update_body(self) -> None:
        assert self._ref is not None and self._measured is not None
        if self._mode == 'move' and self._body_move is not None:
            t0, traj, mask = self._body_move
            q, v, _ = traj.sample(self.now - t0)
            self._ref[mask] = q[mask]
            self._ref_v[mask] = v[mask]
            self._ref_v[~mask & self._body] = 0.0
            if self.now - t0 >= traj.duration:
                self._body_move = None
                self._mode = 'hold'
                self._ref_v[self._body] = 0.0
                if self._body_queue:
                    goal, nxt = self._body_queue.pop(0)
                    self._start_body_move(goal, nxt, 0.0, self._body_queue)
        elif self._mode == 'walk':
            if (
                self._velocity_cmd is not None
                and self.now - self._last_cmd_vel > self.config.cmd_vel_timeout
            ):
                self.walking.stop()
                self._velocity_cmd = None
            prev = self._ref.copy()
            n = 0
            targets: dict[str, float] = {}
            while self.walking.time + 0.5 * self.walking.params.control_dt <= self.now or n == 0:
                targets = self.walking.update(self._measured)
                n += 1
                if n >= 5:
                    break
            for name, value in targets.items():
                i = self._index.get(name)
                if i is not None and (self._legs_waist[i]):
                    self._ref[i] = value
            if self._walk_arms is not None:
                arms = self._body & ~self._legs_waist
                self._ref[arms] = self._walk_arms[arms]
            self._ref = np.clip(self._ref, self.lower, self.upper)
            dt = max(self.config.control_dt, 1e-3)
            v = np.clip((self._ref - prev) / dt, -0.9 * self.vlimit, 0.9 * self.vlimit)
            # No extrapolation past a joint limit (the command stays consistent).
            ahead = self._ref + v * self.config.control_dt
            v[(ahead < self.lower) | (ahead > self.upper)] = 0.0
            self._ref_v[self._body] = v[self._body]
        else:
            self._ref_v[self._body] = 0.0

    def _update_head(self) -> None:
        assert self._ref is not None
        if self._head_move is None:
            self._ref_v[self._neck] = 0.0
            return
        t0, traj = self._head_move
        q, v, _ = traj.sample(self.now - t0)
        self._ref[self._neck] = q
        self._ref_v[self._neck] = v
        if self.now - t0 >= traj.duration:
            self._head_move = None
            self._ref_v[self._neck] = 0.0

    def _measured_width(self, hand: str) -> float:
        assert self._measured is not None
        jp = self._measured.joint_positions
        a, b = ROBOT_INFO.gripper_joints(hand)
        if a not in jp or b not in jp:
            return math.nan
        return float(jp[a] + jp[b])

    def _update_grippers(self) -> None:
        for hand in HAND_SIDES:
            cmd = self._grip_cmd.get(hand)
            w = self._measured_width(hand)
            if cmd is None or not math.isfinite(w):
                continue
            act = self._activities.get(f'{hand}_gripper')
            if act is not None and not act.done:
                continue  # decided when the activity ends
            closed_on = w > cmd + self.config.gripper_hold_tolerance and w > (
                self.config.gripper_hold_tolerance
            )
            if cmd < 0.5 * self.config.gripper_open_width:
                self._holding[hand] = bool(closed_on)

    def _update_activities(self) -> None:
        for act in list(self._activities.values()):
            if act.done:
                continue
            handler = {
                'move_hand': self._run_move_hand,
                'go_to_posture': self._run_posture,
                'walk_to': self._run_walk,
                'cmd_vel': self._run_cmd_vel,
                'look_at': self._run_look_at,
                'grasp': self._run_gripper,
                'release': self._run_gripper,
            }[act.kind]
            handler(act)

    def _move_progress(self) -> float:
        if self._body_move is None:
            return 1.0
        t0, traj, _ = self._body_move
        return min(1.0, (self.now - t0) / max(traj.duration, 1e-6))

    def _run_move_hand(self, act: Activity) -> None:
        st = act._state
        cfg = self.config
        assert self._qm is not None
        T_meas = self.kin.site_transform(self._qm, ROBOT_INFO.grasp_frame(st['hand']))
        target = st['target']
        pos_err = float(np.linalg.norm(T_meas[:3, 3] - target[:3, 3]))
        rot_err = 0.0 if st['position_only'] else rotation_error(T_meas[:3, :3], target[:3, :3])
        act.feedback['position_error'] = pos_err
        if st['phase'] == 'moving':
            act.progress = 0.9 * self._move_progress() + 0.1 * min(st['corrections'], 1)
            act.status = 'moving' if st['corrections'] == 0 else 'correcting'
            if self._body_move is None:
                st['phase'] = 'settling'
                st['t_settle'] = self.now
            return
        if self.now - st['t_settle'] < cfg.settle_time:
            return
        # Carrying an object loads the arm: the hand is judged with a looser tolerance.
        tol = cfg.position_tolerance * (cfg.holding_tolerance_factor if self._holding.get(
            st['hand']) else 1.0)  # fmt: skip
        ok = pos_err <= tol and rot_err <= cfg.orientation_tolerance
        res = {'position_error': pos_err, 'orientation_error': rot_err}
        text = f'hand {100 * pos_err:.2f} cm, {math.degrees(rot_err):.1f} deg from the target'
        best = st.get('best')
        final = st.get('final', False)
        if not final and best is not None and pos_err > best[0] + 0.002:
            # The last correction made it worse: go back to the best commanded posture.
            assert self._ref is not None
            self._start_body_move(best[1], self._body)
            st['phase'] = 'moving'
            st['final'] = True
            return
        if ok and (st['corrections'] >= 1 or pos_err < 0.5 * tol or final):
            act.finish(ErrorCode.SUCCESS, text, **res)
            return
        if final or st['corrections'] >= cfg.max_corrections:
            limit = f'{100 * tol:.1f} cm, {math.degrees(cfg.orientation_tolerance):.1f} deg'
            act.finish(ErrorCode.FAILED, f'{text} (tolerance {limit})', **res)
            return
        if best is None or pos_err < best[0]:
            assert self._ref is not None
            st['best'] = (pos_err, self._ref.copy())
        st['corrections'] += 1
        commanded = corrected_target(target, st['commanded'], T_meas)
        # Never ask for more than a few cm beyond the real target.
        offset = commanded[:3, 3] - target[:3, 3]
        norm = float(np.linalg.norm(offset))
        if norm > cfg.max_correction_offset:
            commanded[:3, 3] = target[:3, 3] + offset * (cfg.max_correction_offset / norm)
        if self._holding.get(st['hand']):
            # Never push a held object below its target (it would press on the support
            # and push the robot over).
            commanded[2, 3] = max(commanded[2, 3], target[2, 3])
        st['commanded'] = commanded
        err = self._plan_reach(act)
        if err is not None:  # the correction is out of reach: judge what we have
            st['corrections'] = cfg.max_corrections
            st['phase'] = 'settling'

    def _run_posture(self, act: Activity) -> None:
        act.progress = self._move_progress()
        if self._body_move is None:
            act.finish(ErrorCode.SUCCESS, 'posture reached')

    def _run_cmd_vel(self, act: Activity) -> None:
        st = act._state
        if st['phase'] == 'prepare':
            if self._body_move is None:
                self._enter_walk()
                st['phase'] = 'walk'
                self._velocity_cmd = st['velocity']
                self.walking.set_velocity(*st['velocity'])
        elif st['phase'] == 'walk-start':
            st['phase'] = 'walk'
            self._velocity_cmd = st['velocity']
            self.walking.set_velocity(*st['velocity'])
        elif self._velocity_cmd is None and not self.walking.walking:
            act.finish(ErrorCode.SUCCESS, 'cmd_vel stopped')

    def _run_walk(self, act: Activity) -> None:
        st = act._state
        goal: Pose2D = st['goal']
        base = self._base_pose()
        dist = math.hypot(goal.x - base.x, goal.y - base.y)
        total = max(math.hypot(goal.x - st['start'].x, goal.y - st['start'].y), 1e-6)
        act.feedback['distance_remaining'] = dist
        act.progress = float(np.clip(1.0 - dist / total, 0.0, 1.0))
        phase = st['phase']
        if phase == 'prepare':
            if self._body_move is not None:
                act.status = 'preparing'
                return
            self._enter_walk()
            phase = 'walk-start'
        if phase == 'walk-start':
            leg = st['legs'].pop(0)
            carrying = any(self._holding.values()) and self.config.carry_step_length > 0.0
            self.walking.set_max_step_length(self.config.carry_step_length if carrying else None)
            steps = self.walking.walk_to(leg)
            st['t_leg'] = self.now
            st['timeout'] = 15.0 + 2.0 * steps * self.walking.params.timing.step_period
            st['phase'] = 'walk'
            act.status = 'walking'
            return
        if phase == 'walk':
            if self.walking.walking:
                if self.now - st['t_leg'] > st['timeout']:
                    self.walking.stop()
                    act.finish(
                        ErrorCode.TIMEOUT, f'walking took longer than {st["timeout"]:.0f} s'
                    )
                return
            st['phase'] = 'settle'
            st['t_settle'] = self.now
            return
        if phase == 'settle' and self.now - st['t_settle'] >= self.config.walk_settle_time:
            if st['legs']:
                st['phase'] = 'walk-start'
                return
            yaw_err = abs(wrap_angle(goal.yaw - base.yaw))
            pos_tol, ang_tol = st['tol']
            res = {'position_error': dist, 'angle_error': yaw_err}
            if (dist > pos_tol or yaw_err > ang_tol) and st.get('retries', 0) < (
                self.config.walk_retries
            ):
                # Short walks end before the drift correction can act: walk the rest.
                st['retries'] = st.get('retries', 0) + 1
                st['legs'] = [goal]
                st['phase'] = 'walk-start'
                return
            if dist <= pos_tol and yaw_err <= ang_tol:
                act.finish(ErrorCode.SUCCESS, f'arrived within {dist:.3f} m, {yaw_err:.3f} rad',
                           **res)  # fmt: skip
            else:
                act.finish(ErrorCode.FAILED, f'stopped {dist:.3f} m, {yaw_err:.3f} rad from the '
                           f'goal (tolerance {pos_tol} m, {ang_tol} rad)', **res)  # fmt: skip

    def _run_look_at(self, act: Activity) -> None:
        assert self._qm is not None
        err = self._camera_error(self._qm, act._state['point'])
        act.feedback['angle_error'] = err
        if self._head_move is not None:
            t0, traj = self._head_move
            act.progress = min(1.0, (self.now - t0) / max(traj.duration, 1e-6))
            act._state['t_end'] = self.now
            return
        if self.now - act._state.get('t_end', self.now) < 0.2:
            act._state.setdefault('t_end', self.now)
            return
        if err <= self.config.look_tolerance:
            act.finish(ErrorCode.SUCCESS, f'looking at the target ({math.degrees(err):.1f} deg)',
                       angle_error=err)  # fmt: skip
        else:
            act.finish(ErrorCode.FAILED, f'head stopped {math.degrees(err):.1f} deg off',
                       angle_error=err)  # fmt: skip

    def _run_gripper(self, act: Activity) -> None:
        st = act._state
        hand = st['hand']
        cfg = self.config
        w = self._measured_width(hand)
        act.feedback['width'] = w
        hist: list[tuple[float, float]] = st['history']
        hist.append((self.now, w))
        elapsed = self.now - st['t0']
        act.progress = min(1.0, elapsed / cfg.gripper_max_time)
        recent = [x for t, x in hist if t >= self.now - 0.15]
        stopped = elapsed >= cfg.gripper_min_time and (max(recent) - min(recent)) < 5e-4
        if not (stopped or elapsed >= cfg.gripper_max_time):
            return
        if act.kind == 'release':
            self._holding[hand] = False
            act.finish(ErrorCode.SUCCESS, f'gripper open ({1000 * w:.1f} mm)', width=w)
            return
        held = w > st['width'] + cfg.gripper_hold_tolerance and w > cfg.gripper_hold_tolerance
        self._holding[hand] = held
        if held:
            act.finish(ErrorCode.SUCCESS, f'holding an object ({1000 * w:.1f} mm between the '
                       'fingers)', width=w, holding=True)  # fmt: skip
        elif st['object_id']:
            act.finish(ErrorCode.FAILED, f'nothing grasped: the jaw closed to {1000 * w:.1f} mm '
                       f'(expected {st["object_id"]})', width=w, holding=False)  # fmt: skip
        else:
            act.finish(ErrorCode.SUCCESS, f'gripper closed ({1000 * w:.1f} mm)', width=w,
                       holding=False)  # fmt: skip

    # --- output ---------------------------------------------------------------------------
    def _trajectory(self) -> JointTrajectory:
        assert self._ref is not None and self._qm is not None
        cfg = self.config
        dt = cfg.control_dt
        offsets = np.zeros(len(self.names))
        if cfg.gravity_compensation:
            for name, off in self.kin.servo_gravity_offsets(
                self._q_ref_full(), self._gravity_names
            ).items():
                offsets[self._index[name]] = off
        if self._mode == 'walk':
            # extrapolated at the current joint velocities: bridges late or bunched commands
            n = max(1, round(cfg.walk_horizon / dt))
            times = [k * dt for k in range(n + 1)]
        else:
            n = max(1, round(cfg.horizon / dt))
            times = [k * dt for k in range(n + 1)]
        refs = [self._reference_at(t) for t in times]
        qs = np.array([q for q, _ in refs])
        # A constant offset per joint keeps the velocities consistent; it is limited so that
        # no point leaves the joint's range.
        offsets = np.clip(offsets, self.lower - qs.min(axis=0), self.upper - qs.max(axis=0))
        points = [
            (np.clip(q + offsets, self.lower, self.upper).tolist(), v.tolist(), t)
            for (q, v), t in zip(refs, times, strict=True)
        ]
        measured = self._qm[self._qidx]
        err = np.abs(np.asarray(points[0][0]) - measured)
        if float(np.max(err)) > cfg.max_start_error:
            # The servos lag the reference by more than the supervisor lets a command jump at
            # t=0 (fast swing legs while walking): start from the measured position moved
            # towards the reference by at most max_start_error, then the reference one period
            # ahead within 0.8 x the speed limit. Never rejected; the target catches up.
            p0 = measured + np.clip(np.asarray(points[0][0]) - measured, -cfg.max_start_error,
                                    cfg.max_start_error)  # fmt: skip
            ahead = np.asarray(points[1][0] if len(points) > 1 else points[0][0])
            step = 0.8 * self.vlimit * dt
            p1 = np.clip(p0 + np.clip(ahead - p0, -step, step), self.lower, self.upper)
            p0 = np.clip(p0, self.lower, self.upper)
            return JointTrajectory.from_lists(
                self.names, [(p0.tolist(), None, 0.0), (p1.tolist(), None, dt)], self.now
            )
        return JointTrajectory.from_lists(self.names, points, self.now)

    def _reference_at(self, t: float) -> tuple[FloatArray, FloatArray]:
        """The reference t s ahead: exact along planned moves, extrapolated while walking."""
        assert self._ref is not None
        q = self._ref.copy()
        v = self._ref_v.copy()
        if t <= 0.0:
            return q, v
        if self._mode == 'walk':
            q = np.clip(q + v * t, self.lower, self.upper)
        if self._body_move is not None:
            t0, traj, mask = self._body_move
            qs, vs, _ = traj.sample(self.now - t0 + t)
            q[mask], v[mask] = qs[mask], vs[mask]
        if self._head_move is not None:
            t0, traj_h = self._head_move
            qs, vs, _ = traj_h.sample(self.now - t0 + t)
            q[self._neck], v[self._neck] = qs, vs
        return q, v

    def _gripper_commands(self, force: bool = False) -> dict[str, float]:
        out = {}
        for hand, width in self._grip_cmd.items():
            last = self._grip_sent.get(hand)
            if force or last is None or self.now - last >= self.config.gripper_resend_period:
                out[hand] = float(np.clip(width, 0.0, GRIPPER_MAX_WIDTH))
                self._grip_sent[hand] = self.now
        return out
