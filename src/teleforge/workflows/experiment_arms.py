"""The judge: which curation makes the better policy, against honest controls.

One labelled scripted collection (clean, ~30 % subtle defects the rules pass, ~10 % crude
failures; :mod:`teleforge.workflows.scripted_dataset`), then one view per arm:

- ``raw``: everything;  ``rules``: the default rules;
- one arm per learned score (``deminf``, ``democore``, ``scizor``, and ``policy-loss`` when asked: the
  bundled VLA's own loss on each demo), keeping as many episodes as ``rules``;
- ``rules+<method>``: the learned score applied inside the rules' view (keeps ``rules_plus_frac`` of it);
- ``random``: a random subset the size of ``rules``;
- ``length_matched``: a random subset the size of ``rules`` whose episode lengths match the rules'
  view one for one (nearest unused length), so no arm wins by picking short episodes.

Every arm gets the same fine-tune budget (init, steps, batch size, lr, seed) and is evaluated
closed-loop on the same held-out seeds in parallel worker processes; ``train_seeds`` repeats
the whole sweep over training seeds. A per-operator report (quality per operator and session)
comes from the same scores. Returned as :class:`ArmsResult`, written as ``arms.json`` and ``arms.png``.
"""

from __future__ import annotations

import json
import math
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

import teleforge.train_adapter.train as training
from teleforge.curation import MetricsConfig, compute_metrics, default_rules, filter_view
from teleforge.curation.rules import RuleSet
from teleforge.curation.scores import score_dataset, score_view
from teleforge.curation.store import effective_rows
from teleforge.dataset import Dataset
from teleforge.dataset.catalog import read_catalog
from teleforge.dataset.views import View, save_view
from teleforge.errors import CurationError, EvalError
from teleforge.progress import Progress, or_null
from teleforge.train_adapter.eval import EVAL_SEED_BASE, EpisodeResult, EvalConfig, EvalResult, wilson_interval
from teleforge.workflows.experiment import Arm, plot_arms
from teleforge.workflows.parallel_eval import evaluate_parallel, load_checkpoint_policy
from teleforge.workflows.scripted_dataset import ScriptedDatasetConfig, collect_scripted

METHODS = ("deminf", "democore", "scizor")


@dataclass
class ArmsConfig:
    out: Path = Path("teleforge_arms")
    task: str = "pick_cube"
    episodes: int = 200
    subtle_rate: float = 0.3
    crude_rate: float = 0.1
    seed: int = 0  # first collection seed
    image_size: int = 128
    cameras: tuple[str, ...] = ("front", "wrist")
    methods: tuple[str, ...] = METHODS
    arms: tuple[str, ...] | None = None  # None: every arm; else a subset of names (e.g. ("raw", "rules"))
    rules_plus_frac: float = 0.8  # rules + learned keeps this share of the rules' view
    head: str = "flow"
    init: str = "bundled"
    train_steps: int = 600
    batch_size: int = 32
    lr: float = 3e-4
    train_seeds: tuple[int, ...] = (0,)  # the --seeds sweep
    eval_episodes: int = 100
    eval_seed_base: int = EVAL_SEED_BASE
    eval_workers: int = 2
    collect_workers: int = 2
    videos: int = 0
    workers: int = 2  # JPEG decoding in training


@dataclass
class ArmsResult:
    dataset: Path
    views: dict[str, dict[str, Any]]  # arm -> {episodes, steps, mean_len, quality, subtle, crude}
    arms: dict[str, list[Arm]]  # arm -> one per train seed
    operators: list[dict[str, Any]]
    config: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    json_path: Path | None = None
    plot_path: Path | None = None

    def pooled(self, name: str) -> tuple[int, int, tuple[float, float]]:
        """(successes, episodes, Wilson 95 % CI) pooled over the train seeds of arm ``name``."""
        ev = [a.eval for a in self.arms[name] if a.eval is not None]
        k = sum(e.successes for e in ev)
        n = sum(len(e.episodes) for e in ev)
        return k, n, wilson_interval(k, n)

    def to_dict(self) -> dict[str, Any]:
        table = {}
        for name in self.arms:
            k, n, (lo, hi) = self.pooled(name)
            table[name] = {"success_rate": k / n if n else None, "successes": k, "episodes": n, "ci95": [lo, hi],
                           "view": self.views.get(name, {}), "runs": [a.to_dict() for a in self.arms[name]]}
        return {"format": "teleforge.experiment_arms/1", "dataset": str(self.dataset), "arms": table,
                "operators": self.operators, "config": self.config, "timings": self.timings}


