"""object_detector + world_model as separate processes over real DDS.

The test renders the `lab` scene's head camera with the embedded simulator (humanoid robot),
publishes it like the simulator node does (colour, depth, camera_info, joint_states, odom),
and checks: objects in the `world` frame at the ground-truth positions, a latched world_state
with relations, and bad input (missing camera_info, all-NaN depth, mismatched sizes, a frame
from the future) -> a diagnostics warning naming the problem, no objects published, and the
stale objects expiring from world_state, which says perception is stale (and fresh again once
objects come); then a stream that stops (WARN, the camera
subscriptions created afresh after `resubscribe_after`) and comes back, colour first. Without
camera_info the readers are created afresh too.
"""

from __future__ import annotations

from collections.abc import Callable
import math
import os
import time

import numpy as np
import pytest

os.environ.setdefault('MUJOCO_GL', 'egl')

rclpy = pytest.importorskip('rclpy')
pytest.importorskip('open3d')

from diagnostic_msgs.msg import (  # noqa: E402
    DiagnosticArray,
    DiagnosticStatus,
)
from humanoid_core.perception.frame import Intrinsics  # noqa: E402
from nav_msgs.msg import Odometry  # noqa: E402
from rclpy.qos import (  # noqa: E402
    DurabilityPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)
from sensor_msgs.msg import CameraInfo, Image, JointState  # noqa: E402
from testutil import ROOT  # noqa: E402

from humanoid_interfaces.msg import ObjectArray, WorldState  # noqa: E402
from humanoid_perception import conversions as conv  # noqa: E402

pytestmark = pytest.mark.slow
EXE = ROOT / 'install' / 'lib' / 'humanoid_perception'
OPTICAL = 'head_camera_optical_frame'
SIM_CLOCK_LAG = 1000.0


@pytest.fixture(scope='module')
def sim_frame():
    from humanoid_core.sim.backend import MujocoBackend

    with MujocoBackend('lab', seed=5) as sim:
        sim.step(300)
        img = sim.render('head_camera', 640, 480)
        state = sim.read_state()
        truth = {k: np.asarray(p.position) for k, p in sim.object_poses().items()}
    i = img.intrinsics
    return {
        'rgb': img.rgb,
        'depth': img.depth,
        'intr': Intrinsics(i.width, i.height, i.fx, i.fy, i.cx, i.cy),
        'joints': (list(state.joint_names), [float(v) for v in state.positions]),
        'base': (state.base_pose.position, state.base_pose.quaternion),
        'truth': truth,
    }


