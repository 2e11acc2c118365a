"""Relation inference from geometry, and free-spot search on surfaces and in containers."""

from __future__ import annotations

import math

from humanoid_core.world.types import (
    OPERATOR,
    ObjectInfo,
    Place,
    Relation,
    Vec3,
    WorldSnapshot,
)

ON_TOLERANCE = 0.03
"""Max gap (m) between an object's bottom and a table top for `on`. Perceived heights are
off by 1-2 cm (a tray believed 17 mm above the bench was on no place, and the planner's
re-plan failed "the object is not on any known place": `lab` suite, red-tray-rest-bin); an
object resting on another one (a 5 cm cube) is still not `on` the table."""
IN_TOLERANCE = 0.01
"""Max depth (m) of an object's bottom below a container's base for `in`."""
NEAR_DISTANCE = 0.35
"""Max distance (m) of the robot base from a place's approach pose for `near`."""
CONTAINER_FLOOR = 0.005
"""Thickness (m) of a container's floor: objects put in rest this far above its base."""
CONTAINER_CLEARANCE = 0.05
"""m at least between an object put down beside a container and the container's footprint:
the fingers stand out beyond the object. With the 2 cm kept from other objects, a finger
caught the rim of the station's bin as the red cube went down beside it, lifted the bin and
the robot fell over backwards (in-process, `lab_long` everything-to-station)."""


def to_local(
    xy: tuple[float, float], centre: tuple[float, float], yaw: float
) -> tuple[float, float]:
    """Express a world xy point in a frame at ``centre`` rotated by ``yaw``."""
    dx, dy = xy[0] - centre[0], xy[1] - centre[1]
    c, s = math.cos(yaw), math.sin(yaw)
    return (c * dx + s * dy, -s * dx + c * dy)


def to_world(
    local: tuple[float, float], centre: tuple[float, float], yaw: float
) -> tuple[float, float]:
    c, s = math.cos(yaw), math.sin(yaw)
    return (centre[0] + c * local[0] - s * local[1], centre[1] + s * local[0] + c * local[1])


def inside_footprint(
    xy: tuple[float, float], centre: Vec3, size: Vec3, yaw: float, margin: float = 0.0
) -> bool:
    lx, ly = to_local(xy, (centre[0], centre[1]), yaw)
    return abs(lx) <= size[0] / 2.0 - margin and abs(ly) <= size[1] / 2.0 - margin


def is_in(obj: ObjectInfo, container: ObjectInfo) -> bool:
    """`obj` is inside `container`: centre within its footprint, bottom above its base and
    below its rim."""
    if obj.id == container.id or not container.is_container:
        return False
    if not inside_footprint(obj.position[:2], container.position, container.size, container.yaw):
        return False
    return (
        container.bottom_z - IN_TOLERANCE <= obj.bottom_z <= container.top_z + IN_TOLERANCE
        and obj.position[2] > container.bottom_z
    )


def is_on(obj: ObjectInfo, place: Place) -> bool:
    """`obj` rests on the top of `place`."""
    if not inside_footprint(obj.position[:2], place.position, place.size, place.yaw):
        return False
    return abs(obj.bottom_z - place.top_z) <= ON_TOLERANCE


def robot_place_of(pose: Vec3, places: dict[str, Place]) -> str:
    """Name of the place whose approach pose is within NEAR_DISTANCE of ``pose`` ('' if none)."""
    best, best_d = '', NEAR_DISTANCE
    for place in places.values():
        d = math.hypot(pose[0] - place.approach[0], pose[1] - place.approach[1])
        if d <= best_d:
            best, best_d = place.name, d
    return best


def infer_relations(world: WorldSnapshot) -> tuple[Relation, ...]:
    """All relations implied by geometry and grasp state.

    held_by(object, <hand>_hand) for held objects; in(object, container) for the innermost
    container holding it; on(object, place) for objects resting directly on a table top;
    held_by(object, operator) for handed-over objects; near(robot, place).
    """
    rels: list[Relation] = []
    held = {obj_id: hand for hand, obj_id in world.held.items() if obj_id}
    for obj in world.objects.values():
        if obj.id in held:
            rels.append(Relation(obj.id, 'held_by', f'{held[obj.id]}_hand'))
            continue
        if obj.id in world.handed_over:
            rels.append(Relation(obj.id, 'held_by', OPERATOR))
            continue
        containers = [c for c in world.objects.values() if c.id not in held and is_in(obj, c)]
        if containers:
            # The innermost container is the one whose base is highest.
            inner = max(containers, key=lambda c: c.bottom_z)
            rels.append(Relation(obj.id, 'in', inner.id))
            continue
        for place in world.places.values():
            if is_on(obj, place):
                rels.append(Relation(obj.id, 'on', place.name))
                break
    if world.robot_place:
        rels.append(Relation('robot', 'near', world.robot_place))
    return tuple(rels)


def refresh(world: WorldSnapshot) -> WorldSnapshot:
    """Recompute robot_place from the pose and all relations from geometry."""
    updated = world.replace(robot_place=robot_place_of(world.robot_pose, world.places))
    return updated.replace(relations=infer_relations(updated))


