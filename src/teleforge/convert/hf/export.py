"""Native dataset (or view) -> a Hugging Face ``datasets`` folder (``save_to_disk``).

One row per step with ``episode_index``, ``frame_index``, ``timestamp`` (s since
the episode's first step), ``task``, ``instruction`` and every native column;
cameras are ``Image`` features holding the recorded JPEG/PNG bytes unchanged
(raw frames are PNG-encoded, losslessly). Rows are generated episode by episode,
so memory stays bounded whatever the dataset size.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import simplejpeg

from teleforge.convert.hf.compat import make_features_portable
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import batches, map_in_order
from teleforge.dataset.schema import DatasetSpec, image_column, step_fields
from teleforge.dataset.selection import ExportSource
from teleforge.errors import ExportError
from teleforge.spec import ACTION_NAMES

PREVIEW = "preview.jpg"
_DROP = ("step",)  # becomes frame_index


@dataclass
class HfExport:
    """What an HF export wrote: the folder, episodes and rows (steps)."""

    folder: Path
    episodes: int
    rows: int


def hf_features(spec: DatasetSpec) -> Any:
    """The ``datasets.Features`` of an export: episode columns first, native columns, cameras as Image."""
    import datasets  # lazy: `datasets` takes seconds to import; only HF exports need it

    fields = [
        pa.field("episode_index", pa.int64()),
        pa.field("frame_index", pa.int64()),
        pa.field("timestamp", pa.float32()),
        pa.field("task", pa.string()),
        pa.field("instruction", pa.string()),
        pa.field("outcome", pa.string()),
    ] + [f for f in step_fields(spec) if f.name not in _DROP]
    features = datasets.Features.from_arrow_schema(pa.schema(fields))
    for cam in spec.cameras:
        features[image_column(cam.name)] = datasets.Image()
    return features


_INDEX_FEATURES = {
    "episode_index": {"dtype": "int64", "shape": [], "meaning": "native episode id"},
    "frame_index": {"dtype": "int64", "shape": [], "meaning": "step within the exported (trimmed) episode, from 0"},
    "timestamp": {"dtype": "float32", "shape": [], "meaning": "seconds since the episode's first exported step"},
    "task": {"dtype": "string", "shape": []},
    "instruction": {"dtype": "string", "shape": []},
    "outcome": {"dtype": "string", "shape": []},
}


def export_features(native: dict[str, dict[str, Any]], columns: list[str]) -> dict[str, dict[str, Any]]:
    """The manifest's feature table keyed exactly by the data's columns, in column order.

    ``native`` is the native schema (:func:`teleforge.dataset.schema.feature_schema`): its ``step``
    is the data's ``frame_index``; the episode columns are described here."""
    return {c: native.get(c) or _INDEX_FEATURES.get(c) or {"dtype": "unknown", "shape": []} for c in columns}


def _image_payload(spec: DatasetSpec, cam: str, data: bytes | None) -> dict[str, Any] | None:
    if data is None:
        return None
    c = spec.camera(cam)
    if c.encoding == "raw":  # datasets needs an image file format; PNG keeps it exact
        img = np.frombuffer(data, np.uint8).reshape(c.height, c.width, 3)
        data = cv2.imencode(".png", np.ascontiguousarray(img[:, :, ::-1]))[1].tobytes()
    return {"bytes": data, "path": None}


@dataclass(frozen=True)
class _RowsJob:
    """A few episodes' rows for one engine job: the source (plain state) and their ids."""

    source: dict[str, Any]  # ExportSource.to_state() with an absolute root
    episode_ids: list[int]


EPISODES_PER_JOB = 8  # episodes whose rows one engine job builds
JOBS_IN_FLIGHT = 8  # jobs whose tables (images included) are held at once


def _image_column(spec: DatasetSpec, cam: str, column: pa.ChunkedArray) -> pa.Array:
    """A camera column as the ``Image`` feature's storage: struct {bytes, path}, null where no frame."""
    frames = column.combine_chunks()
    if spec.camera(cam).encoding == "raw":  # datasets needs an image file format; PNG keeps it exact
        frames = pa.array([None if d is None else _image_payload(spec, cam, d)["bytes"]  # type: ignore[index]
                           for d in frames.to_pylist()], pa.binary())
    frames = frames.cast(pa.binary())
    paths = pa.nulls(len(frames), pa.string())
    return pa.StructArray.from_arrays([frames, paths], names=["bytes", "path"], mask=frames.is_null())


