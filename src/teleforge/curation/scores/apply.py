"""Run a learned score over a dataset, store it in the catalog, and make views from it.

Scores land beside the rule metrics as catalog columns (``score_<method>``, higher =
better, plus method extras) through :func:`teleforge.curation.store.set_columns`. A view
keeps the top-k, the best fraction, or every episode at or above a threshold; each
dropped episode carries its reason (the score, its value and the cut).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from teleforge.curation.operations import candidates
from teleforge.curation.scores.base import ScoreMethod, ScoreResult, score_column
from teleforge.curation.scores.deminf import DemInf
from teleforge.curation.scores.democore import DemoScore
from teleforge.curation.scores.features import read_steps
from teleforge.curation.scores.scizor import Scizor
from teleforge.curation.store import set_columns
from teleforge.dataset.views import View
from teleforge.errors import CurationError

SCORES_VERSION = 3  # 2: scizor's k-NN in float32 (a near-tie may pick another neighbour); 3: democore fit to its optimum (bound optimization, was 300 gradient steps)
# name -> factory(**params) -> ScoreMethod. Methods that need more than numpy (policy-loss runs
# the VLA in torch) live in a higher layer and add themselves with register_method; importing
# teleforge.workflows.policy_loss registers it (the CLI does so): curation never imports torch.
METHODS: dict[str, Callable[..., ScoreMethod]] = {"deminf": DemInf, "democore": DemoScore, "scizor": Scizor}


def register_method(name: str, factory: Callable[..., ScoreMethod]) -> None:
    """Make ``name`` a score method (``teleforge curate score --method NAME``); ``factory(**params)`` builds it."""
    METHODS[name] = factory


def make_method(name: str, **params: Any) -> ScoreMethod:
    """The score method called ``name`` (deminf | democore | scizor | policy-loss | registered) with its parameters."""
    if name not in METHODS:
        hint = " (import teleforge.workflows.policy_loss first; `teleforge curate score` does)" if name == "policy-loss" else ""
        raise CurationError(f"unknown score method {name!r}{hint}: choose one of {', '.join(METHODS)}")
    try:
        return METHODS[name](**params)
    except TypeError as exc:
        raise CurationError(f"bad parameter for {name}: {exc}") from exc


def score_dataset(root: Path | str, method: str, rollouts: Path | str | None = None, store: bool = True,
                  **params: Any) -> ScoreResult:
    """Score every non-deleted episode of ``root`` with ``method``; store the columns unless ``store`` is false.

    ``rollouts``: a native dataset of policy rollouts (success / failure outcomes) for democore.
    ``result.seconds`` is end to end: reading the shards, scoring and writing the catalog.
    """
    t0 = time.perf_counter()
    m = make_method(method, **params)
    steps = read_steps(root)
    roll = read_steps(rollouts) if rollouts is not None else None
    res = m.score(steps, roll)
    if store:
        col = res.column
        values: dict[int, dict[str, Any]] = {}
        for eid, v in res.scores.items():
            row = {col: float(v) if math.isfinite(v) else math.nan, f"{col}_version": SCORES_VERSION}
            row.update(res.columns.get(eid, {}))
            if method == "scizor":
                a, b = res.trims.get(eid, (0, int(steps.lengths[steps.episode_ids.index(eid)])))
                row["scizor_trim_start"], row["scizor_trim_stop"] = int(a), int(b)
            values[eid] = row
        set_columns(Path(root), values)
    res.seconds = time.perf_counter() - t0
    return res


def score_view(root: Path | str, name: str, method: str, *, top_k: int | None = None, keep_frac: float | None = None,
               min_score: float | None = None, from_view: str | None = None, apply_trims: bool = False) -> View:
    """A view of the best episodes by stored ``score_<method>``: top ``top_k``, best ``keep_frac``, or ``>= min_score``.

    ``from_view`` restricts (and keeps) a parent view, e.g. the rules' view for "rules + learned".
    ``apply_trims`` (scizor) keeps each episode's proposed step range.
    """
    col = score_column(method)
    if sum(x is not None for x in (top_k, keep_frac, min_score)) != 1:
        raise CurationError("give exactly one of top_k, keep_frac or min_score")
    sel = candidates(root, from_view, need_metrics=False)
    if not sel.rows or col not in sel.rows[0]:
        raise CurationError(f"{root} has no {col!r} column; run `teleforge curate score {root} --method {method}` first")
    vals = {int(r["episode_id"]): r.get(col) for r in sel.rows}
    ok = {i: float(v) for i, v in vals.items() if v is not None and math.isfinite(float(v))}
    order = sorted(ok, key=lambda i: -ok[i])
    if top_k is not None:
        keep = set(order[:max(0, int(top_k))])
    elif keep_frac is not None:
        if not 0 < keep_frac <= 1:
            raise CurationError(f"keep_frac must be in (0, 1], got {keep_frac}")
        keep = set(order[:max(1, int(round(keep_frac * len(vals))))])
    else:
        keep = {i for i in order if ok[i] >= float(min_score)}  # type: ignore[arg-type]
    cut = min((ok[i] for i in keep), default=math.nan)
    rejected = dict(sel.parent.rejected) if sel.parent else {}
    kept = []
    for r in sel.rows:
        eid = int(r["episode_id"])
        if eid in keep:
            kept.append(eid)
            continue
        v = ok.get(eid)
        rejected[eid] = [{"rule": col, "when": f"{col} < {cut:.4g}" if math.isfinite(cut) else f"{col} missing",
                          "kind": "learned_score", "values": {col: None if v is None else round(v, 6)}}]
    trims = {i: t for i, t in (sel.parent.trims.items() if sel.parent else []) if i in keep}
    if apply_trims:
        for r in sel.rows:
            eid = int(r["episode_id"])
            a, b = r.get("scizor_trim_start"), r.get("scizor_trim_stop")
            if eid in keep and a is not None and b is not None and (a > 0 or b < int(r.get("num_steps") or b)):
                trims[eid] = (int(a), int(b))
    how = f"top {top_k}" if top_k is not None else (f"best {keep_frac:.0%}" if keep_frac is not None else f">= {min_score}")
    return View(name=name, episodes=kept, trims=trims, rejected=rejected,
                rules=[{"name": col, "when": f"keep {how} by {col}", "kind": "learned_score"}],
                rules_hash=f"{col}:{how}", parent=sel.parent.name if sel.parent else None,
                catalog_version=sel.catalog_version, operation="score",
                extra={"method": method, "cut": None if not math.isfinite(cut) else cut, "selection": how})


__all__ = ["METHODS", "SCORES_VERSION", "make_method", "register_method", "score_dataset", "score_view"]
