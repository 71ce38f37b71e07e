"""catalog.parquet: one row per finalized episode, rebuilt from the shards on demand.

The catalog is an index, never the source of truth: every field in it is also in
the shard's own metadata, so ``rebuild_catalog`` can always regenerate it.
Columns other tools add (curation metrics) are carried over on rebuild.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from teleforge.dataset.layout import CATALOG, EPISODES, atomic_write_bytes, dumps, parse_shard_name
from teleforge.dataset.lock import catalog_lock
from teleforge.dataset.shard import read_shard_meta
from teleforge.errors import CatalogError, CorruptShardError

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
        ("checksum", pa.string()),  # the shard's checksums, folded into one (``algo:hex``); None for old shards
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
        "checksum": fold_checksums(end.get("checksums")),
    }


def fold_checksums(checks: Any) -> str | None:
    """One ``algo:hex`` digest of a shard's per-batch checksums (end metadata ``checksums``), or None."""
    if not isinstance(checks, dict) or not isinstance(checks.get("batches"), list):
        return None
    import zlib

    return f"{checks.get('algo', '?')}:{zlib.crc32(dumps(checks['batches']).encode()):08x}"


def read_catalog(root: Path | str) -> pa.Table:
    """The catalog table (empty with the standard columns when none exists yet).

    The file is read once into memory and parsed from there: a writer renaming a
    new catalog over it mid-read cannot mix two files' pages. A damaged file raises
    CatalogError (``teleforge recover`` rebuilds it from the shards and edits.jsonl).
    """
    path = Path(root) / CATALOG
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return CATALOG_SCHEMA.empty_table()
    except IsADirectoryError as exc:
        raise CatalogError(f"{path} is a folder, not a catalog; move it away and run `teleforge recover {root}`") from exc
    try:
        # ParquetFile.read, not pq.read_table: read_table goes through pyarrow.dataset, whose
        # thread pool can abort the interpreter at exit ("terminate called without an active
        # exception", pyarrow 26, ~1 run in 4) and which imports pandas (~0.2 s per command).
        table = pq.ParquetFile(pa.BufferReader(data)).read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise CatalogError(
            f"{path} is damaged ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); run "
            f"`teleforge recover {root}` to rebuild it from the shards (curation edits are kept in edits.jsonl)"
        ) from exc
    missing = [n for n in ("episode_id", "file", "bytes") if n not in table.column_names]
    if missing:
        raise CatalogError(f"{path} has no {', '.join(missing)} column; run `teleforge recover {root}` to rebuild it")
    for name, ok in (("episode_id", pa.types.is_integer), ("bytes", pa.types.is_integer), ("file", pa.types.is_string)):
        if not ok(table.schema.field(name).type):
            raise CatalogError(f"{path}: column {name} is {table.schema.field(name).type}; run `teleforge recover {root}` "
                               "to rebuild the catalog from the shards")
    return table


def write_catalog(root: Path, table: pa.Table) -> None:
    """Atomic: write to a temp file, fsync, rename over catalog.parquet.

    Callers that read the catalog first hold :func:`catalog_lock` around both.
    """
    table = table.sort_by("episode_id") if table.num_rows else table
    buf = io.BytesIO()
    pq.write_table(table, buf)
    atomic_write_bytes(Path(root) / CATALOG, buf.getvalue())


def clean_stale_temps(root: Path) -> list[str]:
    """Remove ``.catalog.parquet.tmp-<pid>`` files whose writer is gone; returns their names."""
    from teleforge.dataset.lock import pid_alive

    removed = []
    for p in Path(root).glob(f".{CATALOG}.tmp-*"):
        pid = p.name.rsplit("-", 1)[-1]
        if pid.isdigit() and (int(pid) == os.getpid() or pid_alive(int(pid))):
            continue  # a live process is writing it right now
        p.unlink(missing_ok=True)
        removed.append(p.name)
    return removed


def shard_path(root: Path, file: Any) -> Path:
    """The shard a catalog row's ``file`` names, confined to the dataset's episodes/ folder.

    A ``file`` such as ``/etc/passwd`` or ``../x`` raises CatalogError instead of being opened.
    """
    name = str(file or "")
    parts = name.split("/")
    if len(parts) != 2 or parts[0] != EPISODES or parse_shard_name(parts[1]) is None or parts[1].endswith(".partial"):
        raise CatalogError(
            f"{Path(root) / CATALOG}: field 'file' is {name[:80]!r}, not episodes/ep-NNNNNN.arrow; "
            f"run `teleforge recover {root}` to rebuild the catalog from the shards"
        )
    return Path(root) / EPISODES / parts[1]


