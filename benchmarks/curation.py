"""Curation speed: prints one JSON line.

- metrics_steps_per_s_per_core: motion/loop metrics (no image decode), one process, shards read from disk
- pandas_steps_per_s: a straightforward pandas implementation of the same metrics, same run; ratio
- image_health_frames_per_s: thumbnail decode + health metrics on 224x224 JPEG frames
- dedupe_100k_s: exact + LSH near-duplicate search over 100,000 synthetic signatures

    /work/venv/bin/python benchmarks/curation.py [--episodes 40 --steps 500]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.curation.synth

from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402

from teleforge.curation.dedupe import DedupeConfig, find_duplicates  # noqa: E402
from teleforge.curation.image_health import image_health  # noqa: E402
from teleforge.curation.metrics import MetricsConfig, motion_metrics  # noqa: E402
from teleforge.dataset import Dataset  # noqa: E402
from teleforge.dataset.shard import open_shard  # noqa: E402


def pandas_metrics(path: Path, fps: float, cfg: MetricsConfig) -> dict:
    """The same metrics the way a notebook would write them: to_pandas, list columns, Series ops."""
    import pandas as pd

    table, _, _ = open_shard(path)
    df = table.select(["tick_ns", "action", "observation.state.ee_pos", "observation.state.joint_pos",
                       "observation.state.joint_vel", "observation.state.ee_quat", "target.ee_pos",
                       "target.joint_pos", "observation.state.gripper", "command.gripper", "safety.hold"]).to_pandas()
    a = pd.DataFrame(df["action"].tolist(), columns=["dx", "dy", "dz", "rx", "ry", "rz", "g"])
    ee = pd.DataFrame(df["observation.state.ee_pos"].tolist(), columns=["x", "y", "z"])
    out: dict = {"length": len(df)}
    out["duration"] = (df["tick_ns"].iloc[-1] - df["tick_ns"].iloc[0]) / 1e9 + 1 / fps
    seg = (ee.diff() ** 2).sum(axis=1) ** 0.5
    out["path_length_m"] = float(seg.iloc[1:].sum())
    idle = (a[["dx", "dy", "dz"]].abs().max(axis=1) < cfg.idle_translation_m) & (
        a[["rx", "ry", "rz"]].abs().max(axis=1) < cfg.idle_rotation_rad) & (a["g"].diff().fillna(0).abs() < cfg.idle_gripper)
    out["idle_fraction"] = float(idle.mean())
    run_id = (idle != idle.shift()).cumsum()
    runs = idle.groupby(run_id).agg(["first", "size"])
    runs = runs[runs["first"]]
    runs = runs[(runs.index != run_id.iloc[0]) & (runs.index != run_id.iloc[-1])]  # inner pauses only
    out["idle_max_run_s"] = float(runs["size"].max() / fps) if len(runs) else 0.0
    d2 = a[["dx", "dy", "dz"]].diff().diff().dropna()
    out["action_jerk_rms"] = float(((d2 ** 2).sum(axis=1).mean()) ** 0.5 * fps**3)
    r2 = a[["rx", "ry", "rz"]].diff().diff().dropna()
    out["action_rot_jerk_rms"] = float(((r2 ** 2).sum(axis=1).mean()) ** 0.5 * fps**3)
    bt, br = cfg.max_speed_m_s / fps, cfg.max_rot_speed_rad_s / fps
    sat = (a[["dx", "dy", "dz"]].abs() >= cfg.saturation_frac * bt).any(axis=1) | (
        a[["rx", "ry", "rz"]].abs() >= cfg.saturation_frac * br).any(axis=1)
    out["action_saturation_frac"] = float(sat.mean())
    closed = a["g"] > cfg.gripper_threshold
    out["gripper_toggles"] = int((closed != closed.shift()).iloc[1:].sum())
    bad = 0
    for c in ["action", "observation.state.ee_pos", "observation.state.joint_pos", "observation.state.joint_vel",
              "observation.state.ee_quat", "target.ee_pos", "target.joint_pos"]:
        bad += int((~np.isfinite(pd.DataFrame(df[c].tolist()))).sum().sum())
    out["nonfinite_values"] = bad
    dt = df["tick_ns"].diff().dropna() / 1e6
    out["tick_gaps"] = int((dt > cfg.gap_factor * 1e3 / fps).sum())
    out["tick_period_p99_ms"] = float(dt.quantile(0.99))
    out["safety_hold_frac"] = float(df["safety.hold"].mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=40)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--image-episodes", type=int, default=6)
    ap.add_argument("--signatures", type=int, default=100_000)
    args = ap.parse_args()
    cfg = MetricsConfig()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_dataset(Path(tmp) / "motion", [EpisodePlan(seed=i, steps=args.steps, idle_tail=20)
                                                   for i in range(args.episodes)], make_spec(cams=()))
        ds = Dataset.open(root)
        files = [root / f for f in ds.catalog.column("file").to_pylist()]
        steps = 0
        t0 = time.perf_counter()
        for f in files:
            table, _, _ = open_shard(f)
            steps += motion_metrics(table, ds.spec.fps, cfg)["length"]
        t_np = time.perf_counter() - t0
        t0 = time.perf_counter()
        for f in files:
            pandas_metrics(f, ds.spec.fps, cfg)
        t_pd = time.perf_counter() - t0
        # parity: the two implementations agree on the shared metrics
        table, _, _ = open_shard(files[0])
        a, b = motion_metrics(table, ds.spec.fps, cfg), pandas_metrics(files[0], ds.spec.fps, cfg)
        parity = all(np.isclose(a[k], b[k], rtol=1e-5, atol=1e-9) for k in b)

        img_root = make_dataset(Path(tmp) / "img", [EpisodePlan(seed=i, steps=300) for i in range(args.image_episodes)],
                                make_spec(cams=("front",), size=224))
        ids = Dataset.open(img_root)
        cam = ids.spec.cameras[0]
        tables = [open_shard(img_root / f)[0] for f in ids.catalog.column("file").to_pylist()]
        frames = decoded = 0
        t0 = time.perf_counter()
        for t in tables:
            _, n = image_health(t, cam, ids.spec.fps)
            frames += t.num_rows
            decoded += n
        t_img = time.perf_counter() - t0

    rng = np.random.default_rng(0)
    n = args.signatures
    sigs = rng.uniform(0, 0.5, (n, 128)).astype(np.float32)
    planted = 1000
    sigs[-planted:] = sigs[:planted] + rng.normal(0, 0.0005, (planted, 128)).astype(np.float32)
    hashes = [str(i) for i in range(n)]
    t0 = time.perf_counter()
    res = find_duplicates(list(range(n)), hashes, sigs, DedupeConfig())
    t_dd = time.perf_counter() - t0
    found = sum(1 for c in res.clusters if len(c) == 2 and c[1] - c[0] == n - planted)

    print(json.dumps({
        "metrics_steps_per_s_per_core": round(steps / t_np),
        "pandas_steps_per_s": round(steps / t_pd),
        "numpy_vs_pandas_speedup": round(t_pd / t_np, 1),
        "metrics_parity_with_pandas": bool(parity),
        "metrics_steps": steps,
        "image_health_frames_per_s": round(frames / t_img),
        "image_frames": frames,
        "image_frames_decoded": decoded,
        "image_decoded_per_s": round(decoded / t_img),
        "image_size": 224,
        "dedupe_signatures": n,
        "dedupe_s": round(t_dd, 2),
        "dedupe_candidates_verified": res.candidates,
        "dedupe_planted_found": f"{found}/{planted}",
        "dedupe_false_clusters": len(res.clusters) - found,
    }))


if __name__ == "__main__":
    main()
