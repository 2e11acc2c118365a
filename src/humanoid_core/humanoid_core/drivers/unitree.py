"""Unitree G1 / H1-class adapter layer: our joints <-> the low-level `LowCmd_` / `LowState_`.

Unitree's Python SDK (`unitree_sdk2py`, DDS over cyclonedds) is not on PyPI, so this module holds
what can be verified without it: the message mapping (joint name -> motor slot, direction,
offset, kp/kd), the byte layout of the IDL structs and the CRC32 Unitree checks on every low
command. The DDS transport is an interface (`UnitreeTransport`) with no implementation here.

Byte layouts (little endian, C natural alignment: the in-memory structs of Unitree's
`motor_crc_hg.h` / `motor_crc.h`, the bytes their CRC is computed over; the DDS wire encoding
is the transport's business):

- `unitree_hg::msg::dds_::LowCmd_` (G1, H1-2): mode_pr u8, mode_machine u8, 2 pad, 35 x
  MotorCmd_ {mode u8, 3 pad, q, dq, tau, kp, kd f32, reserve u32}, reserve u32[4], crc u32 =
  1004 bytes (`<2B2x` + `B3x5fI` x 35 + `5I`, as unitree_sdk2py's utils/crc.py packs it).
- `unitree_go::msg::dds_::LowCmd_` (H1, Go2): head u8[2], level_flag u8, frame_reserve u8,
  sn u32[2], version u32[2], bandwidth u16, 2 pad, 20 x MotorCmd_ {mode u8, 3 pad, q, dq, tau,
  kp, kd f32, reserve u32[3]}, bms_cmd {off u8, reserve u8[3]}, wireless_remote u8[40],
  led u8[12], fan u8[2], gpio u8, 1 pad, reserve u32, crc u32 = 812 bytes.
- `unitree_hg::msg::dds_::LowState_`: version u32[2], mode_pr u8, mode_machine u8, 2 pad,
  tick u32, imu_state {quaternion f32[4] (w, x, y, z), gyroscope f32[3], accelerometer f32[3],
  rpy f32[3], temperature i16, 2 pad}, 35 x MotorState_ {mode u8, 3 pad, q, dq, ddq, tau_est
  f32, temperature i16[2], vol f32, sensor u32[2], motorstate u32, reserve u32[4]},
  wireless_remote u8[40], reserve u32[4], crc u32 = 2092 bytes (derived from the IDL field
  list with the same alignment rules; not checked against a robot).

CRC (`crc32_core` of Unitree's SDK): over the struct's 32-bit little-endian words except the
last (the crc field), MSB first, polynomial 0x04C11DB7, initial value 0xFFFFFFFF, no final xor
(= CRC-32/MPEG-2 over each word's big-endian bytes).

Motor convention: joint q = offset + direction * motor q (the same for dq, tau).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
import math
import struct
import time
from typing import Protocol

import numpy as np

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
from .robot_config import UnitreeConfig

__all__ = [
    'GO_LOWCMD_FORMAT',
    'GO_NUM_MOTORS',
    'HG_LOWCMD_FORMAT',
    'HG_LOWSTATE_FORMAT',
    'HG_NUM_MOTORS',
    'GoLowCmd',
    'ImuState',
    'LowCmd',
    'LowState',
    'MotorCmd',
    'MotorState',
    'UnitreeDriver',
    'UnitreeMapping',
    'UnitreeTransport',
    'crc32_core',
    'low_cmd_crc',
    'pack_go_low_cmd',
    'pack_low_cmd',
    'pack_low_state',
    'unpack_low_cmd',
    'unpack_low_state',
]

HG_NUM_MOTORS = 35
GO_NUM_MOTORS = 20
HG_LOWCMD_FORMAT = '<2B2x' + 'B3x5fI' * HG_NUM_MOTORS + '5I'
GO_LOWCMD_FORMAT = '<4B4IH2x' + 'B3x5f3I' * GO_NUM_MOTORS + '4B' + '55Bx2I'
_IMU = '13fh2x'
_MOTOR_STATE = 'B3x4f2hf2I5I'
HG_LOWSTATE_FORMAT = '<2I2B2xI' + _IMU + _MOTOR_STATE * HG_NUM_MOTORS + '40B4I' + 'I'
MODE_ENABLE = 1  # MotorCmd_.mode: 1 = servo enabled (FOC), 0 = disabled


def crc32_core(words: Sequence[int]) -> int:
    """Unitree's `crc32_core` over 32-bit words (see the module docstring)."""
    crc = 0xFFFFFFFF
    poly = 0x04C11DB7
    for data in words:
        bit = 1 << 31
        for _ in range(32):
            crc = crc << 1 & 4294967295 ^ poly if crc & 2147483648 else crc << 1 & 4294967295
            if data & bit:
                crc ^= poly
            bit >>= 1
    return crc


