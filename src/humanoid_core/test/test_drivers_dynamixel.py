"""Dynamixel driver against an emulated Protocol 2.0 bus on a pty (test/fixtures).

The emulator implements the protocol from the ROBOTIS specification, independently of the
driver and of dynamixel-sdk, so these tests check the SDK's real bytes: CRC, stuffing, sync
read/write, plus the driver's unit conversion, torque, fault handling and reconnect.
"""

from __future__ import annotations

from collections.abc import Iterator
import math
import time

from fixtures.dynamixel_emulator import (
    ALERT,
    DynamixelEmulator,
    crc16,
    instruction_packet,
    status_packet,
    stuff,
    unstuff,
)
from humanoid_core.drivers import DriverError, FaultAction, Gains, HealthLevel
from humanoid_core.drivers.dynamixel import DynamixelDriver, hardware_error_text
from humanoid_core.drivers.robot_config import DynamixelConfig
from humanoid_core.sim.trajectory import JointLimit
import pytest

dynamixel_sdk = pytest.importorskip('dynamixel_sdk')

NECK_YAW, NECK_PITCH = 'neck_yaw_joint', 'neck_pitch_joint'


def make_config(**kw: object) -> DynamixelConfig:
    base: dict = {
        'retries': 2,
        'latency_timer_ms': 50.0,  # replies may be late on a loaded test machine
        'reconnect_period': 0.05,
        'error_poll_period': 0.01,
        'joints': {
            NECK_YAW: {'id': 1, 'gains': {'p': 640, 'i': 0, 'd': 4}},
            NECK_PITCH: {'id': 2, 'direction': -1, 'offset': 0.1},
        },
    }
    base.update(kw)
    return DynamixelConfig.model_validate(base)


@pytest.fixture
def bus() -> Iterator[DynamixelEmulator]:
    with DynamixelEmulator({1: 1020, 2: 1020}, speed=4.0) as emulator:
        yield emulator


def settle(driver: DynamixelDriver, sid: int = 1) -> None:
    """Sync Writes get no reply: one answered round trip makes sure the emulator applied them
    (the emulator handles packets in order)."""
    for _ in range(20):
        _, result, _ = driver._ph.ping(driver._port, sid)
        if result == dynamixel_sdk.COMM_SUCCESS:
            return
    raise AssertionError(f'servo {sid} does not answer')


def connect(bus: DynamixelEmulator, **kw: object) -> DynamixelDriver:
    limits = {NECK_YAW: JointLimit(-1.0, 1.0, 4.0), NECK_PITCH: JointLimit(-0.6, 1.0, 4.0)}
    on_loss = kw.pop('on_actuator_loss', FaultAction.HOLD)
    driver = DynamixelDriver(
        make_config(**kw), limits=limits, port=bus.port, on_actuator_loss=on_loss
    )  # type: ignore[arg-type]
    driver.connect()
    return driver


# ---------------------------------------------------------------- protocol (spec examples)
def test_crc_matches_the_protocol_examples_and_the_sdk() -> None:
    # e-manual Protocol 2.0, PING example: FF FF FD 00 01 03 00 01 | 19 4E
    assert crc16(bytes.fromhex('FFFFFD0001030001')) == 0x4E19
    assert instruction_packet(1, 0x01) == bytes.fromhex('FFFFFD000103000119 4E'.replace(' ', ''))
    ph = dynamixel_sdk.PacketHandler(2.0)
    for data in (b'\x00', bytes(range(40)), bytes([0xFF, 0xFF, 0xFD, 0x00, 0x55] * 7)):
        assert ph.updateCRC(0, list(data), len(data)) == crc16(data)


def test_stuffing_round_trip() -> None:
    raw = bytes([0x03, 0xFF, 0xFF, 0xFD, 0x01, 0xFF, 0xFF, 0xFD])
    assert stuff(raw) == bytes([0x03, 0xFF, 0xFF, 0xFD, 0xFD, 0x01, 0xFF, 0xFF, 0xFD, 0xFD])
    assert unstuff(stuff(raw)) == raw
    pkt = status_packet(1, 0, raw)
    assert crc16(pkt[:-2]) == pkt[-2] | pkt[-1] << 8
    assert pkt[5] | pkt[6] << 8 == len(pkt) - 7  # LEN counts the stuffed bytes


