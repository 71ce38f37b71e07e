"""Helper for the integrity tests: make a shard look like one written before checksums existed."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa

from teleforge.dataset.schema import META_END


def strip_checksums(path: Path) -> None:
    """Rewrite ``path`` with the same batches and an end record without ``checksums``."""
    reader = pa.ipc.open_stream(pa.OSFile(str(path)))
    batches = []
    while True:
        try:
            b, md = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            break
        if md is not None and META_END in md:
            end = json.loads(md[META_END])
            end.pop("checksums", None)
            md = {META_END: json.dumps(end).encode()}
        batches.append((b, md))
    tmp = path.with_name(path.name + ".tmp")
    with pa.OSFile(str(tmp), "wb") as f, pa.ipc.new_stream(f, reader.schema) as w:
        for b, md in batches:
            w.write_batch(b, custom_metadata=md) if md is not None else w.write_batch(b)
    tmp.replace(path)
