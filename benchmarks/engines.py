"""Local vs Ray engine on a synthetic N-episode dataset (default 400, 32x32 JPEG camera): curation
metrics (with image health), views (filter + dedupe) and EVERY exporter (RLDS, LeRobot v3 and
v2.1, HF, robomimic, ALOHA). Prints one JSON line: seconds per task for both engines and
``identical`` per task (catalog columns, view JSON, every exported file's bytes; HDF5 also by
content).

    python benchmarks/engines.py                      # 400 episodes, a local Ray
    python benchmarks/engines.py --episodes 50 --ray-address auto
    python benchmarks/engines.py --only hf,robomimic  # some exporters
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import pyarrow.parquet as pq  # noqa: E402
from tests.curation.synth import EpisodePlan, make_dataset  # noqa: E402
from tests.scale.exports import EXPORTERS, export_all, videos_reproducible  # noqa: E402

from teleforge.curation.metrics import MetricsConfig  # noqa: E402
from teleforge.curation.operations import dedupe_view, filter_view  # noqa: E402
from teleforge.curation.store import compute_metrics  # noqa: E402
from teleforge.dataset.engine import use_engine  # noqa: E402


def _catalog(root: Path) -> str:
    rows = pq.read_table(root / "catalog.parquet").to_pylist()
    # NaN != NaN: compare metrics through their JSON text
    return json.dumps(rows, sort_keys=True, default=str).replace("NaN", "null")


def _view(view: Any) -> str:
    d = {k: v for k, v in vars(view).items() if k not in ("created", "created_at", "catalog_version", "source")}
    return json.dumps(d, sort_keys=True, default=str)


def run(root: Path, only: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, float]]:
    """Every task on ``root`` with the engine in force: (what to compare, seconds per task)."""
    t: dict[str, float] = {}
    t0 = time.perf_counter()
    compute_metrics(root, MetricsConfig(images=True))
    t["metrics"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clean = filter_view(root, "clean")
    t["filter_view"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    dedup, _ = dedupe_view(root, "dedup")
    t["dedupe_view"] = time.perf_counter() - t0
    digests, seconds = export_all(root, root.parent / (root.name + "-out"), only)
    result: dict[str, Any] = {"metrics": _catalog(root), "filter_view": _view(clean), "dedupe_view": _view(dedup)}
    result.update({f"export_{k}": v for k, v in digests.items()})
    t.update({f"export_{k}": v for k, v in seconds.items()})
    return result, {k: round(v, 2) for k, v in t.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--ray-address", default=None)
    ap.add_argument("--only", default=",".join(EXPORTERS), help="Comma-separated exporters (default: all).")
    args = ap.parse_args()
    only = tuple(x for x in args.only.split(",") if x)
    tmp = Path(tempfile.mkdtemp(prefix="tf-bench-engines-"))
    try:
        t0 = time.perf_counter()
        # Every other episode repeats an earlier seed: dedupe has work; lengths and idle tails vary.
        plans = [EpisodePlan(seed=i % math.ceil(args.episodes / 2), idle_tail=i % 7, steps=60 + i % 40)
                 for i in range(args.episodes)]
        pristine = make_dataset(tmp / "pristine", plans)
        build_s = time.perf_counter() - t0
        root = tmp / "ds"  # both engines on the same path: exports record where they came from
        shutil.copytree(pristine, root)
        load = [round(os.getloadavg()[0], 2)]
        res_local, t_local = run(root, only)
        print(json.dumps({"partial": "local", "episodes": args.episodes, "local": t_local}), file=sys.stderr, flush=True)
        shutil.rmtree(root)
        shutil.rmtree(tmp / "ds-out")
        shutil.copytree(pristine, root)
        load.append(round(os.getloadavg()[0], 2))
        t0 = time.perf_counter()
        with use_engine("ray", args.ray_address):
            start = time.perf_counter() - t0
            res_ray, t_ray = run(root, only)
        load.append(round(os.getloadavg()[0], 2))
        print(json.dumps({
            "benchmark": "engines", "episodes": args.episodes, "build_dataset_s": round(build_s, 2),
            "identical": {k: res_local[k] == res_ray[k] for k in res_local},
            "videos_byte_compared": videos_reproducible(),
            "local": t_local, "ray": {**t_ray, "ray_start_s": round(start, 2)},
            "loadavg_1m": load, "cpu_count": os.cpu_count(),
        }))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
