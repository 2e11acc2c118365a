"""Unitree adapter layer: LowCmd_/LowState_ byte layout, Unitree's CRC32, joint mapping.

No robot, no DDS: byte-level samples are built here at the documented offsets (independently of
the module's struct format strings) and decoded, and the CRC is checked against an independent
byte-wise CRC-32/MPEG-2 anchored on its published check value. The known CRCs below are values
this implementation computes (documented in docs/DRIVERS.md), not values captured on a robot.
"""

from __future__ import annotations

import math
import struct

from humanoid_core.drivers import DriverError, FaultAction, load_robot_config
from humanoid_core.drivers.unitree import (
    GO_LOWCMD_FORMAT,
    HG_LOWCMD_FORMAT,
    HG_LOWSTATE_FORMAT,
    HG_NUM_MOTORS,
    GoLowCmd,
    LowCmd,
    LowState,
    MotorCmd,
    UnitreeDriver,
    UnitreeMapping,
    crc32_core,
    low_cmd_crc,
    pack_go_low_cmd,
    pack_low_cmd,
    pack_low_state,
    unpack_low_cmd,
    unpack_low_state,
)
import numpy as np
import pytest

# Offsets of the C structs (natural alignment), written out by hand from the IDL field lists.
HG_CMD_MOTOR0, HG_CMD_MOTOR_SIZE = 4, 28  # after mode_pr, mode_machine, 2 pad
HG_STATE_IMU, HG_STATE_MOTOR0, HG_STATE_MOTOR_SIZE = 16, 72, 56


