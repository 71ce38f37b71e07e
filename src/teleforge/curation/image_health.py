"""Camera health on small thumbnails: JPEGs are decoded at 1/8 (or 1/4, 1/2) size
by DCT scaling, in grayscale, so a dataset is scored without a full decode."""

from __future__ import annotations

import math
from functools import lru_cache
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
FROZEN_DIFF = 0.5  # mean abs gray-level change below which two thumbnails are "the same picture" ...
FROZEN_PEAK = 12  # ... unless some thumbnail pixel changed by more than this (a small object moved)
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


def arm_path(table: pa.Table) -> np.ndarray:
    """(n+1,) cumulative end-effector path length in m (non-finite moves count 0), for the frozen check."""
    ee = vec(table, "observation.state.ee_pos").astype(np.float64)
    seg = np.sqrt(np.square(np.diff(ee, axis=0)).sum(axis=1)) if len(ee) > 1 else np.zeros(0)
    seg = np.where(np.isfinite(seg), seg, 0.0)
    return np.concatenate(([0.0, 0.0], np.cumsum(seg))) if len(ee) else np.zeros(1)


def image_health(table: pa.Table, cam: CameraConfig, fps: float, max_scale: int = 8,
                 stride: int = 1, path: np.ndarray | None = None) -> tuple[dict[str, Any], int]:
    """Per-camera health metrics and the number of frames decoded.

    ``stride`` > 1 decodes about one frame in ``stride``: the transitions (i-1 -> i) on a regular
    grid every ``g = min(2 * stride, frozen run)`` steps (a seeded phase), both frames of each.
    Missing, duplicate and age stay exact (no decode); black / overexposed are shares of the
    sampled frames; frozen stays exact, as every unchanged grid transition is grown step by step
    into its whole run, and a run long enough to count always holds a grid point (``g`` is at
    most its length). ``stride=1`` decodes every distinct frame. ``path``: :func:`arm_path` of the
    table, when the caller measures several cameras of one episode.
    """
    scale = thumb_scale(cam, max_scale)
    col = table.column(image_column(cam.name))
    n = table.num_rows
    frames: list[bytes | None] = col.to_pylist()
    if col.null_count:
        present = np.fromiter((f is not None for f in frames), bool, count=n)
    else:
        present = np.ones(n, bool)
    npresent = int(present.sum())
    out: dict[str, Any] = {"missing_frac": float(1.0 - npresent / n) if n else 0.0}
    dup = np.zeros(n, bool)
    if n > 1:  # bytes compare: equal length first, then memcmp; a missing frame is no repeat
        dup[1:] = [f is not None and f == p for p, f in zip(frames[:-1], frames[1:])]
    out["duplicate_frac"] = float(dup.sum() / max(1, npresent))

    # A repeated frame is its first occurrence's picture (src): each picture is decoded at most once.
    idx = np.arange(n)
    src = np.maximum.accumulate(np.where(dup, 0, idx)) if n else idx
    thumbs: dict[int, np.ndarray] = {}

    def thumb(i: int) -> np.ndarray:
        j = int(src[i])
        if j not in thumbs:
            thumbs[j] = thumbnail(frames[j], cam, scale)  # type: ignore[arg-type]
        return thumbs[j]

    def unchanged(i: int) -> bool:
        """Step i shows step i-1's picture: a repeat, or a mean abs change < FROZEN_DIFF with no
        pixel changed by more than FROZEN_PEAK (a small object moving on a still background
        changes few pixels a lot: the camera is live)."""
        v = verdicts.get(i)
        if v is not None:
            return v
        if dup[i]:
            return True
        if i == 0 or not present[i] or not present[i - 1]:
            return False
        a, b = thumb(i - 1), thumb(i)
        if a.shape != b.shape:
            return False
        d = cv2.absdiff(a, b)  # uint8, exact; cv2 here: numpy's reductions cost ~10 us each on 1k pixels
        return cv2.sumElems(d)[0] < FROZEN_DIFF * d.size and cv2.minMaxLoc(d.reshape(d.shape[0], -1))[1] <= FROZEN_PEAK

    # A frozen run is >= min_steps long, so it holds a grid point when the grid's spacing is
    # <= min_steps: grow every unchanged grid transition into its run. Each grid point decodes
    # two frames (i-1, i), which are also the black/overexposed sample.
    min_steps = max(2, int(round(FROZEN_MIN_S * fps)))
    spacing = 1 if stride <= 1 else min(min_steps, 2 * int(stride))
    sample_idx = np.flatnonzero(present & _grid(n, spacing))
    # The samples' verdicts in one vectorized pass (the same test as `unchanged`); only the
    # growth around an unchanged sample goes step by step.
    seen = np.zeros(n, bool)  # the frames the grid decodes: both of each grid transition
    seen[sample_idx] = True
    seen[sample_idx[sample_idx > 0] - 1] = True
    seen &= present
    cand = sample_idx[~dup[sample_idx] & (sample_idx > 0)]
    cand = cand[present[cand - 1]]  # grid transitions that need a picture compare
    decode = np.zeros(n, bool)
    decode[src[seen]] = True  # a repeat is its first occurrence's picture
    for j in np.flatnonzero(decode).tolist():
        thumbs[j] = thumbnail(frames[j], cam, scale)  # type: ignore[arg-type]
    verdicts = dict.fromkeys(sample_idx.tolist(), False)
    verdicts.update(dict.fromkeys(sample_idx[dup[sample_idx]].tolist(), True))
    rows = {j: r for r, j in enumerate(thumbs)}  # one stacked array of the decoded thumbnails
    stack = _stack(list(thumbs.values()))
    verdicts.update(zip(cand.tolist(), _pair_unchanged(stack, [rows[j] for j in src[cand - 1].tolist()],
                                                       [rows[j] for j in src[cand].tolist()])))
    same = _grown_unchanged(sample_idx, n, unchanged)
    seen_idx = np.flatnonzero(seen)
    stats = _thumb_stats(stack, [rows[j] for j in src[seen_idx].tolist()])
    nsampled = max(1, len(seen_idx))
    out["black_frac"] = float(np.count_nonzero(stats[0] < BLACK_LUMA) / nsampled)
    out["overexposed_frac"] = float(np.count_nonzero((stats[0] > BRIGHT_LUMA) | (stats[1] > 0.9)) / nsampled)
    decoded = len(thumbs)
    out["frozen_frac"] = (_frozen_frac(arm_path(table) if path is None else path, same, fps)
                          if n > 1 and same.any() else 0.0)
    ts = f"{image_column(cam.name)}.t_ns"
    if n and table.schema.get_field_index(ts) >= 0:
        age = (scalar(table, "tick_ns", np.float64) - scalar(table, ts, np.float64)) / 1e6
        age = age[np.isfinite(age)]
        out["age_p99_ms"] = _p99(age) if age.size else math.nan
    else:
        out["age_p99_ms"] = math.nan
    return out, decoded


