"""Scene loading, validation errors, layouts and randomisation."""

import copy
import math

from humanoid_core.sim.scene import (
    OBJECT_TYPES,
    Scene,
    SceneError,
    load_scene,
    make_scene,
    scene_path,
)
import pytest
import yaml

CONTRACT_OBJECTS = {'red_cube', 'blue_cube', 'green_cube', 'yellow_vial', 'tray', 'bin'}


@pytest.fixture(scope='module')
def lab_data() -> dict:
    with open(scene_path('lab')) as f:
        return yaml.load(f, Loader=yaml.SafeLoader)  # plain loader: `on:` parses as True


@pytest.fixture(scope='module')
def lab() -> Scene:
    return load_scene('lab')


def test_lab_has_contract_names(lab: Scene) -> None:
    assert set(lab.places) == {'bench', 'station'}
    assert set(lab.objects) == CONTRACT_OBJECTS
    assert lab.objects['bin'].on == 'station'
    assert all(lab.objects[n].on == 'bench' for n in CONTRACT_OBJECTS - {'bin'})
    assert lab.objects['tray'].is_container and lab.objects['bin'].is_container
    assert not lab.objects['red_cube'].is_container


def test_plain_yaml_on_key_is_accepted(lab_data: dict) -> None:
    # PyYAML reads `on:` as the boolean True; the scene loader must cope with both forms.
    assert True in lab_data['objects']['red_cube']
    scene = Scene.from_dict(lab_data)
    assert scene.objects['red_cube'].on == 'bench'


def test_nominal_layout_world_poses(lab: Scene) -> None:
    layout = lab.nominal_layout()
    red = layout['red_cube']
    bench = lab.places['bench']
    assert red.position[0] == pytest.approx(bench.pose[0] - 0.10)
    assert red.position[1] == pytest.approx(0.22)
    # resting on the top: table height + half the cube (+ a 1 mm drop gap)
    assert red.position[2] == pytest.approx(0.72 + 0.025, abs=0.002)
    assert layout['bin'].position[1] == pytest.approx(-2.0)


def _with(lab_data: dict, **changes) -> dict:
    data = copy.deepcopy(lab_data)
    for path, value in changes.items():
        node = data
        keys = path.split('__')
        for k in keys[:-1]:
            node = node[True if k == 'on' else k]
        node[keys[-1]] = value
    return data


def test_unknown_object_type_names_object_type_and_choices(lab_data: dict) -> None:
    data = _with(lab_data, objects__red_cube__type='sphere')
    with pytest.raises(SceneError) as err:
        Scene.from_dict(data)
    msg = str(err.value)
    assert 'red_cube' in msg and 'sphere' in msg
    for t in OBJECT_TYPES:
        assert t in msg


def test_overlapping_objects_name_both(lab_data: dict) -> None:
    data = _with(lab_data, objects__blue_cube__xy=[-0.10, 0.20])
    with pytest.raises(SceneError, match=r'red_cube.*blue_cube|blue_cube.*red_cube'):
        Scene.from_dict(data)


def test_object_off_its_table(lab_data: dict) -> None:
    data = _with(lab_data, objects__red_cube__xy=[-0.10, 0.59])
    with pytest.raises(SceneError, match=r"red_cube.*sticks out of 'bench'"):
        Scene.from_dict(data)


def test_unknown_place(lab_data: dict) -> None:
    data = copy.deepcopy(lab_data)
    data['objects']['red_cube'][True] = 'shelf'
    with pytest.raises(SceneError, match=r"red_cube.*unknown place 'shelf'.*bench"):
        Scene.from_dict(data)


def test_bad_field_values_are_named(lab_data: dict) -> None:
    data = _with(lab_data, objects__red_cube__mass=-1.0)
    with pytest.raises(SceneError, match=r'red_cube\.mass'):
        Scene.from_dict(data)
    data = _with(lab_data, objects__red_cube__color='mauve')
    with pytest.raises(SceneError, match=r'red_cube.*mauve'):
        Scene.from_dict(data)
    data = _with(lab_data, randomize__shuffle=['red_cube', 'pink_cube'])
    with pytest.raises(SceneError, match='pink_cube'):
        Scene.from_dict(data)