def _rows_job(job: _RowsJob) -> pa.Table:
    """Engine job: the export rows of a few episodes as one Arrow table in the features' schema.

    Only the view's kept steps; ``frame_index`` and ``timestamp`` count from the first kept step.
    Built column by column (no per-row Python), images as stored (raw frames PNG-encoded)."""
    src = ExportSource.from_state(job.source)
    spec = src.dataset.spec
    schema = hf_features(spec).arrow_schema
    cams = {image_column(c): c for c in spec.camera_names}
    parts = []
    for ep_id in job.episode_ids:
        ep = src.episode(ep_id)
        meta = ep.meta
        table = ep.table
        n = table.num_rows
        if not n:
            continue
        tick = np.asarray(table.column("tick_ns").to_numpy(), np.int64)
        cols: dict[str, Any] = {
            "episode_index": pa.array(np.full(n, ep_id, np.int64)),
            "frame_index": pa.array(np.arange(n, dtype=np.int64)),
            "timestamp": pa.array((tick - tick[0]) / 1e9),
            "task": pa.array([meta.task] * n, pa.string()),
            "instruction": pa.array([meta.instruction] * n, pa.string()),
            "outcome": pa.array([meta.outcome] * n, pa.string()),
        }
        for f in schema:
            if f.name in cols:
                continue
            if f.name in cams:
                cols[f.name] = _image_column(spec, cams[f.name], table.column(f.name))
            else:
                cols[f.name] = table.column(f.name)
        parts.append(pa.table([cols[f.name].cast(f.type) for f in schema], schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _write_preview(src: ExportSource, ep_id: int, folder: Path) -> str | None:
    """First exported frame of the first camera, for the card (as stored: no re-encode for JPEG)."""
    ds = src.dataset
    if not ds.spec.cameras:
        return None
    cam = ds.spec.cameras[0]
    ep = src.episode(ep_id)
    for i in range(ep.num_steps):
        data = ep.image_bytes(cam.name, i)
        if data is not None:
            if cam.encoding != "jpeg":
                data = simplejpeg.encode_jpeg(np.ascontiguousarray(ep.image(cam.name, i)), quality=90, colorspace="RGB")
            (folder / PREVIEW).write_bytes(data)
            return PREVIEW
    return None


def export_hf(src: ExportSource, out: Path | str, *, overwrite: bool = False, max_shard_size: str = "500MB",
              num_proc: int | None = None) -> HfExport:
    """Write a ``datasets`` folder at ``out``; built beside it and renamed, so ``out`` is never half-written."""
    import datasets  # lazy: `datasets` takes seconds to import; only HF exports need it
    from datasets.arrow_writer import ArrowWriter

    out = Path(out)
    ds = src.dataset
    stage = stage_output(out, overwrite=overwrite, fmt="hf")
    work = stage.staging
    try:
        # The engine in force builds the rows (a few episodes per job, as Arrow tables); they are
        # written here in selection order into one Arrow file, which save_to_disk shards.
        features = hf_features(ds.spec)
        state = src.to_state() | {"root": str(ds.root.resolve())}
        jobs = [_RowsJob(state, part) for part in batches(list(src.episode_ids), EPISODES_PER_JOB)]
        (work / "cache").mkdir()
        arrow = work / "cache" / "rows.arrow"
        writer = ArrowWriter(features=features, path=str(arrow))
        try:
            for table in map_in_order(_rows_job, jobs, JOBS_IN_FLIGHT, workers=num_proc or 1):
                writer.write_table(table)
            writer.finalize()
        finally:
            writer.close()
        info = datasets.DatasetInfo(features=features, description=(
            f"teleforge export of {ds.root.name}: {ds.spec.robot_embodiment} at {ds.spec.fps:g} Hz, "
            f"{len(src.episode_ids)} episodes. Action [{','.join(ACTION_NAMES)}], gripper 0=open 1=closed; quats wxyz."))
        built = datasets.Dataset.from_file(str(arrow), info=info, split=datasets.Split.TRAIN)
        # A fingerprint from what was exported (datasets would draw a random one): the same export, the same bytes.
        built._fingerprint = hashlib.sha256(json.dumps([state, features.to_dict()], sort_keys=True, default=str)
                                            .encode()).hexdigest()[:16]
        folder = work / "export"
        built.save_to_disk(str(folder), max_shard_size=max_shard_size)
        rows = built.num_rows
        columns = list(built.column_names)
        del built
        make_features_portable(folder)  # datasets 3.x (openpi's lock) and >= 4 read it
        preview = _write_preview(src, src.episode_ids[0], folder)
        manifest = export_manifest(src, "hf", {"rows": rows, "preview": preview, "conventions": {
            "images": "Image features holding the recorded bytes (JPEG as recorded; raw frames as PNG)",
            "timestamp": "seconds since the episode's first exported step (from tick_ns)",
            "frame_index": "step index within the exported (trimmed) episode, from 0",
        }})
        manifest["features"] = export_features(manifest["features"], columns)
        write_export_manifest(folder, manifest)
        shutil.rmtree(work / "cache", ignore_errors=True)
        # The save_to_disk folder becomes the staging folder's content, then the whole is published.
        for p in folder.iterdir():
            os.replace(p, work / p.name)
        folder.rmdir()
        stage.publish()
    except BaseException:
        stage.abort()
        raise
    return HfExport(out, len(src.episode_ids), rows)


def load_hf(folder: Path | str) -> Any:
    """``datasets.load_from_disk`` on an export (the reader for tests and for users)."""
    import datasets  # lazy: `datasets` takes seconds to import

    folder = Path(folder)
    try:
        return datasets.load_from_disk(str(folder))
    except Exception as exc:  # noqa: BLE001 - `datasets` raises anything from OSError to KeyError on a damaged folder
        raise ExportError(f"{folder} is not a loadable HF datasets folder ({type(exc).__name__}: {str(exc)[:200]}); "
                          "re-export it with `teleforge export hf ... --overwrite`") from exc
