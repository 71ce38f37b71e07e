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
renamed at the end, so an interrupted export never looks like a dataset. The episodes are
planned, read and encoded by engine jobs (:mod:`teleforge.convert.lerobot.jobs`); this module
writes their results in order. The importer lives in :mod:`teleforge.convert.lerobot.importer`.
"""

from __future__ import annotations

import json
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
from teleforge.convert.lerobot.jobs import (
    JOBS_IN_FLIGHT,
    _encode_job,
    default_workers,
    episode_jobs,
    plan_episodes,
    v3_episodes_per_job,
)
from teleforge.convert.lerobot.layout import (
    CODEBASE_VERSION,
    DATA_PATH,
    EPISODES_PATH,
    STATE_SPACES,
    VIDEO_PATH,
    arrow_type,
    features,
    hf_feature,
)
from teleforge.convert.lerobot.stats import StatsAggregator, jsonable
from teleforge.convert.lerobot.video import (
    DEFAULT_CRF,
    DEFAULT_GOP,
    resolve_codec,
    video_info,
)
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import map_in_order
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import CameraConfig, image_column
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError
from teleforge.names import check_repo_id
from teleforge.spec import ACTION_DIM, ACTION_NAMES, GRIPPER_INDEX

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
