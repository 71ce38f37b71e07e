"""LeRobot v3.0 export: a native dataset (or a curated view) as ``LeRobotDataset`` of lerobot 0.4 loads it.

Layout written::

    meta/info.json                  codebase_version "v3.0", fps, features (+ video info), totals, paths
    meta/stats.json                 min/max/mean/std/count/q01..q99 per feature (images: per channel, /255)
    meta/tasks.parquet              task (index) -> task_index; a task is the episode's instruction
    meta/episodes/chunk-000/file-000.parquet   one row per episode: data/video chunk+file indices,
                                    dataset_from/to_index, video from/to timestamps, stats/<key>/<stat>
    data/chunk-000/file-000.parquet one row per step: action, observation.state, next.*, teleforge.*
                                    (the other native columns), timestamp and the index columns
    videos/observation.images.<cam>/chunk-000/file-000.mp4   episodes back to back (PyAV)

A depth camera's depth travels in the data parquet as ``observation.depth.<cam>``, a uint16
(H, W) ``Array2D`` in millimetres (0 = no reading; a step without a depth frame is all 0 and
``observation.depth_valid.<cam>`` False): LeRobot 0.4.4 holds images as 3-channel uint8 and videos
as 8-bit, so neither keeps depth.

Files roll over the way lerobot's own writer does (:mod:`.files`). ``action`` is the
native 7-D EE delta + gripper (0 = open, 1 = closed); ``observation.state`` is
``[x, y, z, qw, qx, qy, qz, gripper]`` (``state="ee"``) or ``[joints..., gripper]``
(``state="joints"``). Everything is written under a hidden ``.<out>.partial`` folder and
renamed at the end, so an interrupted export never looks like a dataset. The importer
lives in :mod:`teleforge.convert.lerobot.importer`.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.convert.lerobot.files import (
    CameraVideos,
    ParquetFiles,
    arrow_column,
    write_tasks,
)
from teleforge.convert.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    EXTRA_COLUMNS,
    EXTRA_PREFIX,
    STATE_SPACES,
    VIDEO_PATH,
    arrow_type,
    depth_valid_column,
    features,
    hf_feature,
)
from teleforge.convert.lerobot.stats import (
    ImageStats,
    StatsAggregator,
    downsample,
    jsonable,
    sample_indices,
    vector_stats,
)
from teleforge.convert.lerobot.video import (
    DEFAULT_CRF,
    DEFAULT_GOP,
    SegmentEncoder,
    VideoFileWriter,
    resolve_codec,
    video_info,
)
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import batches, map_in_order
from teleforge.dataset.images import decode_image
from teleforge.dataset.reader import Dataset, Episode
from teleforge.dataset.schema import CameraConfig, depth_column, image_column
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError
from teleforge.names import check_repo_id
from teleforge.spec import (
    ACTION_DIM,
    ACTION_NAMES,
    BOOL_COLUMNS,
    GRIPPER_INDEX,
    NATIVE_COLUMN_NAMES,
)

EPISODE_ROWS_PER_WRITE = 64  # meta/episodes rows buffered before they are written


@dataclass
class LeRobotExport:
    """What an export wrote."""

    root: Path
    repo_id: str
    episodes: int
    frames: int
    tasks: int
    vcodec: str
    data_files: int
    video_files: int
    seconds: float

    @property
    def steps_per_s(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


# --- reading native episodes ---------------------------------------------------------
def _state(cols: dict[str, np.ndarray], state: str) -> np.ndarray:
    g = cols["observation.state.gripper"].reshape(-1, 1)
    if state == "ee":
        return np.concatenate([cols["observation.state.ee_pos"], cols["observation.state.ee_quat"], g], axis=1)
    return np.concatenate([cols["observation.state.joint_pos"], g], axis=1)


def _camera_sources(ep: Episode, cam: CameraConfig) -> tuple[list[int], list[Any]]:
    """Which stored frame each step shows: a step before the camera delivered shows the next real frame."""
    raw = ep.table.column(image_column(cam.name)).to_pylist()
    present = [i for i, b in enumerate(raw) if b is not None]
    if not present:
        raise ExportError(f"episode {ep.episode_id}: camera {cam.name!r} has no frames; it cannot become a video")
    nxt = np.searchsorted(np.asarray(present), np.arange(len(raw)))
    return [present[min(int(k), len(present) - 1)] for k in nxt], raw


def _encode_frames(srcs: list[int], raw: list[Any], cam: CameraConfig, writer: VideoFileWriter,
                   sample: set[int]) -> ImageStats:
    """Append step ``i``'s frame ``raw[srcs[i]]`` to ``writer`` for every step (a repeated frame is
    decoded once); the image stats of the ``sample`` steps."""
    stats = ImageStats()
    last_i, img = -1, np.zeros((0, 0, 3), np.uint8)  # srcs[0] >= 0: the first step always decodes
    for i, src in enumerate(srcs):
        if src != last_i:
            last_i = src
            img = decode_image(raw[src], cam)
        writer.add(img)
        if i in sample:
            stats.add(downsample(img))
    return stats


def _frame_values(ep: Episode, k: int, first_index: int, task_index: int, state: str, fps: int,
                  native_columns: bool) -> dict[str, np.ndarray]:
    """Every data column of one episode, (T,) or (T, k), keyed by feature name."""
    t = ep.num_steps
    cols = {c: np.asarray(ep.column(c)) for c in NATIVE_COLUMN_NAMES}
    cols["tick_ns"] = np.asarray(ep.column("tick_ns"), np.int64)
    done = np.zeros(t, bool)
    done[-1] = True
    values: dict[str, np.ndarray] = {
        "action": cols["action"].astype(np.float32),
        "observation.state": _state(cols, state).astype(np.float32),
        "next.reward": cols["reward"].astype(np.float32),
        "next.done": done,
        "next.success": cols["success"].astype(bool),
        "timestamp": (np.arange(t) / fps).astype(np.float32),
        "frame_index": np.arange(t, dtype=np.int64),
        "episode_index": np.full(t, k, np.int64),
        "index": np.arange(first_index, first_index + t, dtype=np.int64),
        "task_index": np.full(t, task_index, np.int64),
    }
    if native_columns:
        for c in EXTRA_COLUMNS:
            values[EXTRA_PREFIX + c] = cols[c].astype(bool) if c in BOOL_COLUMNS else cols[c]
    values.update(_depth_values(ep))
    return values


def _depth_values(ep: Episode) -> dict[str, np.ndarray]:
    """Every depth camera's (T, H, W) uint16 mm and (T,) bool validity, keyed by feature; a step without
    depth is all 0 (no reading) and False."""
    out: dict[str, np.ndarray] = {}
    for cam in ep.spec.cameras:
        if cam.depth:
            d = np.zeros((ep.num_steps, cam.height, cam.width), np.uint16)
            valid = np.zeros(ep.num_steps, bool)
            for i in range(ep.num_steps):
                got = ep.depth(cam.name, i)
                if got is not None:
                    d[i], valid[i] = got, True
            out[depth_column(cam.name)] = d
            out[depth_valid_column(cam.name)] = valid
    return out


def feature_stats(values: np.ndarray) -> dict[str, np.ndarray]:
    """Stats of one data feature's (T, ...) values: a (T, H, W) depth map's over its pixels, else per dimension."""
    return depth_stats(values) if values.ndim == 3 else vector_stats(values)


def depth_stats(d: np.ndarray) -> dict[str, np.ndarray]:
    """Shape-(1,) stats (mm) of a (T, H, W) depth feature over at most ~100k of its pixels; ``count`` = frames."""
    flat = d.reshape(-1)
    st = vector_stats(flat[:: max(1, flat.size // 100_000)])
    st["count"] = np.array([len(d)], np.int64)
    return st


def _job_videos(eps: list[Episode], cameras: list[CameraConfig], fps: int, codec: str, gop: int, crf: int,
                threads: int | None) -> tuple[list[dict[str, tuple[bytes, int, int]]], list[dict[str, dict[str, np.ndarray]]]]:
    """Each camera's frames of a few episodes encoded as one mp4 segment (a key frame at each episode's
    first frame), and per episode: ``{feature: (segment bytes, first frame, frames)}`` and its image stats."""
    segments: list[dict[str, tuple[bytes, int, int]]] = [{} for _ in eps]
    stats: list[dict[str, dict[str, np.ndarray]]] = [{} for _ in eps]
    # Every camera's encoder is open at once and fed episode by episode: each encodes in its own
    # threads while this one decodes the next camera's frames (one camera after the other would
    # leave the CPUs idle at each flush).
    encoders = {image_column(cam.name): SegmentEncoder(fps, cam.height, cam.width, codec, gop, crf, threads)
                for cam in cameras}
    firsts: list[dict[str, int]] = [{} for _ in eps]
    for k, ep in enumerate(eps):
        sample = set(sample_indices(ep.num_steps))
        for cam in cameras:
            key = image_column(cam.name)
            enc = encoders[key]
            srcs, raw = _camera_sources(ep, cam)
            img_stats = ImageStats()
            firsts[k][key] = enc.start_episode()
            last_i, img = -1, np.zeros((0, 0, 3), np.uint8)  # srcs[0] >= 0: the first step always decodes
            for i, src in enumerate(srcs):
                if src != last_i:  # a repeated frame is decoded once
                    last_i = src
                    img = decode_image(raw[src], cam)
                if i in sample:
                    img_stats.add(downsample(img))
                enc.add(img)
            stats[k][key] = img_stats.result()
    for key, enc in encoders.items():
        data = enc.finish()  # one bytes object shared by the job's episodes (pickled once)
        for k, ep in enumerate(eps):
            segments[k][key] = (data, firsts[k][key], ep.num_steps)
    return segments, stats


@dataclass(frozen=True)
class PlannedEpisode:
    """Where one selected episode lands in a LeRobot export: index ``k``, first global frame, task."""

    k: int
    episode_id: int
    first_index: int
    num_steps: int
    task: str  # LeRobot's task: the instruction
    task_index: int
    native_task: str  # teleforge's task name and the episode's outcome (provenance columns)
    outcome: str


def plan_episodes(src: ExportSource, tasks: dict[str, int]) -> list[PlannedEpisode]:
    """Every selected episode's place, from the catalog alone (``tasks``, task -> index, grows in order).

    Frame indices start at 0 per episode and ``index`` continues across episodes; the task is
    the catalog's instruction (the episode's own metadata when the catalog lacks it)."""
    infos = {e.episode_id: e for e in src.dataset.episodes}
    plan: list[PlannedEpisode] = []
    total = 0
    for k, eid in enumerate(src.episode_ids):
        t = src.num_steps(eid)
        if t <= 0:
            raise ExportError(f"episode {eid} has no steps; drop it from the selection before export")
        meta = infos.get(eid) or src.episode(eid).meta
        task = meta.instruction
        plan.append(PlannedEpisode(k, eid, total, t, task, tasks.setdefault(task, len(tasks)), meta.task, meta.outcome))
        total += t
    return plan


@dataclass(frozen=True)
class EpisodeJob:
    """A few consecutive episodes for one engine job (both LeRobot writers); plain values only."""

    source: dict[str, Any]  # ExportSource.to_state() with an absolute root
    episodes: list[PlannedEpisode]
    state: str
    fps: int
    native_columns: bool
    codec: str
    gop: int
    crf: int
    threads: int | None
    out: str = ""  # v2.1: the staging folder the job writes its episode files into
    chunks_size: int = 1000


@dataclass
class EncodedEpisode:
    """One episode as a v3.0 job returns it: data columns, encoded video segments, per-feature stats."""

    values: dict[str, np.ndarray]
    segments: dict[str, tuple[bytes, int, int]]  # feature -> (the job's mp4 segment, first frame, frames)
    stats: dict[str, dict[str, np.ndarray]]


EPISODES_PER_JOB = 4  # episodes in one engine job: enough to amortise reopening the dataset
V3_JOB_PIXELS = 4e6  # v3.0: frames x camera pixels one job encodes at least (one encoder start per camera per job)
V3_EPISODES_PER_JOB = (8, 64)  # v3.0: fewest and most episodes in one job


def v3_episodes_per_job(plan: list[PlannedEpisode], cameras: list[CameraConfig]) -> int:
    """Episodes per v3.0 job: enough that a job's encoders start once per ~``V3_JOB_PIXELS`` of video
    (an SVT-AV1 start and flush costs about as much as encoding 50 frames of 32x32), within
    ``V3_EPISODES_PER_JOB``. Depends on the selection and spec only, so every engine splits alike."""
    lo, hi = V3_EPISODES_PER_JOB
    per_episode = (sum(p.num_steps for p in plan) / max(1, len(plan))) * sum(c.height * c.width for c in cameras)
    return lo if per_episode <= 0 else max(lo, min(hi, math.ceil(V3_JOB_PIXELS / per_episode)))
JOBS_IN_FLIGHT = 16  # jobs whose results (encoded videos) are held at once


def episode_jobs(src: ExportSource, plan: list[PlannedEpisode], per_job: int = EPISODES_PER_JOB,
                 **kw: Any) -> list[EpisodeJob]:
    """``plan`` cut into :class:`EpisodeJob` s of ``per_job`` episodes (``kw``: the other fields)."""
    state = src.to_state() | {"root": str(Path(src.dataset.root).resolve())}
    return [EpisodeJob(state, part, **kw) for part in batches(plan, per_job)]


PARALLEL_MIN_PIXELS = 150e6  # frames x pixels to encode before worker processes pay for their start (~1-2 s each)


def default_workers(plan: list[PlannedEpisode], cameras: list[CameraConfig], cpus: int | None = None) -> int:
    """Encoding processes for a v3.0 export on the local engine.

    SVT-AV1 already spreads one encoder over a few threads, so on 2 CPUs extra processes only
    contend (measured here: 40 episodes x 100 steps x two 224² cameras, 14.9 s in one process,
    21.3 s with 2). With 4 or more CPUs: min(4, CPUs // 2) once the frames to encode (steps x camera
    pixels) reach ``PARALLEL_MIN_PIXELS``; a small export is done before spawned workers import PyAV."""
    cpus = cpus or os.cpu_count() or 1
    pixels = sum(p.num_steps for p in plan) * sum(c.height * c.width for c in cameras)
    return min(4, cpus // 2) if cpus >= 4 and pixels >= PARALLEL_MIN_PIXELS else 1


def _encode_job(job: EpisodeJob) -> list[EncodedEpisode]:
    """Engine job (v3.0): read, compute and encode a few episodes; nothing is written here."""
    src = ExportSource.from_state(job.source)
    cameras = src.dataset.spec.cameras
    eps = [src.episode(p.episode_id) for p in job.episodes]  # a view's episodes: kept (trimmed) steps, relabels applied
    segments, img_stats = _job_videos(eps, cameras, job.fps, job.codec, job.gop, job.crf, job.threads)
    out = []
    for p, ep, segs, stats in zip(job.episodes, eps, segments, img_stats, strict=True):
        # depth (T, H, W) uint16 and its validity are parquet columns of _frame_values, not videos
        values = _frame_values(ep, p.k, p.first_index, p.task_index, job.state, job.fps, job.native_columns)
        stats.update({key: feature_stats(v) for key, v in values.items()})
        out.append(EncodedEpisode(values, segs, stats))
    return out


class _Output:
    """The open files of an export: data parquet, meta/episodes parquet (rows buffered), one video per camera."""

    def __init__(self, tmp: Path, feats: dict[str, dict[str, Any]], spec_cameras: list[CameraConfig], fps: int,
                 codec: str, chunks_size: int, data_mb: float, video_mb: float, gop: int, crf: int,
                 threads: int | None) -> None:
        self.data_keys = [k for k, f in feats.items() if f["dtype"] != "video"]
        self.types = {k: arrow_type(feats[k]) for k in self.data_keys}
        hf_meta = json.dumps({"info": {"features": {k: hf_feature(feats[k]) for k in self.data_keys}}})
        self.schema = pa.schema([pa.field(k, self.types[k]) for k in self.data_keys], metadata={"huggingface": hf_meta})
        self.data = ParquetFiles(tmp, DATA_PATH, self.schema, data_mb, chunks_size)
        self.episodes = ParquetFiles(tmp, EPISODES_PATH, None, data_mb, chunks_size)
        self.videos = {image_column(c.name): CameraVideos(tmp, image_column(c.name), c, fps, codec, video_mb,
                                                          chunks_size, gop, crf, threads) for c in spec_cameras}
        self.rows: list[dict[str, Any]] = []

    def write_frames(self, values: dict[str, np.ndarray], t: int) -> tuple[int, int]:
        """Append one episode's data rows; returns the (chunk, file) they went to."""
        chunk, file = self.data.place(t)
        self.data.write(pa.Table.from_arrays([arrow_column(values[key], self.types[key]) for key in self.data_keys],
                                             schema=self.schema))
        return chunk, file

    def add_episode_row(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        if len(self.rows) >= EPISODE_ROWS_PER_WRITE:
            self.flush_episode_rows()

    def flush_episode_rows(self) -> None:
        if not self.rows:
            return
        chunk, file = self.episodes.place(len(self.rows))
        for r in self.rows:
            r["meta/episodes/chunk_index"], r["meta/episodes/file_index"] = chunk, file
        self.episodes.write(pa.Table.from_pylist(self.rows, schema=self.episodes.schema))
        self.rows.clear()

    def close(self) -> None:
        self.data.close()
        self.episodes.close()
        for vid in self.videos.values():
            vid.close()


def export_lerobot(
    src: ExportSource | Dataset | Path | str,
    out: Path | str,
    *,
    repo_id: str = "teleforge/dataset",
    state: str = "ee",
    native_columns: bool = True,
    vcodec: str = "auto",
    crf: int = DEFAULT_CRF,
    gop: int = DEFAULT_GOP,
    chunks_size: int = 1000,
    data_files_size_in_mb: float = 100,
    video_files_size_in_mb: float = 200,
    encoder_threads: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    codebase_version: str = CODEBASE_VERSION,
    workers: int | None = None,
) -> LeRobotExport:
    """Write ``out`` as a LeRobot v3.0 dataset, one episode at a time.

    Memory holds one episode's numbers and one frame per camera, whatever the dataset size.
    A view's trims are applied (only the kept steps are written). ``progress(done, total)``
    is called after each episode. ``codebase_version="v2.1"`` writes the older per-episode
    layout instead (:func:`teleforge.convert.lerobot.v21_writer.export_lerobot_v21`; the
    ``*_files_size_in_mb`` limits do not apply there).

    ``workers`` (v3.0, local engine): processes encoding the jobs; default
    :func:`default_workers` (1 on 2 CPUs; more on bigger machines for big exports).
    The bytes written do not depend on it.
    """
    if codebase_version != CODEBASE_VERSION:
        from teleforge.convert.lerobot.v21_layout import CODEBASE_VERSION_V21

        if codebase_version != CODEBASE_VERSION_V21:
            raise ExportError(f"unknown LeRobot codebase version {codebase_version!r}; use "
                              f"{CODEBASE_VERSION} (LeRobot >= 0.4) or {CODEBASE_VERSION_V21} (openpi's pinned LeRobot)")
        from teleforge.convert.lerobot.v21_writer import export_lerobot_v21  # imports this module: load it lazily

        return export_lerobot_v21(src, out, repo_id=repo_id, state=state, native_columns=native_columns, vcodec=vcodec,
                                  crf=crf, gop=gop, chunks_size=chunks_size, encoder_threads=encoder_threads,
                                  overwrite=overwrite, progress=progress)
    t0 = time.perf_counter()
    if not isinstance(src, ExportSource):
        src = select(src)
    if state not in STATE_SPACES:
        raise ExportError(f"unknown state space {state!r}; use one of {', '.join(STATE_SPACES)}")
    check_repo_id(repo_id)  # it lands in info.json and in trainers' commands and paths
    spec = src.dataset.spec
    fps = int(round(spec.fps))
    if abs(spec.fps - fps) > 1e-6:
        raise ExportError(f"LeRobot stores an integer fps; this dataset runs at {spec.fps} Hz — resample it before export")
    out = Path(out)
    # Written under .<out>.partial and renamed into place at the end; a .partial left by a killed
    # export is refused (PartialExportError) unless --overwrite — the same rule as every exporter.
    stage = stage_output(out, overwrite=overwrite, fmt="lerobot")
    codec = resolve_codec(vcodec) if spec.cameras else ""
    feats = features(spec, state, native_columns, depth=True)
    output = _Output(stage.staging, feats, spec.cameras, fps, codec, chunks_size, data_files_size_in_mb,
                     video_files_size_in_mb, gop, crf, encoder_threads)
    try:
        tasks, total, stats = _write_episodes(src, output, feats, state, fps, native_columns, progress, codec, gop, crf,
                                              encoder_threads, workers)
    except BaseException:
        output.close()
        stage.abort()
        raise
    output.close()
    for key, vid in output.videos.items():
        assert vid.first_path is not None
        feats[key]["info"] = video_info(vid.first_path)
    _write_meta(stage.staging, src, feats, tasks, total, stats, fps, codec, repo_id, state, chunks_size,
                data_files_size_in_mb, video_files_size_in_mb, has_videos=bool(output.videos))
    stage.publish()  # --overwrite: the old export goes only once the new one is complete
    return LeRobotExport(out, repo_id, len(src.episode_ids), total, len(tasks), codec, output.data.files,
                         sum(v.files for v in output.videos.values()), time.perf_counter() - t0)


def _write_episodes(src: ExportSource, output: _Output, feats: dict[str, dict[str, Any]], state: str, fps: int,
                    native_columns: bool, progress: Callable[[int, int], None] | None, codec: str, gop: int, crf: int,
                    threads: int | None, workers: int | None = None) -> tuple[dict[str, int], int, dict[str, dict[str, Any]]]:
    """Write every selected episode's frames, videos and meta/episodes row; returns (tasks, frames, stats).

    The engine in force reads and encodes the episodes (a few per job); this process writes
    the results in selection order, so every engine writes the same bytes."""
    tasks: dict[str, int] = {}
    plan = plan_episodes(src, tasks)
    cameras = src.dataset.spec.cameras
    jobs = episode_jobs(src, plan, v3_episodes_per_job(plan, cameras), state=state, fps=fps, native_columns=native_columns, codec=codec, gop=gop, crf=crf,
                        threads=threads)
    if workers is None:
        workers = default_workers(plan, cameras)
    encoded = (e for res in map_in_order(_encode_job, jobs, JOBS_IN_FLIGHT, workers=max(1, workers)) for e in res)
    agg = StatsAggregator()
    total = 0
    for p, enc in zip(plan, encoded):
        t = p.num_steps
        chunk, file = output.write_frames(enc.values, t)
        # Column order follows lerobot's writer: episode, tasks, length, data/…, dataset_*, videos/…, stats/…, meta/…
        row: dict[str, Any] = {"episode_index": p.k, "tasks": [p.task], "length": t, "data/chunk_index": chunk,
                               "data/file_index": file, "dataset_from_index": total, "dataset_to_index": total + t}
        for key, vid in output.videos.items():
            vchunk, vfile, start = vid.start_episode(t)
            assert vid.writer is not None
            data, first, frames = enc.segments[key]
            vid.writer.append(data, frames, first)
            row.update({f"videos/{key}/chunk_index": vchunk, f"videos/{key}/file_index": vfile,
                        f"videos/{key}/from_timestamp": start / fps, f"videos/{key}/to_timestamp": (start + t) / fps})
        ordered = {key: enc.stats[key] for key in feats}
        for key, st in ordered.items():
            for name, v in st.items():
                row[f"stats/{key}/{name}"] = np.asarray(v).tolist()
        # Native provenance (extra columns: lerobot loads and ignores them; our importer reads them).
        row["teleforge/episode_id"] = int(p.episode_id)
        row["teleforge/task"] = p.native_task
        row["teleforge/outcome"] = p.outcome
        row["teleforge/trim_start"] = int(src.trims.get(p.episode_id, (0, t))[0])
        output.add_episode_row(row)
        agg.add(ordered)
        total += t
        if progress is not None:
            progress(p.k + 1, len(src.episode_ids))
    output.flush_episode_rows()
    return tasks, total, agg.result()


def _write_meta(tmp: Path, src: ExportSource, feats: dict[str, dict[str, Any]], tasks: dict[str, int], total: int,
                stats: dict[str, dict[str, Any]], fps: int, codec: str, repo_id: str, state: str, chunks_size: int,
                data_mb: float, video_mb: float, has_videos: bool) -> None:
    """meta/info.json, meta/stats.json, meta/tasks.parquet and the teleforge export manifest."""
    n_eps = len(src.episode_ids)
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": src.dataset.spec.robot_embodiment,
        "total_episodes": n_eps,
        "total_frames": total,
        "total_tasks": len(tasks),
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_mb,
        "video_files_size_in_mb": video_mb,
        "fps": fps,
        "splits": {"train": f"0:{n_eps}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if has_videos else None,
        "features": feats,
    }
    (tmp / "meta").mkdir(exist_ok=True)
    (tmp / "meta" / "info.json").write_text(json.dumps(info, indent=4, ensure_ascii=False))
    (tmp / "meta" / "stats.json").write_text(json.dumps(jsonable({k: stats[k] for k in feats if k in stats}), indent=4))
    write_tasks(tmp, tasks)
    trims = dict(src.trims)
    write_export_manifest(tmp, export_manifest(src, "lerobot", {
        "lerobot": {"repo_id": repo_id, "codebase_version": CODEBASE_VERSION, "state": state,
                    "state_names": feats["observation.state"]["names"], "vcodec": codec, "trims": {str(k): list(v) for k, v in trims.items()}},
        "conventions": {"action": f"native {ACTION_DIM}-D EE delta [{', '.join(ACTION_NAMES)}]",
                        "gripper": f"action[{GRIPPER_INDEX}] and the state's gripper: 0 = open, 1 = closed (native convention)"}}))
