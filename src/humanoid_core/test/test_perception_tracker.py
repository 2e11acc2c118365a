"""World model: association, occlusion persistence, decay/expiry, grasp state, relations."""

from __future__ import annotations

from dataclasses import replace
import math

from humanoid_core.perception.tracker import (
    HandState,
    TrackerConfig,
    WorldModel,
    in_camera_view,
)
from humanoid_core.world.scene import initial_world
from humanoid_core.world.types import ObjectInfo
import numpy as np
import pytest

LAB = initial_world('lab')
CUBE = ObjectInfo('red_cube', 'red cube', 'cube', 'red', (0.37, 0.22, 0.745), 0.0,
                  (0.05, 0.05, 0.05), 0.95)  # fmt: skip
TRAY = LAB.objects['tray']
ALL_VISIBLE = None


def seen(*objs: ObjectInfo) -> list[ObjectInfo]:
    return list(objs)


def model(**cfg) -> WorldModel:
    return WorldModel(LAB.places, TrackerConfig(**cfg))


def test_new_objects_need_min_hits_then_get_relations() -> None:
    wm = model(min_hits=2)
    wm.update(seen(CUBE, TRAY), 0.0)
    assert wm.snapshot().objects == {}
    wm.update(seen(CUBE, TRAY), 0.1)
    snap = wm.snapshot()
    assert set(snap.objects) == {'red_cube', 'tray'}
    assert snap.has('red_cube', 'on', 'bench') and snap.has('tray', 'on', 'bench')


def test_association_keeps_ids_and_smooths_noise() -> None:
    wm = model(min_hits=1, smoothing=0.5)
    wm.update(seen(CUBE), 0.0)
    moved = replace(CUBE, id='whatever', position=(0.38, 0.22, 0.745))
    wm.update(seen(moved), 0.1)
    obj = wm.snapshot().objects['red_cube']
    assert obj.position[0] == pytest.approx(0.375)  # halfway: smoothing 0.5
    # two same-label objects far apart stay two tracks
    other = replace(CUBE, id='red_cube', position=(0.37, -0.3, 0.745))
    wm.update(seen(replace(CUBE, position=(0.375, 0.22, 0.745)), other), 0.2)
    wm.update(seen(replace(CUBE, position=(0.375, 0.22, 0.745)), other), 0.3)
    assert set(wm.snapshot().objects) == {'red_cube', 'red_cube_2'}


def test_unique_label_reidentified_after_moving_while_unseen() -> None:
    wm = model(min_hits=1, jump_hits=3)
    wm.update(seen(CUBE), 0.0)
    far = replace(CUBE, position=(0.45, -0.2, 0.745))
    for k in range(3):
        # the first two sightings at the new place do not move the track yet
        assert wm.snapshot().objects['red_cube'].position == CUBE.position, k
        wm.update(seen(replace(far, position=(0.45 + 0.01 * k, -0.2, 0.745))), 0.5 + 0.1 * k)
    objs = wm.snapshot().objects
    assert list(objs) == ['red_cube']
    assert objs['red_cube'].position == pytest.approx((0.47, -0.2, 0.745))


def test_one_spurious_far_detection_does_not_teleport_a_track() -> None:
    """Measured on the stack: one frame saw the robot's grey arm as 'tray' at the robot's feet;
    the tray jumped off the bench and the planner found it 'on no table'."""
    wm = model(min_hits=1, jump_hits=3)
    wm.update(seen(TRAY), 0.0)
    ghost = replace(TRAY, position=(-0.02, 0.01, 0.73), confidence=0.3)
    for k, batch in enumerate([[ghost], [TRAY], [ghost], [ghost], [TRAY]]):
        wm.update(batch, 0.1 * (k + 1))
        snap = wm.snapshot()
        assert list(snap.objects) == ['tray']  # no second tray either
        assert snap.objects['tray'].position == pytest.approx(TRAY.position)
        assert snap.has('tray', 'on', 'bench')
    # repeated ghosts at the robot's own body are never taken for an object
    wm.set_robot_pose(-0.02, 0.0, 0.0)
    for k in range(5):
        wm.update([ghost], 1.0 + 0.1 * k)
    assert wm.snapshot().objects['tray'].position == pytest.approx(TRAY.position)
    with pytest.raises(ValueError, match='jump_hits'):
        TrackerConfig(jump_hits=0).check()


