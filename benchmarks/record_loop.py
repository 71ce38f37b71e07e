"""Record-loop benchmark: the real collection session vs a naive inline loop.

Records one long episode at 50 Hz (and one at 20 Hz) with two 224×224 sim cameras at
30 fps through ``CollectionSession`` (cameras in threads, encode/write behind
queues), then runs a naive loop that renders and JPEG-encodes inline and writes
each step synchronously. Prints one JSON line. ``encodes_per_capture`` is the recorder's
JPEG encodes divided by the distinct camera frames (frame seq) the episode holds: 1.0 when
a frame repeated over several control steps is encoded once.

    python benchmarks/record_loop.py            # 60 s per rate (the acceptance run)
    python benchmarks/record_loop.py --seconds 10
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np

from teleforge.robots.types import CameraSpec
from teleforge.teleop.command import Command


class SweepDevice:
    """Autonomous device that sweeps the end effector in a slow figure-eight, forever."""

    autonomous = True
    name = "sweep"

    def __init__(self, hz: float) -> None:
        self.hz = hz
        self.k = 0

    def open(self) -> None: ...

    def close(self) -> None: ...

    def connected(self) -> bool:
        return True

    def on_reset(self, robot, info) -> None:
        self.k = 0

    def read(self) -> Command:
        t = self.k / self.hz
        self.k += 1
        v = 0.04 / self.hz  # ~4 cm/s peak
        a = np.array([v * np.cos(0.5 * t), v * np.sin(1.0 * t), 0.5 * v * np.sin(0.25 * t), 0, 0, 0,
                      0.5 + 0.5 * np.sin(0.3 * t)], dtype=np.float32)
        return Command(gripper=float(a[6]), t_ns=time.monotonic_ns(), native_action=a)


def run_session(root: Path, hz: float, seconds: float, specs: list[CameraSpec]) -> dict:
    from teleforge.dataset import AsyncRecorder, CameraConfig, DatasetSpec, open_or_create
    from teleforge.robots.sim_cameras import SimCameraRig
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.teleop.safety import SafetyConfig, SafetyGuard
    from teleforge.teleop.session import CollectionSession, SessionConfig

    robot = SimRobot(control_hz=hz)
    spec = DatasetSpec(fps=hz, robot_embodiment=robot.embodiment, n_joints=robot.n_joints,
                       cameras=[CameraConfig(name=s.name, height=s.height, width=s.width) for s in specs])
    ds = open_or_create(root, spec)
    rec = AsyncRecorder(ds)
    rig = SimCameraRig(robot, specs)
    session = CollectionSession(robot, SweepDevice(hz), SafetyGuard(SafetyConfig()), rec, rig,
                                SessionConfig(task="pick_cube", episodes=1, hz=hz, time_limit_s=seconds))
    res = session.run()
    st = rec.status()
    rec.close()
    ep = res.episodes[0]
    # Captures recorded: distinct camera frames (frame seq) the episode holds, per camera.
    from teleforge.dataset import Dataset
    from teleforge.dataset.schema import image_column

    shard = Dataset.open(root)
    e = shard.episode(shard.episode_ids[-1])
    captures = sum(len({v for v in e.column(image_column(s.name) + ".seq").tolist() if v is not None}) for s in specs)
    loop = ep.loop
    cam_period_ms = 1e3 / specs[0].fps
    return {
        "hz": hz,
        "seconds": seconds,
        "steps": ep.steps,
        "missed_deadlines": loop.get("missed_deadlines"),
        "period_p50_ms": round(loop.get("period_p50_ms", float("nan")), 3),
        "period_p99_ms": round(loop.get("period_p99_ms", float("nan")), 3),
        "period_err_p99_ms": round(loop.get("period_err_p99_ms", float("nan")), 3),
        "period_err_max_ms": round(loop.get("period_err_max_ms", float("nan")), 3),
        "control_work_p99_ms": round(loop.get("work_p99_ms", float("nan")), 3),
        "achieved_hz": round(loop.get("achieved_hz", float("nan")), 2),
        "frame_age_p99_ms": {k: round(v, 1) for k, v in loop.get("frame_age_p99_ms", {}).items()},
        "frame_age_p99_camera_periods": {k: round(v / cam_period_ms, 2) for k, v in loop.get("frame_age_p99_ms", {}).items()},
        "finalize_s": round(ep.finalize_s, 4),
        "recorder": loop.get("recorder", {}),
        "captures_recorded": captures,
        "frames_encoded": st.frames_encoded,
        "frames_reused": st.frames_reused,
        "encodes_per_capture": round(st.frames_encoded / max(captures, 1), 3),
    }


def run_naive(root: Path, hz: float, seconds: float, specs: list[CameraSpec]) -> dict:
    """Everything inline on one thread: physics, render both cameras, encode, write."""
    import cv2
    import mujoco
    import pyarrow as pa

    from teleforge.robots.sim_robot import SimRobot
    from teleforge.teleop.clock import RateClock

    robot = SimRobot(control_hz=hz)
    robot.connect()
    robot.reset("pick_cube", 0)
    renderer = mujoco.Renderer(robot.model, specs[0].height, specs[0].width)
    dev = SweepDevice(hz)
    clock = RateClock(hz)
    root.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("step", pa.int32()), ("action", pa.list_(pa.float32(), 7))]
                       + [(f"img.{s.name}", pa.binary()) for s in specs])
    sink = pa.OSFile(str(root / "naive.arrow"), "wb")
    writer = pa.ipc.new_stream(sink, schema)
    clock.start()
    n = int(seconds * hz)
    for i in range(n):
        tick, _ = clock.wait()
        a = dev.read().native_action
        robot.act(a)
        imgs = []
        for s in specs:
            renderer.update_scene(robot.data, camera=s.name)
            rgb = renderer.render()
            ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, 95])
            imgs.append(buf.tobytes())
        batch = pa.record_batch([pa.array([i], pa.int32()), pa.array([a.tolist()], pa.list_(pa.float32(), 7))]
                                + [pa.array([b], pa.binary()) for b in imgs], schema=schema)
        writer.write_batch(batch)
        sink.flush()
        clock.stats.add_work(time.monotonic_ns() - tick)
    writer.close()
    sink.close()
    robot.disconnect()
    s = clock.stats.summary()
    return {
        "hz": hz,
        "seconds": seconds,
        "steps": n,
        "missed_deadlines": s["missed_deadlines"],
        "period_p99_ms": round(s["period_p99_ms"], 3),
        "period_err_p99_ms": round(s["period_err_p99_ms"], 3),
        "control_work_p99_ms": round(s["work_p99_ms"], 3),
        "achieved_hz": round(s["achieved_hz"], 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--naive-seconds", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--camera-fps", type=float, default=30.0)
    ap.add_argument("--only-50hz", action="store_true", help="skip the 20 Hz run and the naive loop")
    args = ap.parse_args()
    specs = [CameraSpec("front", args.size, args.size, args.camera_fps), CameraSpec("wrist", args.size, args.size, args.camera_fps)]
    tmp = Path(tempfile.mkdtemp(prefix="tf-bench-"))
    try:
        ours50 = run_session(tmp / "s50", 50.0, args.seconds, specs)
        if args.only_50hz:
            print(json.dumps({"benchmark": "record_loop", "teleforge_50hz": ours50}))
            return
        ours20 = run_session(tmp / "s20", 20.0, args.seconds, specs)
        naive50 = run_naive(tmp / "n50", 50.0, args.naive_seconds, specs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    out = {
        "benchmark": "record_loop",
        "cameras": [f"{s.name}:{s.width}x{s.height}@{s.fps:g}" for s in specs],
        "teleforge_50hz": ours50,
        "teleforge_20hz": ours20,
        "naive_inline_50hz": naive50,
        "ratio_achieved_hz_teleforge_vs_naive_50hz": round(ours50["achieved_hz"] / max(naive50["achieved_hz"], 1e-9), 2),
        "ratio_period_err_p99_naive_vs_teleforge_50hz": round(naive50["period_err_p99_ms"] / max(ours50["period_err_p99_ms"], 1e-3), 1),
        # How much of each tick the control thread is busy: the headroom left for
        # more cameras, bigger images or a faster rate.
        "ratio_control_work_p99_naive_vs_teleforge_50hz": round(naive50["control_work_p99_ms"] / max(ours50["control_work_p99_ms"], 1e-3), 1),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