def _rows_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA)


def upsert_rows(root: Path, rows: list[dict[str, Any]]) -> pa.Table:
    """Add (or replace, by episode_id) rows, keeping any extra columns (curation metrics).

    Under the catalog lock; a damaged catalog is rebuilt from the shards first.
    """
    with catalog_lock(root):
        try:
            old = read_catalog(root)
        except CatalogError:
            old = _rebuild_locked(Path(root))
        return _upsert_locked(root, old, rows)


def _upsert_locked(root: Path, old: pa.Table, rows: list[dict[str, Any]]) -> pa.Table:
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
    """Regenerate catalog.parquet from the finalized shards alone (under the catalog lock).

    Unreadable shards are skipped (``teleforge recover`` reports and quarantines
    them); extra columns of the previous catalog (metrics) are carried over by
    episode id when it is readable; the edit columns are re-applied from edits.jsonl.
    """
    with catalog_lock(root):
        return _rebuild_locked(Path(root))


def _rebuild_locked(root: Path) -> pa.Table:
    from teleforge.dataset.edits import apply_edits, read_edits  # edits builds on this module

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
    try:
        old = read_catalog(root)
    except CatalogError:
        old = CATALOG_SCHEMA.empty_table()  # metrics are recomputable; edits come back from edits.jsonl
    extra = [n for n in old.column_names if n not in CATALOG_SCHEMA.names]
    if extra and old.num_rows and table.num_rows:
        by_id = {r["episode_id"]: r for r in old.select(["episode_id", *extra]).to_pylist()}
        for name in extra:
            vals = [by_id.get(i, {}).get(name) for i in table.column("episode_id").to_pylist()]
            table = table.append_column(old.schema.field(name), pa.array(vals, type=old.schema.field(name).type))
    table = apply_edits(table, read_edits(root).latest())
    write_catalog(root, table)
    return table


def set_catalog_columns(table: pa.Table, values: dict[int, dict[str, Any]]) -> pa.Table:
    """``table`` with (episode_id -> {column: value}) set, adding columns as needed (pure; no I/O)."""
    ids = table.column("episode_id").to_pylist()
    names: list[str] = []
    for cols in values.values():
        for k in cols:
            if k not in names:
                names.append(k)
    for name in names:
        old = table.column(name).to_pylist() if name in table.column_names else [None] * len(ids)
        new = [values[i][name] if i in values and name in values[i] else o for i, o in zip(ids, old)]
        arr = column_array(new, table.schema.field(name).type if name in table.column_names else None)
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), pa.field(name, arr.type), arr)
        else:
            table = table.append_column(pa.field(name, arr.type), arr)
    return table


def column_array(values: list[Any], old_type: pa.DataType | None) -> pa.Array:
    """An Arrow array for a catalog column: the old type where it fits, else inferred (text as a last resort)."""
    try:
        arr = pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        arr = pa.array([None if v is None else str(v) for v in values], pa.string())
    if pa.types.is_null(arr.type) and old_type is not None:
        return pa.array(values, old_type)
    if pa.types.is_integer(arr.type) and old_type is not None and pa.types.is_floating(old_type):
        return arr.cast(old_type)
    return arr


def json_field(value: str | None) -> Any:
    """Parse a JSON text column value; None, empty or invalid JSON gives an empty dict."""
    if not value:
        return {}
    try:
        return json.loads(value)
    except ValueError:
        return {}


# --- imports: which source episodes a dataset already holds -------------------------
IMPORT_KEY = "import_key"  # in EpisodeStart.extras: "<resolved source>#<episode key in it>"
_SOURCE_EPISODE_KEYS = ("demo", "lerobot_episode_index", "episode_key")


def import_key(extras: dict[str, Any]) -> str | None:
    """The identity of an imported episode from its extras (``source`` + demo / episode index), or None."""
    src = extras.get("source")
    if not src:
        return None
    sub = next((extras[k] for k in _SOURCE_EPISODE_KEYS if extras.get(k) is not None), "")
    return f"{Path(str(src)).resolve()}#{sub}"


def imported_episodes(root: Path | str) -> dict[str, int]:
    """import key -> episode id of every imported episode in the catalog (a rerun skips them)."""
    table = read_catalog(Path(root))
    if not table.num_rows or "extras" not in table.column_names:
        return {}
    out: dict[str, int] = {}
    for eid, extras in zip(table.column("episode_id").to_pylist(), table.column("extras").to_pylist()):
        key = json_field(extras).get(IMPORT_KEY) if extras else None
        if isinstance(key, str):
            out[key] = int(eid)
    return out