def test_short_occlusion_persists_then_decays_and_expires() -> None:
    wm = model(min_hits=1, occlusion_grace=1.0, decay_rate=1.0, expire_confidence=0.15,
               max_unseen_in_view=10.0)  # fmt: skip
    wm.update(seen(CUBE), 0.0)
    wm.update(seen(), 0.8)  # occluded for 0.8 s: within the grace period
    assert wm.snapshot().objects['red_cube'].confidence == pytest.approx(0.95)
    wm.update(seen(), 2.0)  # 1 s past the grace period: c = 0.95 e^-1
    assert wm.snapshot().objects['red_cube'].confidence == pytest.approx(0.95 * np.exp(-1.0))
    wm.tick(2.5)  # decay is applied once per unseen interval, not compounded
    assert wm.snapshot().objects['red_cube'].confidence == pytest.approx(0.95 * np.exp(-1.5))
    wm.update(seen(CUBE), 2.6)  # seen again: confidence restored
    assert wm.snapshot().objects['red_cube'].confidence == pytest.approx(0.95)
    wm.tick(6.0)  # 3.4 s unseen: 0.95 e^-2.4 = 0.086 < 0.15 -> expired
    assert wm.snapshot().objects == {}


def test_out_of_view_objects_persist_in_view_ones_expire() -> None:
    wm = model(min_hits=1, occlusion_grace=0.5, max_unseen_in_view=2.0)
    tray = replace(TRAY, position=(0.47, -2.0, 0.78))  # e.g. the bin far away on the station
    wm.update(seen(CUBE, tray), 0.0)

    def visible(p: tuple[float, float, float]) -> bool:
        return p[1] > -1.0

    wm.tick(30.0, visible)
    assert list(wm.snapshot().objects) == ['tray']


def test_scene_priors_are_known_before_seen_and_corrected_when_seen() -> None:
    wm = WorldModel(LAB.places, TrackerConfig(), LAB.objects.values(), prior_confidence=0.5)
    snap = wm.snapshot()
    assert set(snap.objects) == set(LAB.objects)
    assert snap.objects['bin'].confidence == 0.5
    # shuffled layout: the red cube is elsewhere; its label re-identifies it
    wm.update(seen(replace(CUBE, position=(0.36, -0.2, 0.745))), 1.0)
    assert wm.snapshot().objects['red_cube'].position == (0.36, -0.2, 0.745)


def test_grasp_held_object_follows_the_hand_and_release() -> None:
    wm = model(min_hits=1)
    wm.update(seen(CUBE, TRAY), 0.0)
    # open hand near the cube: not held
    wm.set_hands({'right': HandState((0.37, 0.22, 0.75), 0.09)})
    assert wm.snapshot().held['right'] is None
    # closed on the cube (width about the cube's 5 cm)
    wm.set_hands({'right': HandState((0.37, 0.22, 0.75), 0.048)})
    snap = wm.snapshot()
    assert snap.held == {'right': 'red_cube', 'left': None}
    assert snap.has('red_cube', 'held_by', 'right_hand')
    # lifted and carried over the tray: follows the hand, never expires while held
    wm.set_hands({'right': HandState((0.53, -0.02, 0.90), 0.048)})
    wm.tick(60.0)  # nothing seen for a minute: the tray expires, the held cube stays
    assert set(wm.snapshot().objects) == {'red_cube'}
    cube = wm.snapshot().objects['red_cube']
    assert cube.position == pytest.approx((0.53, -0.02, 0.895))
    # lowered into the tray (seen again) and released: in(tray)
    wm.update(seen(TRAY), 60.1)
    wm.update(seen(TRAY), 60.2)
    wm.set_hands({'right': HandState((0.53, -0.02, 0.76), 0.048)})
    wm.set_hands({'right': HandState((0.53, -0.02, 0.76), 0.09)})
    snap = wm.snapshot()
    assert snap.held['right'] is None
    assert snap.has('red_cube', 'in', 'tray')


def test_fingers_closed_on_air_hold_nothing() -> None:
    wm = model(min_hits=1)
    wm.update(seen(CUBE), 0.0)
    wm.set_hands({'left': HandState((0.37, 0.22, 0.75), 0.0)})
    assert wm.snapshot().held['left'] is None
    with pytest.raises(ValueError, match='unknown hand'):
        wm.set_hands({'middle': None})


