"""The console bridge's camera path, in this process (rclpy node, no subscribers needed):
a client that sees `camera_frames > 0` in the state finds an image at /api/camera.jpg."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from humanoid_bringup.console import bridge as bridge_module
from humanoid_bringup.console.bridge import ConsoleBridge
import pytest


@pytest.fixture
def bridge() -> Iterator[ConsoleBridge]:
    events: list[dict[str, Any]] = []
    b = ConsoleBridge(events.append, namespace='console_bridge_test', camera_hz=1.0)
    try:
        yield b
    finally:
        b.shutdown()


def test_frames_are_counted_after_the_jpeg_is_stored(
    bridge: ConsoleBridge, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_while_encoding: list[tuple[int, bytes | None]] = []

    def encode(msg: Any, quality: int = 70) -> bytes:
        seen_while_encoding.append((bridge.camera_frames, bridge.camera_jpeg))
        if msg == 'bad':
            raise ValueError('unsupported encoding bad')
        return b'\xff\xd8' + msg.encode()

    monkeypatch.setattr(bridge_module, 'image_to_jpeg', encode)
    bridge._on_image('first')
    # while the first frame was encoded, the state did not claim a frame yet
    assert seen_while_encoding == [(0, None)]
    assert bridge.camera_frames == 1 and bridge.camera_jpeg == b'\xff\xd8first'
    bridge._on_image('second')  # within the 1 s camera period: counted, not encoded
    assert bridge.camera_frames == 2 and bridge.camera_jpeg == b'\xff\xd8first'
    assert len(seen_while_encoding) == 1
    bridge._last_camera = -1e9
    bridge._on_image('bad')  # a frame that cannot be encoded is counted, the image stays
    assert bridge.camera_frames == 3 and bridge.camera_jpeg == b'\xff\xd8first'
