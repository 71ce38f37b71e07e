"""Closed-loop evaluation split over worker processes (spawn, one torch thread each).

The seeds ``seed_base .. seed_base + episodes - 1`` are cut into contiguous slices; each
worker loads the policy itself (``loader(checkpoint)``, a picklable module-level function)
and runs :func:`teleforge.train_adapter.eval.evaluate` on its slice. The merged result is
the same episodes, seeds and order as one sequential evaluation.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
from dataclasses import replace
from typing import Any, Callable

from teleforge.progress import Progress, or_null
from teleforge.train_adapter.eval import EvalConfig, EvalResult, evaluate

Loader = Callable[[str], Any]


def load_checkpoint_policy(path: str) -> Any:
    """The default loader: a trained checkpoint folder (``train_adapter.checkpoint.load_policy``)."""
    from teleforge.train_adapter import checkpoint

    return checkpoint.load_policy(path)


def _slices(n: int, workers: int) -> list[tuple[int, int]]:
    workers = max(1, min(workers, n))
    base, extra = divmod(n, workers)
    out, s = [], 0
    for w in range(workers):
        k = base + (1 if w < extra else 0)
        out.append((s, k))
        s += k
    return [x for x in out if x[1] > 0]


def _worker(args: tuple[Loader, str, EvalConfig]) -> dict[str, Any]:
    loader, ckpt, cfg = args
    os.environ.setdefault("MUJOCO_GL", "egl")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # a reference policy needs no torch
        pass
    res = evaluate(loader(ckpt), cfg)
    return {"episodes": res.episodes, "latency_ms": res.latency_ms, "policy": res.policy, "config": res.config, "task": res.task}


def evaluate_parallel(checkpoint: str, cfg: EvalConfig, workers: int = 2, loader: Loader = load_checkpoint_policy,
                      progress: Progress | None = None) -> EvalResult:
    """Evaluate ``checkpoint`` on ``cfg``'s seeds in ``workers`` spawn processes (1: in this process).

    Videos are written by whichever worker runs the first ``cfg.videos`` episodes.
    """
    prog = or_null(progress)
    t0 = time.perf_counter()
    if workers <= 1:
        return evaluate(loader(checkpoint), cfg, progress=progress)
    jobs = []
    for start, count in _slices(cfg.episodes, workers):
        jobs.append((loader, checkpoint, replace(cfg, seed_base=cfg.seed_base + start, episodes=count,
                                                 videos=max(0, cfg.videos - start),
                                                 out=None if cfg.out is None else cfg.out / f"part{start:04d}")))
    prog.start(cfg.episodes, f"eval {cfg.task} ({len(jobs)} workers)")
    parts: list[dict[str, Any]] = []
    try:
        with mp.get_context("spawn").Pool(len(jobs)) as pool:
            for part in pool.imap(_worker, jobs):
                parts.append(part)
                prog.advance(len(part["episodes"]))
    finally:
        prog.done()
    episodes = [e for p in parts for e in p["episodes"]]
    result = EvalResult(task=parts[0]["task"], policy=parts[0]["policy"],
                        config={**parts[0]["config"], "episodes": cfg.episodes, "seed_base": cfg.seed_base, "workers": len(jobs)},
                        episodes=episodes, latency_ms=[x for p in parts for x in p["latency_ms"]],
                        seconds=time.perf_counter() - t0)
    if cfg.out is not None:
        result.save(cfg.out / "results.json")
    return result


__all__ = ["evaluate_parallel", "load_checkpoint_policy"]
