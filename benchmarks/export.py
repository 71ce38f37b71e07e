"""Export benchmark (RLDS part): teleforge's TF-free RLDS writer vs TFDS's own writer path.

Builds (or takes) a native dataset with two 224×224 JPEG cameras, exports it with
``export_rlds`` and, when tensorflow_datasets is importable, writes the same episodes
through TFDS's own path (``tfds.dataset_builders.store_as_tfds_dataset``: FeaturesDict
encoding, example serializer, shuffler, TFRecord writer) with the images handed over
as already-encoded JPEG bytes, so neither side re-encodes. Prints one JSON line.

    python benchmarks/export.py                          # 100 synthetic episodes x 50 steps
    python benchmarks/export.py --episodes 1000          # memory stays flat as episodes grow
    /work/venv-tfds/bin/python benchmarks/export.py      # with the TFDS peer measured in the same run
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from teleforge.convert.rlds import RldsExportConfig, export_rlds
from teleforge.convert.tfrecord import CRC_BACKEND
from teleforge.dataset import CameraConfig, DatasetSpec, EpisodeEnd, EpisodeStart, EpisodeWriter, StepRecord, create_dataset
from teleforge.dataset.images import encode_image


def build_source(root: Path, episodes: int, steps: int, size: int = 224) -> Path:
    """Synthetic episodes: camera frames are real JPEGs of textured images (about sim-sized files)."""
    cams = ("front", "wrist")
    spec = DatasetSpec(fps=20.0, robot_embodiment="bench_arm", n_joints=7,
                       cameras=[CameraConfig(name=c, height=size, width=size) for c in cams])
    create_dataset(root, spec)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    base = np.stack([xx, yy, (xx + yy) // 2], -1).astype(np.int16)
    # a small pool of distinct frames, so building 100+ episodes stays quick
    pool = {c: [encode_image(np.clip(base + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8), spec.camera(c))
                for _ in range(16)] for c in cams}
    for e in range(episodes):
        start = EpisodeStart(task="pick_cube", instruction="pick up the cube", robot_embodiment="bench_arm", seed=e,
                             device="scripted", operator_id="bench", session_id="bench", fps=20.0)
        w = EpisodeWriter(root, spec, start, batch_rows=64, flush_interval_s=60.0)
        f = lambda k: rng.standard_normal(k).astype(np.float32)  # noqa: E731
        for i in range(steps):
            rec = StepRecord(step=i, tick_ns=i * 50_000_000, action=f(7), joint_pos=f(7), joint_vel=f(7), ee_pos=f(3),
                             ee_quat=f(4), gripper=0.5, target_ee_pos=f(3), target_ee_quat=f(4), target_joint_pos=f(7),
                             command_twist=f(6), command_gripper=0.0)
            enc = {c: pool[c][(e + i) % 16] for c in cams}
            for c in cams:
                rec.image_t_ns[c] = rec.tick_ns
                rec.image_seq[c] = i
            w.append(rec, enc)
        w.finalize(EpisodeEnd(outcome="success"))
    return root


def tfds_peer(source: Path, out: Path) -> float | None:
    """steps/s of TFDS's own writer on the same episodes (None without tensorflow_datasets)."""
    try:
        import tensorflow_datasets as tfds
    except ImportError:
        return None
    from teleforge.dataset import Dataset
    from teleforge.dataset.schema import image_column

    ds = Dataset.open(source)
    size = ds.spec.cameras[0].height
    F = tfds.features
    features = F.FeaturesDict({
        "steps": F.Dataset({
            "observation": F.FeaturesDict({
                "image": F.Image(shape=(size, size, 3), dtype=np.uint8, encoding_format="jpeg"),
                "wrist_image": F.Image(shape=(size, size, 3), dtype=np.uint8, encoding_format="jpeg"),
                "state": F.Tensor(shape=(8,), dtype=np.float32),
                "joint_state": F.Tensor(shape=(7,), dtype=np.float32),
            }),
            "action": F.Tensor(shape=(7,), dtype=np.float32),
            "reward": F.Scalar(dtype=np.float32),
            "discount": F.Scalar(dtype=np.float32),
            "is_first": F.Scalar(dtype=np.bool_),
            "is_last": F.Scalar(dtype=np.bool_),
            "is_terminal": F.Scalar(dtype=np.bool_),
            "language_instruction": F.Text(),
        }),
        "episode_metadata": F.FeaturesDict({"file_path": F.Text(), "episode_id": F.Scalar(dtype=np.int64)}),
    })
    steps_total = 0

    def episodes():
        nonlocal steps_total
        for eid in ds.episode_ids:
            ep = ds.episode(eid)
            T = ep.num_steps
            steps_total += T
            col = ep.column
            state = np.concatenate([col("observation.state.ee_pos"), col("observation.state.ee_quat"),
                                    col("observation.state.gripper")[:, None]], 1).astype(np.float32)
            front, wrist = col(image_column("front")), col(image_column("wrist"))
            act, rew, joints = col("action"), col("reward"), col("observation.state.joint_pos")
            yield eid, {
                "steps": [{
                    "observation": {"image": io.BytesIO(front[t]), "wrist_image": io.BytesIO(wrist[t]),
                                    "state": state[t], "joint_state": joints[t]},
                    "action": act[t], "reward": rew[t], "discount": 1.0, "is_first": t == 0,
                    "is_last": t == T - 1, "is_terminal": t == T - 1, "language_instruction": ep.meta.instruction,
                } for t in range(T)],
                "episode_metadata": {"file_path": str(ep.path), "episode_id": eid},
            }

    import contextlib

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # TFDS prints progress; stdout carries only the JSON line
        tfds.dataset_builders.store_as_tfds_dataset(name="bench_tfds", version="1.0.0", features=features,
                                                    split_datasets={"train": episodes()}, data_dir=str(out))
    return steps_total / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="Use this native dataset instead of building one.")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tf_export_bench_"))
    try:
        source = args.source or build_source(tmp / "src", args.episodes, args.steps)
        res = export_rlds(source, tmp / "rlds", RldsExportConfig(name="bench", workers=args.workers))
        rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        t0 = time.perf_counter()
        from teleforge.convert.rlds import check_rlds

        check = check_rlds(res.path)
        check_s = time.perf_counter() - t0
        peer = None if args.no_peer else tfds_peer(source, tmp / "tfds")
        print(json.dumps({
            "benchmark": "export_rlds",
            "episodes": res.num_episodes,
            "steps": res.num_steps,
            "cameras": "2x224x224 jpeg",
            "bytes": res.num_bytes,
            "workers": args.workers,
            "crc_backend": CRC_BACKEND,
            "teleforge_steps_per_s": round(res.steps_per_s, 1),
            "tfds_writer_steps_per_s": None if peer is None else round(peer, 1),
            "speedup": None if peer is None else round(res.steps_per_s / peer, 2),
            "check_steps_per_s": round(check.steps / check_s, 1),
            "peak_rss_mb_parent": round(rss_self, 1),
            "peak_rss_mb_worker": round(rss_children, 1),
            "python": sys.version.split()[0],
        }))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
