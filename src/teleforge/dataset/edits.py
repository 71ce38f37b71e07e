"""edits.jsonl: the append-only log of curation decisions, from which the catalog's edit columns derive.

Relabels (outcome, instruction) and deletions are user decisions that no shard
records, so they must outlive catalog.parquet. Each edit is one JSON line::

    {"episode_id": 12, "field": "curated_outcome", "value": "failure",
     "who": "alice", "when": "2025-01-01T10:00:00+00:00", "why": "gripper slipped"}

appended and fsynced under the catalog lock, then mirrored into the catalog.
The last edit of a field wins. A torn last line (a crash mid-append) is ignored
on read; ``rebuild_catalog`` re-applies the log, so deleting or losing the catalog
loses no edit. Metrics are not logged: they are recomputed from the shards.
"""

from __future__ import annotations

import getpass
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.dataset.catalog import (
    CURATED_INSTRUCTION,
    CURATED_OUTCOME,
    DELETED,
    EDIT_COLUMNS,
    read_catalog,
    set_catalog_columns,
    write_catalog,
)
from teleforge.dataset.layout import is_disk_full, now_iso
from teleforge.dataset.lock import catalog_lock
from teleforge.errors import DatasetError, DiskFullError, EpisodeNotFoundError

EDITS = "edits.jsonl"
OUTCOMES = ("success", "failure", "unknown")


@dataclass
class Edit:
    """One logged decision: set ``field`` of episode ``episode_id`` to ``value``."""

    episode_id: int
    field: str  # one of EDIT_COLUMNS
    value: Any  # str | bool | None (None clears the override)
    who: str = ""
    when: str = ""
    why: str = ""


@dataclass
class EditLog:
    """What ``read_edits`` found: the edits in order, and lines it could not use (``line: why``)."""

    edits: list[Edit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    torn_tail: bool = False

    def latest(self) -> dict[int, dict[str, Any]]:
        """episode_id -> {field: value} after replaying every edit (last one wins)."""
        out: dict[int, dict[str, Any]] = {}
        for e in self.edits:
            out.setdefault(e.episode_id, {})[e.field] = e.value
        return out


def _check_value(name: str, value: Any) -> Any:
    if name == DELETED:
        if not isinstance(value, bool):
            raise ValueError(f"{DELETED} must be true or false, not {value!r}")
    elif name == CURATED_OUTCOME:
        if value is not None and value not in OUTCOMES:
            raise ValueError(f"outcome {value!r} is not one of {', '.join(OUTCOMES)}")
    elif name == CURATED_INSTRUCTION:
        if value is not None and not isinstance(value, str):
            raise ValueError(f"instruction must be text, not {type(value).__name__}")
    else:
        raise ValueError(f"field {name!r} is not an edit column ({', '.join(EDIT_COLUMNS)})")
    return value


def _parse(line: str) -> Edit:
    d = json.loads(line)
    if not isinstance(d, dict):
        raise ValueError("not a JSON object")
    eid = d.get("episode_id")
    if not isinstance(eid, int) or isinstance(eid, bool) or eid < 0:
        raise ValueError(f"episode_id {eid!r} is not a non-negative integer")
    name = d.get("field")
    value = _check_value(str(name), d.get("value"))
    return Edit(eid, str(name), value, str(d.get("who", "")), str(d.get("when", "")), str(d.get("why", "")))


def read_edits(root: Path | str) -> EditLog:
    """Every edit in ``edits.jsonl`` (none if it does not exist). Bad lines are skipped and listed."""
    path = Path(root) / EDITS
    log = EditLog()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return log
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]
    if tail.strip():
        log.torn_tail = True  # a crash mid-append: the line never completed
    for k, raw in enumerate(complete, 1):
        if not raw.strip():
            continue
        try:
            log.edits.append(_parse(raw.decode()))
        except (ValueError, UnicodeDecodeError) as exc:
            log.problems.append(f"{path}: line {k}: {exc}")
    return log


def apply_edits(table: pa.Table, latest: dict[int, dict[str, Any]]) -> pa.Table:
    """``table`` with the logged edit columns set for the episodes it holds (pure)."""
    if not table.num_rows or not latest:
        return table
    ids = set(table.column("episode_id").to_pylist())
    return set_catalog_columns(table, {i: cols for i, cols in latest.items() if i in ids})


def _append(root: Path, edits: list[Edit]) -> None:
    path = root / EDITS
    payload = "".join(json.dumps(asdict(e), separators=(",", ":")) + "\n" for e in edits).encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        # A torn last line (crash mid-append) would swallow our first edit: start on a fresh line.
        size = os.fstat(fd).st_size
        if size:
            with open(path, "rb") as f:
                f.seek(size - 1)
                if f.read(1) != b"\n":
                    payload = b"\n" + payload
        os.write(fd, payload)
        os.fsync(fd)
    finally:
        os.close(fd)


def record_edits(root: Path | str, values: dict[int, dict[str, Any]], *, who: str | None = None, why: str = "") -> pa.Table:
    """Log (episode_id -> {edit column: value}) to edits.jsonl, then set them in the catalog; returns the catalog.

    Raises EpisodeNotFoundError for ids the catalog does not hold, DatasetError for a bad value.
    """
    root = Path(root)
    if who is None:
        try:
            who = getpass.getuser()
        except (KeyError, OSError):
            who = ""
    when = now_iso()
    edits = []
    for eid, cols in values.items():
        for name, value in cols.items():
            try:
                edits.append(Edit(int(eid), name, _check_value(name, value), who, when, why))
            except ValueError as exc:
                raise DatasetError(f"episode {eid}: {exc}") from exc
    try:
        with catalog_lock(root):
            table = read_catalog(root)
            have = set(table.column("episode_id").to_pylist()) if table.num_rows else set()
            missing = sorted(set(int(i) for i in values) - have)
            if missing:
                raise EpisodeNotFoundError(
                    f"episodes {missing[:10]} are not in {root}'s catalog (it holds {len(have)} episodes); "
                    f"check the ids with `teleforge info {root}`"
                )
            _append(root, edits)
            table = set_catalog_columns(table, {int(i): dict(c) for i, c in values.items()})
            write_catalog(root, table)
    except OSError as exc:
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while saving edits in {root}; free some space and run the edit again") from exc
        raise
    return table
