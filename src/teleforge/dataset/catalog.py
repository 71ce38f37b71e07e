"""catalog.parquet: one row per finalized episode, rebuilt from the shards on demand.

The catalog is an index, never the source of truth: every field in it is also in
the shard's own metadata, so ``rebuild_catalog`` can always regenerate it.
Columns other tools add (curation metrics) are carried over on rebuild.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from teleforge.dataset.layout import CATALOG, EPISODES, atomic_write_bytes, dumps, parse_shard_name
from teleforge.dataset.shard import read_shard_meta
from teleforge.errors import CorruptShardError

# Edit columns curation writes (``teleforge curate relabel`` / ``delete``) and every
# reader of "which episodes" honours: the effective outcome / instruction is the
# curated one when set; a deleted episode is hidden from every selection.
CURATED_OUTCOME = "curated_outcome"
CURATED_INSTRUCTION = "curated_instruction"
DELETED = "deleted"
EDIT_COLUMNS = (CURATED_OUTCOME, CURATED_INSTRUCTION, DELETED)

CATALOG_SCHEMA = pa.schema(
    [
        ("episode_id", pa.int64()),
        ("file", pa.string()),  # relative to the dataset root
        ("task", pa.string()),
        ("instruction", pa.string()),
        ("robot_embodiment", pa.string()),
        ("seed", pa.int64()),
        ("device", pa.string()),
        ("operator_id", pa.string()),
        ("session_id", pa.string()),
        ("outcome", pa.string()),
        ("num_steps", pa.int64()),
        ("duration_s", pa.float64()),
        ("start_ns", pa.int64()),  # monotonic clock of the first step (same clock as tick_ns)
        ("recovered", pa.bool_()),
        ("period_p50_ms", pa.float64()),
        ("period_p99_ms", pa.float64()),
        ("missed_deadlines", pa.int64()),
        ("frame_age_p99_ms", pa.string()),  # JSON {camera: ms}
        ("frame_age_p99_ms_max", pa.float64()),  # worst camera, for sorting/filtering
        ("recorder_behind_steps", pa.int64()),  # steps that waited beyond the queue capacity
        ("queue_high_water", pa.int64()),
        ("loop_stats", pa.string()),  # JSON: everything the session clock and the recorder measured
        ("labels", pa.string()),  # JSON
        ("extras", pa.string()),  # JSON
        ("created_at", pa.string()),  # ISO 8601 UTC, when finalized
        ("bytes", pa.int64()),
    ]
)


def _f(x: Any) -> float | None:
    try:
        return None if x is None else float(x)
    except (TypeError, ValueError):
        return None


def catalog_row(start: dict[str, Any], end: dict[str, Any], file: str, nbytes: int) -> dict[str, Any]:
    """Flatten a shard's start + end metadata into one catalog row."""
    loop = end.get("loop_stats") or {}
    ages = loop.get("frame_age_p99_ms") or {}
    ages = ages if isinstance(ages, dict) else {}
    rec = end.get("recorder") or {}
    seed = start.get("seed")
    return {
        "episode_id": int(start["episode_id"]),
        "file": file,
        "task": str(start.get("task", "")),
        "instruction": str(start.get("instruction", "")),
        "robot_embodiment": str(start.get("robot_embodiment", "")),
        "seed": None if seed is None else int(seed),
        "device": str(start.get("device", "")),
        "operator_id": str(start.get("operator_id", "")),
        "session_id": str(start.get("session_id", "")),
        "outcome": str(end.get("outcome", "unknown")),
        "num_steps": int(end.get("num_steps", 0)),
        "duration_s": float(end.get("duration_s", 0.0)),
        "start_ns": int(end.get("first_tick_ns") or start.get("start_ns") or 0),
        "recovered": bool(end.get("recovered", False)),
        "period_p50_ms": _f(loop.get("period_p50_ms")),
        "period_p99_ms": _f(loop.get("period_p99_ms")),
        "missed_deadlines": int(loop.get("missed_deadlines", 0) or 0),
        "frame_age_p99_ms": dumps(ages),
        "frame_age_p99_ms_max": max((float(v) for v in ages.values()), default=None),
        "recorder_behind_steps": int(rec.get("overflow_steps", 0) or 0),
        "queue_high_water": int(rec.get("queue_high_water", 0) or 0),
        "loop_stats": dumps(loop),
        "labels": dumps(end.get("labels") or {}),
        "extras": dumps(start.get("extras") or {}),
        "created_at": str(end.get("finished_at", "")),
        "bytes": int(nbytes),
    }


def read_catalog(root: Path) -> pa.Table:
    """The catalog table (empty with the standard columns when none exists yet)."""
    path = Path(root) / CATALOG
    if not path.is_file():
        return CATALOG_SCHEMA.empty_table()
    return pq.read_table(path)


def write_catalog(root: Path, table: pa.Table) -> None:
    """Atomic: write to a temp file, fsync, rename over catalog.parquet."""
    table = table.sort_by("episode_id") if table.num_rows else table
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(Path(root) / CATALOG, buf.getvalue())


def _rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA)


def upsert_rows(root: Path, rows: list[dict[str, Any]]) -> pa.Table:
    """Add (or replace, by episode_id) rows, keeping any extra columns (curation metrics)."""
    old = read_catalog(root)
    new = _rows_table(rows)
    ids = {r["episode_id"] for r in rows}
    if old.num_rows:
        keep = pa.array([i not in ids for i in old.column("episode_id").to_pylist()])
        old = old.filter(keep)
        table = pa.concat_tables([old, new], promote_options="permissive")
    else:
        table = new
    write_catalog(root, table)
    return table


def rebuild_catalog(root: Path | str) -> pa.Table:
    """Regenerate catalog.parquet from the finalized shards alone.

    Unreadable shards are skipped (``teleforge recover`` reports and quarantines
    them); extra columns of the previous catalog are carried over by episode id.
    """
    root = Path(root)
    rows = []
    for p in sorted((root / EPISODES).glob("ep-*.arrow")):
        if parse_shard_name(p.name) is None:
            continue
        try:
            start, end = read_shard_meta(p)
        except CorruptShardError:
            continue
        if end is None:
            continue
        rows.append(catalog_row(start, end, f"{EPISODES}/{p.name}", p.stat().st_size))
    table = _rows_table(rows)
    old = read_catalog(root)
    extra = [n for n in old.column_names if n not in CATALOG_SCHEMA.names]
    if extra and old.num_rows and table.num_rows:
        by_id = {r["episode_id"]: r for r in old.select(["episode_id", *extra]).to_pylist()}
        for name in extra:
            vals = [by_id.get(i, {}).get(name) for i in table.column("episode_id").to_pylist()]
            table = table.append_column(old.schema.field(name), pa.array(vals, type=old.schema.field(name).type))
    write_catalog(root, table)
    return table


def json_field(value: str | None) -> Any:
    """Parse a JSON text column value; None, empty or invalid JSON gives an empty dict."""
    if not value:
        return {}
    try:
        return json.loads(value)
    except ValueError:
        return {}
