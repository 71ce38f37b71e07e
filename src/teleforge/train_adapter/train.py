"""Training: fine-tune (or train from scratch) on a native dataset, through the one training loop.

``train(TrainConfig(...))`` reads ``DATASET[:VIEW]`` through ``data.py`` and runs ``fit``;
``pretrain(PretrainConfig(...))`` (:mod:`.pretrain`) collects scripted multi-task demos in memory
(``sim_data``) and runs the same ``fit``; its batches and their augmentation come from
:mod:`.batcher`. Checkpoints go to ``<out>/last`` (every ``ckpt_every`` steps and at the end)
and ``<out>/best`` (lowest validation loss); ``resume=True`` continues from ``last``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset import Dataset
from teleforge.errors import CheckpointError, TrainError
from teleforge.progress import Progress, or_null
from teleforge.train_adapter._torch import require_torch
from teleforge.train_adapter.batcher import Batcher
from teleforge.train_adapter.checkpoint import ACTION_SPACE, has_train_state, load_model, load_train_state, save_checkpoint
from teleforge.train_adapter.data import ChunkSampler, EpisodeArrays, load_episodes, select_episodes, split_data_arg
from teleforge.train_adapter.feature_cache import build_feature_cache, build_trunk_cache, freeze_trunk_prefix, freeze_vision
from teleforge.train_adapter.normalize import NormStats
from teleforge.train_adapter.text import InstructionTokenizer

HEADS = ("tokens", "flow")


# Parameter-name prefixes of each head's own layers (TrainConfig.head_only).
HEAD_PARAMS = {"tokens": ("token_head.",), "flow": ("flow_in.", "flow_time.", "flow_net.", "flow_out.")}


@dataclass
class TrainConfig:
    """One training run. ``data`` is a dataset folder, optionally ``DATASET:VIEW``."""

    data: str | Path = ""
    view: str | None = None
    head: str = "flow"  # "tokens" | "flow" | "both"
    init: str = "bundled"  # "bundled" | "scratch" | a checkpoint folder
    steps: int = 1500
    time_budget_s: float | None = None  # stop early when training time passes this
    batch_size: int = 32
    lr: float | None = None  # None: 3e-5 from a checkpoint (measured: 1e-4 forgets the base), 3e-4 from scratch
    weight_decay: float = 1e-4
    warmup_steps: int = 50
    seed: int = 0
    out: str | Path = "runs/vla"
    val_fraction: float = 0.1
    val_every: int = 250
    ckpt_every: int = 500
    tasks: tuple[str, ...] | None = None
    outcomes: tuple[str, ...] | None = None  # e.g. ("success",); None: what the view kept
    workers: int = 2  # JPEG-decoding processes
    device: str = "auto"  # "auto" | "cpu" | "cuda"
    resume: bool = False
    stop_after: int | None = None  # end the session at this step as if interrupted (resume continues it)
    word_dropout: float = 0.15
    augment_shift: int = 4  # pixels of random image shift (not applied with freeze_vision: cached tokens)
    freeze_vision: bool = False  # fast CPU fine-tune: vision tokens cached once per (frame, instruction), trunk + heads train
    freeze_trunk_layers: int = 0  # > 0 (implies freeze_vision): also freeze and cache the first N trunk layers
    token_sigma: float = 0.0  # > 0: tokens-head targets are a Gaussian of this many bins around the true bin
    head_only: bool = False  # train only the trained head's own layers: trunk, vision and the other head stay bit-identical
    # Only for init="scratch":
    image_size: int = 96
    chunk: int = 8
    cameras: tuple[str, ...] = ("front", "wrist")
    d_model: int = 128
    n_layers: int = 4


@dataclass
class TrainResult:
    checkpoint: Path  # the best-validation checkpoint folder (load_policy takes it)
    last: Path
    steps: int
    seconds: float
    steps_per_s: float
    train_losses: list[tuple[int, float]] = field(default_factory=list)
    val_losses: list[tuple[int, float]] = field(default_factory=list)
    episodes: int = 0
    frames: int = 0
    params: int = 0
    trainable_params: int = 0
    cache_seconds: float = 0.0  # building the frozen-vision feature cache; inside ``seconds`` and the time budget


def _device(name: str) -> str:
    torch = require_torch()
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def _heads(head: str) -> tuple[str, ...]:
    if head == "both":
        return HEADS
    if head not in HEADS:
        raise TrainError(f"unknown head {head!r}: use tokens, flow or both")
    return (head,)


def train(cfg: TrainConfig, progress: Progress | None = None) -> TrainResult:
    """Fine-tune or train on ``cfg.data`` (a native dataset, views and trims honoured).

    Reports decoding (one unit per episode) and then training (one unit per step) to ``progress``.
    """
    require_torch()
    root, view = split_data_arg(cfg.data, cfg.view)
    model, base_cfg = _init_model(cfg)
    cams = tuple(base_cfg["model"]["cameras"])
    size = int(base_cfg["model"]["image_size"])
    if base_cfg.get("embodiment"):
        emb = Dataset.open(root).manifest.get("robot_embodiment") or Dataset.open(root).spec.robot_embodiment
        if emb and emb != base_cfg["embodiment"]:
            raise CheckpointError(f"{cfg.init} was trained for embodiment {base_cfg['embodiment']!r} with native EE-delta actions; "
                                  f"{root} is {emb!r}: use --init scratch for another arm")
    refs = select_episodes(root, view, cfg.tasks, cfg.outcomes)
    eps = load_episodes(root, refs, cams, size, workers=cfg.workers, progress=progress)
    render = Dataset.open(root).spec.camera(cams[0]).height
    trained_on = {"data": str(root), "view": view, "episodes": len(eps), "tasks": sorted({e.task for e in eps}),
                  "render_size": int(render)}
    return fit(eps, cfg, model, base_cfg, progress, trained_on)


def _init_model(cfg: TrainConfig) -> tuple[Any, dict[str, Any]]:
    """(model, config dict) from the bundled base, a checkpoint, or fresh weights (norm stats set later)."""
    from teleforge.train_adapter.model import VLA, ModelConfig  # lazy: model.py imports torch at import time

    if cfg.init != "scratch":
        model, base = load_model(cfg.init)
        if base.get("action_space", ACTION_SPACE) != ACTION_SPACE or base["model"]["action_dim"] != 7:
            raise CheckpointError(f"{cfg.init} predicts {base.get('action_space')!r} ({base['model']['action_dim']}-D); "
                                  "teleforge datasets hold 7-D native EE-delta actions: use --init scratch")
        missing = [h for h in _heads(cfg.head) if h not in base["model"]["heads"]]
        if missing:
            raise CheckpointError(f"{cfg.init} has no {missing[0]} head (it has {base['model']['heads']}); use --init scratch")
        base = dict(base, init=str(cfg.init))
        return model.train(), base
    tok = InstructionTokenizer()
    mc = ModelConfig(cameras=tuple(cfg.cameras), image_size=cfg.image_size, chunk=cfg.chunk, d_model=cfg.d_model,
                     n_layers=cfg.n_layers, vocab_size=tok.vocab_size, max_words=tok.max_len, heads=_heads(cfg.head))
    torch = require_torch()
    torch.manual_seed(cfg.seed)
    base = {"model": mc.to_dict(), "tokenizer": tok.to_dict(), "norm": None, "action_space": ACTION_SPACE,
            "embodiment": "teleforge_sim_panda", "control_hz": 20.0, "init": "scratch"}
    return VLA(mc).train(), base


def fit(episodes: list[EpisodeArrays], cfg: TrainConfig, model: Any, base_cfg: dict[str, Any],
        progress: Progress | None = None, trained_on: dict[str, Any] | None = None) -> TrainResult:
    """The training loop shared by ``train`` and ``pretrain``; one progress unit per optimizer step."""
    torch = require_torch()

    heads = _heads(cfg.head)
    device = _device(cfg.device)
    torch.manual_seed(cfg.seed)
    chunk = int(base_cfg["model"]["chunk"])
    sampler = ChunkSampler(episodes, chunk)
    if base_cfg.get("norm") is None:  # a fresh model: fit the stats on this data
        base_cfg = dict(base_cfg, norm=NormStats.fit(sampler.chunks[:, 0], sampler.state).to_dict())
    norm = NormStats.from_dict(base_cfg["norm"])
    tok = InstructionTokenizer.from_dict(base_cfg["tokenizer"])

    # Validation split by episode (fixed by the seed), never by frame: neighbouring frames are near-duplicates.
    rng = np.random.default_rng(cfg.seed)
    n_ep = len(episodes)
    n_val = int(round(n_ep * cfg.val_fraction)) if n_ep > 1 else 0
    val_eps = set(rng.permutation(n_ep)[:n_val].tolist())
    is_val = np.isin(sampler.episode_of, list(val_eps))
    train_idx, val_idx = np.flatnonzero(~is_val), np.flatnonzero(is_val)
    if len(train_idx) == 0:
        raise TrainError("no training frames left after the validation split: lower --val-fraction")
    val_idx = val_idx[np.linspace(0, len(val_idx) - 1, min(len(val_idx), 256)).astype(int)] if len(val_idx) else val_idx

    model = model.to(device).train()
    t_cache = time.perf_counter()
    vis_cache = None
    cached = cfg.freeze_vision or cfg.freeze_trunk_layers > 0
    if cfg.freeze_trunk_layers >= int(base_cfg["model"]["n_layers"]):
        raise TrainError(f"can freeze at most {int(base_cfg['model']['n_layers']) - 1} trunk layers (--freeze trunk:N must stay below the trunk's {base_cfg['model']['n_layers']} layers)")
    if cached:  # the CNN stays fixed: its tokens are computed once here, inside the wall time and budget
        freeze_vision(model)
        frame_words = np.stack([tok.encode(t) for t in sampler.instructions])[sampler.episode_of]
        vis_cache = build_feature_cache(model, sampler.images, frame_words, device, progress=progress)
        if cfg.freeze_trunk_layers > 0:  # and the lower trunk: its hidden states per frame, from the clean state
            freeze_trunk_prefix(model, cfg.freeze_trunk_layers)
            vis_cache = build_trunk_cache(model, vis_cache, frame_words, norm.norm_state(sampler.state),
                                          cfg.freeze_trunk_layers, device, progress=progress)
    cache_s = time.perf_counter() - t_cache if cached else 0.0
    if cfg.head_only:  # e.g. a tokens-head fine-tune that leaves the flow head's predictions exactly as they were
        own = tuple(p for h in heads for p in HEAD_PARAMS[h])
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith(own))
    base_lr = cfg.lr if cfg.lr is not None else (3e-4 if cfg.init == "scratch" else 3e-5)
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=base_lr, weight_decay=cfg.weight_decay)
    out = Path(cfg.out)
    last_dir, best_dir = out / "last", out / "best"
    step, best = 0, math.inf
    train_losses: list[tuple[int, float]] = []
    val_losses: list[tuple[int, float]] = []
    batcher_seed = cfg.seed
    if cfg.resume and has_train_state(last_dir):
        m2, c2 = load_model(last_dir, device)
        model.load_state_dict(m2.state_dict())
        st = load_train_state(last_dir, device)
        try:
            opt.load_state_dict(st["optimizer"])
            step, best = int(st["step"]), float(st.get("best", math.inf))
            train_losses = [(int(s), float(v)) for s, v in st["train_losses"]]
            val_losses = [(int(s), float(v)) for s, v in st["val_losses"]]
            torch.set_rng_state(st["torch_rng"].to("cpu"))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise CheckpointError(f"{last_dir} holds a training state that does not fit this run ({str(exc)[:200]}); "
                                  "restart training without --resume") from exc
        base_cfg = c2
    batcher = Batcher(sampler, train_idx, norm, tok, cfg, device, batcher_seed, vis_cache)
    run_loss = None
    if step and cfg.resume:  # continue the very same batch sequence: a resumed run equals an uninterrupted one
        try:
            batcher.rng.bit_generator.state = st["batch_rng"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{last_dir} holds a damaged batch RNG state; restart training without --resume") from exc
        run_loss = st.get("run_loss")

    total = cfg.steps
    def lr_at(s: int) -> float:
        # Cosine decay over whichever ends first, the step count or the time budget, so a
        # budget-capped run still anneals.
        frac = s / max(1, total)
        if cfg.time_budget_s:
            frac = max(frac, (time.perf_counter() - t0) / cfg.time_budget_s)
        warm = min(1.0, (s + 1) / max(1, cfg.warmup_steps))
        return base_lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, frac))))

    def ckpt_config() -> dict[str, Any]:
        mc = dict(base_cfg["model"])
        return {**{k: v for k, v in base_cfg.items() if k not in ("format",)}, "model": mc,
                "default_head": heads[-1] if len(heads) == 1 else base_cfg.get("default_head", "flow"),
                "trained_on": trained_on or base_cfg.get("trained_on", {}), "steps": step,
                "tasks": sorted(set(base_cfg.get("tasks") or []) | {str(e.task) for e in episodes if e.task}),
                "render_size": int((trained_on or {}).get("render_size") or base_cfg.get("render_size") or 128),
                "train_config": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
                "val_losses": val_losses[-20:]}

    def state() -> dict[str, Any]:
        return {"optimizer": opt.state_dict(), "step": step, "best": best, "train_losses": train_losses,
                "val_losses": val_losses, "torch_rng": torch.get_rng_state(),
                "batch_rng": batcher.rng.bit_generator.state, "run_loss": run_loss}

    def validate() -> float:
        if not len(val_idx):
            return float("nan")
        model.eval()
        g = torch.get_rng_state()
        torch.manual_seed(1234)  # the flow loss draws noise and t: fixed draws make validation comparable
        tot = 0.0
        with torch.no_grad():
            for i in range(0, len(val_idx), 64):
                ls = model.losses(batcher.batch(val_idx[i:i + 64], train=False), heads)  # one-hot CE: comparable across sigmas
                tot += float(sum(ls.values())) * len(val_idx[i:i + 64])
        torch.set_rng_state(g)
        model.train()
        return tot / len(val_idx)

    # With a feature cache the clock starts before it was built: its cost counts against the budget.
    t0 = t_cache if cached else time.perf_counter()
    start_step = step
    prog = or_null(progress)
    # A time budget usually ends the run long before `steps`: an ETA from the step count would be
    # hours off, so the bar has no total then and the status says how much of the budget is left.
    prog.start(None if cfg.time_budget_s else total, "training")
    prog.advance(step)  # a resumed run starts where the last one stopped
    try:
        while step < total and (cfg.stop_after is None or step < cfg.stop_after):
            if cfg.time_budget_s is not None and time.perf_counter() - t0 >= cfg.time_budget_s:
                break
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            ls = model.losses(batcher.batch(), heads, token_sigma=cfg.token_sigma)
            loss = sum(ls.values())
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            opt.step()
            step += 1
            lv = float(loss.detach())
            run_loss = lv if run_loss is None else 0.98 * run_loss + 0.02 * lv
            if step % 25 == 0 or step == total:
                train_losses.append((step, round(run_loss, 5)))
            if step % cfg.val_every == 0 or step == total:
                v = validate()
                val_losses.append((step, round(v, 5)))
                if not math.isnan(v) and v < best:
                    best = v
                    save_checkpoint(best_dir, model, ckpt_config())
            if step % cfg.ckpt_every == 0:
                save_checkpoint(last_dir, model, ckpt_config(), state())
            budget = {"left": f"{max(0.0, cfg.time_budget_s - (time.perf_counter() - t0)):.0f}s"} if cfg.time_budget_s else {}
            prog.advance(1, loss=run_loss, **({"val": val_losses[-1][1]} if val_losses else {}), **budget)
    finally:
        prog.done()
    if not val_losses or val_losses[-1][0] != step:
        v = validate()
        val_losses.append((step, round(v, 5)))
        if not math.isnan(v) and v < best:
            best = v
            save_checkpoint(best_dir, model, ckpt_config())
    save_checkpoint(last_dir, model, ckpt_config(), state())
    if not (best_dir / "model.safetensors").is_file():  # no validation split: best is last
        save_checkpoint(best_dir, model, ckpt_config())
    secs = time.perf_counter() - t0
    res = TrainResult(checkpoint=best_dir, last=last_dir, steps=step, seconds=round(secs, 2),
                      steps_per_s=round((step - start_step) / max(secs, 1e-9), 3), train_losses=train_losses,
                      val_losses=val_losses, episodes=len(episodes), frames=len(sampler),
                      params=int(sum(p.numel() for p in model.parameters())),
                      trainable_params=int(sum(p.numel() for p in trainable)), cache_seconds=round(cache_s, 2))
    # allow_nan=False after _finite: JSON has no NaN (a validation loss of NaN is written as null).
    (out / "result.json").write_text(json.dumps(_finite({k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(res).items()}),
                                                indent=1, allow_nan=False))
    return res


def _finite(x: Any) -> Any:
    """``x`` with every NaN/Inf float (in dicts, lists, tuples) replaced by None, for strict JSON."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x
