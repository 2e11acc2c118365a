"""World model: objects tracked over time, grasp state, relations -> `WorldSnapshot`.

`WorldModel` keeps one `Track` per object. Each detection batch (one camera frame) is
associated with the tracks (same label, nearest first within `match_radius`; a label with a
single track re-identifies it at any distance, so an object moved while unseen keeps its id;
such a jump needs `jump_hits` consecutive frames that agree on the new place, so one spurious
detection - the robot's own grey arm taken for the tray - does not teleport a tracked object).
Tracks not seen in a frame where they should have been visible (the caller's `visible`
predicate: inside the camera view, not hidden) keep their state for `occlusion_grace` seconds,
then lose confidence exponentially and are removed below `expire_confidence` or after
`max_unseen_in_view`; only the time missed while visible counts, so a track hidden for a while
gets its grace again; tracks out of view persist (`max_unseen_out_of_view`, 0 = forever).
Held objects (gripper closed around them at the grasp frame) follow the hand and never expire.
Time going backwards by more than `time_jump_reset` s (a simulator reset restarts its clock at
0; a replayed log loops) starts the model afresh from the scene priors, like tf2 clearing its
buffer on a jump back in time: tracks stamped in the old timeline would never age out.
Relations (`in`, `on`, `held_by`, `near`) come from `humanoid_core.world.geometry.refresh`.
The model's own events (an object reported for the first time, a tracked object moved far or
removed, a restart) go to the optional `log` callable, one line each, so a wrong belief (a
ghost second tray) can be traced in the node's log.
No rclpy: time is passed in by the caller.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
import math
from typing import Any

import numpy as np

from humanoid_core.world.geometry import inside_footprint, is_in, refresh
from humanoid_core.world.types import HANDS, ObjectInfo, Place, WorldSnapshot

__all__ = [
    'HandState',
    'Track',
    'TrackerConfig',
    'WorldModel',
    'hand_states',
    'in_camera_view',
]

Visible = Callable[[tuple[float, float, float]], bool]
PIECE_OVERLAP = 0.02
"""m: a container detection overlapping a tracked container of its label by more than this
is a piece of it (see `WorldModel._container_around`)."""


@dataclass(frozen=True)
class TrackerConfig:
    match_radius: float = 0.08
    """Max distance (m) between a detection and a track of the same label."""
    min_hits: int = 2
    """Detections before a new track is reported."""
    table_tolerance: float = 0.012
    """Detections whose bottom lies more than this (m) below the top of the table under
    them are inside the table and ignored (0 = off)."""
    min_hits_second_container: int = 8
    """Detections before a second container of a label already tracked is reported (about
    1 s of frames). A wrong camera pose for a frame or two once turned the grey station top
    into a second "tray", kept for `max_unseen_container`, and "the tray" became
    ambiguous."""
    smoothing: float = 0.6
    """Weight of a new measurement in the position/yaw filter (1 = no smoothing)."""
    occlusion_grace: float = 1.0
    """Seconds an in-view track may be missed before its confidence decays."""
    decay_rate: float = 1.0
    """Confidence decay (1/s) after the grace period: c *= exp(-rate * dt)."""
    expire_confidence: float = 0.15
    max_unseen_in_view: float = 4.0
    """Seconds after which an in-view track not seen is removed whatever its confidence."""
    max_unseen_out_of_view: float = 0.0
    """Seconds after which a track out of view is removed (0 = never)."""
    jump_hits: int = 3
    """Consecutive frames that must place a tracked object (re-identified by its unique label)
    farther than `match_radius` from its track before the track moves there (1 = at once).
    A scene prior's first sighting moves it at once."""
    self_radius: float = 0.18
    """Detections within this distance (m, in xy) of the robot's base are its own body (grey
    joints look like the grey tray) and are ignored (0 = off)."""
    held_radius: float = 0.07
    """Max distance (m) of an object's centre from a grasp frame for it to be held."""
    grip_margin: float = 0.015
    """Gripper width at most the object's width plus this (m) counts as closed on it."""
    min_grip_width: float = 0.004
    """Gripper narrower than this holds nothing (closed on air)."""
    position_tolerance: float = 0.01
    """Moves (m) smaller than this are not a change worth publishing."""
    time_jump_reset: float = 1.0
    """Time (detection stamps, `tick`) moving backwards by more than this (s) resets the model
    to its scene priors (0 = never)."""
    max_unseen_container: float = 30.0
    """Seconds a container (tray, bin) missed while in view keeps its state before it is
    removed (no confidence decay meanwhile). Containers are large and rarely moved; they are
    missed mostly while the robot's own arm covers them during a place, and losing the target
    container mid-task would make re-planning impossible. They move when re-detected. The same
    holds for an object in a tracked container (`is_in`): the walls can hide it."""

    def check(self) -> None:
        for name in ('match_radius', 'occlusion_grace', 'decay_rate', 'held_radius'):
            if getattr(self, name) < 0.0:
                raise ValueError(f'{name} must be >= 0, got {getattr(self, name)}')
        if not 0.0 < self.smoothing <= 1.0:
            raise ValueError(f'smoothing must be in (0, 1], got {self.smoothing}')
        for name in ('min_hits', 'min_hits_second_container'):
            if getattr(self, name) < 1:
                raise ValueError(f'{name} must be >= 1, got {getattr(self, name)}')
        if self.jump_hits < 1:
            raise ValueError(f'jump_hits must be >= 1, got {self.jump_hits}')


