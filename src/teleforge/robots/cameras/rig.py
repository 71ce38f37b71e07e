"""A camera rig that mixes sim renderers and real cameras (``teleop.ports.CameraRig``),
and the ``NAME=SOURCE`` grammar of ``teleforge collect --camera``.

Sources: ``sim`` (the scene camera NAME, rendered from the robot's state), a device
index or ``/dev/videoN``, a video file, a stream URL (rtsp/http), or ``realsense`` /
``realsense:SERIAL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.errors import CameraError
from teleforge.robots.types import Camera, CameraSpec

__all__ = ["CameraSet", "CameraSource", "open_camera", "parse_camera_arg"]


@dataclass(frozen=True)
class CameraSource:
    """One ``--camera NAME=SOURCE``: the recorded name and where its frames come from."""

    name: str
    source: str  # "sim" | device index | /dev/videoN | file | URL | realsense[:SERIAL]

    @property
    def is_sim(self) -> bool:
        """Rendered by the sim rather than captured."""
        return self.source == "sim"


def parse_camera_arg(text: str) -> CameraSource:
    """``"front=/dev/video0"`` -> CameraSource; a bare ``"front"`` is the sim camera ``front``."""
    name, sep, source = text.partition("=")
    name, source = name.strip(), source.strip()
    if not name or not name.replace("_", "").replace("-", "").isalnum():
        raise CameraError(f"camera {text!r}: give NAME=SOURCE with a plain name, e.g. front=/dev/video0 or wrist=clip.mp4")
    if sep and not source:
        raise CameraError(f"camera {text!r} has no source after '=': e.g. {name}=0, {name}=clip.mp4 or {name}=sim")
    return CameraSource(name=name, source=source or "sim")


def open_camera(src: CameraSource, spec: CameraSpec, loop_files: bool = True, **kwargs: Any) -> Camera:
    """The real camera for ``src`` at ``spec`` (not started). ``loop_files``: replay files."""
    if src.is_sim:
        raise CameraError(f"camera '{src.name}' is a sim camera: build it with SimCameraRig")
    if src.source == "realsense" or src.source.startswith("realsense:"):
        from teleforge.robots.cameras.realsense import RealSenseCamera

        serial = src.source.partition(":")[2] or None
        return RealSenseCamera(spec, serial=serial, **kwargs)
    from teleforge.robots.cameras.opencv import OpenCVCamera

    return OpenCVCamera(spec, src.source, loop=loop_files, **kwargs)


class CameraSet:
    """Cameras in display order; the sim ones are rendered by ``sim_rig`` from published state."""

    def __init__(self, cameras: Mapping[str, Camera], sim_rig: Any | None = None) -> None:
        self._cameras = dict(cameras)
        self.sim_rig = sim_rig

    @property
    def cameras(self) -> Mapping[str, Camera]:
        """Camera name -> camera."""
        return self._cameras

    def publish(self, qpos: np.ndarray, t_ns: int) -> None:
        """Forward the world state to the sim renderers; real cameras ignore it."""
        if self.sim_rig is not None:
            self.sim_rig.publish(qpos, t_ns)

    def start(self) -> None:
        """Start the sim renderers and every real camera (stops what started if one fails)."""
        started: list[Any] = []
        try:
            if self.sim_rig is not None:
                self.sim_rig.start()
                started.append(self.sim_rig)
            sim_names = set(getattr(self.sim_rig, "cameras", {}) or {})
            for name, cam in self._cameras.items():
                if name not in sim_names:
                    cam.start()
                    started.append(cam)
        except BaseException:
            for part in reversed(started):
                part.stop()
            raise

    def stop(self) -> None:
        """Stop every camera."""
        sim_names = set(getattr(self.sim_rig, "cameras", {}) or {})
        for name, cam in self._cameras.items():
            if name not in sim_names:
                cam.stop()
        if self.sim_rig is not None:
            self.sim_rig.stop()

    def health(self) -> dict[str, dict[str, Any]]:
        """Per real camera: frames, reconnects, stalls, state (``CaptureStats``)."""
        out: dict[str, dict[str, Any]] = {}
        for name, cam in self._cameras.items():
            stats = getattr(cam, "stats", None)
            if stats is not None:
                out[name] = dict(vars(stats))
        return out
