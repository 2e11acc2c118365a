"""Footstep planning and the gait timeline (which foot is where, and the ZMP reference, when).

Poses on the floor are `Pose2D(x, y, yaw)` in the world frame. A `FootstepPlan` is the two
initial foot poses plus an ordered list of `Footstep`s; each step moves one foot (`side`) to a
new pose while the other foot supports, and sides alternate. The planner spaces steps evenly
along the path from the start base pose to the goal base pose (or along the path a velocity
command would follow) within step-length, lateral-step and turning limits, picks the leading
foot so the feet open rather than cross (left first when moving left or turning left), and
ends with a closing step that places both feet side by side at the goal.

`GaitTimeline` assigns times: an initial double support (the ZMP moves from between the feet
onto the first support foot), then for every step a single-support phase (the swing foot
travels) followed by a double-support phase (the ZMP moves onto the foot that just landed),
and a final double support that brings the ZMP back between the feet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np
from numpy.typing import NDArray

__all__ = [
    'SIDES',
    'Footstep',
    'FootstepLimits',
    'FootstepPlan',
    'FootstepPlanner',
    'GaitPhase',
    'GaitTimeline',
    'GaitTiming',
    'Pose2D',
    'other_side',
    'wrap_angle',
]

SIDES = ('left', 'right')


def wrap_angle(a: float) -> float:
    """Angle wrapped to [-pi, pi)."""
    return float((a + math.pi) % (2.0 * math.pi) - math.pi)


def other_side(side: str) -> str:
    """'right' for 'left' and vice versa."""
    if side not in SIDES:
        raise ValueError(f'side must be one of {SIDES}, got {side!r}')
    return 'right' if side == 'left' else 'left'


@dataclass(frozen=True)
class Pose2D:
    """A pose on the floor: position (m) and heading (rad, about +z) in the world frame."""

    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0

    def __post_init__(self) -> None:
        for name in ('x', 'y', 'yaw'):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f'Pose2D.{name} must be finite, got {getattr(self, name)!r}')

    @property
    def xy(self) -> NDArray[np.float64]:
        return np.array([self.x, self.y])

    def compose(self, local: Pose2D) -> Pose2D:
        """This pose followed by `local` expressed in this pose's frame."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        return Pose2D(
            self.x + c * local.x - s * local.y,
            self.y + s * local.x + c * local.y,
            wrap_angle(self.yaw + local.yaw),
        )

    def relative(self, other: Pose2D) -> Pose2D:
        """`other` expressed in this pose's frame (so that self.compose(result) == other)."""
        c, s = math.cos(self.yaw), math.sin(self.yaw)
        dx, dy = other.x - self.x, other.y - self.y
        return Pose2D(c * dx + s * dy, -s * dx + c * dy, wrap_angle(other.yaw - self.yaw))

    def interpolate(self, other: Pose2D, s: float) -> Pose2D:
        """Linear interpolation of position and (shortest-way) heading, s in [0, 1]."""
        dyaw = wrap_angle(other.yaw - self.yaw)
        return Pose2D(
            self.x + s * (other.x - self.x),
            self.y + s * (other.y - self.y),
            wrap_angle(self.yaw + s * dyaw),
        )


@dataclass(frozen=True)
class Footstep:
    """One step: foot `side` is lifted and placed at `pose` (the sole centre on the floor)."""

    side: str
    pose: Pose2D

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f'Footstep.side must be one of {SIDES}, got {self.side!r}')