def test_changed_ignores_jitter_but_not_moves() -> None:
    wm = model(min_hits=1, smoothing=1.0)
    wm.update(seen(CUBE), 0.0)
    snap = wm.snapshot()
    assert wm.changed(snap)
    wm.mark_published(snap)
    wm.update(seen(replace(CUBE, position=(0.373, 0.22, 0.745))), 0.1)
    assert not wm.changed(wm.snapshot())
    wm.update(seen(replace(CUBE, position=(0.40, 0.22, 0.745))), 0.2)
    assert wm.changed(wm.snapshot())


def test_in_camera_view() -> None:
    pose = np.eye(4)  # optical frame at the origin looking along +z
    visible = in_camera_view(pose, 400.0, 400.0, 320.0, 240.0, 640, 480, max_depth=3.0)
    assert visible((0.0, 0.0, 1.0))
    assert not visible((0.0, 0.0, -1.0))  # behind
    assert not visible((2.0, 0.0, 1.0))  # outside the image
    assert not visible((0.0, 0.0, 5.0))  # too far
    # with depth: a point behind something nearer (a hand 0.3 m in front) is hidden
    depth = np.full((480, 640), 1.0, np.float32)
    depth[200:280, 280:360] = 0.7
    visible = in_camera_view(pose, 400.0, 400.0, 320.0, 240.0, 640, 480, depth=depth)
    assert not visible((0.0, 0.0, 1.0))
    assert visible((0.5, 0.0, 1.0))  # beside the occluder: the depth there is its own
    assert visible((0.0, 0.0, 0.72))  # the occluding surface itself is visible
    depth[:] = np.nan  # no depth: cannot tell, assume visible (so stale objects decay)
    visible = in_camera_view(pose, 400.0, 400.0, 320.0, 240.0, 640, 480, depth=depth)
    assert visible((0.0, 0.0, 1.0))


def test_object_hidden_behind_the_hand_persists() -> None:
    wm = model(min_hits=1, occlusion_grace=0.5, max_unseen_in_view=2.0)
    wm.update(seen(CUBE), 0.0)
    pose = np.eye(4)
    pose[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]  # optical z along world +x
    pose[:3, 3] = (0.0, 0.22, 0.745)  # looking at the cube from 0.37 m
    depth = np.full((480, 640), 0.37, np.float32)
    depth[200:280, 280:360] = 0.2  # the hand, in front of the cube
    hidden = in_camera_view(pose, 400.0, 400.0, 320.0, 240.0, 640, 480, depth=depth)
    wm.update(seen(), 10.0, hidden)
    assert 'red_cube' in wm.snapshot().objects
    depth[:] = 0.5  # hand gone, the cube is not there: missed from now on, and expires
    shown = in_camera_view(pose, 400.0, 400.0, 320.0, 240.0, 640, 480, depth=depth)
    lines: list[str] = []
    wm._log = lines.append
    wm.update(seen(), 10.1, shown)
    # the 10 s behind the hand are not missed time (it was removed at once, and came back as
    # a new object a frame later when the detector saw it)
    assert 'red_cube' in wm.snapshot().objects
    wm.update(seen(), 10.4, shown)
    assert wm.snapshot().objects['red_cube'].confidence == pytest.approx(0.95)  # grace 0.5 s
    wm.update(seen(), 12.2, shown)
    assert 'red_cube' not in wm.snapshot().objects
    assert lines == [
        'removed red_cube (missed for 2.2 s in view; last at (0.370, 0.220, 0.745) m, '
        'size (0.050, 0.050, 0.050) m)'
    ]


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ValueError, match='smoothing'):
        WorldModel(LAB.places, TrackerConfig(smoothing=0.0))


def test_container_missed_in_view_is_kept_but_cubes_expire():
    """The arm covering the tray during a place must not delete the tray (re-planning needs
    it); a cube missed in view for long does expire."""
    from humanoid_core.perception.tracker import TrackerConfig, WorldModel
    from humanoid_core.world.scene import initial_world

    world = initial_world('lab')
    cfg = TrackerConfig(occlusion_grace=0.5, max_unseen_in_view=2.0, max_unseen_container=10.0)
    model = WorldModel(world.places, cfg, world.objects.values(), 0.5)
    model.update(list(world.objects.values()), 0.0, lambda p: True)
    model.update(list(world.objects.values()), 0.1, lambda p: True)
    # Nothing detected for 5 s while everything is in view.
    for k in range(1, 26):
        model.update([], 0.1 + 0.2 * k, lambda p: True)
    snap = model.snapshot()
    assert 'tray' in snap.objects
    assert snap.objects['tray'].confidence >= 0.5
    assert 'red_cube' not in snap.objects
    # ... but not forever.
    model.update([], 0.1 + cfg.max_unseen_container + 1.0, lambda p: True)
    assert 'tray' not in model.snapshot().objects


