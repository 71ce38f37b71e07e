"""Live quality feedback: the card an operator sees right after saving, and the session's summary.

The numbers are curation's own (``curation.metrics.motion_metrics``, the
``curation.dedupe`` signature and the default rule set), so what the card says
is what `teleforge curate` will say later. Only the saved shard's numeric
columns are read (memory-mapped; no image is decoded), which keeps the card
well under half a second for a 60 s episode.

This sits in ``workflows`` because it joins two layer-3 packages: ``curation``
measures, ``teleop`` shows (as plain :class:`~teleforge.teleop.hud.QualityCard` data).
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.curation.dedupe import DedupeConfig, signature
from teleforge.curation.metrics import MetricsConfig, motion_metrics
from teleforge.curation.operations import relabel, set_deleted
from teleforge.curation.rules import RuleSet, default_rules
from teleforge.dataset.shard import open_shard
from teleforge.teleop.hud import CardRow, QualityCard
from teleforge.teleop.session import CARD_KEY_HELP, EpisodeResult, end_reason

# The metrics the card compares with this task's running median in the session.
CARD_METRICS: tuple[tuple[str, str, str], ...] = (
    # (metric, label, format)
    ("duration", "duration", "{:.1f} s"),
    ("idle_fraction", "idle fraction", "{:.0%}"),
    ("action_jerk_rms", "jerk (RMS)", "{:.0f} m/s^3"),
    ("path_length_m", "path length", "{:.2f} m"),
)


@dataclass
class EpisodeQuality:
    """One saved episode as the card measured it."""

    number: int
    episode_id: int
    task: str
    outcome: str
    metrics: dict[str, Any]
    signature: np.ndarray  # curation.dedupe.signature: (SIGNATURE_POINTS * 4,) float32
    fired: list[str] = field(default_factory=list)  # default rules that would reject it
    wall_s: float = 0.0
    label_disagrees: bool = False
    success_check: bool | None = None


class QualityTracker:
    """Builds each episode's card against the session so far; summarizes the session at the end.

    ``card_for`` runs off the control thread (the session's ``on_episode`` callback hands
    it to a worker), takes the saved shard's path and returns a ready
    :class:`QualityCard`.
    """

    def __init__(self, fps: float, operator_id: str = "operator", rules: RuleSet | None = None,
                 metrics: MetricsConfig | None = None, dedupe: DedupeConfig | None = None) -> None:
        self.fps = float(fps)
        self.operator_id = operator_id
        self.rules = rules or default_rules()
        self.metrics_cfg = metrics or MetricsConfig(images=False)
        self.dedupe_cfg = dedupe or DedupeConfig()
        self.episodes: list[EpisodeQuality] = []
        self.started = time.monotonic()

    # ------------------------------------------------------------------ per episode
    def measure(self, res: EpisodeResult, time_limit_s: float | None) -> EpisodeQuality:
        """Curation's motion metrics and signature of the saved shard ``res.file``; rules evaluated."""
        table, _start, _end = open_shard(Path(res.file))
        m = motion_metrics(table, self.fps, self.metrics_cfg)
        m["time_limit_frac"] = m["duration"] / time_limit_s if time_limit_s else math.nan
        row = {**m, "task": res.task, "outcome": res.outcome, "instruction": res.instruction,
               "is_success": 1 if res.outcome == "success" else 0,
               "instruction_present": 1 if res.instruction.strip() else 0,
               "label_disagrees": 1 if res.labels.get("label_disagrees") else 0}
        fired = []
        for rule in self.rules.rules:
            if rule.name == "not_success":  # the outcome is shown already; the card judges the motion
                continue
            try:
                hit, _values = rule.evaluate(row)
            except Exception:  # a rule over metrics the card does not compute (images): not judged here
                continue
            if hit:
                fired.append(rule.name)
        check = res.labels.get("success_check")
        return EpisodeQuality(res.number, int(res.episode_id or 0), res.task, res.outcome, m,
                              signature(table), fired, res.wall_s, bool(res.labels.get("label_disagrees")),
                              None if check is None else bool(check))

    def card_for(self, res: EpisodeResult, time_limit_s: float | None) -> QualityCard:
        """The card of the episode just saved (and remember it for the next ones)."""
        t0 = time.perf_counter()
        q = self.measure(res, time_limit_s)
        same_task = [e for e in self.episodes if e.task == q.task and e.outcome != "discarded"]
        rows = []
        for key, label, fmt in CARD_METRICS:
            value = q.metrics.get(key)
            if value is None or (isinstance(value, float) and not math.isfinite(value)):
                continue
            prior = [float(e.metrics[key]) for e in same_task if math.isfinite(float(e.metrics.get(key, math.nan)))]
            note, level = "first of this task in the session", "info"
            if prior:
                med = statistics.median(prior)
                note = f"median {fmt.format(med)} over {len(prior)} earlier"
                level = _compare(key, float(value), med)
            rows.append(CardRow(label, fmt.format(value), note, level))
        if q.success_check is not None:
            verdict = "task check: SUCCESS" if q.success_check else "task check: not achieved"
            agrees = "" if not q.label_disagrees else " (disagrees with the label)"
            rows.append(CardRow("success check", verdict.split(": ")[1] + agrees, "",
                                "bad" if q.label_disagrees else ("ok" if q.success_check else "warn")))
        dup = self._near_duplicate(q, same_task)
        self.episodes.append(q)
        if q.fired:
            verdict, level = f"curation would reject it: {', '.join(q.fired)}", "bad"
        elif q.label_disagrees:
            verdict, level = "the label and the task check disagree: relabel it (1 / 2) or keep it for review", "bad"
        else:
            verdict, level = "passes the default curation rules", "ok"
        card = QualityCard(
            number=res.number, episode_id=q.episode_id, outcome=res.outcome,
            end_reason=end_reason(str(res.labels.get("ended_by", "")), res.outcome, time_limit_s or 0.0),
            rows=tuple(rows), success_check=q.success_check, duplicate_of=dup, verdict=verdict, verdict_level=level,
            keys=CARD_KEY_HELP,
        )
        return _with_ready(card, time.perf_counter() - t0)

    def _near_duplicate(self, q: EpisodeQuality, earlier: list[EpisodeQuality]) -> int | None:
        """Session number of the closest earlier episode within curation's near-duplicate tolerance."""
        if not earlier:
            return None
        points = q.signature.size // 4
        sigs = np.stack([e.signature for e in earlier])
        rms = np.linalg.norm(sigs - q.signature[None, :], axis=1) / np.sqrt(points)
        exact = [e for e in earlier if e.metrics.get("content_hash") == q.metrics.get("content_hash")]
        if exact:
            return exact[0].number
        best = int(np.argmin(rms))
        return earlier[best].number if rms[best] <= self.dedupe_cfg.tolerance_m else None

    # ------------------------------------------------------------------ session
    def forget(self, episode_id: int) -> None:
        """The operator discarded a saved episode from its card: leave it out of medians and summary."""
        for e in self.episodes:
            if e.episode_id == episode_id:
                e.outcome = "discarded"

    def relabelled(self, episode_id: int, outcome: str) -> None:
        """The operator relabelled a saved episode from its card."""
        for e in self.episodes:
            if e.episode_id == episode_id:
                e.outcome = outcome
                if e.success_check is not None:
                    e.label_disagrees = outcome in ("success", "failure") and (outcome == "success") != e.success_check

    def summary(self, results: list[EpisodeResult]) -> dict[str, Any]:
        """Per-operator summary: episodes, success, medians of the card's metrics, time per kept episode."""
        kept = [e for e in self.episodes if e.outcome != "discarded"]
        discarded = sum(1 for r in results if r.outcome == "discarded")
        elapsed = time.monotonic() - self.started
        out: dict[str, Any] = {
            "operator_id": self.operator_id,
            "episodes_kept": len(kept),
            "episodes_discarded": discarded,
            "success": sum(1 for e in kept if e.outcome == "success"),
            "failure": sum(1 for e in kept if e.outcome == "failure"),
            "unknown": sum(1 for e in kept if e.outcome == "unknown"),
            "label_disagreements": sum(1 for e in kept if e.label_disagrees),
            "pass_default_rules": sum(1 for e in kept if not e.fired),
            "session_s": round(elapsed, 1),
            "time_per_kept_episode_s": round(elapsed / len(kept), 1) if kept else None,
        }
        for key, _label, _fmt in CARD_METRICS:
            vals = [float(e.metrics[key]) for e in kept if math.isfinite(float(e.metrics.get(key, math.nan)))]
            out[f"median_{key}"] = statistics.median(vals) if vals else None
        return out


