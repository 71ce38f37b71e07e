"""SCIZOR-style transition filtering: a task-progress estimator flags steps that make no progress.

After Zhang et al., "SCIZOR: A Self-Supervised Approach to Data Curation for Large-Scale
Imitation Learning" (2025): a self-supervised model predicts task progress from the state;
a chunk of transitions whose predicted progress does not advance is suboptimal and is cut.
Here progress is ``t / (T - 1)`` of successful episodes, regressed from the state embedding
with k nearest neighbours (cross-fitted over episode folds so no episode predicts itself).
A step is suboptimal when the predicted progress over the next ``window`` steps gains less
than ``min_gain`` of what a median successful demo gains in that time. The episode score is
the share of steps that make progress; suboptimal runs at the head or tail (at least
``min_run_s``) become proposed trims; runs inside the episode are reported as spans.
(SCIZOR's second part, dropping redundant near-duplicate data, is `teleforge curate dedupe`.)
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from teleforge.curation.scores.base import ScoreResult
from teleforge.curation.scores.features import StepTable, pca, subsample
from teleforge.curation.scores.knn import knn_regress


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


@dataclass
class Scizor:
    """Share of steps with predicted progress (higher = better), plus proposed trims."""

    k: int = 10
    state_dims: int = 6
    window: int = 5  # steps
    min_gain: float = 0.25  # of the median successful demo's progress per window
    min_run_s: float = 0.5
    folds: int = 5
    max_points: int = 8000
    fps: float = 20.0
    seed: int = 0
    name: str = "scizor"

    def score(self, steps: StepTable, rollouts: StepTable | None = None) -> ScoreResult:
        t0 = time.perf_counter()
        rng = np.random.default_rng(self.seed)
        x = pca(steps.state_features(), self.state_dims)
        lengths = steps.lengths
        ep_of = steps.episode_of
        progress = steps.step_of / np.maximum(lengths[ep_of] - 1, 1)
        ok_ep = np.array([o == "success" for o in steps.outcome])
        if not ok_ep.any():
            ok_ep[:] = True  # nothing succeeded: progress along every episode is the best there is
        fold_of_ep = rng.permutation(len(lengths)) % max(2, self.folds)
        fold = fold_of_ep[ep_of]
        keep = subsample(steps, self.max_points)
        keep = keep[ok_ep[ep_of[keep]]]
        pred = np.empty(len(x))
        for f in np.unique(fold_of_ep):
            tr = keep[fold[keep] != f]
            if not len(tr):
                tr = keep
            q = fold == f
            pred[q] = knn_regress(x[tr], progress[tr], x[q], self.k)
        t_med = float(np.median(lengths[ok_ep])) if ok_ep.any() else float(np.median(lengths))
        need = self.min_gain * self.window / max(t_med - 1, 1)
        min_run = max(1, int(round(self.min_run_s * self.fps)))
        scores, cols, trims = {}, {}, {}
        for e, eid in enumerate(steps.episode_ids):
            s, n = int(steps.offsets[e]), int(lengths[e])
            p = pred[s:s + n]
            ahead = np.concatenate([p[self.window:], np.full(min(self.window, n), p[-1])])[:n]
            bad = (ahead - p) < need
            bad[max(0, n - self.window):] = False  # the last window has nothing ahead to judge by
            runs = [(a, b) for a, b in _runs(bad) if b - a >= min_run]
            start = runs[0][1] if runs and runs[0][0] == 0 else 0
            stop = n
            inner = [r for r in runs if r[0] > 0]
            if start or stop < n:
                trims[eid] = (start, stop)
            scores[eid] = float(1.0 - bad.mean()) if n else 0.0
            cols[eid] = {"scizor_suboptimal_steps": int(bad.sum()),
                         "scizor_spans": ";".join(f"{a}-{b}" for a, b in inner[:8])}
        return ScoreResult(self.name, scores, columns=cols, trims=trims,
                           params={"k": self.k, "window": self.window, "min_gain": self.min_gain, "median_success_len": t_med},
                           steps=int(steps.offsets[-1]), seconds=time.perf_counter() - t0)