def test_jump_back_in_time_restarts_from_the_priors() -> None:
    """A simulator reset restarts its clock at 0: tracks from the old timeline (here a duplicate
    tray made during the last task) must not survive - they would never age out."""
    wm = WorldModel(
        LAB.places, TrackerConfig(min_hits=1, min_hits_second_container=1), [TRAY],
        prior_confidence=0.5,
    )  # fmt: skip
    wm.update(seen(CUBE, TRAY, replace(TRAY, position=(0.2, -0.5, 0.74))), 50.0)
    wm.update(seen(CUBE, TRAY, replace(TRAY, position=(0.2, -0.5, 0.74))), 50.1)
    assert set(wm.snapshot().objects) == {'red_cube', 'tray', 'tray_2'}
    wm.update(seen(TRAY), 49.5)  # out of order by 0.6 s: not a reset
    assert wm.resets == 0 and 'tray_2' in wm.snapshot().objects
    wm.update(seen(TRAY), 0.2)  # the clock restarted
    assert wm.resets == 1
    assert set(wm.snapshot().objects) == {'tray'}
    wm.tick(10.0)
    assert set(wm.snapshot().objects) == {'tray'}  # and ages normally in the new timeline


def test_pieces_of_a_tracked_container_are_no_second_container() -> None:
    """The arm over the tray splits it into pieces whose centres lie beyond match_radius from
    the track: they refresh the tray and never become tray_2; a second tray seen beside it
    still starts a new track."""
    wm = model(min_hits=1, match_radius=0.05)
    wm.update(seen(TRAY), 0.0)
    x, y, z = TRAY.position
    quarter = (TRAY.size[0] / 4, TRAY.size[1] / 4)
    pieces = [
        replace(TRAY, id='', position=(x + quarter[0], y + quarter[1], z), partial=True),
        replace(TRAY, id='', position=(x - quarter[0], y - quarter[1], z), partial=True),
    ]
    assert all(math.dist(p.position, TRAY.position) > 0.05 for p in pieces)
    for k in range(1, 6):
        wm.update(pieces, 0.2 * k)
    snap = wm.snapshot()
    assert [o for o in snap.objects if o.startswith('tray')] == ['tray']
    assert snap.objects['tray'].position == pytest.approx(TRAY.position)  # not moved
    assert wm.last_seen('tray') == pytest.approx(1.0)
    beside = replace(TRAY, id='', position=(x, y + TRAY.size[1], z))  # seen with a piece
    for k in range(8):
        wm.update([pieces[0], beside], 1.2 + 0.1 * k)
    assert {o for o in wm.snapshot().objects if o.startswith('tray')} == {'tray', 'tray_2'}


def test_a_second_container_needs_more_sightings_and_a_phantom_expires() -> None:
    """A second tray seen for two frames (a wrong camera pose put the grey station top
    there) is not reported and expires; seen for min_hits_second_container frames it is."""
    wm = model(min_hits=2, min_hits_second_container=6, max_unseen_in_view=2.0)
    wm.update(seen(TRAY), 0.0)
    wm.update(seen(TRAY), 0.1)
    x, y, z = TRAY.position
    phantom = replace(TRAY, id='', position=(x - 0.2, y - 1.7, z))
    wm.update(seen(TRAY, phantom), 0.2)
    wm.update(seen(TRAY, phantom), 0.3)
    assert [o for o in wm.snapshot().objects if o.startswith('tray')] == ['tray']
    for k in range(30):
        wm.update(seen(TRAY), 0.4 + 0.1 * k)
    assert [t for t in wm.tracks if t.startswith('tray')] == ['tray']  # expired
    for k in range(6):
        wm.update(seen(TRAY, phantom), 3.5 + 0.1 * k)
    assert {o for o in wm.snapshot().objects if o.startswith('tray')} == {'tray', 'tray_2'}


