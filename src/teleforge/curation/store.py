"""Curation columns in catalog.parquet: metrics, relabels, deletions.

The catalog is rewritten atomically (temp + rename); shards are only ever read.
Columns the catalog rebuild does not know are carried over by episode id, so
metrics and edits survive `teleforge recover` and new recordings.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.curation.image_health import arm_path, image_health
from teleforge.curation.metrics import METRICS_VERSION, MetricsConfig, motion_metrics_batch
from teleforge.dataset.catalog import (
    CATALOG_SCHEMA,
    CURATED_INSTRUCTION,
    CURATED_OUTCOME,
    DELETED,
    EDIT_COLUMNS,
    json_field,
    read_catalog,
    set_catalog_columns,
    write_catalog,
)
from teleforge.dataset.engine import current_engine
from teleforge.dataset.fs import push_file, stage_dataset
from teleforge.dataset.layout import CATALOG
from teleforge.dataset.lock import catalog_lock
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import DatasetSpec
from teleforge.dataset.shard import open_shard
from teleforge.errors import CurationError

# The edit columns (curated outcome / instruction, deleted) are named in teleforge.dataset.catalog.
VERSION_COL = "metrics_version"
STAMP_COL = "metrics_shard_bytes"  # shard size when measured: a re-recorded / recovered shard is re-measured


@dataclass
class MetricsRun:
    """What `compute_metrics` did."""

    computed: int
    skipped: int
    steps: int
    frames_decoded: int
    seconds: float


def catalog_fingerprint(table: pa.Table) -> str:
    """A short hash of the catalog's episode set (id, file, size): a view records it as its source version."""
    h = hashlib.sha256()
    if table.num_rows:
        for i, f, b in zip(
            table.column("episode_id").to_pylist(), table.column("file").to_pylist(), table.column("bytes").to_pylist()
        ):
            h.update(f"{i}:{f}:{b};".encode())
    return h.hexdigest()[:16]


