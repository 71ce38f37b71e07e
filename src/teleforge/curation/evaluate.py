"""Score a filter view against ground-truth failure labels (the scripted expert's ``labels.failure``).

Per failure kind: *recall* is the share of episodes with that label the view
rejects (for any reason); *precision* is the share of episodes whose diagnosis
(the kind of the first rule that fired) is that kind and whose label agrees.
A label whose failure was never executed (``labels.executed`` false, e.g. the task
succeeded before the failure's trigger) counts as a clean episode.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from teleforge.curation.operations import diagnosis
from teleforge.curation.store import effective_rows
from teleforge.dataset.catalog import read_catalog
from teleforge.dataset.views import View

# Rule kinds that name a failure differently from the label.
KIND_ALIASES = {"failure": "wrong_object"}


def _kind(rule_kind: str) -> str:
    return KIND_ALIASES.get(rule_kind, rule_kind)


def _truth(labels: dict[str, Any], key: str) -> str | None:
    """The labelled failure, or None when the expert never got to execute it (the episode is clean)."""
    if labels.get("executed") is False:
        return None
    return labels.get(key)


def label_scores(root: Path | str, view: View, label_key: str = "failure") -> dict[str, Any]:
    rows = [r for r in effective_rows(read_catalog(root)) if not r["deleted"]]
    truth = {int(r["episode_id"]): _truth(r["labels"] or {}, label_key) for r in rows}
    diag = {i: _kind(diagnosis(view.rejected[i])) for i in truth if i in view.rejected}
    kinds = sorted({k for k in truth.values() if k} | set(diag.values()))
    out: dict[str, Any] = {"episodes": len(truth), "bad": sum(1 for k in truth.values() if k),
                           "rejected": len(diag), "per_kind": {}}
    bad_rejected = sum(1 for i in diag if truth[i])
    out["reject_precision"] = round(bad_rejected / len(diag), 3) if diag else None
    out["reject_recall"] = round(bad_rejected / out["bad"], 3) if out["bad"] else None
    for k in kinds:
        n_true = sum(1 for v in truth.values() if v == k)
        n_diag = sum(1 for v in diag.values() if v == k)
        hit_any = sum(1 for i, v in truth.items() if v == k and i in diag)
        hit_diag = sum(1 for i, v in diag.items() if v == k and truth[i] == k)
        out["per_kind"][k] = {
            "labelled": n_true,
            "recall": round(hit_any / n_true, 3) if n_true else None,
            "diagnosed": n_diag,
            "precision": round(hit_diag / n_diag, 3) if n_diag else None,
            "diagnosed_as": dict(Counter(diag.get(i, "kept") for i, v in truth.items() if v == k)),
        }
    return out
