"""What the HDF5 layouts (robomimic, ALOHA) share: reading native episodes as
dense arrays, writing imported arrays back as native episodes, and opening
foreign HDF5 files with errors that name the file.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.reader import Episode
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.schema import DatasetSpec, image_column
from teleforge.dataset.writer import EpisodeWriter
from teleforge.errors import ImportFormatError

# Native vector/scalar columns and the StepRecord attribute each fills.
NATIVE_COLUMNS: dict[str, str] = {
    "action": "action",
    "observation.state.joint_pos": "joint_pos",
    "observation.state.joint_vel": "joint_vel",
    "observation.state.ee_pos": "ee_pos",
    "observation.state.ee_quat": "ee_quat",
    "observation.state.gripper": "gripper",
    "target.ee_pos": "target_ee_pos",
    "target.ee_quat": "target_ee_quat",
    "target.joint_pos": "target_joint_pos",
    "command.twist": "command_twist",
    "command.gripper": "command_gripper",
    "reward": "reward",
    "success": "success",
    "safety.hold": "hold",
    "safety.estop": "estop",
    "safety.clamped": "clamped",
}
BOOL_COLUMNS = ("success", "safety.hold", "safety.estop", "safety.clamped")
SCALAR_COLUMNS = ("observation.state.gripper", "command.gripper", "reward", *BOOL_COLUMNS)


def native_arrays(ep: Episode) -> dict[str, np.ndarray]:
    """Every numeric native column of an episode: (T, k) float32 vectors, (T,) scalars, plus tick_ns."""
    out = {name: np.asarray(ep.column(name)) for name in NATIVE_COLUMNS}
    for name in BOOL_COLUMNS:
        out[name] = out[name].astype(bool)
    out["tick_ns"] = np.asarray(ep.column("tick_ns"), np.int64)
    return out


def dense_frames(ep: Episode, cam: str) -> tuple[np.ndarray, int]:
    """(T, H, W, 3) uint8 frames of one camera and how many steps had no frame.

    HDF5 layouts need a frame on every step; a step recorded before the camera
    delivered gets the first frame that follows it (the nearest real image).
    """
    c = ep.spec.camera(cam)
    raw = ep.table.column(image_column(cam)).to_pylist()
    frames = np.zeros((len(raw), c.height, c.width, 3), np.uint8)
    missing = [i for i, b in enumerate(raw) if b is None]
    from teleforge.dataset.images import decode_image

    for i, data in enumerate(raw):
        if data is not None:
            frames[i] = decode_image(data, c)
    present = [i for i, b in enumerate(raw) if b is not None]
    if present and missing:
        nxt = np.searchsorted(np.asarray(present), np.asarray(missing))
        for i, k in zip(missing, nxt):
            frames[i] = frames[present[min(int(k), len(present) - 1)]]
    return frames, len(missing)


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

    ``columns`` holds any subset of :data:`NATIVE_COLUMNS` (missing ones are
    filled with neutral values and listed in the episode's extras);
    ``images`` maps camera -> (T, H, W, 3) uint8 RGB.
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


def _neutral(name: str, spec: DatasetSpec, t: int) -> np.ndarray:
    n = spec.n_joints
    sizes = {
        "action": 7, "observation.state.joint_pos": n, "observation.state.joint_vel": n,
        "observation.state.ee_pos": 3, "observation.state.ee_quat": 4, "target.ee_pos": 3,
        "target.ee_quat": 4, "target.joint_pos": n, "command.twist": 6,
    }
    if name in BOOL_COLUMNS:
        return np.zeros(t, bool)
    if name in SCALAR_COLUMNS:
        return np.zeros(t, np.float32)
    arr = np.zeros((t, sizes[name]), np.float32)
    if name.endswith("ee_quat"):
        arr[:, 0] = 1.0  # identity, wxyz
    return arr


def write_native_episode(root: Path, spec: DatasetSpec, ep: ImportedEpisode) -> int:
    """Write one imported episode as a native shard (JPEG-encoding images per the spec); returns its id."""
    t = ep.num_steps
    cols = dict(ep.columns)
    filled = [name for name in NATIVE_COLUMNS if name not in cols]
    for name in filled:
        cols[name] = _neutral(name, spec, t)
    for name, arr in cols.items():
        if len(arr) != t:
            raise ImportFormatError(f"{ep.start.extras.get('source', 'import')}: {name} has {len(arr)} steps, actions have {t}")
    start = ep.start
    if filled:
        start = EpisodeStart(**{**start.__dict__, "extras": {**start.extras, "filled_columns": filled}})
    ticks = ep.tick_ns
    if ticks is None:
        ticks = (np.arange(t) * (1e9 / spec.fps)).astype(np.int64)
    writer = EpisodeWriter(root, spec, start, batch_rows=64, flush_interval_s=5.0)
    try:
        for i in range(t):
            rec = StepRecord(step=i, tick_ns=int(ticks[i]), **{
                attr: (cols[name][i].item() if cols[name].ndim == 1 else cols[name][i])
                for name, attr in NATIVE_COLUMNS.items()
            })
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


@contextlib.contextmanager
def open_h5(path: Path) -> Iterator[Any]:
    """Open an HDF5 file read-only; a file h5py cannot open raises ImportFormatError naming it."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        raise ImportFormatError(
            f"{path} is not a readable HDF5 file ({exc}); it may be truncated or still being written — re-copy it"
        ) from exc
    try:
        yield f
    finally:
        f.close()


def read_array(ds: Any, where: str) -> np.ndarray:
    """Read a whole HDF5 dataset; a corrupt chunk raises ImportFormatError naming the file and key."""
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, KeyError, RuntimeError) as exc:
        raise ImportFormatError(f"{where}: cannot read ({exc}); the file is corrupt — re-copy or re-export it") from exc


def attr_text(value: Any) -> str:
    """An HDF5 attribute as text (h5py returns bytes or numpy strings depending on how it was written)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_text(value.item())
    return str(value)