def _rows(root: Path) -> list[dict[str, Any]]:
    return [r for r in effective_rows(read_catalog(root)) if not r["deleted"]]


def _rules(root: Path) -> RuleSet:
    rs = default_rules()
    if not Dataset.open(root).spec.cameras:  # no camera: the camera rule has no metric to read
        rs = RuleSet([r for r in rs.rules if r.name != "camera_dead"], rs.trim, rs.name)
    return rs


def random_view(root: Path, name: str, size: int, seed: int) -> View:
    """``size`` episodes drawn uniformly at random (without replacement)."""
    ids = [int(r["episode_id"]) for r in _rows(root)]
    rng = np.random.default_rng(seed)
    keep = sorted(rng.choice(ids, size=min(size, len(ids)), replace=False).tolist())
    return View(name=name, episodes=keep, rejected={i: [{"rule": "random", "kind": "control", "values": {}}] for i in ids if i not in keep},
                operation="control", extra={"control": "random", "seed": seed})


def length_matched_view(root: Path, name: str, reference: list[int], seed: int) -> View:
    """A random subset matching ``reference``'s episode lengths one for one (nearest unused length, random ties)."""
    rows = _rows(root)
    length = {int(r["episode_id"]): int(r["num_steps"]) for r in rows}
    rng = np.random.default_rng(seed)
    pool = list(length)
    rng.shuffle(pool)
    keep: list[int] = []
    for ref in rng.permutation(reference).tolist():
        if not pool:
            break
        d = np.abs(np.array([length[i] for i in pool]) - length[ref])
        j = int(rng.choice(np.flatnonzero(d == d.min())))
        keep.append(pool.pop(j))
    keep.sort()
    return View(name=name, episodes=keep, rejected={i: [{"rule": "length_matched", "kind": "control", "values": {}}] for i in length if i not in keep},
                operation="control", extra={"control": "length_matched", "reference_episodes": len(reference), "seed": seed})


def view_summary(root: Path, episodes: list[int]) -> dict[str, Any]:
    """Size and ground-truth make-up of a selection (labels from the scripted expert)."""
    by = {int(r["episode_id"]): r for r in _rows(root)}
    sel = [by[i] for i in episodes if i in by]
    lab = [r["labels"] or {} for r in sel]
    n = len(sel)
    return {"episodes": n, "steps": int(sum(int(r["num_steps"]) for r in sel)),
            "mean_len": round(float(np.mean([int(r["num_steps"]) for r in sel])), 1) if n else None,
            "mean_quality": round(float(np.mean([float(x.get("quality", 1.0)) for x in lab])), 3) if n else None,
            "subtle": sum(1 for x in lab if x.get("quality_tier") == "subtle"),
            "crude": sum(1 for x in lab if x.get("quality_tier") == "crude")}


