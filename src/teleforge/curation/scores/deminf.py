"""DemInf-style demonstration scores: each demo's contribution to the mutual information I(state; action).

After Hejna et al., "Robot Data Curation with Mutual Information Estimators" (DemInf, 2025):
a demonstration whose actions are predictable from its states, consistently with the other
demos, adds mutual information; a noisy, hesitant or idiosyncratic one removes it. The
estimator is Kraskov-Stoegbauer-Grassberger (KSG, 2004, algorithm 1) on k nearest
neighbours in the joint (state, action-chunk) embedding with the max-norm; the per-sample
term ``psi(k) + psi(N) - psi(n_x + 1) - psi(n_y + 1)`` is averaged over a demo's steps.
Neighbours are taken from *other* episodes only, so a slow demo cannot vouch for itself
with its own consecutive, near-identical steps. The paper embeds states and actions with
VAEs; here the embeddings are PCA projections of standardized proprioception and of the
next ``horizon`` actions (cheap and deterministic; see docs/curation-scores.md).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from teleforge.curation.scores.base import ScoreResult
from teleforge.curation.scores.features import StepTable, pca, per_episode_mean, subsample
from teleforge.curation.scores.knn import digamma_int, ksg_counts


@dataclass
class DemInf:
    """KSG mutual-information contribution per demo (higher = better)."""

    k: int = 5
    state_dims: int = 4
    action_dims: int = 4
    horizon: int = 4
    max_points: int = 4000  # steps kept (even stride per episode): the cost is O(max_points^2)
    name: str = "deminf"

    def score(self, steps: StepTable, rollouts: StepTable | None = None) -> ScoreResult:
        t0 = time.perf_counter()
        idx = subsample(steps, self.max_points)
        x = pca(steps.state_features()[idx], self.state_dims)
        y = pca(steps.action_chunks(self.horizon)[idx], self.action_dims)
        ep = steps.episode_of[idx]
        k = max(1, min(self.k, len(idx) - 1))
        nx, ny = ksg_counts(x, y, k, exclude=ep)
        n = len(idx)
        mi = digamma_int(np.array([k]))[0] + digamma_int(np.array([n]))[0] - digamma_int(nx + 1) - digamma_int(ny + 1)
        per_ep = per_episode_mean(mi, ep, len(steps.episode_ids))
        scores = {i: float(v) for i, v in zip(steps.episode_ids, per_ep)}
        return ScoreResult(self.name, scores, params={"k": k, "state_dims": self.state_dims, "action_dims": self.action_dims,
                                                      "horizon": self.horizon, "points": n,
                                                      "mi_estimate_nats": float(np.mean(mi))},
                           steps=int(steps.offsets[-1]), seconds=time.perf_counter() - t0)