def test_a_container_moves_only_once_its_old_spot_is_seen_empty() -> None:
    """`lab_long`: at the station, a grey detection of the tray's size on the station top
    moved the tray (tracked on the bench, out of view) 2.13 m there, and back at the bench the
    real tray became a second one. A resting container now stays put while its spot is out of
    view (the far detection is ignored, and makes no second tray); once the spot is in view
    and empty, the detection moves it as before (after `jump_hits` frames)."""
    wm = model(min_hits=1, jump_hits=3, min_hits_second_container=8, occlusion_grace=1.0)
    wm.update(seen(TRAY), 0.0)
    x, y, z = TRAY.position
    at_station = replace(TRAY, id='', position=(x + 0.03, y - 2.15, z))
    bench_out_of_view = lambda p: p[1] < -1.0  # noqa: E731  (only the station is in view)
    for k in range(5):
        wm.update(seen(at_station), 1.0 + 0.1 * k, bench_out_of_view)
    _only_the_tray(wm, TRAY.position, 'bench')
    # back at the bench: the real tray is where it was, and nothing else was reported
    for k in range(3):
        wm.update(seen(TRAY), 2.0 + 0.1 * k, lambda p: p[1] > -1.0)
    assert list(wm.snapshot().objects) == ['tray']
    # really moved: its spot in view and empty for over the grace time, then seen at the station
    everything = lambda p: True  # noqa: E731
    for k in range(15):
        wm.update([], 3.0 + 0.1 * k, everything)
    for k in range(3):
        wm.update(seen(at_station), 4.5 + 0.1 * k, everything)
    _only_the_tray(wm, at_station.position, 'station')


def _only_the_tray(wm: WorldModel, position, place: str) -> None:
    """The model reports one object, the tray, at `position` and on `place`."""
    snap = wm.snapshot()
    assert list(snap.objects) == ['tray']
    assert snap.objects['tray'].position == pytest.approx(position)
    assert snap.has('tray', 'on', place)


def test_a_detection_inside_a_table_is_ignored() -> None:
    """The grey station top seen far away with a camera pose a little off became a "tray"
    whose bottom was 4 cm down in the station: not an object. Objects resting on a table
    (bottom within table_tolerance of its top) and ones beside the tables are kept."""
    wm = model(min_hits=1)
    station = LAB.places['station']
    sunk = replace(TRAY, id='', position=(0.37, -1.71, station.top_z - 0.02))
    resting = replace(CUBE, id='', position=(0.37, 0.0, LAB.places['bench'].top_z + 0.025 - 0.008))
    beside = replace(CUBE, id='', position=(0.0, 0.8, 0.3))  # on no table
    wm.update([sunk, resting, beside], 0.0)
    assert sorted(wm.tracks) == ['red_cube', 'red_cube_2']
    off = model(min_hits=1, table_tolerance=0.0)
    off.update([sunk], 0.0)
    assert list(off.tracks) == ['tray']


def test_object_in_a_container_missed_in_view_is_kept_like_the_container() -> None:
    """A vial dropped into the bin is in view but hidden by the bin's walls: it stays (it was
    deleted after max_unseen_in_view and the place's effect check failed), for as long as a
    container missed in view; the same vial beside the bin expires."""
    cfg = TrackerConfig(min_hits=1, occlusion_grace=0.5, max_unseen_in_view=2.0,
                        max_unseen_container=10.0)  # fmt: skip
    bin_ = LAB.objects['bin']
    vial = LAB.objects['yellow_vial']
    inside = replace(vial, position=(bin_.position[0], bin_.position[1],
                                     bin_.bottom_z + vial.size[2] / 2 + 0.005))  # fmt: skip
    beside = replace(
        vial, id='vial_2', position=(bin_.position[0] + bin_.size[0], bin_.position[1],
                                     vial.position[2]),
    )  # fmt: skip
    wm = WorldModel(LAB.places, cfg)
    wm.update([bin_, inside, beside], 0.0, lambda p: True)
    assert wm.snapshot().has('yellow_vial', 'in', 'bin')
    for k in range(1, 31):  # 6 s: only the bin is detected
        wm.update([bin_], 0.2 * k, lambda p: True)
    snap = wm.snapshot()
    assert 'yellow_vial' in snap.objects and snap.has('yellow_vial', 'in', 'bin')
    assert 'vial_2' not in snap.objects
    wm.update([bin_], 6.0 + cfg.max_unseen_container, lambda p: True)
    assert 'yellow_vial' not in wm.snapshot().objects
    # out of view (the robot walked away), the bin and what is in it persist however long,
    # and are kept again for as long when back in view
    wm = WorldModel(LAB.places, cfg)
    wm.update([bin_, inside], 0.0, lambda p: True)
    wm.tick(100.0, lambda p: False)
    wm.update([], 100.2, lambda p: True)
    assert wm.snapshot().has('yellow_vial', 'in', 'bin')
    wm.tick(100.0 + cfg.max_unseen_container + 0.5, lambda p: True)
    assert wm.snapshot().objects == {}


