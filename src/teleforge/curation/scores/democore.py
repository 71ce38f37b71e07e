"""Demo-SCORE-style scores: a classifier trained on policy rollouts (success vs failure), applied to the demos.

After Chen et al., "Curating Demonstrations using Online Experience" (Demo-SCORE, 2025):
train a policy on every demo, roll it out, fit a classifier telling states of successful
rollouts from states of failed ones, and score each demo by the classifier's mean output
over its steps; demos that look like failures are dropped. The classifier here is
logistic regression on random Fourier features (an RBF-kernel approximation) of the state
embedding plus the next action chunk, trained with balanced classes.

Without ``rollouts`` the dataset's own episodes and outcome labels stand in for them,
cross-fitted over ``folds`` episode folds so no episode is scored by a classifier that saw it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from teleforge.curation.scores.base import ScoreResult
from teleforge.curation.scores.features import StepTable, per_episode_mean, standardize, subsample
from teleforge.errors import CurationError


def _features(tables: list[StepTable], horizon: int) -> list[np.ndarray]:
    """Standardized [state, action chunk] rows of each table, on the pooled scale."""
    raw = [np.concatenate([t.state_features(), t.action_chunks(horizon)], axis=1) for t in tables]
    z = standardize(np.concatenate(raw))
    out, s = [], 0
    for r in raw:
        out.append(z[s:s + len(r)])
        s += len(r)
    return out


def _fourier(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(2.0 / w.shape[1]) * np.cos(x @ w + b)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, iters: int = 50) -> np.ndarray:
    """Weights (D + 1,) of L2-regularized logistic regression with balanced class weights (bias last)."""
    return fit_logistic_folds(x, y, np.ones((len(x), 1), bool), l2=l2, iters=iters)[0]


def fit_logistic_folds(x: np.ndarray, y: np.ndarray, train: np.ndarray, l2: float = 1e-3, iters: int = 50,
                       tol: float = 1e-3) -> np.ndarray:
    """Weights (F, D + 1) of L2-regularized, class-balanced logistic regression on each fold's training rows.

    ``train`` (N, F) bool: row n trains fit f (rows outside get weight 0). Minimizes, per fold,
    ``sum_n w_n log-loss_n + l2/2 |w|^2`` (bias not penalized; each class's weights sum to 1/2)
    by bound optimization (Böhning 1992): the logistic Hessian never exceeds ``X' W X / 4``, so
    ``w -= (X' W X / 4 + l2 I)^-1 grad`` descends monotonically with a matrix factored once per
    fold. It converges linearly (~0.85 per pass here): ~25 passes over the data reach the optimum
    where plain gradient descent was still far from it after 300. Stops when no weight moves more
    than ``tol`` times the largest weight (a remaining change of well under 1 % in any prediction).
    """
    xb = np.concatenate([x, np.ones((len(x), 1))], axis=1).astype(np.float32)
    yy = y > 0.5
    pos = np.maximum(1, (train & yy[:, None]).sum(axis=0))
    neg = np.maximum(1, (train & ~yy[:, None]).sum(axis=0))
    sw = np.where(train, np.where(yy[:, None], 0.5 / pos, 0.5 / neg), 0.0).astype(np.float32)  # (N, F)
    d, folds = xb.shape[1], train.shape[1]
    reg = np.full(d, l2)
    reg[-1] = 1e-9  # the bias is not regularized (a hair keeps the bound invertible)
    bound_inv = np.stack([np.linalg.inv(((xb * sw[:, f:f + 1]).T @ xb).astype(np.float64) / 4.0 + np.diag(reg))
                          for f in range(folds)])  # (F, D, D)
    y32 = y.astype(np.float32)[:, None]
    w = np.zeros((d, folds))
    z = np.empty((len(xb), folds), np.float32)
    for _ in range(iters):
        # float32 passes over the (N, D) features, which are the whole cost; float64 weights
        np.matmul(xb, w.astype(np.float32), out=z)
        np.clip(z, -30, 30, out=z)
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        np.reciprocal(z, out=z)  # p = sigmoid(X w)
        z -= y32
        z *= sw
        g = (z.T @ xb).T.astype(np.float64) + reg[:, None] * w  # (D, F)
        step = np.einsum("fde,ef->df", bound_inv, g)
        w -= step
        if float(np.abs(step).max()) < tol * max(1.0, float(np.abs(w).max())):
            break
    return w.T


def predict_logistic(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ w[:-1] + w[-1], -30, 30)))


@dataclass
class DemoScore:
    """Mean P(success-like) over a demo's steps under a rollout-trained classifier (higher = better)."""

    features: int = 128  # random Fourier features
    bandwidth: float = 2.0  # RBF length scale on standardized inputs
    horizon: int = 4
    folds: int = 5
    max_points: int = 20000  # training steps kept (even stride per episode)
    seed: int = 0
    name: str = "democore"

    def score(self, steps: StepTable, rollouts: StepTable | None = None) -> ScoreResult:
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        src = rollouts if rollouts is not None else steps
        y_ep = np.array([1.0 if o == "success" else 0.0 for o in src.outcome])
        if y_ep.min() == y_ep.max():
            raise CurationError(
                "democore needs rollouts that both succeed and fail (it learns what tells them apart); "
                + ("pass --rollouts with a mixed set" if rollouts is not None else "this dataset's episodes all share one outcome: pass --rollouts DATASET"))
        feats = _features([steps] if rollouts is None else [steps, rollouts], self.horizon)
        d = feats[0].shape[1]
        w = rng.normal(0.0, 1.0 / self.bandwidth, (d, self.features))
        b = rng.uniform(0, 2 * np.pi, self.features)
        demo_phi = _fourier(feats[0], w, b)
        src_phi = demo_phi if rollouts is None else _fourier(feats[1], w, b)
        keep = subsample(src, self.max_points)
        y_step = y_ep[src.episode_of]
        p = np.empty(len(demo_phi))
        if rollouts is not None:
            coef = fit_logistic(src_phi[keep], y_step[keep])
            p[:] = predict_logistic(coef, demo_phi)
            mode = "rollouts"
        else:
            # Cross-fitting: each fold of episodes is scored by a classifier trained on the others.
            fold_of_ep = rng.permutation(len(steps.episode_ids)) % max(2, self.folds)
            fold = fold_of_ep[steps.episode_of]
            folds = [f for f in np.unique(fold_of_ep) if len(np.unique(y_step[keep[fold[keep] != f]])) >= 2]
            for f in np.unique(fold_of_ep):
                if f not in folds:
                    p[fold == f] = 0.5
            if folds:
                train = np.stack([fold[keep] != f for f in folds], axis=1)
                coefs = fit_logistic_folds(src_phi[keep], y_step[keep], train)
                for f, coef in zip(folds, coefs):
                    p[fold == f] = predict_logistic(coef, demo_phi[fold == f])
            mode = "cross-fitted on the demos' own outcomes"
        per_ep = per_episode_mean(p, steps.episode_of, len(steps.episode_ids))
        return ScoreResult(self.name, {i: float(v) for i, v in zip(steps.episode_ids, per_ep)},
                           params={"features": self.features, "bandwidth": self.bandwidth, "horizon": self.horizon,
                                   "training": mode, "rollout_episodes": len(src.episode_ids),
                                   "rollout_successes": int(y_ep.sum())},
                           steps=int(steps.offsets[-1]), seconds=time.perf_counter() - t0)
