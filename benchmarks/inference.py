"""Inference latency of the bundled VLA per action chunk on this CPU, both heads. Prints one JSON line.

The peer is the same model's trunk alone (what every head must pay); the ratio shows what each head adds.
    python benchmarks/inference.py [--ckpt bundled] [--iters 100]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="bundled")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.policy import PolicyObs

    rng = np.random.default_rng(0)
    out: dict[str, object] = {"bench": "vla_inference", "ckpt": args.ckpt, "torch_threads": torch.get_num_threads()}
    for head in ("tokens", "flow"):
        pol = load_policy(args.ckpt, head)
        pol.reset("pick up the red cube")
        # Raw renders arrive at collection size (128): the resize is part of the measured path.
        obs = PolicyObs(images={c: rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for c in pol.info.cameras},
                        joint_pos=np.zeros(7, np.float32), ee_pos=np.array([0.5, 0, 0.3], np.float32),
                        ee_quat=np.array([0, 1, 0, 0], np.float32), gripper=1.0, instruction="pick up the red cube")
        for _ in range(10):
            pol.predict(obs)
        ts = []
        for _ in range(args.iters):
            t0 = time.perf_counter()
            a = pol.predict(obs)
            ts.append((time.perf_counter() - t0) * 1e3)
        assert a.shape == (pol.info.chunk, 7)
        out[f"{head}_ms_p50"] = round(float(np.median(ts)), 2)
        out[f"{head}_ms_p90"] = round(float(np.percentile(ts, 90)), 2)
        if head == "flow":
            out["flow_steps"] = pol.info.extra["flow_steps"]
    # Peer: the trunk alone (one encode), measured in the same run.
    m = pol.model
    imgs = torch.zeros(1, len(pol.info.cameras), pol.info.image_size, pol.info.image_size, 3, dtype=torch.uint8)
    words = torch.from_numpy(pol.tokenizer.encode("pick up the red cube"))[None]
    state = torch.zeros(1, m.cfg.state_dim)
    ts = []
    with torch.inference_mode():
        for _ in range(10):
            m.encode(imgs, words, state)
        for _ in range(args.iters):
            t0 = time.perf_counter()
            m.encode(imgs, words, state)
            ts.append((time.perf_counter() - t0) * 1e3)
    out["trunk_ms_p50"] = round(float(np.median(ts)), 2)
    out["flow_vs_trunk_ratio"] = round(out["flow_ms_p50"] / out["trunk_ms_p50"], 2)  # type: ignore[operator]
    out["tokens_vs_trunk_ratio"] = round(out["tokens_ms_p50"] / out["trunk_ms_p50"], 2)  # type: ignore[operator]
    out["chunk"] = pol.info.chunk
    out["params"] = pol.info.extra["params"]
    out["target_ms"] = 20.0
    print(json.dumps(out))


if __name__ == "__main__":
    main()
