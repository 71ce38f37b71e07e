"""Local vs Ray engine on a synthetic N-episode dataset (default 400): identical metrics,
views and RLDS export bytes, and the time each engine took. Prints one JSON line.

    python benchmarks/engines.py                  # 400 episodes, local Ray
    python benchmarks/engines.py --episodes 50 --ray-address auto
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pyarrow.parquet as pq  # noqa: E402
from tests.curation.synth import EpisodePlan, make_dataset  # noqa: E402

from teleforge.convert.rlds.writer import RldsExportConfig, export_rlds  # noqa: E402
from teleforge.curation.operations import dedupe_view, filter_view  # noqa: E402
from teleforge.curation.store import compute_metrics  # noqa: E402
from teleforge.dataset.engine import use_engine  # noqa: E402


def run(root: Path, shards: int) -> tuple[dict, dict]:
    t = {}
    t0 = time.perf_counter()
    compute_metrics(root)
    t["metrics_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clean = filter_view(root, "clean")
    dedup, _ = dedupe_view(root, "dedup")
    t["views_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = root.parent / (root.name + "-rlds")
    export_rlds(root, out, RldsExportConfig(num_shards=shards))
    t["export_rlds_s"] = time.perf_counter() - t0
    files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
             for p in sorted(out.rglob("*")) if p.is_file()}
    cat = pq.read_table(root / "catalog.parquet").to_pylist()
    result = {"catalog": json.dumps(cat, sort_keys=True, default=str), "clean": sorted(clean.episodes),
              "dedup": sorted(dedup.episodes), "export": files}
    return result, {k: round(v, 2) for k, v in t.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--shards", type=int, default=8)
    ap.add_argument("--ray-address", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tf-bench-engines-"))
    try:
        plans = [EpisodePlan(seed=i % (args.episodes // 2 + 1), idle_tail=i % 7, steps=60 + i % 40) for i in range(args.episodes)]
        pristine = make_dataset(tmp / "pristine", plans)
        root = tmp / "ds"  # both engines on the same path: exports record where they came from
        shutil.copytree(pristine, root)
        load = os.getloadavg()[0]
        res_local, t_local = run(root, args.shards)
        print(json.dumps({"partial": "local", "episodes": args.episodes, "local": t_local}), file=sys.stderr, flush=True)
        shutil.rmtree(root)
        shutil.rmtree(tmp / "ds-rlds")
        shutil.copytree(pristine, root)
        t0 = time.perf_counter()
        with use_engine("ray", args.ray_address):
            start = time.perf_counter() - t0
            res_ray, t_ray = run(root, args.shards)
        print(json.dumps({
            "benchmark": "engines", "episodes": args.episodes,
            "identical": {k: res_local[k] == res_ray[k] for k in res_local},
            "local": t_local, "ray": {**t_ray, "ray_start_s": round(start, 2)},
            "loadavg_1m": [round(load, 2), round(os.getloadavg()[0], 2)], "cpu_count": os.cpu_count(),
        }))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
