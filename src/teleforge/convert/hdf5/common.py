"""What the HDF5 layouts (robomimic, ALOHA) share: dense camera and depth frames for export, and
opening foreign HDF5 files with errors that name the file and key.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.dataset.episode import Episode
from teleforge.dataset.images import decode_depth, decode_image
from teleforge.dataset.schema import depth_column, image_column
from teleforge.errors import ImportFormatError


def dense_frames(ep: Episode, cam: str) -> tuple[np.ndarray, int]:
    """(T, H, W, 3) uint8 frames of one camera and how many steps had no frame.

    HDF5 layouts need a frame on every step; a step recorded before the camera
    delivered gets the first frame that follows it (the nearest real image).
    """
    c = ep.spec.camera(cam)
    raw = ep.table.column(image_column(cam)).to_pylist()
    frames = np.zeros((len(raw), c.height, c.width, 3), np.uint8)
    missing = [i for i, b in enumerate(raw) if b is None]
    for i, data in enumerate(raw):
        if data is not None:
            frames[i] = decode_image(data, c)
    present = [i for i, b in enumerate(raw) if b is not None]
    if present and missing:
        nxt = np.searchsorted(np.asarray(present), np.asarray(missing))
        for i, k in zip(missing, nxt):
            frames[i] = frames[present[min(int(k), len(present) - 1)]]
    return frames, len(missing)


def dense_depth(ep: Episode, cam: str) -> tuple[np.ndarray, np.ndarray]:
    """(T, H, W) uint16 depth (mm) of one depth camera and its (T,) bool validity.

    A step without a depth frame is all zeros, the depth convention for "no reading", rather
    than a neighbour's depth (a consumer must not mistake a stall for a measured scene), and
    False in the validity flag written beside it, so an importer brings it back as missing.
    """
    c = ep.spec.camera(cam)
    raw = ep.table.column(depth_column(cam)).to_pylist()
    out = np.zeros((len(raw), c.height, c.width), np.uint16)
    for i, data in enumerate(raw):
        if data is not None:
            out[i] = decode_depth(data, c)
    return out, np.array([b is not None for b in raw], bool)


@contextlib.contextmanager
def open_h5(path: Path) -> Iterator[Any]:
    """Open an HDF5 file read-only; a file h5py cannot open raises ImportFormatError naming it."""
    import h5py  # lazy: the HDF5 library loads only for HDF5 imports and exports

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


def _memory_bytes() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 16 << 30


def read_array(ds: Any, where: str) -> np.ndarray:
    """Read a whole HDF5 dataset; a corrupt chunk raises ImportFormatError naming the file and key.

    The declared size is checked before anything is allocated: a dataset larger than half
    the machine's memory (e.g. an image stack declaring 273 TiB) is refused."""
    try:
        shape = tuple(int(d) for d in ds.shape or ())
        nbytes = int(np.prod(shape, dtype=object)) * int(ds.dtype.itemsize)
    except (AttributeError, TypeError, ValueError, OSError, RuntimeError) as exc:
        raise ImportFormatError(f"{where}: not a readable dataset ({exc}); the file is corrupt — re-copy or re-export it") from exc
    if nbytes > _memory_bytes() // 2:
        raise ImportFormatError(f"{where}: declares shape {shape} of {ds.dtype} ({nbytes / 2**30:,.0f} GiB), more than "
                                "this machine can hold; the file is corrupt or not an episode recording")
    try:
        return np.asarray(ds[()])
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ImportFormatError(f"{where}: cannot read ({exc}); the file is corrupt — re-copy or re-export it") from exc


def attr_text(value: Any) -> str:
    """An HDF5 attribute as text (h5py returns bytes or numpy strings depending on how it was written)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return attr_text(value.item())
    return str(value)
