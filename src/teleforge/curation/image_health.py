"""Camera health on small thumbnails: JPEGs are decoded at 1/8 (or 1/4, 1/2) size
by DCT scaling, in grayscale, so a dataset is scored without a full decode."""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import pyarrow as pa

from teleforge.curation.arrays import scalar, vec
from teleforge.dataset.schema import CameraConfig, image_column

_REDUCED_GRAY = {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
                 8: cv2.IMREAD_REDUCED_GRAYSCALE_8}
_REDUCED_COLOR = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                  8: cv2.IMREAD_REDUCED_COLOR_8}

BLACK_LUMA = 12.0
BRIGHT_LUMA = 243.0
FROZEN_DIFF = 0.5  # mean abs gray-level change below which two thumbnails are "the same picture"
FROZEN_MIN_S = 0.5  # an unchanged picture for this long ...
FROZEN_MOVED_M = 0.01  # ... while the arm moved this far means the camera is stuck
THUMB_MIN_PX = 24  # the reduced decode keeps at least this many pixels on the short side


def thumb_scale(cam: CameraConfig, max_scale: int = 8) -> int:
    """The largest DCT scale (1, 2, 4, 8) that keeps a usable thumbnail."""
    for s in (8, 4, 2, 1):
        if s <= max_scale and min(cam.height, cam.width) // s >= THUMB_MIN_PX:
            return s
    return 1


def thumbnail(data: bytes, cam: CameraConfig, scale: int = 8, color: bool = False) -> np.ndarray:
    """A reduced-size decode: (h, w) uint8 gray, or (h, w, 3) RGB with ``color``."""
    if cam.encoding == "raw":
        img = np.frombuffer(data, np.uint8).reshape(cam.height, cam.width, 3)[::scale, ::scale]
        return img.copy() if color else img.mean(axis=2).astype(np.uint8)
    flags = (_REDUCED_COLOR if color else _REDUCED_GRAY)[scale if scale in _REDUCED_GRAY else 8]
    decoded: np.ndarray | None = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if decoded is None:
        return np.zeros((1, 1, 3) if color else (1, 1), np.uint8)
    return decoded[:, :, ::-1] if color else decoded


def image_health(table: pa.Table, cam: CameraConfig, fps: float, max_scale: int = 8) -> tuple[dict[str, Any], int]:
    """Per-camera health metrics and the number of frames decoded."""
    scale = thumb_scale(cam, max_scale)
    col = table.column(image_column(cam.name))
    n = table.num_rows
    frames: list[bytes | None] = col.to_pylist()
    present = np.array([f is not None for f in frames], bool)
    out: dict[str, Any] = {"missing_frac": float(1.0 - present.mean()) if n else 0.0}
    dup = np.zeros(n, bool)
    for i in range(1, n):
        f = frames[i]
        dup[i] = f is not None and f == frames[i - 1]  # bytes compare: equal length first, then memcmp
    npresent = int(present.sum())
    out["duplicate_frac"] = float(dup.sum() / max(1, npresent))

    # Decode each distinct frame once (duplicates reuse the previous thumbnail).
    means = np.full(n, np.nan)
    sat = np.zeros(n)
    change = np.full(n, np.nan)
    prev: np.ndarray | None = None
    decoded = 0
    for i, f in enumerate(frames):
        if f is None:
            prev = None
            continue
        if dup[i] and prev is not None:
            means[i] = means[i - 1]
            sat[i] = sat[i - 1]
            change[i] = 0.0
            continue
        th = thumbnail(f, cam, scale).astype(np.int16)
        decoded += 1
        means[i] = th.mean()
        sat[i] = np.count_nonzero(th >= 250) / th.size
        if prev is not None and prev.shape == th.shape:
            change[i] = float(np.abs(th - prev).mean())
        prev = th
    ok = np.isfinite(means)
    out["black_frac"] = float(np.count_nonzero(means[ok] < BLACK_LUMA) / max(1, npresent))
    out["overexposed_frac"] = float(np.count_nonzero((means[ok] > BRIGHT_LUMA) | (sat[ok] > 0.9)) / max(1, npresent))
    out["frozen_frac"] = _frozen_frac(table, change, fps) if n > 1 else 0.0
    ts = f"{image_column(cam.name)}.t_ns"
    if ts in table.column_names and n:
        age = (scalar(table, "tick_ns", np.float64) - scalar(table, ts, np.float64)) / 1e6
        age = age[np.isfinite(age)]
        out["age_p99_ms"] = float(np.percentile(age, 99)) if age.size else math.nan
    else:
        out["age_p99_ms"] = math.nan
    return out, decoded


def _frozen_frac(table: pa.Table, change: np.ndarray, fps: float) -> float:
    """Share of steps inside runs where the picture did not change for FROZEN_MIN_S while the arm moved."""
    ee = vec(table, "observation.state.ee_pos").astype(np.float64)
    seg = np.concatenate(([0.0], np.linalg.norm(np.diff(ee, axis=0), axis=1)))
    seg = np.where(np.isfinite(seg), seg, 0.0)
    same = np.isfinite(change) & (change < FROZEN_DIFF)
    d = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    cum = np.concatenate(([0.0], np.cumsum(seg)))
    min_steps = max(2, int(round(FROZEN_MIN_S * fps)))
    frozen: int = 0
    for a, b in zip(starts, ends):
        if b - a >= min_steps and cum[b] - cum[a] >= FROZEN_MOVED_M:
            frozen += int(b - a)
    return float(frozen / len(change))


def thumbnail_strip(table: pa.Table, cam: CameraConfig, count: int = 6, scale: int = 4) -> list[np.ndarray]:
    """``count`` evenly spaced small RGB frames of one camera (for the review report)."""
    frames = table.column(image_column(cam.name))
    n = table.num_rows
    out = []
    for i in np.linspace(0, max(0, n - 1), num=min(count, n)).astype(int) if n else []:
        data = frames[int(i)].as_py()
        if data is not None:
            out.append(thumbnail(data, cam, thumb_scale(cam, scale), color=True))
    return out
