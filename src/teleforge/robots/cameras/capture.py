"""A capture thread around any frame source: the latest-frame ``Camera`` for real devices.

Threads and why:
- one **capture thread** per camera blocks in the source's ``read()`` (the driver's
  wait for the next exposure), stamps the frame with ``time.monotonic_ns()`` as soon
  as it returns (or maps the device's hardware timestamp onto that clock), converts
  it to the declared size and swaps it into the latest slot under a lock;
- one **watchdog thread** per camera wakes a few times a second: when no frame came
  for ``stall_s`` it abandons the capture thread (a driver read cannot be
  interrupted) and starts a new one that reopens the source with back-off.

The control loop only ever calls :meth:`CaptureCamera.latest`, which takes one lock
and never waits on the device. A frame older than ``stale_s`` is not returned: the
step is recorded without that image (a null cell, counted in the episode's
``missing_frames``) rather than with a picture of the past.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Protocol, runtime_checkable

import cv2
import numpy as np

from teleforge._threads import make_background_thread
from teleforge.errors import CameraError
from teleforge.robots.types import CameraSpec, Frame

__all__ = ["CaptureCamera", "CaptureStats", "FrameSource", "RawFrame"]


@dataclass
class RawFrame:
    """What a source read: an (H, W, 3) uint8 RGB image, optional (H, W) uint16 depth (mm, aligned
    to the image, 0 = no reading), and the device's own timestamp (ns on the device clock) when it has one."""

    image: np.ndarray
    device_t_ns: int | None = None
    depth: np.ndarray | None = None


@runtime_checkable
class FrameSource(Protocol):
    """One device session: opened, read frame by frame on the capture thread, closed.

    ``read`` blocks until the next frame and returns None when the device ended or
    failed (end of file, unplugged, stream dropped); the capture thread then reopens.
    """

    def open(self) -> None:
        """Claim the device; raise CameraError when it is not there (called on the capture thread)."""
        ...

    def read(self) -> RawFrame | None:
        """The next frame (blocks up to a frame period or the driver's timeout)."""
        ...

    def close(self) -> None:
        """Release the device (called on the capture thread that opened it)."""
        ...


@dataclass
class CaptureStats:
    """A camera's health since ``start``: frames, reconnects, stalls, and state."""

    frames: int = 0
    reconnects: int = 0  # times the source was reopened after a stall or an end
    stalls: int = 0  # times the watchdog found no frame for stall_s
    read_errors: int = 0
    state: str = "stopped"  # stopped | starting | live | reconnecting
    last_error: str = ""


