"""Dynamixel Protocol 2.0 bus driver (ROBOTIS `dynamixel-sdk`) for small Dynamixel humanoids.

One serial bus (U2D2 / OpenCR passthrough), servos in position control mode (operating mode 3).
Per control cycle: one Sync Read of present current/velocity/position (addresses 126..135), one
Sync Write of goal positions (116); gains (Position D/I/P, 80..85) are written only when they
change; the hardware error status (70) is polled every `error_poll_period`.

Units: joint position q = offset + direction * (ticks - 2048) * 2 pi / 4096; velocity
0.229 rpm per unit; current 2.69 mA per unit, effort = current * the model's torque constant
(an approximation: the XM430-W350 datasheet's 4.1 N m stall at 2.3 A, 12 V). Gains are raw
register values (`Gains.kp` -> Position P Gain, `ki` -> I, `kd` -> D).

Faults: a CRC error (COMM_RX_CORRUPT) or a timeout (COMM_RX_TIMEOUT) is retried `retries`
times and counted; when the Sync Read still fails every servo is read on its own to find the
ones that do not answer. A servo that does not answer (or reports a hardware error, after which a
Dynamixel turns its own torque off) is *lost*: health ERROR naming its id and joint, the other
servos get `on_actuator_loss` (hold / damp / torque off), commands are ignored, and the lost
servo is pinged every `reconnect_period`. A servo that answers again is set up again with torque
off; the fault ends only with an explicit `enable_torque()` (the operator's decision).
Damping (Dynamixels have no damping mode): the `damping_gains` (a low Position P Gain) around the
measured position, so the joints give way softly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
import math
import time
from typing import Any

import numpy as np

from humanoid_core.sim.trajectory import LimitLike

from .base import (
    DriverError,
    DriverHealth,
    FaultAction,
    Gains,
    HealthLevel,
    JointReading,
    RobotDriver,
)
from .robot_config import DynamixelConfig, RegisterGains

__all__ = [
    'ADDR',
    'HARDWARE_ERROR_BITS',
    'MODELS',
    'DynamixelDriver',
    'ServoModel',
    'hardware_error_text',
]

# Control table of the X series (Protocol 2.0), address: (size in bytes)
ADDR = {
    'model_number': 0,
    'operating_mode': 11,
    'torque_enable': 64,
    'hardware_error_status': 70,
    'position_d_gain': 80,
    'position_i_gain': 82,
    'position_p_gain': 84,
    'goal_position': 116,
    'present_current': 126,
    'present_velocity': 128,
    'present_position': 132,
}
POSITION_CONTROL_MODE = 3
STATE_START, STATE_LEN = 126, 10  # current (2) + velocity (4) + position (4)
GAINS_START, GAINS_LEN = 80, 6  # D (2), I (2), P (2)

# Hardware Error Status (address 70) bits
HARDWARE_ERROR_BITS = {
    0: 'input voltage error',
    2: 'overheating',
    3: 'motor encoder error',
    4: 'electrical shock',
    5: 'overload',
}


def hardware_error_text(status: int) -> str:
    """'overheating, overload' for the set bits of a Hardware Error Status byte."""
    names = [text for bit, text in HARDWARE_ERROR_BITS.items() if status & (1 << bit)]
    unknown = status & ~sum(1 << b for b in HARDWARE_ERROR_BITS)
    if unknown:
        names.append(f'unknown bits 0x{unknown:02x}')
    return ', '.join(names)


@dataclass(frozen=True)
class ServoModel:
    model_number: int
    ticks_per_rev: int = 4096
    center: int = 2048
    min_tick: int = 0
    max_tick: int = 4095
    velocity_unit: float = 0.229 * 2.0 * math.pi / 60.0  # rad/s per unit (0.229 rpm)
    current_unit: float = 2.69e-3  # A per unit
    torque_constant: float = 4.1 / 2.3  # N m per A (stall torque / stall current at 12 V)


MODELS = {
    'XM430-W350': ServoModel(model_number=1020),
    'XM430-W210': ServoModel(model_number=1030, torque_constant=3.0 / 2.3),
    'XM540-W270': ServoModel(model_number=1120, torque_constant=10.6 / 4.4),
}


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def _u32(value: int) -> list[int]:
    value &= 0xFFFFFFFF
    return [value & 0xFF, (value >> 8) & 0xFF, (value >> 16) & 0xFF, (value >> 24) & 0xFF]


def _u16(value: int) -> list[int]:
    return [value & 0xFF, (value >> 8) & 0xFF]


def _port_handler(sdk: Any, name: str, latency_ms: float) -> Any:
    """The SDK's PortHandler with the latency timer of the configuration (the SDK hard-codes
    16 ms in its reply timeout: tx time + 2 x latency + 2 ms)."""

    class PortHandler(sdk.PortHandler):  # type: ignore[misc,name-defined]
        def setPacketTimeout(self, packet_length: int) -> None:  # noqa: N802 - SDK API
            self.packet_start_time = self.getCurrentTime()
            self.packet_timeout = self.tx_time_per_byte * packet_length + 2.0 * latency_ms + 2.0

    return PortHandler(name)


class DynamixelDriver(RobotDriver):
    """See the module docstring. `limits`: joint -> position bounds used as the last clamp
    (default: unlimited inside the servo's tick range); `sdk`: the `dynamixel_sdk` module
    (injectable for tests; default imports it)."""

    def __init__(
        self,
        config: DynamixelConfig,
        *,
        limits: Mapping[str, LimitLike] | None = None,
        on_actuator_loss: FaultAction = FaultAction.HOLD,
        port: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[[str], None] | None = None,
    ) -> None:
        try:
            import dynamixel_sdk
        except ImportError as exc:  # pragma: no cover - requirements/drivers.txt
            raise DriverError(
                'the dynamixel driver needs the dynamixel-sdk package (requirements/drivers.txt)'
            ) from exc
        self._sdk: Any = dynamixel_sdk
        self.config = config
        self.port_name = port or config.port
        self._clock = clock
        self._log = log or (lambda _msg: None)
        self.on_actuator_loss = on_actuator_loss
        self._names = tuple(config.joints)
        self._ids = {n: j.id for n, j in config.joints.items()}
        self._joint_of = {j.id: n for n, j in config.joints.items()}
        self._models: dict[str, ServoModel] = {}
        for name, j in config.joints.items():
            if j.model not in MODELS:
                raise DriverError(
                    f'joint {name}: unknown Dynamixel model {j.model!r}; known: {sorted(MODELS)}'
                )
            self._models[name] = MODELS[j.model]
        self._bounds: dict[str, tuple[float, float]] = {}
        for name, j in config.joints.items():
            lim = (limits or {}).get(name)
            lo = j.lower if j.lower is not None else (lim.lower if lim else -math.inf)
            hi = j.upper if j.upper is not None else (lim.upper if lim else math.inf)
            if lo > hi:
                raise DriverError(f'joint {name}: lower limit {lo} above upper limit {hi}')
            self._bounds[name] = (lo, hi)
        n = len(self._names)
        self._pos = np.zeros(n)
        self._vel = np.zeros(n)
        self._eff = np.zeros(n)
        self._valid = np.zeros(n, dtype=bool)
        self._index = {name: i for i, name in enumerate(self._names)}
        self._gains: dict[str, RegisterGains] = {}
        self._lost: dict[str, float] = {}  # joint -> next reconnect attempt time
        self._hw_errors: dict[str, str] = {}
        self._reconnected: set[str] = set()
        self._torque = False
        self._emergency: FaultAction | None = None
        self._fault = ''
        self._connected = False
        self._next_error_poll = 0.0
        self.counters: dict[str, int] = {
            'crc_errors': 0,
            'timeouts': 0,
            'retries': 0,
            'read_failures': 0,
            'reconnects': 0,
            'lost_events': 0,
            'commands_ignored': 0,
            'cycles': 0,
        }
        self._port: Any = None
        self._ph: Any = None

    # ------------------------------------------------------------------ interface
    @property
    def joint_names(self) -> tuple[str, ...]:
        return self._names

    def connect(self) -> None:
        sdk = self._sdk
        self._port = _port_handler(sdk, self.port_name, self.config.latency_timer_ms)
        self._ph = sdk.PacketHandler(2.0)
        try:
            opened = self._port.openPort() and self._port.setBaudRate(self.config.baudrate)
        except Exception as exc:
            raise DriverError(f'cannot open Dynamixel port {self.port_name}: {exc}') from None
        if not opened:
            raise DriverError(
                f'cannot open Dynamixel port {self.port_name} at {self.config.baudrate} baud'
            )
        answered = []
        for name in self._names:
            if self._setup_servo(name):
                answered.append(name)
            else:
                self._mark_lost(name, 'no answer to ping at connect')
        if not answered:
            self._port.closePort()
            raise DriverError(
                f'no Dynamixel servo answered on {self.port_name} at {self.config.baudrate} '
                f'baud (ids {sorted(self._ids.values())})'
            )
        self._connected = True
        self.read_joints()

    def close(self) -> None:
        if self._port is not None:
            self._port.closePort()
        self._connected = False

    def read_joints(self) -> JointReading:
        now = self._clock()
        self.counters['cycles'] += 1
        self._reconnect_lost(now)
        active = [n for n in self._names if n not in self._lost]
        data = self._sync_read(active, STATE_START, STATE_LEN)
        silent = []
        if data is None:
            data = {}
            for name in active:
                raw = self._read(name, STATE_START, STATE_LEN)
                if raw is None:
                    silent.append(name)
                else:
                    data[name] = raw
        for name, raw in data.items():
            self._decode_state(name, raw)
        for name in silent:  # after decoding: a hold uses this cycle's positions
            self._mark_lost(name, 'no answer (timeout or corrupt replies)')
        if now >= self._next_error_poll:
            self._next_error_poll = now + self.config.error_poll_period
            self._poll_errors([n for n in self._names if n not in self._lost])
        return JointReading(
            stamp=now,
            names=self._names,
            positions=self._pos.copy(),
            velocities=self._vel.copy(),
            efforts=self._eff.copy(),
            valid=self._valid.copy(),
        )

    def write_targets(
        self,
        names: Sequence[str],
        positions: Sequence[float],
        velocities: Sequence[float] | None = None,
        gains: Mapping[str, Gains] | None = None,
    ) -> None:
        if len(names) != len(positions):
            raise ValueError(f'{len(positions)} positions for {len(names)} joints')
        unknown = [n for n in names if n not in self._index]
        if unknown:
            raise ValueError(f'joints not driven by this bus: {unknown}; driven: {self._names}')
        if not self._torque or self._emergency is not None or self._fault:
            self.counters['commands_ignored'] += 1
            return
        if gains:
            wanted = {
                n: RegisterGains(p=round(g.kp), i=round(g.ki), d=round(g.kd))
                for n, g in gains.items()
                if n in self._index
            }
            self._write_gains(wanted)
        goals = {}
        for name, q in zip(names, positions, strict=True):
            if name in self._lost or not math.isfinite(q):
                continue
            lo, hi = self._bounds[name]
            goals[name] = self.to_ticks(name, min(max(float(q), lo), hi))
        self._sync_write_u32(ADDR['goal_position'], goals)

    def enable_torque(self) -> None:
        """Torque on for every reachable servo, goal = measured position, configured gains;
        ends an emergency and a lost-servo fault (the operator's decision)."""
        self.read_joints()
        active = [n for n in self._names if n not in self._lost]
        self._write_gains({n: self.config.joints[n].gains for n in active})
        self._hold(active)
        for name in active:
            self._write1(name, ADDR['torque_enable'], 1)
        self._torque = True
        self._emergency = None
        self._fault = ''
        self._reconnected.clear()

    def disable_torque(self) -> None:
        for name in self._names:
            if name not in self._lost:
                self._write1(name, ADDR['torque_enable'], 0)
        self._torque = False

    def emergency(self, action: FaultAction = FaultAction.DAMP) -> None:
        self._emergency = FaultAction(action)
        self._apply_fault_action(self._emergency, [n for n in self._names if n not in self._lost])

    def clear_errors(self) -> list[str]:
        """Reboot the servos that report a hardware error (REBOOT instruction); they come
        back with torque off. Returns the joints rebooted."""
        rebooted = []
        for name in list(self._hw_errors):
            result, _error = self._ph.reboot(self._port, self._ids[name])
            if result == self._sdk.COMM_SUCCESS:
                rebooted.append(name)
                del self._hw_errors[name]
        return rebooted

    def health(self) -> DriverHealth:
        lost = tuple(n for n in self._names if n in self._lost)
        problems = []
        if lost:
            problems.append('lost servos: ' + ', '.join(f'id {self._ids[n]} ({n})' for n in lost))
        for name, text in self._hw_errors.items():
            problems.append(f'hardware error id {self._ids[name]} ({name}): {text}')
        if problems:
            level = HealthLevel.ERROR
            action = (self._fault and f'; others: {self.on_actuator_loss.value}') or ''
            message = '; '.join(problems) + action
        elif self._emergency is not None:
            level = HealthLevel.WARN
            message = f'emergency: {self._emergency.value}'
        elif self._reconnected or self._fault:
            level = HealthLevel.WARN
            message = (
                'servos answer again: '
                + ', '.join(f'id {self._ids[n]} ({n})' for n in sorted(self._reconnected))
                + '; torque stays off until enable_torque'
            )
        elif not self._torque:
            level, message = HealthLevel.OK, 'connected, torque off'
        else:
            level, message = HealthLevel.OK, 'connected, torque on'
        if not self._connected:
            level, message = HealthLevel.ERROR, f'not connected ({self.port_name})'
        return DriverHealth(
            level=level,
            message=message,
            connected=self._connected,
            torque_enabled=self._torque,
            lost=lost,
            errors=dict(self._hw_errors),
            counters=dict(self.counters),
        )

    # ------------------------------------------------------------------ conversions
    def to_ticks(self, name: str, q: float) -> int:
        """Joint angle (rad) -> goal position ticks (clamped to the servo's range)."""
        j = self.config.joints[name]
        m = self._models[name]
        ticks = m.center + j.direction * (q - j.offset) * m.ticks_per_rev / (2.0 * math.pi)
        return int(min(max(round(ticks), m.min_tick), m.max_tick))

    def to_rad(self, name: str, ticks: int) -> float:
        """Position ticks -> joint angle (rad)."""
        j = self.config.joints[name]
        m = self._models[name]
        return j.offset + j.direction * (ticks - m.center) * 2.0 * math.pi / m.ticks_per_rev

    def decode_state(self, name: str, raw: bytes) -> tuple[float, float, float]:
        """Present current/velocity/position bytes (addresses 126..135) -> joint position
        (rad), velocity (rad/s), effort (N m)."""
        j = self.config.joints[name]
        m = self._models[name]
        current = _signed(raw[0] | raw[1] << 8, 16)
        velocity = _signed(int.from_bytes(raw[2:6], 'little'), 32)
        position = _signed(int.from_bytes(raw[6:10], 'little'), 32)
        return (
            self.to_rad(name, position),
            j.direction * velocity * m.velocity_unit,
            j.direction * current * m.current_unit * m.torque_constant,
        )

    def _decode_state(self, name: str, raw: bytes) -> None:
        i = self._index[name]
        self._pos[i], self._vel[i], self._eff[i] = self.decode_state(name, raw)
        self._valid[i] = True

    # ------------------------------------------------------------------ bus access
    def _count(self, result: int) -> None:
        if result == self._sdk.COMM_RX_CORRUPT:
            self.counters['crc_errors'] += 1
        elif result == self._sdk.COMM_RX_TIMEOUT:
            self.counters['timeouts'] += 1

    def _sync_read(self, names: list[str], start: int, length: int) -> dict[str, bytes] | None:
        """{joint: raw bytes} or None when the Sync Read failed `retries + 1` times."""
        if not names:
            return {}
        group = self._sdk.GroupSyncRead(self._port, self._ph, start, length)
        for name in names:
            group.addParam(self._ids[name])
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.counters['retries'] += 1
            result = group.txRxPacket()
            if result == self._sdk.COMM_SUCCESS:
                return {n: bytes(group.data_dict[self._ids[n]]) for n in names}
            self._count(result)
        self.counters['read_failures'] += 1
        return None

    def _read(self, name: str, start: int, length: int) -> bytes | None:
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.counters['retries'] += 1
            data, result, _error = self._ph.readTxRx(self._port, self._ids[name], start, length)
            if result == self._sdk.COMM_SUCCESS:
                return bytes(data)
            self._count(result)
        return None

    def _write1(self, name: str, address: int, value: int) -> bool:
        for attempt in range(self.config.retries + 1):
            if attempt:
                self.counters['retries'] += 1
            result, error = self._ph.write1ByteTxRx(self._port, self._ids[name], address, value)
            if result == self._sdk.COMM_SUCCESS:
                if error & 0x7F:
                    self._log(
                        f'servo id {self._ids[name]} ({name}) refused write of {value} to '
                        f'address {address}: {self._ph.getRxPacketError(error)}'
                    )
                    return False
                return True
            self._count(result)
        return False

    def _sync_write(self, start: int, length: int, values: Mapping[str, list[int]]) -> None:
        if not values:
            return
        group = self._sdk.GroupSyncWrite(self._port, self._ph, start, length)
        for name, data in values.items():
            group.addParam(self._ids[name], data)
        result = group.txPacket()
        if result != self._sdk.COMM_SUCCESS:
            self._log(f'sync write at {start} failed: {self._ph.getTxRxResult(result)}')

    def _sync_write_u32(self, start: int, values: Mapping[str, int]) -> None:
        self._sync_write(start, 4, {n: _u32(v) for n, v in values.items()})

    def _write_gains(self, gains: Mapping[str, RegisterGains]) -> None:
        changed = {
            n: g for n, g in gains.items() if n not in self._lost and self._gains.get(n) != g
        }
        self._sync_write(
            GAINS_START,
            GAINS_LEN,
            {n: _u16(g.d) + _u16(g.i) + _u16(g.p) for n, g in changed.items()},
        )
        self._gains.update(changed)

    def _hold(self, names: Sequence[str]) -> None:
        goals = {n: self.to_ticks(n, float(self._pos[self._index[n]])) for n in names}
        self._sync_write_u32(ADDR['goal_position'], goals)

    # ------------------------------------------------------------------ faults
    def _setup_servo(self, name: str) -> bool:
        """Ping, check the model, position mode (if torque is off), configured gains."""
        sid = self._ids[name]
        model, result, _ = self._ph.ping(self._port, sid)
        if result != self._sdk.COMM_SUCCESS:
            self._count(result)
            return False
        expected = self._models[name].model_number
        if model != expected:
            self._log(
                f'servo id {sid} ({name}) reports model number {model}, config says '
                f'{self.config.joints[name].model} ({expected})'
            )
        raw = self._read(name, ADDR['operating_mode'], 1)
        torque = self._read(name, ADDR['torque_enable'], 1)
        if raw is None or torque is None:
            return False
        if raw[0] != POSITION_CONTROL_MODE:
            if torque[0]:
                self._log(f'servo id {sid} ({name}) is not in position mode and torque is on')
                return False
            self._write1(name, ADDR['operating_mode'], POSITION_CONTROL_MODE)
        self._gains.pop(name, None)
        self._write_gains({name: self.config.joints[name].gains})
        return True

    def _mark_lost(self, name: str, why: str) -> None:
        if name in self._lost:
            return
        self._lost[name] = self._clock() + self.config.reconnect_period
        self._valid[self._index[name]] = False
        self._reconnected.discard(name)
        self.counters['lost_events'] += 1
        self._log(f'servo id {self._ids[name]} ({name}) lost: {why}')
        self._fault_detected(f'servo id {self._ids[name]} ({name}) lost')

    def _fault_detected(self, what: str) -> None:
        first = not self._fault
        self._fault = self._fault or what
        if first and self._torque and self._connected:
            others = [n for n in self._names if n not in self._lost and n not in self._hw_errors]
            self._apply_fault_action(self.on_actuator_loss, others)

    def _apply_fault_action(self, action: FaultAction, names: Sequence[str]) -> None:
        if action is FaultAction.TORQUE_OFF:
            for name in names:
                self._write1(name, ADDR['torque_enable'], 0)
            self._torque = False
            return
        if action is FaultAction.DAMP:
            self._write_gains({n: self.config.damping_gains for n in names})
        self._hold(names)

    def _reconnect_lost(self, now: float) -> None:
        for name, due in list(self._lost.items()):
            if now < due:
                continue
            if self._setup_servo(name):
                del self._lost[name]
                self._reconnected.add(name)
                self.counters['reconnects'] += 1
                self._log(f'servo id {self._ids[name]} ({name}) answers again (torque off)')
            else:
                self._lost[name] = now + self.config.reconnect_period

    def _poll_errors(self, names: list[str]) -> None:
        data = self._sync_read(names, ADDR['hardware_error_status'], 1)
        if data is None:
            return
        for name, raw in data.items():
            status = raw[0]
            if status and name not in self._hw_errors:
                text = hardware_error_text(status)
                self._hw_errors[name] = text
                self._log(f'servo id {self._ids[name]} ({name}) hardware error: {text}')
                self._fault_detected(f'servo id {self._ids[name]} ({name}) hardware error')
            elif not status:
                self._hw_errors.pop(name, None)