def low_cmd_crc(packed: bytes) -> int:
    """CRC of a packed LowCmd_ (hg or go): every little-endian word but the last (the crc)."""
    if len(packed) % 4:
        raise ValueError(f'packed LowCmd_ length {len(packed)} is not a multiple of 4')
    n = len(packed) // 4 - 1
    return crc32_core(struct.unpack_from(f'<{n}I', packed))


@dataclass
class MotorCmd:
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    tau: float = 0.0
    kp: float = 0.0
    kd: float = 0.0
    reserve: int = 0


@dataclass
class LowCmd:
    """unitree_hg LowCmd_ (G1 / H1-2)."""

    mode_pr: int = 0
    mode_machine: int = 0
    motor_cmd: list[MotorCmd] = field(
        default_factory=lambda: [MotorCmd() for _ in range(HG_NUM_MOTORS)]
    )
    reserve: tuple[int, int, int, int] = (0, 0, 0, 0)
    crc: int = 0


@dataclass
class GoLowCmd:
    """unitree_go LowCmd_ (H1); head FE EF and level_flag 0xFF (low level) by default."""

    head: tuple[int, int] = (0xFE, 0xEF)
    level_flag: int = 0xFF
    frame_reserve: int = 0
    sn: tuple[int, int] = (0, 0)
    version: tuple[int, int] = (0, 0)
    bandwidth: int = 0
    motor_cmd: list[MotorCmd] = field(
        default_factory=lambda: [MotorCmd() for _ in range(GO_NUM_MOTORS)]
    )
    bms_off: int = 0
    bms_reserve: tuple[int, int, int] = (0, 0, 0)
    wireless_remote: bytes = bytes(40)
    led: bytes = bytes(12)
    fan: bytes = bytes(2)
    gpio: int = 0
    reserve: int = 0
    crc: int = 0


@dataclass
class MotorState:
    mode: int = 0
    q: float = 0.0
    dq: float = 0.0
    ddq: float = 0.0
    tau_est: float = 0.0
    temperature: tuple[int, int] = (0, 0)
    vol: float = 0.0
    sensor: tuple[int, int] = (0, 0)
    motorstate: int = 0
    reserve: tuple[int, int, int, int] = (0, 0, 0, 0)


@dataclass
class ImuState:
    quaternion: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)  # w, x, y, z
    gyroscope: tuple[float, float, float] = (0.0, 0.0, 0.0)
    accelerometer: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    temperature: int = 0


@dataclass
class LowState:
    """unitree_hg LowState_ (G1 / H1-2)."""

    version: tuple[int, int] = (0, 0)
    mode_pr: int = 0
    mode_machine: int = 0
    tick: int = 0
    imu_state: ImuState = field(default_factory=ImuState)
    motor_state: list[MotorState] = field(
        default_factory=lambda: [MotorState() for _ in range(HG_NUM_MOTORS)]
    )
    wireless_remote: bytes = bytes(40)
    reserve: tuple[int, int, int, int] = (0, 0, 0, 0)
    crc: int = 0


def _check_len(data: bytes, fmt: str, what: str) -> None:
    size = struct.calcsize(fmt)
    if len(data) != size:
        raise ValueError(f'{what}: expected {size} bytes, got {len(data)}')


