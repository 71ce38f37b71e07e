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

Files roll over to the next ``file-NNN`` when they would pass ``data_files_size_in_mb`` /
``video_files_size_in_mb`` (and to the next ``chunk-NNN`` after ``chunks_size`` files), the way
lerobot's own writer does. ``action`` is the native 7-D EE delta + gripper (0 = open, 1 = closed);
``observation.state`` is ``[x, y, z, qw, qx, qy, qz, gripper]`` (``state="ee"``) or
``[joints..., gripper]`` (``state="joints"``). Everything is written under a hidden
``.<out>.partial`` folder and renamed at the end, so an interrupted export never looks
like a dataset. The importer lives in :mod:`teleforge.convert.lerobot_import`.
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
import pyarrow.parquet as pq

from teleforge.convert.card import ExportSource, export_manifest, select, stage_output, write_export_manifest
from teleforge.convert.hdf5 import NATIVE_COLUMNS
from teleforge.convert.lerobot_video import DEFAULT_CRF, DEFAULT_GOP, VideoFileWriter, resolve_codec, video_info
from teleforge.dataset.images import decode_image
from teleforge.dataset.reader import Dataset, Episode
from teleforge.dataset.schema import CameraConfig, DatasetSpec, image_column
from teleforge.errors import ExportError

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)  # lerobot.datasets.compute_stats.DEFAULT_QUANTILES
Q_KEYS = tuple(f"q{int(q * 100):02d}" for q in QUANTILES)
EXTRA_PREFIX = "teleforge."  # native columns beyond action/state; not "observation.*", so policies ignore them
STATE_SPACES = ("ee", "joints")
EE_STATE_NAMES = ["x", "y", "z", "qw", "qx", "qy", "qz", "gripper"]
ACTION_NAMES = ["dx", "dy", "dz", "drx", "dry", "drz", "gripper"]
INDEX_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")
MB = 1024 * 1024

# Native columns carried as teleforge.* (reward and success travel as next.reward / next.success).
EXTRA_COLUMNS = [c for c in NATIVE_COLUMNS if c not in ("action", "reward", "success")] + ["tick_ns"]


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