def test_sdk_write_and_read_with_byte_stuffing(
    bus: DynamixelEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the SDK's reply timeout is 2 x 16 ms + 2 ms: too short on a loaded test machine
    monkeypatch.setattr(dynamixel_sdk.port_handler, 'LATENCY_TIMER', 50)
    port = dynamixel_sdk.PortHandler(bus.port)
    ph = dynamixel_sdk.PacketHandler(2.0)
    assert port.openPort() and port.setBaudRate(1_000_000)
    try:
        model, result, error = ph.ping(port, 1)
        assert (model, result, error) == (1020, dynamixel_sdk.COMM_SUCCESS, 0)
        data = [0xFF, 0xFF, 0xFD, 0x07]  # needs stuffing both ways
        result, error = ph.writeTxRx(port, 2, 224, 4, data)
        assert (result, error) == (dynamixel_sdk.COMM_SUCCESS, 0)
        assert bytes(bus.servo(2).table[224:228]) == bytes(data)
        got, result, _ = ph.readTxRx(port, 2, 224, 4)
        assert result == dynamixel_sdk.COMM_SUCCESS and list(got) == data
        _, result, _ = ph.ping(port, 9)  # nobody there
        assert result == dynamixel_sdk.COMM_RX_TIMEOUT
    finally:
        port.closePort()


# ---------------------------------------------------------------- driver
def test_connect_reads_positions_with_direction_and_offset(bus: DynamixelEmulator) -> None:
    bus.set_position_rad(1, 0.5)
    bus.set_position_rad(2, 0.2)  # servo frame
    driver = connect(bus)
    r = driver.read_joints()
    assert r.names == (NECK_YAW, NECK_PITCH)
    assert r.position_of(NECK_YAW) == pytest.approx(0.5, abs=2e-3)
    assert r.position_of(NECK_PITCH) == pytest.approx(0.1 - 0.2, abs=2e-3)  # offset - servo
    assert r.valid.all()
    assert bus.servo(1).gains == (640, 0, 4)  # configured gains written at connect
    assert driver.health().level == HealthLevel.OK and not driver.health().torque_enabled
    driver.close()


def test_unit_conversion_of_raw_state() -> None:
    driver = DynamixelDriver(make_config(), port='/dev/null')
    current = (-10).to_bytes(2, 'little', signed=True)
    velocity = (100).to_bytes(4, 'little', signed=True)
    position = (3072).to_bytes(4, 'little', signed=True)
    q, dq, tau = driver.decode_state(NECK_YAW, current + velocity + position)
    assert q == pytest.approx(math.pi / 2)
    assert dq == pytest.approx(100 * 0.229 * 2 * math.pi / 60)  # 2.398 rad/s
    assert tau == pytest.approx(-10 * 2.69e-3 * 4.1 / 2.3)
    q, dq, tau = driver.decode_state(NECK_PITCH, current + velocity + position)
    assert q == pytest.approx(0.1 - math.pi / 2) and dq < 0 and tau > 0  # direction -1
    assert driver.to_ticks(NECK_YAW, math.pi / 2) == 3072
    assert driver.to_ticks(NECK_PITCH, 0.1) == 2048
    assert driver.to_ticks(NECK_YAW, 100.0) == 4095  # servo range clamp


def test_torque_and_sync_write_move_the_servos(bus: DynamixelEmulator) -> None:
    driver = connect(bus)
    driver.write_targets([NECK_YAW], [0.4])
    settle(driver)
    assert driver.counters['commands_ignored'] == 1  # torque off: ignored
    assert bus.servo(1).goal == 2048
    driver.enable_torque()
    settle(driver)
    assert bus.servo(1).torque and bus.servo(2).torque
    driver.write_targets([NECK_YAW, NECK_PITCH], [0.4, 0.3])
    settle(driver)
    assert bus.servo(1).goal == driver.to_ticks(NECK_YAW, 0.4)
    assert bus.servo(2).goal == driver.to_ticks(NECK_PITCH, 0.3)
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        r = driver.read_joints()
        if (
            abs(r.position_of(NECK_YAW) - 0.4) < 2e-3
            and abs(r.position_of(NECK_PITCH) - 0.3) < 2e-3
        ):
            break
        time.sleep(0.02)
    assert r.position_of(NECK_YAW) == pytest.approx(0.4, abs=2e-3)
    assert r.position_of(NECK_PITCH) == pytest.approx(0.3, abs=2e-3)
    driver.write_targets([NECK_YAW], [5.0])  # beyond the joint limit: clamped to 1.0
    settle(driver)
    assert bus.servo(1).goal == driver.to_ticks(NECK_YAW, 1.0)
    driver.write_targets([NECK_YAW], [0.0], gains={NECK_YAW: Gains(kp=500, kd=20)})
    settle(driver)
    settle(driver)
    assert bus.servo(1).gains == (500, 0, 20)
    with pytest.raises(ValueError, match='not driven by this bus'):
        driver.write_targets(['left_knee_joint'], [0.1])
    driver.disable_torque()
    settle(driver)
    assert not bus.servo(1).torque and not driver.health().torque_enabled


def test_crc_errors_and_timeouts_are_retried_and_counted(bus: DynamixelEmulator) -> None:
    driver = connect(bus)
    bus.set_position_rad(1, 0.25)
    bus.corrupt_next(1)
    r = driver.read_joints()
    assert driver.counters['crc_errors'] >= 1 and driver.counters['retries'] >= 1
    assert r.valid.all() and r.position_of(NECK_YAW) == pytest.approx(0.25, abs=2e-3)
    bus.drop_next(1)
    r = driver.read_joints()
    assert driver.counters['timeouts'] >= 1
    assert r.valid.all() and driver.health().level == HealthLevel.OK
    assert driver.health().counters['crc_errors'] >= 1


def test_lost_servo_holds_the_rest_and_reconnects(bus: DynamixelEmulator) -> None:
    driver = connect(bus)
    driver.enable_torque()
    settle(driver)
    driver.write_targets([NECK_YAW], [0.3])
    settle(driver)
    time.sleep(0.15)  # the servo is on its way (4 rad/s)
    bus.remove(2)
    r = driver.read_joints()
    settle(driver)
    h = driver.health()
    assert h.level == HealthLevel.ERROR and h.lost == (NECK_PITCH,)
    assert 'id 2 (neck_pitch_joint)' in h.message
    assert not r.valid[1] and r.valid[0]
    # on_actuator_loss = hold: the other servo's goal is its measured position
    assert bus.servo(1).goal == driver.to_ticks(NECK_YAW, r.position_of(NECK_YAW))
    goal = bus.servo(1).goal
    driver.write_targets([NECK_YAW], [-0.5])
    settle(driver)
    assert bus.servo(1).goal == goal and driver.counters['commands_ignored'] == 1
    # the servo comes back (power cycled: torque off); the fault needs enable_torque()
    bus.restore(2)
    time.sleep(0.1)
    driver.read_joints()
    h = driver.health()
    assert h.lost == () and h.level == HealthLevel.WARN and 'answer again' in h.message
    assert driver.counters['reconnects'] == 1 and not bus.servo(2).torque
    driver.write_targets([NECK_YAW], [-0.5])
    settle(driver)
    assert bus.servo(1).goal == goal
    driver.enable_torque()
    settle(driver)
    assert driver.health().level == HealthLevel.OK and bus.servo(2).torque
    driver.write_targets([NECK_YAW], [-0.5])
    settle(driver)
    assert bus.servo(1).goal == driver.to_ticks(NECK_YAW, -0.5)


def test_lost_servo_with_damping(bus: DynamixelEmulator) -> None:
    driver = connect(bus, on_actuator_loss=FaultAction.DAMP)
    driver.enable_torque()
    settle(driver)
    bus.remove(1)
    driver.read_joints()
    settle(driver, 2)
    assert driver.health().lost == (NECK_YAW,)
    damping = make_config().damping_gains
    assert bus.servo(2).gains == (damping.p, damping.i, damping.d)
    assert bus.servo(2).torque


def test_hardware_error_bits_are_reported_and_cleared_by_reboot(bus: DynamixelEmulator) -> None:
    driver = connect(bus)
    driver.enable_torque()
    settle(driver)
    bus.set_hardware_error(2, (1 << 2) | (1 << 5))  # overheating + overload: torque off
    time.sleep(0.02)
    driver.read_joints()
    h = driver.health()
    assert h.level == HealthLevel.ERROR
    assert h.errors == {NECK_PITCH: 'overheating, overload'}
    assert 'hardware error id 2 (neck_pitch_joint): overheating, overload' in h.message
    assert bus.servo(2).error_byte == ALERT
    assert driver.clear_errors() == [NECK_PITCH]
    assert bus.servo(2).table[70] == 0
    time.sleep(0.02)
    driver.read_joints()
    driver.enable_torque()
    settle(driver)
    assert driver.health().level == HealthLevel.OK and bus.servo(2).torque
    assert hardware_error_text(0x01 | 0x40) == 'input voltage error, unknown bits 0x40'


def test_emergency_damp_hold_and_torque_off(bus: DynamixelEmulator) -> None:
    driver = connect(bus)
    driver.enable_torque()
    settle(driver)
    driver.emergency(FaultAction.DAMP)
    settle(driver)
    damping = make_config().damping_gains
    assert bus.servo(1).gains[0] == damping.p and bus.servo(1).torque
    goal = bus.servo(1).goal
    driver.write_targets([NECK_YAW], [0.5])
    settle(driver)
    assert bus.servo(1).goal == goal  # ignored during the emergency
    assert driver.health().level == HealthLevel.WARN
    driver.enable_torque()
    settle(driver)
    assert bus.servo(1).gains == (640, 0, 4)
    driver.emergency(FaultAction.TORQUE_OFF)
    settle(driver)
    assert not bus.servo(1).torque and not bus.servo(2).torque


def test_connect_errors_name_the_port_and_ids(bus: DynamixelEmulator) -> None:
    cfg = make_config(joints={NECK_YAW: {'id': 7}})
    with pytest.raises(DriverError, match=r'no Dynamixel servo answered on .* \(ids \[7\]\)'):
        DynamixelDriver(cfg, port=bus.port).connect()
    with pytest.raises(DriverError, match='cannot open Dynamixel port /nonexistent/tty'):
        DynamixelDriver(cfg, port='/nonexistent/tty').connect()
    with pytest.raises(DriverError, match="unknown Dynamixel model 'XM999'"):
        DynamixelDriver(make_config(joints={NECK_YAW: {'id': 1, 'model': 'XM999'}}))
