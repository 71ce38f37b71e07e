"""The curation experiment: does curating the data make a better policy?

One scripted collection with ~30 % injected (labelled) failures; curation (metrics +
the default rules) makes the ``curated`` view; the same fine-tune budget (same init,
steps, batch size and seed) runs once on the raw set and once on the view; both
checkpoints are evaluated closed-loop on the same held-out seeds. Returned as an
:class:`ExperimentResult` and written as ``experiment.json`` and ``experiment.png``
(the CLI draws the side-by-side table).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# train and load_policy are called through their modules, so a test can stand in for training.
import teleforge.train_adapter.checkpoint as checkpoint
import teleforge.train_adapter.train as training
from teleforge.curation import (
    MetricsConfig,
    compute_metrics,
    default_rules,
    diagnosis,
    filter_view,
    label_scores,
    load_view,
    save_view,
)
from teleforge.dataset import Dataset
from teleforge.errors import EvalError
from teleforge.progress import Progress, or_null
from teleforge.train_adapter.eval import EVAL_SEED_BASE, EvalConfig, EvalResult, evaluate
from teleforge.workflows.collect import SessionResult, collect
from teleforge.workflows.collect_config import CollectConfig

CURATED_VIEW = "curated"


@dataclass
class ExperimentConfig:
    out: Path = Path("teleforge_experiment")
    task: str = "pick_cube"
    episodes: int = 60  # collected demos (raw set)
    failure_rate: float = 0.3
    seed: int = 0  # first collection seed (kept far below the eval seeds)
    image_size: int = 128  # recorded camera size
    cameras: tuple[str, ...] = ("front", "wrist")
    head: str = "flow"
    init: str = "bundled"
    train_steps: int = 600  # the shared budget: same steps, batch and seed for both arms
    batch_size: int = 32
    # Fine-tune hard enough that the data decides: at the gentle default for a
    # checkpoint (3e-5) 600 steps barely move the bundled base, so both arms score
    # like the base and the experiment measures nothing.
    lr: float = 3e-4
    time_budget_s: float | None = None
    train_seed: int = 0
    eval_episodes: int = 50
    eval_seed_base: int = EVAL_SEED_BASE
    videos: int = 4  # per arm
    reuse: bool = True  # reuse out/dataset when it already holds the collection
    workers: int = 2


@dataclass
class Arm:
    name: str  # raw | curated
    episodes: int
    steps: int
    checkpoint: str | None = None
    train_seconds: float = 0.0
    eval: EvalResult | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "eval"}
        if self.eval is not None:
            e = self.eval.to_dict()
            d["eval"] = {k: e[k] for k in ("success_rate", "successes", "episodes", "ci95", "latency_ms", "seconds")}
        return d


@dataclass
class ExperimentResult:
    dataset: Path
    arms: dict[str, Arm]
    curation: dict[str, Any]
    config: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    json_path: Path | None = None
    plot_path: Path | None = None

    @property
    def gain(self) -> float | None:
        raw, cur = self.arms.get("raw"), self.arms.get("curated")
        if raw is None or cur is None or raw.eval is None or cur.eval is None:
            return None
        return cur.eval.success_rate - raw.eval.success_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": "teleforge.experiment/1",
            "dataset": str(self.dataset),
            "arms": {k: a.to_dict() for k, a in self.arms.items()},
            "gain_points": None if self.gain is None else round(100 * self.gain, 1),
            "curation": self.curation,
            "config": self.config,
            "timings": self.timings,
        }


def collect_with_failures(root: Path, task: str, episodes: int, failure_rate: float, seed: int, image_size: int,
                          cameras: tuple[str, ...], progress: Progress | None = None, notes: str = "") -> SessionResult:
    """Scripted collection into ``root`` with labelled, injected failures (real time, like an operator)."""
    return collect(CollectConfig(dataset=root, device="scripted", task=task, episodes=episodes, headless=True, seed=seed,
                                 failure_rate=failure_rate, image_size=image_size, cameras=cameras, operator_id="experiment",
                                 notes=notes or f"curation experiment, {task}"), progress=progress)


def curate(root: Path, view_name: str = CURATED_VIEW) -> dict[str, Any]:
    """Metrics + the default rules → ``views/<view_name>.json``; returns kept/rejected, reasons and label scores."""
    run = compute_metrics(root, MetricsConfig(images=True))
    rules = default_rules()
    view = filter_view(root, view_name, rules)
    path = save_view(root, view)
    reasons = Counter(diagnosis(r) for r in view.rejected.values())
    return {
        "view": view_name,
        "view_path": str(path),
        "kept": len(view.episodes),
        "rejected": len(view.rejected),
        "reasons": dict(reasons.most_common()),
        "rules_hash": rules.hash,
        "metrics_seconds": run.seconds,
        "label_scores": label_scores(root, view),
    }


def _collection_seeds(root: Path) -> list[int]:
    return [int(e.seed) for e in Dataset.open(root).episodes if e.seed is not None]


def run_experiment(cfg: ExperimentConfig, progress: Progress | None = None) -> ExperimentResult:
    """Collect (or reuse), curate, fine-tune raw vs curated on the same budget, evaluate both on the same seeds.

    Each phase is a message to ``progress``; collection, training and evaluation report their own tasks.
    """
    prog = or_null(progress)
    out = Path(cfg.out)
    root = out / "dataset"
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    have = len(Dataset.open(root).episode_ids) if (root / "catalog.parquet").exists() else 0
    if not (cfg.reuse and have >= cfg.episodes):
        prog.message(f"collect {cfg.episodes - have} scripted {cfg.task} episodes, ~{cfg.failure_rate:.0%} with injected failures")
        collect_with_failures(root, cfg.task, cfg.episodes - have, cfg.failure_rate, cfg.seed + have, cfg.image_size,
                              cfg.cameras, prog)
    timings["collect"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    curation = curate(root)
    timings["curate"] = time.perf_counter() - t0
    prog.message(f"curate: kept {curation['kept']}, rejected {curation['rejected']} "
                  f"({', '.join(f'{k} {v}' for k, v in curation['reasons'].items()) or '-'})")
    if curation["kept"] == 0:
        raise EvalError("curation rejected every episode; collect more episodes or lower --failure-rate")

    ds = Dataset.open(root)
    steps_by_id = {e.episode_id: e.num_steps for e in ds.episodes}
    kept = load_view(root, CURATED_VIEW).episodes
    train_seeds = _collection_seeds(root)
    arms = {
        "raw": Arm("raw", len(steps_by_id), int(sum(steps_by_id.values()))),
        "curated": Arm("curated", len(kept), int(sum(steps_by_id[i] for i in kept))),
    }
    eval_cfg = EvalConfig(task=cfg.task, episodes=cfg.eval_episodes, seed_base=cfg.eval_seed_base, videos=cfg.videos,
                          train_seeds=train_seeds)  # the same held-out seeds for both arms
    for name, arm in arms.items():
        t0 = time.perf_counter()
        prog.message(f"fine-tune {name}: {arm.episodes} episodes, {cfg.train_steps} steps × batch {cfg.batch_size} from {cfg.init}")
        tres = training.train(training.TrainConfig(data=str(root), view=None if name == "raw" else CURATED_VIEW, head=cfg.head, init=cfg.init,
                                 steps=cfg.train_steps, batch_size=cfg.batch_size, time_budget_s=cfg.time_budget_s,
                                 lr=cfg.lr, seed=cfg.train_seed, out=str(out / "runs" / name), workers=cfg.workers),
                              progress=prog)
        arm.checkpoint = str(tres.checkpoint)
        arm.train_seconds = time.perf_counter() - t0
        timings[f"train {name}"] = arm.train_seconds
        t0 = time.perf_counter()
        policy = checkpoint.load_policy(tres.checkpoint, head=cfg.head if cfg.head != "both" else None)
        arm.eval = evaluate(policy, replace(eval_cfg, out=out / "eval" / name), progress=prog)
        timings[f"eval {name}"] = time.perf_counter() - t0

    result = ExperimentResult(dataset=root, arms=arms, curation=curation,
                              config={k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
                              timings=timings)
    result.json_path = out / "experiment.json"
    result.json_path.write_text(json.dumps(result.to_dict(), indent=2, default=str))
    result.plot_path = plot_arms(arms, out / "experiment.png", title=f"{cfg.task}: raw vs curated ({cfg.train_steps} steps each)")
    return result


def plot_arms(arms: dict[str, Arm], path: Path, title: str = "") -> Path:
    """Success rate per arm with Wilson 95 % intervals, one horizontal bar per arm (OpenCV only:
    no plotting dependency). Rows, not columns, so a dozen arms keep readable labels."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    names = list(arms)
    labels = [f"{n} ({arms[n].episodes} eps)" for n in names]
    label_w = max([cv2.getTextSize(t, font, 0.5, 1)[0][0] for t in labels] + [60])
    row, top, bottom = 30, 50, 60
    left, right = label_w + 20, 70  # the rate text sits right of the whisker, inside `right` at 100 %
    w = max(640, left + 420 + right)
    h = top + bottom + row * max(1, len(names))
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title[:90], (10, 28), font, 0.55, (20, 20, 20), 1, cv2.LINE_AA)
    x0, x1 = left, w - right
    y_axis = h - bottom

    def px(frac: float) -> int:
        return int(x0 + frac * (x1 - x0))

    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = px(frac)
        cv2.line(img, (x, top - 6), (x, y_axis), (225, 225, 225) if frac else (0, 0, 0), 1)
        (tw, _), _ = cv2.getTextSize(f"{frac:.0%}", font, 0.45, 1)
        cv2.putText(img, f"{frac:.0%}", (x - tw // 2, y_axis + 18), font, 0.45, (60, 60, 60), 1, cv2.LINE_AA)
    colours = {"raw": (200, 120, 60), "curated": (60, 160, 60), "random": (200, 200, 200),
               "length_matched": (200, 200, 200)}  # BGR; controls light, scores mid grey
    for i, (name, label) in enumerate(zip(names, labels)):
        a = arms[name]
        ev = a.eval
        rate = ev.success_rate if ev else 0.0
        lo, hi = ev.ci95 if ev else (0.0, 0.0)
        cy = top + row * i + row // 2
        cv2.rectangle(img, (x0, cy - 9), (max(x0, px(rate)), cy + 9), colours.get(name, (150, 150, 150)), -1)
        cv2.line(img, (px(lo), cy), (px(hi), cy), (0, 0, 0), 2)
        cv2.line(img, (px(lo), cy - 7), (px(lo), cy + 7), (0, 0, 0), 2)
        cv2.line(img, (px(hi), cy - 7), (px(hi), cy + 7), (0, 0, 0), 2)
        cv2.putText(img, f"{rate:.0%}", (px(hi) + 8, cy + 6), font, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
        (tw, _), _ = cv2.getTextSize(label, font, 0.5, 1)
        cv2.putText(img, label, (left - 12 - tw, cy + 5), font, 0.5, (20, 20, 20), 1, cv2.LINE_AA)
    cv2.putText(img, "closed-loop success, Wilson 95% CI", (x0, h - 14), font, 0.45, (90, 90, 90), 1, cv2.LINE_AA)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), img):  # colours above are BGR, as OpenCV writes them
        raise EvalError(f"could not write the plot to {path}")
    return path


__all__ = ["Arm", "CURATED_VIEW", "ExperimentConfig", "ExperimentResult", "collect_with_failures", "curate",
           "plot_arms", "run_experiment"]
