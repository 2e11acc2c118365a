"""The real-robot driver interface (`RobotDriver`) and its data types.

Every real backend (Dynamixel bus, Unitree low-level DDS, ...) implements `RobotDriver`; the
`hardware` node publishes the contract topics from any of them and applies the same trajectory
validation as the simulator (`humanoid_core.sim.trajectory`). No ROS here.

Units are SI at this interface: rad, rad/s, N m (joint space, our URDF's joint names); IMU
quaternion (w, x, y, z), rad/s, m/s^2 (gravity included, like `SimState`). Gains are in the
driver's own units (documented by each driver: Dynamixel register values, Unitree N m/rad).

A driver call never raises for a bus fault: faults are retried, counted and reported through
`health()`; `DriverError` is raised only for misuse or when nothing can be done at all
(`connect` finds no device).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
import enum

import numpy as np

__all__ = [
    'DriverError',
    'DriverHealth',
    'FaultAction',
    'Gains',
    'HealthLevel',
    'ImuSample',
    'JointReading',
    'RobotDriver',
]


class DriverError(RuntimeError):
    """A driver that cannot be used (no device, bad configuration, misuse)."""


class HealthLevel(enum.IntEnum):
    """Same order and values as diagnostic_msgs/DiagnosticStatus levels."""

    OK = 0
    WARN = 1
    ERROR = 2
    STALE = 3


class FaultAction(enum.StrEnum):
    """What the remaining actuators do on an e-stop or a lost actuator."""

    HOLD = 'hold'  # stiff: hold the measured position
    DAMP = 'damp'  # compliant: low stiffness around the measured position (damping)
    TORQUE_OFF = 'torque_off'  # limp (the robot falls: only on a stand / gantry)


@dataclass(frozen=True)
class Gains:
    """Joint controller gains in the driver's units (see the driver's docstring)."""

    kp: float
    kd: float = 0.0
    ki: float = 0.0


@dataclass(frozen=True)
class JointReading:
    """Measured joint state at `stamp` (driver clock, s). `valid[i]` is False for a joint whose
    actuator did not answer (its values are the last good ones)."""

    stamp: float
    names: tuple[str, ...]
    positions: np.ndarray
    velocities: np.ndarray
    efforts: np.ndarray
    valid: np.ndarray

    def position_of(self, joint: str) -> float:
        return float(self.positions[self.names.index(joint)])


@dataclass(frozen=True)
class ImuSample:
    """IMU reading in the `imu_link` frame."""

    stamp: float
    orientation: np.ndarray  # (w, x, y, z)
    angular_velocity: np.ndarray  # rad/s
    linear_acceleration: np.ndarray  # m/s^2, gravity included


@dataclass(frozen=True)
class DriverHealth:
    """Bus and actuator health; `message` is one line naming what is wrong (ids and joints)."""

    level: HealthLevel
    message: str
    connected: bool
    torque_enabled: bool
    lost: tuple[str, ...] = ()  # joints whose actuator does not answer
    errors: Mapping[str, str] = field(default_factory=dict)  # joint -> hardware error text
    counters: Mapping[str, int | float] = field(default_factory=dict)  # crc_errors, timeouts...


class RobotDriver(abc.ABC):
    """A real robot's low-level interface. Not thread-safe: call it from one thread."""

    @property
    @abc.abstractmethod
    def joint_names(self) -> tuple[str, ...]:
        """The joints this driver moves (our URDF's names), in `read_joints()` order."""

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the transport and find the actuators (torque stays as it is: off after power
        up). Raises DriverError if nothing answers at all."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close the transport (torque is left as it is: call `disable_torque` first)."""

    @abc.abstractmethod
    def read_joints(self) -> JointReading:
        """One read cycle of all joints (retries, counts faults, tries to reconnect lost
        actuators at the configured period)."""

    def read_imu(self) -> ImuSample | None:
        """The latest IMU sample, or None when the robot has no IMU on this transport."""
        return None

    @abc.abstractmethod
    def write_targets(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
        gains: Mapping[str, Gains] | None = None,
    ) -> None:
        """Command position targets (rad), optional feed-forward velocities (rad/s) and gains.
        The caller validated them (limits, NaN); the driver clamps to its own limits as a last
        guard. Unknown names raise ValueError."""

    @abc.abstractmethod
    def enable_torque(self) -> None:
        """Torque on, holding the measured position (no jump to an old goal)."""

    @abc.abstractmethod
    def disable_torque(self) -> None:
        """Torque off (limp)."""

    @abc.abstractmethod
    def emergency(self, action: FaultAction = FaultAction.DAMP) -> None:
        """E-stop reaction for every reachable actuator: hold, damp or torque off. Sticky:
        `write_targets` is ignored until `enable_torque`."""

    @abc.abstractmethod
    def health(self) -> DriverHealth:
        """Current health (cheap; no bus traffic)."""

    def __enter__(self) -> RobotDriver:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