@dataclass(frozen=True)
class HandState:
    """A hand's grasp frame position (world, m) and gripper opening width (m)."""

    position: tuple[float, float, float]
    width: float


@dataclass
class Track:
    info: ObjectInfo
    first_seen: float
    last_seen: float
    hits: int = 1
    prior: bool = False
    held_by: str | None = None
    hold_offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    decayed_until: float = 0.0
    """Missed time (s, see `hidden_until`) up to which the confidence decay has been
    applied."""
    hidden_until: float = -math.inf
    """The last time the track could not be seen (out of view, or hidden behind something
    nearer). Only the time since then, while it should have been seen, counts as missed: an
    object hidden behind the arm for 16 s was removed at the first frame it was in view
    again, and came back as a new object a frame later."""
    confirmed: bool = False
    """Reported in snapshots (a scene prior, or seen min_hits times); stays so."""
    jump_to: tuple[float, float, float] | None = None
    """Where re-identifications far from the track currently place it, and how many
    consecutive frames did (`jump_count`)."""
    jump_count: int = 0
    seen_missing: bool = False
    """Missed in view for longer than `occlusion_grace` since it was last seen: its spot was
    seen empty (a resting container moves to a far detection only then, `_stays_put`)."""

    @property
    def id(self) -> str:
        return self.info.id


def hand_states(kin: Any, joints: Mapping[str, float]) -> dict[str, HandState | None]:
    """Each hand's grasp-frame position and finger opening from forward kinematics: `kin`
    (a `RobotKinematics`, already updated with the joints and odometry) and the joint
    positions. Hands whose grasp frame or finger joints are unknown are left out."""
    hands: dict[str, HandState | None] = {}
    for hand in HANDS:
        site = f'{hand}_grasp_frame'
        fingers = [f'{hand}_gripper_finger_{f}_joint' for f in ('left', 'right')]
        if not kin.has_site(site) or not all(f in joints for f in fingers):
            continue
        pos = kin.site_pose(site)[:3, 3]
        width = sum(joints[f] for f in fingers)
        hands[hand] = HandState((float(pos[0]), float(pos[1]), float(pos[2])), width)
    return hands


