"""Curation end to end, as the commands run it: prints one JSON line per episode length.

For each episode length, a synthetic dataset of ``--steps-total`` steps (tests/curation/synth)
is written, then timed from the shards on disk: ``curate metrics`` without images and with
image health, and each learned score that needs no policy (read + score + catalog write).
Figures are steps/s of one process (the scores run numpy on one BLAS thread).

    PYTHONPATH=src:. python benchmarks/curation_e2e.py [--lengths 50,200,500 --steps-total 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.curation.synth

from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402

from teleforge.curation import MetricsConfig, compute_metrics  # noqa: E402
from teleforge.curation.scores import METHODS, score_dataset  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="50,200,500")
    ap.add_argument("--steps-total", type=int, default=20000)
    ap.add_argument("--image-size", type=int, default=64)
    args = ap.parse_args()
    for length in (int(x) for x in args.lengths.split(",")):
        episodes = max(4, args.steps_total // length)
        with tempfile.TemporaryDirectory() as tmp:
            root = make_dataset(Path(tmp) / "ds", [EpisodePlan(seed=i, steps=length, outcome="success" if i % 5 else "failure",
                                                               jitter=0.3 if i % 7 == 0 else 0.0) for i in range(episodes)],
                                make_spec(("front",), size=args.image_size))
            steps = episodes * length
            out: dict = {"bench": "curation_e2e", "episode_len": length, "episodes": episodes, "steps": steps}
            t0 = time.perf_counter()
            compute_metrics(root, MetricsConfig(images=False))
            dt = time.perf_counter() - t0
            out["metrics_no_images_steps_per_s"] = round(steps / dt)
            out["metrics_per_episode_ms"] = round(1e3 * dt / episodes, 2)
            t0 = time.perf_counter()
            compute_metrics(root, MetricsConfig(images=True), force=True)
            out["metrics_images_steps_per_s"] = round(steps / (time.perf_counter() - t0))
            for m in METHODS:
                res = score_dataset(root, m)
                out[f"{m}_steps_per_s"] = round(steps / res.seconds)
            print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