def _stack(thumbs: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """(k, h*w) uint8 when every thumbnail has one shape (the usual case), else the list itself."""
    if thumbs and all(t.shape == thumbs[0].shape for t in thumbs):
        return np.stack(thumbs).reshape(len(thumbs), -1)
    return thumbs


def _pair_unchanged(stack: np.ndarray | list[np.ndarray], before: list[int], after: list[int]) -> list[bool]:
    """`unchanged` for many (before, after) pairs of rows of :func:`_stack` at once."""
    if not before:
        return []
    if isinstance(stack, np.ndarray):
        d = np.abs(stack[after].astype(np.int16) - stack[before])
        ok = (d.sum(axis=1) < FROZEN_DIFF * d.shape[1]) & (d.max(axis=1) <= FROZEN_PEAK)
        return ok.tolist()
    out = []
    for i, j in zip(before, after):
        a, b = stack[i], stack[j]
        if a.shape != b.shape:
            out.append(False)
            continue
        d = np.abs(b.astype(np.int16) - a)
        out.append(bool(d.sum() < FROZEN_DIFF * d.size and d.max() <= FROZEN_PEAK))
    return out


def _grown_unchanged(sample_idx: np.ndarray, n: int, unchanged: Any) -> np.ndarray:
    """Exact per-step verdicts wherever a frozen run can be: every unchanged sample grown into its run."""
    same = np.zeros(n, bool)
    known = np.zeros(n, bool)
    for p in sample_idx.tolist():
        if known[p]:
            continue
        known[p] = True
        same[p] = unchanged(p)
        for walk in (range(p - 1, -1, -1), range(p + 1, n)):
            if not same[p]:
                break
            for j in walk:
                if known[j]:
                    break
                known[j] = True
                same[j] = unchanged(j)
                if not same[j]:
                    break
    return same


def _p99(x: np.ndarray) -> float:
    """np.percentile(x, 99) (linear interpolation) without its per-call overhead (~40 us)."""
    a = np.sort(x)
    pos = 0.99 * (len(a) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(a) - 1)
    return float(a[lo] + (a[hi] - a[lo]) * (pos - lo))


@lru_cache(maxsize=1024)
def _grid(n: int, spacing: int) -> np.ndarray:
    """(n,) bool: every ``spacing``-th step from a phase seeded by ``n`` (a dataset measures
    the same way every time); ``spacing=1``: every step. Read-only (cached, shared)."""
    mask = np.zeros(n, bool)
    if n:
        phase = 0 if spacing <= 1 else int(np.random.default_rng(n).integers(0, spacing))
        mask[min(phase, n - 1)::max(1, spacing)] = True
    mask.flags.writeable = False
    return mask


def _thumb_stats(stack: np.ndarray | list[np.ndarray], rows: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(mean luma, share of pixels >= 250) of the thumbnails at ``rows`` of :func:`_stack`."""
    if not rows:
        return np.zeros(0), np.zeros(0)
    if isinstance(stack, np.ndarray):
        flat = stack[rows]
        return flat.sum(axis=1, dtype=np.int64) / flat.shape[1], np.count_nonzero(flat >= 250, axis=1) / flat.shape[1]
    ts = [stack[r] for r in rows]
    return (np.array([t.mean() for t in ts]), np.array([np.count_nonzero(t >= 250) / t.size for t in ts]))


def _frozen_frac(cum: np.ndarray, same: np.ndarray, fps: float) -> float:
    """Share of steps inside runs where the picture did not change for FROZEN_MIN_S while the arm moved.

    ``cum``: (n+1,) :func:`arm_path`; step i's move (from step i-1) is cum[i+1] - cum[i].
    """
    d = np.diff(np.concatenate(([0], same.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    min_steps = max(2, int(round(FROZEN_MIN_S * fps)))
    frozen: int = 0
    for a, b in zip(starts, ends):
        if b - a >= min_steps and cum[b] - cum[a] >= FROZEN_MOVED_M:
            frozen += int(b - a)
    return float(frozen / len(same))


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