def _in_layer(
    world: WorldSnapshot, obj: ObjectInfo, base_z: float, support_id: str = ''
) -> list[ObjectInfo]:
    """The objects (not held, not handed over, not `obj` or the support) that reach into the
    height `obj` takes resting at ``base_z``: what a free spot for it must keep clear of."""
    top = base_z + obj.size[2]
    return [
        o
        for o in world.objects.values()
        if o.id not in (obj.id, support_id)
        and world.hand_holding(o.id) is None
        and o.id not in world.handed_over
        and base_z + 0.002 < o.top_z  # not below the surface (e.g. the container itself)
        and o.bottom_z < top  # nor above it
    ]


def free_spot(
    world: WorldSnapshot,
    obj: ObjectInfo,
    support_centre: Vec3,
    support_size: Vec3,
    support_yaw: float,
    base_z: float,
    clearance: float = 0.02,
    step: float = 0.02,
    support_id: str = '',
    prefer: tuple[float, float] | None = None,
) -> Vec3 | None:
    """A centre position where ``obj`` can rest on a support (table top or container floor) at
    height ``base_z`` without overlapping other objects, or None when full.

    Candidates are scanned on a grid from the support's centre outwards, or from ``prefer``
    (a point in the support's frame: offset from its centre) outwards (deterministic).
    """
    half = max(obj.size[0], obj.size[1]) / 2.0
    ax = support_size[0] / 2.0 - half - 0.005
    ay = support_size[1] / 2.0 - half - 0.005
    if ax < 0 or ay < 0:
        return None
    nx, ny = int(ax / step), int(ay / step)
    candidates = [(i * step, j * step) for i in range(-nx, nx + 1) for j in range(-ny, ny + 1)]
    px, py = prefer or (0.0, 0.0)
    candidates.sort(key=lambda c: (round(math.hypot(c[0] - px, c[1] - py), 6), c))
    others = _in_layer(world, obj, base_z, support_id)
    z = base_z + obj.size[2] / 2.0
    for local in candidates:
        xy = to_world(local, (support_centre[0], support_centre[1]), support_yaw)
        ok = True
        for other in others:
            if other.is_container and inside_footprint(xy, other.position, other.size, other.yaw):
                ok = False  # would land inside another container
                break
            o_half = max(other.size[0], other.size[1]) / 2.0
            gap = max(clearance, CONTAINER_CLEARANCE) if other.is_container else clearance
            if (
                abs(xy[0] - other.position[0]) < half + o_half + gap
                and abs(xy[1] - other.position[1]) < half + o_half + gap
            ):
                ok = False
                break
        if ok:
            return (xy[0], xy[1], z)
    return None


def spot_in_container(world: WorldSnapshot, obj: ObjectInfo, container: ObjectInfo) -> Vec3 | None:
    inner = (container.size[0] - 0.01, container.size[1] - 0.01, container.size[2])
    return free_spot(
        world,
        obj,
        container.position,
        inner,
        container.yaw,
        container.bottom_z + CONTAINER_FLOOR,
        clearance=0.01,
        step=0.01,
        support_id=container.id,
    )


def in_the_way(world: WorldSnapshot, obj: ObjectInfo, container: ObjectInfo) -> list[str]:
    """Ids of the objects that take up room inside `container` for `obj` (what
    `spot_in_container` avoids, with the centre over its footprint), for error messages.
    Another container among them means the two overlap (often one seen twice)."""
    floor = container.bottom_z + CONTAINER_FLOOR
    return sorted(
        o.id
        for o in _in_layer(world, obj, floor, container.id)
        if inside_footprint(o.position[:2], container.position, container.size, container.yaw)
    )


HAND_WORK_POINT = (0.36, 0.15)
"""Where a hand puts things down best, in the frame of the robot standing at a table's
approach pose (m: forward, to the hand's side): where the cubes on the bench are picked."""


def spot_on_place(
    world: WorldSnapshot, obj: ObjectInfo, place: Place, hand: str | None = None
) -> Vec3 | None:
    """A free spot for ``obj`` on the table ``place`` (None when full). With ``hand`` (the hand
    that puts it down), the free spot nearest that hand's `HAND_WORK_POINT`, else the one
    nearest the table's centre. Spots from the centre put an object in the left hand on the
    right half of the station (the bin takes its middle): the arm reached across the body
    and the other hand's place found no posture clear of the body; and the centre of the
    station is 47 cm ahead, where lowering an object with the other hand full tipped the
    robot over (in-process, `lab_long` everything-to-station, 6 of 6 random layouts failed).
    """
    prefer = None
    if hand in ('left', 'right'):
        forward, side = HAND_WORK_POINT
        side = side if hand == 'left' else -side
        ax, ay, ayaw = place.approach
        point = to_world((forward, side), (ax, ay), ayaw)
        prefer = to_local(point, (place.position[0], place.position[1]), place.yaw)
    return free_spot(world, obj, place.position, place.size, place.yaw, place.top_z, prefer=prefer)
