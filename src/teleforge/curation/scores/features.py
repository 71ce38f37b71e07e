"""Per-step numeric features of a dataset's episodes, read once for every learned score.

Only the numeric step columns are read (never images). A :class:`StepTable` holds every
episode's steps back to back with ``offsets``; the learned scores work on standardized,
PCA-reduced embeddings of states and of action chunks (the "state-action embeddings"
of DemInf, here linear rather than a VAE: see docs/curation-scores.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.curation.arrays import scalar, vec
from teleforge.dataset.catalog import json_field, read_catalog
from teleforge.dataset.reader import Dataset
from teleforge.dataset.shard import read_shard
from teleforge.errors import CurationError

_NUMERIC = ("action", "observation.state.ee_pos", "observation.state.gripper", "observation.state.joint_pos")


@dataclass
class StepTable:
    """Every episode's steps, concatenated: ``ee`` (N, 3) m, ``gripper`` (N,) opening, ``joints`` (N, J) rad,
    ``action`` (N, 7) native; episode ``i`` is rows ``offsets[i]:offsets[i+1]``."""

    episode_ids: list[int]
    offsets: np.ndarray  # (E + 1,) int64
    ee: np.ndarray
    gripper: np.ndarray
    joints: np.ndarray
    action: np.ndarray
    outcome: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # the catalog rows, same order
    root: Path | None = None  # the dataset folder (methods that read more than these columns, e.g. images)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    @property
    def episode_of(self) -> np.ndarray:
        """(N,) index (not id) of the episode each step belongs to."""
        return np.repeat(np.arange(len(self.episode_ids)), self.lengths)

    @property
    def step_of(self) -> np.ndarray:
        """(N,) step index within its episode."""
        n = int(self.offsets[-1])
        return np.arange(n) - np.repeat(self.offsets[:-1], self.lengths)

    def state_features(self) -> np.ndarray:
        """(N, 4 + J) float64: EE position, gripper opening, joint positions."""
        return np.concatenate([self.ee, self.gripper[:, None], self.joints], axis=1).astype(np.float64)

    def action_chunks(self, horizon: int = 4) -> np.ndarray:
        """(N, 7 * horizon) float64: the next ``horizon`` actions from each step, the last repeated at the end."""
        n = int(self.offsets[-1])
        idx = np.arange(n)[:, None] + np.arange(horizon)[None, :]
        last = np.repeat(self.offsets[1:] - 1, self.lengths)
        idx = np.minimum(idx, last[:, None])
        return self.action[idx].reshape(n, -1).astype(np.float64)


def read_steps(root: Path | str, episodes: list[int] | None = None) -> StepTable:
    """Read the numeric columns of ``episodes`` (default: every non-deleted episode) of the dataset at ``root``."""
    ds = Dataset.open(root)
    table = read_catalog(ds.root)
    rows = [r for r in table.to_pylist() if not r.get("deleted")]
    if episodes is not None:
        want = set(int(i) for i in episodes)
        rows = [r for r in rows if int(r["episode_id"]) in want]
    rows = [r for r in rows if int(r.get("num_steps") or 0) > 0]
    if not rows:
        raise CurationError(f"{ds.root} has no (non-deleted) episodes to score; record some first")
    # Only the numeric columns of every episode, gathered into one table per run of episodes that
    # share a schema (normally one run), so each column is combined and converted once, not per
    # episode (~0.75 ms per episode).
    runs: list[tuple[pa.Schema, list[pa.RecordBatch]]] = []
    lengths = []
    for r in rows:
        c = read_shard(ds.root / r["file"])
        missing = [k for k in _NUMERIC if k not in c.schema.names]
        if missing:
            raise CurationError(f"{ds.root / r['file']}: episode {r['episode_id']} has no {', '.join(missing)} column; "
                                "run `teleforge dataset verify` on the dataset")
        sel = [b.select(list(_NUMERIC)) for b in c.batches]
        got = pa.schema([c.schema.field(k) for k in _NUMERIC])
        if not runs or not got.equals(runs[-1][0]):
            runs.append((got, []))
        runs[-1][1].extend(sel)
        lengths.append(sum(b.num_rows for b in sel))
    tables = [pa.Table.from_batches(bs, schema=sc) for sc, bs in runs]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

    def cat(k: str) -> np.ndarray:
        parts = [(scalar(t, k) if k == "observation.state.gripper" else vec(t, k)).astype(np.float64) for t in tables]
        try:
            a = np.concatenate(parts)
        except ValueError as exc:  # e.g. episodes recorded with different joint counts
            raise CurationError(f"{ds.root}: column {k} has different widths across episodes ({exc}); "
                                "score each robot's episodes separately (--episodes or a view)") from exc
        return np.where(np.isfinite(a), a, 0.0)

    for r in rows:
        if isinstance(r.get("labels"), str):
            r["labels"] = json_field(r["labels"])
        r["outcome"] = r.get("curated_outcome") or r.get("outcome")
    return StepTable([int(r["episode_id"]) for r in rows], offsets, cat("observation.state.ee_pos"),
                     cat("observation.state.gripper"), cat("observation.state.joint_pos"), cat("action"),
                     [str(r.get("outcome")) for r in rows], rows, ds.root)


def standardize(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per column (constant columns stay 0)."""
    mu = x.mean(axis=0)
    sd = x.std(axis=0)
    return (x - mu) / np.where(sd > 1e-9, sd, 1.0)


def pca(x: np.ndarray, dims: int) -> np.ndarray:
    """Project standardized ``x`` (N, D) onto its first ``dims`` principal axes, each scaled to unit variance."""
    z = standardize(x)
    dims = min(dims, z.shape[1])
    # The covariance is D x D (D <= ~30): its eigendecomposition costs nothing next to the data.
    cov = z.T @ z / max(1, len(z) - 1)
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1][:dims]
    p = z @ v[:, order]
    return p / np.where(p.std(axis=0) > 1e-9, p.std(axis=0), 1.0)


def subsample(table: StepTable, max_points: int) -> np.ndarray:
    """Row indices of at most ``max_points`` steps, an even stride inside every episode (>= 1 step each)."""
    n = int(table.offsets[-1])
    stride = max(1, int(np.ceil(n / max_points)))
    keep = (table.step_of % stride) == 0
    return np.flatnonzero(keep)


def per_episode_mean(values: np.ndarray, episode_of: np.ndarray, n_episodes: int) -> np.ndarray:
    """Mean of ``values`` per episode index (NaN where an episode has none)."""
    s = np.bincount(episode_of, weights=values, minlength=n_episodes)
    c = np.bincount(episode_of, minlength=n_episodes)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(c > 0, s / np.maximum(c, 1), np.nan)
