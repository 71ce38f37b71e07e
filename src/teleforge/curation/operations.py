"""Curation operations that make views (filter, trim, dedupe, split), outlier scores, and catalog edits.

Each operation starts from :func:`candidates`: the live episodes' catalog rows (with
metrics, effective labels and outlier scores), or a parent view's. Resolving a view for
reading episodes is :func:`teleforge.dataset.selection.select`, not this.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.curation.dedupe import (
    DedupeConfig,
    DedupeResult,
    find_duplicates,
)
from teleforge.curation.engine import shard_signatures
from teleforge.curation.metrics import MetricsConfig, idle_head_tail
from teleforge.curation.rules import RuleSet, TrimConfig, default_rules
from teleforge.curation.store import (
    catalog_fingerprint,
    effective_rows,
    require_metrics,
)
from teleforge.dataset.catalog import (
    CURATED_INSTRUCTION,
    CURATED_OUTCOME,
    DELETED,
    read_catalog,
)
from teleforge.dataset.edits import record_edits
from teleforge.dataset.reader import Dataset
from teleforge.dataset.views import View, load_view
from teleforge.dataset.writer import OUTCOMES
from teleforge.errors import CurationError, EpisodeNotFoundError

OUTLIER_METRICS = ("length", "path_length_m", "idle_fraction", "action_jerk_rms", "action_saturation_frac", "gripper_toggles")


@dataclass
class Candidates:
    """The catalog rows an operation works on: the dataset's live episodes, or a parent view's."""

    rows: list[dict[str, Any]]
    parent: View | None
    catalog_version: str


def candidates(root: Path | str, from_view: str | None = None, need_metrics: bool = True) -> Candidates:
    """Effective catalog rows (minus deleted episodes, or ``from_view``'s kept ones, in its order) with outlier scores."""
    root = Path(root)
    table = read_catalog(root)
    if not table.num_rows:
        raise CurationError(f"{root} has no finalized episodes; record some first (or `teleforge recover {root}`)")
    if need_metrics:
        require_metrics(table, root)
    rows = [r for r in effective_rows(table) if not r[DELETED]]
    parent = None
    if from_view:
        parent = load_view(root, from_view)
        by_id = {r["episode_id"]: r for r in rows}
        rows = [by_id[i] for i in parent.episodes if i in by_id]
    add_outlier_scores(rows)
    return Candidates(rows, parent, catalog_fingerprint(table))


def add_outlier_scores(rows: list[dict[str, Any]], metrics: tuple[str, ...] = OUTLIER_METRICS) -> None:
    """``outlier_z``: the largest robust z-score (median/MAD, per task) over ``metrics``; ``outlier_metric`` names it."""
    by_task: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_task[str(r.get("task"))].append(r)
    for group in by_task.values():
        best = np.zeros(len(group))
        which = [""] * len(group)
        for m in metrics:
            x = np.array([_num(r.get(m)) for r in group], float)
            ok = np.isfinite(x)
            if ok.sum() < 5:  # too few episodes to call anything an outlier
                continue
            med = np.median(x[ok])
            mad = np.median(np.abs(x[ok] - med))
            scale = 1.4826 * mad if mad > 0 else (np.mean(np.abs(x[ok] - med)) * 1.2533 or 1.0)
            z = np.where(ok, np.abs(x - med) / scale, 0.0)
            upd = z > best
            best = np.where(upd, z, best)
            for i in np.flatnonzero(upd):
                which[i] = m
        for r, best_z, m in zip(group, best, which):
            r["outlier_z"] = float(best_z)
            r["outlier_metric"] = m


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def filter_view(root: Path | str, name: str, rules: RuleSet | None = None, from_view: str | None = None) -> View:
    """Apply ``rules`` (default: the tuned default set) and return the view (not yet saved)."""
    rules = rules or default_rules()
    sel = candidates(root, from_view)
    known = set().union(*(r.keys() for r in sel.rows)) if sel.rows else set()
    rules.check(known)
    kept: list[int] = []
    rejected: dict[int, list[dict[str, Any]]] = dict(sel.parent.rejected) if sel.parent else {}
    for row in sel.rows:
        reasons = []
        for rule in rules.rules:
            fires, values = rule.evaluate(row)
            if fires:
                reasons.append({"rule": rule.name, "when": rule.when, "kind": rule.kind, "values": _jsonable(values)})
        if reasons:
            rejected[int(row["episode_id"])] = reasons
        else:
            kept.append(int(row["episode_id"]))
    trims = {i: t for i, t in (sel.parent.trims.items() if sel.parent else []) if i in set(kept)}
    return View(
        name=name, episodes=kept, trims=trims, rejected=rejected, rules=rules.to_dict(), rules_hash=rules.hash,
        parent=sel.parent.name if sel.parent else None, catalog_version=sel.catalog_version, operation="filter",
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in values.items():
        if isinstance(v, float) and not math.isfinite(v):
            v = None
        elif isinstance(v, float):
            v = round(v, 6)
        out[k] = v
    return out


def diagnosis(reasons: list[dict[str, Any]]) -> str:
    """The failure kind of a rejection: the first (most specific) rule's kind."""
    return str(reasons[0].get("kind") or reasons[0].get("rule")) if reasons else ""


def trim_view(root: Path | str, name: str, cfg: TrimConfig | None = None, from_view: str | None = None) -> View:
    """Cut idle head and tail of every kept episode (as step ranges; shards untouched)."""
    cfg = cfg or TrimConfig()
    root = Path(root)
    sel = candidates(root, from_view, need_metrics=False)
    ds = Dataset.open(root)
    mcfg = MetricsConfig(idle_translation_m=cfg.idle_translation_m)
    trims: dict[int, tuple[int, int]] = {}
    for row in sel.rows:
        eid = int(row["episode_id"])
        n = int(row["num_steps"])
        lo, hi = sel.parent.trims.get(eid, (0, n)) if sel.parent else (0, n)
        action = ds.episode(eid).column("action")[lo:hi]
        head, tail = idle_head_tail(action, mcfg)
        a = lo + (max(0, head - cfg.margin) if cfg.idle_head else 0)
        b = hi - (max(0, tail - cfg.margin) if cfg.idle_tail else 0)
        if b - a < 1:  # all idle: keep it whole, a rule should judge it, not the trimmer
            a, b = lo, hi
        if (a, b) != (0, n):
            trims[eid] = (a, b)
    return View(
        name=name, episodes=[int(r["episode_id"]) for r in sel.rows], trims=trims,
        rejected=dict(sel.parent.rejected) if sel.parent else {},
        rules=sel.parent.rules if sel.parent else [], rules_hash=sel.parent.rules_hash if sel.parent else "",
        parent=sel.parent.name if sel.parent else None, catalog_version=sel.catalog_version, operation="trim",
        extra={"trim": {"idle_head": cfg.idle_head, "idle_tail": cfg.idle_tail, "margin": cfg.margin,
                        "idle_translation_m": cfg.idle_translation_m}},
    )


def split_views(
    root: Path | str, name: str, fractions: tuple[float, float, float] = (0.8, 0.1, 0.1), seed: int = 0,
    from_view: str | None = None,
) -> list[View]:
    """``<name>-train``, ``-val``, ``-test``: stratified by task, reproducible for a seed."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise CurationError(f"split fractions {fractions} must be three non-negative numbers summing to 1, e.g. 0.8,0.1,0.1")
    sel = candidates(root, from_view, need_metrics=False)
    by_task: dict[str, list[int]] = defaultdict(list)
    for r in sel.rows:
        by_task[str(r["task"])].append(int(r["episode_id"]))
    parts: list[list[int]] = [[], [], []]
    for task in sorted(by_task):
        ids = sorted(by_task[task])
        rng = np.random.default_rng([seed, *task.encode()])
        rng.shuffle(ids)
        n = len(ids)
        n_val = int(round(fractions[1] * n))
        n_test = int(round(fractions[2] * n))
        n_train = n - n_val - n_test
        parts[0] += ids[:n_train]
        parts[1] += ids[n_train : n_train + n_val]
        parts[2] += ids[n_train + n_val :]
    views = []
    trims = sel.parent.trims if sel.parent else {}
    for split, ids in zip(("train", "val", "test"), parts):
        ids = sorted(ids)
        views.append(View(
            name=f"{name}-{split}", episodes=ids, trims={i: trims[i] for i in ids if i in trims},
            rules=sel.parent.rules if sel.parent else [], rules_hash=sel.parent.rules_hash if sel.parent else "",
            parent=sel.parent.name if sel.parent else None, catalog_version=sel.catalog_version, operation="split",
            extra={"split": split, "fractions": list(fractions), "seed": seed},
        ))
    return views


# --- edits (edits.jsonl + catalog columns; shards untouched) -------------------------------
def _record(root: Path | str, values: dict[int, dict[str, Any]], why: str) -> None:
    try:
        record_edits(Path(root), values, why=why)
    except EpisodeNotFoundError as exc:
        raise CurationError(str(exc)) from exc


def set_deleted(root: Path | str, ids: list[int], deleted: bool = True, why: str = "") -> None:
    """Delete (hide from every command) or restore episodes. Shards stay on disk; the decision is
    logged in edits.jsonl, so it survives a lost catalog."""
    _record(root, {int(i): {DELETED: bool(deleted)} for i in ids}, why)


def relabel(root: Path | str, ids: list[int], outcome: str | None = None, instruction: str | None = None,
            why: str = "") -> None:
    """Override outcome and/or instruction (an empty instruction restores the recorded one); logged in edits.jsonl."""
    if outcome is None and instruction is None:
        raise CurationError("relabel needs --outcome and/or --instruction")
    if outcome is not None and outcome not in OUTCOMES:
        raise CurationError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    cols: dict[str, Any] = {}
    if outcome is not None:
        cols[CURATED_OUTCOME] = outcome
    if instruction is not None:
        cols[CURATED_INSTRUCTION] = instruction.strip() or None
    _record(root, {int(i): dict(cols) for i in ids}, why)


def dedupe_view(root: Path | str, name: str, cfg: DedupeConfig | None = None, from_view: str | None = None) -> tuple[View, DedupeResult]:
    """Keep one episode per duplicate cluster (a success first, then the shortest, then the lowest id)."""
    root = Path(root)
    sel = candidates(root, from_view)
    ids = [int(r["episode_id"]) for r in sel.rows]
    hashes = [str(r.get("content_hash") or "") for r in sel.rows]
    sigs = shard_signatures(root, [r["file"] for r in sel.rows])  # on the engine in force (local / ray)
    res = find_duplicates(ids, hashes, sigs, cfg)
    success = {int(r["episode_id"]): r.get("outcome") == "success" for r in sel.rows}
    # Same path, different timing: the shorter one hesitated less.
    steps = {int(r["episode_id"]): int(r.get("num_steps") or 0) for r in sel.rows}
    exact_ids = {i for c in res.exact for i in c}
    rejected: dict[int, list[dict[str, Any]]] = dict(sel.parent.rejected) if sel.parent else {}
    drop: set[int] = set()
    for c in res.clusters:
        keep = sorted(c, key=lambda i: (not success.get(i, False), steps.get(i, 0), i))[0]
        for i in c:
            if i != keep:
                drop.add(i)
                kind = "exact_duplicate" if i in exact_ids and keep in exact_ids else "near_duplicate"
                rejected[i] = [{"rule": kind, "when": f"duplicate of episode {keep}", "kind": "duplicate",
                                "values": {"duplicate_of": keep, "cluster": c}}]
    kept = [i for i in ids if i not in drop]
    trims = {i: t for i, t in (sel.parent.trims.items() if sel.parent else []) if i not in drop}
    view = View(
        name=name, episodes=kept, trims=trims, rejected=rejected,
        rules=sel.parent.rules if sel.parent else [], rules_hash=sel.parent.rules_hash if sel.parent else "",
        parent=sel.parent.name if sel.parent else None, catalog_version=sel.catalog_version, operation="dedupe",
        extra={"clusters": res.clusters, "exact_clusters": res.exact, "candidates_verified": res.candidates},
    )
    return view, res
