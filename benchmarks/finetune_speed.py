"""CPU fine-tuning speed of the bundled VLA: full model vs frozen, cached vision (``--fast``). Prints one JSON line.

Both runs fine-tune the bundled base with the same batch size, data and step count on this
machine's CPU. The fast run's wall time includes building its feature cache (one CNN forward
per frame), so ``steps_per_min`` is what a user gets, not the loop alone.
    python benchmarks/finetune_speed.py [--episodes 20] [--steps 40] [--batch-size 32] [--threads 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np


def _episodes(n: int, steps: int, seed: int = 0) -> list:
    from teleforge.train_adapter.data import EpisodeArrays

    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        # Content does not change the cost: random frames and actions of the real shapes.
        out.append(EpisodeArrays(images=rng.integers(0, 255, (steps, 2, 96, 96, 3), dtype=np.uint8),
                                 state=rng.normal(size=(steps, 17)).astype(np.float32),
                                 actions=np.clip(rng.normal(0, 0.01, (steps, 7)), -0.03, 0.03).astype(np.float32),
                                 instruction="pick up the red cube", task="pick_cube", seed=i))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--frames-per-episode", type=int, default=50)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--head", default="flow")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from teleforge.train_adapter.checkpoint import load_model
    from teleforge.train_adapter.train import TrainConfig, fit

    eps = _episodes(args.episodes, args.frames_per_episode)
    out: dict[str, object] = {"bench": "vla_finetune_speed", "torch_threads": torch.get_num_threads(),
                              "batch_size": args.batch_size, "steps": args.steps, "head": args.head,
                              "frames": args.episodes * args.frames_per_episode}
    for name, fast in (("full", False), ("fast", True)):
        model, base = load_model("bundled")
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(head=args.head, init="bundled", steps=args.steps, batch_size=args.batch_size, lr=1e-4,
                              val_fraction=0.0, val_every=10**9, ckpt_every=10**9, out=tmp, device="cpu",
                              freeze_vision=fast)
            t0 = time.perf_counter()
            res = fit(eps, cfg, model.train(), base)
            wall = time.perf_counter() - t0
        out[f"{name}_steps_per_min"] = round(60 * res.steps_per_s, 1)
        out[f"{name}_wall_s"] = round(wall, 1)
        out[f"{name}_trainable_params"] = res.trainable_params
        if fast:
            out["fast_cache_s"] = res.cache_seconds
    out["speedup"] = round(out["fast_steps_per_min"] / out["full_steps_per_min"], 2)  # type: ignore[operator]
    out["cache_in_wall_time"] = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
