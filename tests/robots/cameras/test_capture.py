"""CaptureCamera behaviour: latest never blocks, stale frames are withheld, stalls reconnect,
a camera that vanishes stays gone without blocking, hardware timestamps map to the session clock."""

from __future__ import annotations

import time

import numpy as np
import pytest

from teleforge.errors import CameraError
from teleforge.robots.cameras import CameraSet, CaptureCamera, parse_camera_arg
from teleforge.robots.types import Camera, CameraSpec

from .conftest import SourceState


def wait_until(pred, timeout: float = 10.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def make(state: SourceState, **kw) -> CaptureCamera:
    return CaptureCamera(CameraSpec("cam", 16, 24, fps=100.0), state.factory, **kw)


def test_frames_are_resized_rgb_with_increasing_seq_and_capture_time():
    state = SourceState()
    cam = make(state)
    assert isinstance(cam, Camera)
    assert cam.latest() is None
    t0 = time.monotonic_ns()
    cam.start()
    try:
        assert wait_until(lambda: cam.stats.frames >= 5)
        a = cam.latest()
        assert wait_until(lambda: cam.latest() is not None and cam.latest().seq > a.seq)
        b = cam.latest()
        assert a.image.shape == (16, 24, 3) and a.image.dtype == np.uint8
        assert t0 <= a.t_ns <= b.t_ns <= time.monotonic_ns()
    finally:
        cam.stop()
    assert cam.stats.state == "stopped"


def test_stalled_driver_is_withheld_then_reconnected():
    state = SourceState(stall_after=5)
    cam = make(state, stale_s=0.05, stall_s=0.3)
    cam.start()
    try:
        assert wait_until(lambda: state.frames >= 5)
        # The first session now hangs inside read(): latest() stops returning its old frame
        # and never waits for the driver.
        assert wait_until(lambda: cam.latest() is None, 2.0)
        t = time.perf_counter()
        for _ in range(100):
            cam.latest()
        assert time.perf_counter() - t < 1.0  # generous: 100 lock-protected reads
        # The watchdog opens a second session; its frames (value 1) come through.
        assert wait_until(lambda: cam.stats.stalls >= 1 and cam.stats.reconnects >= 1)
        assert wait_until(lambda: cam.latest() is not None and int(cam.latest().image[0, 0, 0]) >= 1)
    finally:
        state.release.set()
        cam.stop()


def test_vanished_camera_returns_none_and_keeps_retrying():
    state = SourceState()
    cam = make(state, stale_s=0.05)
    cam.start()
    try:
        assert wait_until(lambda: cam.latest() is not None)
        state.vanish.set()
        assert wait_until(lambda: cam.latest() is None, 2.0)
        assert wait_until(lambda: cam.stats.state == "reconnecting")
        state.vanish.clear()  # plugged back in
        assert wait_until(lambda: cam.latest() is not None)
        assert cam.stats.reconnects >= 1
    finally:
        cam.stop()


def test_no_reconnect_leaves_camera_gone():
    state = SourceState()
    cam = make(state, stale_s=0.05, reconnect=False)
    cam.start()
    try:
        assert wait_until(lambda: cam.latest() is not None)
        state.vanish.set()
        assert wait_until(lambda: cam.latest() is None, 2.0)
        time.sleep(0.2)
        assert cam.latest() is None and state.opened == 1
    finally:
        cam.stop()


def test_open_failure_is_a_camera_error():
    state = SourceState()
    state.vanish.set()
    cam = make(state)
    with pytest.raises(CameraError, match="failed to open"):
        cam.start()


def test_hardware_timestamps_map_exposure_time_onto_the_session_clock():
    state = SourceState(hw_clock=True)
    cam = make(state)
    cam.start()
    try:
        assert wait_until(lambda: state.frames >= 20)
        f = cam.latest()
        arrival = cam._last_ns
    finally:
        cam.stop()
    # Stamped on the host clock (not the device's 1e12 ns offset), at or before arrival.
    assert f is not None
    assert abs(f.t_ns - time.monotonic_ns()) < 10**9
    assert f.t_ns <= arrival


@pytest.mark.parametrize("text,name,source", [
    ("front=/dev/video0", "front", "/dev/video0"),
    ("wrist=clip.mp4", "wrist", "clip.mp4"),
    ("top=rtsp://10.0.0.2/stream", "top", "rtsp://10.0.0.2/stream"),
    ("side=realsense:123456", "side", "realsense:123456"),
    ("front", "front", "sim"),
    ("front=sim", "front", "sim"),
])
def test_camera_arg_grammar(text, name, source):
    s = parse_camera_arg(text)
    assert (s.name, s.source) == (name, source)


@pytest.mark.parametrize("bad", ["=x", "front=", "fr ont=0", ""])
def test_camera_arg_errors_say_what_to_type(bad):
    with pytest.raises(CameraError, match="NAME=SOURCE|no source"):
        parse_camera_arg(bad)


def test_camera_set_starts_and_stops_real_cameras_and_reports_health():
    a, b = SourceState(), SourceState()
    rig = CameraSet({"a": make(a), "b": make(b)})
    rig.publish(np.zeros(3), 0)  # no sim rig: ignored
    rig.start()
    try:
        assert wait_until(lambda: all(c.latest() is not None for c in rig.cameras.values()))
        health = rig.health()
        assert set(health) == {"a", "b"} and health["a"]["state"] == "live"
    finally:
        rig.stop()
    assert a.closed >= 1 and b.closed >= 1
