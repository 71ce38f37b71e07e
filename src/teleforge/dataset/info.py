"""``teleforge info``: one dict that summarizes a dataset and its timing health."""

from __future__ import annotations

from collections import Counter
from typing import Any

from teleforge.dataset.episode import EpisodeInfo
from teleforge.dataset.layout import EPISODES, parse_shard_name
from teleforge.dataset.reader import Dataset
from teleforge.errors import CatalogError


def _disk_bytes(ds: Dataset) -> int:
    return sum(p.stat().st_size for p in ds.root.rglob("*") if p.is_file())


def consistency_warnings(ds: Dataset, eps: list[EpisodeInfo]) -> list[str]:
    """Where the shards on disk and the catalog disagree (one line each, with what to run)."""
    on_disk = set()
    ep_dir = ds.root / EPISODES
    if ep_dir.is_dir():
        on_disk = {p.name for p in ep_dir.iterdir() if (parsed := parse_shard_name(p.name)) and not parsed[1]}
    listed = {e.file.rsplit("/", 1)[-1]: e.episode_id for e in eps}
    out = []
    unlisted = sorted(on_disk - set(listed))
    if unlisted:
        out.append(f"{len(unlisted)} shard(s) are not in the catalog ({', '.join(unlisted[:5])}"
                   f"{' …' if len(unlisted) > 5 else ''}); run `teleforge recover {ds.root}`")
    gone = sorted(n for n in listed if n not in on_disk)
    if gone:
        out.append(f"{len(gone)} catalog row(s) have no shard ({', '.join(gone[:5])}{' …' if len(gone) > 5 else ''}); "
                   f"run `teleforge verify {ds.root}`, then `teleforge recover {ds.root}`")
    return out


def summarize(ds: Dataset) -> dict[str, Any]:
    """Episodes, steps, tasks, outcomes, cameras, disk size, duration and timing health.

    ``warnings`` lists what does not add up (a damaged catalog, shards and catalog disagreeing).
    """
    warnings: list[str] = []
    try:
        eps = ds.episodes
    except CatalogError as exc:
        eps = []
        warnings.append(str(exc))
    warnings += consistency_warnings(ds, eps)
    p99 = [e.period_p99_ms for e in eps if e.period_p99_ms is not None]
    p50 = sorted(e.period_p50_ms for e in eps if e.period_p50_ms is not None)
    ages = [a for e in eps for a in e.frame_age_p99_ms.values()]
    worst_age_cam: dict[str, float] = {}
    for e in eps:
        for cam, a in e.frame_age_p99_ms.items():
            worst_age_cam[cam] = max(worst_age_cam.get(cam, 0.0), float(a))
    timing: dict[str, Any] = {
        "worst_period_p99_ms": round(max(p99), 3) if p99 else None,
        "median_period_p50_ms": round(p50[len(p50) // 2], 3) if p50 else None,
        "total_missed_deadlines": sum(e.missed_deadlines for e in eps),
        "worst_frame_age_p99_ms": round(max(ages), 3) if ages else None,
        "episodes_recorder_behind": sum(1 for e in eps if e.recorder_behind_steps > 0),
        "recorder_behind_steps": sum(e.recorder_behind_steps for e in eps),
    }
    for cam, a in sorted(worst_age_cam.items()):
        timing[f"worst_frame_age_p99_ms.{cam}"] = round(a, 3)
    return {
        "path": str(ds.root),
        "format_version": ds.format_version,
        "robot_embodiment": ds.spec.robot_embodiment,
        "fps": ds.spec.fps,
        "episodes": len(eps),
        "steps": sum(e.num_steps for e in eps),
        "duration_s": float(sum(e.duration_s for e in eps)),
        "disk_bytes": _disk_bytes(ds),
        "cameras": [f"{c.name} {c.height}x{c.width} {c.encoding}" + (" + depth (png16, mm)" if c.depth else "")
                    for c in ds.spec.cameras],
        "outcomes": dict(Counter(e.outcome for e in eps)),
        "tasks": dict(Counter(e.task for e in eps)),
        "sessions": len({e.session_id for e in eps}),
        "operators": sorted({e.operator_id for e in eps if e.operator_id}),
        "recovered": sum(1 for e in eps if e.recovered),
        "partial": len(list((ds.root / EPISODES).glob("*.arrow.partial"))),
        "timing": timing,
        "warnings": warnings,
    }
