"""Brute-force k-nearest-neighbour helpers in numpy (no scipy), chunked to bound memory.

Distances are Chebyshev (max-norm), as the KSG mutual-information estimator needs; the
inputs are a few thousand points of a few dimensions, so an O(N^2 D) pass in chunks of
``chunk`` query rows is a fraction of a second.
"""

from __future__ import annotations

import numpy as np


def _cheb(q: np.ndarray, x: np.ndarray) -> np.ndarray:
    """(len(q), len(x)) max-norm distances, one dimension at a time (no (M, N, D) temporary)."""
    d = np.abs(q[:, 0, None] - x[None, :, 0])
    for j in range(1, x.shape[1]):
        np.maximum(d, np.abs(q[:, j, None] - x[None, :, j]), out=d)
    return d


def ksg_counts(x: np.ndarray, y: np.ndarray, k: int, exclude: np.ndarray | None = None,
               chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """KSG neighbour counts (n_x, n_y), each (N,): points strictly within each point's k-th joint-neighbour distance.

    The joint space is (x, y) with the max-norm, so its distance is the max of the marginal ones.
    ``exclude`` (N,) int: points sharing a value with the query are never neighbours (e.g. the same episode).
    """
    x = np.asarray(x, np.float32)
    y = np.asarray(y, np.float32)
    n = len(x)
    nx = np.empty(n, np.int64)
    ny = np.empty(n, np.int64)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        dx = _cheb(x[s:e], x)
        dy = _cheb(y[s:e], y)
        rows = np.arange(e - s)
        dx[rows, np.arange(s, e)] = np.inf
        dy[rows, np.arange(s, e)] = np.inf
        if exclude is not None:
            same = exclude[s:e, None] == exclude[None, :]
            dx[same] = np.inf
            dy[same] = np.inf
        dz = np.maximum(dx, dy)
        eps = np.partition(dz, k - 1, axis=1)[:, k - 1]
        nx[s:e] = (dx < eps[:, None]).sum(axis=1)
        ny[s:e] = (dy < eps[:, None]).sum(axis=1)
    return nx, ny


def knn_regress(train_x: np.ndarray, train_y: np.ndarray, query: np.ndarray, k: int, chunk: int = 64,
                probe: int = 512) -> np.ndarray:
    """(M,) mean of ``train_y`` over the ``k`` nearest (Euclidean) training points of each query row.

    Exact, brute force in float32, pruned by a sweep along the first coordinate (the largest
    principal axis when the inputs are :func:`~teleforge.curation.scores.features.pca` scores):
    the queries go in chunks sorted by that coordinate; each chunk's distances to ``probe``
    evenly spaced training points bound every row's k-th distance from above (``tau``), so all
    true neighbours lie in the slab of training points whose first coordinate is within
    ``sqrt(tau)`` of the chunk's, and only that slab is measured. Then only the points under
    ``tau`` are partially sorted. Points tied at the k-th distance (duplicate states: an idle
    operator repeats one state for many steps) share the places left equally, so the result
    does not depend on which of them a partial sort happens to pick.
    """
    n = len(train_x)
    k = max(1, min(k, n))
    out = np.empty(len(query))
    if not len(query):
        return out
    x = np.asarray(train_x, np.float32)
    q_all = np.asarray(query, np.float32)
    y = np.asarray(train_y, np.float64)
    o = np.argsort(x[:, 0], kind="stable")
    x, y = x[o], y[o]
    x0 = x[:, 0]
    # |q|^2 is added only where a true distance is needed (tau and the slab test): a row's
    # ranking does not depend on it, so the distances are one GEMM of [q, 1] with [-2x, |x|^2].
    xt = np.ascontiguousarray(np.concatenate([-2.0 * x, (x * x).sum(axis=1, keepdims=True)], axis=1).T)
    pidx = np.unique(np.linspace(0, n - 1, min(n, max(probe, 2 * k))).astype(np.int64))
    small = n <= 2 * len(pidx)  # pruning cannot pay: measure every point
    xt_probe = np.ascontiguousarray(xt[:, pidx])
    q_order = np.argsort(q_all[:, 0], kind="stable")
    for s in range(0, len(q_order), chunk):
        rows = q_order[s:s + chunk]
        q = q_all[rows]
        qa = np.concatenate([q, np.ones((len(q), 1), np.float32)], axis=1)
        if small:
            out[rows] = _tie_mean(qa @ xt, np.broadcast_to(y, (len(q), n)), k)
            continue
        qn = (q * q).sum(axis=1)
        tau = np.partition(qa @ xt_probe, k - 1, axis=1)[:, k - 1]  # without |q|^2
        # float32 rounding: widen the bound slightly so the k probe points always pass the test below
        tau = tau + 1e-4 * (np.abs(tau) + qn) + 1e-6
        rad = np.sqrt(np.maximum(tau + qn, 0.0))
        lo = int(np.searchsorted(x0, float((q[:, 0] - rad).min()), "left"))
        hi = int(np.searchsorted(x0, float((q[:, 0] + rad).max()), "right"))
        d = qa @ xt[:, lo:hi]
        r, c = np.nonzero(d <= tau[:, None])
        counts = np.bincount(r, minlength=len(q))
        if counts.min() < k:  # cannot happen short of NaN inputs; stay exact anyway
            out[rows] = _tie_mean(qa @ xt, np.broadcast_to(y, (len(q), n)), k)
            continue
        # the candidates of each row, packed left into an (M, max count) matrix padded with +inf
        pos = np.arange(len(r)) - (np.cumsum(counts) - counts)[r]
        cd = np.full((len(q), int(counts.max())), np.inf, np.float32)
        cy = np.zeros(cd.shape)
        cd[r, pos] = d[r, c]
        cy[r, pos] = y[lo + c]
        out[rows] = _tie_mean(cd, cy, k)
    return out


def _tie_mean(d: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """(M,) mean of ``y`` (M, n) over each row's ``k`` smallest ``d`` (M, n); the points tied at
    the k-th distance fill the places left with their mean."""
    dk = np.partition(d, k - 1, axis=1)[:, k - 1:k]
    lt = d < dk
    eq = d == dk
    n_lt = lt.sum(axis=1)
    s_lt = np.where(lt, y, 0.0).sum(axis=1)
    s_eq = np.where(eq, y, 0.0).sum(axis=1)
    return (s_lt + (k - n_lt) * s_eq / np.maximum(eq.sum(axis=1), 1)) / k


def digamma_int(n: np.ndarray) -> np.ndarray:
    """psi(n) for positive integers: H_{n-1} - Euler's gamma (exact, vectorized)."""
    n = np.asarray(n, np.int64)
    top = int(n.max()) if n.size else 1
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1))])
    return harmonic[n - 1] - 0.5772156649015329
