"""Catalog benchmark: episode lookup by id, listing and selection at 1k, 10k and 100k catalog rows.

What it times, per catalog size (synthetic rows in a real catalog.parquet; shards are not
opened, since ``Dataset.episode`` is lazy):

* ``lookup_us``: one ``Dataset.episode(id)`` call, random ids, min / median over ``--repeats``
  batches of ``--lookups`` calls each, after a warm-up batch (the first call builds the
  id index: reported apart as ``index_build_ms``, once per catalog read);
* ``episodes_us_per_row``: ``Dataset.episodes`` (every row parsed into EpisodeInfo);
* ``select_us_per_row``: ``select(dataset)`` (the export source: catalog edits, ids).

Flat ``lookup_us`` from 1k to 100k rows is the O(1) claim. No peer.

    python benchmarks/catalog.py                 # 1000,10000,100000 rows
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from teleforge.dataset import CameraConfig, DatasetSpec, create_dataset
from teleforge.dataset.catalog import CATALOG_SCHEMA, write_catalog
from teleforge.dataset.reader import Dataset
from teleforge.dataset.selection import select


def fake_catalog(n: int) -> pa.Table:
    cols = {}
    for f in CATALOG_SCHEMA:
        if f.name == "episode_id":
            cols[f.name] = pa.array(np.arange(n, dtype=np.int64))
        elif f.name == "file":
            cols[f.name] = pa.array([f"episodes/episode_{i:06d}.arrow" for i in range(n)])
        elif f.name in ("task", "instruction", "robot_embodiment", "device", "operator_id", "session_id"):
            cols[f.name] = pa.array(["x"] * n)
        elif f.name == "outcome":
            cols[f.name] = pa.array(["success"] * n)
        elif f.name in ("frame_age_p99_ms", "loop_stats", "labels", "extras"):
            cols[f.name] = pa.array(["{}"] * n)
        elif f.name == "created_at":
            cols[f.name] = pa.array(["2026-01-01T00:00:00Z"] * n)
        elif pa.types.is_boolean(f.type):
            cols[f.name] = pa.array(np.zeros(n, bool))
        elif pa.types.is_floating(f.type):
            cols[f.name] = pa.array(np.ones(n))
        else:
            cols[f.name] = pa.array(np.full(n, 10, np.int64))
    return pa.table(cols, schema=CATALOG_SCHEMA)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1000,10000,100000")
    ap.add_argument("--lookups", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    runs = []
    tmp = Path(tempfile.mkdtemp(prefix="tf_catalog_bench_"))
    try:
        for n in (int(x) for x in args.rows.split(",")):
            root = tmp / f"ds_{n}"
            create_dataset(root, DatasetSpec(fps=20.0, robot_embodiment="bench", n_joints=7,
                                             cameras=[CameraConfig(name="front", height=64, width=64)]))
            write_catalog(root, fake_catalog(n))
            ds = Dataset.open(root)
            t0 = time.perf_counter()
            ds.episode(0)
            build_ms = (time.perf_counter() - t0) * 1e3
            per = []
            for _ in range(args.repeats + 1):
                ids = rng.integers(0, n, args.lookups).tolist()
                t0 = time.perf_counter()
                for i in ids:
                    ds.episode(i)
                per.append((time.perf_counter() - t0) / args.lookups * 1e6)
            per = per[1:]  # the first batch is the warm-up
            t0 = time.perf_counter()
            infos = ds.episodes
            ep_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            src = select(root)
            sel_s = time.perf_counter() - t0
            assert len(infos) == n and len(src.episode_ids) == n
            runs.append({"rows": n, "lookup_us": {"min": round(min(per), 2), "median": round(float(np.median(per)), 2)},
                         "index_build_ms": round(build_ms, 2), "episodes_us_per_row": round(ep_s / n * 1e6, 2),
                         "select_us_per_row": round(sel_s / n * 1e6, 2)})
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"benchmark": "catalog", "runs": runs,
                      "lookup_ratio_last_vs_first": round(runs[-1]["lookup_us"]["median"] / runs[0]["lookup_us"]["median"], 2),
                      "python": sys.version.split()[0]}))


if __name__ == "__main__":
    main()
