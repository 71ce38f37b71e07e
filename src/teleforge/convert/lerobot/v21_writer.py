"""LeRobot v2.1 export: the layout openpi's pinned LeRobot (commit 0cf8648) loads.

Layout written::

    meta/info.json             codebase_version "v2.1", fps, features (+ video info), totals, path templates
    meta/episodes.jsonl        {"episode_index", "tasks": [instruction], "length"} per episode, in order
    meta/tasks.jsonl           {"task_index", "task"}: LeRobotDatasetMetadata.tasks is then {int: str}
    meta/episodes_stats.jsonl  {"episode_index", "stats": {feature: {min, max, mean, std, count}}}
    meta/stats.json            the aggregate (with q01..q99; v2.1 readers recompute it, others may use it)
    data/chunk-000/episode_000000.parquet              one file per episode (vectors: Sequence(length=n))
    videos/chunk-000/observation.images.<cam>/episode_000000.mp4   one file per episode and camera,
                               frame i at pts i / fps (timestamps restart at 0 in every episode)

Frame values, feature names and statistics are those of the v3.0 writer
(:mod:`teleforge.convert.lerobot.writer`; both read episodes through the engine jobs of
:mod:`teleforge.convert.lerobot.jobs`), depth included (``observation.depth.<cam>`` uint16
``Array2D`` + ``observation.depth_valid.<cam>``, which LeRobot 0cf8648 loads exactly); only the file
layout and metadata differ. Written
under a hidden ``.<out>.partial`` folder and renamed at the end.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teleforge.convert.lerobot.files import arrow_column
from teleforge.convert.lerobot.jobs import (
    JOBS_IN_FLIGHT,
    EpisodeJob,
    _camera_sources,
    _encode_frames,
    _frame_values,
    episode_jobs,
    feature_stats,
    plan_episodes,
)
from teleforge.convert.lerobot.layout import STATE_SPACES, arrow_type, features
from teleforge.convert.lerobot.stats import StatsAggregator, jsonable, sample_indices
from teleforge.convert.lerobot.v21_layout import (
    CODEBASE_VERSION_V21,
    DATA_PATH_V21,
    EPISODES_JSONL,
    EPISODES_STATS_JSONL,
    TASKS_JSONL,
    V21_STAT_KEYS,
    VIDEO_PATH_V21,
    data_path,
    hf_feature_v21,
    video_path,
)
from teleforge.convert.lerobot.video import DEFAULT_CRF, DEFAULT_GOP, VideoFileWriter, resolve_codec, video_info
from teleforge.convert.lerobot.writer import LeRobotExport
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import map_in_order
from teleforge.dataset.episode import Episode
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import CameraConfig, image_column
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError
from teleforge.spec import ACTION_DIM, ACTION_NAMES, GRIPPER_INDEX


def export_lerobot_v21(
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
    encoder_threads: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LeRobotExport:
    """Write ``out`` as a LeRobot v2.1 dataset, one episode at a time (memory: one episode + one frame per camera).

    Same arguments and values as :func:`export_lerobot` (v3.0), minus the file-size limits:
    v2.1 writes one file per episode. ``progress(done, total)`` is called after each episode.
    """
    t0 = time.perf_counter()
    if not isinstance(src, ExportSource):
        src = select(src)
    if state not in STATE_SPACES:
        raise ExportError(f"unknown state space {state!r}; use one of {', '.join(STATE_SPACES)}")
    spec = src.dataset.spec
    fps = int(round(spec.fps))
    if abs(spec.fps - fps) > 1e-6:
        raise ExportError(f"LeRobot stores an integer fps; this dataset runs at {spec.fps} Hz — resample it before export")
    out = Path(out)
    stage = stage_output(out, overwrite=overwrite, fmt="lerobot")
    codec = resolve_codec(vcodec) if spec.cameras else ""
    feats = features(spec, state, native_columns, depth=True)
    writer = _EpisodeFiles(stage.staging, feats, spec.cameras, fps, codec, chunks_size, gop, crf, encoder_threads)
    try:
        tasks, total, stats = _write_episodes(src, writer, feats, state, fps, native_columns, progress)
        n_videos = len(src.episode_ids) * len(spec.cameras)
        if n_videos:
            for cam in spec.cameras:
                key = image_column(cam.name)
                feats[key]["info"] = video_info(stage.staging / video_path(0, key, chunks_size))
        _write_meta(stage.staging, src, feats, tasks, total, stats, fps, codec, repo_id, state, chunks_size,
                    n_videos=n_videos)
    except BaseException:
        stage.abort()
        raise
    stage.publish()
    return LeRobotExport(out, repo_id, len(src.episode_ids), total, len(tasks), codec, len(src.episode_ids),
                         len(src.episode_ids) * len(spec.cameras), time.perf_counter() - t0)


class _EpisodeFiles:
    """Writes one episode's parquet file and one mp4 per camera; appends the JSON-lines metadata."""

    def __init__(self, root: Path, feats: dict[str, dict[str, Any]], cameras: list[CameraConfig], fps: int,
                 codec: str, chunks_size: int, gop: int, crf: int, threads: int | None) -> None:
        self.root, self.cameras, self.fps, self.codec = root, cameras, fps, codec
        self.chunks_size, self.gop, self.crf, self.threads = chunks_size, gop, crf, threads
        self.data_keys = [k for k, f in feats.items() if f["dtype"] != "video"]
        self.types = {k: arrow_type(feats[k]) for k in self.data_keys}
        hf_meta = json.dumps({"info": {"features": {k: hf_feature_v21(feats[k]) for k in self.data_keys}}})
        self.schema = pa.schema([pa.field(k, self.types[k]) for k in self.data_keys], metadata={"huggingface": hf_meta})
        (root / "meta").mkdir(parents=True, exist_ok=True)

    def write_data(self, k: int, values: dict[str, np.ndarray]) -> None:
        path = self.root / data_path(k, self.chunks_size)
        path.parent.mkdir(parents=True, exist_ok=True)
        table = pa.Table.from_arrays([arrow_column(values[key], self.types[key]) for key in self.data_keys],
                                     schema=self.schema)
        pq.write_table(table, path, compression="snappy")

    def write_videos(self, k: int, ep: Episode) -> dict[str, dict[str, np.ndarray]]:
        """Encode the episode's frames per camera (a step before the camera delivered shows the next real frame)."""
        t = ep.num_steps
        sample = set(sample_indices(t))
        out: dict[str, dict[str, np.ndarray]] = {}
        for cam in self.cameras:
            key = image_column(cam.name)
            path = self.root / video_path(k, key, self.chunks_size)
            vid = VideoFileWriter(path, self.fps, cam.height, cam.width, self.codec, self.gop, self.crf, self.threads)
            srcs, raw = _camera_sources(ep, cam)
            try:
                stats = _encode_frames(srcs, raw, cam, vid, sample)
            finally:
                vid.close()
            out[key] = stats.result()
        return out

    def append_jsonl(self, rel: str, record: dict[str, Any]) -> None:
        with open(self.root / rel, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")


def _write_job(job: EpisodeJob) -> list[tuple[int, dict[str, dict[str, np.ndarray]]]]:
    """Engine job: write a few episodes' parquet and mp4 files into the staging folder; (steps, stats) each."""
    src = ExportSource.from_state(job.source)
    spec = src.dataset.spec
    feats = features(spec, job.state, job.native_columns, depth=True)
    files = _EpisodeFiles(Path(job.out), feats, spec.cameras, job.fps, job.codec, job.chunks_size, job.gop, job.crf,
                          job.threads)
    out = []
    for p in job.episodes:
        ep = src.episode(p.episode_id)  # a view's episode: only its kept (trimmed) steps, relabels applied
        values = _frame_values(ep, p.k, p.first_index, p.task_index, job.state, job.fps, job.native_columns)
        files.write_data(p.k, values)
        ep_stats = files.write_videos(p.k, ep)
        for key in files.data_keys:
            ep_stats[key] = feature_stats(values[key])
        out.append((ep.num_steps, {key: ep_stats[key] for key in feats}))
    return out


def _write_episodes(src: ExportSource, files: _EpisodeFiles, feats: dict[str, dict[str, Any]], state: str, fps: int,
                    native_columns: bool, progress: Callable[[int, int], None] | None,
                    ) -> tuple[dict[str, int], int, dict[str, dict[str, Any]]]:
    """Every selected episode's data, videos, episodes.jsonl and episodes_stats.jsonl line; returns (tasks, frames, stats).

    The engine in force writes the per-episode files (a few episodes per job; on a cluster the
    output must be on a shared filesystem); the JSON-lines metadata is written here, in order."""
    tasks: dict[str, int] = {}
    plan = plan_episodes(src, tasks)
    jobs = episode_jobs(src, plan, state=state, fps=fps, native_columns=native_columns, codec=files.codec, gop=files.gop,
                        crf=files.crf, threads=files.threads, out=str(files.root.resolve()), chunks_size=files.chunks_size)
    results = (r for res in map_in_order(_write_job, jobs, JOBS_IN_FLIGHT) for r in res)
    agg = StatsAggregator()
    total = 0
    for p, (t, ordered) in zip(plan, results):
        files.append_jsonl(EPISODES_JSONL, {"episode_index": p.k, "tasks": [p.task], "length": t})
        files.append_jsonl(EPISODES_STATS_JSONL, {"episode_index": p.k, "stats": jsonable(
            {key: {s: st[s] for s in V21_STAT_KEYS} for key, st in ordered.items()})})
        agg.add(ordered)
        total += t
        if progress is not None:
            progress(p.k + 1, len(src.episode_ids))
    for task, i in tasks.items():
        files.append_jsonl(TASKS_JSONL, {"task_index": i, "task": task})
    return tasks, total, agg.result()


def _write_meta(tmp: Path, src: ExportSource, feats: dict[str, dict[str, Any]], tasks: dict[str, int], total: int,
                stats: dict[str, dict[str, Any]], fps: int, codec: str, repo_id: str, state: str, chunks_size: int,
                n_videos: int) -> None:
    """meta/info.json, meta/stats.json and the teleforge export manifest."""
    n_eps = len(src.episode_ids)
    has_videos = any(f["dtype"] == "video" for f in feats.values())
    info = {
        "codebase_version": CODEBASE_VERSION_V21,
        "robot_type": src.dataset.spec.robot_embodiment,
        "total_episodes": n_eps,
        "total_frames": total,
        "total_tasks": len(tasks),
        "total_videos": n_videos,
        "total_chunks": (n_eps - 1) // chunks_size + 1 if n_eps else 0,
        "chunks_size": chunks_size,
        "fps": fps,
        "splits": {"train": f"0:{n_eps}"},
        "data_path": DATA_PATH_V21,
        "video_path": VIDEO_PATH_V21 if has_videos else None,
        "features": feats,
    }
    (tmp / "meta" / "info.json").write_text(json.dumps(info, indent=4, ensure_ascii=False))
    (tmp / "meta" / "stats.json").write_text(json.dumps(jsonable({k: stats[k] for k in feats if k in stats}), indent=4))
    write_export_manifest(tmp, export_manifest(src, "lerobot", {
        "lerobot": {"repo_id": repo_id, "codebase_version": CODEBASE_VERSION_V21, "state": state,
                    "state_names": feats["observation.state"]["names"], "vcodec": codec,
                    "trims": {str(k): list(v) for k, v in dict(src.trims).items()}},
        "conventions": {"action": f"native {ACTION_DIM}-D EE delta [{', '.join(ACTION_NAMES)}]",
                        "gripper": f"action[{GRIPPER_INDEX}] and the state's gripper: 0 = open, 1 = closed (native convention)"}}))
