"""Arrow arrays as numpy without pyarrow's pandas shim.

pyarrow 2x ``Array.to_numpy`` (zero-copy or not) and ``np.asarray(array)`` import pandas on
first use: ~0.3 s of CPU per process, which is a third of ``curate score`` on a 20k-step
dataset. Primitive numeric arrays without nulls are read straight from their data buffer
instead; anything else goes through ``to_numpy``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

_NUMERIC = {
    pa.int8(): np.int8, pa.int16(): np.int16, pa.int32(): np.int32, pa.int64(): np.int64,
    pa.uint8(): np.uint8, pa.uint16(): np.uint16, pa.uint32(): np.uint32, pa.uint64(): np.uint64,
    pa.float16(): np.float16, pa.float32(): np.float32, pa.float64(): np.float64,
}


def to_numpy(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """(len(arr),) numpy view (read-only) or copy of a flat array; nulls are the caller's to mask first."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
    dtype = _NUMERIC.get(arr.type)
    if dtype is not None and arr.null_count == 0:
        buf = arr.buffers()[1]
        item = np.dtype(dtype).itemsize
        if buf is not None and buf.size >= (arr.offset + len(arr)) * item:
            return np.frombuffer(buf, dtype=dtype, count=len(arr), offset=arr.offset * item)
    elif arr.type == pa.bool_() and arr.null_count == 0:
        buf = arr.buffers()[1]
        if buf is not None and buf.size * 8 >= arr.offset + len(arr):
            bits = np.unpackbits(np.frombuffer(buf, np.uint8), bitorder="little")
            return bits[arr.offset:arr.offset + len(arr)].astype(bool)
    return arr.to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]


def list_values(arr: pa.FixedSizeListArray) -> np.ndarray:
    """(len(arr), k) numpy of a fixed-size-list array's values, honouring the array's offset."""
    size = arr.type.list_size
    flat = to_numpy(arr.values)  # the whole child array: ``values`` ignores the list array's own offset
    start = arr.offset * size
    return flat[start:start + len(arr) * size].reshape(-1, size)
