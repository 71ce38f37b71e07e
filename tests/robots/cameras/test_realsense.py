"""RealSense at its SDK boundary: a fake ``pyrealsense2`` that records every call."""

from __future__ import annotations

import sys
import threading
import time
import types

import numpy as np
import pytest

from teleforge.errors import CameraError
from teleforge.robots.cameras.realsense import RealSenseCamera
from teleforge.robots.types import CameraSpec
from tests.robots.cameras.rs_frames import RsFrame, RsFrameset

from .test_capture import wait_until


def fake_sdk(calls: list, unplug: threading.Event) -> types.ModuleType:
    rs = types.ModuleType("pyrealsense2")
    rs.stream = types.SimpleNamespace(color="color", depth="depth")
    rs.format = types.SimpleNamespace(rgb8="rgb8", z16="z16")

    class config:
        def enable_device(self, serial):
            calls.append(("enable_device", serial))

        def enable_stream(self, stream, w, h, fmt, fps):
            calls.append(("enable_stream", stream, w, h, fmt, fps))

    class _Sensor:
        def get_depth_scale(self):
            return 0.001  # 1 mm per unit (D4xx default)

    class _Profile:
        def get_device(self):
            return types.SimpleNamespace(first_depth_sensor=_Sensor)

    class pipeline:
        def start(self, cfg):
            if unplug.is_set():
                raise RuntimeError("No device connected")
            calls.append(("start",))
            self.k = 0
            return _Profile()

        def wait_for_frames(self, timeout_ms):
            if unplug.is_set():
                time.sleep(0.01)
                raise RuntimeError(f"Frame didn't arrive within {timeout_ms}")
            time.sleep(1 / 60)
            self.k += 1
            ts = time.monotonic_ns() / 1e6 + 5e6 - 4.0  # device clock: 5e6 ms ahead, exposure 4 ms ago
            color = np.zeros((480, 640, 3), np.uint8)
            color[..., 0] = self.k % 256
            depth = np.full((480, 640), 750, np.uint16)  # 0.75 m
            return RsFrameset(RsFrame(color, ts), RsFrame(depth, ts))

        def stop(self):
            calls.append(("stop",))

    class align:
        def __init__(self, to):
            calls.append(("align", to))

        def process(self, frames):
            return frames

    rs.config, rs.pipeline, rs.align = config, pipeline, align
    return rs


@pytest.fixture
def sdk(monkeypatch):
    calls: list = []
    unplug = threading.Event()
    monkeypatch.setitem(sys.modules, "pyrealsense2", fake_sdk(calls, unplug))
    return calls, unplug


def test_colour_and_aligned_depth_at_spec_size_with_hardware_time(sdk):
    calls, _ = sdk
    cam = RealSenseCamera(CameraSpec("wrist", 120, 160, fps=30.0), serial="123456")
    cam.start()
    try:
        assert wait_until(lambda: cam.latest() is not None)
        f = cam.latest()
        depth = cam.latest_depth()
    finally:
        cam.stop()
    assert ("enable_device", "123456") in calls
    assert ("enable_stream", "color", 640, 480, "rgb8", 30) in calls
    assert ("enable_stream", "depth", 640, 480, "z16", 30) in calls
    assert ("align", "color") in calls and ("stop",) in calls
    assert f.image.shape == (120, 160, 3)
    assert depth.shape == (120, 160) and depth.dtype == np.uint16 and int(depth[0, 0]) == 750
    assert abs(f.t_ns - time.monotonic_ns()) < 10**9  # on the session clock, not the device's


def test_unplugged_realsense_goes_missing_then_recovers(sdk):
    _, unplug = sdk
    cam = RealSenseCamera(CameraSpec("wrist", 48, 64, fps=30.0), stale_s=0.1)
    cam.start()
    try:
        assert wait_until(lambda: cam.latest() is not None)
        unplug.set()
        assert wait_until(lambda: cam.latest() is None, 3.0)
        unplug.clear()
        assert wait_until(lambda: cam.latest() is not None)
        assert cam.stats.reconnects >= 1
    finally:
        cam.stop()


def test_without_the_sdk_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyrealsense2", None)
    with pytest.raises(CameraError, match="teleforge\\[realsense\\]"):
        RealSenseCamera(CameraSpec("wrist"))