# --- statistics, shaped the way lerobot.datasets.compute_stats shapes them ----------
def sample_indices(n: int) -> list[int]:
    """lerobot's ``sample_indices``: which frames of an episode its image stats read."""
    k = n if n < 100 else max(100, min(int(n**0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(int).tolist()


def downsample(img: np.ndarray) -> np.ndarray:
    """lerobot's ``auto_downsample_height_width`` on an (H, W, C) frame."""
    h, w = img.shape[:2]
    if max(h, w) < 300:
        return img
    f = int(w / 150) if w > h else int(h / 150)
    return img[::f, ::f]


N_QUANTILE_BINS = 5000  # lerobot's RunningQuantileStats default


def hist_quantiles(hist: np.ndarray, edges: np.ndarray, count: float) -> list[float]:
    """lerobot's histogram quantiles (``RunningQuantileStats._compute_single_quantile``), one value per q."""
    cum = np.cumsum(hist)
    out = []
    for q in QUANTILES:
        target = q * count
        idx = int(np.searchsorted(cum, target))
        if idx == 0:
            out.append(float(edges[0]))
        elif idx >= len(cum):
            out.append(float(edges[-1]))
        else:
            before = cum[idx - 1]
            inside = cum[idx] - before
            frac = 0.0 if inside == 0 else (target - before) / inside
            out.append(float(edges[idx] + frac * (edges[idx + 1] - edges[idx])))
    return out


def _edges(lo: float, hi: float) -> np.ndarray:
    return np.linspace(float(lo) - 1e-10, float(hi) + 1e-10, N_QUANTILE_BINS + 1)


def vector_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension stats of (T,) or (T, k) data, as lerobot's ``get_feature_stats(axis=0)`` makes them.

    (T,) data gets shape (1,) stats; quantiles use lerobot's 5000-bin histogram definition, so a
    policy normalizing with q01/q99 sees the numbers lerobot itself would have written."""
    a = x.reshape(len(x), -1)
    f = a.astype(np.float64)
    out = {"min": a.min(axis=0), "max": a.max(axis=0), "mean": f.mean(axis=0), "std": f.std(axis=0),
           "count": np.array([len(a)], np.int64)}
    if len(a) < 2:  # lerobot's _compute_basic_stats: quantiles are the mean
        qs = np.repeat(out["mean"][None], len(QUANTILES), axis=0)
    else:
        cols = []
        for i in range(f.shape[1]):
            edges = _edges(f[:, i].min(), f[:, i].max())
            cols.append(hist_quantiles(np.histogram(f[:, i], bins=edges)[0], edges, len(f)))
        qs = np.asarray(cols).T
    for key, q in zip(Q_KEYS, qs):
        out[key] = q
    return out


class ImageStats:
    """Per-channel stats of uint8 frames from a 256-bin histogram per channel (exact mean/std/min/max).

    Result: values scaled to [0, 1] with shape (3, 1, 1), ``count`` = frames seen — what
    lerobot's ``compute_episode_stats`` stores for an image or video feature. (lerobot 0.4.4
    squares uint8 pixels in place, which wraps and spoils its std; ours is the true std.)
    """

    def __init__(self) -> None:
        self.hist = np.zeros((3, 256), np.int64)
        self.frames = 0

    def add(self, img: np.ndarray) -> None:
        px = img.reshape(-1, 3)
        for c in range(3):
            self.hist[c] += np.bincount(px[:, c], minlength=256)
        self.frames += 1

    def result(self) -> dict[str, np.ndarray]:
        v = np.arange(256, dtype=np.float64)
        out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *Q_KEYS)}
        for h in self.hist:
            n = h.sum()
            nz = np.nonzero(h)[0]
            mean = (h * v).sum() / n
            out["min"].append(nz[0])
            out["max"].append(nz[-1])
            out["mean"].append(mean)
            out["std"].append(np.sqrt(max((h * (v - mean) ** 2).sum() / n, 0.0)))
            edges = _edges(nz[0], nz[-1])
            qs = hist_quantiles(np.histogram(v, bins=edges, weights=h)[0], edges, n)
            for key, q in zip(Q_KEYS, qs):
                out[key].append(q)
        res = {k: (np.asarray(x, np.float64) / 255.0).reshape(3, 1, 1) for k, x in out.items()}
        res["count"] = np.array([self.frames], np.int64)
        return res


class StatsAggregator:
    """lerobot's ``aggregate_stats``, streamed: count-weighted mean and quantiles, pooled variance."""

    def __init__(self) -> None:
        self._acc: dict[str, dict[str, Any]] = {}

    def add(self, ep_stats: dict[str, dict[str, np.ndarray]]) -> None:
        for key, s in ep_stats.items():
            c = float(s["count"][0])
            mean = np.asarray(s["mean"], np.float64)
            a = self._acc.setdefault(key, {"n": 0.0, "min": s["min"], "max": s["max"], "m1": 0.0, "m2": 0.0,
                                           **{q: 0.0 for q in Q_KEYS}})
            a["n"] += c
            a["min"] = np.minimum(a["min"], s["min"])
            a["max"] = np.maximum(a["max"], s["max"])
            a["m1"] = a["m1"] + mean * c
            a["m2"] = a["m2"] + (np.asarray(s["std"], np.float64) ** 2 + mean**2) * c
            for q in Q_KEYS:
                a[q] = a[q] + np.asarray(s[q], np.float64) * c

    def result(self) -> dict[str, dict[str, Any]]:
        out = {}
        for key, a in self._acc.items():
            n = a["n"]
            mean = a["m1"] / n
            var = np.maximum(a["m2"] / n - mean**2, 0.0)
            out[key] = {"min": a["min"], "max": a["max"], "mean": mean, "std": np.sqrt(var),
                        "count": np.array([int(n)], np.int64), **{q: a[q] / n for q in Q_KEYS}}
        return out


def _jsonable(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}


# --- features and files ------------------------------------------------------------
def _hf_feature(ft: dict[str, Any]) -> dict[str, Any]:
    # What datasets writes into the parquet "huggingface" metadata for Value / List(length=n).
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "List"}


def _arrow_type(ft: dict[str, Any]) -> pa.DataType:
    base = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_()}[ft["dtype"]]
    return base if list(ft["shape"]) == [1] else pa.list_(base, int(ft["shape"][0]))


def _column(values: np.ndarray, t: pa.DataType) -> pa.Array:
    if pa.types.is_fixed_size_list(t):
        flat = np.ascontiguousarray(values, dtype=t.value_type.to_pandas_dtype()).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, t.value_type), t.list_size)
    return pa.array(np.asarray(values).reshape(-1), t)


