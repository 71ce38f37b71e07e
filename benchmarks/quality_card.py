"""Quality card latency: time from an episode's save to its card being ready. Prints one JSON line.

A 60 s episode at 20 Hz (1,200 steps) with two 224 px JPEG cameras, in a session that has
already saved ``--history`` episodes of the same task (running medians, near-duplicate search).
The card reads the saved shard (numeric columns only, memory-mapped) and runs curation's
motion metrics, dedupe signature and default rules: exactly what `collect` does after a save.

    PYTHONPATH=src python benchmarks/quality_card.py [--seconds 60 --hz 20 --history 20 --repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.curation.synth

from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402

from teleforge.dataset import Dataset  # noqa: E402
from teleforge.teleop.session import EpisodeResult  # noqa: E402
from teleforge.workflows.quality import QualityTracker  # noqa: E402


def result_for(root: Path, info, number: int) -> EpisodeResult:
    return EpisodeResult(info.episode_id, info.outcome, info.num_steps, int(info.seed or 0), info.instruction, {},
                         number=number, labels={"ended_by": "operator", "operator_outcome": info.outcome,
                                                "success_check": True, "label_disagrees": False},
                         task=info.task, file=str(root / info.file))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--hz", type=float, default=20.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--history", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    steps = int(args.seconds * args.hz)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ds"
        spec = make_spec(cams=("front", "wrist"), size=args.size)
        spec.fps = args.hz
        plans = [EpisodePlan(seed=i, steps=steps // 4) for i in range(args.history)]
        plans += [EpisodePlan(seed=1000 + i, steps=steps, idle_head=10, idle_tail=20) for i in range(args.repeats)]
        make_dataset(root, plans, spec)
        ds = Dataset.open(root)
        infos = ds.episodes
        times = []
        shard_mb = 0.0
        for r in range(args.repeats):
            tracker = QualityTracker(args.hz)
            for k, info in enumerate(infos[: args.history]):  # the session so far
                tracker.card_for(result_for(root, info, k + 1), 60.0)
            info = infos[args.history + r]
            shard_mb = (root / info.file).stat().st_size / 1e6
            t0 = time.perf_counter()
            card = tracker.card_for(result_for(root, info, args.history + 1), 60.0)
            times.append(time.perf_counter() - t0)
            assert card.rows, "the card has rows"
    print(json.dumps({
        "benchmark": "quality_card",
        "episode_s": args.seconds, "steps": steps, "cameras": 2, "image_px": args.size,
        "shard_mb": round(shard_mb, 1), "session_history": args.history,
        "save_to_card_ms_median": round(statistics.median(times) * 1e3, 1),
        "save_to_card_ms_max": round(max(times) * 1e3, 1),
        "target_ms": 500,
    }))


if __name__ == "__main__":
    main()
