"""OpenCV cameras on generated video files: size, pacing, end of file, looping, bad sources."""

from __future__ import annotations

import time

import pytest

from teleforge.errors import CameraError
from teleforge.robots.cameras.opencv import OpenCVCamera, parse_target
from teleforge.robots.types import CameraSpec

from .conftest import write_mp4
from .test_capture import wait_until


def test_file_plays_at_its_rate_resized_to_spec(clip):
    cam = OpenCVCamera(CameraSpec("front", 32, 40, fps=30.0), str(clip))
    cam.start()
    try:
        assert wait_until(lambda: cam.latest() is not None)
        f = cam.latest()
        assert f.image.shape == (32, 40, 3)
        time.sleep(0.3)
        # Paced at 30 fps (not decoded as fast as possible): far fewer than 60 frames in ~0.3 s.
        assert cam.stats.frames < 45
        seqs = {cam.latest().seq for _ in range(3) if cam.latest() is not None}
        assert seqs
    finally:
        cam.stop()


def test_file_that_ends_disappears(tmp_path):
    clip = write_mp4(tmp_path / "short.mp4", 6)
    cam = OpenCVCamera(CameraSpec("front", 48, 64, fps=30.0), str(clip), stale_s=0.1)
    cam.start()
    try:
        assert wait_until(lambda: cam.stats.frames >= 6)
        assert wait_until(lambda: cam.latest() is None, 3.0)
        assert cam.stats.frames == 6
    finally:
        cam.stop()


def test_looping_file_keeps_playing(tmp_path):
    clip = write_mp4(tmp_path / "short.mp4", 6)
    cam = OpenCVCamera(CameraSpec("front", 48, 64, fps=30.0), str(clip), loop=True)
    cam.start()
    try:
        assert wait_until(lambda: cam.stats.frames >= 15)
        assert cam.latest() is not None
    finally:
        cam.stop()


def test_targets():
    assert parse_target("0") == (0, "device")
    assert parse_target("/dev/video2") == ("/dev/video2", "device")
    assert parse_target("rtsp://h/s")[1] == "stream"
    with pytest.raises(CameraError, match="existing video file"):
        parse_target("nope.mp4")


def test_missing_device_fails_at_start(tmp_path):
    bogus = tmp_path / "not_a_video.mp4"
    bogus.write_bytes(b"not a video")
    cam = OpenCVCamera(CameraSpec("front"), str(bogus), open_timeout_s=5.0)
    with pytest.raises(CameraError):
        cam.start()