def pack_low_cmd(cmd: LowCmd, *, with_crc: bool = True) -> bytes:
    """Pack a hg LowCmd_ (1004 bytes); `with_crc` computes and stores the CRC (cmd.crc too)."""
    if len(cmd.motor_cmd) != HG_NUM_MOTORS:
        raise ValueError(
            f'LowCmd_ needs {HG_NUM_MOTORS} motor_cmd entries, got {len(cmd.motor_cmd)}'
        )
    values: list[float | int] = [cmd.mode_pr, cmd.mode_machine]
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve]
    values += [*cmd.reserve, 0]
    packed = bytearray(struct.pack(HG_LOWCMD_FORMAT, *values))
    crc = low_cmd_crc(bytes(packed)) if with_crc else cmd.crc
    cmd.crc = crc
    struct.pack_into('<I', packed, len(packed) - 4, crc)
    return bytes(packed)


def unpack_low_cmd(data: bytes) -> LowCmd:
    _check_len(data, HG_LOWCMD_FORMAT, 'LowCmd_ (hg)')
    v = struct.unpack(HG_LOWCMD_FORMAT, data)
    motors = [MotorCmd(*v[2 + 7 * i : 9 + 7 * i]) for i in range(HG_NUM_MOTORS)]
    k = 2 + 7 * HG_NUM_MOTORS
    return LowCmd(v[0], v[1], motors, tuple(v[k : k + 4]), v[k + 4])  # type: ignore[arg-type]


def pack_go_low_cmd(cmd: GoLowCmd, *, with_crc: bool = True) -> bytes:
    """Pack a go LowCmd_ (812 bytes) with its CRC."""
    if len(cmd.motor_cmd) != GO_NUM_MOTORS:
        raise ValueError(f'go LowCmd_ needs {GO_NUM_MOTORS} motor_cmd entries')
    values: list[float | int] = [*cmd.head, cmd.level_flag, cmd.frame_reserve, *cmd.sn]
    values += [*cmd.version, cmd.bandwidth]
    for m in cmd.motor_cmd:
        values += [m.mode, m.q, m.dq, m.tau, m.kp, m.kd, m.reserve, 0, 0]
    values += [cmd.bms_off, *cmd.bms_reserve, *cmd.wireless_remote, *cmd.led, *cmd.fan]
    values += [cmd.gpio, cmd.reserve, 0]
    packed = bytearray(struct.pack(GO_LOWCMD_FORMAT, *values))
    crc = low_cmd_crc(bytes(packed)) if with_crc else cmd.crc
    cmd.crc = crc
    struct.pack_into('<I', packed, len(packed) - 4, crc)
    return bytes(packed)


def pack_low_state(state: LowState) -> bytes:
    """Pack a hg LowState_ (2092 bytes; the crc field as given: robots fill it)."""
    imu = state.imu_state
    values: list[float | int] = [*state.version, state.mode_pr, state.mode_machine, state.tick]
    values += [*imu.quaternion, *imu.gyroscope, *imu.accelerometer, *imu.rpy, imu.temperature]
    if len(state.motor_state) != HG_NUM_MOTORS:
        raise ValueError(f'LowState_ needs {HG_NUM_MOTORS} motor_state entries')
    for m in state.motor_state:
        values += [m.mode, m.q, m.dq, m.ddq, m.tau_est, *m.temperature, m.vol, *m.sensor]
        values += [m.motorstate, *m.reserve]
    values += [*state.wireless_remote, *state.reserve, state.crc]
    return struct.pack(HG_LOWSTATE_FORMAT, *values)