def operator_report(root: Path | str, methods: tuple[str, ...] = METHODS) -> list[dict[str, Any]]:
    """Per operator and session: episodes, success rate, rules reject rate (if a ``rules`` view exists), mean scores."""
    from teleforge.dataset.views import load_view, view_path

    root = Path(root)
    rejected = set(load_view(root, "rules").rejected) if view_path(root, "rules").exists() else None
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(root):
        groups[(str(r.get("operator_id")), str(r.get("session_id")))].append(r)
    out = []
    for (op, sess), rs in sorted(groups.items()):
        d: dict[str, Any] = {"operator": op, "session": sess, "episodes": len(rs),
                             "success_rate": round(float(np.mean([r["is_success"] for r in rs])), 3)}
        if rejected is not None:
            d["rules_rejected"] = round(float(np.mean([int(r["episode_id"]) in rejected for r in rs])), 3)
        for m in methods:
            v = [float(r[f"score_{m}"]) for r in rs if r.get(f"score_{m}") is not None and math.isfinite(float(r[f"score_{m}"]))]
            d[f"score_{m}"] = round(float(np.mean(v)), 4) if v else None
        q = [float(lab["quality"]) for r in rs if (lab := r["labels"] or {}).get("quality") is not None]
        d["label_quality"] = round(float(np.mean(q)), 3) if q else None
        out.append(d)
    return out


def make_views(root: Path, cfg: ArmsConfig) -> dict[str, View | None]:
    """Metrics, rules, learned scores, and every arm's view (saved under views/arm-<name>.json); raw is None."""
    compute_metrics(root, MetricsConfig(images=bool(Dataset.open(root).spec.cameras), thumb_scale=8))
    rules = filter_view(root, "rules", _rules(root))
    save_view(root, rules)
    n_rules = len(rules.episodes)
    n_all = len(_rows(root))
    views: dict[str, View | None] = {"raw": None, "rules": rules}
    skipped: dict[str, str] = {}
    wanted = cfg.arms
    for m in cfg.methods:
        if wanted is not None and m not in wanted and f"rules+{m}" not in wanted:
            continue  # no arm needs this score
        if m == "policy-loss":
            import teleforge.workflows.policy_loss  # noqa: F401  registers the method (torch only when asked)
        try:
            score_dataset(root, m)
        except CurationError as exc:  # e.g. democore on a set where every demo succeeded: that arm cannot run
            skipped[m] = str(exc)
            continue
        views[m] = score_view(root, f"arm-{m}", m, top_k=n_rules)
        views[f"rules+{m}"] = score_view(root, f"arm-rules-{m}", m, keep_frac=cfg.rules_plus_frac, from_view="rules")
    views["random"] = random_view(root, "arm-random", n_rules, cfg.seed + 17)
    views["length_matched"] = length_matched_view(root, "arm-length-matched", rules.episodes, cfg.seed + 23)
    if cfg.arms is not None:
        unknown = set(cfg.arms) - set(views) - {a for m in skipped for a in (m, f"rules+{m}")}
        if unknown:
            raise EvalError(f"unknown arm(s) {sorted(unknown)}: choose from {', '.join(views)}")
        views = {k: v for k, v in views.items() if k in cfg.arms}
    for v in views.values():
        if v is not None and v.name != "rules":
            save_view(root, v)
    if n_all == 0:
        raise EvalError(f"{root} holds no episodes")
    return views


def _finished_arm(out: Path, tag: str, cfg: ArmsConfig) -> tuple[str, EvalResult] | None:
    """(checkpoint, eval) of an arm a previous run of the same config finished, else None.

    Reused only when the saved evaluation ran the same seeds and the run's config matches this
    budget, so changing ``--steps`` or ``--eval-episodes`` retrains instead of mixing budgets.
    """
    res, ckpt = out / "eval" / tag / "results.json", out / "runs" / tag / "best"
    if not (res.is_file() and ckpt.is_dir()):
        return None
    try:
        d = json.loads(res.read_text())
        if d.get("episodes") != cfg.eval_episodes or d["config"].get("seed_base") != cfg.eval_seed_base:
            return None
        rc = json.loads((ckpt / "config.json").read_text()).get("train_config", {})
        if rc.get("steps") != cfg.train_steps or rc.get("batch_size") != cfg.batch_size or rc.get("lr") != cfg.lr:
            return None
        eps = [EpisodeResult(**{k: v for k, v in e.items() if k in EpisodeResult.__dataclass_fields__}) for e in d["per_episode"]]
        return str(ckpt), EvalResult(task=d["task"], policy=d.get("policy", {}), config=d["config"], episodes=eps,
                                     seconds=float(d.get("seconds", 0.0)))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # unreadable: train and evaluate again


