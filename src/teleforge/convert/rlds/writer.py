"""RLDS / Open X-Embodiment export without TensorFlow.

One file because sharding, resuming and publishing are the steps of one staged export.

The output is what ``tfds.builder_from_directory`` loads: ``<out>/<name>/<version>/``
with ``features.json`` (the FeaturesDict JSON TFDS writes), ``dataset_info.json``
(only keys tensorflow-datasets 4.9.3 knows) and ``<name>-train.tfrecord-XXXXX-of-YYYYY``
shards, plus OpenVLA's ``dataset_statistics.json`` and teleforge's sidecar. Camera
JPEG/PNG bytes are copied as stored, never re-encoded: each episode's Example is framed
from pre-computed sizes and its frames are streamed from the shard (read once, CRC'd,
written once), so memory stays at one frame whatever the episode length. Shards are written in worker
processes when asked, and a killed export resumes from its finished shards.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from teleforge.convert.rlds.config import (
    ACTION_DOCS,
    SIDECAR,
    STATISTICS,
    RldsExportConfig,
    state_doc,
)
from teleforge.convert.rlds.example_proto import StreamedBytes, example_parts, iter_part_bytes
from teleforge.convert.rlds.features import (
    DEPTH_VALID_SUFFIX,
    EPISODE_FEATURES,
    NATIVE_PREFIX,
    camera_keys,
    dataset_info,
    depth_keys,
    features_json,
    native_extra_columns,
    native_key,
    step_features,
)
from teleforge.convert.rlds.gripper import binarize_gripper
from teleforge.convert.rlds.reader import RldsCheckReport, check_rlds
from teleforge.convert.rlds.statistics import dataset_statistics, write_statistics
from teleforge.convert.rlds.tfrecord import TFRecordWriter
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import current_engine
from teleforge.dataset.episode import Episode
from teleforge.dataset.images import decode_image
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import DatasetSpec, depth_column, image_column
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError
from teleforge.spec import BOOL_COLUMNS, GRIPPER_INDEX


# --- one episode -> one Example -----------------------------------------------
def _png_frames(frames: list[bytes], cam: str, spec: DatasetSpec) -> list[bytes]:
    """Raw camera frames as lossless PNG (TFDS Image needs an encoded file)."""
    c = spec.camera(cam)
    png: list[bytes] = []
    for f in frames:
        ok, buf = cv2.imencode(".png", decode_image(f, c)[:, :, ::-1])
        if not ok:
            raise ExportError(f"camera {cam!r}: PNG encoding failed")
        png.append(buf.tobytes())
    return png


def _fill_index(valid: np.ndarray, cam: str) -> np.ndarray:
    """Row each step takes its frame from: its own, or (before a camera's first frame, or for a
    dropped one) the next step that has a frame. (T,) int64."""
    T = len(valid)
    rows = np.where(valid, np.arange(T, dtype=np.int64), T)
    rows = np.minimum.accumulate(rows[::-1])[::-1]
    if T and rows[-1] >= T:
        raise ExportError(f"camera {cam!r} delivered no frame in this episode; export without it or re-record")
    return rows


class ShardFrames:
    """Where each step's encoded camera frame lies in an episode shard, without reading it.

    The shard (an Arrow IPC stream) is memory-mapped only to read the binary columns'
    offsets; the frame bytes themselves are fetched with ``pread`` into one reused buffer,
    so exporting a frame costs one read and one write and memory stays at one frame
    whatever the episode length. Rows match the shard's non-empty record batches, the
    same rows :class:`~teleforge.dataset.episode.Episode` reads.
    """

    def __init__(self, path: Path, cameras: list[str]) -> None:
        self.path = Path(path)
        mm = pa.memory_map(str(self.path), "r")
        try:
            base = mm.read_buffer(1).address  # the map's first byte; buffers below are slices of it
            mm.seek(0)
            reader = pa.ipc.open_stream(mm)
            cols = {c: reader.schema.get_field_index(image_column(c)) for c in cameras}
            starts: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
            lengths: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
            valid: dict[str, list[np.ndarray]] = {c: [] for c in cameras}
            for batch in reader:
                if not batch.num_rows:
                    continue
                for c, i in cols.items():
                    arr = batch.column(i)
                    validity, offsets, data = arr.buffers()
                    off = np.frombuffer(offsets, np.int32)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
                    start = (data.address - base) if data is not None else 0
                    starts[c].append(start + off[:-1])
                    lengths[c].append(np.diff(off))
                    valid[c].append(np.ones(len(arr), bool) if validity is None or not arr.null_count
                                    else arr.is_valid().to_numpy(zero_copy_only=False))
        finally:
            mm.close()
        def cat(parts: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(parts) if parts else np.zeros(0, np.int64)

        self.starts = {c: cat(v) for c, v in starts.items()}
        self.lengths = {c: cat(v) for c, v in lengths.items()}
        self.valid = {c: np.concatenate(v) if v else np.zeros(0, bool) for c, v in valid.items()}

    def read(self, cam: str, rows: np.ndarray) -> list[bytes]:
        """The frames of ``rows`` as bytes (for the few paths that need them in memory)."""
        with open(self.path, "rb") as f:
            fd = f.fileno()
            return [os.pread(fd, int(self.lengths[cam][r]), int(self.starts[cam][r])) for r in rows]

    def stream(self, cam: str, rows: np.ndarray) -> StreamedBytes:
        """A bytes_list feature of the frames of ``rows``, read one at a time when written."""
        lengths = self.lengths[cam][rows]
        starts = self.starts[cam][rows]

        def values() -> Iterator[memoryview]:
            buf = bytearray(int(lengths.max()) if lengths.size else 0)
            view = memoryview(buf)
            with open(self.path, "rb", buffering=0) as f:
                fd = f.fileno()
                for n, at in zip(lengths.tolist(), starts.tolist()):
                    got = os.preadv(fd, [view[:n]], at)
                    if got != n:
                        raise ExportError(f"{self.path}: frame at byte {at} is cut short; re-export after `teleforge recover`")
                    yield view[:n]

        return StreamedBytes(lengths, values)


def _episode_source(src: ExportSource, eid: int) -> tuple[Episode, tuple[int, int] | None, dict[str, str]]:
    """The whole (memory-mapped) episode, the view's kept range and its relabels.

    A view episode's table is a copy of its kept rows, images included; the writer slices
    the numeric columns itself and streams the frames, so it reads the untrimmed episode.
    """
    path = src.episode(eid).path
    ep = Episode(path, src.dataset.spec, eid)
    trim = src.trims.get(eid)
    if trim is not None:
        a, b = trim
        n = ep.num_steps
        if not 0 <= a < b <= n:
            raise ExportError(f"trim {a}..{b} of episode {eid} is outside its 0..{n} steps; make the view again")
    return ep, trim, dict(src.relabels.get(eid, {}))


def episode_arrays(ep: Episode, spec: DatasetSpec, cfg: RldsExportConfig, trim: tuple[int, int] | None = None,
                   relabel: dict[str, str] | None = None,
                   frames: ShardFrames | None = None) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The flattened Example features of one episode, plus its (T, A) actions and (T, S) states.

    ``trim`` keeps steps ``[a, b)`` of ``ep`` and ``relabel`` overrides the instruction /
    outcome (a view's edits; a :class:`ViewEpisode` is already trimmed and relabelled). With
    ``frames`` (the untrimmed shard's frame locations) the camera features are
    :class:`StreamedBytes`, read when written; without, ``list[bytes]`` read from ``ep``.
    """
    a, b = trim if trim is not None else (0, ep.num_steps)
    T = b - a
    if T <= 0:
        raise ExportError(f"episode {ep.episode_id} has no steps; exclude it from the export")
    col = (lambda name: ep.column(name)[a:b]) if trim is not None else ep.column
    grip = col("observation.state.gripper").astype(np.float32).reshape(T, 1)
    native = col("action").astype(np.float32)
    gripper = native[:, GRIPPER_INDEX:GRIPPER_INDEX + 1]  # native: 0 = open, 1 = closed
    if cfg.action_space == "ee_delta":
        action = native
    elif cfg.action_space == "openvla":
        # OpenVLA: 1 = open, binarised as its transforms would (the gripper is not normalised)
        action = np.concatenate([native[:, :GRIPPER_INDEX], binarize_gripper(1.0 - gripper)[:, None]], axis=1)
    else:
        action = np.concatenate([col("target.joint_pos").astype(np.float32), gripper], axis=1)
    joints = col("observation.state.joint_pos").astype(np.float32)
    if cfg.state == "eef":
        state = np.concatenate([col("observation.state.ee_pos"), col("observation.state.ee_quat"), grip], axis=1)
    else:
        state = np.concatenate([joints, grip], axis=1)
    state = state.astype(np.float32)
    meta = ep.meta
    edits = relabel or {}
    instruction = edits.get("instruction", meta.instruction)
    outcome = edits.get("outcome", meta.outcome)
    last = np.zeros(T, bool)
    last[-1] = True
    first = np.zeros(T, bool)
    first[0] = True
    feats: dict[str, Any] = {
        "steps/observation/state": state,
        "steps/observation/joint_state": joints,
        "steps/action": action,
        "steps/reward": col("reward").astype(np.float32),
        "steps/discount": np.ones(T, np.float32),
        "steps/is_first": first,
        "steps/is_last": last,
        "steps/is_terminal": last & (outcome == "success"),
        "steps/language_instruction": [instruction.encode()] * T,
        "episode_metadata/file_path": [str(ep.path).encode()],
        "episode_metadata/episode_id": np.array([ep.episode_id], np.int64),
        "episode_metadata/task": [meta.task.encode()],
        "episode_metadata/outcome": [outcome.encode()],
        "episode_metadata/robot_embodiment": [(meta.robot_embodiment or spec.robot_embodiment).encode()],
    }
    for cam, key in camera_keys(spec, cfg.primary_camera).items():
        name = f"steps/observation/{key}"
        if frames is None:  # in memory, from the episode's own (possibly view-trimmed) column
            stored = col(image_column(cam))
            rows = _fill_index(np.array([f is not None for f in stored], bool), cam)
            picked = [bytes(stored[r]) for r in rows]
            feats[name] = _png_frames(picked, cam, spec) if spec.camera(cam).encoding == "raw" else picked
            continue
        rows = a + _fill_index(frames.valid[cam][a:b], cam)
        if spec.camera(cam).encoding == "raw":  # rare: PNG-encoded in memory, one episode at a time
            feats[name] = _png_frames(frames.read(cam, rows), cam, spec)
        else:
            feats[name] = frames.stream(cam, rows)
    for cam, key in depth_keys(spec).items():
        # Depth PNGs are copied as stored; a step without a depth frame gets an all-zero ("no reading") PNG.
        stored = col(depth_column(cam))
        dcam = spec.camera(cam)
        blank = b""
        if any(d is None for d in stored):
            _, buf = cv2.imencode(".png", np.zeros((dcam.height, dcam.width), np.uint16))
            blank = buf.tobytes()
        feats[f"steps/observation/{key}"] = [bytes(d) if d is not None else blank for d in stored]
        feats[f"steps/observation/{key}{DEPTH_VALID_SUFFIX}"] = np.array([d is not None for d in stored], bool)
    if cfg.native_columns:
        for c in native_extra_columns(cfg):
            v = np.asarray(col(c))
            feats[f"steps/{NATIVE_PREFIX}{native_key(c)}"] = (
                v.astype(np.int64) if c == "tick_ns" else v.astype(bool) if c in BOOL_COLUMNS else v.astype(np.float32))
    return feats, action, state