def test_missing_scene_lists_available() -> None:
    with pytest.raises(SceneError, match=r"'nowhere'.*lab"):
        load_scene('nowhere')


def test_randomize_is_deterministic_per_seed(lab: Scene) -> None:
    a, b = lab.randomize(7), lab.randomize(7)
    assert a.placements == b.placements
    others = [lab.randomize(s).placements for s in range(8, 14)]
    assert any(o != a.placements for o in others)


def test_randomized_layouts_are_valid(lab: Scene) -> None:
    rnd = lab.randomization
    nominal_slots = {lab.objects[n].xy for n in rnd.shuffle}
    for seed in range(30):
        layout = lab.randomize(seed)
        lab.validate_layout(layout)  # on tables, no overlaps
        for name, p in layout.placements.items():
            obj = lab.objects[name]
            assert p.on == obj.on
            if name in rnd.shuffle:
                # within jitter of one of the shuffled slots
                assert any(
                    abs(p.xy[0] - sx) <= rnd.xy_jitter + 1e-9
                    and abs(p.xy[1] - sy) <= rnd.xy_jitter + 1e-9
                    for sx, sy in nominal_slots
                )
            else:
                assert abs(p.xy[0] - obj.xy[0]) <= rnd.xy_jitter + 1e-9
            assert abs(p.yaw_local - obj.yaw) <= rnd.yaw_jitter + 1e-9


def test_shuffle_permutes_slots(lab: Scene) -> None:
    def slot_of(layout, name):
        return min(range(4), key=lambda i: abs(layout[name].xy[1] - (0.22, 0.08, -0.06, -0.2)[i]))

    red_slots = {slot_of(lab.randomize(seed), 'red_cube') for seed in range(20)}
    assert len(red_slots) > 1


def test_impossible_randomization_fails_loudly(lab_data: dict) -> None:
    data = _with(lab_data, randomize__min_clearance=0.5, randomize__max_attempts=3)
    scene = Scene.from_dict(data)
    with pytest.raises(SceneError, match=r'no layout without overlaps.*seed 1'):
        scene.randomize(1)


def test_layout_seed_none_is_nominal(lab: Scene) -> None:
    assert lab.layout(None).placements == lab.nominal_layout().placements
    assert lab.layout(-1).placements == lab.nominal_layout().placements
    assert lab.layout(3).seed == 3


def test_make_scene_from_object_specs(lab: Scene) -> None:
    scene = make_scene(
        {
            'red_cube': {'type': 'cube', 'color': 'red', 'size': [0.05] * 3, 'mass': 0.1,
                         'on': 'bench', 'xy': [-0.15, 0.3], 'yaw': 0.3},
            'tray': lab.objects['tray'],
        },
        name='twin',
    )  # fmt: skip
    assert set(scene.objects) == {'red_cube', 'tray'}
    assert scene.places == lab.places
    assert scene.nominal_layout()['red_cube'].yaw == pytest.approx(0.3)
    with pytest.raises(SceneError, match=r"'ghost'.*unknown type 'blob'"):
        make_scene({'ghost': {'type': 'blob', 'size': [1, 1, 1], 'mass': 1, 'on': 'bench'}})


def test_yawed_place_transforms_offsets(lab_data: dict) -> None:
    data = _with(lab_data, places__station__pose=[1.0, -2.0, math.pi / 2])
    data['objects']['bin']['xy'] = [0.1, 0.0]
    scene = Scene.from_dict(data)
    p = scene.nominal_layout()['bin']
    assert p.position[0] == pytest.approx(1.0)
    assert p.position[1] == pytest.approx(-1.9)
    assert p.yaw == pytest.approx(math.pi / 2)
