"""Simulated cameras: one renderer thread per camera, fed with state snapshots.

The control thread calls ``SimCameraRig.publish(snapshot, t_ns)`` after each step;
that only swaps a reference under a lock, so the loop never waits on rendering.
Each camera thread owns its own ``MjModel``/``MjData`` copy and ``mujoco.Renderer``
(GL contexts belong to the thread that made them), wakes on absolute deadlines at
its own fps and renders the newest snapshot it has not drawn yet. A frame's
``t_ns`` is the snapshot's ``t_ns``: the moment the depicted state existed. A camera whose
spec declares ``depth`` also renders the same snapshot's depth (uint16 mm) into ``Frame.depth``.
"""

from __future__ import annotations

import os

os.environ.setdefault("MUJOCO_GL", "egl")  # must precede `import mujoco`

import threading  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import mujoco  # noqa: E402
import numpy as np  # noqa: E402

from teleforge._threads import make_background_thread  # noqa: E402
from teleforge.errors import CameraError  # noqa: E402
from teleforge.robots.scene import apply_snapshot, build_scene_xml, cube_geom_ids  # noqa: E402
from teleforge.robots.types import CameraSpec, Frame  # noqa: E402


class SnapshotRenderer:
    """Renders snapshots of one scene XML; create and use it on a single thread."""

    def __init__(self, xml: str, height: int = 224, width: int = 224) -> None:
        self.model = mujoco.MjModel.from_xml_string(xml)
        # The offscreen buffer must hold the largest image asked for.
        self.model.vis.global_.offwidth = max(int(self.model.vis.global_.offwidth), width)
        self.model.vis.global_.offheight = max(int(self.model.vis.global_.offheight), height)
        self.data = mujoco.MjData(self.model)
        self._cubes = cube_geom_ids(self.model)
        self.cameras = tuple(self.model.camera(i).name for i in range(self.model.ncam))
        try:
            self.renderer = mujoco.Renderer(self.model, height, width)
        except Exception as exc:  # no EGL/OSMesa, or a broken driver
            raise CameraError(
                f"cannot create a MuJoCo offscreen renderer ({exc}); set MUJOCO_GL=egl (GPU/EGL) or MUJOCO_GL=osmesa"
            ) from exc

    def render(self, snapshot: np.ndarray, camera: str) -> np.ndarray:
        """Render ``snapshot`` from scene camera ``camera``: (H, W, 3) uint8 RGB."""
        if camera not in self.cameras:
            raise CameraError(f"camera '{camera}' is not in the scene: choose one of {', '.join(self.cameras)}")
        apply_snapshot(self.model, self.data, snapshot, self._cubes)
        self.renderer.update_scene(self.data, camera=camera)
        return self.renderer.render()

    def render_depth(self, snapshot: np.ndarray, camera: str) -> np.ndarray:
        """Depth of ``snapshot`` from scene camera ``camera``: (H, W) uint16 millimetres along the
        camera axis, 0 where nothing is within the far clip plane (as a depth sensor reports no return)."""
        if camera not in self.cameras:
            raise CameraError(f"camera '{camera}' is not in the scene: choose one of {', '.join(self.cameras)}")
        apply_snapshot(self.model, self.data, snapshot, self._cubes)
        self.renderer.update_scene(self.data, camera=camera)
        self.renderer.enable_depth_rendering()
        try:
            metres = self.renderer.render()  # float32 (H, W), metres
        finally:
            self.renderer.disable_depth_rendering()
        far = float(self.model.vis.map.zfar * self.model.stat.extent)
        mm = np.rint(metres * 1000.0)
        mm[(metres >= far * 0.999) | (mm > 65535) | ~np.isfinite(metres)] = 0
        return mm.astype(np.uint16)

    def close(self) -> None:
        """Free the GL context."""
        self.renderer.close()