def unpack_low_state(data: bytes) -> LowState:
    _check_len(data, HG_LOWSTATE_FORMAT, 'LowState_ (hg)')
    v = struct.unpack(HG_LOWSTATE_FORMAT, data)
    imu = ImuState(
        tuple(v[5:9]),
        tuple(v[9:12]),
        tuple(v[12:15]),
        tuple(v[15:18]),
        v[18],  # type: ignore[arg-type]
    )
    motors = []
    k = 19
    for _ in range(HG_NUM_MOTORS):
        m = v[k : k + 15]
        motors.append(
            MotorState(m[0], m[1], m[2], m[3], m[4], (m[5], m[6]), m[7], (m[8], m[9]), m[10],
                       tuple(m[11:15]))  # type: ignore[arg-type]
        )  # fmt: skip
        k += 15
    remote = bytes(v[k : k + 40])
    reserve = tuple(v[k + 40 : k + 44])
    return LowState(
        (v[0], v[1]),
        v[2],
        v[3],
        v[4],
        imu,
        motors,
        remote,
        reserve,
        v[k + 44],  # type: ignore[arg-type]
    )


class UnitreeMapping:
    """Our joint names <-> LowCmd_/LowState_ motor slots (hg message family)."""

    def __init__(self, config: UnitreeConfig) -> None:
        if config.message_family != 'hg':
            raise DriverError(
                f'message_family {config.message_family!r}: only the hg family (G1, H1-2) '
                'has the full mapping here; go (H1) has LowCmd_ packing and CRC only'
            )
        self.config = config
        self.names = tuple(config.joints)
        self.mode_machine = config.mode_machine

    def command(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
        gains: Mapping[str, Gains] | None = None,
    ) -> LowCmd:
        """A LowCmd_ commanding `names` (rad, rad/s); other mapped joints and unmapped slots
        are disabled (mode 0). Gains default to the configured kp/kd (N m/rad, N m s/rad)."""
        cmd = LowCmd(mode_pr=self.config.mode_pr, mode_machine=self.mode_machine)
        for k, name in enumerate(names):
            j = self.config.joints.get(name)
            if j is None:
                raise ValueError(f'joint {name!r} is not mapped; mapped: {list(self.names)}')
            q = float(positions[k])
            dq = float(velocities[k]) if velocities is not None else 0.0
            if not (math.isfinite(q) and math.isfinite(dq)):
                raise ValueError(f'joint {name}: non-finite target q={q} dq={dq}')
            g = (gains or {}).get(name)
            cmd.motor_cmd[j.index] = MotorCmd(
                mode=MODE_ENABLE,
                q=j.direction * (q - j.offset),
                dq=j.direction * dq,
                kp=g.kp if g else j.kp,
                kd=g.kd if g else j.kd,
            )
        return cmd

    def damping(self) -> LowCmd:
        """Damping: every mapped motor enabled with kp = 0, its configured kd, no torque."""
        cmd = LowCmd(mode_pr=self.config.mode_pr, mode_machine=self.mode_machine)
        for j in self.config.joints.values():
            cmd.motor_cmd[j.index] = MotorCmd(mode=MODE_ENABLE, kd=j.kd)
        return cmd

    def reading(self, state: LowState, stamp: float) -> JointReading:
        n = len(self.names)
        pos, vel, eff = np.zeros(n), np.zeros(n), np.zeros(n)
        for i, name in enumerate(self.names):
            j = self.config.joints[name]
            m = state.motor_state[j.index]
            pos[i] = j.offset + j.direction * m.q
            vel[i] = j.direction * m.dq
            eff[i] = j.direction * m.tau_est
        return JointReading(stamp, self.names, pos, vel, eff, np.ones(n, dtype=bool))

    @staticmethod
    def imu(state: LowState, stamp: float) -> ImuSample:
        s = state.imu_state
        return ImuSample(
            stamp,
            np.asarray(s.quaternion, float),
            np.asarray(s.gyroscope, float),
            np.asarray(s.accelerometer, float),
        )


class UnitreeTransport(Protocol):
    """The DDS side (rt/lowcmd, rt/lowstate via unitree_sdk2py + cyclonedds): NOT implemented
    or exercised here. `publish` sends a packed, CRC-stamped LowCmd_; `latest_state` returns
    the newest packed LowState_ (None before the first)."""

    def open(self, network_interface: str) -> None: ...

    def publish(self, low_cmd: bytes) -> None: ...

    def latest_state(self) -> bytes | None: ...

    def close(self) -> None: ...


