"""Real-robot drivers behind the hardware contract (no ROS here).

`base.RobotDriver` is the interface every backend implements; `robot_config` loads
`config/robots/<name>.yaml`; `dynamixel.DynamixelDriver` drives a Dynamixel Protocol 2.0 bus;
`unitree` maps our joints to Unitree LowCmd_/LowState_ (byte layout + CRC; no transport here).
`create_driver(config)` builds the driver a robot configuration names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from humanoid_core.sim.trajectory import LimitLike

from .base import (
    DriverError,
    DriverHealth,
    FaultAction,
    Gains,
    HealthLevel,
    ImuSample,
    JointReading,
    RobotDriver,
)
from .robot_config import RobotConfig, RobotConfigError, load_robot_config

__all__ = [
    'DriverError',
    'DriverHealth',
    'FaultAction',
    'Gains',
    'HealthLevel',
    'ImuSample',
    'JointReading',
    'RobotConfig',
    'RobotConfigError',
    'RobotDriver',
    'create_driver',
    'load_robot_config',
]


def create_driver(
    config: RobotConfig,
    *,
    limits: Mapping[str, LimitLike] | None = None,
    port: str | None = None,
    log: Callable[[str], None] | None = None,
) -> RobotDriver:
    """The driver `config.driver` names. `port` overrides the Dynamixel serial port."""
    if config.driver == 'dynamixel':
        from .dynamixel import DynamixelDriver

        assert config.dynamixel is not None
        return DynamixelDriver(
            config.dynamixel,
            limits=limits,
            on_actuator_loss=config.on_actuator_loss,
            port=port or None,
            log=log,
        )
    if config.driver == 'unitree':
        from .unitree import UnitreeDriver

        assert config.unitree is not None
        return UnitreeDriver(config.unitree, log=log)
    raise DriverError(
        f'robot {config.name!r} uses driver {config.driver!r}: it runs in a simulator '
        '(sim:=mujoco or sim:=gazebo), not with sim:=none'
    )
