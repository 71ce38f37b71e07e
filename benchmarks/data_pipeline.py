"""Training-data throughput: teleforge's loader vs LeRobotDataset + torch DataLoader, same tensors out.

What each side delivers, for every step of the selected episodes: both cameras as float32
(3, 96, 96) tensors in [0, 1] (the bundled VLA's input), plus state and action.

* teleforge (timed): ``load_episodes`` (Arrow shards, JPEG decoded DCT-scaled to >= 96 px,
  INTER_AREA resize to 96, ``--workers`` threads) and the conversion of every frame to the
  float32 CHW tensor. Warmed outside the clock: imports and one single-episode load.
* LeRobot 0.4.4 (the peer, in its venv ``--lerobot-python``): ``LeRobotDataset`` over
  teleforge's LeRobot v3 export of the same episodes (made outside the clock), with
  ``image_transforms=Resize((96, 96), antialias=True)``, iterated by a torch ``DataLoader``
  (batch 32, ``num_workers=--workers``). Imports and dataset construction are outside the
  clock; the DataLoader's worker start-up and decoder opening are inside, as every epoch
  pays them (a decoder opened in the parent breaks in forked workers).

Figures: frames (steps) per second at each ``--episodes`` count, 1 worker vs 1 and N vs N,
min / median over ``--repeats``; one JSON line.

    python benchmarks/data_pipeline.py                       # synthetic 224 px JPEG episodes, 25 and 100
    python benchmarks/data_pipeline.py --data DATASET --episodes 25,100
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

LEROBOT_SCRIPT = r"""
import sys, time, json, torch
from torchvision.transforms import v2
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, workers, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ds = LeRobotDataset("teleforge/bench", root=root, image_transforms=v2.Resize((96, 96), antialias=True), video_backend=sys.argv[4])
# No ds[0] warm-up here: a decoder opened in the parent breaks in forked DataLoader workers.
rates = []
for _ in range(repeats):
    dl = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=workers, shuffle=False)
    t0 = time.perf_counter(); n = 0
    for b in dl:
        n += b["action"].shape[0]
        img = b["observation.images.front"]
    rates.append(n / (time.perf_counter() - t0))
print(json.dumps({"frames": n, "rates": rates, "image_shape": list(img.shape[1:]), "dtype": str(img.dtype)}))
"""


def _stats(v: list[float]) -> dict:
    v = sorted(v)
    return {"min": round(v[0], 1), "median": round(float(np.median(v)), 1), "max": round(v[-1], 1), "n": len(v)}


def teleforge_rates(root: Path, refs: list, workers: int, repeats: int) -> tuple[list[float], tuple]:
    import torch

    from teleforge.train_adapter.data import load_episodes

    rates = []
    shape: tuple = ()
    for _ in range(repeats):
        t0 = time.perf_counter()
        eps = load_episodes(root, refs, ("front", "wrist"), 96, workers=workers)
        imgs = np.concatenate([e.images for e in eps])  # (N, cams, 96, 96, 3) uint8
        x = torch.from_numpy(imgs).permute(0, 1, 4, 2, 3).float().div_(255.0)  # (N, cams, 3, 96, 96) float32
        state = torch.from_numpy(np.concatenate([e.state for e in eps]))
        action = torch.from_numpy(np.concatenate([e.actions for e in eps]))
        rates.append(len(action) / (time.perf_counter() - t0))
        shape = (tuple(x.shape[2:]), str(x.dtype), tuple(state.shape[1:]), tuple(action.shape[1:]))
    return rates, shape


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=None, help="A native dataset (default: synthetic, 2 x 224 px JPEG cameras).")
    ap.add_argument("--episodes", default="25,100")
    ap.add_argument("--steps", type=int, default=50, help="Steps per synthetic episode.")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--video-backend", default="torchcodec", help="LeRobotDataset video_backend (pyav or torchcodec).")
    ap.add_argument("--lerobot-python", default=str(Path.home() / ".cache/teleforge-ci/venv-lerobot/bin/python"))
    args = ap.parse_args()
    from teleforge.convert.lerobot import export_lerobot
    from teleforge.dataset.selection import select
    from teleforge.train_adapter.data import load_episodes, select_episodes

    counts = [int(x) for x in args.episodes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="tf_loader_bench_"))
    try:
        if args.data is None:
            from export import build_source

            root = build_source(tmp / "src", max(counts), args.steps)
        else:
            root = args.data
        all_refs = select_episodes(root, None)
        load_episodes(root, all_refs[:1], ("front", "wrist"), 96, workers=1)  # warm-up, untimed
        py = Path(args.lerobot_python)
        env = {**os.environ, "PYTHONPATH": ""}
        runs = []
        for n in counts:
            refs = all_refs[:n]
            row: dict = {"episodes": len(refs), "frames": sum(r.stop - r.start for r in refs)}
            lr = tmp / f"lerobot_{n}"
            if py.is_file():
                export_lerobot(select(root, [r.episode_id for r in refs]), lr, repo_id="teleforge/bench")
            for w in sorted({1, args.workers}):
                ours, shape = teleforge_rates(root, refs, w, args.repeats)
                row[f"teleforge_{w}w_frames_per_s"] = _stats(ours)
                row["teleforge_delivers"] = shape
                if py.is_file():
                    r = subprocess.run([str(py), "-c", LEROBOT_SCRIPT, str(lr), str(w), str(args.repeats), args.video_backend],
                                       capture_output=True, text=True, env=env)
                    if r.returncode != 0:
                        raise SystemExit(f"the LeRobot peer failed: {r.stderr.strip()[-2000:]}")
                    res = json.loads(r.stdout.strip().splitlines()[-1])
                    row[f"lerobot_{w}w_frames_per_s"] = _stats(res["rates"])
                    row["lerobot_delivers"] = (res["image_shape"], res["dtype"])
                    row[f"ratio_{w}v{w}_median"] = round(row[f"teleforge_{w}w_frames_per_s"]["median"]
                                                         / row[f"lerobot_{w}w_frames_per_s"]["median"], 2)
                else:
                    row["lerobot"] = f"not measured: no LeRobot venv at {py}"
            shutil.rmtree(lr, ignore_errors=True)
            runs.append(row)
        print(json.dumps({"benchmark": "data_pipeline", "workers": args.workers, "repeats": args.repeats,
                          "source": str(args.data) if args.data else f"synthetic {args.steps}-step episodes, 2x224 jpeg",
                          "runs": runs, "python": sys.version.split()[0]}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
