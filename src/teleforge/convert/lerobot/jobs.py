"""LeRobot engine jobs: the selected episodes planned from the catalog, cut into jobs, and read and encoded.

Shared by both LeRobot writers (:mod:`.writer`, v3.0; :mod:`.v21_writer`, v2.1), which run the
jobs on the engine in force; the v3.0 job (:func:`_encode_job`) only computes, the writer writes.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.convert.lerobot.layout import EXTRA_COLUMNS, EXTRA_PREFIX, depth_valid_column
from teleforge.convert.lerobot.stats import (
    ImageStats,
    downsample,
    sample_indices,
    vector_stats,
)
from teleforge.convert.lerobot.video import SegmentEncoder, VideoFileWriter
from teleforge.dataset.engine import batches
from teleforge.dataset.episode import Episode
from teleforge.dataset.images import decode_image
from teleforge.dataset.schema import CameraConfig, depth_column, image_column
from teleforge.dataset.selection import ExportSource
from teleforge.errors import ExportError
from teleforge.spec import BOOL_COLUMNS, NATIVE_COLUMN_NAMES


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