def features(spec: DatasetSpec, state: str = "ee", native_columns: bool = True) -> dict[str, dict[str, Any]]:
    """The ``features`` block of meta/info.json for a native dataset (video ``info`` added after encoding)."""
    n = spec.n_joints
    state_names = EE_STATE_NAMES if state == "ee" else [f"joint_{i}" for i in range(n)] + ["gripper"]
    feats: dict[str, dict[str, Any]] = {
        "action": {"dtype": "float32", "shape": [7], "names": ACTION_NAMES},
        "observation.state": {"dtype": "float32", "shape": [len(state_names)], "names": state_names},
    }
    for cam in spec.cameras:
        feats[image_column(cam.name)] = {"dtype": "video", "shape": [cam.height, cam.width, 3],
                                         "names": ["height", "width", "channels"]}
    feats["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    feats["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    feats["next.success"] = {"dtype": "bool", "shape": [1], "names": None}
    if native_columns:
        sizes = {"observation.state.joint_pos": n, "observation.state.joint_vel": n, "observation.state.ee_pos": 3,
                 "observation.state.ee_quat": 4, "target.ee_pos": 3, "target.ee_quat": 4, "target.joint_pos": n,
                 "command.twist": 6}
        for col in EXTRA_COLUMNS:
            dtype = "int64" if col == "tick_ns" else "bool" if col.startswith("safety.") else "float32"
            feats[EXTRA_PREFIX + col] = {"dtype": dtype, "shape": [sizes.get(col, 1)], "names": None}
    feats["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        feats[k] = {"dtype": "int64", "shape": [1], "names": None}
    return feats


def _next_file(chunk: int, file: int, chunks_size: int) -> tuple[int, int]:
    # lerobot.datasets.utils.update_chunk_file_indices
    return (chunk + 1, 0) if file == chunks_size - 1 else (chunk, file + 1)


class _Rolling:
    """The chunk/file position of one kind of file, moved on the way lerobot decides it:
    when the current file plus this episode (estimated from the average so far) would reach the limit."""

    def __init__(self, limit_mb: float, chunks_size: int) -> None:
        self.limit = limit_mb * MB
        self.chunks_size = chunks_size
        self.chunk, self.file = 0, 0
        self.files = 0
        self.units = 0  # frames (or rows) in the current file

    def should_roll(self, size_bytes: int, units: int) -> bool:
        if self.units == 0:
            return False
        return size_bytes + size_bytes / self.units * units >= self.limit

    def roll(self) -> None:
        self.chunk, self.file = _next_file(self.chunk, self.file, self.chunks_size)
        self.units = 0


class _ParquetFiles(_Rolling):
    def __init__(self, root: Path, template: str, schema: pa.Schema | None, limit_mb: float, chunks_size: int) -> None:
        super().__init__(limit_mb, chunks_size)
        self.root, self.template, self.schema = root, template, schema
        self._writer: pq.ParquetWriter | None = None
        self._path: Path | None = None

    def place(self, rows: int) -> tuple[int, int]:
        """(chunk, file) for the next ``rows`` rows, closing the current file first if they would overflow it."""
        if self._writer is not None and self._path is not None and self.should_roll(self._path.stat().st_size, rows):
            self.close()
            self.roll()
        return self.chunk, self.file

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._path = self.root / self.template.format(chunk_index=self.chunk, file_index=self.file)
            self._path.parent.mkdir(parents=True, exist_ok=True)
            self.schema = self.schema or table.schema
            self._writer = pq.ParquetWriter(self._path, self.schema, compression="snappy", use_dictionary=True)
            self.files += 1
        self._writer.write_table(table)
        self.units += table.num_rows

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class _CameraVideos(_Rolling):
    """The rolling mp4 files of one camera."""

    def __init__(self, root: Path, key: str, cam: CameraConfig, fps: int, vcodec: str, limit_mb: float,
                 chunks_size: int, gop: int, crf: int, threads: int | None) -> None:
        super().__init__(limit_mb, chunks_size)
        self.root, self.key, self.cam, self.fps, self.vcodec = root, key, cam, fps, vcodec
        self.gop, self.crf, self.threads = gop, crf, threads
        self.writer: VideoFileWriter | None = None
        self.first_path: Path | None = None

    def start_episode(self, frames: int) -> tuple[int, int, int]:
        """(chunk, file, first frame number in that file) for an episode of ``frames`` frames."""
        if self.writer is not None and self.should_roll(self.writer.size_bytes(), frames):
            self.writer.close()
            self.writer = None
            self.roll()
        if self.writer is None:
            path = self.root / VIDEO_PATH.format(video_key=self.key, chunk_index=self.chunk, file_index=self.file)
            self.writer = VideoFileWriter(path, self.fps, self.cam.height, self.cam.width, self.vcodec,
                                          self.gop, self.crf, self.threads)
            self.first_path = self.first_path or path
            self.files += 1
        start = self.writer.frames
        self.units += frames
        return self.chunk, self.file, start

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


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


def _check_out(out: Path, overwrite: bool) -> None:
    if not out.exists():
        return
    if not overwrite:
        raise ExportError(f"{out} already exists; pass --overwrite to replace it or choose another folder")
    if (out / "teleforge.json").exists() or (out / "catalog.parquet").exists():
        raise ExportError(f"{out} is a native teleforge dataset; refusing to overwrite recorded data — choose another --out")
    if any(out.iterdir()) and not (out / "meta" / "info.json").exists():
        raise ExportError(f"{out} is not a LeRobot export (no meta/info.json); refusing to replace it — choose another --out")


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
) -> LeRobotExport:
    """Write ``out`` as a LeRobot v3.0 dataset, one episode at a time.

    Memory holds one episode's numbers and one frame per camera, whatever the dataset size.
    A view's trims are applied (only the kept steps are written). ``progress(done, total)``
    is called after each episode.
    """
    t0 = time.perf_counter()
    if not isinstance(src, ExportSource):
        src = select(src)
    if state not in STATE_SPACES:
        raise ExportError(f"unknown state space {state!r}; use one of {', '.join(STATE_SPACES)}")
    ds = src.dataset
    spec = ds.spec
    fps = int(round(spec.fps))
    if abs(spec.fps - fps) > 1e-6:
        raise ExportError(f"LeRobot stores an integer fps; this dataset runs at {spec.fps} Hz — resample it before export")
    out = Path(out)
    _check_out(out, overwrite)
    # Written under .<out>.partial and renamed into place at the end; a .partial left by a killed
    # export is refused (PartialExportError) unless --overwrite — the same rule as every exporter.
    stage = stage_output(out, overwrite=overwrite)
    tmp = stage.staging
    codec = resolve_codec(vcodec) if spec.cameras else ""
    trims = dict(src.trims)

    feats = features(spec, state, native_columns)
    data_keys = [k for k, f in feats.items() if f["dtype"] != "video"]
    types = {k: _arrow_type(feats[k]) for k in data_keys}
    hf_meta = json.dumps({"info": {"features": {k: _hf_feature(feats[k]) for k in data_keys}}})
    schema = pa.schema([pa.field(k, types[k]) for k in data_keys], metadata={"huggingface": hf_meta})
    data = _ParquetFiles(tmp, DATA_PATH, schema, data_files_size_in_mb, chunks_size)
    meta_eps = _ParquetFiles(tmp, EPISODES_PATH, None, data_files_size_in_mb, chunks_size)
    videos = {image_column(c.name): _CameraVideos(tmp, image_column(c.name), c, fps, codec, video_files_size_in_mb,
                                                  chunks_size, gop, crf, encoder_threads) for c in spec.cameras}
    ep_rows: list[dict[str, Any]] = []
    tasks: dict[str, int] = {}
    agg = StatsAggregator()
    infos = {e.episode_id: e for e in ds.episodes}
    total = 0

    def flush_episode_rows() -> None:
        if not ep_rows:
            return
        chunk, file = meta_eps.place(len(ep_rows))
        for r in ep_rows:
            r["meta/episodes/chunk_index"], r["meta/episodes/file_index"] = chunk, file
        meta_eps.write(pa.Table.from_pylist(ep_rows, schema=meta_eps.schema))
        ep_rows.clear()

    try:
        for k, eid in enumerate(src.episode_ids):
            ep = src.episode(eid)  # a view's episode: only its kept (trimmed) steps, relabels applied
            meta = infos.get(eid) or ep.meta
            t = ep.num_steps
            a = trims.get(eid, (0, t))[0]
            if t == 0:
                raise ExportError(f"episode {eid} has no steps; drop it from the selection before export")
            cols = {c: np.asarray(ep.column(c)) for c in NATIVE_COLUMNS}
            cols["tick_ns"] = np.asarray(ep.column("tick_ns"), np.int64)
            task = meta.instruction
            task_index = tasks.setdefault(task, len(tasks))
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
                "index": np.arange(total, total + t, dtype=np.int64),
                "task_index": np.full(t, task_index, np.int64),
            }
            if native_columns:
                for c in EXTRA_COLUMNS:
                    values[EXTRA_PREFIX + c] = cols[c].astype(bool) if c.startswith("safety.") else cols[c]
            chunk, file = data.place(t)
            data.write(pa.Table.from_arrays([_column(values[key], types[key]) for key in data_keys], schema=schema))
            # Column order follows lerobot's writer: episode, tasks, length, data/…, dataset_*, videos/…, stats/…, meta/…
            row: dict[str, Any] = {"episode_index": k, "tasks": [task], "length": t, "data/chunk_index": chunk,
                                   "data/file_index": file, "dataset_from_index": total, "dataset_to_index": total + t}
            ep_stats: dict[str, dict[str, np.ndarray]] = {}
            sample = set(sample_indices(t))
            for key, vid in videos.items():
                vchunk, vfile, start = vid.start_episode(t)
                srcs, raw = _camera_sources(ep, vid.cam)
                stats = ImageStats()
                last_i, img = -1, None
                assert vid.writer is not None
                for i in range(t):
                    if srcs[i] != last_i:
                        last_i = srcs[i]
                        img = decode_image(raw[last_i], vid.cam)
                    vid.writer.add(img)
                    if i in sample:
                        stats.add(downsample(img))
                ep_stats[key] = stats.result()
                row.update({f"videos/{key}/chunk_index": vchunk, f"videos/{key}/file_index": vfile,
                            f"videos/{key}/from_timestamp": start / fps, f"videos/{key}/to_timestamp": (start + t) / fps})
            for key in data_keys:
                ep_stats[key] = vector_stats(values[key])
            ordered = {key: ep_stats[key] for key in feats}
            for key, st in ordered.items():
                for name, v in st.items():
                    row[f"stats/{key}/{name}"] = np.asarray(v).tolist()
            # Native provenance (extra columns: lerobot loads and ignores them; our importer reads them).
            row["teleforge/episode_id"] = int(eid)
            row["teleforge/task"] = meta.task
            row["teleforge/outcome"] = meta.outcome
            row["teleforge/trim_start"] = int(a)
            ep_rows.append(row)
            agg.add(ordered)
            total += t
            if len(ep_rows) >= 64:
                flush_episode_rows()
            if progress is not None:
                progress(k + 1, len(src.episode_ids))
        flush_episode_rows()
    except BaseException:
        data.close()
        meta_eps.close()
        for vid in videos.values():
            vid.close()
        stage.abort()
        raise
    data.close()
    meta_eps.close()
    for vid in videos.values():
        vid.close()

    for key, vid in videos.items():
        assert vid.first_path is not None
        feats[key]["info"] = video_info(vid.first_path)
    n_eps = len(src.episode_ids)
    info = {
        "codebase_version": CODEBASE_VERSION,
        "robot_type": spec.robot_embodiment,
        "total_episodes": n_eps,
        "total_frames": total,
        "total_tasks": len(tasks),
        "chunks_size": chunks_size,
        "data_files_size_in_mb": data_files_size_in_mb,
        "video_files_size_in_mb": video_files_size_in_mb,
        "fps": fps,
        "splits": {"train": f"0:{n_eps}"},
        "data_path": DATA_PATH,
        "video_path": VIDEO_PATH if videos else None,
        "features": feats,
    }
    (tmp / "meta").mkdir(exist_ok=True)
    (tmp / "meta" / "info.json").write_text(json.dumps(info, indent=4, ensure_ascii=False))
    stats = agg.result()
    (tmp / "meta" / "stats.json").write_text(json.dumps(_jsonable({k: stats[k] for k in feats if k in stats}), indent=4))
    write_tasks(tmp, tasks)
    write_export_manifest(tmp, export_manifest(src, "lerobot", {
        "lerobot": {"repo_id": repo_id, "codebase_version": CODEBASE_VERSION, "state": state,
                    "state_names": feats["observation.state"]["names"], "vcodec": codec, "trims": {str(k): list(v) for k, v in trims.items()}},
        "conventions": {"action": "native 7-D EE delta [dx, dy, dz, drx, dry, drz, gripper]",
                        "gripper": "action[6] and the state's gripper: 0 = open, 1 = closed (native convention)"}}))
    stage.publish()  # --overwrite: the old export goes only once the new one is complete
    return LeRobotExport(out, repo_id, n_eps, total, len(tasks), codec, data.files,
                         sum(v.files for v in videos.values()), time.perf_counter() - t0)


def write_tasks(root: Path, tasks: dict[str, int]) -> None:
    """meta/tasks.parquet as lerobot writes it: ``DataFrame({"task_index": ...}, index=tasks).to_parquet()``."""
    names = list(tasks)
    pandas_meta = {
        "index_columns": ["__index_level_0__"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [
            {"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64", "metadata": None},
            {"name": None, "field_name": "__index_level_0__", "pandas_type": "unicode", "numpy_type": "object", "metadata": None},
        ],
        "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.2.0",
    }
    table = pa.table({"task_index": pa.array([tasks[n] for n in names], pa.int64()),
                      "__index_level_0__": pa.array(names, pa.string())},
                     ).replace_schema_metadata({"pandas": json.dumps(pandas_meta)})
    pq.write_table(table, root / "meta" / "tasks.parquet")