def _compare(key: str, value: float, median: float) -> str:
    """'ok' near the median, 'warn' when clearly worse (longer, idler, shakier, longer path)."""
    if median <= 0:
        return "ok" if value <= 0 else "warn"
    ratio = value / median
    return "warn" if ratio > 1.5 else "ok"


def _with_ready(card: QualityCard, seconds: float) -> QualityCard:
    from dataclasses import replace

    return replace(card, ready_s=seconds)


class CatalogReview:
    """:class:`~teleforge.teleop.ports.EpisodeReview` over a dataset's catalog (curation's edits;
    the shards never change): discard = soft delete, relabel = curated outcome."""

    def __init__(self, root: Path, tracker: QualityTracker | None = None) -> None:
        self.root = Path(root)
        self.tracker = tracker

    def discard(self, episode_id: int) -> None:
        """Soft-delete ``episode_id`` (`teleforge curate restore` undoes it)."""
        set_deleted(self.root, [int(episode_id)], True)
        if self.tracker is not None:
            self.tracker.forget(int(episode_id))

    def relabel(self, episode_id: int, outcome: str) -> None:
        """Set the curated outcome of ``episode_id``."""
        relabel(self.root, [int(episode_id)], outcome=outcome)
        if self.tracker is not None:
            self.tracker.relabelled(int(episode_id), outcome)