def write_episode(w: TFRecordWriter, src: ExportSource, eid: int, cfg: RldsExportConfig) -> tuple[np.ndarray, np.ndarray]:
    """Append one episode's Example to ``w`` (frames streamed from the shard); its actions and states.

    Peak memory is the episode's numeric columns plus one frame: the Example is framed from
    pre-computed sizes (``example_parts``) and each image's bytes are read once and written once.
    """
    ep, trim, relabel = _episode_source(src, eid)
    spec = src.dataset.spec
    frames = ShardFrames(ep.path, list(camera_keys(spec, cfg.primary_camera)))
    feats, action, state = episode_arrays(ep, spec, cfg, trim, relabel, frames)
    size, parts = example_parts(feats)
    w.write_stream(size, iter_part_bytes(parts))
    return action, state


# --- shards ------------------------------------------------------------------
def shard_name(name: str, index: int, count: int) -> str:
    """TFDS's shard file name: ``<name>-train.tfrecord-00000-of-00004``."""
    return f"{name}-train.tfrecord-{index:05d}-of-{count:05d}"


@dataclass
class _ShardJob:
    source: dict[str, Any]  # ExportSource.to_state(): root, ids, trims, relabels
    episode_ids: list[int]
    path: str
    config: RldsExportConfig


@dataclass
class _ShardResult:
    num_records: int
    data_bytes: int
    steps: list[int]
    actions: np.ndarray
    states: np.ndarray


