"""Exact and near-duplicate episodes, in sub-quadratic time.

Exact: equal hash of actions + states. Near: the EE path (and gripper) resampled
by arc length to a fixed number of points is the episode's signature; p-stable
random-projection LSH (several tables of quantized projections) proposes
candidate pairs from shared buckets, and each candidate is verified by its real
RMS distance. Union-find turns verified pairs into clusters.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from teleforge.curation.arrays import vec

SIGNATURE_POINTS = 32


@dataclass
class DedupeConfig:
    tolerance_m: float = 0.005  # RMS distance between resampled trajectories (m) below which two episodes are the same
    tables: int = 8  # LSH tables: more = higher recall, more candidates
    projections: int = 4  # projections per table key: more = fewer, purer candidates
    seed: int = 0


@dataclass
class DedupeResult:
    clusters: list[list[int]]  # each sorted by id; the first is kept
    exact: list[list[int]]
    candidates: int  # pairs verified (the quadratic method would verify n(n-1)/2)
    pairs: list[tuple[int, int, float]] = field(default_factory=list)


def signature(table: pa.Table, points: int = SIGNATURE_POINTS) -> np.ndarray:
    """(points * 4,) float32: EE position and gripper command resampled along the path's arc length.

    Arc length, not time: a re-recording of the same motion that stops one tick later
    (success is checked per tick) or pauses on the way traces the same path, and must
    land on the same signature. The gripper counts as 5 cm of path per full toggle, so
    where along the path the hand closes is part of the signature.
    """
    n = table.num_rows
    if n == 0:
        return np.zeros(points * 4, np.float32)
    ee = vec(table, "observation.state.ee_pos").astype(np.float64)
    g = vec(table, "action")[:, 6:7].astype(np.float64) * 0.05  # gripper weighted like 5 cm of motion
    x = np.concatenate([ee, g], axis=1)
    x = np.where(np.isfinite(x), x, 0.0)
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(x, axis=0), axis=1))])
    if s[-1] <= 1e-9:  # never moved: every point is the start
        return np.repeat(x[:1], points, axis=0).astype(np.float32).reshape(-1)
    q = np.linspace(0.0, s[-1], points)
    return np.stack([np.interp(q, s, x[:, j]) for j in range(x.shape[1])], axis=1).astype(np.float32).reshape(-1)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.p = np.arange(n)

    def find(self, a: int) -> int:
        p = self.p
        while p[a] != a:
            p[a] = p[p[a]]
            a = p[a]
        return int(a)

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.p[max(ra, rb)] = min(ra, rb)


def near_duplicates(ids: list[int], sigs: np.ndarray, cfg: DedupeConfig | None = None) -> tuple[list[list[int]], int, list[tuple[int, int, float]]]:
    """Clusters of ids whose signatures are within ``tolerance_m`` RMS (per resampled point)."""
    cfg = cfg or DedupeConfig()
    n = len(ids)
    if n < 2:
        return [], 0, []
    x = np.asarray(sigs, np.float32)
    points = x.shape[1] // 4
    # RMS over points of the per-point distance <= tol  <=>  ||a - b|| <= tol * sqrt(points).
    radius = cfg.tolerance_m * np.sqrt(points)
    w = 4.0 * radius  # bucket width: a pair at the radius shares a bucket with high probability per projection
    rng = np.random.default_rng(cfg.seed)
    proj = rng.standard_normal((x.shape[1], cfg.tables * cfg.projections)).astype(np.float32)
    offs = rng.uniform(0, w, cfg.tables * cfg.projections).astype(np.float32)
    keys = np.floor((x @ proj + offs) / w).astype(np.int64)  # (n, tables * projections)
    uf = _UnionFind(n)
    seen: set[tuple[int, int]] = set()
    pairs: list[tuple[int, int, float]] = []
    for t in range(cfg.tables):
        k = keys[:, t * cfg.projections : (t + 1) * cfg.projections]
        _, inverse, counts = np.unique(k, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.reshape(-1)
        multi = np.flatnonzero(counts[inverse] > 1)
        if not multi.size:
            continue
        order = multi[np.argsort(inverse[multi], kind="stable")]
        groups = np.split(order, np.flatnonzero(np.diff(inverse[order])) + 1)
        for g in groups:
            if g.size > 64:  # a huge bucket (e.g. many idle episodes): compare to its first members only
                g = g[:64]
            d = np.linalg.norm(x[g][:, None, :] - x[g][None, :, :], axis=2)
            a_idx, b_idx = np.nonzero(np.triu(d <= radius, k=1))
            for a, b in zip(g[a_idx], g[b_idx]):
                key = (int(a), int(b))
                if key in seen:
                    continue
                seen.add(key)
                uf.union(int(a), int(b))
                pairs.append((ids[int(a)], ids[int(b)], float(np.linalg.norm(x[a] - x[b]) / np.sqrt(points))))
    verified = len(seen)
    clusters: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        clusters[uf.find(i)].append(ids[i])
    out = sorted((sorted(c) for c in clusters.values() if len(c) > 1), key=lambda c: c[0])
    return out, verified, pairs


def exact_duplicates(ids: list[int], hashes: list[str]) -> list[list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in zip(ids, hashes):
        if h:
            groups[h].append(int(i))
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda c: c[0])


def find_duplicates(ids: list[int], hashes: list[str], sigs: np.ndarray, cfg: DedupeConfig | None = None) -> DedupeResult:
    """Exact clusters merged into near clusters (an exact duplicate is also near)."""
    exact = exact_duplicates(ids, hashes)
    near, verified, pairs = near_duplicates(ids, sigs, cfg)
    pos = {i: k for k, i in enumerate(ids)}
    uf = _UnionFind(len(ids))
    for c in exact + near:
        for o in c[1:]:
            uf.union(pos[c[0]], pos[o])
    merged: dict[int, list[int]] = defaultdict(list)
    for i in ids:
        merged[uf.find(pos[i])].append(i)
    clusters = sorted((sorted(c) for c in merged.values() if len(c) > 1), key=lambda c: c[0])
    return DedupeResult(clusters=clusters, exact=exact, candidates=verified, pairs=pairs)
