"""Select human takeovers: a view of the intervention segments of policy runs, with context.

The recorded ``control.intervention`` column is the source of truth (the episode labels'
``interventions`` mirror it). A view keeps one ``[start, stop)`` trim per episode, so an
episode with several takeovers is trimmed to the span from ``context_s`` before its first
intervention to ``context_s`` after its last; every segment (with and without context) is
listed in ``view.extra["takeover"]["segments"]`` for tools that want them one by one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from teleforge.curation.operations import candidates
from teleforge.dataset.reader import Dataset
from teleforge.dataset.views import View
from teleforge.errors import CurationError

COLUMN = "control.intervention"


def intervention_segments(flags: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` step ranges where the per-step bool ``flags`` (T,) are True."""
    f = np.asarray(flags, dtype=bool).reshape(-1)
    if not f.size:
        return []
    edges = np.flatnonzero(np.diff(np.concatenate([[False], f, [False]]).astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2])]


def takeover_view(root: Path | str, name: str, context_s: float = 2.0, from_view: str | None = None) -> View:
    """Episodes with at least one takeover, trimmed to their takeovers +- ``context_s`` seconds."""
    if not (context_s >= 0 and math.isfinite(context_s)):
        raise CurationError(f"context must be a non-negative number of seconds, got {context_s}")
    root = Path(root)
    sel = candidates(root, from_view, need_metrics=False)
    ds = Dataset.open(root)
    ctx = int(round(context_s * ds.spec.fps))
    kept: list[int] = []
    trims: dict[int, tuple[int, int]] = {}
    segments: dict[str, list[dict[str, list[int]]]] = {}
    for row in sel.rows:
        eid = int(row["episode_id"])
        n = int(row["num_steps"])
        lo, hi = sel.parent.trims.get(eid, (0, n)) if sel.parent else (0, n)
        segs = [(lo + a, lo + b) for a, b in intervention_segments(ds.episode(eid).column(COLUMN)[lo:hi])]
        if not segs:
            continue
        kept.append(eid)
        a, b = max(lo, segs[0][0] - ctx), min(hi, segs[-1][1] + ctx)
        if (a, b) != (0, n):
            trims[eid] = (a, b)
        segments[str(eid)] = [{"steps": [s, e], "with_context": [max(lo, s - ctx), min(hi, e + ctx)]} for s, e in segs]
    return View(
        name=name, episodes=kept, trims=trims,
        rejected=dict(sel.parent.rejected) if sel.parent else {},
        rules=sel.parent.rules if sel.parent else [], rules_hash=sel.parent.rules_hash if sel.parent else "",
        parent=sel.parent.name if sel.parent else None, catalog_version=sel.catalog_version, operation="takeover",
        extra={"takeover": {"context_s": float(context_s), "segments": segments}},
    )