def test_object_released_over_the_bin_falls_into_it() -> None:
    """The vial is let go with its bottom over the bin's rim: it falls in (in(vial, bin) at
    once, before the camera sees it there, which it often cannot), and stays while unseen."""
    cfg = TrackerConfig(min_hits=1, occlusion_grace=0.5, max_unseen_in_view=2.0)
    bin_ = LAB.objects['bin']
    vial = LAB.objects['yellow_vial']
    wm = WorldModel(LAB.places, cfg)
    wm.update([bin_, vial], 0.0, lambda p: True)
    grip = vial.position
    wm.set_hands({'left': HandState(grip, 0.02)})  # closed on the vial
    assert wm.snapshot().held['left'] == 'yellow_vial'
    for k in range(1, 61):  # carried for a minute (the walk to the station), never detected
        wm.update([bin_], float(k), lambda p: True)
    over = (bin_.position[0], bin_.position[1], bin_.top_z + 0.015 + vial.size[2] / 2)
    wm.set_hands({'left': HandState(over, 0.02)})
    assert not wm.snapshot().has('yellow_vial', 'in', 'bin')  # carried over the rim
    wm.set_hands({'left': HandState(over, 0.09)})  # let go
    snap = wm.snapshot()
    assert snap.held['left'] is None and snap.has('yellow_vial', 'in', 'bin')
    assert snap.objects['yellow_vial'].bottom_z == pytest.approx(bin_.bottom_z)
    # only the bin is detected: the vial is kept (the time it was held is not missed time:
    # counted, the vial let go after 69 s in the hand was removed at once and the place
    # failed its effect check with the vial in the bin)
    for k in range(1, 31):
        wm.update([bin_], 60.0 + 0.2 * k, lambda p: True)
    assert wm.snapshot().has('yellow_vial', 'in', 'bin')


def test_object_released_beside_or_over_the_rim_stays_where_it_was_let_go() -> None:
    """Beside a container, or over its rim (it may fall either way): no guess."""
    bin_ = LAB.objects['bin']
    rim_x = bin_.position[0] + bin_.size[0] / 2 - 0.01  # 1 cm inside the wall
    for x in (bin_.position[0] + bin_.size[0], rim_x):
        wm = WorldModel(LAB.places, TrackerConfig(min_hits=1))
        wm.update([bin_, CUBE], 0.0)
        wm.set_hands({'right': HandState(CUBE.position, 0.048)})
        over = (x, bin_.position[1], bin_.top_z + 0.04)
        wm.set_hands({'right': HandState(over, 0.048)})
        wm.set_hands({'right': HandState(over, 0.09)})
        assert wm.snapshot().objects['red_cube'].position == pytest.approx(over)


def test_the_model_logs_new_moved_and_removed_objects_and_restarts() -> None:
    """The world model's own events, one line each, to trace a wrong belief from a log."""
    lines: list[str] = []
    wm = WorldModel(
        LAB.places, TrackerConfig(min_hits=2, jump_hits=2, max_unseen_in_view=2.0),
        log=lines.append,
    )  # fmt: skip
    wm.update(seen(CUBE), 0.0)
    assert lines == []  # one sighting: not reported, nothing to say
    wm.update(seen(CUBE), 0.1)
    wm.update(seen(CUBE), 0.2)  # a third sighting is no news
    assert lines == [
        'new object red_cube (red cube) at (0.370, 0.220, 0.745) m, '
        'size (0.050, 0.050, 0.050) m, 2 detection(s)'
    ]
    far = replace(CUBE, position=(0.47, 0.22, 0.745))
    wm.update(seen(far), 0.3)
    wm.update(seen(far), 0.4)
    assert lines[1].startswith('red_cube moved 0.10 m (at (0.470, 0.220, 0.745) m')
    wm.tick(5.0)  # in view (no predicate) and unseen for 4.6 s
    assert lines[2].startswith('removed red_cube (missed for 4.6 s in view; last at (0.470')
    lone = replace(CUBE, position=(0.2, 0.1, 0.745))
    wm.update(seen(lone), 5.1)  # seen once, never reported: dropped without a word
    wm.tick(9.0)
    assert len(lines) == 3
    wm.update(seen(CUBE), 1.0)
    assert lines[3].startswith('time jumped back 8.0 s (simulator reset?): restarting')


