"""Near-duplicate search on clustered signatures: many near-identical demos of one task."""

from __future__ import annotations

import numpy as np

from teleforge.curation.dedupe import DedupeConfig, components, find_duplicates, near_duplicates


def test_components_are_connected_components() -> None:
    labels = components(7, np.array([0, 2, 3, 6]), np.array([1, 3, 4, 5]))
    assert labels.tolist() == [0, 0, 2, 2, 2, 5, 5]
    assert components(3, np.zeros(0, np.int64), np.zeros(0, np.int64)).tolist() == [0, 1, 2]


def test_big_clusters_are_found_whole_with_linear_work() -> None:
    rng = np.random.default_rng(3)
    sizes = [1500, 700, 300, 40, 2, 2, 3]
    centres = rng.uniform(0, 0.5, (len(sizes), 128)).astype(np.float32)
    labels = np.repeat(np.arange(len(sizes)), sizes)
    sigs = centres[labels] + rng.normal(0, 0.0012, (labels.size, 128)).astype(np.float32)
    unique = rng.uniform(0, 0.5, (3000, 128)).astype(np.float32)
    x = np.concatenate([sigs, unique])
    perm = rng.permutation(len(x))
    x, truth = x[perm], np.concatenate([labels, -np.ones(3000, np.int64)])[perm]
    clusters, work, pairs = near_duplicates(list(range(len(x))), x, DedupeConfig())
    found = sorted(sorted(truth[c].tolist()) for c in clusters)
    assert found == sorted([[k] * s for k, s in enumerate(sizes)])
    assert work < len(x) * 2 * DedupeConfig().tables, "a cluster of m demos must cost ~m distances per table, not m^2"
    tol = DedupeConfig().tolerance_m
    assert 0 < len(pairs) <= len(x) and all(a != b and r <= tol for a, b, r in pairs)
    res = find_duplicates(list(range(len(x))), [""] * len(x), x)
    assert len(res.clusters) == len(sizes)