@dataclass(frozen=True)
class FootstepLimits:
    """Limits of one step relative to the support foot, and the nominal stance width (m, rad).

    `max_step_length`: forward advance of the base per step; `max_backward_step`: backward
    advance per step (None: `max_step_length`); `max_lateral_step`: sideways advance of the
    base per step; `max_turn`: heading change per step; `stance_width`: distance between the
    sole centres when standing.
    """

    max_step_length: float = 0.15
    max_lateral_step: float = 0.06
    max_turn: float = 0.3
    stance_width: float = 0.2
    max_backward_step: float | None = None

    def __post_init__(self) -> None:
        for name in ('max_step_length', 'max_lateral_step', 'max_turn', 'stance_width'):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0.0:
                raise ValueError(f'FootstepLimits.{name} must be positive, got {value!r}')
        back = self.max_backward_step
        if back is not None and not (math.isfinite(back) and back > 0.0):
            raise ValueError(f'FootstepLimits.max_backward_step must be positive, got {back!r}')
        if self.max_lateral_step >= self.stance_width:
            raise ValueError(
                f'FootstepLimits.max_lateral_step ({self.max_lateral_step}) must be smaller '
                f'than stance_width ({self.stance_width}) or the feet would cross'
            )

    @property
    def backward_step(self) -> float:
        """The backward advance limit per step (m)."""
        return self.max_step_length if self.max_backward_step is None else self.max_backward_step


@dataclass(frozen=True)
class FootstepPlan:
    """Initial foot poses and the ordered steps (sides alternate)."""

    initial_left: Pose2D
    initial_right: Pose2D
    steps: tuple[Footstep, ...] = ()

    def initial(self, side: str) -> Pose2D:
        return self.initial_left if side == 'left' else self.initial_right

    def final(self, side: str) -> Pose2D:
        """Where foot `side` ends up after the whole plan."""
        pose = self.initial(side)
        for step in self.steps:
            if step.side == side:
                pose = step.pose
        return pose

    def final_base(self) -> Pose2D:
        """Midpoint of the final feet, heading = mean foot heading."""
        left, right = self.final('left'), self.final('right')
        yaw = wrap_angle(right.yaw + 0.5 * wrap_angle(left.yaw - right.yaw))
        return Pose2D(0.5 * (left.x + right.x), 0.5 * (left.y + right.y), yaw)


def feet_for_base(base: Pose2D, stance_width: float) -> tuple[Pose2D, Pose2D]:
    """(left, right) sole poses of a robot standing with its base at `base`."""
    half = 0.5 * stance_width
    return base.compose(Pose2D(0.0, half, 0.0)), base.compose(Pose2D(0.0, -half, 0.0))


