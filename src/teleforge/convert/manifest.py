"""What an export came from: ``teleforge_export.json`` in every export folder.

It records the source, the episodes (with trims), the view and its curation rules, and
statistics, so ``teleforge push`` can write an honest card from the folder alone, long
after the native dataset moved.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.schema import feature_schema
from teleforge.dataset.selection import ExportSource
from teleforge.errors import ExportError

EXPORT_MANIFEST = "teleforge_export.json"
# Numeric columns the manifest summarizes per dimension (never images).
STATS_COLUMNS = ("action", "observation.state.joint_pos", "observation.state.ee_pos")


def compute_stats(src: ExportSource) -> dict[str, Any]:
    """Counts and per-dimension action/state statistics (reads numeric columns only, never images)."""
    ds = src.dataset
    infos = {e.episode_id: e for e in ds.episodes}
    acc: dict[str, list[np.ndarray]] = {k: [] for k in STATS_COLUMNS}
    lengths: list[int] = []
    outcomes: Counter[str] = Counter()
    tasks: Counter[str] = Counter()
    durations = 0.0
    instructions: dict[str, Counter] = {}
    for i in src.episode_ids:
        ep = ds.episode(i)
        meta = infos.get(i) or ep.meta
        lengths.append(ep.num_steps)
        outcomes[meta.outcome] += 1
        tasks[meta.task] += 1
        instructions.setdefault(meta.task, Counter())[meta.instruction] += 1
        durations += float(meta.duration_s or 0.0)
        for k in acc:
            acc[k].append(np.asarray(ep.column(k), np.float64))
    stats: dict[str, Any] = {
        "episodes": len(lengths),
        "steps": int(sum(lengths)),
        "hours": durations / 3600.0,
        "steps_per_episode": {"min": min(lengths), "mean": float(np.mean(lengths)), "max": max(lengths)},
        "outcomes": dict(outcomes),
        "tasks": dict(tasks),
        "instructions": {t: dict(c) for t, c in instructions.items()},
    }
    for k, arrs in acc.items():
        a = np.concatenate(arrs) if arrs else np.zeros((0, 1))
        if len(a):
            stats[k] = {s: getattr(np, s)(a, axis=0).round(6).tolist() for s in ("mean", "std", "min", "max")}
    return stats


def export_manifest(src: ExportSource, fmt: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of an export of ``src`` in format ``fmt``; ``extra`` keys are merged in (conventions, files)."""
    ds = src.dataset
    infos = {e.episode_id: e for e in ds.episodes}
    sessions = [asdict(s) for s in ds.sessions] if hasattr(ds, "sessions") else []
    return {
        "format": fmt,
        "source": str(ds.root.resolve()),
        "source_format_version": ds.format_version,
        "spec": ds.spec.to_dict(),
        "features": feature_schema(ds.spec),
        "view": src.view,
        "view_info": src.view_info,
        "episodes": [
            {**{k: getattr(infos[i], k) for k in ("episode_id", "task", "instruction", "outcome", "num_steps", "device",
                                                   "operator_id", "session_id")},
             **({"trim": list(src.trims[i])} if i in src.trims else {})}
            for i in src.episode_ids if i in infos
        ],
        "sessions": sessions,
        "stats": compute_stats(src),
        **(extra or {}),
    }


def write_export_manifest(folder: Path, manifest: dict[str, Any]) -> Path:
    """Write ``folder/teleforge_export.json``; returns its path."""
    path = Path(folder) / EXPORT_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, default=str))
    return path


def read_export_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of an export folder (a LeRobot folder without one: what meta/info.json tells)."""
    path = Path(folder) / EXPORT_MANIFEST
    if path.is_file():
        return json.loads(path.read_text())
    info = Path(folder) / "meta" / "info.json"  # a LeRobot export written elsewhere
    if info.is_file():
        meta = json.loads(info.read_text())
        return {"format": "lerobot", "spec": {"fps": meta.get("fps"), "robot_embodiment": meta.get("robot_type")},
                "stats": {"episodes": meta.get("total_episodes"), "steps": meta.get("total_frames")}}
    raise ExportError(
        f"{folder} is not a teleforge export (no {EXPORT_MANIFEST} or meta/info.json); "
        "make one with `teleforge export hf|lerobot|robomimic|aloha` first"
    )
