"""Inference latency of the bundled VLA per action chunk on this CPU, both heads. Prints one JSON line.

The peer is the same model's trunk alone (what every head must pay); the ratio shows what each head adds.
``flow_ref_ms_p50`` is the flow chunk through the previous path (the whole trunk, then one time
embedding per Euler step), measured in the same run, so before/after share the machine's load.
Each latency is also given as CPU time of the calling thread (``*_cpu_ms_p50``): on a shared
machine the wall clock includes waiting for a core, the CPU time does not.
With ``--closed-loop N`` it also runs N held-out pick_cube episodes (seeds 9 000 000+, two worker
processes, one torch thread each) per Euler step count in ``--compare-steps``, so a faster
setting is only adopted with its success rate and Wilson interval next to the default's; the
tokens head runs on the same seeds once per decoding in ``--compare-decodes`` (argmax | local |
expected, ``model.decode_tokens``), so both heads stay comparable.
    python benchmarks/inference.py [--ckpt bundled] [--iters 100] [--threads 1] [--flow-steps N] [--token-decode local]
    python benchmarks/inference.py --threads 1 --closed-loop 50 --compare-steps 10,5
    python benchmarks/inference.py --threads 1 --closed-loop 50 --compare-steps 10 --compare-decodes argmax,local
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _reference_flow(pol: object, obs: object, iters: int) -> tuple[float, float]:
    """p50 wall and CPU ms of one flow chunk the previous way: full trunk (all positions), velocity() per Euler step."""
    import torch

    from teleforge.train_adapter.frames import prep_images
    from teleforge.train_adapter.normalize import state_vector

    m, info = pol.model, pol.info  # type: ignore[attr-defined]
    n = int(info.extra["flow_steps"])

    def chunk() -> None:
        imgs = torch.from_numpy(prep_images(obs.images, info.cameras, info.image_size))[None]  # type: ignore[attr-defined]
        st = pol.norm.norm_state(state_vector(obs.ee_pos, obs.ee_quat, obs.gripper, obs.joint_pos))  # type: ignore[attr-defined]
        words = torch.from_numpy(pol.tokenizer.encode(obs.instruction))[None]  # type: ignore[attr-defined]
        with torch.inference_mode():
            vis = m.encode_vision(imgs, words)
            b = vis.shape[0]
            vis = (vis + m.cam_emb[None, :, None, :]).reshape(b, -1, vis.shape[-1])
            x = torch.cat([m.word_emb(words) + m.word_pos[: words.shape[1]], m.state_proj(torch.from_numpy(st)[None])[:, None],
                           vis, m.queries[None].expand(b, -1, -1)], 1)
            pad = torch.cat([words == 0, torch.zeros(b, x.shape[1] - words.shape[1], dtype=torch.bool)], 1)
            feat = m.out_norm(m.trunk(x, src_key_padding_mask=pad)[:, -m.cfg.chunk:])
            a = torch.randn(b, m.cfg.chunk, m.cfg.action_dim)
            for i in range(n):
                a = a - m.velocity(feat, a, torch.full((b,), 1.0 - i / n)) / n
        pol.norm.denorm_action(a.clamp(-1, 1)[0].numpy())  # type: ignore[attr-defined]

    for _ in range(10):
        chunk()
    ts, cpu = [], []
    for _ in range(iters):
        t0, c0 = time.perf_counter(), time.thread_time()
        chunk()
        ts.append((time.perf_counter() - t0) * 1e3)
        cpu.append((time.thread_time() - c0) * 1e3)
    return round(float(np.median(ts)), 2), round(float(np.median(cpu)), 2)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", default="bundled")
    ap.add_argument("--iters", type=int, default=100)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--flow-steps", type=int, default=0, help="Euler steps of the flow head (0: the policy's default)")
    ap.add_argument("--closed-loop", type=int, default=0, help="also evaluate N pick_cube episodes per --compare-steps value")
    ap.add_argument("--compare-steps", default="10,5", help="Euler step counts compared in closed loop")
    ap.add_argument("--token-decode", default="", help="tokens-head decoding timed (argmax | local | expected; default: the checkpoint's)")
    ap.add_argument("--compare-decodes", default="", help="tokens-head decodings compared in closed loop (e.g. argmax,local)")
    ap.add_argument("--seed-base", type=int, default=9_000_000, help="first held-out scene seed of the closed loop")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.policy import PolicyObs

    rng = np.random.default_rng(0)
    out: dict[str, object] = {"bench": "vla_inference", "ckpt": args.ckpt, "torch_threads": torch.get_num_threads()}
    for head in ("tokens", "flow"):
        pol = load_policy(args.ckpt, head, flow_steps=args.flow_steps or None, token_decode=args.token_decode or None)
        pol.reset("pick up the red cube")
        # Raw renders arrive at collection size (128): the resize is part of the measured path.
        obs = PolicyObs(images={c: rng.integers(0, 255, (128, 128, 3), dtype=np.uint8) for c in pol.info.cameras},
                        joint_pos=np.zeros(7, np.float32), ee_pos=np.array([0.5, 0, 0.3], np.float32),
                        ee_quat=np.array([0, 1, 0, 0], np.float32), gripper=1.0, instruction="pick up the red cube")
        for _ in range(10):
            pol.predict(obs)
        ts, cpu = [], []
        for _ in range(args.iters):
            t0, c0 = time.perf_counter(), time.thread_time()
            a = pol.predict(obs)
            ts.append((time.perf_counter() - t0) * 1e3)
            cpu.append((time.thread_time() - c0) * 1e3)
        assert a.shape == (pol.info.chunk, 7)
        out[f"{head}_ms_p50"] = round(float(np.median(ts)), 2)
        out[f"{head}_ms_p90"] = round(float(np.percentile(ts, 90)), 2)
        out[f"{head}_cpu_ms_p50"] = round(float(np.median(cpu)), 2)
        if head == "tokens":
            out["token_decode"] = pol.info.extra["token_decode"]
        if head == "flow":
            out["flow_steps"] = pol.info.extra["flow_steps"]
            out["flow_ref_ms_p50"], out["flow_ref_cpu_ms_p50"] = _reference_flow(pol, obs, args.iters)
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
    if args.closed_loop:
        out["closed_loop"] = _closed_loop(args.ckpt, args.closed_loop, [int(x) for x in args.compare_steps.split(",") if x],
                                          args.workers, [d for d in args.compare_decodes.split(",") if d], args.seed_base)
    print(json.dumps(out))


def _closed_loop(ckpt: str, episodes: int, steps: list[int], workers: int, decodes: list[str] | None = None,
                 seed_base: int = 9_000_000) -> dict[str, object]:
    """pick_cube success of the flow head per Euler step count and of the tokens head per decoding, same held-out seeds."""
    from functools import partial

    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.eval import EvalConfig
    from teleforge.workflows.parallel_eval import evaluate_parallel

    res: dict[str, object] = {"task": "pick_cube", "episodes": episodes}
    runs = [(f"flow{n}", partial(load_policy, head="flow", flow_steps=n)) for n in steps]
    runs += [(f"tokens_{d}", partial(load_policy, head="tokens", token_decode=d)) for d in decodes or []]
    for name, loader in runs:
        r = evaluate_parallel(ckpt, EvalConfig(task="pick_cube", episodes=episodes, seed_base=seed_base, videos=0),
                              workers=workers, loader=loader)
        lo, hi = r.ci95
        res[name] = {"successes": r.successes, "rate": round(r.success_rate, 3), "ci95": [round(lo, 3), round(hi, 3)],
                     "latency_ms_p50": round(r.latency(50), 2), "seeds": [r.episodes[0].seed, r.episodes[-1].seed]}
    return res


if __name__ == "__main__":
    main()
