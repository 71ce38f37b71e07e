"""After a crash: salvage ``.partial`` shards, quarantine unreadable ones, rebuild the catalog.

Never deletes data that could not be salvaged: unreadable files move to
``episodes/corrupt/``. Safe to run any number of times, and while other processes
record into the dataset: a ``.partial`` whose writer is still alive (its file lock
or its writer lock is held; see :mod:`teleforge.dataset.lock`) is left alone and
reported as skipped. A damaged catalog.parquet is rebuilt from the shards alone,
curation edits re-applied from edits.jsonl.
"""

from __future__ import annotations

import os
import shutil
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.dataset.catalog import clean_stale_temps, json_field, read_catalog, rebuild_catalog
from teleforge.dataset.layout import (
    CORRUPT,
    EPISODES,
    dumps,
    fsync_dir,
    is_disk_full,
    now_iso,
    parse_shard_name,
    read_manifest,
    shard_name,
)
from teleforge.dataset.lock import live_writers, try_lock_file, writer_alive
from teleforge.dataset.schema import META_END, DatasetSpec, image_column
from teleforge.dataset.shard import ShardContents, read_shard
from teleforge.dataset.writer import CHECKSUM_ALGO, batch_checksum
from teleforge.errors import CatalogError, CorruptShardError, DatasetError, DiskFullError


@dataclass
class RecoverReport:
    """What ``recover`` did; every list holds episode ids."""

    recovered: list[int] = field(default_factory=list)  # .partial -> finalized, outcome unknown
    recovered_steps: dict[int, int] = field(default_factory=dict)
    repaired: list[int] = field(default_factory=list)  # damaged finalized shards cut to their readable prefix
    quarantined: list[str] = field(default_factory=list)  # files moved to episodes/corrupt/
    catalog_episodes: int = 0
    messages: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "<file>: why" for .partial shards of live writers


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


def _loop_stats_from_ticks(ticks: np.ndarray, fps: float) -> dict[str, float | int | str]:
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


def _salvage(c: ShardContents, fps: float, cams: list[str], outcome: str, labels: dict[str, Any], note: str) -> dict[str, Any]:
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


def _write_finalized(c: ShardContents, end: dict[str, Any], dest: Path) -> None:
    """Write batches + end record to ``dest`` via a temp name, fsync, atomic rename."""
    tmp = dest.with_name(dest.name + ".recovering")
    with open(tmp, "wb") as f:
        with pa.ipc.new_stream(f, c.schema) as w:
            sums = []
            for b in c.batches:
                w.write_batch(b)
                sums.append(batch_checksum(b))
            empty = pa.RecordBatch.from_pylist([], schema=c.schema)
            end = {**end, "checksums": {"algo": CHECKSUM_ALGO, "batches": [*sums, batch_checksum(empty)]}}
            w.write_batch(empty, custom_metadata={META_END: dumps(end).encode()})
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def recover(root: Path | str) -> RecoverReport:
    """Finalize every ``.partial`` shard whose writer is gone (outcome ``unknown``,
    ``recovered=True``), keeping every complete record batch; cut damaged finalized shards
    to their readable prefix (the original goes to episodes/corrupt/); quarantine unreadable
    files; rebuild the catalog. ``.partial`` shards of live writers are skipped (``report.skipped``)."""
    root = Path(root)
    try:
        return _recover(root)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while recovering {root}; free some space and run `teleforge recover {root}` again "
                                "(it is safe to rerun: nothing was deleted)") from exc
        raise


def _live_reason(path: Path, root: Path, held: ExitStack, any_live: bool) -> str | None:
    """Why the ``.partial`` at ``path`` must be left alone (its writer lives), or None.

    Takes the shard's file lock and keeps it (in ``held``) while recover works on it.
    """
    try:
        f = held.enter_context(open(path, "rb"))
    except FileNotFoundError:
        return "finalized or discarded meanwhile"
    locked = not try_lock_file(f)
    try:
        wid = read_shard(path, salvage=True).start.get("writer")
    except CorruptShardError:
        wid = None
        if not locked and any_live:
            return "header not readable while other writers are live (it may be starting); rerun recover when they stop"
    alive, why = writer_alive(root, wid) if isinstance(wid, str) and wid else (False, "")
    if alive:
        return why
    if locked:
        return "being written by a live writer (file locked)"
    return None


def _recover(root: Path) -> RecoverReport:
    _, spec = read_manifest(root)
    report = RecoverReport()
    ep_dir = root / EPISODES
    if not ep_dir.is_dir():
        raise DatasetError(f"{root} has no episodes/ folder; nothing to recover")
    for leftover in ep_dir.glob("*.recovering"):  # a recover that was itself interrupted
        leftover.unlink()
    for name in clean_stale_temps(root):
        report.messages.append(f"removed {name}, left by an interrupted catalog write")
    try:
        old = {r["episode_id"]: r for r in read_catalog(root).to_pylist()}
    except CatalogError as exc:
        old = {}
        report.messages.append(f"catalog.parquet was damaged ({str(exc).split(';')[0]}); rebuilt from the shards and edits.jsonl")
    any_live = bool(live_writers(root))
    for path in sorted(ep_dir.iterdir()):
        parsed = parse_shard_name(path.name)
        if parsed is None or not path.is_file():
            continue
        with ExitStack() as held:
            if parsed[1]:
                why = _live_reason(path, root, held, any_live)
                if why is not None:
                    report.skipped.append(f"{path.name}: {why}")
                    continue
            _recover_one(root, path, parsed, spec, old, report)
    table = rebuild_catalog(root)
    report.catalog_episodes = table.num_rows
    return report


def _recover_one(root: Path, path: Path, parsed: tuple[int, bool], spec: DatasetSpec, old: dict[int, dict[str, Any]], report: RecoverReport) -> None:
    ep_dir = path.parent
    cams = spec.camera_names
    ep_id, is_partial = parsed
    final = ep_dir / shard_name(ep_id)
    try:
        c = read_shard(path, salvage=True)
    except CorruptShardError as exc:
        _quarantine(path, report, f"unreadable ({exc.__cause__ or exc})")
        return
    if not is_partial and c.end is not None and c.damage is None:
        return  # healthy finalized shard
    if is_partial and final.exists():
        _quarantine(path, report, f"a finalized {final.name} already exists")
        return
    if is_partial and c.end is not None and c.damage is None:
        # Crashed between closing the shard and renaming it: it is complete.
        os.replace(path, final)
        fsync_dir(ep_dir)
        report.recovered.append(ep_id)
        report.recovered_steps[ep_id] = c.num_rows
        report.messages.append(f"episode {ep_id}: shard was complete ({c.end.get('outcome')}); renamed to {final.name}")
        return
    if c.num_rows == 0:
        _quarantine(path, report, "no complete steps were written before the crash")
        return
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