def test_a_container_taken_for_another_label_inside_it_is_ignored() -> None:
    """Seen at the station: the white bin's shaded inside was taken for the grey tray; the
    tray (tracked on the bench, out of view) jumped 1.9 m into the bin and the bin was "full"
    for the place. A tray cannot be inside the bin (0.30 m long, the bin 0.26 m): such a
    detection is ignored. A container that fits in another is still tracked."""
    lines: list[str] = []
    wm = WorldModel(LAB.places, TrackerConfig(min_hits=1, jump_hits=3), log=lines.append)
    bin_ = LAB.objects['bin']
    wm.update(seen(TRAY, bin_), 0.0)
    bx, by, bz = bin_.position
    fake = replace(TRAY, id='', position=(bx - 0.04, by + 0.05, bz - 0.03), confidence=0.6)
    for k in range(1, 8):
        wm.update(seen(bin_, fake), 0.2 * k, lambda p: p[1] < -1.0)  # the station in view
    snap = wm.snapshot()
    assert snap.objects['tray'].position == pytest.approx(TRAY.position)  # not moved
    assert [o for o in snap.objects if o.startswith('tray')] == ['tray']
    assert snap.has('tray', 'on', 'bench') and not snap.related('bin', 'in')
    assert not any('moved' in x for x in lines), lines
    # a small container that fits in the bin is no such part
    box = replace(TRAY, id='', label='box', size=(0.1, 0.12, 0.05), position=(bx, by, bz))
    for k in range(2):
        wm.update(seen(bin_, box), 2.0 + 0.2 * k, lambda p: p[1] < -1.0)
    assert 'box' in wm.snapshot().objects


def test_a_mislabelled_part_overlapping_the_container_is_ignored() -> None:
    """Re-run of lab task vial-carry-to-bin: a grey detection (0.22 x 0.30 m, the tray's size)
    centred 4 mm outside the believed bin's footprint moved the tray 2.07 m into the station:
    the rule tested the centre, not the overlap. A real tray beside the bin is still seen."""
    lines: list[str] = []
    wm = WorldModel(LAB.places, TrackerConfig(min_hits=1, jump_hits=3), log=lines.append)
    bin_ = LAB.objects['bin']
    wm.update(seen(TRAY, bin_), 0.0)
    bx, by, bz = bin_.position
    half = 0.5 * bin_.size[1]
    fake = replace(TRAY, id='', position=(bx - 0.02, by - half - 0.004, bz - 0.03))
    for k in range(1, 8):
        wm.update(seen(bin_, fake), 0.2 * k, lambda p: p[1] < -1.0)
    assert wm.snapshot().objects['tray'].position == pytest.approx(TRAY.position)
    assert not any('moved' in x for x in lines), lines
    # the tray carried to the station and set down 1 cm beside the bin is where it is seen,
    # once its old spot on the bench has been seen empty (`_stays_put`)
    for k in range(6):
        wm.update(seen(bin_), 1.5 + 0.2 * k, lambda p: True)
    beside = replace(TRAY, id='', position=(bx, by + half + 0.5 * TRAY.size[1] + 0.01, bz))
    for k in range(6):
        wm.update(seen(bin_, beside), 2.7 + 0.2 * k, lambda p: p[1] < -1.0)
    assert wm.snapshot().objects['tray'].position == pytest.approx(beside.position)


