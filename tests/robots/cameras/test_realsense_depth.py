"""RealSense depth recorded: a fake ``pyrealsense2`` (colour + Z16 depth with hardware timestamps)
feeds a collection episode through the real recorder; depth reads back exactly, on the colour
frame's session-clock time, and framesets that arrive without depth are recorded as missing."""

from __future__ import annotations

import sys
import time
import types

import numpy as np
import pytest

from teleforge.dataset import AsyncRecorder, CameraConfig, Dataset, open_or_create
from teleforge.dataset.info import summarize
from teleforge.robots.cameras import CameraSet
from teleforge.robots.cameras.realsense import RealSenseCamera
from teleforge.robots.types import CameraSpec
from teleforge.teleop.features import dataset_spec_for
from teleforge.teleop.session import CollectionSession, SessionConfig
from tests.robots.cameras.rs_frames import RsFrame, RsFrameset
from tests.session.fakes import PassGuard, PointRobot, ScriptDevice

H, W = 48, 64
DEVICE_AHEAD_MS = 5e6  # the camera's clock runs 5e6 ms ahead of the host's
DROP = range(12, 24)  # framesets 12..23 arrive without a depth frame (the depth sensor stalled)


def depth_of(k: int) -> np.ndarray:
    """Frame k's depth (mm): a ramp that uses all 16 bits, holes (0 = no reading), and k in pixel (0, 0)."""
    d = ((np.arange(H * W, dtype=np.uint32).reshape(H, W) * 37 + k * 1001) % 65536).astype(np.uint16)
    d[::7, ::5] = 0
    d[0, 0] = k
    return d


def fake_sdk(sent: dict[int, float]) -> types.ModuleType:
    """A pyrealsense2 at 60 fps whose frame k has depth ``depth_of(k)``; ``sent``: k -> device ms."""
    rs = types.ModuleType("pyrealsense2")
    rs.stream = types.SimpleNamespace(color="color", depth="depth")
    rs.format = types.SimpleNamespace(rgb8="rgb8", z16="z16")

    class config:
        def enable_device(self, serial): ...

        def enable_stream(self, stream, w, h, fmt, fps):
            assert (w, h) == (W, H)

    class _Sensor:
        def get_depth_scale(self):
            return 0.001  # 1 mm per unit (D4xx default)

    class _Profile:
        def get_device(self):
            return types.SimpleNamespace(first_depth_sensor=_Sensor)

    class pipeline:
        def start(self, cfg):
            self.k = 0
            return _Profile()

        def wait_for_frames(self, timeout_ms):
            time.sleep(1 / 60)
            k = self.k
            self.k += 1
            ts = time.monotonic_ns() / 1e6 + DEVICE_AHEAD_MS - 3.0  # exposure 3 ms before arrival
            sent[k] = ts
            color = np.full((H, W, 3), k % 256, np.uint8)
            return RsFrameset(RsFrame(color, ts), RsFrame(None if k in DROP else depth_of(k), ts))

        def stop(self): ...

    class align:
        def __init__(self, to): ...

        def process(self, frames):
            return frames

    rs.config, rs.pipeline, rs.align = config, pipeline, align
    return rs


@pytest.fixture
def sent(monkeypatch) -> dict[int, float]:
    record: dict[int, float] = {}
    monkeypatch.setitem(sys.modules, "pyrealsense2", fake_sdk(record))
    return record


def test_realsense_depth_is_recorded_exactly_with_missing_frames_marked(tmp_path, sent):
    spec = CameraSpec("wrist", H, W, fps=60.0, depth=True)
    cam = RealSenseCamera(spec, serial="123", stream_size=(W, H), stale_s=1.0)
    robot = PointRobot(goal=10.0, time_limit_s=1.2)  # never succeeds: ends on the time limit
    ds_spec = dataset_spec_for(robot, fps=50.0, cameras=[CameraConfig("wrist", H, W, encoding="png", depth=True)])
    ds = open_or_create(tmp_path / "ds", ds_spec)
    recorder = AsyncRecorder(ds)
    try:
        res = CollectionSession(robot, ScriptDevice([], autonomous=True, speed=0.0), PassGuard(), recorder,
                                CameraSet({"wrist": cam}), SessionConfig(episodes=1, hz=50.0, time_limit_s=1.2)).run()
    finally:
        recorder.close()
    result = res.episodes[0]
    back = Dataset.open(tmp_path / "ds")
    assert back.format_version == "1.3" and back.spec.camera("wrist").depth
    ep = back.episode(result.episode_id)
    t_ns, ticks = ep.column("observation.images.wrist.t_ns"), ep.column("tick_ns")
    with_depth = missing = 0
    for i in range(ep.num_steps):
        img = ep.image("wrist", i)
        depth = ep.depth("wrist", i)
        if img is None:
            assert depth is None  # no frame at all: no depth either
            continue
        k_colour = int(img[0, 0, 0])
        if depth is None:
            missing += 1
            assert k_colour in DROP  # only the framesets that lacked depth
            continue
        with_depth += 1
        k = int(depth[0, 0])
        assert k % 256 == k_colour  # the depth came with this colour frame
        assert depth.dtype == np.uint16 and np.array_equal(depth, depth_of(k))  # lossless, bit for bit
        # hardware time mapped onto the session clock: at or before the tick that carried it, not the device's
        assert ticks[i] - 10**9 < t_ns[i] <= ticks[i] + 10**9 // 50
    assert with_depth > 20 and missing >= 3
    assert ep.depth_missing("wrist") == [i for i in range(ep.num_steps) if ep.depth("wrist", i) is None]
    assert result.loop["missing_frames"]["wrist.depth"] == missing  # listed in the loop stats
    assert ep.meta is not None
    # distinct frames carry strictly increasing capture times
    seqs = ep.column("observation.images.wrist.seq")
    firsts = [t_ns[i] for i in range(ep.num_steps) if seqs[i] is not None and (i == 0 or seqs[i] != seqs[i - 1])]
    assert all(a < b for a, b in zip(firsts, firsts[1:]))
    assert any("depth" in c for c in summarize(back)["cameras"])


def test_depth_column_in_the_feature_table_and_old_specs_read_colour_only():
    from teleforge.dataset.schema import DatasetSpec, feature_schema

    spec = DatasetSpec(fps=10.0, robot_embodiment="x", n_joints=3,
                       cameras=[CameraConfig("front", 4, 6, depth=True), CameraConfig("wrist", 4, 6)])
    feats = feature_schema(spec)
    assert feats["observation.depth.front"] == {"dtype": "depth", "shape": [4, 6], "encoding": "png16", "unit": "mm",
                                                "meaning": "depth aligned to the colour frame, uint16 mm, 0 = no reading"}
    assert "observation.depth.wrist" not in feats
    d = spec.to_dict()
    assert "depth" not in d["cameras"][1]  # a colour-only camera is written as before 1.3
    old = {"fps": 10.0, "robot_embodiment": "x", "n_joints": 3, "cameras": [{"name": "front", "height": 4, "width": 6}]}
    assert DatasetSpec.from_dict(old).cameras[0].depth is False
