"""Reading one episode shard (an Arrow IPC stream), strictly or salvaging a prefix.

Shard layout: the schema's metadata holds the EpisodeStart (JSON), each record
batch holds a few steps, and a final (usually empty) batch carries the
EpisodeEnd in its custom metadata. A shard without that end batch is either
still recording, or was cut short by a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.dataset.schema import META_END, META_START, META_VERSION, check_version
from teleforge.errors import CorruptShardError


@dataclass
class ShardContents:
    """What could be read from a shard, in order, up to the first damage."""

    schema: pa.Schema
    start: dict[str, Any]
    batches: list[pa.RecordBatch] = field(default_factory=list)
    end: dict[str, Any] | None = None
    damage: str | None = None  # why reading stopped early (torn tail), None if the stream ended cleanly

    @property
    def num_rows(self) -> int:
        """Steps read so far, over every batch."""
        return sum(b.num_rows for b in self.batches)


def _hint(path: Path) -> str:
    root = path.parent.parent
    return f"run `teleforge recover {root}` to salvage its readable steps (unreadable files are moved to episodes/corrupt/)"


def _open(path: Path) -> pa.ipc.RecordBatchStreamReader:
    try:
        reader = pa.ipc.open_stream(pa.memory_map(str(path), "r"))
        # Column names are decoded lazily, and a damaged name raises UnicodeDecodeError wherever it
        # is first read: decode them here, once.
        reader.schema.names  # noqa: B018
        return reader
    except (pa.ArrowException, OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise CorruptShardError(f"{path}: not a readable episode shard ({exc}); {_hint(path)}") from exc


def _start_meta(path: Path, schema: pa.Schema) -> dict[str, Any]:
    md = schema.metadata or {}
    if META_START not in md:
        raise CorruptShardError(f"{path}: Arrow stream without teleforge episode metadata; {_hint(path)}")
    check_version(md.get(META_VERSION, b"1.0").decode("utf-8", "replace"), str(path))
    try:
        start = json.loads(md[META_START])
    except ValueError as exc:
        raise CorruptShardError(f"{path}: episode metadata is not valid JSON ({exc}); {_hint(path)}") from exc
    if not isinstance(start, dict):
        raise CorruptShardError(f"{path}: episode metadata is not a JSON object; {_hint(path)}")
    return start


def read_shard(path: Path, salvage: bool = False) -> ShardContents:
    """Read every record batch. ``salvage=True`` stops quietly at a torn tail
    (recording in progress or a crash) instead of raising CorruptShardError."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorruptShardError(f"{path}: cannot open the shard ({exc.strerror or exc}); {_hint(path)}") from exc
    if size == 0:
        raise CorruptShardError(f"{path}: empty file (crashed before its header was written); {_hint(path)}")
    reader = _open(path)
    out = ShardContents(schema=reader.schema, start=_start_meta(path, reader.schema))
    while True:
        try:
            batch, md = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        except (pa.ArrowException, OSError, ValueError) as exc:  # e.g. ArrowNotImplementedError on a damaged type
            if not salvage:
                raise CorruptShardError(
                    f"{path}: shard is truncated or damaged after {out.num_rows} steps ({exc}); {_hint(path)}"
                ) from exc
            out.damage = str(exc)
            break
        if md is not None and META_END in md:
            try:
                out.end = json.loads(md[META_END])
                if not isinstance(out.end, dict):
                    out.end = None
                    raise ValueError("the end record is not a JSON object")
            except ValueError as exc:
                if not salvage:
                    raise CorruptShardError(f"{path}: end metadata is not valid JSON ({exc}); {_hint(path)}") from exc
                out.damage = str(exc)
        if batch.num_rows:
            out.batches.append(batch)
    return out


def open_shard(path: Path) -> tuple[pa.Table, dict[str, Any], dict[str, Any]]:
    """Strictly read a finalized shard: table, start metadata, end metadata."""
    c = read_shard(path)
    if c.end is None:
        raise CorruptShardError(f"{path}: shard has no end record (truncated or never finalized); {_hint(Path(path))}")
    n = c.end.get("num_steps", c.num_rows)
    if not isinstance(n, int) or isinstance(n, bool) or n != c.num_rows:
        raise CorruptShardError(
            f"{path}: shard holds {c.num_rows} steps but its end record says {c.end.get('num_steps')}; {_hint(Path(path))}"
        )
    return pa.Table.from_batches(c.batches, schema=c.schema), c.start, c.end


def read_shard_meta(path: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Start and end metadata of a shard (batches are memory-mapped, not copied)."""
    c = read_shard(path)
    return c.start, c.end
