"""Statistics shaped the way ``lerobot.datasets.compute_stats`` shapes them.

Per episode: min/max/mean/std/count and q01..q99 per dimension (quantiles from lerobot's
5000-bin histogram), images per channel scaled to [0, 1]; across episodes: lerobot's
``aggregate_stats`` (count-weighted means and quantiles, pooled variance), streamed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)  # lerobot.datasets.compute_stats.DEFAULT_QUANTILES
Q_KEYS = tuple(f"q{int(q * 100):02d}" for q in QUANTILES)


def sample_indices(n: int) -> list[int]:
    """lerobot's ``sample_indices``: which frames of an episode its image stats read."""
    k = n if n < 100 else max(100, min(int(n**0.75), 10_000))
    return np.round(np.linspace(0, n - 1, k)).astype(int).tolist()


def downsample(img: np.ndarray) -> np.ndarray:
    """lerobot's ``auto_downsample_height_width`` on an (H, W, C) frame."""
    h, w = img.shape[:2]
    if max(h, w) < 300:
        return img
    f = int(w / 150) if w > h else int(h / 150)
    return img[::f, ::f]


N_QUANTILE_BINS = 5000  # lerobot's RunningQuantileStats default


def hist_quantiles(hist: np.ndarray, edges: np.ndarray, count: float) -> list[float]:
    """lerobot's histogram quantiles (``RunningQuantileStats._compute_single_quantile``), one value per q."""
    cum = np.cumsum(hist)
    out = []
    for q in QUANTILES:
        target = q * count
        idx = int(np.searchsorted(cum, target))
        if idx == 0:
            out.append(float(edges[0]))
        elif idx >= len(cum):
            out.append(float(edges[-1]))
        else:
            before = cum[idx - 1]
            inside = cum[idx] - before
            frac = 0.0 if inside == 0 else (target - before) / inside
            out.append(float(edges[idx] + frac * (edges[idx + 1] - edges[idx])))
    return out


def _edges(lo: float, hi: float) -> np.ndarray:
    return np.linspace(float(lo) - 1e-10, float(hi) + 1e-10, N_QUANTILE_BINS + 1)


def vector_stats(x: np.ndarray) -> dict[str, np.ndarray]:
    """Per-dimension stats of (T,) or (T, k) data, as lerobot's ``get_feature_stats(axis=0)`` makes them.

    (T,) data gets shape (1,) stats; quantiles use lerobot's 5000-bin histogram definition, so a
    policy normalizing with q01/q99 sees the numbers lerobot itself would have written."""
    a = x.reshape(len(x), -1)
    f = a.astype(np.float64)
    out = {"min": a.min(axis=0), "max": a.max(axis=0), "mean": f.mean(axis=0), "std": f.std(axis=0),
           "count": np.array([len(a)], np.int64)}
    if len(a) < 2:  # lerobot's _compute_basic_stats: quantiles are the mean
        qs = np.repeat(out["mean"][None], len(QUANTILES), axis=0)
    else:
        cols = []
        for i in range(f.shape[1]):
            edges = _edges(f[:, i].min(), f[:, i].max())
            cols.append(hist_quantiles(np.histogram(f[:, i], bins=edges)[0], edges, len(f)))
        qs = np.asarray(cols).T
    for key, q in zip(Q_KEYS, qs):
        out[key] = q
    return out


class ImageStats:
    """Per-channel stats of uint8 frames from a 256-bin histogram per channel (exact mean/std/min/max).

    Result: values scaled to [0, 1] with shape (3, 1, 1), ``count`` = frames seen — what
    lerobot's ``compute_episode_stats`` stores for an image or video feature. (lerobot 0.4.4
    squares uint8 pixels in place, which wraps and spoils its std; ours is the true std.)
    """

    def __init__(self) -> None:
        self.hist = np.zeros((3, 256), np.int64)
        self.frames = 0

    def add(self, img: np.ndarray) -> None:
        px = img.reshape(-1, 3)
        for c in range(3):
            self.hist[c] += np.bincount(px[:, c], minlength=256)
        self.frames += 1

    def result(self) -> dict[str, np.ndarray]:
        v = np.arange(256, dtype=np.float64)
        out: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *Q_KEYS)}
        for h in self.hist:
            n = h.sum()
            nz = np.nonzero(h)[0]
            mean = (h * v).sum() / n
            out["min"].append(nz[0])
            out["max"].append(nz[-1])
            out["mean"].append(mean)
            out["std"].append(np.sqrt(max((h * (v - mean) ** 2).sum() / n, 0.0)))
            edges = _edges(nz[0], nz[-1])
            qs = hist_quantiles(np.histogram(v, bins=edges, weights=h)[0], edges, n)
            for key, q in zip(Q_KEYS, qs):
                out[key].append(q)
        res = {k: (np.asarray(x, np.float64) / 255.0).reshape(3, 1, 1) for k, x in out.items()}
        res["count"] = np.array([self.frames], np.int64)
        return res


class StatsAggregator:
    """lerobot's ``aggregate_stats``, streamed: count-weighted mean and quantiles, pooled variance."""

    def __init__(self) -> None:
        self._acc: dict[str, dict[str, Any]] = {}

    def add(self, ep_stats: dict[str, dict[str, np.ndarray]]) -> None:
        for key, s in ep_stats.items():
            c = float(s["count"][0])
            mean = np.asarray(s["mean"], np.float64)
            a = self._acc.setdefault(key, {"n": 0.0, "min": s["min"], "max": s["max"], "m1": 0.0, "m2": 0.0,
                                           **{q: 0.0 for q in Q_KEYS}})
            a["n"] += c
            a["min"] = np.minimum(a["min"], s["min"])
            a["max"] = np.maximum(a["max"], s["max"])
            a["m1"] = a["m1"] + mean * c
            a["m2"] = a["m2"] + (np.asarray(s["std"], np.float64) ** 2 + mean**2) * c
            for q in Q_KEYS:
                a[q] = a[q] + np.asarray(s[q], np.float64) * c

    def result(self) -> dict[str, dict[str, Any]]:
        out = {}
        for key, a in self._acc.items():
            n = a["n"]
            mean = a["m1"] / n
            var = np.maximum(a["m2"] / n - mean**2, 0.0)
            out[key] = {"min": a["min"], "max": a["max"], "mean": mean, "std": np.sqrt(var),
                        "count": np.array([int(n)], np.int64), **{q: a[q] / n for q in Q_KEYS}}
        return out


def jsonable(stats: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Stats with numpy arrays as lists, for meta/stats.json."""
    return {k: {s: np.asarray(v).tolist() for s, v in d.items()} for k, d in stats.items()}
