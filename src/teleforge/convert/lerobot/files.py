"""The files a LeRobot v3.0 export rolls through: parquet (data, episode metadata) and mp4 per camera.

Files roll over to the next ``file-NNN`` when they would pass their size limit (and to the
next ``chunk-NNN`` after ``chunks_size`` files), the way lerobot's own writer decides it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from teleforge.convert.lerobot.layout import VIDEO_PATH
from teleforge.convert.lerobot.video import SegmentFileWriter
from teleforge.dataset.schema import CameraConfig

MB = 1024 * 1024


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


class ParquetFiles(_Rolling):
    """Rolling parquet files written from one template (data or meta/episodes)."""

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
        """Finish the open file, if any."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class CameraVideos(_Rolling):
    """The rolling mp4 files of one camera, built from per-episode encoded segments."""

    def __init__(self, root: Path, key: str, cam: CameraConfig, fps: int, vcodec: str, limit_mb: float,
                 chunks_size: int, gop: int, crf: int, threads: int | None) -> None:
        super().__init__(limit_mb, chunks_size)
        self.root, self.key, self.cam, self.fps, self.vcodec = root, key, cam, fps, vcodec
        self.gop, self.crf, self.threads = gop, crf, threads
        self.writer: SegmentFileWriter | None = None
        self.first_path: Path | None = None

    def start_episode(self, frames: int) -> tuple[int, int, int]:
        """(chunk, file, first frame number in that file) for an episode of ``frames`` frames."""
        if self.writer is not None and self.should_roll(self.writer.size_bytes(), frames):
            self.writer.close()
            self.writer = None
            self.roll()
        if self.writer is None:
            path = self.root / VIDEO_PATH.format(video_key=self.key, chunk_index=self.chunk, file_index=self.file)
            self.writer = SegmentFileWriter(path, self.fps)
            self.first_path = self.first_path or path
            self.files += 1
        start = self.writer.frames
        self.units += frames
        return self.chunk, self.file, start

    def close(self) -> None:
        """Finish the open video, if any."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def arrow_column(values: np.ndarray, t: pa.DataType) -> pa.Array:
    """(T,) or (T, k) values as an Arrow array of type ``t`` (fixed-size lists without a copy per row)."""
    if pa.types.is_list(t) and pa.types.is_list(t.value_type):  # (T, H, W) -> T rows of H lists of W values
        v = np.ascontiguousarray(values)
        n, h, w = v.shape
        inner = pa.ListArray.from_arrays(pa.array(np.arange(0, n * h * w + 1, w, dtype=np.int32)),
                                         pa.array(v.reshape(-1), t.value_type.value_type))
        return pa.ListArray.from_arrays(pa.array(np.arange(0, n * h + 1, h, dtype=np.int32)), inner)
    if pa.types.is_fixed_size_list(t):
        flat = np.ascontiguousarray(values, dtype=t.value_type.to_pandas_dtype()).reshape(-1)
        return pa.FixedSizeListArray.from_arrays(pa.array(flat, t.value_type), t.list_size)
    return pa.array(np.asarray(values).reshape(-1), t)


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