class UnitreeDriver(RobotDriver):
    """`RobotDriver` over a `UnitreeTransport`. Without one, `connect` raises DriverError."""

    def __init__(
        self,
        config: UnitreeConfig,
        transport: UnitreeTransport | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
        state_timeout: float = 0.1,
    ) -> None:
        self.config = config
        self.mapping = UnitreeMapping(config)
        self.transport = transport
        self._clock = clock
        self._log = log or (lambda _m: None)
        self.state_timeout = state_timeout
        self._state: LowState | None = None
        self._state_time = -math.inf
        self._torque = False
        self._emergency: FaultAction | None = None
        self._connected = False
        self.counters: dict[str, int] = {'commands': 0, 'stale_states': 0}

    @property
    def joint_names(self) -> tuple[str, ...]:
        return self.mapping.names

    def connect(self) -> None:
        if self.transport is None:
            raise DriverError(
                'the Unitree DDS transport is not available here: unitree_sdk2py and cyclonedds '
                'are not on PyPI; install them from Unitree and pass a UnitreeTransport '
                '(docs/DRIVERS.md)'
            )
        self.transport.open(self.config.network_interface)
        self._connected = True

    def close(self) -> None:
        if self.transport is not None and self._connected:
            self.transport.close()
        self._connected = False

    def _poll(self) -> LowState:
        assert self.transport is not None
        raw = self.transport.latest_state()
        now = self._clock()
        if raw is not None:
            self._state = unpack_low_state(raw)
            self._state_time = now
            self.mapping.mode_machine = self._state.mode_machine  # echo, as the robot expects
        if self._state is None:
            raise DriverError('no LowState_ received yet')
        if now - self._state_time > self.state_timeout:
            self.counters['stale_states'] += 1
        return self._state

    def read_joints(self) -> JointReading:
        return self.mapping.reading(self._poll(), self._clock())

    def read_imu(self) -> ImuSample | None:
        return None if self._state is None else self.mapping.imu(self._state, self._state_time)

    def _send(self, cmd: LowCmd) -> None:
        assert self.transport is not None
        self.transport.publish(pack_low_cmd(cmd))
        self.counters['commands'] += 1

    def write_targets(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
        gains: Mapping[str, Gains] | None = None,
    ) -> None:
        if not self._torque or self._emergency is not None:
            return
        self._send(self.mapping.command(names, positions, velocities, gains))

    def enable_torque(self) -> None:
        r = self.read_joints()
        self._torque = True
        self._emergency = None
        self._send(self.mapping.command(r.names, r.positions.tolist()))

    def disable_torque(self) -> None:
        self._send(LowCmd(mode_pr=self.config.mode_pr, mode_machine=self.mapping.mode_machine))
        self._torque = False

    def emergency(self, action: FaultAction = FaultAction.DAMP) -> None:
        self._emergency = FaultAction(action)
        if action is FaultAction.DAMP:
            self._send(self.mapping.damping())
        elif action is FaultAction.HOLD:
            r = self.read_joints()
            self._send(self.mapping.command(r.names, r.positions.tolist()))
        else:
            self.disable_torque()

    def health(self) -> DriverHealth:
        stale = self._clock() - self._state_time > self.state_timeout
        if not self._connected:
            level, message = HealthLevel.ERROR, 'not connected'
        elif stale:
            level, message = HealthLevel.ERROR, f'no LowState_ for over {self.state_timeout} s'
        elif self._emergency is not None:
            level, message = HealthLevel.WARN, f'emergency: {self._emergency.value}'
        else:
            level, message = HealthLevel.OK, 'connected'
        return DriverHealth(level, message, self._connected, self._torque,
                            counters=dict(self.counters))  # fmt: skip


def with_crc(cmd: LowCmd) -> LowCmd:
    """A copy of `cmd` with its crc field computed."""
    out = replace(cmd, motor_cmd=[replace(m) for m in cmd.motor_cmd])
    pack_low_cmd(out)
    return out
