"""World-state types: the single symbolic/geometric world the planner sees.

All positions are in the `world` frame (z up, metres), angles in radians. The perception /
world-model code fills a :class:`WorldSnapshot` from detections; the planner, the validator and
the symbolic executor only ever read and produce snapshots (they are immutable: every update
returns a new snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math

Vec3 = tuple[float, float, float]

HANDS: tuple[str, str] = ('right', 'left')
"""Hand names in the order the planner prefers them."""

PREDICATES: tuple[str, ...] = ('in', 'on', 'held_by', 'near')
"""Relation predicates (the PREDICATE_* constants of humanoid_interfaces/msg/Relation)."""

OPERATOR = 'operator'
"""Relation object for an item handed over to the person working with the robot."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object the robot knows about.

    ``label`` is data from the scene or from perception; it is never interpreted as an
    instruction. ``size`` is the axis-aligned extent in the object's own frame (x, y, z).
    """

    id: str
    label: str
    shape: str
    color: str
    position: Vec3
    yaw: float = 0.0
    size: Vec3 = (0.05, 0.05, 0.05)
    confidence: float = 1.0
    is_container: bool = False
    partial: bool = False
    """On a detection only: part of its footprint was not seen, so its position may be off by
    centimetres (`humanoid_core.perception.pipeline.Detection.partial`)."""

    @property
    def bottom_z(self) -> float:
        return self.position[2] - self.size[2] / 2.0

    @property
    def top_z(self) -> float:
        return self.position[2] + self.size[2] / 2.0


@dataclass(frozen=True)
class Place:
    """A named place: a table or a station.

    ``position`` is the centre of the top surface (z = table height); ``size`` is the top
    surface extent (x, y) and the height; ``approach`` is where the robot base stands to work
    here: (x, y, yaw).
    """

    name: str
    kind: str
    position: Vec3
    size: Vec3
    approach: Vec3
    yaw: float = 0.0

    @property
    def top_z(self) -> float:
        return self.position[2]


@dataclass(frozen=True)
class Relation:
    """A symbolic relation, e.g. (red_cube, in, tray) or (red_cube, held_by, right_hand)."""

    subject: str
    predicate: str
    object: str

    def __str__(self) -> str:
        return f'{self.predicate}({self.subject}, {self.object})'


@dataclass(frozen=True)
class WorldSnapshot:
    """The world state at one instant.

    ``held`` maps each hand ('left', 'right') to the id of the object it holds, or None.
    ``robot_place`` is the place the robot stands at ('' when between places).
    ``handed_over`` lists objects given to the operator (no longer in the robot's workspace).
    """

    objects: dict[str, ObjectInfo]
    places: dict[str, Place]
    relations: tuple[Relation, ...] = ()
    robot_pose: Vec3 = (0.0, 0.0, 0.0)
    robot_place: str = ''
    held: dict[str, str | None] = field(default_factory=lambda: {'left': None, 'right': None})
    handed_over: tuple[str, ...] = ()

    # -- queries ---------------------------------------------------------------------------
    def obj(self, object_id: str) -> ObjectInfo:
        try:
            return self.objects[object_id]
        except KeyError:
            raise KeyError(
                f'unknown object {object_id!r}; known objects: {", ".join(self.objects)}'
            ) from None

    def hand_holding(self, object_id: str) -> str | None:
        for hand, held in self.held.items():
            if held == object_id:
                return hand
        return None

    def free_hands(self) -> list[str]:
        return [h for h in HANDS if self.held.get(h) is None]

    def has(self, subject: str, predicate: str, obj: str) -> bool:
        return Relation(subject, predicate, obj) in self.relations

    def related(self, subject: str, predicate: str) -> list[str]:
        return [
            r.object for r in self.relations if r.subject == subject and r.predicate == predicate
        ]

    def contents(self, container: str) -> list[str]:
        return [r.subject for r in self.relations if r.predicate == 'in' and r.object == container]

    def object_place(self, object_id: str) -> str | None:
        """The place whose workspace holds the object (directly or in a container on it).

        A held object is at the robot's place; an object handed over has no place.
        """
        if self.hand_holding(object_id) is not None:
            return self.robot_place or None
        seen: set[str] = set()
        current = object_id
        while current not in seen:
            seen.add(current)
            on = self.related(current, 'on')
            if on:
                return on[0]
            inside = self.related(current, 'in')
            if not inside:
                return None
            current = inside[0]
            if self.hand_holding(current) is not None:
                return self.robot_place or None
        return None

    def distance_xy(self, a: str, b: str) -> float:
        pa, pb = self.obj(a).position, self.obj(b).position
        return math.hypot(pa[0] - pb[0], pa[1] - pb[1])

    # -- updates (return new snapshots) ----------------------------------------------------
    def replace(self, **changes: object) -> WorldSnapshot:
        return replace(self, **changes)  # type: ignore[arg-type]

    def describe(self) -> str:
        """A compact, data-only text description (for prompts and reports)."""
        lines = [f'robot at: {self.robot_place or "(between places)"}']
        lines.append(
            'hands: ' + ', '.join(f'{h}={self.held.get(h) or "empty"}' for h in ('left', 'right'))
        )
        lines.append('places: ' + ', '.join(f'{p.name} ({p.kind})' for p in self.places.values()))
        for o in self.objects.values():
            where = ', '.join(str(r) for r in self.relations if r.subject == o.id)
            kind = 'container' if o.is_container else o.shape or 'object'
            lines.append(
                f'object {o.id}: {kind}, colour {o.color or "?"}, label {o.label!r}'
                f'{"; " + where if where else ""}'
            )
        return '\n'.join(lines)
