"""The safety supervisor's logic, free of ROS: command checks, e-stop, watchdog, heartbeats.

`SupervisorCore` sits between the controller and the hardware. Every method takes `now` (s, the
caller's clock: sim time in simulation), so tests drive it on a fake clock.

- `check_trajectory(traj, now, current_positions)` -> `Verdict`: the trajectory to forward, or
  the reason it was rejected. It never raises on bad input: every problem becomes a rejection
  reason (the message names the joint/point). Checks, in order: the supervisor's state
  (e-stop, dead nodes), `validate_trajectory` (names, lengths, NaN/inf, position/velocity
  limits, time order, start time), measured positions available, the step from the measured
  position to the first point, velocities implied by position differences, accelerations
  (cubic Hermite segments where the points carry velocities, finite differences of the
  segment velocities otherwise), then (with a `HandKinematics`) per point and segment midpoint:
  the hands' workspace box, keep-out boxes (tables) and self-collision margins. A posture that
  already violates a box/contact is allowed to move back out, not further in.
- Hold: on e-stop, watchdog timeout, a dead required node or sustained over-effort the
  core returns a hold trajectory (one point, zero velocities) for the caller to publish once:
  at the positions the servos are commanded to at that instant (the last forwarded command
  sampled then; measured positions for joints never commanded, and for an over-effort hold).
  E-stop is latched until `release_estop`; a watchdog/effort hold ends with the next valid
  command; a heartbeat hold ends when every required node is back.
- E-stop while walking (`walk_stop_time` > 0): freezing a biped mid-step (one foot in the air,
  the centre of mass moving) tips it over, so when leg commands were moving the legs
  (`walking_velocity`) within the last `walking_window` s, the e-stop is a controlled stop
  (like IEC 60204-1 stop category 2): arms, head and grippers hold at once; leg and waist
  commands are still accepted - and still checked against every limit - for at most
  `walk_stop_time` s so the gait can put the swing foot down and close the feet; then, or as
  soon as no command came for `stop_idle` s (the controller stops streaming once it stands)
  while the base is still (`note_base_speed` below `stop_base_speed` m/s, or no odometry), or
  no command came for `stop_idle_max` s (a controller that stopped or died), every joint holds
  where it is commanded (see Hold). The base-speed condition matters on a loaded machine: a
  controller that paused 0.2 s mid-balance and then went on was cut off by the hold, and the
  robot, frozen while still swaying, fell (over ROS, 1 of 2 runs on the 2-core machine). Any other
  joint in a command during that window is dropped from it. `walk_stop_time` = 0 holds
  everything at once.
- Watchdog (like ros2_control's `cmd_timeout`): armed by an accepted command; fires when no
  new command arrived `watchdog_timeout` s after the end of the last accepted trajectory.
- Heartbeats: `note_heartbeat(node, now)`; a required node is dead when it was seen and then
  silent for `heartbeat_timeout` s, or never seen within `startup_grace` s of the start.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import math

import numpy as np

from humanoid_core.robot.description import GRIPPER_MAX_WIDTH, ROBOT_INFO
from humanoid_core.safety.kinematics import HandKinematics, base_to_world
from humanoid_core.safety.limits import SafetyLimits
from humanoid_core.sim.trajectory import (
    JointTrajectory,
    TrajectoryError,
    TrajectoryPoint,
    TrajectorySampler,
    validate_trajectory,
)

__all__ = ['HOLD_REASONS', 'SafetyState', 'SupervisorCore', 'Verdict']

HOLD_REASONS = ('estop', 'heartbeat', 'watchdog', 'effort')
_EPS = 1e-9


@dataclass(frozen=True)
class Verdict:
    """Outcome of a command check: `trajectory` to forward, or None and the `reason`."""

    trajectory: JointTrajectory | None
    reason: str = ''

    @property
    def accepted(self) -> bool:
        return self.trajectory is not None


@dataclass(frozen=True)
class SafetyState:
    """What `safety/status` publishes."""

    ready: bool  # a measured position of every guarded joint (else commands are rejected)
    estopped: bool
    holding: bool
    reason: str
    dead_nodes: tuple[str, ...]
    last_rejection: str
    rejected_commands: int


class _Commanded:
    """A forwarded command and the measured positions it started from; its sampler is built
    only when a hold needs it (commands arrive at the control rate, holds rarely)."""

    def __init__(self, traj: JointTrajectory, initial: Sequence[float]) -> None:
        self.traj = traj
        self.initial = initial
        self._sampler: TrajectorySampler | None = None

    def position(self, index: int, now: float) -> float:
        if self._sampler is None:
            self._sampler = TrajectorySampler(self.traj, self.initial)
        return float(self._sampler.sample(now)[0][index])


@dataclass
class _Bookkeeping:
    holds: dict[str, str] = field(default_factory=dict)  # reason key -> detail
    last_seen: dict[str, float] = field(default_factory=dict)
    dead: tuple[str, ...] = ()
    watchdog_deadline: float | None = None
    over_effort_since: dict[str, float] = field(default_factory=dict)
    positions: dict[str, float] = field(default_factory=dict)
    positions_time: float | None = None
    legs_moving_at: float | None = None
    controlled_stop_until: float | None = None
    estop_detail: str = ''  # the e-stop's hold reason without the controlled-stop note
    last_command_at: float | None = None
    base_speed: float | None = None  # m/s, horizontal, from odometry (None: none received)
    # per joint: the last accepted command that moves it and the joint's index there
    commanded: dict[str, tuple[_Commanded, int]] = field(default_factory=dict)
    last_rejection: str = ''
    rejected: int = 0
    accepted: int = 0


class SupervisorCore:
    """State and checks of the safety supervisor (see the module docstring)."""

    def __init__(
        self,
        limits: SafetyLimits,
        now: float,
        *,
        watchdog_timeout: float = 0.5,
        heartbeat_timeout: float = 1.0,
        required_nodes: Sequence[str] = (),
        startup_grace: float = 30.0,
        hold_time: float = 0.0,
        kinematics: HandKinematics | None = None,
        start_tolerance: float = 0.05,
        walk_stop_time: float = 0.0,
        walking_velocity: float = 0.3,
        walking_window: float = 1.0,
        stop_idle: float = 0.2,
        stop_idle_max: float = 1.0,
        stop_base_speed: float = 0.05,
        hold_lead_max: float = 0.03,
    ) -> None:
        for name, value in (
            ('watchdog_timeout', watchdog_timeout),
            ('hold_lead_max', hold_lead_max),
            ('heartbeat_timeout', heartbeat_timeout),
            ('startup_grace', startup_grace),
            ('hold_time', hold_time),
            ('walk_stop_time', walk_stop_time),
            ('walking_velocity', walking_velocity),
            ('walking_window', walking_window),
            ('stop_idle', stop_idle),
            ('stop_idle_max', stop_idle_max),
            ('stop_base_speed', stop_base_speed),
        ):
            if not (math.isfinite(value) and value >= 0.0):
                raise ValueError(f'{name} must be a finite number >= 0, got {value}')
        if heartbeat_timeout <= 0.0 and required_nodes:
            raise ValueError('heartbeat_timeout must be > 0 when required_nodes is not empty')
        self.limits = limits
        self.watchdog_timeout = float(watchdog_timeout)
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.required_nodes = tuple(n for n in required_nodes if n)
        self.startup_grace = float(startup_grace)
        self._hb_start: float | None = None
        self.hold_time = float(hold_time)
        self.kinematics = kinematics
        self.start_tolerance = start_tolerance
        self.start = float(now)
        self._b = _Bookkeeping()
        self._hold_joints = tuple(n for n in limits.joints if n not in set(ROBOT_INFO.grippers))
        self.walk_stop_time = float(walk_stop_time)
        self.walking_velocity = float(walking_velocity)
        self.walking_window = float(walking_window)
        self.stop_idle = float(stop_idle)
        self.stop_idle_max = max(float(stop_idle_max), self.stop_idle)
        self.stop_base_speed = float(stop_base_speed)
        self.controlled_stop_report = ''
        self._gait_joints = frozenset(ROBOT_INFO.legs) | frozenset(ROBOT_INFO.waist)
        self.hold_lead_max = float(hold_lead_max)

    # ---------------------------------------------------------------- state
    @property
    def estopped(self) -> bool:
        return 'estop' in self._b.holds

    @property
    def holding(self) -> bool:
        return bool(self._b.holds)

    @property
    def stopping_gait(self) -> bool:
        """In the controlled stop of an e-stop while walking (legs may still move)."""
        return self._b.controlled_stop_until is not None

    def legs_moving(self, now: float) -> bool:
        """Accepted commands moved a leg faster than `walking_velocity` within the last
        `walking_window` s."""
        t = self._b.legs_moving_at
        return t is not None and now - t <= self.walking_window

    @property
    def ready(self) -> bool:
        """A measured position of every joint the supervisor guards (grippers excepted) has
        arrived: before that every command is rejected ("no measured position")."""
        positions = self._b.positions
        return all(n in positions for n in self._hold_joints)

    @property
    def dead_nodes(self) -> tuple[str, ...]:
        return self._b.dead

    @property
    def accepted_commands(self) -> int:
        return self._b.accepted

    def state(self) -> SafetyState:
        """A snapshot for `safety/status`."""
        reason = '; '.join(self._b.holds[k] for k in HOLD_REASONS if k in self._b.holds)
        return SafetyState(
            ready=self.ready,
            estopped=self.estopped,
            holding=self.holding,
            reason=reason,
            dead_nodes=self._b.dead,
            last_rejection=self._b.last_rejection,
            rejected_commands=self._b.rejected,
        )

    # ---------------------------------------------------------------- inputs
    def update_joint_state(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        efforts: Sequence[float] | None,
        now: float,
    ) -> JointTrajectory | None:
        """Record measured positions; check efforts. Returns a hold trajectory when a
        sustained over-effort starts a hold (publish it), else None."""
        for name, q in zip(names, positions, strict=False):
            if math.isfinite(q):
                self._b.positions[name] = float(q)
        self._b.positions_time = now
        if not efforts:
            return None
        worst = ''
        for name, e in zip(names, efforts, strict=False):
            lim = self.limits.joints.get(name)
            if lim is None or not math.isfinite(lim.effort):
                continue
            if math.isfinite(e) and abs(e) <= lim.effort * (1.0 + 1e-6):
                self._b.over_effort_since.pop(name, None)
                continue
            since = self._b.over_effort_since.setdefault(name, now)
            if now - since >= self.limits.effort_hold_time and not worst:
                worst = (
                    f'effort: {name} at {e:.1f} over its limit {lim.effort:.1f} '
                    f'for {now - since:.2f} s'
                )
        if worst and 'effort' not in self._b.holds:
            # at the measured positions: the commanded ones are what the joint pushes towards
            return self._start_hold('effort', worst, None)
        return None

    def note_base_speed(self, speed: float) -> None:
        """The base's latest horizontal speed (m/s, from odometry); ends a controlled stop
        only when still (see the module docstring). Non-finite values are ignored."""
        if math.isfinite(speed):
            self._b.base_speed = abs(float(speed))

    def note_heartbeat(self, node: str, now: float) -> None:
        """`node` published its diagnostics at `now`."""
        self._b.last_seen[node] = float(now)

    def engage_estop(self, now: float, source: str = '') -> JointTrajectory | None:
        """Latch the e-stop. Returns the hold trajectory to publish (None if already engaged
        or no joint state was received yet)."""
        if self.estopped:
            return None
        detail = self._b.estop_detail = 'estop' + (f' (from {source})' if source else '')
        if self.walk_stop_time > 0.0 and self.legs_moving(now):
            self._b.controlled_stop_until = now + self.walk_stop_time
            self._b.last_command_at = now
            detail += (
                f'; walking: controlled stop, the legs finish the step (at most '
                f'{self.walk_stop_time:g} s) before the hold'
            )
            self._b.holds['estop'] = detail
            return self.hold_trajectory(exclude=self._gait_joints, now=now)
        return self._start_hold('estop', detail, now, force=True)

    def release_estop(self, now: float) -> bool:
        """Release a latched e-stop; True if it was engaged. The robot keeps holding its
        position until the next valid command."""
        if not self.estopped:
            return False
        del self._b.holds['estop']
        self._b.controlled_stop_until = None
        self._b.watchdog_deadline = None
        return True

    def tick(self, now: float, heartbeat_now: float | None = None) -> JointTrajectory | None:
        """Periodic check of watchdog and heartbeats; returns a hold trajectory to publish
        when a new hold starts.

        ``heartbeat_now`` is the clock the heartbeats were noted on (default: ``now``). Nodes
        on simulated time pass a steady wall clock here: a process dying is a wall-clock
        event, and sim time jumps when the simulator's /clock first arrives.
        """
        hb_now = now if heartbeat_now is None else heartbeat_now
        hold = None
        until = self._b.controlled_stop_until
        last = self._b.last_command_at
        silent = 0.0 if last is None else now - last
        speed = self._b.base_speed
        still = speed is None or speed < self.stop_base_speed
        idle = silent > self.stop_idle_max or (silent > self.stop_idle and still)
        if until is not None and (now >= until or idle):
            # the gait has stopped (or ran out of time): hold every joint where it is
            self._b.controlled_stop_until = None
            took = now - (until - self.walk_stop_time)
            if now >= until:
                why = 'time limit'
            else:
                why = f'no command for {silent:.2f} s' + (
                    '' if speed is None else f', base at {speed:.3f} m/s'
                )
            self.controlled_stop_report = f'controlled stop ended after {took:.2f} s ({why})'
            self._b.holds['estop'] = self._b.estop_detail
            hold = self.hold_trajectory(now=now)
        if self._hb_start is None:
            # Grace period counts from construction, or from the first tick on a separate
            # heartbeat clock.
            self._hb_start = self.start if heartbeat_now is None else heartbeat_now
        dead = []
        for node in self.required_nodes:
            seen = self._b.last_seen.get(node)
            if seen is None:
                if self.startup_grace > 0.0 and hb_now - self._hb_start > self.startup_grace:
                    dead.append(node)
            elif hb_now - seen > self.heartbeat_timeout:
                dead.append(node)
        dead_t = tuple(dead)
        if dead_t != self._b.dead:
            self._b.dead = dead_t
            if dead_t:
                detail = f'dead nodes: {list(dead_t)} (no diagnostics heartbeat)'
                if 'heartbeat' in self._b.holds:
                    self._b.holds['heartbeat'] = detail
                else:
                    hold = self._start_hold('heartbeat', detail, now)
            else:
                self._b.holds.pop('heartbeat', None)
        deadline = self._b.watchdog_deadline
        if self.watchdog_timeout > 0.0 and deadline is not None and now > deadline:
            self._b.watchdog_deadline = None
            if 'watchdog' not in self._b.holds:
                late = now - deadline + self.watchdog_timeout
                h = self._start_hold('watchdog', f'watchdog: no new command for {late:.2f} s', now)
                hold = hold or h
        return hold

    # ---------------------------------------------------------------- holds
    def _start_hold(
        self, key: str, detail: str, now: float | None, force: bool = False
    ) -> JointTrajectory | None:
        new = not self._b.holds
        self._b.holds[key] = detail
        if not (new or force):
            # Already holding for another reason: the robot holds; no second command needed.
            return None
        return self.hold_trajectory(now=now)

    def _note_commanded(self, traj: JointTrajectory, now: float) -> None:
        """Remember where `traj` (validated, forwarded) commands its joints, for holds."""
        initial = [self._b.positions.get(n, p) for n, p in
                   zip(traj.joint_names, traj.points[0].positions, strict=True)]  # fmt: skip
        command = _Commanded(traj, initial)
        for i, name in enumerate(traj.joint_names):
            self._b.commanded[name] = (command, i)

    def hold_trajectory(
        self, exclude: frozenset[str] = frozenset(), now: float | None = None
    ) -> JointTrajectory | None:
        """One point, zero velocities, at the positions the servos are commanded to at `now`:
        the last forwarded command sampled then (where it ends, once it has ended); the
        measured position for a joint never commanded, or with `now` None. Grippers and
        `exclude` left out; None without a joint state. Arms and neck (not the legs and waist,
        which carry the body) hold at most `hold_lead_max` rad from their measured position:
        a moving arm lags behind its command by more than it sags, and should stop where it
        is, not travel its lag first.

        Holding the measured positions instead moves a position-servoed robot: under load
        every joint sits a little below its target (servo sag), so a target at the measured
        position sags once more. A robot standing still after an e-stop while walking tipped
        over backwards on that hold (end to end over ROS, 2 of 6 runs). With the commanded
        positions for every joint, an arm moving at 0.3-0.8 rad/s took 84-180 ms of sim time
        to stop after an e-stop, and one nearly still at the start of a swing moved to its
        command for 384 ms (`humanoid bench safety`, 2026-11-28)."""
        names = tuple(n for n in self._hold_joints if n in self._b.positions and n not in exclude)
        if not names:
            return None
        positions = []
        for n in names:
            ref = self._b.commanded.get(n)
            if ref is None or now is None:
                positions.append(self._b.positions[n])
            else:
                command, i = ref
                target = command.position(i, now)
                if n not in self._gait_joints:
                    measured = self._b.positions[n]
                    lead = self.hold_lead_max
                    target = min(max(target, measured - lead), measured + lead)
                positions.append(target)
        point = TrajectoryPoint(
            positions=tuple(positions),
            velocities=tuple(0.0 for _ in names),
            time_from_start=self.hold_time,
        )
        hold = JointTrajectory(names, (point,), None)
        if now is not None:  # the hold is what the servos are commanded to from now on
            self._note_commanded(JointTrajectory(names, (point,), now), now)
        return hold

    # ---------------------------------------------------------------- commands
    def reject(self, reason: str) -> Verdict:
        """Count and remember a rejection (also for rejections found by the caller)."""
        self._b.rejected += 1
        self._b.last_rejection = reason
        return Verdict(None, reason)

    def _blocked(self) -> str:
        if self.estopped and not self.stopping_gait:
            return 'e-stop engaged: commands are rejected until it is released'
        if 'heartbeat' in self._b.holds:
            return f'required nodes are dead {list(self._b.dead)}: commands are rejected'
        return ''

    def check_gripper(self, hand: str, width: float) -> str:
        """'' if a gripper command may pass, else the reason (the caller counts it with
        `reject`)."""
        blocked = self._blocked()
        if blocked:
            return blocked
        if self.estopped:  # the controlled stop of the gait moves legs, never grippers
            return 'e-stop engaged: commands are rejected until it is released'
        if hand not in ('left', 'right'):
            return f"unknown hand {hand!r}; hands: ['left', 'right']"
        if not math.isfinite(width):
            return f'{hand} gripper width is not finite: {width}'
        if width < -1e-6 or width > GRIPPER_MAX_WIDTH + 1e-6:
            return f'{hand} gripper width {width:.4f} m is outside [0, {GRIPPER_MAX_WIDTH}] m'
        return ''

    def check_trajectory(
        self,
        traj: JointTrajectory,
        now: float,
        current_positions: Mapping[str, float] | None = None,
        base_pose: tuple[float, float, float] | None = None,
    ) -> Verdict:
        """Check a command; on acceptance the watchdog is re-armed and watchdog/effort holds
        end. `current_positions` defaults to the last `update_joint_state`; `base_pose`
        (x, y, yaw in world) enables the world-frame keep-out boxes."""
        blocked = self._blocked()
        if blocked:
            return self.reject(blocked)
        if self.stopping_gait:
            traj = self._gait_only(traj)
            if not traj.joint_names:
                return self.reject('e-stop engaged (controlled stop of the gait): only leg and '
                                   'waist commands pass until the feet are down')  # fmt: skip
        current = self._b.positions if current_positions is None else current_positions
        try:
            reason = self._check(traj, now, current, base_pose)
        except TrajectoryError as exc:
            reason = str(exc)
        except (ValueError, TypeError, OverflowError, ArithmeticError) as exc:
            reason = f'malformed trajectory: {exc}'
        if reason:
            return self.reject(reason)
        validated = validate_trajectory(
            traj, self.limits.joints, now, start_tolerance=self.start_tolerance
        )
        assert validated.start_time is not None
        end = validated.start_time + validated.points[-1].time_from_start
        self._b.watchdog_deadline = max(now, end) + self.watchdog_timeout
        self._note_commanded(validated, now)
        for key in ('watchdog', 'effort'):
            if key == 'effort' and self._b.over_effort_since:
                continue
            self._b.holds.pop(key, None)
        self._b.accepted += 1
        self._b.last_command_at = now
        if self._moves_legs(validated, current):
            self._b.legs_moving_at = now
        return Verdict(validated)

    def _gait_only(self, traj: JointTrajectory) -> JointTrajectory:
        """`traj` restricted to leg and waist joints (malformed input is left to the checks)."""
        try:
            keep = [i for i, n in enumerate(traj.joint_names) if n in self._gait_joints]
            if len(keep) == len(traj.joint_names):
                return traj
            points = tuple(
                TrajectoryPoint(
                    tuple(p.positions[i] for i in keep),
                    None if p.velocities is None else tuple(p.velocities[i] for i in keep),
                    p.time_from_start,
                )
                for p in traj.points
            )
        except (IndexError, TypeError):
            return traj
        return JointTrajectory(tuple(traj.joint_names[i] for i in keep), points, traj.start_time)

    def _moves_legs(self, traj: JointTrajectory, current: Mapping[str, float]) -> bool:
        """Any leg joint commanded faster than `walking_velocity` (point velocities, or the
        position change from the measured position and between points)."""
        idx = [i for i, n in enumerate(traj.joint_names) if n in ROBOT_INFO.legs]
        if not idx:
            return False
        prev = TrajectoryPoint(tuple(current.get(n, 0.0) for n in traj.joint_names), None, 0.0)
        for p in traj.points:
            if p.velocities is not None and any(
                abs(p.velocities[i]) > self.walking_velocity for i in idx
            ):
                return True
            if p.time_from_start > prev.time_from_start:
                h = p.time_from_start - prev.time_from_start
                if any(abs(p.positions[i] - prev.positions[i]) / h > self.walking_velocity
                       for i in idx):  # fmt: skip
                    return True
            prev = p
        return False

    def _check(
        self,
        traj: JointTrajectory,
        now: float,
        current: Mapping[str, float],
        base_pose: tuple[float, float, float] | None,
    ) -> str:
        lim = self.limits
        validated = validate_trajectory(
            traj, lim.joints, now, start_tolerance=self.start_tolerance
        )
        names = validated.joint_names
        missing = [n for n in names if n not in current]
        if missing:
            return f'no measured position for joints {missing} (no joint_states yet?)'
        q_now = np.array([current[n] for n in names], dtype=float)
        vmax = np.array([lim.joints[n].velocity for n in names])
        amax = np.array([lim.joints[n].acceleration for n in names])
        vtol = 1.0 + lim.velocity_tolerance
        times = [0.0] + [p.time_from_start for p in validated.points]
        pos: list[np.ndarray] = [q_now]
        pos += [np.asarray(p.positions, dtype=float) for p in validated.points]
        vel: list[np.ndarray | None] = [np.zeros(len(names))]
        vel += [
            None if p.velocities is None else np.asarray(p.velocities, dtype=float)
            for p in validated.points
        ]
        labels = ['the measured position'] + [f'point {i}' for i in range(len(validated.points))]
        first = validated.points[0]
        if first.time_from_start <= _EPS:
            jump = np.abs(pos[1] - q_now)
            k = int(np.argmax(jump))
            if jump[k] > lim.max_start_jump + 1e-9:
                return (
                    f'point 0 (at t=0) jumps {names[k]} by {jump[k]:.4f} from its measured '
                    f'position {q_now[k]:.4f} (max_start_jump {lim.max_start_jump})'
                )
            # a t=0 point replaces the start: segments begin there
            times, pos, vel, labels = times[1:], pos[1:], vel[1:], labels[1:]
        seg_v: list[np.ndarray] = []
        for k in range(1, len(times)):
            h = times[k] - times[k - 1]
            v = (pos[k] - pos[k - 1]) / h
            seg_v.append(v)
            over = np.abs(v) - vmax * vtol
            j = int(np.argmax(over))
            if over[j] > 1e-9:
                return (
                    f'{names[j]} would move at {abs(v[j]):.3f} from {labels[k - 1]} to '
                    f'{labels[k]} (position difference / time), over its velocity limit '
                    f'{vmax[j]:.3f}'
                )
            v0, v1 = vel[k - 1], vel[k]
            if v0 is not None and v1 is not None:
                dp = pos[k] - pos[k - 1]
                a0 = 6 * dp / h**2 - (4 * v0 + 2 * v1) / h
                a1 = -6 * dp / h**2 + (2 * v0 + 4 * v1) / h
                acc = np.maximum(np.abs(a0), np.abs(a1))
                over = acc - amax * vtol
                j = int(np.argmax(over))
                if over[j] > 1e-9:
                    return (
                        f'{names[j]} would accelerate at {acc[j]:.2f} between {labels[k - 1]} '
                        f'and {labels[k]}, over its acceleration limit {amax[j]:.2f}'
                    )
        for k in range(1, len(seg_v)):
            if vel[k] is not None and vel[k - 1] is not None and vel[k + 1] is not None:
                continue  # Hermite segments were checked exactly above
            h = 0.5 * (times[k + 1] - times[k - 1])
            acc = np.abs(seg_v[k] - seg_v[k - 1]) / h
            over = acc - amax * vtol
            j = int(np.argmax(over))
            if over[j] > 1e-9:
                return (
                    f'{names[j]} would accelerate at {acc[j]:.2f} around {labels[k]} '
                    f'(velocity change between segments), over its acceleration limit '
                    f'{amax[j]:.2f}'
                )
        if self.kinematics is not None:
            return self._check_postures(names, pos, labels, current, base_pose, now)
        return ''

    def _check_postures(
        self,
        names: tuple[str, ...],
        pos: list[np.ndarray],
        labels: list[str],
        current: Mapping[str, float],
        base_pose: tuple[float, float, float] | None,
        now: float,
    ) -> str:
        """'' if no sampled posture of the command is in a workspace, keep-out or
        self-collision violation worse than the robot is in already, else the reason.

        "Already" is the worse of the measured posture and the posture the servos are
        commanded to now: under load every joint sags a little below its target, so a
        command that holds still (its first point at the current target) reaches a few mm
        further than the measurement. Judged against the measurement alone, a hand that ended
        a walk inside a table's keep-out margin had every later command rejected, even the
        ones moving it out (the robot could not walk away; lab benchmark, 1 of 41 tasks)."""
        assert self.kinematics is not None
        full = dict(current)
        ref = self.kinematics.evaluate(full)
        ref_out = self._violations(ref.hands, ref.contacts, base_pose)
        commanded_out: dict[str, tuple[float, str]] | None = None
        samples: list[tuple[str, np.ndarray]] = []
        for k in range(len(pos)):
            if k > 0:
                samples.append(
                    (f'between {labels[k - 1]} and {labels[k]}', 0.5 * (pos[k] + pos[k - 1]))
                )
            if labels[k].startswith('point'):
                samples.append((f'at {labels[k]}', pos[k]))
        for where, q in samples:
            full.update(zip(names, q.tolist(), strict=True))
            posture = self.kinematics.evaluate(full)
            out = self._violations(posture.hands, posture.contacts, base_pose)
            for key, (amount, text) in out.items():
                before = ref_out.get(key, (0.0, ''))[0]
                if amount <= before + 1e-4:
                    continue
                if commanded_out is None:  # rare: only built when the measurement is not enough
                    commanded_out = self._commanded_violations(current, base_pose, now)
                if amount > commanded_out.get(key, (0.0, ''))[0] + 1e-4:
                    return f'{where}: {text}'
        return ''

    def _commanded_violations(
        self,
        current: Mapping[str, float],
        base_pose: tuple[float, float, float] | None,
        now: float,
    ) -> dict[str, tuple[float, str]]:
        """Violations of the posture the servos are commanded to at `now` (the measured
        position for joints never commanded); empty before any command."""
        assert self.kinematics is not None
        if not self._b.commanded:
            return {}
        full = dict(current)
        for name, (command, i) in self._b.commanded.items():
            full[name] = command.position(i, now)
        posture = self.kinematics.evaluate(full)
        return self._violations(posture.hands, posture.contacts, base_pose)

    def _violations(
        self,
        hands: Mapping[str, np.ndarray],
        contacts: Sequence[tuple[str, str, float]],
        base_pose: tuple[float, float, float] | None,
    ) -> dict[str, tuple[float, str]]:
        """Violation key -> (how bad, m; message)."""
        lim = self.limits
        out: dict[str, tuple[float, str]] = {}
        for side, p in hands.items():
            box = lim.hand_workspace
            if box is not None:
                d = box.outside_by(p)
                if d > 0.0:
                    out[f'ws:{side}'] = (
                        d,
                        f'{side} hand at {np.round(p, 3).tolist()} (base frame) is {d:.3f} m '
                        f'outside the workspace box {list(box.min)}..{list(box.max)}',
                    )
            for box in lim.keep_out:
                if box.frame == 'world':
                    if base_pose is None:
                        continue
                    q = base_to_world(p, base_pose)
                else:
                    q = p
                depth = _penetration(q, box.min, box.max, lim.keep_out_margin)
                if depth > 0.0:
                    out[f'ko:{side}:{box.name}'] = (
                        depth,
                        f'{side} hand at {np.round(q, 3).tolist()} ({box.frame} frame) is '
                        f'within {lim.keep_out_margin} m of keep-out box {box.name!r}',
                    )
        for a, b, dist in contacts:
            if dist < lim.self_collision_margin and (a, b) not in lim.self_collision_ignore:
                amount = lim.self_collision_margin - dist
                key = f'sc:{a}:{b}'
                if amount > out.get(key, (0.0, ''))[0]:
                    out[key] = (
                        amount,
                        f'self-collision: {a} and {b} are {dist:.4f} m apart (margin '
                        f'{lim.self_collision_margin} m)',
                    )
        return out


def _penetration(p: np.ndarray, lo: Sequence[float], hi: Sequence[float], margin: float) -> float:
    """Depth of `p` inside the box grown by `margin` (0 outside)."""
    depth = math.inf
    for x, a, b in zip(p, lo, hi, strict=True):
        d = min(x - (a - margin), (b + margin) - x)
        if d <= 0.0:
            return 0.0
        depth = min(depth, d)
    return float(depth)
