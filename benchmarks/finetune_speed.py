"""CPU fine-tuning speed of the bundled VLA: full model vs frozen, cached vision (``--fast``) vs also a
frozen, cached lower trunk (``--freeze trunk:N``). Prints one JSON line.

Every run fine-tunes the bundled base with the same batch size, data and step count on this
machine's CPU. The cached runs' wall time includes building their caches (one CNN and
lower-trunk forward per frame), so ``steps_per_min`` is what a user gets, not the loop alone. ``*_cpu_steps_per_min`` divides by
this process's CPU seconds instead: on a shared machine it shows the speed without the other jobs' load.
    python benchmarks/finetune_speed.py [--episodes 20] [--steps 60] [--batch-size 32] [--threads 1] [--trunk-layers 3]
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
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--trunk-layers", type=int, default=3, help="lower trunk layers frozen in the third run")
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
    runs = (("full", False, 0), ("fast", True, 0), (f"trunk{args.trunk_layers}", True, args.trunk_layers))
    for name, fast, layers in runs:
        model, base = load_model("bundled")
        with tempfile.TemporaryDirectory() as tmp:
            cfg = TrainConfig(head=args.head, init="bundled", steps=args.steps, batch_size=args.batch_size, lr=1e-4,
                              val_fraction=0.0, val_every=10**9, ckpt_every=10**9, out=tmp, device="cpu",
                              freeze_vision=fast, freeze_trunk_layers=layers)
            t0, c0 = time.perf_counter(), time.process_time()
            res = fit(eps, cfg, model.train(), base)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        out[f"{name}_steps_per_min"] = round(60 * res.steps_per_s, 1)
        out[f"{name}_wall_s"] = round(wall, 1)
        # CPU seconds of this process (cache, steps, checkpoint): what the run costs without the other jobs' load.
        out[f"{name}_cpu_s"] = round(cpu, 1)
        out[f"{name}_cpu_steps_per_min"] = round(60 * args.steps / max(cpu, 1e-9), 1)
        out[f"{name}_trainable_params"] = res.trainable_params
        if fast:
            out[f"{name}_cache_s"] = res.cache_seconds
    for name, _, _ in runs[1:]:
        out[f"{name}_speedup"] = round(out[f"{name}_steps_per_min"] / out["full_steps_per_min"], 2)  # type: ignore[operator]
        out[f"{name}_cpu_speedup"] = round(out[f"{name}_cpu_steps_per_min"] / out["full_cpu_steps_per_min"], 2)  # type: ignore[operator]
    out["cache_in_wall_time"] = True
    print(json.dumps(out))


if __name__ == "__main__":
    main()
