"""Learned quality scores against ground truth: prints one JSON line.

Builds (or reuses) a labelled scripted dataset: ~30 % subtle defects (hesitant, wobble,
regrasp, off-centre, multimodal: every default rule passes them, the task succeeds) and
~10 % crude failures (idle, jitter, overshoot, drop, wrong object, timeout), the rest clean.
Then per method, AUROC of "clean vs defective" (a score that ranks every clean episode
above every defective one has AUROC 1; chance is 0.5), separately for subtle-only and
crude-only, and the Spearman correlation with the continuous quality label.

Methods: ``rules`` (kept = 1, rejected = 0, the default rules), ``length`` (shorter = better,
the baseline a study of curation metrics found most of them reduce to), ``deminf``,
``democore`` (cross-fitted on the demos' own outcomes), ``scizor`` and ``policy-loss`` (the
bundled VLA's flow-matching loss on each demo; needs the front + wrist cameras and torch,
skipped without them). ``--cameras front,wrist`` records them (the bundled VLA renders 128 px).

    PYTHONPATH=src python benchmarks/score_auroc.py [--episodes 200 --out /tmp/auroc --workers 2 --cameras front,wrist]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from teleforge.curation import MetricsConfig, compute_metrics, default_rules, filter_view  # noqa: E402
from teleforge.curation.rules import RuleSet  # noqa: E402
from teleforge.curation.scores import METHODS, score_column, score_dataset  # noqa: E402
from teleforge.dataset.catalog import json_field, read_catalog  # noqa: E402


def auroc(score: np.ndarray, good: np.ndarray) -> float:
    """P(score of a random good > score of a random bad), ties count half (Mann-Whitney U)."""
    pos, neg = score[good], score[~good]
    if not len(pos) or not len(neg):
        return math.nan
    allv = np.concatenate([pos, neg])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sv = allv[order]
    i = 0
    while i < len(sv):  # average ranks over ties
        j = i
        while j + 1 < len(sv) and sv[j + 1] == sv[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    u = ranks[:len(pos)].sum() - len(pos) * (len(pos) + 1) / 2
    return float(u / (len(pos) * len(neg)))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    ra = np.argsort(np.argsort(a)).astype(float)
    rb = np.argsort(np.argsort(b)).astype(float)
    if ra.std() == 0 or rb.std() == 0:
        return math.nan
    return float(np.corrcoef(ra, rb)[0, 1])


def build(root: Path, episodes: int, workers: int, seed: int, cameras: tuple[str, ...] = ()) -> float:
    from teleforge.workflows.scripted_dataset import ScriptedDatasetConfig, collect_scripted

    t0 = time.perf_counter()
    collect_scripted(ScriptedDatasetConfig(root=root, episodes=episodes, cameras=cameras, workers=workers, seed=seed,
                                           subtle_rate=0.3, crude_rate=0.1))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--out", type=Path, default=Path("/tmp/teleforge_score_auroc"))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--cameras", default="", help="cameras to record, e.g. front,wrist (policy-loss needs them)")
    ap.add_argument("--policy", default="bundled", help="policy-loss: the VLA checkpoint")
    ap.add_argument("--torch-threads", type=int, default=1)
    args = ap.parse_args()
    root = args.out
    collect_s = None
    cameras = tuple(c for c in args.cameras.split(",") if c)
    if not (root / "catalog.parquet").exists():
        collect_s = build(root, args.episodes, args.workers, args.seed, cameras)
    from teleforge.dataset.reader import Dataset

    methods = list(METHODS)
    have = set(Dataset.open(root).spec.camera_names)
    try:
        import torch

        import teleforge.workflows.policy_loss  # noqa: F401  registers policy-loss

        torch.set_num_threads(args.torch_threads)
        if {"front", "wrist"} <= have:
            methods.append("policy-loss")
    except ImportError:
        pass
    t0 = time.perf_counter()
    compute_metrics(root, MetricsConfig(images=bool(have)))
    metrics_s = time.perf_counter() - t0
    rules = default_rules()
    if not have:
        rules = RuleSet([r for r in rules.rules if r.name != "camera_dead"], rules.trim, rules.name)  # no cameras recorded
    view = filter_view(root, "rules", rules)
    timings = {"metrics_s": round(metrics_s, 3)}
    for m in methods:
        res = score_dataset(root, m, **({"policy": args.policy} if m == "policy-loss" else {}))
        timings[f"{m}_s"] = round(res.seconds, 3)
        timings[f"{m}_steps_per_s"] = round(res.steps / res.seconds) if res.seconds else None
    rows = read_catalog(root).to_pylist()
    labels = [json_field(r["labels"]) if isinstance(r["labels"], str) else (r["labels"] or {}) for r in rows]
    quality = np.array([float(lab.get("quality", 1.0)) for lab in labels])
    tier = np.array([lab.get("quality_tier", "clean") for lab in labels])
    scores = {
        "rules": np.array([0.0 if int(r["episode_id"]) in view.rejected else 1.0 for r in rows]),
        "length": -np.array([float(r["num_steps"]) for r in rows]),
    }
    for m in methods:
        col = score_column(m)
        scores[m] = np.array([float(r.get(col) if r.get(col) is not None else np.nan) for r in rows])
    out = {"bench": "score_auroc", "episodes": len(rows), "tiers": {t: int((tier == t).sum()) for t in ("clean", "subtle", "crude")},
           "success_rate": round(float(np.mean([r["outcome"] == "success" for r in rows])), 3),
           "subtle_success_rate": round(float(np.mean([r["outcome"] == "success" for r, t in zip(rows, tier) if t == "subtle"] or [math.nan])), 3),
           "subtle_rejected_by_rules": int(sum(1 for r, t in zip(rows, tier) if t == "subtle" and int(r["episode_id"]) in view.rejected)),
           "auroc": {}, "timings": timings, "collect_s": collect_s, "dataset": str(root)}
    for name, s in scores.items():
        s = np.where(np.isfinite(s), s, np.nanmin(s) if np.isfinite(s).any() else 0.0)
        clean = tier == "clean"
        sub = tier != "crude"
        cru = tier != "subtle"
        out["auroc"][name] = {
            "all": round(auroc(s, clean), 3),
            "subtle": round(auroc(s[sub], clean[sub]), 3),
            "crude": round(auroc(s[cru], clean[cru]), 3),
            "spearman_quality": round(spearman(s, quality), 3),
        }
    per_kind = {}
    for kind in sorted({lab.get("defect") for lab in labels if lab.get("defect")}):
        mask = np.array([lab.get("defect") == kind or t == "clean" for lab, t in zip(labels, tier)])
        good = (tier == "clean")[mask]
        per_kind[kind] = {name: round(auroc(np.nan_to_num(s[mask], nan=-1e9), good), 3) for name, s in scores.items()}
    out["auroc_subtle_by_kind"] = per_kind
    print(json.dumps(out))


if __name__ == "__main__":
    sys.exit(main())
