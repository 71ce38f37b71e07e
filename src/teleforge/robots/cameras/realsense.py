"""Intel RealSense RGB-D cameras through ``pyrealsense2`` (optional extra ``teleforge[realsense]``).

Colour (RGB8) and depth (Z16, aligned to colour, converted to millimetres) are read from
one pipeline on the capture thread. Frames carry the camera's own timestamp (ms, in its
hardware or global-time domain); :class:`CaptureCamera` maps it onto the session clock
through the lowest observed arrival delay, so ``Frame.t_ns`` is the exposure time,
not when the USB transfer finished. RealSense sensors stream fixed modes
(640x480, 848x480, 1280x720 at 6/15/30/60 fps): ``stream_size`` picks one and frames
are resized to the spec's size.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

from teleforge.errors import CameraError
from teleforge.robots.cameras.capture import CaptureCamera, RawFrame
from teleforge.robots.types import CameraSpec

__all__ = ["RealSenseCamera", "RealSenseSource", "import_sdk"]


def import_sdk() -> Any:
    """``pyrealsense2``, or a CameraError saying how to install it."""
    try:
        return importlib.import_module("pyrealsense2")
    except ImportError as exc:
        raise CameraError("RealSense cameras need the SDK: pip install 'teleforge[realsense]' (pyrealsense2)") from exc


class RealSenseSource:
    """One RealSense pipeline session (a :class:`~teleforge.robots.cameras.capture.FrameSource`)."""

    def __init__(self, spec: CameraSpec, serial: str | None = None, depth: bool = True,
                 stream_size: tuple[int, int] = (640, 480), timeout_ms: int = 1000) -> None:
        self.spec = spec
        self.serial = serial
        self.depth = depth
        self.stream_size = stream_size
        self.timeout_ms = timeout_ms
        self.description = f"realsense {serial}" if serial else "realsense (first found)"
        self._pipe: Any = None
        self._align: Any = None
        self._depth_mm = 1.0  # mm per depth unit
        self._rs: Any = None

    def open(self) -> None:
        """Start the pipeline with colour (and aligned depth) at the spec's rate."""
        rs = import_sdk()
        self._rs = rs
        w, h = self.stream_size
        fps = int(round(self.spec.fps))
        cfg = rs.config()
        if self.serial:
            cfg.enable_device(self.serial)
        cfg.enable_stream(rs.stream.color, w, h, rs.format.rgb8, fps)
        if self.depth:
            cfg.enable_stream(rs.stream.depth, w, h, rs.format.z16, fps)
        pipe = rs.pipeline()
        try:
            profile = pipe.start(cfg)
        except RuntimeError as exc:
            raise CameraError(f"RealSense {self.serial or ''} did not start at {w}x{h}@{fps}: {exc}") from exc
        if self.depth:
            scale_m = float(profile.get_device().first_depth_sensor().get_depth_scale())
            self._depth_mm = scale_m * 1000.0
            self._align = rs.align(rs.stream.color)
        self._pipe = pipe

    def read(self) -> RawFrame | None:
        """Wait for the next frameset; None when the camera stopped answering (unplugged)."""
        if self._pipe is None:
            return None
        try:
            frames = self._pipe.wait_for_frames(self.timeout_ms)
        except RuntimeError:  # "Frame didn't arrive within N": unplugged or stalled
            return None
        if self._align is not None:
            frames = self._align.process(frames)
        color = frames.get_color_frame()
        if not color:
            return None
        image = np.asanyarray(color.get_data()).copy()
        t_ns = int(float(color.get_timestamp()) * 1e6)
        depth = None
        if self.depth:
            d = frames.get_depth_frame()
            if d:
                raw = np.asanyarray(d.get_data())
                depth = np.clip(raw.astype(np.float32) * self._depth_mm, 0, 65535).astype(np.uint16)
        return RawFrame(image=image, device_t_ns=t_ns, depth=depth)

    def close(self) -> None:
        """Stop the pipeline."""
        if self._pipe is not None:
            try:
                self._pipe.stop()
            finally:
                self._pipe = None


class RealSenseCamera(CaptureCamera):
    """A RealSense colour (+ depth) camera as a latest-frame ``Camera``; depth via ``latest_depth()``."""

    def __init__(self, spec: CameraSpec, serial: str | None = None, depth: bool = True,
                 stream_size: tuple[int, int] = (640, 480), **kwargs: Any) -> None:
        import_sdk()  # fail before any thread starts
        super().__init__(spec, lambda: RealSenseSource(spec, serial, depth, stream_size),
                         description=f"realsense {serial or '(first found)'}", **kwargs)