def effective_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Catalog rows with overrides applied (outcome, instruction) and JSON fields parsed."""
    rows = table.to_pylist()
    for r in rows:
        if r.get(CURATED_OUTCOME):
            r["outcome"] = r[CURATED_OUTCOME]
        if r.get(CURATED_INSTRUCTION):
            r["instruction"] = r[CURATED_INSTRUCTION]
        r[DELETED] = bool(r.get(DELETED) or False)
        r["is_success"] = 1 if r.get("outcome") == "success" else 0
        r["instruction_present"] = 1 if str(r.get("instruction") or "").strip() else 0
        r["labels"] = json_field(r.get("labels")) if isinstance(r.get("labels"), str) else (r.get("labels") or {})
        r["label_disagrees"] = _label_disagrees(r["labels"], r.get("outcome"))
        extras = json_field(r.get("extras")) if isinstance(r.get("extras"), str) else (r.get("extras") or {})
        limit = extras.get("time_limit_s") if isinstance(extras, dict) else None
        if r.get("time_limit_frac") is None:
            dur = r.get("duration", r.get("duration_s"))
            r["time_limit_frac"] = float(dur) / float(limit) if limit and dur is not None else math.nan
    return rows


def _label_disagrees(labels: Any, outcome: Any) -> int:
    """1 when the (effective) success/failure outcome contradicts the recorded success check.

    Judged on the effective outcome, so a curated relabel that agrees with the check clears it.
    """
    check = labels.get("success_check") if isinstance(labels, dict) else None
    if not isinstance(check, bool) or outcome not in ("success", "failure"):
        return 0
    return int((outcome == "success") != check)


def set_columns(root: Path, values: dict[int, dict[str, Any]]) -> pa.Table:
    """Set (episode_id -> {column: value}) in catalog.parquet, adding columns as needed.

    A read-modify-write under the catalog lock, so a concurrent recording or edit loses
    nothing. Edit columns (relabels, deletions) go through :func:`teleforge.dataset.edits.record_edits`.
    """
    names = {k for cols in values.values() for k in cols}
    for name in sorted(names):
        if name in CATALOG_SCHEMA.names or name in EDIT_COLUMNS:
            raise CurationError(f"refusing to overwrite recorded or edit column {name!r}; curation writes its own columns")
    with catalog_lock(root):
        table = read_catalog(root)
        if not table.num_rows:
            raise CurationError(f"{root} has no finalized episodes in catalog.parquet; record some, or run `teleforge recover {root}`")
        ids = table.column("episode_id").to_pylist()
        have = set(ids)
        # An episode removed meanwhile (quarantined by recover) just loses its values: metrics are recomputable.
        values = {i: v for i, v in values.items() if i in have}
        table = set_catalog_columns(table, values)
        write_catalog(root, table)
    return table


def episode_metrics(ds: Dataset, file: str, cfg: MetricsConfig, time_limit_s: float | None = None) -> tuple[dict[str, Any], int]:
    """All metrics of one episode shard (motion + per-camera image health) and frames decoded."""
    return _episode_metrics(ds.root, ds.spec, file, cfg, time_limit_s)


def _episode_metrics(root: Path, spec: DatasetSpec, file: str, cfg: MetricsConfig,
                     time_limit_s: float | None) -> tuple[dict[str, Any], int]:
    return _batch_metrics(root, spec, [file], cfg, [time_limit_s])[0]


def _batch_metrics(root: Path, spec: DatasetSpec, files: list[str] | tuple[str, ...], cfg: MetricsConfig,
                   time_limits_s: list[float | None] | tuple[float | None, ...]) -> list[tuple[dict[str, Any], int]]:
    """Motion metrics of every shard in one vectorized pass, then image health per episode and camera."""
    tables = [open_shard(root / f)[0] for f in files]
    out = []
    for table, m, limit in zip(tables, motion_metrics_batch(tables, spec.fps, cfg), time_limits_s):
        m["time_limit_frac"] = m["duration"] / limit if limit else math.nan
        decoded = 0
        ages = []
        path = arm_path(table) if cfg.images and spec.cameras else None
        for cam in spec.cameras if cfg.images else []:
            h, d = image_health(table, cam, spec.fps, cfg.thumb_scale, cfg.image_stride, path)
            decoded += d
            for k, v in h.items():
                m[f"img_{cam.name}_{k}"] = v
            if not math.isnan(h["age_p99_ms"]):
                ages.append(h["age_p99_ms"])
        m["frame_age_max_p99_ms"] = max(ages) if ages else math.nan
        out.append((m, decoded))
    return out


# Episodes measured per engine job: the dataset is opened (and, when remote, staged) once per
# batch instead of once per episode, and a Ray task carries enough work to pay for its dispatch.
BATCH_EPISODES = 64


@dataclass(frozen=True)
class _MetricsJob:
    """A batch of episodes to measure, as an engine job (plain values: it may travel to a Ray worker)."""

    location: str  # dataset folder or object-storage URI
    files: tuple[str, ...]
    cfg: MetricsConfig
    time_limits_s: tuple[float | None, ...]


def _measure(job: _MetricsJob) -> list[tuple[dict[str, Any], int]]:
    root = stage_dataset(job.location, list(job.files))  # a remote dataset: fetch only these shards
    spec = Dataset.open(root).spec
    return _batch_metrics(root, spec, job.files, job.cfg, job.time_limits_s)


def compute_metrics(
    dataset: Path | str | Dataset,
    cfg: MetricsConfig | None = None,
    *,
    force: bool = False,
    episodes: Iterable[int] | None = None,
    on_episode: Callable[[int], None] | None = None,
) -> MetricsRun:
    """Measure every episode not yet measured at this metrics version; store the columns.

    Idempotent: an episode already measured (same version, same shard size) is skipped.
    """
    location = str(dataset.root if isinstance(dataset, Dataset) else dataset)
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(stage_dataset(dataset))
    cfg = cfg or MetricsConfig()
    table = read_catalog(ds.root)
    if not table.num_rows:
        raise CurationError(f"{ds.root} has no finalized episodes; record some first (or `teleforge recover {ds.root}`)")
    rows = table.to_pylist()
    want = None if episodes is None else set(int(i) for i in episodes)
    t0 = time.perf_counter()
    values: dict[int, dict[str, Any]] = {}
    skipped = steps = decoded = 0
    todo: list[tuple[dict[str, Any], float | None]] = []
    for r in rows:
        eid = int(r["episode_id"])
        if want is not None and eid not in want:
            continue
        fresh = r.get(VERSION_COL) == METRICS_VERSION and r.get(STAMP_COL) == r["bytes"]
        if fresh and not force and (r.get("metrics_images") or not cfg.images):
            skipped += 1
            if on_episode:
                on_episode(eid)
            continue
        extras = json_field(r.get("extras"))
        limit = extras.get("time_limit_s") if isinstance(extras, dict) else None
        todo.append((r, float(limit) if limit else None))
    batches = [todo[i:i + BATCH_EPISODES] for i in range(0, len(todo), BATCH_EPISODES)]
    jobs = [_MetricsJob(location, tuple(r["file"] for r, _ in b), cfg, tuple(lim for _, lim in b)) for b in batches]
    # Episodes are independent: the engine in force (local, or Ray with --engine ray) measures
    # the batches; results come back in catalog order, so both engines store identical columns.
    engine = current_engine()
    if engine.name == "local":  # batch by batch here, so progress ticks as it goes
        results = []
        for b, job in zip(batches, jobs):
            results.append(_measure(job))
            if on_episode:
                for r, _ in b:
                    on_episode(int(r["episode_id"]))
    else:
        results = engine.map(_measure, jobs)
    for b, res in zip(batches, results):
        for (r, _lim), (m, d) in zip(b, res):
            eid = int(r["episode_id"])
            m[VERSION_COL] = METRICS_VERSION
            m[STAMP_COL] = int(r["bytes"]) if r.get("bytes") is not None else -1  # unknown size: re-measured next time
            m["metrics_images"] = bool(cfg.images)
            values[eid] = m
            steps += int(m["length"])
            decoded += d
            if on_episode and engine.name != "local":
                on_episode(eid)
    if values:
        set_columns(ds.root, values)
        push_file(ds.root, location, CATALOG)  # a dataset on object storage gets its catalog back
    return MetricsRun(len(values), skipped, steps, decoded, time.perf_counter() - t0)


def require_metrics(table: pa.Table, root: Path) -> None:
    versions = table.column(VERSION_COL).to_pylist() if VERSION_COL in table.column_names else [None]
    if any(v is None for v in versions):
        raise CurationError(f"{root}: some episodes have no metrics yet; run `teleforge curate metrics {root}` first")
    if any(v != METRICS_VERSION for v in versions):
        raise CurationError(
            f"{root}: metrics were computed by another teleforge version (metrics v{sorted(set(versions))}, this is "
            f"v{METRICS_VERSION}); run `teleforge curate metrics {root}` to update them"
        )
