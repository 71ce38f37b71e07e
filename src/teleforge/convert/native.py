"""Native episodes as arrays, both ways: what every exporter reads and every importer writes.

Exporters read an episode's numeric columns as dense arrays (:func:`native_arrays`);
importers map a foreign episode onto native columns (:class:`ImportedEpisode`) and write
it as a native shard (:func:`write_native_episode`), filling the columns the source
lacks with neutral values (:func:`neutral_column`) and saying so in the episode extras.
The column table itself is :data:`teleforge.spec.NATIVE_COLUMNS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.catalog import IMPORT_KEY, import_key, imported_episodes
from teleforge.dataset.reader import Episode
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
    (T, H, W, 3) uint8 RGB.
    """

    start: EpisodeStart
    columns: dict[str, np.ndarray]
    images: dict[str, np.ndarray] = field(default_factory=dict)
    outcome: str = "unknown"
    labels: dict[str, Any] = field(default_factory=dict)
    tick_ns: np.ndarray | None = None

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
    cols = dict(ep.columns)
    filled = fill_missing(cols, spec, t)
    for name, arr in cols.items():
        if len(arr) != t:
            raise ImportFormatError(f"{ep.start.extras.get('source', 'import')}: {name} has {len(arr)} steps, actions have {t}")
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
            writer.append(rec)
        writer.finalize(EpisodeEnd(outcome=ep.outcome, labels=ep.labels))
    except BaseException:
        writer.discard()
        raise
    return writer.episode_id
