"""Real-camera capture benchmark: two video-file cameras at 30 fps in the 50 Hz collection loop.

Writes two short mp4 clips (PyAV), plays each through an ``OpenCVCamera`` capture thread
(looping, paced at 30 fps like a device) and records one long episode with the sim arm
through ``CollectionSession`` + ``AsyncRecorder``. Prints one JSON line with missed
deadlines, period error and frame age p99 in camera periods (acceptance: 0 missed,
frame age p99 < 1.5 periods), plus the machine's load average (figures on a loaded
machine are noisy: repeat with --repeats).

    python benchmarks/cameras.py                       # 60 s, the acceptance run
    python benchmarks/cameras.py --seconds 10 --repeats 3
    python benchmarks/cameras.py --with-sim            # + two 224² sim cameras (4 cameras)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record_loop import SweepDevice  # noqa: E402

from teleforge.robots.types import CameraSpec  # noqa: E402


def write_clip(path: Path, seconds: float, fps: int, size: int, seed: int) -> Path:
    """A moving-gradient H.264 clip (so JPEG encode sees real texture, not a flat frame)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width = st.height = size
        st.pix_fmt = "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.roll(base, i * 3, axis=1)
            for p in st.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(p)
        for p in st.encode():
            out.mux(p)
    return path


def run(root: Path, clips: list[Path], hz: float, seconds: float, size: int, fps: float, with_sim: bool) -> dict:
    from teleforge.dataset import AsyncRecorder, CameraConfig, DatasetSpec, open_or_create
    from teleforge.robots.cameras import CameraSet
    from teleforge.robots.cameras.opencv import OpenCVCamera
    from teleforge.robots.sim_cameras import SimCameraRig
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.teleop.safety import SafetyConfig, SafetyGuard
    from teleforge.teleop.session import CollectionSession, SessionConfig

    robot = SimRobot(control_hz=hz)
    real = [CameraSpec(f"cam{i}", size, size, fps) for i in range(len(clips))]
    sim_specs = [CameraSpec("front", size, size, fps), CameraSpec("wrist", size, size, fps)] if with_sim else []
    specs = real + sim_specs
    spec = DatasetSpec(fps=hz, robot_embodiment=robot.embodiment, n_joints=robot.n_joints,
                       cameras=[CameraConfig(name=s.name, height=s.height, width=s.width) for s in specs])
    ds = open_or_create(root, spec)
    rec = AsyncRecorder(ds)
    sim_rig = SimCameraRig(robot, sim_specs) if sim_specs else None
    cams = {s.name: OpenCVCamera(s, str(c), loop=True) for s, c in zip(real, clips)}
    if sim_rig is not None:
        cams.update(sim_rig.cameras)
    rig = CameraSet(cams, sim_rig)
    session = CollectionSession(robot, SweepDevice(hz), SafetyGuard(SafetyConfig()), rec, rig,
                                SessionConfig(task="pick_cube", episodes=1, hz=hz, time_limit_s=seconds))
    load_before = os.getloadavg()[0]
    res = session.run()
    health = rig.health()
    rec.close()
    ep = res.episodes[0]
    loop = ep.loop
    period_ms = 1e3 / fps
    ages = loop.get("frame_age_p99_ms", {})
    return {
        "hz": hz, "seconds": seconds, "steps": ep.steps,
        "missed_deadlines": loop.get("missed_deadlines"),
        "period_err_p99_ms": round(loop.get("period_err_p99_ms", float("nan")), 3),
        "control_work_p99_ms": round(loop.get("work_p99_ms", float("nan")), 3),
        "frame_age_p99_ms": {k: round(v, 1) for k, v in ages.items()},
        "frame_age_p99_camera_periods": {k: round(v / period_ms, 2) for k, v in ages.items()},
        "missing_frames": loop.get("missing_frames", {}),
        "reconnects": {k: v["reconnects"] for k, v in health.items()},
        "loadavg_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hz", type=float, default=50.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--camera-fps", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--with-sim", action="store_true", help="add two sim cameras (front, wrist) to the two file cameras")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tf-bench-cams-"))
    try:
        clips = [write_clip(tmp / f"clip{i}.mp4", 4.0, int(args.camera_fps), args.size, i) for i in range(2)]
        runs = [run(tmp / f"ds{k}", clips, args.hz, args.seconds, args.size, args.camera_fps, args.with_sim)
                for k in range(args.repeats)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"benchmark": "cameras", "cameras": f"2 files {args.size}² @ {args.camera_fps:g} fps"
                      + (" + 2 sim" if args.with_sim else ""), "runs": runs, "cpu_count": os.cpu_count()}))


if __name__ == "__main__":
    main()
