"""Write a view (or several datasets) into a new native dataset: ``curate apply`` and ``merge``.

Sources are only read. Each output shard is a fresh Arrow IPC stream with
renumbered episode ids, the trimmed steps, the effective outcome/instruction,
and a ``curation`` record of where it came from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute as pc

from teleforge.curation.store import effective_rows
from teleforge.dataset.catalog import (
    CATALOG_SCHEMA,
    catalog_row,
    read_catalog,
    write_catalog,
)
from teleforge.dataset.layout import (
    EPISODES,
    MANIFEST,
    check_compatible,
    create_dataset,
    dumps,
    fsync_dir,
    read_manifest,
    shard_name,
)
from teleforge.dataset.schema import META_END, META_START, DatasetSpec
from teleforge.dataset.shard import open_shard
from teleforge.dataset.views import View, load_view
from teleforge.errors import CurationError, DatasetError


@dataclass
class Materialized:
    root: Path
    episodes: int
    steps: int
    mapping: dict[str, int]  # "<source>:<id>" -> new id


def _write_shard(path: Path, table: pa.Table, start: dict[str, Any], end: dict[str, Any]) -> int:
    md = dict(table.schema.metadata or {})
    md[META_START] = dumps(start).encode()
    schema = table.schema.with_metadata(md)
    tmp = path.with_name(path.name + ".partial")
    with open(tmp, "wb") as f:
        with pa.ipc.new_stream(f, schema) as w:
            for batch in table.cast(schema).to_batches(max_chunksize=256):
                w.write_batch(batch)
            w.write_batch(pa.RecordBatch.from_pylist([], schema=schema), custom_metadata={META_END: dumps(end).encode()})
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path.stat().st_size


def _copy_episode(
    src_root: Path, row: dict[str, Any], dst_root: Path, new_id: int, trim: tuple[int, int] | None, provenance: dict[str, Any],
) -> dict[str, Any]:
    table, start, end = open_shard(src_root / row["file"])
    n = table.num_rows
    a, b = trim if trim else (0, n)
    table = table.slice(a, b - a)
    start = dict(start)
    end = dict(end)
    start["episode_id"] = new_id
    start["instruction"] = row["instruction"]  # effective (relabels applied)
    extras = dict(start.get("extras") or {})
    extras["curation"] = {**provenance, "source_episode": int(row["episode_id"]), "trim": [a, b] if trim else None}
    start["extras"] = extras
    ticks = table.column("tick_ns").to_pylist() if table.num_rows else []
    end["outcome"] = row["outcome"]
    end["num_steps"] = table.num_rows
    if ticks:
        fps = float(start.get("fps") or 0) or None
        end["first_tick_ns"], end["last_tick_ns"] = ticks[0], ticks[-1]
        end["duration_s"] = (ticks[-1] - ticks[0]) / 1e9 + (1.0 / fps if fps else 0.0)
    if "success" in table.column_names:
        end["success_steps"] = int(pc.sum(table.column("success")).as_py() or 0)
    file = f"{EPISODES}/{shard_name(new_id)}"
    nbytes = _write_shard(dst_root / file, table, start, end)
    return catalog_row(start, end, file, nbytes)


def _prepare(dst: Path, spec: DatasetSpec, src: Path) -> None:
    if dst.exists() and any(dst.iterdir()):
        raise CurationError(f"{dst} already exists and is not empty; choose a new folder for the output dataset")
    if dst.resolve() == src.resolve():
        raise CurationError("the output dataset must be a new folder, not the source")
    create_dataset(dst, spec)


def apply_view(root: Path | str, view: str | View, out: Path | str, on_episode: Callable[[int], None] | None = None) -> Materialized:
    """Materialize a view: kept episodes, trimmed, renumbered from 0, into a new dataset folder."""
    root, out = Path(root), Path(out)
    v = view if isinstance(view, View) else load_view(root, view)
    _, spec = read_manifest(root)
    rows = {int(r["episode_id"]): r for r in effective_rows(read_catalog(root))}
    _prepare(out, spec, root)
    prov = {"source_dataset": str(root.resolve()), "view": v.name, "rules_hash": v.rules_hash,
            "catalog_version": v.catalog_version}
    cat_rows, mapping, steps = [], {}, 0
    for new_id, eid in enumerate(v.episodes):
        r = _copy_episode(root, rows[eid], out, new_id, v.trims.get(eid), prov)
        cat_rows.append(r)
        mapping[f"{root}:{eid}"] = new_id
        steps += r["num_steps"]
        if on_episode:
            on_episode(eid)
    _finish(out, cat_rows)
    return Materialized(out, len(cat_rows), steps, mapping)


def merge_datasets(sources: list[Path | str], out: Path | str, on_episode: Callable[[int], None] | None = None) -> Materialized:
    """Concatenate datasets recorded with the same setup (robot, joints, cameras, fps) into a new one."""
    srcs = [Path(s) for s in sources]
    if len(srcs) < 2:
        raise CurationError("merge needs at least two source datasets")
    out = Path(out)
    specs = [read_manifest(s)[1] for s in srcs]
    for s, sp in zip(srcs[1:], specs[1:]):
        try:
            check_compatible(s, specs[0], sp)
        except DatasetError as exc:
            raise CurationError(
                f"cannot merge {s} into a dataset shaped like {srcs[0]}: {exc}. Export one of them to the other's "
                f"setup, or keep them as separate datasets."
            ) from exc
    _prepare(out, specs[0], srcs[0])
    cat_rows: list[dict[str, Any]] = []
    mapping, steps = {}, 0
    for s in srcs:
        for row in sorted((r for r in effective_rows(read_catalog(s)) if not r["deleted"]), key=lambda r: r["episode_id"]):
            new_id = len(cat_rows)
            r = _copy_episode(s, row, out, new_id, None, {"source_dataset": str(s.resolve()), "merged": True})
            cat_rows.append(r)
            mapping[f"{s}:{row['episode_id']}"] = new_id
            steps += r["num_steps"]
            if on_episode:
                on_episode(int(row["episode_id"]))
    _finish(out, cat_rows)
    return Materialized(out, len(cat_rows), steps, mapping)


def _finish(out: Path, rows: list[dict[str, Any]]) -> None:
    fsync_dir(out / EPISODES)
    write_catalog(out, pa.Table.from_pylist(rows, schema=CATALOG_SCHEMA))
    (out / EPISODES / ".next_id").write_text(f"{len(rows)}\n")
    json.loads((out / MANIFEST).read_text())  # sanity: the manifest is readable
