"""Soak: two concurrent scripted collects into one dataset + `curate metrics` + `recover` in a loop.

    PYTHONPATH=src python benchmarks/soak_integrity.py --minutes 5 [--out /tmp/soak]

At the end (collects stopped, a final `recover`): every finalized shard must be in the
catalog and `teleforge verify` must be clean. Prints one JSON line of figures; exit 1 on a problem.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]),
            "MUJOCO_GL": os.environ.get("MUJOCO_GL", "egl"), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}


def _cli(*args: str, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "teleforge.cli.main", *args], cwd=REPO, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--episodes", type=int, default=4, help="episodes per collect run (each is restarted until time is up)")
    a = ap.parse_args()
    root = (a.out or Path(tempfile.mkdtemp(prefix="teleforge-soak-"))) / "ds"
    shutil.rmtree(root, ignore_errors=True)
    end = time.monotonic() + a.minutes * 60
    figures = {"collect_runs": 0, "collect_failures": 0, "metrics_runs": 0, "metrics_failures": 0,
               "recover_runs": 0, "recover_failures": 0, "recover_skipped_live_partials": 0, "failures": []}
    seeds = [0, 10_000]
    collects: list[subprocess.Popen | None] = [None, None]
    # The first collect creates the dataset; the second starts once it exists.
    step = 0
    while time.monotonic() < end:
        for k in range(2):
            p = collects[k]
            if p is not None and p.poll() is not None:
                out = p.stdout.read() if p.stdout else ""
                if p.returncode != 0:
                    figures["collect_failures"] += 1
                    figures["failures"].append(f"collect rc {p.returncode}: {out[-300:]}")
                collects[k] = None
            if collects[k] is None and (k == 0 or (root / "teleforge.json").exists()) and time.monotonic() < end - 20:
                collects[k] = _cli("collect", "--device", "scripted", "--headless", "-d", str(root), "-n", str(a.episodes),
                                   "--size", "64", "--cameras", "front", "--seed", str(seeds[k]), "--operator", f"soak{k}")
                seeds[k] += a.episodes
                figures["collect_runs"] += 1
        if (root / "catalog.parquet").exists():
            kind = "metrics" if step % 2 == 0 else "recover"
            args = ("curate", "metrics", str(root), "--no-images") if kind == "metrics" else ("recover", str(root))
            p = _cli(*args)
            out, _ = p.communicate(timeout=600)
            figures[f"{kind}_runs"] += 1
            figures["recover_skipped_live_partials"] += out.count("skipped")
            if p.returncode != 0:
                figures[f"{kind}_failures"] += 1
                figures["failures"].append(f"{kind} rc {p.returncode}: {out[-300:]}")
            step += 1
        time.sleep(0.5)
    for p in collects:
        if p is not None:
            out, _ = p.communicate(timeout=600)
            if p.returncode != 0:
                figures["collect_failures"] += 1
                figures["failures"].append(f"collect rc {p.returncode}: {out[-300:]}")
    sys.path[:0] = [str(REPO / "src"), str(REPO)]
    from teleforge.dataset import read_catalog, recover
    from teleforge.dataset.verify import verify_dataset

    rep = recover(root)
    figures["final_recover_recovered"] = len(rep.recovered)
    shards = sorted(p.name for p in (root / "episodes").glob("ep-*.arrow"))
    cat = read_catalog(root)
    in_cat = sorted(f.rsplit("/", 1)[-1] for f in cat.column("file").to_pylist())
    v = verify_dataset(root)
    figures.update(shards=len(shards), catalog_rows=cat.num_rows, shards_not_in_catalog=len(set(shards) - set(in_cat)),
                   catalog_rows_without_shard=len(set(in_cat) - set(shards)),
                   partials_left=len(list((root / "episodes").glob("*.partial"))),
                   recovered_episodes=int(sum(1 for r in cat.column("recovered").to_pylist() if r)),
                   verify_problems=len(v.problems), verify_notes=len(v.notes), verify_steps=v.steps,
                   problems=v.problems[:10], minutes=a.minutes, dataset=str(root))
    print(json.dumps(figures))
    bad = (figures["shards_not_in_catalog"] or figures["catalog_rows_without_shard"] or v.problems
           or figures["collect_failures"] or figures["metrics_failures"] or figures["recover_failures"])
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
