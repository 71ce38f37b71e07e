"""Shared helpers for the consumer checks (run with a consumer's venv python, not the project's).

No teleforge import here: the consumer venvs do not have it. The native dataset is read straight
from its Arrow IPC stream shards (episodes/ep-NNNNNN.arrow), one table per episode.
"""

from __future__ import annotations

import io
import json
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np


def read_native(dataset: str | Path) -> list[dict[str, np.ndarray]]:
    """Every episode shard of a native dataset as {column: array (T, ...)}, in episode-id order.

    Image columns stay JPEG bytes (list of bytes); decode them with :func:`decode_jpeg`.
    """
    import pyarrow as pa

    episodes = []
    for path in sorted(Path(dataset, "episodes").glob("ep-*.arrow")):
        with pa.OSFile(str(path)) as f:
            table = pa.ipc.open_stream(f).read_all()
        ep: dict[str, Any] = {}
        for name in table.column_names:
            col = table.column(name)
            if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
                ep[name] = col.to_pylist()
            elif pa.types.is_fixed_size_list(col.type):
                ep[name] = np.asarray(col.combine_chunks().flatten()).reshape(len(col), col.type.list_size)
            else:
                ep[name] = col.to_numpy()
        ep["_path"] = str(path)
        episodes.append(ep)
    return episodes


def native_state8(ep: dict) -> np.ndarray:
    """teleforge's 8-d state [ee_pos(3), ee_quat(4), gripper opening] (T, 8) float32."""
    return np.concatenate(
        [ep["observation.state.ee_pos"], ep["observation.state.ee_quat"], ep["observation.state.gripper"][:, None]],
        axis=1,
    ).astype(np.float32)


def decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 images (inf when identical)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def run(consumer: str, body: Callable[[dict], None]) -> None:
    """Run body(report) and print one JSON line {consumer, ok, ..., error}; exit 1 on failure."""
    report: dict[str, Any] = {"consumer": consumer}
    try:
        body(report)
        report["ok"] = True
    except BaseException as exc:  # noqa: BLE001 - the line must say what failed, whatever it is
        report["ok"] = False
        report["error"] = f"{type(exc).__name__}: {exc}"[:600]
        report["where"] = traceback.format_exc().strip().splitlines()[-3:-1]
    print(json.dumps(report, default=_jsonable))
    sys.exit(0 if report["ok"] else 1)


def _jsonable(x: Any) -> Any:
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
