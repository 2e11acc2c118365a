#!/usr/bin/env python3
"""Generate the Gazebo (gz sim) world SDF of a scene from `config/scenes/<scene>.yaml`.

The same tables and objects as the embedded MuJoCo scene (humanoid_core.sim.builder): each
table is a static model (top + four legs), each object a model at its nominal layout pose
(cubes, cylinders, open containers of five boxes). The world also loads the gz systems the
robot needs (physics, user commands for spawning, scene broadcaster, sensors with ogre2, IMU,
contact).

    .venv/bin/python scripts/gen_gazebo_world.py            # writes config/gazebo/worlds/lab.sdf
    .venv/bin/python scripts/gen_gazebo_world.py --check    # exit 1 if the committed file differs
"""

from __future__ import annotations

import argparse
from pathlib import Path
import sys
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'src' / 'humanoid_core'))

from humanoid_core.sim.scene import CONTAINER_TYPES, Scene, load_scene  # noqa: E402

# Kept equal to humanoid_core.sim.builder (MuJoCo scene); not imported so that this script
# does not need mujoco.
TABLE_TOP_THICKNESS = 0.04
TABLE_LEG = 0.03
CONTAINER_WALL = 0.008


def _f(v: float) -> str:
    text = f'{v:.6f}'.rstrip('0').rstrip('.')
    return '0' if text in ('-0', '') else text


def _vec(values) -> str:
    return ' '.join(_f(float(v)) for v in values)


def _box_inertia(mass: float, sx: float, sy: float, sz: float) -> tuple[float, float, float]:
    return (
        mass * (sy * sy + sz * sz) / 12.0,
        mass * (sx * sx + sz * sz) / 12.0,
        mass * (sx * sx + sy * sy) / 12.0,
    )


def _material(rgba) -> list[str]:
    c = _vec(rgba)
    return [
        '<material>',
        f'  <ambient>{c}</ambient>',
        f'  <diffuse>{c}</diffuse>',
        '  <specular>0.1 0.1 0.1 1</specular>',
        '</material>',
    ]


def _box_part(name: str, pos, size, rgba, mu: float | None) -> list[str]:
    geometry = [f'  <geometry><box><size>{_vec(size)}</size></box></geometry>']
    lines = [f'<collision name="{name}_collision">', f'  <pose>{_vec(pos)} 0 0 0</pose>']
    lines += geometry
    if mu is not None:
        lines += [
            '  <surface><friction><ode>',
            f'    <mu>{_f(mu)}</mu><mu2>{_f(mu)}</mu2>',
            '  </ode></friction></surface>',
        ]
    lines += [
        '</collision>',
        f'<visual name="{name}_visual">',
        f'  <pose>{_vec(pos)} 0 0 0</pose>',
    ]
    lines += geometry + ['  ' + m for m in _material(rgba)] + ['</visual>']
    return lines


def _indent(lines: list[str], n: int) -> list[str]:
    return [' ' * n + line for line in lines]


def _table(name: str, pose, size, rgba) -> list[str]:
    x, y, yaw = pose
    sx, sy, h = size
    leg_h = h - TABLE_TOP_THICKNESS
    leg_rgba = [c * 0.7 for c in rgba[:3]] + [1.0]
    parts = _box_part(
        f'{name}_top',
        (0, 0, h - TABLE_TOP_THICKNESS / 2),
        (sx, sy, TABLE_TOP_THICKNESS),
        rgba,
        1.0,
    )
    for i, (dx, dy) in enumerate([(1, 1), (-1, 1), (-1, -1), (1, -1)]):
        pos = (dx * (sx / 2 - TABLE_LEG), dy * (sy / 2 - TABLE_LEG), leg_h / 2)
        parts += _box_part(f'{name}_leg{i}', pos, (TABLE_LEG, TABLE_LEG, leg_h), leg_rgba, None)
    return [
        f'<model name="{escape(name)}">',
        '  <static>true</static>',
        f'  <pose>{_vec((x, y, 0.0, 0.0, 0.0, yaw))}</pose>',
        '  <link name="link">',
        *_indent(parts, 4),
        '  </link>',
        '</model>',
    ]


