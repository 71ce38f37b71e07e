"""Exact and near-duplicate episodes, in sub-quadratic time.

Exact: equal hash of actions + states. Near: the EE path (and gripper) resampled
by arc length to a fixed number of points is the episode's signature; p-stable
random-projection LSH (several tables of quantized projections) proposes
candidates from shared buckets, and each candidate is verified by its real RMS
distance. Small buckets verify every pair; big ones (thousands of near-identical
demos of one task, as real collections have) compare members with a few leaders,
so the work stays near-linear. Connected components of the verified edges are
the clusters (single linkage).
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
    tables: int = 12  # LSH tables: more = higher recall, more candidates (12: a pair at the radius is missed < 0.2 %)
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


SMALL_BUCKET = 16  # buckets up to this size verify every pair (vectorized across buckets); larger ones use leaders
MAX_LEADERS = 256  # leaders per bucket; members no leader covers by then wait for another table
_CHUNK = 1 << 16  # pairs per distance batch (bounds the (pairs, dim) temporaries)


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph on ``n`` nodes with edges ``a[i] - b[i]``.

    (n,) int64 label per node: the smallest node index of its component. Vectorized
    hook-and-compress (roots hook onto the smaller label across each edge, then pointer
    jumping), a few numpy passes over the edges instead of a Python union-find.
    """
    labels = np.arange(n, dtype=np.int64)
    a = np.asarray(a, np.int64)
    b = np.asarray(b, np.int64)
    while a.size:
        la, lb = labels[a], labels[b]
        differ = la != lb
        if not differ.any():
            break
        la, lb = la[differ], lb[differ]
        lo = np.minimum(la, lb)
        np.minimum.at(labels, np.maximum(la, lb), lo)  # hook the larger root onto the smaller label
        while True:  # compress: every node points at its root
            nxt = labels[labels]
            if np.array_equal(nxt, labels):
                break
            labels = nxt
    return labels


