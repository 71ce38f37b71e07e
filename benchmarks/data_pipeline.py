"""Training-data throughput: teleforge's native pipeline vs LeRobotDataset + torch DataLoader on the same episodes.

Both sides deliver every frame of both cameras as decoded uint8/float images plus state and
action, with 2 worker processes. teleforge reads the Arrow shards and decodes JPEG (resized to
the model's 96 px); LeRobot reads its v3 export (parquet + AV1/H.264 video) in the validator
venv. Prints one JSON line with frames/s of each and the ratio.

    python benchmarks/data_pipeline.py --data DATASET [--episodes 30] [--lerobot-venv /work/cache/venv-lerobot]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LEROBOT_SCRIPT = r"""
import sys, time, json, torch
from lerobot.datasets.lerobot_dataset import LeRobotDataset
root, workers = sys.argv[1], int(sys.argv[2])
ds = LeRobotDataset("teleforge/bench", root=root)
dl = torch.utils.data.DataLoader(ds, batch_size=32, num_workers=workers, shuffle=False)
t0 = time.perf_counter(); n = 0
for b in dl:
    n += b["action"].shape[0]
dt = time.perf_counter() - t0
print(json.dumps({"frames": n, "seconds": dt}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--episodes", type=int, default=30)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--lerobot-venv", default="/work/cache/venv-lerobot")
    args = ap.parse_args()
    from teleforge.dataset import Dataset
    from teleforge.train_adapter.data import load_episodes, select_episodes

    root = Path(args.data)
    ids = Dataset.open(root).episode_ids[: args.episodes]
    refs = [r for r in select_episodes(root, None) if r.episode_id in set(ids)]
    out: dict[str, object] = {"bench": "data_pipeline", "episodes": len(refs), "workers": args.workers}

    t0 = time.perf_counter()
    eps = load_episodes(root, refs, ("front", "wrist"), 96, workers=args.workers)
    dt = time.perf_counter() - t0
    n = sum(len(e.actions) for e in eps)
    out["teleforge_frames_per_s"] = round(n / dt, 1)
    out["frames"] = n

    py = Path(args.lerobot_venv) / "bin" / "python"
    if not py.is_file():
        out["lerobot"] = f"missing: no validator venv at {args.lerobot_venv} (see VERIFY.md)"
        print(json.dumps(out))
        return
    from teleforge.convert.lerobot import export_lerobot
    from teleforge.dataset.selection import select

    with tempfile.TemporaryDirectory() as tmp:
        lr = Path(tmp) / "lerobot"
        export_lerobot(select(root, ids, None), lr, repo_id="teleforge/bench")
        r = subprocess.run([str(py), "-c", LEROBOT_SCRIPT, str(lr), str(args.workers)], capture_output=True, text=True)
        if r.returncode != 0:
            out["lerobot"] = f"failed: {r.stderr.strip().splitlines()[-1] if r.stderr.strip() else r.returncode}"
            print(json.dumps(out))
            sys.exit(1)
        res = json.loads(r.stdout.strip().splitlines()[-1])
    out["lerobot_frames_per_s"] = round(res["frames"] / res["seconds"], 1)
    out["lerobot_frames"] = res["frames"]
    out["ratio"] = round(out["teleforge_frames_per_s"] / out["lerobot_frames_per_s"], 2)  # type: ignore[operator]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
