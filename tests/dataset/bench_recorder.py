"""Benchmark: finalize time vs episode length, and JPEG encode throughput.

    python -m tests.dataset.bench_recorder [--seconds 60] [--fps 50] [--size 224]

Prints one JSON line. Episodes are recorded through AsyncRecorder at full speed
(not paced) with two cameras; finalize is timed inside EpisodeWriter.finalize.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from teleforge.dataset import AsyncRecorder, EpisodeEnd, create_dataset
from teleforge.dataset.images import encode_image
from tests.dataset.synth import make_image, make_spec, make_start, make_step


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--fps", type=float, default=50.0)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--paced", action="store_true", help="submit at the real control rate (a 60 s episode takes 60 s)")
    ap.add_argument("--lengths", default="1,10", help="extra, shorter episode lengths (s) to compare finalize times")
    args = ap.parse_args()
    spec = make_spec(h=args.size, w=args.size, fps=args.fps)
    rng = np.random.default_rng(0)
    frames = [make_image(rng, args.size, args.size) for _ in range(32)]

    t0 = time.perf_counter()
    n_enc = 400
    for i in range(n_enc):
        encode_image(frames[i % 32], spec.cameras[0])
    enc_fps_1t = n_enc / (time.perf_counter() - t0)

    out: dict[str, object] = {
        "jpeg_encode_fps_1thread": round(enc_fps_1t, 1),
        "image": f"{args.size}x{args.size}",
        "paced": args.paced,
    }
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "ds"
        create_dataset(root, spec)
        rec = AsyncRecorder(root)
        time.sleep(1.0)  # a session builds its recorder before the first episode (pyarrow warm-up)
        finalize = {}
        for secs in [float(x) for x in args.lengths.split(",") if x] + [args.seconds]:
            n = int(secs * args.fps)
            rec.start_episode(make_start())
            t_next = time.perf_counter()
            max_submit = 0.0
            t_start = time.perf_counter()
            for i in range(n):
                s = make_step(i, spec, rng, t0=0, with_images=False)
                for k, cam in enumerate(spec.camera_names):
                    s.images[cam] = frames[(i + k) % 32]
                    s.image_t_ns[cam] = s.tick_ns
                    s.image_seq[cam] = i
                ts = time.perf_counter()
                rec.submit(s)
                max_submit = max(max_submit, time.perf_counter() - ts)
                if args.paced:
                    t_next += 1.0 / args.fps
                    time.sleep(max(0.0, t_next - time.perf_counter()))
                elif rec.status().queue_depth > 500:  # unpaced: keep memory bounded
                    time.sleep(0.01)
            td = time.perf_counter()
            while rec.status().queue_depth:  # a paced 50 Hz session arrives here with the queue ~empty
                time.sleep(0.001)
            tf = time.perf_counter()
            summary = rec.finish(EpisodeEnd("success"))
            finish_call = time.perf_counter() - tf
            wait_and_finalize = time.perf_counter() - td
            st = rec.status()
            finalize[f"{secs:g}s"] = {
                "steps": n,
                "finalize_ms": round(summary.finalize_s * 1e3, 2),
                "finish_call_ms_after_drain": round(finish_call * 1e3, 1),
                "mb": round(summary.bytes / 1e6, 1),
                "max_submit_us": round(max_submit * 1e6, 1),
                "pipeline_steps_per_s": round(n / (tf - t_start + wait_and_finalize), 1),
            }
        out["pipeline_encode_fps"] = round(st.encode_fps, 1)
        out["encoder_threads"] = len(rec._workers)
        rec.close()
    out["finalize"] = finalize
    print(json.dumps(out))


if __name__ == "__main__":
    main()