def _sq_dist(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Squared distances between rows ``a[i]`` and ``b[i]`` of ``x``, in bounded chunks."""
    out = np.empty(len(a), np.float32)
    for s in range(0, len(a), _CHUNK):
        d = x[a[s:s + _CHUNK]] - x[b[s:s + _CHUNK]]
        out[s:s + _CHUNK] = np.einsum("ij,ij->i", d, d)
    return out


def _small_bucket_pairs(order: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair inside the buckets of size 2..SMALL_BUCKET (bucket k is ``order[starts[k]:starts[k]+sizes[k]]``)."""
    aa, bb = [], []
    for k in range(2, SMALL_BUCKET + 1):
        st = starts[sizes == k]
        if not st.size:
            continue
        members = order[st[:, None] + np.arange(k)]  # (buckets, k)
        iu, ju = np.triu_indices(k, 1)
        aa.append(members[:, iu].reshape(-1))
        bb.append(members[:, ju].reshape(-1))
    if not aa:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(aa), np.concatenate(bb)


def _leader_pairs(x: np.ndarray, g: np.ndarray, r2: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Edges of a big bucket ``g`` via leaders: (a, b, distances computed).

    Greedy cover: the first member no leader covers becomes a leader and covers every
    member within the radius; then every member is linked to every leader within the
    radius. A tight cluster of m demos costs ~m distances instead of m^2/2, and two
    leaders a shared member bridges are linked through it, as single linkage asks.
    """
    rem = g
    leaders: list[int] = []
    work = 0
    while rem.size and len(leaders) < MAX_LEADERS:
        lead = rem[0]
        leaders.append(int(lead))
        d = x[rem] - x[lead]
        rem_d = np.einsum("ij,ij->i", d, d)
        work += rem.size
        rem = rem[rem_d > r2]
    lead_arr = np.asarray(leaders, np.int64)
    if len(leaders) == 1:
        d = x[g] - x[lead_arr[0]]
        near = np.einsum("ij,ij->i", d, d) <= r2
        work += g.size
        members = g[near & (g != lead_arr[0])]
        return np.full(members.size, lead_arr[0], np.int64), members, work
    aa = np.repeat(g, len(leaders))
    bb = np.tile(lead_arr, g.size)
    d2 = _sq_dist(x, aa, bb)
    work += aa.size
    keep = (d2 <= r2) & (aa != bb)
    return aa[keep], bb[keep], work


def near_duplicates(ids: list[int], sigs: np.ndarray, cfg: DedupeConfig | None = None) -> tuple[list[list[int]], int, list[tuple[int, int, float]]]:
    """Clusters of ids whose signatures are within ``tolerance_m`` RMS (per resampled point), single linkage.

    Returns (clusters sorted by first id, distances computed, verified (a, b, rms) edges: at
    most one per episode, a witness of why it joined its cluster). Each LSH table buckets the signatures; small buckets
    verify all their pairs, big ones (many near-identical demos of one task) compare members
    with a few leaders, so the work stays ~linear in n even when one task has thousands of
    demos. Several tables with independent boundaries link what one table splits.
    """
    cfg = cfg or DedupeConfig()
    n = len(ids)
    if n < 2:
        return [], 0, []
    x = np.ascontiguousarray(sigs, np.float32)
    points = x.shape[1] // 4
    # RMS over points of the per-point distance <= tol  <=>  ||a - b|| <= tol * sqrt(points).
    radius = cfg.tolerance_m * np.sqrt(points)
    r2 = float(radius) ** 2
    w = 4.0 * radius  # bucket width: a pair at the radius shares a bucket with high probability per projection
    rng = np.random.default_rng(cfg.seed)
    proj = rng.standard_normal((x.shape[1], cfg.tables * cfg.projections)).astype(np.float32)
    offs = rng.uniform(0, w, cfg.tables * cfg.projections).astype(np.float32)
    mult = rng.integers(1, 1 << 62, cfg.projections, dtype=np.int64) | 1  # mixes a table's keys into one (wrapping)
    edges_a: list[np.ndarray] = []
    edges_b: list[np.ndarray] = []
    work = 0
    for t in range(cfg.tables):
        cols = slice(t * cfg.projections, (t + 1) * cfg.projections)
        keys = np.floor((x @ proj[:, cols] + offs[cols]) / w).astype(np.int64)
        with np.errstate(over="ignore"):
            h = (keys * mult).sum(axis=1)  # a hash collision only adds candidates; each is verified
        perm = rng.permutation(n)  # a fresh member order per table: other leaders, other links
        order = perm[np.argsort(h[perm], kind="stable")]
        hs = h[order]
        starts = np.flatnonzero(np.r_[True, hs[1:] != hs[:-1]])
        sizes = np.diff(np.r_[starts, n])
        a, b = _small_bucket_pairs(order, starts, sizes)
        if a.size:
            work += a.size
            keep = _sq_dist(x, a, b) <= r2
            edges_a.append(a[keep])
            edges_b.append(b[keep])
        for st, size in zip(starts[sizes > SMALL_BUCKET].tolist(), sizes[sizes > SMALL_BUCKET].tolist()):
            a, b, cost = _leader_pairs(x, order[st:st + size], r2)
            work += cost
            edges_a.append(a)
            edges_b.append(b)
    ea = np.concatenate(edges_a) if edges_a else np.zeros(0, np.int64)
    eb = np.concatenate(edges_b) if edges_b else np.zeros(0, np.int64)
    labels = components(n, ea, eb)
    pairs = _one_edge_each(ids, x, ea, eb, points)
    return _clusters(ids, labels), int(work), pairs


def _one_edge_each(ids: list[int], x: np.ndarray, a: np.ndarray, b: np.ndarray, points: int) -> list[tuple[int, int, float]]:
    """One verified edge per node that has one (keyed by its larger end), as (id, id, rms distance)."""
    if not a.size:
        return []
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    _, first = np.unique(hi, return_index=True)
    lo, hi = lo[first], hi[first]
    rms = np.sqrt(_sq_dist(x, lo, hi)) / np.sqrt(points)
    idarr = np.asarray(ids)
    return [(int(p), int(q), float(r)) for p, q, r in zip(idarr[lo].tolist(), idarr[hi].tolist(), rms.tolist())]


def _clusters(ids: list[int], labels: np.ndarray) -> list[list[int]]:
    """Components with more than one member, as sorted id lists, sorted by their first id."""
    idarr = np.asarray(ids, np.int64)
    order = np.argsort(labels, kind="stable")
    lab = labels[order]
    cuts = np.flatnonzero(lab[1:] != lab[:-1]) + 1
    groups = [g for g in np.split(order, cuts) if g.size > 1]
    return sorted((sorted(idarr[g].tolist()) for g in groups), key=lambda c: c[0])


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
    a: list[int] = []
    b: list[int] = []
    for c in exact + near:
        head = pos[c[0]]
        for o in c[1:]:
            a.append(head)
            b.append(pos[o])
    labels = components(len(ids), np.asarray(a, np.int64), np.asarray(b, np.int64))
    return DedupeResult(clusters=_clusters(ids, labels), exact=exact, candidates=verified, pairs=pairs)
