"""The pruned k-NN regression (SCIZOR's progress estimator) equals a plain float64 reference,
duplicates and ties included, and the class-balanced logistic fit (Demo-SCORE) reaches the
optimum of its stated objective."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.curation.scores.democore import fit_logistic, fit_logistic_folds
from teleforge.curation.scores.knn import knn_regress


def _reference(train_x: np.ndarray, train_y: np.ndarray, query: np.ndarray, k: int) -> np.ndarray:
    """Mean y over the k nearest; points tied at the k-th distance fill the places left with their mean."""
    out = np.empty(len(query))
    for i, q in enumerate(query):
        d = ((train_x - q) ** 2).sum(axis=1)
        dk = np.sort(d)[k - 1]
        lt, eq = d < dk, d == dk
        out[i] = (train_y[lt].sum() + (k - lt.sum()) * train_y[eq].mean()) / k
    return out


@pytest.mark.parametrize("n", [40, 3000])  # the plain path (n <= 2 probes) and the pruned sweep
def test_knn_regress_equals_the_reference_with_duplicates_and_ties(n: int) -> None:
    rng = np.random.default_rng(n)
    # small integer coordinates: float32 is exact, so ties are exact in both implementations
    x = rng.integers(-6, 7, size=(n, 5)).astype(np.float64)
    x[: n // 4] = x[0]  # a block of one repeated state (an idle operator)
    y = rng.random(n)
    q = np.concatenate([rng.integers(-7, 8, size=(500, 5)).astype(np.float64), x[:3], x[-3:]])
    for k in (1, 4, 10):
        np.testing.assert_allclose(knn_regress(x, y, q, k), _reference(x, y, q, k), rtol=0, atol=1e-12)


def test_knn_regress_on_continuous_data_and_edge_sizes() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2500, 6)) * [3, 2, 1, 1, 0.5, 0.1]  # PCA-like: the first axis widest
    y = rng.random(2500)
    q = rng.normal(size=(700, 6)) * 2
    np.testing.assert_allclose(knn_regress(x, y, q, 10), _reference(x.astype(np.float32).astype(np.float64), y,
                                                                    q.astype(np.float32).astype(np.float64), 10), atol=1e-9)
    assert knn_regress(x, y, q[:0], 5).shape == (0,)
    np.testing.assert_allclose(knn_regress(x[:3], y[:3], q[:4], 10), np.full(4, y[:3].mean()))  # k > n: all of them


def _objective(w: np.ndarray, x: np.ndarray, y: np.ndarray, l2: float) -> float:
    xb = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    z = xb @ w
    pos, neg = y.sum(), len(y) - y.sum()
    sw = np.where(y > 0.5, 0.5 / pos, 0.5 / neg)
    return float((sw * (np.logaddexp(0, z) - y * z)).sum() + 0.5 * l2 * (w[:-1] ** 2).sum())


def test_logistic_fit_reaches_the_optimum_and_folds_equal_separate_fits() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 20))
    y = ((x[:, 0] - 0.5 * x[:, 1] + 0.7 * rng.normal(size=3000)) > 0.8).astype(float)  # unbalanced, noisy
    w = fit_logistic(x, y, l2=1e-3)
    # at the optimum of the stated objective (no early stop standing in for a regularizer): the
    # default stop is within 1e-5 of a fit run 2000 passes, and predicts within 0.5 % of it
    tight = fit_logistic_folds(x, y, np.ones((len(x), 1), bool), l2=1e-3, iters=2000, tol=1e-12)[0]
    assert _objective(w, x, y, 1e-3) - _objective(tight, x, y, 1e-3) < 1e-5
    xb1 = np.concatenate([x, np.ones((len(x), 1))], axis=1)
    assert np.abs(1 / (1 + np.exp(-xb1 @ w)) - 1 / (1 + np.exp(-xb1 @ tight))).max() < 5e-3
    # fold fits in one pass equal separate fits on each fold's rows
    train = np.stack([np.arange(3000) % 3 != f for f in range(3)], axis=1)
    folds = fit_logistic_folds(x, y, train, iters=2000, tol=1e-10)
    for f in range(3):
        one = fit_logistic_folds(x[train[:, f]], y[train[:, f]], np.ones((int(train[:, f].sum()), 1), bool),
                                 iters=2000, tol=1e-10)[0]
        np.testing.assert_allclose(folds[f], one, atol=1e-6)
