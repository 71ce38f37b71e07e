"""After a crash: salvage ``.partial`` shards, quarantine unreadable ones, rebuild the catalog.

Never deletes data that could not be salvaged: unreadable files move to
``episodes/corrupt/``. Safe to run any number of times.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from teleforge.dataset.catalog import json_field, read_catalog, rebuild_catalog
from teleforge.dataset.layout import (
    CORRUPT,
    EPISODES,
    dumps,
    fsync_dir,
    now_iso,
    parse_shard_name,
    read_manifest,
    shard_name,
)
from teleforge.dataset.schema import META_END, image_column
from teleforge.dataset.shard import ShardContents, read_shard
from teleforge.errors import CorruptShardError, DatasetError


@dataclass
class RecoverReport:
    """What ``recover`` did; every list holds episode ids."""

    recovered: list[int] = field(default_factory=list)  # .partial -> finalized, outcome unknown
    recovered_steps: dict[int, int] = field(default_factory=dict)
    repaired: list[int] = field(default_factory=list)  # damaged finalized shards cut to their readable prefix
    quarantined: list[str] = field(default_factory=list)  # files moved to episodes/corrupt/
    catalog_episodes: int = 0
    messages: list[str] = field(default_factory=list)


def _quarantine(path: Path, report: RecoverReport, why: str) -> None:
    dest_dir = path.parent / CORRUPT
    dest_dir.mkdir(exist_ok=True)
    dest = dest_dir / (path.name + ".corrupt")
    k = 1
    while dest.exists():
        dest = dest_dir / f"{path.name}.corrupt.{k}"
        k += 1
    os.replace(path, dest)
    fsync_dir(path.parent)
    report.quarantined.append(str(dest.relative_to(path.parent.parent)))
    report.messages.append(f"{path.name}: {why}; moved to {dest.relative_to(path.parent.parent)}")


def _loop_stats_from_ticks(ticks: np.ndarray, fps: float) -> dict[str, float | int]:
    if len(ticks) < 2:
        return {"steps": int(len(ticks))}
    periods = np.diff(ticks) / 1e6
    target = 1e3 / fps
    return {
        "target_period_ms": target,
        "steps": int(len(ticks)),
        "period_p50_ms": float(np.percentile(periods, 50)),
        "period_p99_ms": float(np.percentile(periods, 99)),
        # A recovered episode lost the clock's own count; a period over 1.5x target is a missed deadline.
        "missed_deadlines": int((periods > 1.5 * target).sum()),
        "source": "recomputed from tick_ns by recover",
    }


def _salvage(c: ShardContents, fps: float, cams: list[str], outcome: str, labels: dict, note: str) -> dict:
    table = pa.Table.from_batches(c.batches, schema=c.schema)
    n = table.num_rows
    ticks = table.column("tick_ns").to_numpy() if n else np.zeros(0, np.int64)
    frames, image_bytes = {}, {}
    for cam in cams:
        col = table.column(image_column(cam))
        frames[cam] = n - col.null_count
        image_bytes[cam] = int(sum(len(v) for v in col.to_pylist() if v is not None)) if n else 0
    return {
        "outcome": outcome,
        "loop_stats": _loop_stats_from_ticks(ticks, fps),
        "labels": {**labels, "recovered": note},
        "num_steps": n,
        "first_tick_ns": int(ticks[0]) if n else None,
        "last_tick_ns": int(ticks[-1]) if n else None,
        "duration_s": float((ticks[-1] - ticks[0]) / 1e9 + 1.0 / fps) if n else 0.0,
        "frames": frames,
        "image_bytes": image_bytes,
        "success_steps": int(np.asarray(table.column("success").to_numpy(zero_copy_only=False)).sum()) if n else 0,
        "recorder": {},
        "recovered": True,
        "finished_at": now_iso(),
    }


def _write_finalized(c: ShardContents, end: dict, dest: Path) -> None:
    """Write batches + end record to ``dest`` via a temp name, fsync, atomic rename."""
    tmp = dest.with_name(dest.name + ".recovering")
    with open(tmp, "wb") as f:
        with pa.ipc.new_stream(f, c.schema) as w:
            for b in c.batches:
                w.write_batch(b)
            empty = pa.RecordBatch.from_pylist([], schema=c.schema)
            w.write_batch(empty, custom_metadata={META_END: dumps(end).encode()})
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def recover(root: Path | str) -> RecoverReport:
    """Finalize every ``.partial`` shard (outcome ``unknown``, ``recovered=True``), keeping
    every complete record batch; cut damaged finalized shards to their readable prefix
    (the original goes to episodes/corrupt/); quarantine unreadable files; rebuild the catalog."""
    root = Path(root)
    _, spec = read_manifest(root)
    cams = spec.camera_names
    report = RecoverReport()
    ep_dir = root / EPISODES
    if not ep_dir.is_dir():
        raise DatasetError(f"{root} has no episodes/ folder; nothing to recover")
    for leftover in ep_dir.glob("*.recovering"):  # a recover that was itself interrupted
        leftover.unlink()
    old = {r["episode_id"]: r for r in read_catalog(root).to_pylist()}

    for path in sorted(ep_dir.iterdir()):
        parsed = parse_shard_name(path.name)
        if parsed is None or not path.is_file():
            continue
        ep_id, is_partial = parsed
        final = ep_dir / shard_name(ep_id)
        try:
            c = read_shard(path, salvage=True)
        except CorruptShardError as exc:
            _quarantine(path, report, f"unreadable ({exc.__cause__ or exc})")
            continue
        if not is_partial and c.end is not None and c.damage is None:
            continue  # healthy finalized shard
        if is_partial and final.exists():
            _quarantine(path, report, f"a finalized {final.name} already exists")
            continue
        if is_partial and c.end is not None and c.damage is None:
            # Crashed between closing the shard and renaming it: it is complete.
            os.replace(path, final)
            fsync_dir(ep_dir)
            report.recovered.append(ep_id)
            report.recovered_steps[ep_id] = c.num_rows
            report.messages.append(f"episode {ep_id}: shard was complete ({c.end.get('outcome')}); renamed to {final.name}")
            continue
        if c.num_rows == 0:
            _quarantine(path, report, "no complete steps were written before the crash")
            continue
        if is_partial:
            note = "salvaged from a .partial shard after a crash" + (f" (torn tail: {c.damage})" if c.damage else "")
            end = _salvage(c, spec.fps, cams, "unknown", {}, note)
            _write_finalized(c, end, final)
            path.unlink()  # every complete batch now lives in `final`
            report.recovered.append(ep_id)
            report.recovered_steps[ep_id] = c.num_rows
            report.messages.append(f"episode {ep_id}: recovered {c.num_rows} steps as outcome 'unknown'")
        else:
            prev = old.get(ep_id) or {}
            outcome = (c.end or {}).get("outcome") or prev.get("outcome") or "unknown"
            labels = (c.end or {}).get("labels") or json_field(prev.get("labels"))
            end = _salvage(c, spec.fps, cams, outcome, labels, f"finalized shard was damaged ({c.damage or 'no end record'})")
            bad = ep_dir / CORRUPT / (path.name + ".corrupt")
            bad.parent.mkdir(exist_ok=True)
            if not bad.exists():  # keep the damaged original: recover never destroys bytes
                shutil.copy2(path, bad)
            _write_finalized(c, end, final)
            report.repaired.append(ep_id)
            report.quarantined.append(str(bad.relative_to(root)))
            report.messages.append(
                f"episode {ep_id}: damaged shard cut to its {c.num_rows} readable steps; original kept in {bad.relative_to(root)}"
            )
    table = rebuild_catalog(root)
    report.catalog_episodes = table.num_rows
    return report
