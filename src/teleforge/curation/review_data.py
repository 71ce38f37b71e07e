"""The data side of ``teleforge review``: table rows, episode detail, frames, thumbnails, decisions.

One file because table queries, episode detail, frames and decisions all read the same in-memory catalog rows.

:class:`ReviewSession` holds one dataset's effective catalog rows in memory (10,000
episodes are a few MB), answers paged, sorted, filtered queries over any column,
and records triage decisions. Every decision is written at once:

- the review view ``views/<name>.json`` (kept ids, trims, why each dropped episode
  was dropped, and ``extra.decisions``: who decided what, when, why), atomically;
- the append-only edit log ``views/<name>.log.jsonl`` (one JSON object a line);
- relabels go through :func:`teleforge.curation.operations.relabel` (catalog edit
  columns; the shards keep the recording).

Shards are only ever read. Thumbnails are cached on disk under ``<dataset>/.cache/review``.
No web framework here: the server is :mod:`teleforge.workflows.review`.
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from teleforge.curation.image_health import thumb_scale, thumbnail
from teleforge.curation.operations import add_outlier_scores, diagnosis, relabel
from teleforge.curation.rules import Rule
from teleforge.curation.store import catalog_fingerprint, effective_rows
from teleforge.dataset.catalog import DELETED, read_catalog
from teleforge.dataset.episode import Episode
from teleforge.dataset.layout import VIEWS, now_iso
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import image_column
from teleforge.dataset.views import View, list_views, load_view, save_view, view_path
from teleforge.dataset.writer import OUTCOMES
from teleforge.errors import CurationError, RuleError, ViewError

# Columns shown first in the table, in this order; every other numeric column follows.
LEAD_COLUMNS = ("episode_id", "task", "instruction", "operator_id", "outcome", "decision", "rule", "num_steps", "duration_s")
# Catalog columns that are bookkeeping, not something to sort or judge by.
_HIDDEN = {"file", "bytes", "start_ns", "created_at", "loop_stats", "labels", "extras", "frame_age_p99_ms", "session_id",
           "metrics_shard_bytes", "metrics_version", "metrics_images", "curated_outcome", "curated_instruction", DELETED,
           "content_hash", "robot_embodiment", "recovered", "reasons"}
# Plots on the episode page: shard column -> label.
PLOT_COLUMNS = (("action", "action"), ("observation.state.ee_pos", "end-effector position (m)"),
                ("observation.state.gripper", "gripper (measured)"), ("command.gripper", "gripper (commanded)"),
                ("observation.state.joint_pos", "joint positions (rad)"))
DECISIONS = ("keep", "drop")


@dataclass
class Page:
    """One page of the episode table: ``rows`` (JSON-safe dicts), the total after filtering, the columns."""

    rows: list[dict[str, Any]]
    total: int
    offset: int
    columns: list[str]


def _clean(v: Any) -> Any:
    """JSON-safe: NaN/Inf -> None, numpy scalars -> Python."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class ReviewSession:
    """Review state of one dataset (optionally starting from a view) and the review view it writes.

    ``base``: the view whose keep/drop marks, reasons and trims are the starting point
    (None: every live episode kept). ``name``: the review view written on every decision;
    if it already exists the session resumes from it. ``who``: the reviewer, in the log.
    """

    def __init__(self, root: Path | str, base: str | None = None, name: str = "review", who: str | None = None,
                 cache_dir: Path | str | None = None) -> None:
        self.root = Path(root)
        self.ds = Dataset.open(self.root)
        view_path(self.root, name)  # refuse a bad name early
        if base == name:
            raise ViewError(f"the review view {name!r} cannot also be its base; pick another --name")
        self.name = name
        self.who = who or os.environ.get("USER", "reviewer")
        self.cache = Path(cache_dir) if cache_dir else self.root / ".cache" / "review"
        self.log_path = self.root / VIEWS / f"{name}.log.jsonl"
        self._lock = threading.RLock()
        self.base = load_view(self.root, base) if base else None
        self._load_rows()
        self._init_view()

    # --- state --------------------------------------------------------------------------
    def _load_rows(self) -> None:
        table = read_catalog(self.root)
        if not table.num_rows:
            raise CurationError(f"{self.root} has no finalized episodes; record some first (or `teleforge recover {self.root}`)")
        self.catalog_version = catalog_fingerprint(table)
        rows = [r for r in effective_rows(table) if not r[DELETED]]
        add_outlier_scores(rows)
        self.rows = rows
        self.by_id = {int(r["episode_id"]): r for r in rows}
        self.order = [int(r["episode_id"]) for r in rows]
        numeric = []
        for k, v in rows[0].items():
            if k in _HIDDEN or k in LEAD_COLUMNS:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool) or v is None:
                if any(isinstance(r.get(k), (int, float)) and not isinstance(r.get(k), bool) for r in rows[:50]):
                    numeric.append(k)
        self.metrics = sorted(numeric)
        self.columns = [*LEAD_COLUMNS, *self.metrics]
        self._dist: dict[tuple[str, str], np.ndarray] = {}

    def _init_view(self) -> None:
        """The review view: resumed from disk if it exists, else made from the base view (or all kept)."""
        path = view_path(self.root, self.name)
        if path.is_file():
            self.view = load_view(self.root, self.name, check=False)
            self.view.episodes = [i for i in self.view.episodes if i in self.by_id]
        else:
            b = self.base
            kept = [i for i in (b.episodes if b else self.order) if i in self.by_id]
            self.view = View(name=self.name, episodes=kept, trims=dict(b.trims) if b else {},
                             rejected={i: r for i, r in (b.rejected.items() if b else []) if i in self.by_id},
                             rules=b.rules if b else [], rules_hash=b.rules_hash if b else "", parent=b.name if b else None,
                             catalog_version=self.catalog_version, operation="review", extra={"decisions": {}})
        self.view.extra.setdefault("decisions", {})
        self._kept = set(self.view.episodes)
        # Duplicate clusters from any view that found them (dedupe views), first one wins.
        self.clusters: dict[int, list[int]] = {}
        for vname in list_views(self.root):
            try:
                v = load_view(self.root, vname, check=False)
            except ViewError:
                continue
            for c in v.extra.get("clusters") or []:
                for i in c:
                    self.clusters.setdefault(int(i), [int(x) for x in c])

    def decision(self, eid: int) -> str:
        return "keep" if eid in self._kept else "drop"

    def reasons(self, eid: int) -> list[dict[str, Any]]:
        return [] if eid in self._kept else list(self.view.rejected.get(eid, []))

    def _row(self, r: dict[str, Any]) -> dict[str, Any]:
        eid = int(r["episode_id"])
        reasons = self.reasons(eid)
        out = {c: _clean(r.get(c)) for c in self.columns if c not in ("decision", "rule")}
        out["decision"] = self.decision(eid)
        out["rule"] = ", ".join(str(x.get("rule")) for x in reasons)
        out["kind"] = diagnosis(reasons)
        out["reasons"] = [_reason(x) for x in reasons]
        out["trim"] = list(self.view.trims[eid]) if eid in self.view.trims else None
        out["duplicates"] = [i for i in self.clusters.get(eid, []) if i != eid]
        return out

    # --- table --------------------------------------------------------------------------
    def query(self, sort: str = "episode_id", desc: bool = False, offset: int = 0, limit: int = 50,
              where: str = "", text: str = "", equals: dict[str, str] | None = None) -> Page:
        """A page of the table. ``where``: a rule expression over any column (``idle_fraction > 0.3 and
        outcome == "success"``); ``text``: substring of instruction, task, operator or rule;
        ``equals``: exact column values (task, outcome, operator_id, decision, rule name, kind)."""
        with self._lock:
            ids = self._filtered(where, text, equals or {})
            ids = self._sorted(ids, sort, desc)
            page = ids[max(0, offset): max(0, offset) + max(1, min(limit, 500))]
            return Page([self._row(self.by_id[i]) for i in page], len(ids), offset, self.columns)

    def ordered_ids(self, sort: str = "episode_id", desc: bool = False, where: str = "", text: str = "",
                    equals: dict[str, str] | None = None) -> list[int]:
        """Every episode id the table shows for these settings, in order (for next/previous)."""
        with self._lock:
            return self._sorted(self._filtered(where, text, equals or {}), sort, desc)

    def _filtered(self, where: str, text: str, equals: dict[str, str]) -> list[int]:
        rule = None
        if where.strip():
            try:
                rule = Rule(name="filter", when=where)
            except RuleError as exc:
                raise CurationError(f"filter {where!r}: {exc}") from None
        text = text.strip().lower()
        out = []
        for eid in self.order:
            r = self.by_id[eid]
            reasons = self.reasons(eid)
            ok = True
            for k, want in equals.items():
                if not want:
                    continue
                if k == "decision":
                    ok = self.decision(eid) == want
                elif k == "rule":
                    ok = any(x.get("rule") == want for x in reasons)
                elif k == "kind":
                    ok = diagnosis(reasons) == want
                else:
                    ok = str(r.get(k)) == want
                if not ok:
                    break
            if ok and text:
                hay = " ".join(str(r.get(k) or "") for k in ("instruction", "task", "operator_id")).lower()
                hay += " " + " ".join(str(x.get("rule")) for x in reasons)
                ok = text in hay
            if ok and rule is not None:
                row = dict(r, decision=self.decision(eid), rule=",".join(str(x.get("rule")) for x in reasons))
                ok = rule.evaluate(row)[0]
            if ok:
                out.append(eid)
        return out

    def _sorted(self, ids: list[int], sort: str, desc: bool) -> list[int]:
        if sort not in self.columns and sort not in ("kind", "outlier_z"):
            raise CurationError(f"cannot sort by {sort!r}; columns: {', '.join(self.columns)}")

        def key(eid: int) -> tuple[int, Any]:
            if sort == "decision":
                v: Any = self.decision(eid)
            elif sort in ("rule", "kind"):
                reasons = self.reasons(eid)
                v = diagnosis(reasons) if sort == "kind" else ",".join(str(x.get("rule")) for x in reasons)
            else:
                v = self.by_id[eid].get(sort)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return (1, 0)  # missing values last either way
            return (0, (0, float(v), "") if isinstance(v, (int, float)) else (1, 0.0, str(v)))

        present = [i for i in ids if key(i)[0] == 0]
        missing = [i for i in ids if key(i)[0] == 1]
        present.sort(key=lambda i: (key(i)[1], i), reverse=desc)
        return present + missing

    def facets(self) -> dict[str, list[str]]:
        """Distinct values for the table's drop-down filters."""
        with self._lock:
            rules = sorted({str(x.get("rule")) for rs in self.view.rejected.values() for x in rs})
            return {
                "task": sorted({str(r.get("task")) for r in self.rows}),
                "outcome": sorted({str(r.get("outcome")) for r in self.rows}),
                "operator_id": sorted({str(r.get("operator_id")) for r in self.rows}),
                "decision": list(DECISIONS),
                "rule": rules,
            }

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {"dataset": str(self.root), "name": self.root.name, "view": self.name,
                    "base": self.base.name if self.base else None, "episodes": len(self.order),
                    "kept": len(self._kept), "dropped": len(self.order) - len(self._kept),
                    "cameras": [c.name for c in self.ds.spec.cameras], "fps": float(self.ds.spec.fps or 0),
                    "who": self.who, "metrics": self.metrics, "outcomes": list(OUTCOMES),
                    "view_path": str(view_path(self.root, self.name)), "log_path": str(self.log_path)}

    # --- episode ------------------------------------------------------------------------
    def episode(self, eid: int) -> dict[str, Any]:
        """Everything the episode page shows: row, series to plot (downsampled to ≤ 600 points),
        each metric against its task's distribution, duplicates, trim."""
        with self._lock:
            r = self._require(eid)
            ep = self.ds.episode(eid)
            n = ep.num_steps
            series = {}
            for col, label in PLOT_COLUMNS:
                if col in ep.columns:
                    a = np.asarray(ep.column(col), dtype=np.float64)
                    if a.ndim == 1:
                        a = a[:, None]
                    series[col] = {"label": label, "values": [[_clean(round(float(x), 5)) for x in row] for row in a]}
            dist = {m: self._metric_dist(m, str(r.get("task")), r.get(m)) for m in self.metrics}
            row = self._row(r)
            row["labels"] = r.get("labels") or {}
            return {"row": row, "num_steps": n, "fps": float(self.ds.spec.fps or 0),
                    "cameras": [c.name for c in self.ds.spec.cameras], "series": series, "metrics": dist,
                    "decisions": self.view.extra["decisions"].get(str(eid), [])}

    def _metric_dist(self, metric: str, task: str, value: Any) -> dict[str, Any]:
        key = (metric, task)
        if key not in self._dist:
            x = np.array([_num(r.get(metric)) for r in self.rows if str(r.get("task")) == task], float)
            self._dist[key] = np.sort(x[np.isfinite(x)])
        x = self._dist[key]
        v = _num(value)
        if not x.size:
            return {"value": _clean(v), "percentile": None, "hist": [], "lo": None, "hi": None}
        lo, hi = float(x[0]), float(x[-1])
        counts, _ = np.histogram(x, bins=24, range=(lo, hi if hi > lo else lo + 1))
        # mid-rank percentile: a value shared by most episodes sits mid-distribution, not at 100
        below, upto = np.searchsorted(x, v, side="left"), np.searchsorted(x, v, side="right")
        pct = float(below + upto) / 2 / x.size * 100 if math.isfinite(v) else None
        return {"value": _clean(v), "percentile": _clean(pct), "median": float(np.median(x)), "hist": counts.tolist(),
                "lo": lo, "hi": hi}

    def frame(self, eid: int, cam: str, step: int) -> bytes | None:
        """The recorded (JPEG) bytes of one camera frame, re-encoded as JPEG if stored raw/PNG."""
        self._require(eid)
        ep = self.ds.episode(eid)
        data = ep.image_bytes(cam, int(step))
        if data is None or data[:2] == b"\xff\xd8":
            return data
        img = ep.image(cam, int(step))
        return None if img is None else simplejpeg.encode_jpeg(np.ascontiguousarray(img), quality=85, colorspace="RGB")

    def thumbnail(self, eid: int, cam: str, step: int | None = None) -> bytes | None:
        """A small JPEG of one frame (default: the middle step), cached on disk by shard size."""
        r = self._require(eid)
        c = self.ds.spec.camera(cam)
        n = int(r.get("num_steps") or 0)
        s = n // 2 if step is None else max(0, min(int(step), n - 1))
        path = self.cache / "thumbs" / f"{eid}-{int(r.get('bytes') or 0)}-{cam}-{s}.jpg"
        if path.is_file():
            return path.read_bytes()
        ep: Episode = self.ds.episode(eid)
        if not n or cam not in [x.name for x in self.ds.spec.cameras]:
            return None
        data = ep.table.column(image_column(cam))[s].as_py()
        if data is None:
            return None
        img = thumbnail(data, c, thumb_scale(c, 2), color=True)
        out: bytes = simplejpeg.encode_jpeg(np.ascontiguousarray(img), quality=80, colorspace="RGB")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")  # server threads may race on one thumb
        tmp.write_bytes(out)
        os.replace(tmp, path)
        return out

    def _require(self, eid: int) -> dict[str, Any]:
        r = self.by_id.get(int(eid))
        if r is None:
            raise CurationError(f"episode {eid} is not a live episode of {self.root}")
        return r

    # --- decisions ----------------------------------------------------------------------
    def decide(self, eid: int, action: str, why: str = "", who: str | None = None, **args: Any) -> dict[str, Any]:
        """Record one triage decision and write the view and the log at once.

        ``action``: ``keep`` | ``drop`` | ``trim`` (``start``, ``stop``: ``[start, stop)`` steps; omit both to
        clear) | ``relabel`` (``outcome`` and/or ``instruction``). Returns the episode's updated row.
        """
        who = who or self.who
        with self._lock:
            r = self._require(eid)
            before: Any
            after: Any
            if action in DECISIONS:
                before = self.decision(eid)
                if action == "keep":
                    self._kept.add(eid)
                    self.view.rejected.pop(eid, None)
                else:
                    self._kept.discard(eid)
                    base = self.base.rejected.get(eid) if self.base else None
                    self.view.rejected[eid] = [{"rule": "manual_review", "when": "dropped in review", "kind": "review",
                                                "values": {"who": who, "why": why}}] + (base or [])
                after = action
            elif action == "trim":
                n = int(r.get("num_steps") or 0)
                before = list(self.view.trims[eid]) if eid in self.view.trims else None
                start, stop = args.get("start"), args.get("stop")
                if start is None and stop is None:
                    self.view.trims.pop(eid, None)
                    after = None
                else:
                    cur = self.view.trims.get(eid, (0, n))
                    a = int(start) if start is not None else cur[0]
                    b = int(stop) if stop is not None else cur[1]
                    if not 0 <= a < b <= n:
                        raise CurationError(f"trim {a}..{b} of episode {eid} must satisfy 0 <= start < stop <= {n}")
                    if (a, b) == (0, n):
                        self.view.trims.pop(eid, None)
                    else:
                        self.view.trims[eid] = (a, b)
                    after = [a, b]
            elif action == "relabel":
                outcome, instruction = args.get("outcome"), args.get("instruction")
                before = {"outcome": r.get("outcome"), "instruction": r.get("instruction")}
                relabel(self.root, [eid], outcome=outcome, instruction=instruction)  # catalog edit columns (the edit log)
                self._reload_row(eid)
                r = self.by_id[eid]
                after = {"outcome": r.get("outcome"), "instruction": r.get("instruction")}
            else:
                raise CurationError(f"unknown review action {action!r}; use keep, drop, trim or relabel")
            entry = {"at": now_iso(), "who": who, "episode": eid, "action": action, "why": why,
                     "before": before, "after": after, "view": self.name}
            self.view.episodes = [i for i in self.order if i in self._kept]
            self.view.catalog_version = self.catalog_version
            self.view.extra["decisions"].setdefault(str(eid), []).append({k: entry[k] for k in ("at", "who", "action", "why", "after")})
            save_view(self.root, self.view)
            self._append_log(entry)
            return self._row(r)

    def _reload_row(self, eid: int) -> None:
        table = read_catalog(self.root)
        self.catalog_version = catalog_fingerprint(table)
        for r in effective_rows(table):
            if int(r["episode_id"]) == eid:
                r["outlier_z"] = self.by_id[eid].get("outlier_z")
                r["outlier_metric"] = self.by_id[eid].get("outlier_metric")
                self.by_id[eid].update(r)
                return

    def _append_log(self, entry: dict[str, Any]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, default=str) + "\n").encode()
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(x: dict[str, Any]) -> dict[str, Any]:
    """A rejection reason as shown: the rule, its threshold expression, the measured values."""
    return {"rule": x.get("rule"), "kind": x.get("kind"), "when": x.get("when"),
            "values": {k: _clean(v) for k, v in (x.get("values") or {}).items()}}


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def read_log(root: Path | str, name: str = "review") -> list[dict[str, Any]]:
    """The review edit log ``views/<name>.log.jsonl`` as a list of entries (oldest first)."""
    path = Path(root) / VIEWS / f"{name}.log.jsonl"
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
