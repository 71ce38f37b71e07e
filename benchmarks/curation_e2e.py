"""Curation end to end, as the commands run it: one JSON line per (command, episode length).

For each episode length, a synthetic dataset of ``--episodes`` episodes (tests/curation/synth;
real shards written by the real writer, two 128 px JPEG cameras like the scripted sim
datasets) is written once under ``--out`` and reused. Each command's library call then runs
in a *fresh process* (so lazy imports and cold caches count), timed around the call:
``curate metrics --no-images``, ``curate metrics`` (image health on a subsample of frames,
``MetricsConfig.image_stride``), and ``curate score --method`` for each score that needs no
policy (read + score + catalog write).

Each line: wall seconds of the call, steps/s, CPU seconds and steps/s per core (steps over
CPU time of the process during the call), CPU ms per episode, and the load average. A final
line per command fits ``CPU ms per episode = fixed + per_step * length`` over the lengths:
the fixed part is the per-episode overhead (open, footer, Arrow->numpy, Python per episode)
plus the per-process costs spread over the episodes. Learned scores that subsample to a
fixed number of points (democore, deminf) have costs that do not grow with the steps, so
their fit says little.

    PYTHONPATH=src:. python benchmarks/curation_e2e.py [--lengths 50,100,200 --episodes 400] [--peer-src OLD/src]

``--peer-src``: the same commands on another teleforge source tree (``git worktree add /tmp/old <commit>``),
each run right after ours on the same data, so a before/after comparison shares the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # tests.curation.synth

COMMANDS = ("metrics_no_images", "metrics_images", "deminf", "democore", "scizor")


def _child(root: str, command: str, stride: int) -> None:
    """Run one command's library call on a private copy of the catalog; print its timing as JSON."""
    import resource

    from teleforge.curation import MetricsConfig, compute_metrics
    from teleforge.curation.scores import score_dataset

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    c0, t0 = cpu(), time.perf_counter()
    if command == "metrics_no_images":
        run = compute_metrics(root, MetricsConfig(images=False), force=True)
        steps = run.steps
    elif command == "metrics_images":
        run = compute_metrics(root, MetricsConfig(images=True, image_stride=stride), force=True)
        steps = run.steps
    else:
        steps = score_dataset(root, command).steps
    wall, used = time.perf_counter() - t0, cpu() - c0
    from teleforge.dataset.catalog import read_catalog
    from teleforge.dataset.reader import Dataset

    cams = Dataset.open(root).spec.cameras
    print(json.dumps({"wall_s": wall, "cpu_s": used, "steps": steps, "episodes": read_catalog(root).num_rows,
                      "cameras": len(cams), "image_px": cams[0].height if cams else None}), flush=True)
    # Seen here now and then: "terminate called without an active exception" while the
    # interpreter tears down native thread pools after the call; the figures are already out.
    os._exit(0)


def _dataset(out: Path, length: int, episodes: int, size: int) -> Path:
    from tests.curation.synth import EpisodePlan, make_dataset, make_spec

    root = out / f"len{length}_ep{episodes}_px{size}"
    if not (root / "catalog.parquet").exists():
        plans = [EpisodePlan(seed=i, steps=length, outcome="success" if i % 5 else "failure",
                             jitter=0.3 if i % 7 == 0 else 0.0) for i in range(episodes)]
        make_dataset(root, plans, make_spec(("front", "wrist"), size=size))
    return root


def _copy(src: Path, out: Path) -> Path:
    """A scratch copy of ``src`` (the commands write its catalog)."""
    import shutil

    dst = out / f"copy_{src.name}"
    if not dst.exists():
        shutil.copytree(src, dst)
    return dst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lengths", default="50,100,200")
    ap.add_argument("--episodes", type=int, default=400)
    ap.add_argument("--image-size", type=int, default=128)
    ap.add_argument("--image-stride", type=int, default=0, help="decode every Nth frame (0: MetricsConfig's default)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/teleforge_curation_e2e"))
    ap.add_argument("--commands", default=",".join(COMMANDS))
    ap.add_argument("--dataset", type=Path, help="time an existing dataset instead (e.g. a scripted sim set) on a scratch copy")
    ap.add_argument("--peer-src", type=Path, help="another teleforge src/ (e.g. a worktree of an older commit): "
                    "each command also runs on it, in the same run, and its figure is printed beside ours")
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], args.child[1], int(args.child[2]))
        return
    from teleforge.curation import MetricsConfig

    stride = args.image_stride or MetricsConfig().image_stride
    def env_for(src: Path) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(REPO), os.environ.get("PYTHONPATH", "")])}

    def run_child(root: Path, command: str, src: Path) -> dict:
        proc = subprocess.run([sys.executable, __file__, "--child", str(root), command, str(stride)],
                              env=env_for(src), capture_output=True, text=True, check=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    fits: dict[str, list[tuple[int, float]]] = {}
    sets = [(int(x), None) for x in args.lengths.split(",")] if args.dataset is None else [(0, args.dataset)]
    for length, given in sets:
        root = _dataset(args.out, length, args.episodes, args.image_size) if given is None else _copy(given, args.out)
        for command in args.commands.split(","):
            r = run_child(root, command, REPO / "src")
            peer = {}
            if args.peer_src is not None:  # interleaved with ours: both see the same machine load
                p = run_child(root, command, args.peer_src)
                peer = {"peer_src": str(args.peer_src), "peer_steps_per_s_per_core": round(p["steps"] / max(p["cpu_s"], 1e-9))}
            episodes = r["episodes"]
            length = length or round(r["steps"] / episodes)
            ms_ep = 1e3 * r["cpu_s"] / episodes  # CPU: wall time on a shared machine says more about the others
            fits.setdefault(command, []).append((length, ms_ep))
            print(json.dumps({"bench": "curation_e2e", "command": command, "episode_len": length,
                              "dataset": "synthetic" if given is None else str(given),
                              "episodes": episodes, "steps": r["steps"], "cameras": r["cameras"], "image_px": r["image_px"],
                              "image_stride": stride if command == "metrics_images" else None,
                              "wall_s": round(r["wall_s"], 3), "steps_per_s": round(r["steps"] / r["wall_s"]),
                              "cpu_s": round(r["cpu_s"], 3), "steps_per_s_per_core": round(r["steps"] / max(r["cpu_s"], 1e-9)),
                              "cpu_ms_per_episode": round(ms_ep, 3), "loadavg_1m": round(os.getloadavg()[0], 2), **peer}),
                  flush=True)
    for command, pts in fits.items():
        if len({p[0] for p in pts}) < 2:
            continue
        x = [p[0] for p in pts]
        y = [p[1] for p in pts]
        mx, my = sum(x) / len(x), sum(y) / len(y)
        slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
        print(json.dumps({"bench": "curation_e2e_fit", "command": command, "fixed_cpu_ms_per_episode": round(my - slope * mx, 3),
                          "cpu_us_per_step": round(1e3 * slope, 2), "lengths": x}), flush=True)


if __name__ == "__main__":
    main()
