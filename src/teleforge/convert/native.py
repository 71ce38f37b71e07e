"""Native episodes as arrays, both ways: what every exporter reads and every importer writes.

Exporters read an episode's numeric columns as dense arrays (:func:`native_arrays`);
importers map a foreign episode onto native columns (:class:`ImportedEpisode`) and write
it as a native shard (:func:`write_native_episode`), filling the columns the source
lacks with neutral values (:func:`neutral_column`) and saying so in the episode extras.
The column table itself is :data:`teleforge.spec.NATIVE_COLUMNS`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.catalog import IMPORT_KEY, import_key, imported_episodes
from teleforge.dataset.episode import Episode
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.schema import DatasetSpec
from teleforge.dataset.writer import EpisodeWriter
from teleforge.errors import ImportFormatError
from teleforge.spec import (
    BOOL_COLUMNS,
    NATIVE_COLUMN_NAMES,
    NATIVE_COLUMNS,
    SCALAR_COLUMNS,
    column_sizes,
)

DEFAULT_N_JOINTS = 7
"""Joint count an importer assumes when the source names no joint positions (a 7-DoF arm)."""


def native_arrays(ep: Episode) -> dict[str, np.ndarray]:
    """Every numeric native column of an episode: (T, k) float32 vectors, (T,) scalars, plus tick_ns."""
    out = {name: np.asarray(ep.column(name)) for name in NATIVE_COLUMN_NAMES}
    for name in BOOL_COLUMNS:
        out[name] = out[name].astype(bool)
    out["tick_ns"] = np.asarray(ep.column("tick_ns"), np.int64)
    return out


@dataclass
class ImportReport:
    """What an import (any source format) added to the native dataset."""

    dataset: Path
    episode_ids: list[int]
    steps: int
    skipped_keys: list[str] = field(default_factory=list)
    filled_columns: list[str] = field(default_factory=list)  # native columns the source lacked
    source_kind: str = ""  # rlds: "teleforge" (our own export) or "foreign"


@dataclass
class ImportedEpisode:
    """One foreign episode mapped onto native columns, ready to write.

    ``columns`` holds any subset of the native columns (missing ones are filled with
    neutral values and listed in the episode's extras); ``images`` maps camera ->
    (T, H, W, 3) uint8 RGB, ``depth`` a depth camera -> (T, H, W) uint16 mm and
    ``depth_valid`` a depth camera -> (T,) bool: a False step had no depth frame and is written
    as missing (null), not as its all-zero placeholder (a camera absent from it: every step valid).
    """

    start: EpisodeStart
    columns: dict[str, np.ndarray]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    outcome: str = "unknown"
    labels: dict[str, Any] = field(default_factory=dict)
    tick_ns: np.ndarray | None = None
    depth: dict[str, np.ndarray] = field(default_factory=dict)  # depth camera -> (T, H, W) uint16 mm
    depth_valid: dict[str, np.ndarray] = field(default_factory=dict)  # depth camera -> (T,) bool

    @property
    def num_steps(self) -> int:
        return int(len(self.columns["action"]))


def neutral_column(name: str, spec: DatasetSpec, t: int) -> np.ndarray:
    """``t`` steps of a native column the source lacks: zeros (false), identity quaternions (wxyz)."""
    if name in BOOL_COLUMNS:
        return np.zeros(t, bool)
    if name in SCALAR_COLUMNS:
        return np.zeros(t, np.float32)
    arr = np.zeros((t, column_sizes(spec.n_joints)[name]), np.float32)
    if name.endswith("ee_quat"):
        arr[:, 0] = 1.0  # identity, wxyz
    return arr


def fill_missing(cols: dict[str, np.ndarray], spec: DatasetSpec, t: int) -> list[str]:
    """Add neutral values for every native column ``cols`` lacks (in place); returns their names."""
    filled = [name for name in NATIVE_COLUMN_NAMES if name not in cols]
    for name in filled:
        cols[name] = neutral_column(name, spec, t)
    return filled


def check_fps(value: object, where: str) -> float:
    """A rate read from a source file: finite, in (0, 10 kHz], else ImportFormatError naming ``where``."""
    try:
        fps = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        fps = math.nan
    if not (math.isfinite(fps) and 0 < fps <= 10_000):
        raise ImportFormatError(f"{where}: fps {value!r} is not a rate in (0, 10000] Hz; pass --fps")
    return fps


def check_joints(n: int, where: str) -> int:
    """A joint count derived from a source's arrays: 1..64, else ImportFormatError naming ``where``."""
    if not 1 <= int(n) <= 64:
        raise ImportFormatError(f"{where}: joint positions have {n} values per step; expected 1..64 joints")
    return int(n)


def check_columns(cols: dict[str, np.ndarray], spec: DatasetSpec, t: int, where: str,
                  tick_ns: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Every native column of an import as the schema wants it: numeric, ``t`` steps of the
    column's size, finite. Returns the columns as float32 / bool arrays; a violation raises
    ImportFormatError naming ``where``, the column and the first bad step."""
    sizes = column_sizes(spec.n_joints)
    out: dict[str, np.ndarray] = {}
    for name, raw in cols.items():
        arr = np.asarray(raw)
        if arr.dtype.kind not in "biuf":
            raise ImportFormatError(f"{where}: {name} holds {arr.dtype} values, not numbers; the source is damaged or mislabelled")
        if name in BOOL_COLUMNS or name in SCALAR_COLUMNS:
            if arr.shape not in ((t,), (t, 1)):
                raise ImportFormatError(f"{where}: {name} has shape {arr.shape}; expected {t} scalar steps")
            arr = arr.reshape(t)
        elif arr.shape != (t, sizes[name]):
            raise ImportFormatError(f"{where}: {name} has shape {arr.shape}; expected ({t}, {sizes[name]})")
        if name not in BOOL_COLUMNS:
            bad = ~np.isfinite(arr.astype(np.float64, copy=False))
            if bad.any():
                step = int(np.argwhere(bad)[0][0])
                raise ImportFormatError(f"{where}: {name} holds NaN/inf (first at step {step}); fix or drop that episode")
            out[name] = arr.astype(np.float32)
        else:
            out[name] = arr.astype(bool)
    if tick_ns is not None:
        ticks = np.asarray(tick_ns)
        if ticks.dtype.kind not in "iu" or ticks.shape != (t,):
            raise ImportFormatError(f"{where}: tick_ns has {ticks.dtype} {ticks.shape}; expected {t} integer times (ns)")
    return out


def step_record(cols: dict[str, np.ndarray], i: int, tick_ns: int) -> StepRecord:
    """Step ``i`` of full native columns as a :class:`StepRecord` (no images yet)."""
    return StepRecord(step=i, tick_ns=int(tick_ns), **{
        c.attr: (cols[c.name][i].item() if cols[c.name].ndim == 1 else cols[c.name][i]) for c in NATIVE_COLUMNS
    })


def default_ticks(spec: DatasetSpec, t: int) -> np.ndarray:
    """Tick times (ns) of ``t`` steps at the dataset's rate, for sources that store no time."""
    return (np.arange(t) * (1e9 / spec.fps)).astype(np.int64)


def write_native_episode(root: Path, spec: DatasetSpec, ep: ImportedEpisode) -> int:
    """Write one imported episode as a native shard (JPEG-encoding images per the spec); returns its id.

    Idempotent: an episode this dataset already imported from the same source (file +
    demo / episode index) is not written again; its existing id is returned, so rerunning
    an import that failed part-way adds only what is missing.
    """
    key = import_key(ep.start.extras)
    if key is not None:
        done = imported_episodes(root).get(key)
        if done is not None:
            return done
        ep = ImportedEpisode(**{**ep.__dict__, "start": EpisodeStart(**{**ep.start.__dict__,
                                                                        "extras": {**ep.start.extras, IMPORT_KEY: key}})})
    t = ep.num_steps
    where = str(ep.start.extras.get("source", "import"))
    if t == 0:
        raise ImportFormatError(f"{where}: the episode has no steps")
    unknown = sorted(set(ep.columns) - set(NATIVE_COLUMN_NAMES))
    if unknown:
        raise ImportFormatError(f"{where}: {unknown} are not native columns")
    cols = check_columns(ep.columns, spec, t, where, ep.tick_ns)
    filled = fill_missing(cols, spec, t)
    for cam, frames in ep.images.items():
        c = spec.camera(cam)
        if frames.dtype != np.uint8 or frames.shape != (t, c.height, c.width, 3):
            raise ImportFormatError(f"{where}: camera {cam} frames are {frames.dtype} {frames.shape}; "
                                    f"expected ({t}, {c.height}, {c.width}, 3) uint8")
    for cam, d in ep.depth.items():
        c = spec.camera(cam)
        if not c.depth or d.dtype != np.uint16 or d.shape != (t, c.height, c.width):
            raise ImportFormatError(f"{where}: camera {cam} depth is {d.dtype} {d.shape}; expected ({t}, {c.height}, "
                                    f"{c.width}) uint16 mm into a dataset whose camera records depth")
    for cam, v in ep.depth_valid.items():
        if cam not in ep.depth or v.shape != (t,):
            raise ImportFormatError(f"{where}: camera {cam} depth validity has shape {v.shape}; expected ({t},) "
                                    "beside that camera's depth")
    valid = {cam: ep.depth_valid[cam].astype(bool) if cam in ep.depth_valid else np.ones(t, bool) for cam in ep.depth}
    start = ep.start
    if filled:
        start = EpisodeStart(**{**start.__dict__, "extras": {**start.extras, "filled_columns": filled}})
    ticks = ep.tick_ns
    if ticks is None:
        ticks = default_ticks(spec, t)
    writer = EpisodeWriter(root, spec, start, batch_rows=64, flush_interval_s=5.0)
    try:
        for i in range(t):
            rec = step_record(cols, i, ticks[i])
            for cam, frames in ep.images.items():
                rec.images[cam] = np.ascontiguousarray(frames[i])
                rec.image_t_ns[cam] = int(ticks[i])
                rec.image_seq[cam] = i
            for cam, d in ep.depth.items():
                if valid[cam][i]:  # an invalid step stays missing: its zeros were only a placeholder
                    rec.depth[cam] = np.ascontiguousarray(d[i])
            writer.append(rec)
        writer.finalize(EpisodeEnd(outcome=ep.outcome, labels=ep.labels))
    except BaseException:
        writer.discard()
        raise
    return writer.episode_id