def _object(name: str, obj, position, yaw: float) -> list[str]:
    sx, sy, sz = obj.size
    rgba = obj.rgba
    mu = obj.friction
    if obj.type == 'cube':
        parts = _box_part(f'{name}', (0, 0, 0), (sx, sy, sz), rgba, mu)
        inertia = _box_inertia(obj.mass, sx, sy, sz)
    elif obj.type == 'cylinder':
        r = min(sx, sy) / 2
        geometry = (
            f'  <geometry><cylinder><radius>{_f(r)}</radius>'
            f'<length>{_f(sz)}</length></cylinder></geometry>'
        )
        parts = [
            f'<collision name="{name}_collision">',
            geometry,
            f'  <surface><friction><ode><mu>{_f(mu)}</mu><mu2>{_f(mu)}</mu2>'
            '</ode></friction></surface>',
            '</collision>',
            f'<visual name="{name}_visual">',
            geometry,
            *['  ' + m for m in _material(rgba)],
            '</visual>',
        ]
        ixx = obj.mass * (3 * r * r + sz * sz) / 12.0
        inertia = (ixx, ixx, obj.mass * r * r / 2.0)
    elif obj.type in CONTAINER_TYPES:
        t = CONTAINER_WALL
        boxes = {
            'base': ((0, 0, -sz / 2 + t / 2), (sx, sy, t)),
            'wall_px': ((sx / 2 - t / 2, 0, 0), (t, sy, sz)),
            'wall_nx': ((-sx / 2 + t / 2, 0, 0), (t, sy, sz)),
            'wall_py': ((0, sy / 2 - t / 2, 0), (sx - 2 * t, t, sz)),
            'wall_ny': ((0, -sy / 2 + t / 2, 0), (sx - 2 * t, t, sz)),
        }
        parts = []
        for part, (pos, size) in boxes.items():
            parts += _box_part(f'{name}_{part}', pos, size, rgba, mu)
        inertia = _box_inertia(obj.mass, sx, sy, sz)  # bounding box: close enough for a shell
    else:
        raise ValueError(f'object {name!r}: no Gazebo model for type {obj.type!r}')
    x, y, z = position
    return [
        f'<model name="{escape(name)}">',
        f'  <static>{"true" if obj.fixed else "false"}</static>',
        f'  <pose>{_vec((x, y, z, 0.0, 0.0, yaw))}</pose>',
        '  <link name="link">',
        '    <inertial>',
        f'      <mass>{_f(obj.mass)}</mass>',
        '      <inertia>',
        f'        <ixx>{inertia[0]:.6e}</ixx><ixy>0</ixy><ixz>0</ixz>',
        f'        <iyy>{inertia[1]:.6e}</iyy><iyz>0</iyz><izz>{inertia[2]:.6e}</izz>',
        '      </inertia>',
        '    </inertial>',
        *_indent(parts, 4),
        '  </link>',
        '</model>',
    ]


def world_sdf(scene: Scene) -> str:
    """The SDF world of `scene` at its nominal layout."""
    layout = scene.nominal_layout()
    lines = [
        '<?xml version="1.0"?>',
        f'<!-- GENERATED by scripts/gen_gazebo_world.py from config/scenes/{scene.name}.yaml:',
        '     do not edit; regenerate. -->',
        '<sdf version="1.9">',
        f'  <world name="{escape(scene.name)}">',
        '    <physics name="1ms" type="ignored">',
        '      <max_step_size>0.001</max_step_size>',
        '      <real_time_factor>1.0</real_time_factor>',
        '    </physics>',
        '    <plugin filename="gz-sim-physics-system" name="gz::sim::systems::Physics"/>',
        '    <plugin filename="gz-sim-user-commands-system"',
        '            name="gz::sim::systems::UserCommands"/>',
        '    <plugin filename="gz-sim-scene-broadcaster-system"',
        '            name="gz::sim::systems::SceneBroadcaster"/>',
        '    <plugin filename="gz-sim-sensors-system" name="gz::sim::systems::Sensors">',
        '      <render_engine>ogre2</render_engine>',
        '    </plugin>',
        '    <plugin filename="gz-sim-imu-system" name="gz::sim::systems::Imu"/>',
        '    <plugin filename="gz-sim-contact-system" name="gz::sim::systems::Contact"/>',
        '    <gravity>0 0 -9.81</gravity>',
        '    <scene>',
        '      <ambient>0.4 0.4 0.4 1</ambient>',
        '      <background>0.7 0.7 0.7 1</background>',
        '      <shadows>false</shadows>',
        '    </scene>',
        '    <light type="directional" name="sun">',
        '      <cast_shadows>false</cast_shadows>',
        '      <pose>0 0 10 0 0 0</pose>',
        '      <diffuse>0.8 0.8 0.8 1</diffuse>',
        '      <specular>0.2 0.2 0.2 1</specular>',
        '      <direction>-0.5 0.1 -0.9</direction>',
        '    </light>',
        '    <model name="ground_plane">',
        '      <static>true</static>',
        '      <link name="link">',
        '        <collision name="collision">',
        '          <geometry><plane><normal>0 0 1</normal><size>40 40</size></plane></geometry>',
        '          <surface><friction><ode><mu>1.0</mu><mu2>1.0</mu2></ode></friction></surface>',
        '        </collision>',
        '        <visual name="visual">',
        '          <geometry><plane><normal>0 0 1</normal><size>40 40</size></plane></geometry>',
        '          <material><ambient>0.6 0.6 0.6 1</ambient><diffuse>0.6 0.6 0.6 1</diffuse>'
        '</material>',
        '        </visual>',
        '      </link>',
        '    </model>',
    ]
    for name, place in scene.places.items():
        lines += _indent(_table(name, place.pose, place.size, place.color), 4)
    for name, obj in scene.objects.items():
        p = layout[name]
        lines += _indent(_object(name, obj, p.position, p.yaw), 4)
    lines += ['  </world>', '</sdf>', '']
    return '\n'.join(lines)


def world_path(scene_name: str) -> Path:
    return ROOT / 'config' / 'gazebo' / 'worlds' / f'{scene_name}.sdf'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--scene', default='lab', help='scene name under config/scenes/')
    parser.add_argument('--check', action='store_true', help='compare, do not write')
    args = parser.parse_args(argv)
    text = world_sdf(load_scene(args.scene))
    path = world_path(args.scene)
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print(f'{path} is out of date: run scripts/gen_gazebo_world.py --scene {args.scene}')
            return 1
        print(f'{path} is up to date')
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f'wrote {path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