def test_a_partial_view_of_a_container_neither_moves_it_nor_makes_a_second() -> None:
    """Measured at the station (lab task blue-tray-then-bin): the bin seen in part, centre
    (0.349, -1.842) instead of (0.470, -2.000), moved the bin there after 3 frames; whole
    views then made `bin_3` where it was, and the cube placed at the moved bin's centre, beside
    the bin, was judged in bin_3. A detection overlapping the tracked bin is a piece of it."""
    lines: list[str] = []
    wm = WorldModel(LAB.places, TrackerConfig(min_hits=1, jump_hits=3), [LAB.objects['bin']],
                    log=lines.append)  # fmt: skip
    bin_ = LAB.objects['bin']
    part = replace(bin_, id='', position=(0.349, -1.842, 0.777), partial=True)
    whole = replace(bin_, id='')
    for k in range(10):
        wm.update([part], 0.1 * k)
    for k in range(10, 20):
        wm.update([whole], 0.1 * k)
    snap = wm.snapshot()
    assert [o for o in snap.objects if o.startswith('bin')] == ['bin']
    assert snap.objects['bin'].position == pytest.approx(bin_.position, abs=1e-6)
    assert lines == []  # nothing moved, nothing new
    # a bin beside it (overlapping by less than 2 cm) is a second bin
    beside = replace(bin_, id='', position=(bin_.position[0], bin_.position[1] + 0.25, 0.78))
    for k in range(20, 30):
        wm.update([whole, beside], 0.1 * k)
    assert {o for o in wm.snapshot().objects if o.startswith('bin')} == {'bin', 'bin_2'}


def test_a_partial_view_near_a_resting_container_does_not_creep_it() -> None:
    """In-process with perception (2026-11-28, "put the cubes in the bin"): during the place
    the arm hid 8-12 cm of the bin, its detections' centres 4-6 cm off, within match_radius:
    each one pulled the track, and after the place the bin was believed 10 cm from where it
    was; walking off, the robot then pushed the real bin 23 cm. A partial detection is a
    sighting of a resting container, never a pose; a whole one still corrects it."""
    bin_ = LAB.objects['bin']
    wm = WorldModel(LAB.places, TrackerConfig(min_hits=1, smoothing=0.6), [bin_])
    x, y, z = bin_.position
    off = replace(bin_, id='', position=(x, y + 0.05, z), partial=True)
    for k in range(40):
        wm.update([off], 0.2 * k)
    assert wm.snapshot().objects['bin'].position == pytest.approx(bin_.position, abs=1e-9)
    assert wm.last_seen('bin') == pytest.approx(7.8)  # seen all along: not missed
    whole = replace(bin_, id='', position=(x + 0.01, y, z))
    wm.update([whole], 8.0)
    assert wm.snapshot().objects['bin'].position == pytest.approx((x + 0.01, y, z))
    # a cube, unlike a container, takes a partial view's position (it may be moving)
    cube = replace(CUBE, position=(0.37, 0.22, 0.745))
    wm.update([cube], 8.2)
    wm.update([cube], 8.4)
    wm.update([replace(cube, position=(0.39, 0.22, 0.745), partial=True)], 8.6)
    assert wm.snapshot().objects['red_cube'].position[0] > 0.375


def test_a_whole_view_of_a_pushed_container_moves_it() -> None:
    """The bin pushed 20 cm (less than its size, so old and new footprints overlap) and seen
    whole there: it moves after `jump_hits` agreeing frames. Before, such a detection was
    taken for a piece of the bin, and the bin stayed where it had been until its old spot was
    seen empty. A partial view there still moves nothing."""
    bin_ = LAB.objects['bin']
    lines: list[str] = []
    wm = WorldModel(LAB.places, TrackerConfig(min_hits=1, jump_hits=3), [bin_], log=lines.append)
    x, y, z = bin_.position
    wm.update([replace(bin_, id='')], 0.0)
    pushed = (x - 0.02, y - 0.20, z)
    for k in range(5):
        wm.update([replace(bin_, id='', position=pushed, partial=True)], 0.2 + 0.2 * k)
    assert wm.snapshot().objects['bin'].position == pytest.approx(bin_.position)
    for k in range(2):
        wm.update([replace(bin_, id='', position=pushed)], 1.2 + 0.2 * k)
        assert wm.snapshot().objects['bin'].position == pytest.approx(bin_.position)
    wm.update([replace(bin_, id='', position=pushed)], 1.6)
    snap = wm.snapshot()
    assert [o for o in snap.objects if o.startswith('bin')] == ['bin']
    assert snap.objects['bin'].position == pytest.approx(pushed)
    assert any(line.startswith('bin moved 0.20 m') for line in lines), lines
    # a second whole view overlapping it in the same frame is the same bin, not a second one
    ghost = replace(bin_, id='', position=(pushed[0], pushed[1] + 0.1, z))
    for k in range(12):
        wm.update([replace(bin_, id='', position=pushed), ghost], 2.0 + 0.2 * k)
    assert [o for o in wm.snapshot().objects if o.startswith('bin')] == ['bin']
    assert wm.snapshot().objects['bin'].position == pytest.approx(pushed)