def _result_path(shard: str | Path) -> Path:
    return Path(f"{shard}.result.npz")


def _load_result(shard: Path) -> _ShardResult | None:
    """The saved result of a shard a previous (interrupted) run finished, or None."""
    res = _result_path(shard)
    if not (shard.is_file() and res.is_file()):
        return None
    try:
        with np.load(res) as z:
            return _ShardResult(int(z["num_records"]), int(z["data_bytes"]), z["steps"].tolist(), z["actions"], z["states"])
    except (OSError, ValueError, KeyError):
        return None


def _write_shard(job: _ShardJob) -> _ShardResult:
    """Write one shard (in this process or a worker): its episodes, then its result file, then its final name."""
    src = ExportSource.from_state(job.source)
    actions: list[np.ndarray] = []
    states: list[np.ndarray] = []
    steps: list[int] = []
    final = Path(job.path)
    tmp = final.with_name(final.name + ".tmp")
    with TFRecordWriter(tmp) as w:
        for eid in job.episode_ids:
            action, state = write_episode(w, src, eid, job.config)  # only the view's kept steps
            actions.append(action)
            states.append(state)
            steps.append(len(action))
    result = _ShardResult(w.num_records, w.data_bytes, steps, np.concatenate(actions), np.concatenate(states))
    # The result is saved before the shard gets its final name: a shard under its final name
    # is complete and its numbers are known, so a resumed export can skip it.
    res_tmp = final.with_name(final.name + ".result.tmp.npz")
    np.savez(res_tmp, num_records=result.num_records, data_bytes=result.data_bytes, steps=np.asarray(steps, np.int64),
             actions=result.actions, states=result.states)
    os.replace(res_tmp, _result_path(final))
    os.replace(tmp, final)
    return result