class FootstepPlanner:
    """Footstep plans to a goal pose or from a velocity command, within `limits`."""

    def __init__(self, limits: FootstepLimits | None = None) -> None:
        self.limits = limits or FootstepLimits()

    def steps_needed(self, start: Pose2D, goal: Pose2D) -> int:
        """Number of base increments (not counting the closing step) to go start -> goal."""
        rel = start.relative(goal)
        # Distances along the start heading's axes, and the turn.
        lim = self.limits
        step_x = lim.max_step_length if rel.x >= 0 else lim.backward_step
        n = max(
            math.ceil(abs(rel.x) / step_x - 1e-9),
            math.ceil(abs(rel.y) / lim.max_lateral_step - 1e-9),
            math.ceil(abs(rel.yaw) / lim.max_turn - 1e-9),
        )
        return int(n)

    def plan_to_pose(
        self,
        start: Pose2D,
        goal: Pose2D,
        *,
        initial_feet=None,
        first_side: str | None = None,
    ) -> FootstepPlan:
        """Steps from standing at base pose `start` to standing at base pose `goal`.

        The base path is the straight line with the heading interpolated linearly, cut into
        equal increments within the limits (checked in the start frame: fine for goals within
        a few metres and turns up to about 90 degrees; larger moves: plan in legs).
        `initial_feet` = (left, right) overrides the nominal stance at `start`; `first_side`
        the foot that moves first. A first foot that lags behind (a re-plan after a step that
        landed short) takes a shorter catch-up step: no forward stride exceeds `max_stride`.
        """
        lim = self.limits
        left0, right0 = initial_feet or feet_for_base(start, lim.stance_width)
        rel = start.relative(goal)
        first = first_side or self._leading_side(rel)
        path_start = self._catch_up_start(start, left0 if first == 'left' else right0, rel.x)
        n = self.steps_needed(path_start, goal)
        if n == 0:
            return FootstepPlan(left0, right0, ())
        bases = [path_start.interpolate(goal, (k + 1) / n) for k in range(n)]
        return self._plan_from_bases(left0, right0, bases, first)

    def max_stride(self) -> float:
        """The longest forward travel of one foot in one step (m): twice the base advance
        per step (steady walking moves each foot from one step behind the base to one step
        ahead of it)."""
        return 2.0 * self.limits.max_step_length

    def _catch_up_start(self, start: Pose2D, first_foot: Pose2D, travel_x: float) -> Pose2D:
        """Where the base path starts so that the first step's stride stays within
        `max_stride`: `start` itself, or, walking forwards, a point behind it when the first
        foot to move lags more than one step behind the base."""
        if travel_x <= 1e-9:
            # Forward walks only: re-planning a backward retreat this way (its 0.1 m steps
            # land a few cm off) made a walk that turned around afterwards fall (in-process,
            # commands 0-30 ms late: test_walking_latency.py seed 0)
            return start
        ox = start.relative(first_foot).x  # the first foot along the base's heading
        shift = min(0.0, self.limits.max_step_length + ox)
        return start.compose(Pose2D(shift, 0.0, 0.0)) if shift else start

    def plan_velocity(
        self,
        start: Pose2D,
        velocity: tuple[float, float, float],
        step_period: float,
        n_steps: int,
        *,
        initial_feet=None,
        first_side: str | None = None,
        close: bool = True,
    ) -> FootstepPlan:
        """`n_steps` steps following a body-frame velocity command (vx, vy, wz) (m/s, rad/s).

        Each step advances the base by velocity * step_period (a base twist integrated in the
        base frame), clipped to the limits. `close=True` adds the closing step.
        """
        if n_steps < 0:
            raise ValueError(f'n_steps must be >= 0, got {n_steps}')
        if not step_period > 0.0:
            raise ValueError(f'step_period must be positive, got {step_period}')
        lim = self.limits
        vx, vy, wz = (float(v) for v in velocity)
        if not all(math.isfinite(v) for v in (vx, vy, wz)):
            raise ValueError(f'velocity must be finite, got {velocity}')
        dx = float(np.clip(vx * step_period, -lim.backward_step, lim.max_step_length))
        dy = float(np.clip(vy * step_period, -lim.max_lateral_step, lim.max_lateral_step))
        dyaw = float(np.clip(wz * step_period, -lim.max_turn, lim.max_turn))
        left0, right0 = initial_feet or feet_for_base(start, lim.stance_width)
        first = first_side or self._leading_side(Pose2D(dx, dy, dyaw))
        base = self._catch_up_start(start, left0 if first == 'left' else right0, dx)
        bases = []
        for _ in range(n_steps):
            # Integrate the twist over the step (midpoint heading) so turning walks arcs.
            mid = Pose2D(0.0, 0.0, 0.5 * dyaw)
            delta = mid.compose(Pose2D(dx, dy, 0.0))
            base = base.compose(Pose2D(delta.x, delta.y, dyaw))
            bases.append(base)
        return self._plan_from_bases(left0, right0, bases, first, close=close)

    @staticmethod
    def _leading_side(rel: Pose2D) -> str:
        if abs(rel.y) > 1e-6:
            return 'left' if rel.y > 0 else 'right'
        if abs(rel.yaw) > 1e-6:
            return 'left' if rel.yaw > 0 else 'right'
        return 'right'

    def _plan_from_bases(
        self,
        left0: Pose2D,
        right0: Pose2D,
        bases: list[Pose2D],
        first: str,
        close: bool = True,
    ) -> FootstepPlan:
        width = self.limits.stance_width
        steps: list[Footstep] = []
        side = first
        for base in bases:
            left, right = feet_for_base(base, width)
            steps.append(Footstep(side, left if side == 'left' else right))
            side = other_side(side)
        if close and bases:
            left, right = feet_for_base(bases[-1], width)
            steps.append(Footstep(side, left if side == 'left' else right))
        return FootstepPlan(left0, right0, tuple(steps))


