"""QoS profiles of the hardware topics.

Camera images are RELIABLE (depth 2, volatile): measured here (Fast DDS 3.2, loopback, 2 cores),
a best-effort 640x480 rgb8 stream at 15 Hz arrives at 0.6-8 Hz because a lost fragment drops the
whole ~1 MB sample; reliable delivers 15 Hz. Subscribe to the camera topics with a RELIABLE
profile (a best-effort subscriber connects but gets the lossy behaviour). Small sensor streams
(joint_states, imu, odom) stay best effort (`qos_profile_sensor_data`).
"""

from rclpy.qos import (
    DurabilityPolicy,
    HistoryPolicy,
    QoSProfile,
    ReliabilityPolicy,
    qos_profile_sensor_data,
)

__all__ = ['CAMERA_QOS', 'CLOCK_QOS', 'COMMAND_QOS', 'LATCHED_QOS', 'SENSOR_QOS']

SENSOR_QOS = qos_profile_sensor_data
CAMERA_QOS = QoSProfile(
    depth=2,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.VOLATILE,
)
LATCHED_QOS = QoSProfile(
    depth=1,
    history=HistoryPolicy.KEEP_LAST,
    reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)
COMMAND_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
CLOCK_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