def in_camera_view(
    camera_pose: np.ndarray,
    fx: float,
    fy: float,
    cx: float,
    cy: float,
    width: int,
    height: int,
    max_depth: float = 3.0,
    margin_px: int = 10,
    depth: np.ndarray | None = None,
    occlusion_margin: float = 0.06,
) -> Visible:
    """A predicate: should a world point be visible? It must project inside the image (with a
    margin), in front of the camera and nearer than `max_depth`; with a `depth` image (HxW,
    metres, same size as width x height), also not hidden: the median depth around its pixel is
    not more than `occlusion_margin` nearer than the point (something in front of it, e.g. the
    robot's hand). Pixels without depth (NaN/0) count as not hiding anything."""
    pose = np.asarray(camera_pose, float)
    rot_t, t = pose[:3, :3].T, pose[:3, 3]
    if depth is not None and depth.shape != (height, width):
        depth = None  # a mismatched depth image cannot tell occlusion

    def visible(p: tuple[float, float, float]) -> bool:
        c = rot_t @ (np.asarray(p, float) - t)
        if not 0.1 < c[2] < max_depth:
            return False
        u = fx * c[0] / c[2] + cx
        v = fy * c[1] / c[2] + cy
        if not (margin_px <= u < width - margin_px and margin_px <= v < height - margin_px):
            return False
        if depth is None:
            return True
        iu, iv = int(u), int(v)
        patch = depth[max(0, iv - 2) : iv + 3, max(0, iu - 2) : iu + 3]
        patch = patch[np.isfinite(patch) & (patch > 0.0)]
        return patch.size == 0 or float(np.median(patch)) >= c[2] - occlusion_margin

    return visible