def run_arms(cfg: ArmsConfig, progress: Progress | None = None, loader: Any = load_checkpoint_policy) -> ArmsResult:
    """Collect (or reuse), score, make the arms' views, train each on the same budget, evaluate on the same seeds."""
    prog = or_null(progress)
    out = Path(cfg.out)
    root = out / "dataset"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    have = len(Dataset.open(root).episode_ids) if (root / "catalog.parquet").exists() else 0
    if have < cfg.episodes:
        prog.message(f"collect {cfg.episodes - have} labelled scripted {cfg.task} episodes")
        collect_scripted(ScriptedDatasetConfig(root=root, task=cfg.task, episodes=cfg.episodes - have, seed=cfg.seed + have,
                                               subtle_rate=cfg.subtle_rate, crude_rate=cfg.crude_rate, cameras=cfg.cameras,
                                               image_size=cfg.image_size, workers=cfg.collect_workers), progress=prog)
    timings["collect"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    views = make_views(root, cfg)
    timings["curate"] = time.perf_counter() - t0
    summaries = {k: view_summary(root, v.episodes if v is not None else [int(r["episode_id"]) for r in _rows(root)])
                 for k, v in views.items()}
    train_seeds = [int(r["seed"]) for r in _rows(root) if r.get("seed") is not None]
    eval_cfg = EvalConfig(task=cfg.task, episodes=cfg.eval_episodes, seed_base=cfg.eval_seed_base, videos=cfg.videos,
                          train_seeds=train_seeds)
    arms: dict[str, list[Arm]] = {}
    for name, view in views.items():
        arms[name] = []
        for ts in cfg.train_seeds:
            tag = f"{name.replace('+', '-')}-s{ts}"
            arm = Arm(name, summaries[name]["episodes"], summaries[name]["steps"])
            done = _finished_arm(out, tag, cfg)
            if done is not None:  # a rerun with the same --out resumes: this arm was trained and evaluated already
                arm.checkpoint, arm.eval = done
                prog.message(f"{name} (seed {ts}): reusing {out / 'eval' / tag}")
                arms[name].append(arm)
                continue
            t0 = time.perf_counter()
            prog.message(f"fine-tune {name} (seed {ts}): {arm.episodes} episodes, {cfg.train_steps} steps x batch {cfg.batch_size}")
            tres = training.train(training.TrainConfig(data=str(root), view=None if view is None else view.name, head=cfg.head,
                                                       init=cfg.init, steps=cfg.train_steps, batch_size=cfg.batch_size, lr=cfg.lr,
                                                       seed=ts, out=str(out / "runs" / tag), workers=cfg.workers), progress=prog)
            arm.checkpoint = str(tres.checkpoint)
            arm.train_seconds = time.perf_counter() - t0
            t0 = time.perf_counter()
            arm.eval = evaluate_parallel(arm.checkpoint, replace(eval_cfg, out=out / "eval" / tag), workers=cfg.eval_workers,
                                         loader=loader, progress=prog)
            timings[f"train {tag}"] = arm.train_seconds
            timings[f"eval {tag}"] = time.perf_counter() - t0
            arms[name].append(arm)
    result = ArmsResult(root, summaries, arms, operator_report(root, cfg.methods),
                        {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()}, timings)
    result.json_path = out / "arms.json"
    result.json_path.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    pooled = {}
    for name, runs in arms.items():
        k, n, _ = result.pooled(name)
        first = runs[0]
        ev = (replace(first.eval, episodes=[e for a in runs if a.eval is not None for e in a.eval.episodes])
              if first.eval is not None else None)
        pooled[name] = replace(first, eval=ev)
    result.plot_path = plot_arms(pooled, out / "arms.png", title=f"{cfg.task}: curation arms ({cfg.train_steps} steps each)")
    return result


__all__ = ["ArmsConfig", "ArmsResult", "METHODS", "length_matched_view", "make_views", "operator_report", "random_view",
           "run_arms", "view_summary"]
