"""Generated video files and scripted frame sources for the camera tests."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest

from teleforge.robots.cameras import RawFrame


def write_mp4(path: Path, n: int, fps: int = 30, size: tuple[int, int] = (64, 48)) -> Path:
    """An H.264 mp4 of ``n`` frames whose brightness encodes the frame number (i * 4 % 256)."""
    w, h = size
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for i in range(n):
            img = np.full((h, w, 3), (i * 4) % 256, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    """Two seconds at 30 fps."""
    return write_mp4(tmp_path / "clip.mp4", 60)


class ScriptedSource:
    """A FrameSource made per capture thread; sessions share ``shared`` (what the test controls).

    ``stall_after``: the first session blocks in read() after that many frames until
    ``release`` is set (a driver that hangs); ``vanish``: once set, open() fails and read()
    returns None (unplugged).
    """

    def __init__(self, shared: "SourceState") -> None:
        self.shared = shared
        self.session = shared.sessions
        shared.sessions += 1

    def open(self) -> None:
        if self.shared.vanish.is_set():
            raise OSError("no such device")
        self.shared.opened += 1

    def read(self) -> RawFrame | None:
        s = self.shared
        if s.vanish.is_set():
            return None
        if self.session == 0 and s.stall_after is not None and s.frames >= s.stall_after:
            s.release.wait(10.0)
            return None
        s.pace.wait(1 / 100)  # ~100 fps, interruptible
        s.frames += 1
        return RawFrame(image=np.full((8, 8, 3), self.session, np.uint8), device_t_ns=s.device_t_ns(s.frames))

    def close(self) -> None:
        self.shared.closed += 1


class SourceState:
    def __init__(self, stall_after: int | None = None, hw_clock: bool = False) -> None:
        self.sessions = 0
        self.opened = 0
        self.closed = 0
        self.frames = 0
        self.stall_after = stall_after
        self.release = threading.Event()
        self.vanish = threading.Event()
        self.pace = threading.Event()
        self.hw_clock = hw_clock

    def device_t_ns(self, k: int) -> int | None:
        # A device clock 1e12 ns ahead of the host's; exposures 3 ms before the host reads them.
        return time.monotonic_ns() + 10**12 - 3_000_000 if self.hw_clock else None

    def factory(self) -> ScriptedSource:
        return ScriptedSource(self)
