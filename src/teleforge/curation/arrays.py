"""Zero-copy numpy views of shard columns (vectorized metrics read only what they need)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from teleforge.dataset.columns import list_values, to_numpy


def vec(table: pa.Table, name: str) -> np.ndarray:
    """A fixed-size-list column as a (T, k) float array (T=0 gives (0, k))."""
    col = table.column(name)
    size = col.type.list_size
    if table.num_rows == 0:
        return np.zeros((0, size), np.float32)
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    return list_values(arr)


def scalar(table: pa.Table, name: str, dtype: type = np.float64) -> np.ndarray:
    """A scalar column as (T,) numpy; nulls become NaN (floats) or 0."""
    col = table.column(name)
    if table.num_rows == 0:
        return np.zeros(0, dtype)
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if arr.null_count:  # missing camera frames: NaN so the caller can mask them
        return np.array([np.nan if v is None else v for v in arr.to_pylist()], dtype=np.float64)
    return np.asarray(to_numpy(arr), dtype=dtype)
