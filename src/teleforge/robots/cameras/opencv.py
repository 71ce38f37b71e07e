"""OpenCV cameras: a V4L2/UVC device (index or ``/dev/videoN``), a video file, or a
stream URL (rtsp/http), read on a capture thread (:class:`CaptureCamera`).

Devices and streams are asked for the spec's size and rate and a one-frame driver
buffer (so ``latest`` is the newest exposure, not one queued seconds ago); frames of
another size are resized on the capture thread. Video files play at their own rate
(or the spec's when the file has none) on absolute deadlines, like a camera would,
and either end (``loop=False``: the camera disappears) or loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2

from teleforge.errors import CameraError
from teleforge.robots.cameras.capture import CaptureCamera, RawFrame
from teleforge.robots.types import CameraSpec

__all__ = ["OpenCVCamera", "OpenCVSource", "parse_target"]

_STREAM_PREFIXES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://", "rtmp://")


def parse_target(source: str | int) -> tuple[str | int, str]:
    """``source`` -> (what cv2.VideoCapture opens, kind) with kind device | file | stream.

    ``0`` / ``"0"`` and ``/dev/video0`` are devices, URLs are streams, anything else must be
    an existing file (CameraError otherwise).
    """
    if isinstance(source, int):
        return source, "device"
    s = str(source).strip()
    if s.isdigit():
        return int(s), "device"
    if s.startswith("/dev/"):
        return s, "device"
    if s.lower().startswith(_STREAM_PREFIXES):
        return s, "stream"
    p = Path(s).expanduser()
    if not p.is_file():
        raise CameraError(f"camera source {s!r} is not a device index, /dev/video path, stream URL or existing video file")
    return str(p), "file"


class OpenCVSource:
    """One ``cv2.VideoCapture`` session (a :class:`~teleforge.robots.cameras.capture.FrameSource`)."""

    def __init__(self, source: str | int, spec: CameraSpec, loop: bool = False) -> None:
        self.target, self.kind = parse_target(source)
        self.spec = spec
        self.loop = loop
        self.description = str(source)
        self._cap: cv2.VideoCapture | None = None
        self._period_ns = int(1e9 / spec.fps)
        self._next_ns = 0

    def open(self) -> None:
        """Open the capture and ask for the spec's size, rate and a one-frame buffer."""
        cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            cap.release()
            raise CameraError(f"OpenCV cannot open {self.description!r}")
        if self.kind in ("device", "stream"):
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        if self.kind == "device":
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.spec.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.spec.height)
            cap.set(cv2.CAP_PROP_FPS, self.spec.fps)
        if self.kind == "file":
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            self._period_ns = int(1e9 / (fps if 0 < fps < 1000 else self.spec.fps))
            self._next_ns = time.monotonic_ns()
        self._cap = cap

    def read(self) -> RawFrame | None:
        """The next frame as RGB; None at the end of a file (unless looping) or when the device fails."""
        cap = self._cap
        if cap is None:
            return None
        if self.kind == "file":
            self._pace()
        ok = cap.grab()  # the exposure is taken here; decode after, outside the timing
        if not ok and self.kind == "file" and self.loop:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok = cap.grab()
        if not ok:
            return None
        ok, bgr = cap.retrieve()
        if not ok or bgr is None:
            return None
        return RawFrame(image=cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self) -> None:
        """Release the capture."""
        if self._cap is not None:
            self._cap.release()
            self._cap = None

    def _pace(self) -> None:
        # A file decodes far faster than real time: release frames on the file's own grid.
        self._next_ns += self._period_ns
        delay = self._next_ns - time.monotonic_ns()
        if delay > 0:
            time.sleep(delay / 1e9)
        elif delay < -self._period_ns:  # fell behind (loaded machine): re-anchor, don't burst
            self._next_ns = time.monotonic_ns()


class OpenCVCamera(CaptureCamera):
    """An OpenCV device, file or stream as a latest-frame ``Camera``.

    Files play once and then the camera is gone (``loop=True`` replays them); devices and
    streams reconnect after ``stall_s`` without a frame.
    """

    def __init__(self, spec: CameraSpec, source: str | int, loop: bool = False, **kwargs: object) -> None:
        _target, kind = parse_target(source)  # fail before any thread starts
        kwargs.setdefault("reconnect", kind != "file")
        super().__init__(spec, lambda: OpenCVSource(source, spec, loop=loop), description=str(source), **kwargs)  # type: ignore[arg-type]