@dataclass(frozen=True)
class GaitTiming:
    """Phase durations (s): single support, double support, the first and last double support.

    `start_hold`: the ZMP stays between the feet this long before it starts moving, so the
    preview controller can start the CoM moving early (without it the ZMP would have to jump
    away from the first support foot). `foot_lift` is the swing-foot apex height (m).
    `zmp_inset`: in single support the reference ZMP sits this far (m) inside the support
    sole's centre, towards the other foot (less lateral sway).
    """

    single_support: float = 0.6
    double_support: float = 0.2
    initial_double_support: float = 0.8
    final_double_support: float = 0.8
    start_hold: float = 1.0
    foot_lift: float = 0.04
    zmp_inset: float = 0.0

    def __post_init__(self) -> None:
        for name in (
            'single_support',
            'double_support',
            'initial_double_support',
            'final_double_support',
        ):
            value = getattr(self, name)
            if not math.isfinite(value) or value <= 0.0:
                raise ValueError(f'GaitTiming.{name} must be positive, got {value!r}')
        if not 0.0 <= self.zmp_inset < 0.1:
            raise ValueError(f'GaitTiming.zmp_inset must be in [0, 0.1) m, got {self.zmp_inset}')
        if not math.isfinite(self.start_hold) or self.start_hold < 0.0:
            raise ValueError(f'GaitTiming.start_hold must be >= 0, got {self.start_hold!r}')
        if not 0.0 <= self.foot_lift < 0.3:
            raise ValueError(f'GaitTiming.foot_lift must be in [0, 0.3) m, got {self.foot_lift}')

    @property
    def step_period(self) -> float:
        return self.single_support + self.double_support


@dataclass(frozen=True)
class GaitPhase:
    """One phase of the timeline, [t0, t1).

    kind 'double': both feet on the ground, ZMP moves linearly zmp_from -> zmp_to.
    kind 'single': `support` foot on the ground; foot `swing` travels swing_from -> swing_to;
    ZMP stays at zmp_from (= zmp_to = support sole centre).
    """

    kind: str
    t0: float
    t1: float
    left: Pose2D
    right: Pose2D
    zmp_from: tuple[float, float]
    zmp_to: tuple[float, float]
    support: str | None = None
    swing: str | None = None
    swing_from: Pose2D | None = None
    swing_to: Pose2D | None = None
    step_index: int = -1