def _shard_boundaries(num_examples: int, num_shards: int) -> list[int]:
    """Same split TFDS uses (shard_utils.get_shard_boundaries): round(n * (i+1) / k)."""
    return [int(round(num_examples * (i + 1) / num_shards)) for i in range(num_shards)]


@dataclass
class RldsExportResult:
    """What an RLDS export wrote (and, with ``check``, what reading it back found)."""

    path: Path
    num_episodes: int
    num_steps: int
    shard_lengths: list[int]
    num_bytes: int
    seconds: float
    check: RldsCheckReport | None = None
    resumed_shards: int = 0  # shards an interrupted run had finished, reused

    @property
    def steps_per_s(self) -> float:
        return self.num_steps / self.seconds if self.seconds > 0 else float("inf")


def export_rlds(source: ExportSource | Dataset | Path | str, out: Path | str,
                config: RldsExportConfig | None = None) -> RldsExportResult:
    """Export a native dataset, some of its episodes, or a curated view as a TFDS-loadable RLDS dataset.

    Only a view's kept steps are written (is_first / is_last mark the trimmed range).
    Shards go into ``<out>/<name>/.<version>.partial`` and the folder is renamed to
    ``<out>/<name>/<version>`` only when every shard and the metadata are complete, so an
    interrupted export never looks like a dataset; re-running the same export resumes it
    (finished shards are kept), a different one is refused unless ``overwrite``.
    """
    t0 = time.perf_counter()
    cfg = config or RldsExportConfig()
    src = source if isinstance(source, ExportSource) else select(source, cfg.episodes, cfg.view)
    ds = src.dataset
    cfg.validate(ds.spec)
    ids = list(src.episode_ids)
    infos = {e.episode_id: e for e in ds.episodes}
    final = Path(out) / cfg.name / cfg.version
    total = sum(max(1, infos[i].bytes) for i in ids)
    n = cfg.num_shards or max(1, math.ceil(total / cfg.shard_target_bytes))
    n = max(n, cfg.workers) if cfg.num_shards is None else n
    n = max(1, min(n, len(ids)))
    shaping = {k: v for k, v in asdict(cfg).items() if k not in ("workers", "overwrite", "check", "episodes", "view")}
    resume_key = {"source": str(ds.root.resolve()), "episode_ids": ids, "num_shards": n,
                  "trims": {str(i): list(t) for i, t in src.trims.items()},
                  "relabels": {str(i): r for i, r in src.relabels.items()},
                  "shards": [(infos[i].file, infos[i].bytes) for i in ids], "config": shaping}
    stage = stage_output(final, overwrite=cfg.overwrite, fmt="rlds", resume_key=resume_key)
    tmp = stage.staging
    bounds = _shard_boundaries(len(ids), n)
    jobs, start = [], 0
    state = src.to_state()
    for k, end in enumerate(bounds):
        jobs.append(_ShardJob(state, ids[start:end], str(tmp / shard_name(cfg.name, k, n)), cfg))
        start = end
    done = {j.path: r for j in jobs if (r := _load_result(Path(j.path))) is not None}
    todo = [j for j in jobs if j.path not in done]
    # The engine in force writes the shards: local (``workers`` spawned processes) or Ray.
    done.update(zip((j.path for j in todo), current_engine().map(_write_shard, todo, workers=cfg.workers)))
    results = [done[j.path] for j in jobs]
    for j in jobs:
        _result_path(j.path).unlink(missing_ok=True)

    steps_f = step_features(ds.spec, cfg)
    (tmp / "features.json").write_text(json.dumps(features_json(steps_f, EPISODE_FEATURES), indent=4))
    lengths = [r.num_records for r in results]
    num_bytes = sum(r.data_bytes for r in results)
    (tmp / "dataset_info.json").write_text(json.dumps(dataset_info(cfg, ds, lengths, num_bytes), indent=2))
    actions = np.concatenate([r.actions for r in results])
    states = np.concatenate([r.states for r in results])
    write_statistics(tmp / STATISTICS, cfg.name, dataset_statistics(actions, states, len(ids)))
    sidecar = {
        "source": str(ds.root),
        "episode_ids": ids,
        "view": src.view,
        "trims": {str(i): list(t) for i, t in src.trims.items()},
        "action_space": cfg.action_space,
        "action_convention": ACTION_DOCS[cfg.action_space],
        "state": cfg.state,
        "state_convention": state_doc(cfg.state),
        "cameras": camera_keys(ds.spec, cfg.primary_camera),
        **({"depth": {cam: {"key": key, "dtype": "uint16", "unit": "mm", "missing": f"all-zero frame, {key}{DEPTH_VALID_SUFFIX} false"}
                      for cam, key in depth_keys(ds.spec).items()}} if depth_keys(ds.spec) else {}),
        "fps": ds.spec.fps,
        "robot_embodiment": ds.spec.robot_embodiment,
        "steps_per_shard": [int(sum(r.steps)) for r in results],
    }
    (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2))
    stage.publish()
    report = None
    if cfg.check:
        report = check_rlds(final, expected_steps={eid: src.num_steps(eid) for eid in ids})
    return RldsExportResult(final, len(ids), int(len(actions)), lengths, num_bytes, time.perf_counter() - t0, report,
                            resumed_shards=len(jobs) - len(todo))
