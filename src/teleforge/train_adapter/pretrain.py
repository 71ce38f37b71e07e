"""Pretraining the bundled base: scripted multi-task demos collected in memory (``sim_data``),
then both heads trained from scratch by the same ``fit`` as fine-tuning."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from teleforge.progress import Progress, or_null
from teleforge.train_adapter._torch import require_torch
from teleforge.train_adapter.sim_data import collect_arrays
from teleforge.train_adapter.train import TrainConfig, TrainResult, _init_model, fit


@dataclass
class PretrainConfig:
    """The bundled base: scripted multi-task demos (in memory) -> both heads from scratch."""

    episodes: dict[str, int] = field(default_factory=lambda: {"pick_cube": 400, "place_in_bin": 250,
                                                              "push_to_target": 250, "stack": 250})
    seed0: int = 1_000_000  # scene seeds used: seed0 + 100000*k + i (k = task index): far from eval seeds
    collect_workers: int = 2
    train: TrainConfig = field(default_factory=lambda: TrainConfig(head="both", init="scratch", steps=20000,
                                                                   batch_size=128, lr=5e-4, val_every=1000,
                                                                   ckpt_every=2000, warmup_steps=300))


def pretrain(cfg: PretrainConfig, progress: Progress | None = None) -> TrainResult:
    """Collect scripted demos for every task and train the base (both heads); reports both phases to ``progress``."""
    require_torch()
    prog = or_null(progress)
    tc = cfg.train
    total = sum(cfg.episodes.values())
    t0 = time.perf_counter()
    eps = collect_arrays(cfg.episodes, seed0=cfg.seed0, cameras=tuple(tc.cameras), image_size=tc.image_size,
                         workers=cfg.collect_workers, progress=prog)
    collect_s = time.perf_counter() - t0
    prog.message(f"{len(eps)} successful demos of {total} ({sum(len(e.actions) for e in eps)} frames) in {collect_s:.0f} s")
    model, base_cfg = _init_model(tc)
    counts: dict[str, int] = {}
    for e in eps:
        counts[e.task] = counts.get(e.task, 0) + 1
    trained_on = {"data": "scripted sim demos (teleforge.train_adapter.sim_data)", "episodes": len(eps),
                  "per_task": counts, "frames": int(sum(len(e.actions) for e in eps)), "seed0": cfg.seed0,
                  "collect_seconds": round(collect_s, 1), "render_size": 128}
    return fit(eps, tc, model, base_cfg, prog, trained_on)