@dataclass
class GaitTimeline:
    """The plan laid out in time, starting at `t_start` (s)."""

    plan: FootstepPlan
    timing: GaitTiming = field(default_factory=GaitTiming)
    t_start: float = 0.0
    phases: list[GaitPhase] = field(init=False)

    def __post_init__(self) -> None:
        self.phases = self._build()

    def _build(self) -> list[GaitPhase]:
        tm = self.timing
        feet = {'left': self.plan.initial_left, 'right': self.plan.initial_right}
        phases: list[GaitPhase] = []
        t = self.t_start

        def mid() -> tuple[float, float]:
            return (
                0.5 * (feet['left'].x + feet['right'].x),
                0.5 * (feet['left'].y + feet['right'].y),
            )

        def at(side: str) -> tuple[float, float]:
            inward = -tm.zmp_inset if side == 'left' else tm.zmp_inset
            p = feet[side].compose(Pose2D(0.0, inward, 0.0))
            return (p.x, p.y)

        steps = self.plan.steps
        if not steps:
            c = mid()
            phases.append(
                GaitPhase(
                    'double', t, t + tm.final_double_support, feet['left'], feet['right'], c, c
                )
            )
            return phases
        first_support = other_side(steps[0].side)
        if tm.start_hold > 0.0:
            c = mid()
            phases.append(
                GaitPhase('double', t, t + tm.start_hold, feet['left'], feet['right'], c, c)
            )
            t += tm.start_hold
        phases.append(
            GaitPhase(
                'double',
                t,
                t + tm.initial_double_support,
                feet['left'],
                feet['right'],
                mid(),
                at(first_support),
            )
        )
        t += tm.initial_double_support
        for i, step in enumerate(steps):
            support = other_side(step.side)
            zs = at(support)
            phases.append(
                GaitPhase(
                    'single',
                    t,
                    t + tm.single_support,
                    feet['left'],
                    feet['right'],
                    zs,
                    zs,
                    support=support,
                    swing=step.side,
                    swing_from=feet[step.side],
                    swing_to=step.pose,
                    step_index=i,
                )
            )
            t += tm.single_support
            feet[step.side] = step.pose
            if i + 1 < len(steps):
                phases.append(
                    GaitPhase(
                        'double',
                        t,
                        t + tm.double_support,
                        feet['left'],
                        feet['right'],
                        zs,
                        at(other_side(steps[i + 1].side)),
                        step_index=i,
                    )
                )
                t += tm.double_support
        last_support = other_side(steps[-1].side)
        phases.append(
            GaitPhase(
                'double',
                t,
                t + tm.final_double_support,
                feet['left'],
                feet['right'],
                at(last_support),
                mid(),
                step_index=len(steps) - 1,
            )
        )
        return phases

    @property
    def t_end(self) -> float:
        return self.phases[-1].t1

    @property
    def duration(self) -> float:
        return self.t_end - self.t_start

    def phase_at(self, t: float) -> GaitPhase:
        """The phase containing time t (clamped to the first/last phase)."""
        if t < self.phases[0].t0:
            return self.phases[0]
        for phase in self.phases:
            if t < phase.t1:
                return phase
        return self.phases[-1]

    def zmp_at(self, t: float) -> NDArray[np.float64]:
        """Reference ZMP (x, y) at time t (held constant before the start and after the end)."""
        ph = self.phase_at(t)
        s = float(np.clip((t - ph.t0) / (ph.t1 - ph.t0), 0.0, 1.0))
        a, b = np.asarray(ph.zmp_from), np.asarray(ph.zmp_to)
        return a + s * (b - a)

    def zmp_samples(self, t0: float, n: int, dt: float) -> NDArray[np.float64]:
        """Reference ZMP at t0, t0 + dt, ..., (n, 2)."""
        return np.array([self.zmp_at(t0 + k * dt) for k in range(n)])

    def support_polygon(
        self, t: float, foot_length: float, foot_width: float
    ) -> NDArray[np.float64]:
        """Corners (k, 2) of the support polygon at time t (hull of the supporting soles)."""
        ph = self.phase_at(t)
        feet = []
        if ph.kind == 'double':
            feet = [ph.left, ph.right]
        else:
            feet = [ph.left if ph.support == 'left' else ph.right]
        corners = []
        for f in feet:
            for sx in (-0.5, 0.5):
                for sy in (-0.5, 0.5):
                    p = f.compose(Pose2D(sx * foot_length, sy * foot_width, 0.0))
                    corners.append((p.x, p.y))
        return convex_hull(np.array(corners))


def convex_hull(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Counter-clockwise convex hull of 2-D points (monotone chain)."""
    pts = sorted({(float(x), float(y)) for x, y in points})
    if len(pts) <= 2:
        return np.array(pts)

    def cross(o, a, b) -> float:
        return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])

    lower: list[tuple[float, float]] = []
    for p in pts:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    upper: list[tuple[float, float]] = []
    for p in reversed(pts):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return np.array(lower[:-1] + upper[:-1])


def point_in_polygon_margin(point: NDArray[np.float64], hull: NDArray[np.float64]) -> float:
    """Signed distance from `point` to the edges of a CCW convex polygon (> 0 inside)."""
    p = np.asarray(point, dtype=float)
    margin = math.inf
    n = len(hull)
    for i in range(n):
        a, b = hull[i], hull[(i + 1) % n]
        edge = b - a
        length = float(np.hypot(*edge))
        if length == 0.0:
            continue
        d = (edge[0] * (p[1] - a[1]) - edge[1] * (p[0] - a[0])) / length
        margin = min(margin, d)
    return float(margin)
