"""Perception in the loop for scripts/debug/task_in_process.py (PERCEIVE=1): the detector and
the world model of the ROS stack, fed in-process from the simulator's head camera.

Mirrors the object_detector and world_model nodes with their config defaults (classical
backend, stride 3, the robot's own points filtered out; scene priors, hands from forward
kinematics, the camera-view predicate with occlusion from depth). Not mirrored: message
latency, the nodes' own timing, camera frames dropped under load.
"""

from __future__ import annotations

import math
from typing import Any

from humanoid_core.perception.camera_pose import RobotKinematics
from humanoid_core.perception.classify import Vocabulary
from humanoid_core.perception.pipeline import DetectorConfig, ObjectDetector
from humanoid_core.perception.sim_frames import render_frame
from humanoid_core.perception.tracker import TrackerConfig, WorldModel, hand_states, in_camera_view
from humanoid_core.world.scene import initial_world
from humanoid_core.world.types import WorldSnapshot
import numpy as np


class Perceiver:
    def __init__(self, sim: Any, run: Any, hz: float = 5.0, scene: str = 'lab') -> None:
        self.sim, self.period = sim, 1.0 / hz
        self.detector = ObjectDetector(Vocabulary.from_scene(scene), DetectorConfig(stride=3))
        self.kin = RobotKinematics.humanoid()
        initial = initial_world(scene)
        self.model = WorldModel(
            initial.places,
            TrackerConfig(),
            initial.objects.values(),
            0.5,
            log=lambda m: print(f'    [world_model {self.sim.time:7.2f}] {m}'),
        )
        self.frames = 0
        self.next = 0.0
        tick = run.tick

        def tick_and_perceive() -> None:
            tick()
            if self.sim.time >= self.next:
                self.next = self.sim.time + self.period
                self.perceive()

        run.tick = tick_and_perceive

    def _robot(self) -> None:
        st = self.sim.read_state()
        joints = dict(zip(st.joint_names, st.positions, strict=True))
        pos, quat = st.base_pose.position, st.base_pose.quaternion
        self.kin.update(joints, pos, quat)
        w, x, y, z = quat
        self.model.set_robot_pose(
            float(pos[0]), float(pos[1]), math.atan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z))
        )
        self.model.set_hands(hand_states(self.kin, joints))

    def perceive(self) -> None:
        frame = render_frame(self.sim)
        self._robot()
        result = self.detector.detect(
            frame, now=frame.stamp, exclude=lambda pts: self.kin.near_body(pts, 0.015)
        )
        i = frame.intrinsics
        assert i is not None and frame.camera_pose is not None
        visible = in_camera_view(
            frame.camera_pose, i.fx, i.fy, i.cx, i.cy, i.width, i.height,
            max_depth=2.5, depth=frame.depth, occlusion_margin=0.06,
        )  # fmt: skip
        dets = [d.as_object() for d in result.detections]
        self.model.update(dets, frame.stamp, visible)
        self.frames += 1

    def world(self) -> WorldSnapshot:
        self._robot()
        self.model.tick(self.sim.time)
        return self.model.snapshot()

    def report(self) -> None:
        """Belief against truth (cm) for every object, and the relations believed."""
        snap = self.world()
        truth = {k: np.asarray(p.position) for k, p in self.sim.object_poses().items()}
        parts = []
        for oid, o in sorted(snap.objects.items()):
            t = truth.get(oid)
            err = '' if t is None else f' err {np.round((np.asarray(o.position) - t) * 100, 1)}'
            parts.append(f'{oid} {np.round(o.position, 3).tolist()}{err}')
        print(f'    belief ({self.frames} frames): ' + '; '.join(parts))
        print('    relations: ' + ', '.join(str(r) for r in snap.relations))