class WorldModel:
    """Tracks objects and grasp state; `snapshot()` gives the planner's `WorldSnapshot`."""

    def __init__(
        self,
        places: Mapping[str, Place],
        config: TrackerConfig | None = None,
        priors: Iterable[ObjectInfo] = (),
        prior_confidence: float = 0.5,
        now: float | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config or TrackerConfig()
        self._log = log or (lambda _msg: None)
        self.config.check()
        self.places = dict(places)
        self._priors = tuple(priors)
        self._prior_confidence = prior_confidence
        self.resets = 0
        """How many times a jump back in time restarted the model."""
        self.robot_pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.hands: dict[str, HandState | None] = {h: None for h in HANDS}
        self._last_snapshot: WorldSnapshot | None = None
        self._restart(now)

    def _restart(self, now: float | None) -> None:
        self.tracks: dict[str, Track] = {}
        for obj in self._priors:
            info = replace(obj, confidence=min(obj.confidence, self._prior_confidence))
            t0 = 0.0 if now is None else now
            self.tracks[obj.id] = Track(info, t0, t0, hits=0, prior=True, confirmed=True)
        # priors count as seen at `now`, or at the first update/tick when now is None
        self._started = now is not None
        self.stamp = 0.0 if now is None else now

    def _check_time(self, now: float) -> None:
        jump = self.config.time_jump_reset
        if self._started and jump > 0.0 and now < self.stamp - jump:
            self._log(
                f'time jumped back {self.stamp - now:.1f} s (simulator reset?): '
                'restarting from the scene priors'
            )
            self._restart(now)
            self.resets += 1

    # -- inputs ----------------------------------------------------------------------------
    def set_robot_pose(self, x: float, y: float, yaw: float) -> None:
        self.robot_pose = (float(x), float(y), float(yaw))

    def set_hands(self, hands: Mapping[str, HandState | None]) -> None:
        """Latest grasp-frame positions and gripper widths; updates what is held."""
        cfg = self.config
        for hand, state in hands.items():
            if hand not in self.hands:
                raise ValueError(f'unknown hand {hand!r}; hands: {list(self.hands)}')
            self.hands[hand] = state
        for hand, state in self.hands.items():
            held = next((t for t in self.tracks.values() if t.held_by == hand), None)
            if state is None:
                continue
            pos = np.asarray(state.position, float)
            if held is not None:
                width = min(held.info.size[0], held.info.size[1])
                if state.width > width + cfg.grip_margin or state.width < cfg.min_grip_width:
                    held.held_by = None  # released (or slipped: fingers closed on air)
                    self._drop_into_container(held)
                else:
                    new = pos + held.hold_offset
                    xyz = (float(new[0]), float(new[1]), float(new[2]))
                    held.info = replace(held.info, position=xyz)
                continue
            best, best_d = None, cfg.held_radius
            for t in self.tracks.values():
                if t.held_by is not None or t.info.is_container:
                    continue
                d = float(np.linalg.norm(np.asarray(t.info.position) - pos))
                width = min(t.info.size[0], t.info.size[1])
                closed = cfg.min_grip_width <= state.width <= width + cfg.grip_margin
                if closed and d < best_d:
                    best, best_d = t, d
            if best is not None:
                best.held_by = hand
                best.hold_offset = np.asarray(best.info.position) - pos

    def update(
        self,
        detections: Iterable[ObjectInfo],
        stamp: float,
        visible: Visible | None = None,
    ) -> None:
        """Fuse one frame's detections (world frame). `visible(position)` says whether a track
        should have been seen in this frame (None: every track should have)."""
        cfg = self.config
        rx, ry, _ = self.robot_pose
        dets = [
            d
            for d in detections
            if math.hypot(d.position[0] - rx, d.position[1] - ry) >= cfg.self_radius
            and not self._inside_a_table(d)
        ]
        self._check_time(stamp)
        self._start(stamp)
        self.stamp = max(self.stamp, stamp)
        matched_tracks: set[str] = set()
        matched_dets: set[int] = set()
        pairs = []
        for i, d in enumerate(dets):
            for t in self.tracks.values():
                if t.info.label != d.label:
                    continue
                dist = math.dist(t.info.position, d.position)
                if dist <= cfg.match_radius:
                    pairs.append((dist, i, t.id))
        pairs.sort()
        for _dist, i, tid in pairs:
            if i in matched_dets or tid in matched_tracks:
                continue
            t = self.tracks[tid]
            if dets[i].partial and self._resting_container(t):
                self._sighted(t, stamp)  # seen in part: where it is stays as it was
            else:
                self._correct(t, dets[i], stamp)
            matched_dets.add(i)
            matched_tracks.add(tid)
        for i, d in enumerate(dets):
            if i in matched_dets or not d.is_container:
                continue
            inside = self._container_around(d)
            if inside is not None:
                n_label = sum(t.info.label == d.label for t in self.tracks.values())
                if d.partial or inside.id in matched_tracks or n_label > 1:
                    # a part of a tracked container (or a second view of it): no second one
                    matched_dets.add(i)
                    matched_tracks.add(inside.id)
                    self._sighted(inside, stamp)
                # else all of it, moved by less than its size: re-identified below
            elif self._mislabelled_part(d) is not None:
                matched_dets.add(i)  # ignored: it would move or double the other container
        # re-identify by unique label at any distance (moved while unseen), once confirmed
        jumping: set[str] = set()
        for i, d in enumerate(dets):
            if i in matched_dets:
                continue
            same = [t for t in self.tracks.values() if t.info.label == d.label]
            if len(same) == 1 and same[0].id not in matched_tracks | jumping:
                t = same[0]
                matched_dets.add(i)
                if d.partial and self._resting_container(t):
                    continue  # seen in part: no place to move a container to
                if self._stays_put(t) and not _overlaps(d, t.info):
                    continue  # ignored: it would move the container, or double it
                if self._confirm_jump(t, d):
                    self._correct(t, d, stamp, jump=True)
                    matched_tracks.add(t.id)
                else:
                    jumping.add(t.id)
        for t in self.tracks.values():
            if t.id not in jumping:
                t.jump_to, t.jump_count = None, 0
        for i, d in enumerate(dets):
            if i in matched_dets:
                continue
            tid = d.id or d.label.replace(' ', '_')
            k = 1
            base = tid
            while tid in self.tracks:
                k += 1
                tid = f'{base}_{k}'
            track = Track(replace(d, id=tid, partial=False), stamp, stamp)
            self.tracks[tid] = track
            if self._hits_needed(track) <= 1:
                self._confirm(track)
            matched_tracks.add(tid)
        self._age(stamp, visible, seen=matched_tracks)

    def tick(self, now: float, visible: Visible | None = None) -> None:
        """Age tracks with no new frame (camera stalled or bad input) up to `now`."""
        self._check_time(now)
        self._start(now)
        self.stamp = max(self.stamp, now)
        self._age(now, visible, seen=set())

    # -- internals -------------------------------------------------------------------------
    def _start(self, now: float) -> None:
        if not self._started:
            self._started = True
            for t in self.tracks.values():
                t.first_seen = t.last_seen = now

    def _inside_a_table(self, det: ObjectInfo) -> bool:
        """Whether `det` would reach into a table top (its bottom more than
        `table_tolerance` below the top of a place whose footprint holds its centre): the
        grey station top seen at 1.7 m with a camera pose a little off became a "tray" 2-4 cm
        down in the station, reported over many frames."""
        tol = self.config.table_tolerance
        if tol <= 0.0:
            return False
        return any(
            inside_footprint(det.position[:2], p.position, p.size, p.yaw)
            and det.bottom_z < p.top_z - tol
            and det.top_z > p.top_z - 0.5  # not an object on a shelf under the top
            for p in self.places.values()
        )

    def _hits_needed(self, track: Track) -> int:
        """Detections before `track` is reported (more for a second container)."""
        if track.info.is_container and any(
            t.id != track.id and t.confirmed and t.info.is_container
            and t.info.label == track.info.label
            for t in self.tracks.values()
        ):  # fmt: skip
            return self.config.min_hits_second_container
        return self.config.min_hits

    def _resting_container(self, track: Track) -> bool:
        """A confirmed container not in a hand: only a detection of all of it moves it."""
        return track.info.is_container and track.confirmed and track.held_by is None

    @staticmethod
    def _sighted(track: Track, stamp: float) -> None:
        """`track` was seen (not missed) in the frame at `stamp`, without a pose to take."""
        track.last_seen = max(track.last_seen, stamp)
        track.seen_missing = False

    def _container_around(self, det: ObjectInfo) -> Track | None:
        """The tracked container of `det`'s label whose footprint `det`'s footprint overlaps
        (by more than `PIECE_OVERLAP` along both of the container's axes).

        Two containers cannot overlap, so such a detection is a piece of the tracked one: the
        arm over a tray during a place splits it into pieces whose centres lie farther than
        `match_radius` from the track (3 trays seen, and "the tray" became ambiguous), and
        from the station the bin is often seen only in part (its shaded inside is not white),
        with the centre 15-27 cm towards the robot: re-identified there after 3 frames, the
        bin moved off its place, a second bin appeared where it really was, and a cube was
        placed beside the bin and judged in the second one. It counts as a sighting and does
        not move the track. Only a detection of all of the container (not `partial`), the only
        one of its label, not matched in the same frame, is the container pushed: it moves
        there once `jump_hits` frames agree (in-process, 2026-11-28: the bin pushed 23 cm
        stayed where it had been in the world model while the robot was away, until its old
        spot was seen empty)."""
        for t in self.tracks.values():
            if t.info.label != det.label or not t.info.is_container or t.held_by is not None:
                continue
            if _overlaps(det, t.info):
                return t
        return None

    def _mislabelled_part(self, det: ObjectInfo) -> Track | None:
        """The tracked container of another label that `det` (a container detection)
        overlaps (as in `_container_around`) and could not fit into: then `det` is a part of
        it taken for another label. The white bin's shaded inside, seen from the station, was
        taken for the grey tray: the tray (tracked on the bench, out of view) jumped 1.9 m into
        the bin, and the bin was "full" for the place that followed. Testing the centre
        alone was not enough: a grey detection centred 4 mm outside the believed bin moved
        the tray again."""
        small = sorted(det.size[:2])
        for t in self._resting_containers():
            if t.info.label == det.label or not _overlaps(det, t.info):
                continue
            room = sorted(t.info.size[:2])
            if small[0] > room[0] or small[1] > room[1]:
                return t
        return None

    def _stays_put(self, track: Track) -> bool:
        """Whether `track` is a resting container that a far detection must not move: one
        not seen missing from where it is believed (`Track.seen_missing`: out of view,
        hidden, or missed in view for less than `occlusion_grace` since last seen). Nothing
        but a hand moves a tray or a bin here, so it moves only once its old spot has been
        seen empty; until then the far detection is ignored. (`lab_long`, 2026-11-27: at the
        station a grey detection of the tray's size on the station top moved the tray,
        tracked on the bench out of view, 2.13 m there; back at the bench the real tray
        became a second one, "tray_3".) The price: a second tray of the same label is only
        taken in while the first one's spot is in view."""
        if not (track.info.is_container and track.confirmed) or track.held_by is not None:
            return False
        if track.prior and track.hits == 0:
            return False  # a scene prior's first sighting places it
        return not track.seen_missing

    def _confirm_jump(self, track: Track, det: ObjectInfo) -> bool:
        """Count a far re-identification of `track`; True once `jump_hits` consecutive frames
        agree (within `match_radius`) on where it went."""
        if (track.prior and track.hits == 0) or track.held_by is not None:
            return True
        if track.jump_to is not None and (
            math.dist(track.jump_to, det.position) <= self.config.match_radius
        ):
            track.jump_count += 1
        else:
            track.jump_count = 1
        track.jump_to = det.position
        return track.jump_count >= self.config.jump_hits

    def _correct(self, track: Track, det: ObjectInfo, stamp: float, jump: bool = False) -> None:
        a = 1.0 if (jump or (track.prior and track.hits == 0)) else self.config.smoothing
        old = track.info
        pos = tuple(a * n + (1.0 - a) * o for n, o in zip(det.position, old.position, strict=True))
        dyaw = math.remainder(det.yaw - old.yaw, 2 * math.pi)
        conf = max(det.confidence, a * det.confidence + (1.0 - a) * old.confidence)
        track.info = replace(
            det,
            id=track.id,
            position=(pos[0], pos[1], pos[2]),
            yaw=math.remainder(old.yaw + a * dyaw, 2 * math.pi),
            confidence=conf,
            partial=False,
        )
        track.last_seen = max(track.last_seen, stamp)
        track.seen_missing = False
        track.hits += 1
        if jump:
            self._log(f'{track.id} moved {math.dist(old.position, pos):.2f} m ({_at(track)})')
        track.prior = False
        if not track.confirmed and track.hits >= self._hits_needed(track):
            self._confirm(track)
        track.decayed_until = 0.0
        track.jump_to, track.jump_count = None, 0
        if track.held_by is not None:
            hand = self.hands.get(track.held_by)
            if hand is not None:
                track.hold_offset = np.asarray(track.info.position) - np.asarray(hand.position)

    def _confirm(self, track: Track) -> None:
        track.confirmed = True
        self._log(
            f'new object {track.id} ({track.info.label}) {_at(track)}, {track.hits} detection(s)'
        )

    def _age(self, now: float, visible: Visible | None, seen: set[str]) -> None:
        cfg = self.config
        for tid in list(self.tracks):
            t = self.tracks[tid]
            if tid in seen:
                continue
            if t.held_by is not None:  # the hand says where it is: nothing is missed
                t.hidden_until, t.decayed_until = now, 0.0
                continue
            if visible is not None and not visible(t.info.position):
                # out of view or hidden: it persists, and its misses start again when seen
                t.hidden_until, t.decayed_until = now, 0.0
                unseen = now - t.last_seen
                if cfg.max_unseen_out_of_view > 0.0 and unseen > cfg.max_unseen_out_of_view:
                    self._drop(tid, f'not seen for {unseen:.1f} s out of view')
                continue
            missed = now - max(t.last_seen, t.hidden_until)
            t.seen_missing = t.seen_missing or missed > cfg.occlusion_grace
            if (t.info.is_container and t.confirmed) or self._in_container(t):
                # A container missed in view (an arm over it), or an object in a tracked
                # container: its walls and what lies on it hide it from the camera although
                # it is in view (a vial dropped into the bin was deleted 4 s later, and the
                # place's effect check failed with the vial in the bin).
                if missed > cfg.max_unseen_container:
                    self._drop(tid, f'missed for {missed:.1f} s in view')
                continue
            dt = missed - max(cfg.occlusion_grace, t.decayed_until)
            if dt > 0.0:
                c = t.info.confidence * math.exp(-cfg.decay_rate * dt)
                t.info = replace(t.info, confidence=c)
                t.decayed_until = missed
            if t.info.confidence < cfg.expire_confidence or missed > cfg.max_unseen_in_view:
                self._drop(tid, f'missed for {missed:.1f} s in view')

    def _drop_into_container(self, track: Track) -> None:
        """A released object whole over a tracked container falls in: its bottom goes down to
        the container's. It is let go above the rim of a tall container (the bin), where it did
        not count as in it, and the camera often cannot see it in there to correct it. One let
        go over the rim itself (less than half its width inside) is left for the camera: it
        may fall either way."""
        info = track.info
        half = 0.5 * max(info.size[0], info.size[1])
        for c in self._resting_containers():
            ci = c.info
            if c is track:
                continue
            if not inside_footprint(info.position[:2], ci.position, ci.size, ci.yaw, half):
                continue
            if ci.bottom_z < info.bottom_z <= ci.top_z + 0.1:
                z = ci.bottom_z + info.size[2] / 2.0
                track.info = replace(info, position=(info.position[0], info.position[1], z))
            return

    def _in_container(self, track: Track) -> bool:
        """`track` (not a container) lies in a confirmed, tracked container."""
        if track.info.is_container:
            return False
        return any(is_in(track.info, c.info) for c in self._resting_containers())

    def _resting_containers(self) -> Iterator[Track]:
        """Confirmed containers not held by a hand."""
        for c in self.tracks.values():
            if c.info.is_container and c.confirmed and c.held_by is None:
                yield c

    def _drop(self, tid: str, why: str) -> None:
        t = self.tracks.pop(tid, None)
        if t is not None and t.confirmed:  # unconfirmed ones were never reported
            self._log(f'removed {tid} ({why}; last {_at(t)})')

    # -- output ----------------------------------------------------------------------------
    def reported(self) -> list[Track]:
        """Tracks that are confirmed (enough hits, a scene prior, or held)."""
        return [t for t in self.tracks.values() if t.confirmed or t.held_by is not None]

    def snapshot(self) -> WorldSnapshot:
        objects = {t.id: t.info for t in self.reported()}
        held: dict[str, str | None] = {h: None for h in HANDS}
        for t in self.reported():
            if t.held_by is not None:
                held[t.held_by] = t.id
        return refresh(
            WorldSnapshot(
                objects=objects, places=dict(self.places), robot_pose=self.robot_pose, held=held
            )
        )

    def last_seen(self, object_id: str) -> float:
        return self.tracks[object_id].last_seen

    def changed(self, snapshot: WorldSnapshot) -> bool:
        """Whether `snapshot` differs from the last one marked published (`mark_published`)
        in objects, relations, held objects, robot place, or positions beyond the tolerance."""
        prev = self._last_snapshot
        if prev is None:
            return True
        if set(prev.objects) != set(snapshot.objects):
            return True
        if set(prev.relations) != set(snapshot.relations) or prev.held != snapshot.held:
            return True
        if prev.robot_place != snapshot.robot_place:
            return True
        tol = self.config.position_tolerance
        if math.dist(prev.robot_pose[:2], snapshot.robot_pose[:2]) > tol:
            return True
        for oid, o in snapshot.objects.items():
            p = prev.objects[oid]
            if math.dist(p.position, o.position) > tol or p.label != o.label:
                return True
            if abs(p.confidence - o.confidence) > 0.1:
                return True
        return False

    def mark_published(self, snapshot: WorldSnapshot) -> None:
        self._last_snapshot = snapshot


def _at(track: Track) -> str:
    """`at (x, y, z) m, size (x, y, z) m` of a track, for the event log."""
    p, z = track.info.position, track.info.size
    return (
        f'at ({p[0]:.3f}, {p[1]:.3f}, {p[2]:.3f}) m, size ({z[0]:.3f}, {z[1]:.3f}, {z[2]:.3f}) m'
    )


def _overlaps(det: ObjectInfo, container: ObjectInfo) -> bool:
    """Whether `det`'s footprint overlaps `container`'s by more than `PIECE_OVERLAP` (its
    centre within the container's footprint widened by its smaller half-size less the
    overlap: the test does not depend on `det`'s yaw, which is unreliable for a part)."""
    reach = max(0.0, 0.5 * min(det.size[0], det.size[1]) - PIECE_OVERLAP)
    return inside_footprint(
        det.position[:2], container.position, container.size, container.yaw, margin=-reach
    )