class CaptureCamera:
    """A real camera (``Camera`` protocol) fed by a :class:`FrameSource` on its own thread.

    ``source`` makes a new, unopened source per capture thread (``description`` names the
    device in errors).
    ``stale_s`` (default 3 camera periods, at least 0.1 s): ``latest()`` returns None
    once the newest frame is older. ``stall_s`` (default max(1 s, 10 periods)): the
    watchdog reopens the source after this long without a frame. ``reconnect``: False
    leaves a camera that ended or disappeared gone (files played once).
    """

    def __init__(
        self,
        spec: CameraSpec,
        source: Callable[[], FrameSource],
        stale_s: float | None = None,
        stall_s: float | None = None,
        reconnect: bool = True,
        open_timeout_s: float = 10.0,
        description: str = "",
    ) -> None:
        if spec.fps <= 0 or spec.height <= 0 or spec.width <= 0:
            raise CameraError(f"camera '{spec.name}' needs positive fps and image size, got {spec}")
        self.spec = spec
        # A factory: each capture thread opens its own session, so a thread abandoned in a
        # blocked read never shares a handle with the one that replaced it.
        self.source = source
        self.description = description or spec.name
        period = 1.0 / spec.fps
        self.stale_ns = int((stale_s if stale_s is not None else max(0.1, 3 * period)) * 1e9)
        self.stall_ns = int((stall_s if stall_s is not None else max(1.0, 10 * period)) * 1e9)
        self.reconnect = reconnect
        self.open_timeout_s = open_timeout_s
        self.stats = CaptureStats()
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._depth: np.ndarray | None = None
        self._seq = 0
        self._gen = 0  # capture-thread generation: frames from an abandoned thread are dropped
        self._last_ns = 0  # monotonic ns of the newest frame (watchdog)
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._open_error: BaseException | None = None
        self._threads: list[threading.Thread] = []
        # Hardware timestamps: offset (session - device clock) as the lower envelope of
        # arrival - device time, i.e. the frame that reached us with the least delay.
        self._hw_offset: int | None = None
        self._hw_last = 0

    # --- Camera protocol --------------------------------------------------------------
    def start(self) -> None:
        """Open the source on a capture thread and wait for it (CameraError when it cannot)."""
        if self.stats.state not in ("stopped",):
            return
        self._stop.clear()
        self._opened.clear()
        self._open_error = None
        self.stats.state = "starting"
        self._spawn(first=True)
        if not self._opened.wait(self.open_timeout_s):
            self.stop()
            raise CameraError(f"camera '{self.spec.name}' ({self.description}) did not open within "
                              f"{self.open_timeout_s:.0f} s: check the cable, the path or the stream URL")
        if self._open_error is not None:
            err = self._open_error
            self.stop()
            raise CameraError(f"camera '{self.spec.name}' ({self.description}) failed to open: {err}") from err
        self._last_ns = time.monotonic_ns()
        dog = threading.Thread(target=self._watchdog, name=f"cam-watchdog-{self.spec.name}", daemon=True)
        dog.start()
        self._threads.append(dog)

    def latest(self) -> Frame | None:
        """Newest frame younger than ``stale_s``; never blocks on the device."""
        with self._lock:
            f = self._frame
        if f is None or time.monotonic_ns() - f.t_ns > self.stale_ns:
            return None
        return f

    def latest_depth(self) -> np.ndarray | None:
        """Depth (H, W) uint16 mm that came with the newest frame (RGB-D sources), else None."""
        with self._lock:
            return self._depth

    def stop(self) -> None:
        """Stop capturing; threads blocked in a driver read are left to end on their own."""
        self._stop.set()
        with self._lock:
            self._gen += 1
        for t in self._threads:
            t.join(timeout=2.0)
        self._threads = []
        self.stats.state = "stopped"

    # --- threads ------------------------------------------------------------------------
    def _spawn(self, first: bool = False) -> None:
        with self._lock:
            self._gen += 1
            gen = self._gen
        t = threading.Thread(target=self._capture, args=(gen, first), name=f"cam-{self.spec.name}-{gen}", daemon=True)
        t.start()
        self._threads = [x for x in self._threads if x.is_alive()] + [t]

    def _current(self, gen: int) -> bool:
        return not self._stop.is_set() and gen == self._gen

    def _capture(self, gen: int, first: bool) -> None:
        # Not niced like the encoders: this thread does little work, and a late wake-up here
        # is a late timestamp (frame age), so it keeps the default priority.
        backoff = 0.05
        opened_once = False
        while self._current(gen):
            try:
                src = self.source()
                src.open()
            except BaseException as exc:
                self.stats.last_error = str(exc)
                if first and not opened_once:
                    self._open_error = exc
                    self._opened.set()
                    return
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if opened_once or not first:
                self.stats.reconnects += 1
            opened_once = True
            self._opened.set()
            self.stats.state = "live"
            backoff = 0.05
            try:
                self._read_until_end(gen, src)
            finally:
                try:
                    src.close()
                except Exception as exc:  # a device that vanished may fail to close; keep going
                    self.stats.last_error = str(exc)
            if not self.reconnect:
                break
            if self._current(gen):
                self.stats.state = "reconnecting"
                self._stop.wait(backoff)

    def _read_until_end(self, gen: int, src: FrameSource) -> None:
        while self._current(gen):
            try:
                raw = src.read()
            except Exception as exc:
                self.stats.read_errors += 1
                self.stats.last_error = str(exc)
                return
            arrival = time.monotonic_ns()
            if raw is None:
                return
            t_ns = self._stamp(arrival, raw.device_t_ns)
            image = self._fit(raw.image)
            depth = raw.depth
            if depth is not None and depth.shape[:2] != image.shape[:2]:
                # Nearest neighbour: averaging depths across an edge invents surfaces that are not there.
                depth = cv2.resize(depth, (self.spec.width, self.spec.height), interpolation=cv2.INTER_NEAREST)
            if depth is not None:
                depth = np.ascontiguousarray(depth, dtype=np.uint16)
            with self._lock:
                if gen != self._gen:  # abandoned by the watchdog while blocked in read()
                    return
                # A depth camera whose frameset lacked depth delivers the colour alone: the step records
                # a null depth (missing), never the previous frame's depth.
                self._frame = Frame(image=image, t_ns=t_ns, seq=self._seq, depth=depth if self.spec.depth else None)
                self._depth = depth
                self._seq += 1
                self._last_ns = arrival
            self.stats.frames += 1

    def _stamp(self, arrival_ns: int, device_t_ns: int | None) -> int:
        if device_t_ns is None:
            return arrival_ns
        off = arrival_ns - device_t_ns
        if self._hw_offset is None or off < self._hw_offset:
            self._hw_offset = off
        else:
            # Let the estimate creep up (1 ms/s, 1000 ppm) so a device clock that runs slow
            # against the host's does not drag every stamp into the past.
            self._hw_offset = min(off, self._hw_offset + (device_t_ns - self._hw_last) // 1000)
        self._hw_last = device_t_ns
        return min(arrival_ns, device_t_ns + self._hw_offset)

    def _fit(self, image: np.ndarray) -> np.ndarray:
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.shape[0] != self.spec.height or image.shape[1] != self.spec.width:
            image = cv2.resize(image, (self.spec.width, self.spec.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image, dtype=np.uint8)

    def _watchdog(self) -> None:
        make_background_thread()
        tick = min(0.1, self.stall_ns / 4e9)
        while not self._stop.wait(tick):
            if self.stats.state != "live" or not self.reconnect:
                continue
            if time.monotonic_ns() - self._last_ns > self.stall_ns:
                self.stats.stalls += 1
                self.stats.state = "reconnecting"
                self._last_ns = time.monotonic_ns()  # give the new thread a full stall window
                self._spawn()
