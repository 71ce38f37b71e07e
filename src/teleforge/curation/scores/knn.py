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


def knn_regress(train_x: np.ndarray, train_y: np.ndarray, query: np.ndarray, k: int, chunk: int = 512) -> np.ndarray:
    """(M,) mean of ``train_y`` over the ``k`` nearest (Euclidean) training points of each query row.

    Distances in float32 (the features are PCA scores of order 1; float64 doubles the time of the
    distance matrix and of the partial sort, which are the whole cost)."""
    k = max(1, min(k, len(train_x)))
    out = np.empty(len(query))
    train_x = np.asarray(train_x, np.float32)
    query = np.asarray(query, np.float32)
    tn = (train_x ** 2).sum(axis=1)
    for s in range(0, len(query), chunk):
        q = query[s:s + chunk]
        d = (q ** 2).sum(axis=1)[:, None] + tn[None, :] - 2 * q @ train_x.T
        idx = np.argpartition(d, k - 1, axis=1)[:, :k]
        out[s:s + len(q)] = train_y[idx].mean(axis=1)
    return out


def digamma_int(n: np.ndarray) -> np.ndarray:
    """psi(n) for positive integers: H_{n-1} - Euler's gamma (exact, vectorized)."""
    n = np.asarray(n, np.int64)
    top = int(n.max()) if n.size else 1
    harmonic = np.concatenate([[0.0], np.cumsum(1.0 / np.arange(1, top + 1))])
    return harmonic[n - 1] - 0.5772156649015329