class SimCamera:
    """One simulated camera (``Camera`` protocol) running in its own thread."""

    def __init__(self, rig: "SimCameraRig", spec: CameraSpec) -> None:
        self.spec = spec
        self._rig = rig
        self._lock = threading.Lock()
        self._frame: Frame | None = None
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self.render_ms: list[float] = []  # per rendered frame, for benchmarks and the HUD
        self.missed_deadlines = 0

    def start(self) -> None:
        """Start the render thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name=f"simcam-{self.spec.name}", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout=30.0):
            raise CameraError(f"camera '{self.spec.name}' renderer did not start within 30 s")
        if self._error is not None:
            raise CameraError(f"camera '{self.spec.name}' failed to start: {self._error}") from self._error

    def latest(self) -> Frame | None:
        """Newest frame, never blocks; None before the first one."""
        with self._lock:
            return self._frame

    def stop(self) -> None:
        """Stop the render thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def _run(self) -> None:
        try:
            make_background_thread()
            renderer = SnapshotRenderer(self._rig.xml, self.spec.height, self.spec.width)
        except BaseException as exc:
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        period = int(1e9 / self.spec.fps)
        deadline = time.monotonic_ns()
        seen = -1
        seq = 0
        try:
            while not self._stop.is_set():
                version, snap, t_ns = self._rig._latest()
                if snap is not None and version != seen:
                    seen = version
                    t0 = time.perf_counter()
                    image = renderer.render(snap, self.spec.name)
                    depth = renderer.render_depth(snap, self.spec.name) if self.spec.depth else None
                    self.render_ms.append((time.perf_counter() - t0) * 1e3)
                    if len(self.render_ms) > 10_000:
                        del self.render_ms[:5_000]
                    with self._lock:
                        self._frame = Frame(image=image, t_ns=t_ns, seq=seq, depth=depth)
                    seq += 1
                deadline += period
                now = time.monotonic_ns()
                if deadline < now:  # fell behind: skip the missed ticks instead of bursting
                    self.missed_deadlines += (now - deadline) // period + 1
                    deadline += ((now - deadline) // period + 1) * period
                self._stop.wait((deadline - time.monotonic_ns()) / 1e9)
        finally:
            renderer.close()


class SimCameraRig:
    """The sim's cameras, fed by the control thread through ``publish``.

    ``source`` is a ``SimRobot`` (its scene XML is used) or an MJCF string.
    """

    def __init__(self, source: Any, specs: list[CameraSpec]) -> None:
        self.xml: str = source if isinstance(source, str) else source.xml
        model = mujoco.MjModel.from_xml_string(self.xml)
        names = {model.camera(i).name for i in range(model.ncam)}
        for s in specs:
            if s.name not in names:
                raise CameraError(f"camera '{s.name}' is not in the scene: choose from {', '.join(sorted(names))}")
            if s.fps <= 0 or s.height <= 0 or s.width <= 0:
                raise CameraError(f"camera '{s.name}' needs positive fps and image size, got {s}")
        self.cameras: dict[str, SimCamera] = {s.name: SimCamera(self, s) for s in specs}
        self._lock = threading.Lock()
        self._snap: np.ndarray | None = None
        self._t_ns = 0
        self._version = 0
        self._n_cubes = len(cube_geom_ids(model))

    def publish(self, snapshot: np.ndarray, t_ns: int) -> None:
        """Hand the renderers the newest state; never blocks (replaces the latest slot)."""
        if snapshot is None or len(snapshot) == 0:
            return
        with self._lock:
            self._snap = snapshot
            self._t_ns = int(t_ns)
            self._version += 1

    def _latest(self) -> tuple[int, np.ndarray | None, int]:
        with self._lock:
            return self._version, self._snap, self._t_ns

    def start(self) -> None:
        """Start every camera's render thread."""
        started = []
        try:
            for cam in self.cameras.values():
                cam.start()
                started.append(cam)
        except BaseException:
            for cam in started:
                cam.stop()
            raise

    def stop(self) -> None:
        """Stop every camera's render thread."""
        for cam in self.cameras.values():
            cam.stop()

    def __enter__(self) -> "SimCameraRig":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


_local = threading.local()


def render(source: Any, camera: str = "front", height: int = 224, width: int = 224, xml: str | None = None) -> np.ndarray:
    """Render one image synchronously (replay videos, debugging).

    ``source`` is a ``SimRobot`` (its current state) or a snapshot array from
    ``state_snapshot()``; a bare snapshot is drawn in ``xml`` (default: the
    default workcell). Renderers are cached per thread, XML and size.
    """
    if isinstance(source, np.ndarray):
        snap, scene_xml = source, xml or build_scene_xml()
    else:
        snap, scene_xml = source.state_snapshot(), source.xml
    cache: dict = getattr(_local, "renderers", None) or {}
    _local.renderers = cache
    key = (hash(scene_xml), height, width)
    if key not in cache:
        cache[key] = SnapshotRenderer(scene_xml, height, width)
    return cache[key].render(np.asarray(snap, dtype=np.float64), camera)