class Harness:
    def __init__(self, node, frame) -> None:
        self.node = node
        self.f = frame
        s = qos_profile_sensor_data
        images = QoSProfile(depth=2, reliability=ReliabilityPolicy.RELIABLE)  # like mujoco_sim
        self.pub_rgb = node.create_publisher(Image, 'camera/color/image_raw', images)
        self.pub_depth = node.create_publisher(Image, 'camera/depth/image_raw', images)
        self.pub_info = node.create_publisher(CameraInfo, 'camera/color/camera_info', s)
        self.pub_js = node.create_publisher(JointState, 'joint_states', s)
        self.pub_odom = node.create_publisher(Odometry, 'odom', s)
        self.objects: list[ObjectArray] = []
        self.worlds: list[WorldState] = []
        self.diags: list[str] = []
        # the detector's camera status, every level: (level, message, values)
        self.status: list[tuple[bytes, str, dict[str, str]]] = []
        self.wm_status: list[tuple[bytes, str]] = []  # the world model's perception status
        rel = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(ObjectArray, 'perception/objects', self.objects.append, rel)
        latched = QoSProfile(
            depth=1,
            reliability=ReliabilityPolicy.RELIABLE,
            durability=DurabilityPolicy.TRANSIENT_LOCAL,
        )
        node.create_subscription(WorldState, 'world_state', self.worlds.append, latched)
        node.create_subscription(DiagnosticArray, 'diagnostics', self.on_diag, 10)

    def on_diag(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            if st.name.startswith('world_model:'):
                self.wm_status.append((st.level, st.message))
            if st.name.startswith('object_detector'):
                self.status.append((st.level, st.message, {v.key: v.value for v in st.values}))
                if st.level == DiagnosticStatus.WARN:
                    self.diags.append(st.message)

    def publish(
        self,
        info: bool = True,
        depth: np.ndarray | None = None,
        future: float | None = None,
        colour_only: bool = False,
    ) -> None:
        # Stamps on a clock 1000 s behind the nodes' (like the simulator's sim time seen by
        # nodes on wall time): the world model must age tracks on the stamps' clock. A frame
        # from the future is `future` s ahead of the nodes' clock.
        now = self.node.get_clock().now().nanoseconds * 1e-9
        stamp = conv.sec_to_stamp(now - SIM_CLOCK_LAG if future is None else now + future)
        names, positions = self.f['joints']
        js = JointState(name=names, position=positions)
        js.header.stamp = stamp
        self.pub_js.publish(js)
        od = Odometry()
        od.header.stamp = stamp
        (x, y, z), (qw, qx, qy, qz) = self.f['base']
        p, q = od.pose.pose.position, od.pose.pose.orientation
        p.x, p.y, p.z, q.w, q.x, q.y, q.z = map(float, (x, y, z, qw, qx, qy, qz))
        self.pub_odom.publish(od)
        if info:
            self.pub_info.publish(conv.camera_info_from_intrinsics(self.f['intr'], stamp, OPTICAL))
        d = self.f['depth'] if depth is None else depth
        if not colour_only:
            self.pub_depth.publish(conv.image_from_depth(d, stamp, OPTICAL))
        self.pub_rgb.publish(conv.image_from_rgb(self.f['rgb'], stamp, OPTICAL))

    def run_for(
        self,
        seconds: float,
        until: Callable[[], bool] | None = None,
        publish: bool = True,
        **publish_kwargs,
    ) -> bool:
        """Publish frames (every 0.2 s; none with `publish` false) and spin for `seconds` or
        until `until()` holds (returns whether it did)."""
        deadline = time.monotonic() + seconds
        next_pub = 0.0
        while time.monotonic() < deadline:
            if publish and time.monotonic() >= next_pub:
                self.publish(**publish_kwargs)
                next_pub = time.monotonic() + 0.2
            rclpy.spin_once(self.node, timeout_sec=0.05)
            if until is not None and until():
                return True
        return False

    def run_until(
        self, cond: Callable[[], bool], timeout: float, what: str, **publish_kwargs
    ) -> None:
        if not self.run_for(timeout, cond, **publish_kwargs):
            raise AssertionError(f'timed out after {timeout} s waiting for {what}; '
                                 f'diagnostics: {self.diags[-5:]}')  # fmt: skip


def test_detector_and_world_model_processes(processes, sim_frame) -> None:
    if not (EXE / 'object_detector').exists():
        pytest.skip('humanoid_perception not built (scripts/build.sh)')
    det = processes.start(
        [str(EXE / 'object_detector'), '--ros-args', '-p', 'frame_timeout:=1.0',
         '-p', 'resubscribe_after:=2.0', '-p', 'diagnostics_period:=0.25']
    )  # fmt: skip
    wm = processes.start(
        [str(EXE / 'world_model'), '--ros-args', '-p', 'seed_from_scene:=false',
         '-p', 'occlusion_grace:=0.3', '-p', 'max_unseen_in_view:=1.5',
         '-p', 'max_unseen_container:=1.5']
    )  # fmt: skip
    rclpy.init()
    node = rclpy.create_node('perception_nodes_test')
    try:
        h = Harness(node, sim_frame)
        # 1. no camera_info yet: a warning that says so, no objects, and the camera readers
        # created afresh after resubscribe_after (a reader can stay deaf after its writer's
        # process was killed; seen for camera_info after a detector restart)
        h.run_until(lambda: any('camera_info' in m for m in h.diags), 40.0,
                    'a camera_info warning', info=False)  # fmt: skip
        h.run_until(lambda: int(h.status[-1][2].get('resubscriptions', 0)) >= 1, 10.0,
                    'camera readers created afresh without camera_info', info=False)  # fmt: skip
        assert not h.objects, 'objects published without camera_info'

        # 2. good frames: every object of the scene in view, at its true position
        truth = {k: v for k, v in sim_frame['truth'].items() if k != 'bin'}

        def all_found() -> bool:
            return bool(h.objects) and {o.id for o in h.objects[-1].objects} >= set(truth)

        h.run_until(all_found, 30.0, 'all bench objects on perception/objects')
        last = h.objects[-1]
        assert last.header.frame_id == 'world'
        for o in last.objects:
            p = o.pose.position
            err = math.dist((p.x, p.y, p.z), truth[o.id])
            assert err < 0.015, f'{o.id} is {100 * err:.1f} cm from the truth'
            assert 0.0 < o.confidence <= 1.0
        assert {o.id: o.label for o in last.objects}['yellow_vial'] == 'yellow vial'

        def world_has_all() -> bool:
            return bool(h.worlds) and {o.id for o in h.worlds[-1].objects} >= set(truth)

        h.run_until(world_has_all, 20.0, 'world_state with every object')
        ws = h.worlds[-1]
        rels = {(r.subject, r.predicate, r.object) for r in ws.relations}
        assert ('red_cube', 'on', 'bench') in rels and ('tray', 'on', 'bench') in rels, rels
        assert {p.name for p in ws.places} == {'bench', 'station'}
        assert ws.robot_place == 'bench'
        assert ws.held_left == ws.held_right == ''

        # a late subscriber gets the latched state
        late: list[WorldState] = []
        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)  # fmt: skip
        node.create_subscription(WorldState, 'world_state', late.append, latched)
        h.run_until(lambda: bool(late), 10.0, 'the latched world_state')

        # 3. bad input: warnings naming the problem, nothing published, objects expire
        nan = np.full_like(sim_frame['depth'], np.nan)
        h.run_until(lambda: any('depth' in m and 'NaN' in m for m in h.diags), 15.0,
                    'an all-NaN depth warning', depth=nan)  # fmt: skip
        # frames are processed in stamp order: after that warning every frame is a bad one
        h.run_for(0.6, publish=False)  # let objects already in flight arrive
        n_objects = len(h.objects)
        small = np.ascontiguousarray(sim_frame['depth'][::2, ::2])
        h.run_until(lambda: any('differ' in m for m in h.diags), 15.0,
                    'a size mismatch warning', depth=small)  # fmt: skip
        h.run_until(lambda: any('future' in m for m in h.diags), 15.0,
                    'a frame-from-the-future warning', future=5.0)  # fmt: skip
        h.run_until(lambda: bool(h.worlds) and not h.worlds[-1].objects, 20.0,
                    'stale objects to expire from world_state', depth=nan)  # fmt: skip
        assert len(h.objects) == n_objects, 'objects were published for bad frames'
        assert det.poll() is None and wm.poll() is None, 'a node died on bad input'
        # no objects from the detector for perception_timeout (2 s): world_state says so
        h.run_until(lambda: h.worlds[-1].perception_stale, 10.0,
                    'world_state saying perception is stale', depth=nan)  # fmt: skip
        assert h.worlds[-1].perception_age > 2.0, h.worlds[-1].perception_age
        h.run_until(lambda: bool(h.wm_status) and h.wm_status[-1][0] == DiagnosticStatus.WARN,
                    5.0, "the world model's WARN diagnostics", depth=nan)  # fmt: skip
        assert 'no perception/objects' in h.wm_status[-1][1], h.wm_status[-1]

        # 4. the stream stops: WARN naming it, then the camera readers created afresh
        # (a re-created reader may first get the writer's last frame again: a NaN one)
        def stopped_and_resubscribed() -> bool:
            level, message, values = h.status[-1]
            return (
                level == DiagnosticStatus.WARN
                and 'no camera frames' in message
                and int(values.get('resubscriptions', 0)) >= 1
            )

        assert h.run_for(20.0, stopped_and_resubscribed, publish=False), h.status[-3:]

        # colour frames come back before depth: the status stops saying there are no frames
        # and names the missing depth ('none processed yet', then 'no colour/depth pair')
        def names_depth() -> bool:
            level, message, _ = h.status[-1]
            return level == DiagnosticStatus.WARN and 'depth' in message

        h.run_until(names_depth, 10.0, 'a status naming the missing depth frames',
                    colour_only=True)  # fmt: skip
        assert 'no camera frames' not in h.status[-1][1], h.status[-1]
        assert len(h.objects) == n_objects, 'objects published without depth'
        # the whole stream back (on the re-created readers): detecting and objects again
        h.run_until(lambda: h.status[-1][:2] == (DiagnosticStatus.OK, 'detecting')
                    and len(h.objects) > n_objects + 3, 20.0, 'detection after the stream '
                    'came back')  # fmt: skip
        h.run_until(lambda: not h.worlds[-1].perception_stale, 10.0,
                    'world_state saying perception is back')  # fmt: skip
        assert h.worlds[-1].perception_age < 2.0, h.worlds[-1].perception_age
        h.run_until(lambda: h.wm_status[-1][0] == DiagnosticStatus.OK, 5.0,
                    "the world model's OK diagnostics")  # fmt: skip
        # while frames flow the readers are kept (no re-creation every few seconds)
        resubscriptions = int(h.status[-1][2]['resubscriptions'])
        h.run_for(4.0)
        assert h.status[-1][:2] == (DiagnosticStatus.OK, 'detecting'), h.status[-1]
        assert int(h.status[-1][2]['resubscriptions']) == resubscriptions
        assert det.poll() is None, 'the detector died when its camera stream stopped'
    finally:
        node.destroy_node()
        rclpy.shutdown()