def mpeg2_crc_bytes(data: bytes) -> int:
    """CRC-32/MPEG-2 byte-wise (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no xorout)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
            crc &= 0xFFFFFFFF
    return crc


def test_struct_sizes() -> None:
    assert struct.calcsize(HG_LOWCMD_FORMAT) == 4 + 35 * 28 + 5 * 4 == 1004
    assert struct.calcsize(GO_LOWCMD_FORMAT) == 812
    assert struct.calcsize(HG_LOWSTATE_FORMAT) == 16 + 56 + 35 * 56 + 40 + 16 + 4 == 2092


def test_crc32_core_is_crc32_mpeg2_over_big_endian_words() -> None:
    assert mpeg2_crc_bytes(b'123456789') == 0x0376E6E7  # the catalogued check value
    rng = np.random.default_rng(0)
    for n in (1, 3, 250):
        words = [int(w) for w in rng.integers(0, 2**32, size=n, dtype=np.uint64)]
        assert crc32_core(words) == mpeg2_crc_bytes(struct.pack(f'>{n}I', *words))


KNOWN_SAMPLE_CRC = 0xF8162FED  # sample_command(), recorded in docs/DRIVERS.md


def sample_command() -> LowCmd:
    cmd = LowCmd(mode_pr=0, mode_machine=5)
    for i in range(HG_NUM_MOTORS):
        cmd.motor_cmd[i] = MotorCmd(mode=1, q=0.01 * i, dq=0.0, tau=0.0, kp=40.0, kd=1.0)
    return cmd


def test_known_crc_values() -> None:
    # Values computed by this implementation and recorded (docs/DRIVERS.md); any change to the
    # layout or the algorithm changes them.
    assert low_cmd_crc(pack_low_cmd(LowCmd())) == 0xFE172F9F
    assert low_cmd_crc(pack_go_low_cmd(GoLowCmd())) == 0x322AC991
    packed = pack_low_cmd(sample_command())
    crc = struct.unpack_from('<I', packed, len(packed) - 4)[0]
    assert crc == low_cmd_crc(packed) == KNOWN_SAMPLE_CRC
    corrupted = bytearray(packed)
    corrupted[HG_CMD_MOTOR0 + 3 * HG_CMD_MOTOR_SIZE + 4] ^= 0x01  # one bit of motor 3's q
    assert low_cmd_crc(bytes(corrupted)) != crc


def test_low_cmd_byte_sample_and_round_trip() -> None:
    # build the bytes by hand at the documented offsets
    raw = bytearray(1004)
    raw[0], raw[1] = 1, 7  # mode_pr, mode_machine
    off = HG_CMD_MOTOR0 + 12 * HG_CMD_MOTOR_SIZE
    raw[off] = 1
    struct.pack_into('<5f', raw, off + 4, 0.25, -1.5, 2.0, 80.0, 1.5)
    struct.pack_into('<I', raw, 1000, 0xDEADBEEF)
    cmd = unpack_low_cmd(bytes(raw))
    assert (cmd.mode_pr, cmd.mode_machine, cmd.crc) == (1, 7, 0xDEADBEEF)
    m = cmd.motor_cmd[12]
    assert (m.mode, m.q, m.dq, m.tau, m.kp, m.kd) == (1, 0.25, -1.5, 2.0, 80.0, 1.5)
    assert all(x.mode == 0 for i, x in enumerate(cmd.motor_cmd) if i != 12)
    # round trip: packing the decoded command reproduces the bytes (with a fresh CRC)
    again = pack_low_cmd(cmd)
    assert again[:-4] == bytes(raw[:-4])
    assert struct.unpack_from('<I', again, 1000)[0] == low_cmd_crc(bytes(raw))
    with pytest.raises(ValueError, match='expected 1004 bytes, got 1000'):
        unpack_low_cmd(bytes(1000))


def test_low_state_byte_sample_maps_to_joints_and_imu() -> None:
    cfg = load_robot_config('g1_like').unitree
    assert cfg is not None
    raw = bytearray(2092)
    raw[9] = 3  # mode_machine
    struct.pack_into('<I', raw, 12, 4242)  # tick
    struct.pack_into('<10f', raw, HG_STATE_IMU, 0.5, 0.5, 0.5, 0.5, 0.1, 0.2, 0.3, 0.0, 0.0, 9.8)
    knee = cfg.joints['left_knee_joint'].index  # 3
    elbow = cfg.joints['left_elbow_joint']  # index 18, direction -1
    for index, q, dq, tau in ((knee, 0.8, 0.5, 12.0), (elbow.index, 0.6, -0.2, 3.0)):
        off = HG_STATE_MOTOR0 + index * HG_STATE_MOTOR_SIZE
        raw[off] = 1
        struct.pack_into('<4f', raw, off + 4, q, dq, 0.0, tau)
    state = unpack_low_state(bytes(raw))
    assert (state.mode_machine, state.tick) == (3, 4242)
    assert pack_low_state(state) == bytes(raw)  # round trip
    mapping = UnitreeMapping(cfg)
    r = mapping.reading(state, 1.0)
    assert r.position_of('left_knee_joint') == pytest.approx(0.8)
    i = r.names.index('left_knee_joint')
    assert r.velocities[i] == pytest.approx(0.5) and r.efforts[i] == pytest.approx(12.0)
    assert r.position_of('left_elbow_joint') == pytest.approx(-0.6)  # direction -1
    imu = mapping.imu(state, 1.0)
    assert imu.orientation.tolist() == [0.5, 0.5, 0.5, 0.5]  # (w, x, y, z)
    assert imu.angular_velocity == pytest.approx([0.1, 0.2, 0.3])
    assert imu.linear_acceleration == pytest.approx([0.0, 0.0, 9.8])


def test_mapping_command_and_damping() -> None:
    cfg = load_robot_config('g1_like').unitree
    assert cfg is not None
    mapping = UnitreeMapping(cfg)
    cmd = mapping.command(['left_knee_joint', 'left_elbow_joint'], [0.9, -0.7], [0.1, 0.2])
    knee = cmd.motor_cmd[3]
    assert (knee.mode, knee.q, knee.dq, knee.kp, knee.kd) == (1, 0.9, 0.1, 100.0, 2.0)
    elbow = cmd.motor_cmd[18]
    assert (elbow.q, elbow.dq) == pytest.approx((0.7, -0.2))  # direction -1
    assert cmd.motor_cmd[13].mode == 0 and cmd.motor_cmd[0].mode == 0  # not commanded
    packed = pack_low_cmd(cmd)
    assert unpack_low_cmd(packed).motor_cmd[3].q == pytest.approx(0.9)
    damp = mapping.damping()
    assert all(m.kp == 0.0 for m in damp.motor_cmd)
    assert damp.motor_cmd[3].kd == 2.0 and damp.motor_cmd[3].mode == 1
    assert damp.motor_cmd[13].mode == 0  # unmapped slot stays disabled
    with pytest.raises(ValueError, match="joint 'neck_yaw_joint' is not mapped"):
        mapping.command(['neck_yaw_joint'], [0.0])
    with pytest.raises(ValueError, match='non-finite'):
        mapping.command(['left_knee_joint'], [math.nan])


class LoopbackTransport:
    """Stands in for DDS (which cannot run here): records commands, serves a given state."""

    def __init__(self, state: bytes) -> None:
        self.state = state
        self.sent: list[bytes] = []

    def open(self, network_interface: str) -> None:
        self.interface = network_interface

    def publish(self, low_cmd: bytes) -> None:
        self.sent.append(low_cmd)

    def latest_state(self) -> bytes | None:
        return self.state

    def close(self) -> None:
        pass


def test_driver_without_transport_says_why() -> None:
    cfg = load_robot_config('g1_like').unitree
    assert cfg is not None
    with pytest.raises(DriverError, match='unitree_sdk2py and cyclonedds are not on PyPI'):
        UnitreeDriver(cfg).connect()


def test_driver_holds_damps_and_echoes_mode_machine() -> None:
    cfg = load_robot_config('g1_like').unitree
    assert cfg is not None
    state = LowState(mode_machine=6)
    state.motor_state[3].q = 0.4
    transport = LoopbackTransport(pack_low_state(state))
    driver = UnitreeDriver(cfg, transport)
    driver.connect()
    driver.write_targets(['left_knee_joint'], [1.0])
    assert transport.sent == []  # torque off: nothing sent
    driver.enable_torque()
    hold = unpack_low_cmd(transport.sent[-1])
    assert hold.mode_machine == 6 and hold.motor_cmd[3].q == pytest.approx(0.4)
    assert hold.crc == low_cmd_crc(transport.sent[-1])
    driver.write_targets(['left_knee_joint'], [1.0])
    assert unpack_low_cmd(transport.sent[-1]).motor_cmd[3].q == pytest.approx(1.0)
    driver.emergency(FaultAction.DAMP)
    damp = unpack_low_cmd(transport.sent[-1])
    assert damp.motor_cmd[3].kp == 0.0 and damp.motor_cmd[3].kd == 2.0
    n = len(transport.sent)
    driver.write_targets(['left_knee_joint'], [0.0])
    assert len(transport.sent) == n  # ignored during the emergency
