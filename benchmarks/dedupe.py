"""Dedupe benchmark: near-duplicate search on clustered synthetic signatures (time, recall, false clusters).

What it times: ``find_duplicates`` (exact hashes + LSH near-duplicate search + clustering)
on ``--n`` signatures of 128 floats (32 resampled points x 4, as ``dedupe.signature`` makes),
after one untimed warm-up call on 2,000 signatures. No peer: the reference is the planted
ground truth.

The data is what real collections look like: ``--clustered`` of the signatures are
near-identical demos of one task (clusters of 2..``--max-cluster`` members around a random
path, each member the path plus Gaussian noise with a per-cluster sigma drawn up to
``--sigma``, so pairs in a cluster lie at 0.1..0.7 of the default tolerance radius); the
rest are unique demos. Cluster centres are uniform in [0, 0.5] m, far apart.

Reported: recall = fraction of planted same-cluster pairs that land in one found cluster;
false_clusters = found clusters that mix members of two planted clusters or take in a
unique demo; candidates = distances computed (a quadratic method computes n(n-1)/2).

    python benchmarks/dedupe.py --n 1000000            # acceptance: < 60 s, recall >= 0.99
    python benchmarks/dedupe.py --n 100000 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

from teleforge.curation.dedupe import DedupeConfig, find_duplicates


def clustered(n: int, frac: float, max_cluster: int, sigma: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(n, 128) float32 signatures and (n,) planted cluster label (-1 for unique demos), shuffled."""
    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    target = int(n * frac)
    while sum(sizes) < target:
        sizes.append(int(min(rng.integers(2, max_cluster + 1), target - sum(sizes) or 2)))
    sizes = [s for s in sizes if s >= 2]
    in_clusters = sum(sizes)
    labels = np.concatenate([np.repeat(np.arange(len(sizes)), sizes), -np.ones(n - in_clusters, np.int64)])
    centres = rng.uniform(0, 0.5, (len(sizes), 128)).astype(np.float32)
    sig = np.empty((n, 128), np.float32)
    for s in range(0, in_clusters, 1 << 18):  # bounded temporaries
        lab = labels[s:min(in_clusters, s + (1 << 18))]
        sd = (rng.uniform(0.15, 1.0, len(sizes)) * sigma).astype(np.float32) if s == 0 else sd  # noqa: F821
        sig[s:s + len(lab)] = centres[lab] + rng.standard_normal((len(lab), 128)).astype(np.float32) * sd[lab, None]
    sig[in_clusters:] = rng.uniform(0, 0.5, (n - in_clusters, 128)).astype(np.float32)
    perm = rng.permutation(n)
    return sig[perm], labels[perm]


def score(clusters: list[list[int]], labels: np.ndarray) -> dict:
    """Pair recall against the planted clusters, and found clusters that are not inside one planted cluster."""
    planted = np.bincount(labels[labels >= 0])
    want = int((planted * (planted - 1) // 2).sum())
    got = 0
    false = 0
    for c in clusters:
        lab = labels[np.asarray(c)]
        if (lab < 0).any() or (lab != lab[0]).any():
            false += 1
        counts = np.bincount(lab[lab >= 0]) if (lab >= 0).any() else np.zeros(0, np.int64)
        got += int((counts * (counts - 1) // 2).sum())
    return {"recall": round(got / want, 5) if want else 1.0, "planted_pairs": want, "planted_clusters": int(planted.size),
            "found_clusters": len(clusters), "false_clusters": false}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--clustered", type=float, default=0.9, help="Fraction of signatures that are near-identical demos.")
    ap.add_argument("--max-cluster", type=int, default=2000, help="Largest planted cluster (sizes uniform in 2..this).")
    ap.add_argument("--sigma", type=float, default=0.0012, help="Largest per-coordinate noise of a cluster (m).")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    sig, labels = clustered(args.n, args.clustered, args.max_cluster, args.sigma)
    hashes = [""] * args.n  # no exact duplicates: the near search does all the work
    ids = list(range(args.n))
    w_sig, _ = clustered(2000, args.clustered, 50, args.sigma, seed=1)
    find_duplicates(list(range(2000)), [""] * 2000, w_sig, DedupeConfig())  # warm-up, untimed
    times = []
    res = None
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        res = find_duplicates(ids, hashes, sig, DedupeConfig())
        times.append(time.perf_counter() - t0)
    assert res is not None
    radius = DedupeConfig().tolerance_m * np.sqrt(32)
    print(json.dumps({"benchmark": "dedupe_clustered", "signatures": args.n, "clustered_fraction": args.clustered,
                      "max_cluster": args.max_cluster, "sigma_m": args.sigma, "radius": round(float(radius), 5),
                      "seconds": {"min": round(min(times), 2), "median": round(float(np.median(times)), 2), "n": len(times)},
                      "us_per_signature_min": round(min(times) / args.n * 1e6, 2), "candidates": res.candidates,
                      **score(res.clusters, labels), "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
