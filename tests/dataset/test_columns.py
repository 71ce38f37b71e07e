"""Arrow columns to numpy without pyarrow's pandas shim: same values as ``to_numpy``, offsets and chunks honoured."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa

from teleforge.dataset.columns import list_values, to_numpy


def test_values_offsets_chunks_and_bools() -> None:
    a = pa.array(np.arange(10, dtype=np.float32))
    np.testing.assert_array_equal(to_numpy(a.slice(3, 4)), [3, 4, 5, 6])
    np.testing.assert_array_equal(to_numpy(pa.chunked_array([a.slice(0, 2), a.slice(5, 2)])), [0, 1, 5, 6])
    assert to_numpy(pa.chunked_array([], pa.int64())).shape == (0,)
    b = pa.array([True, False, True, True, False, False, True, True, False, True])
    np.testing.assert_array_equal(to_numpy(b.slice(3, 6)), [True, False, False, True, True, False])
    with_null = pa.array([1.0, None, 3.0])
    np.testing.assert_array_equal(to_numpy(with_null), with_null.to_numpy(zero_copy_only=False))  # the generic path
    lists = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(12, dtype=np.float64)), 3)
    np.testing.assert_array_equal(list_values(lists.slice(1, 2)), [[3, 4, 5], [6, 7, 8]])
    shifted = pa.FixedSizeListArray.from_arrays(pa.array(np.arange(12, dtype=np.float64)).slice(3), 3)
    np.testing.assert_array_equal(list_values(shifted), [[3, 4, 5], [6, 7, 8], [9, 10, 11]])


def test_reading_a_shard_column_does_not_import_pandas(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """pandas costs ~0.3 s of CPU per process; reading numeric columns must not pull it in."""
    path = tmp_path / "t.arrow"
    batch = pa.record_batch({"x": pa.array(np.arange(5, dtype=np.float32)),
                             "v": pa.FixedSizeListArray.from_arrays(pa.array(np.arange(10, dtype=np.float32)), 2)})
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, batch.schema) as w:
        w.write_batch(batch)
    code = ("import sys, pyarrow as pa\n"
            "from teleforge.dataset.columns import to_numpy, list_values\n"
            f"b = pa.ipc.open_stream(pa.memory_map({str(path)!r})).read_next_batch()\n"
            "assert to_numpy(b.column('x')).sum() == 10 and list_values(b.column('v')).shape == (5, 2)\n"
            "print('pandas' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
