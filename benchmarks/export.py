"""Export benchmarks: teleforge's TF-free RLDS writer vs TFDS's writer, and the copy limit.

``--format rlds`` (default) times, on one synthetic native dataset (two 224x224 JPEG
cameras, frames handed over as the stored JPEG bytes so nobody re-encodes):

* teleforge: ``export_rlds`` wall time (read shards, frame Examples, CRC, write shards,
  metadata and statistics), at 1 worker and at ``--workers`` N; warmed by one untimed
  two-episode export in the same process. The N-worker figure includes starting the
  worker processes (spawn + import), as ``teleforge export rlds --workers N`` pays it.
* TFDS (the peer): ``tfds.dataset_builders.store_as_tfds_dataset`` (FeaturesDict encoding,
  example serializer, TFRecord writer; ``disable_shuffling=True`` so it writes in episode
  order like teleforge), run in the TFDS venv (``--tfds-python``), each peer process warmed
  by importing TFDS and one untimed two-episode store. 1-vs-1 is one process; N-vs-N is N
  processes, each on a contiguous 1/N of the episodes, released together once all are
  warm, timed from the release to the last one's end (CLOCK_MONOTONIC is shared).
* the copy limit: read each step's image bytes from the shards (pread), CRC32C them and
  write them to one file; no framing, no numeric features. The floor for any writer.

Every figure is repeated ``--repeats`` times (fresh output each time); min / median of
steps/s are printed, in one JSON line, with the peer's figures from the same run.

    python benchmarks/export.py                          # 100 episodes x 50 steps, 3 repeats
    python benchmarks/export.py --memory-steps 50,1000 --episodes 5   # peak RSS vs episode length
    python benchmarks/export.py --memory 100,1000 --steps 20          # peak RSS vs episode count
    python benchmarks/export.py --format lerobot --episodes 20 --peer-streaming   # LeRobot v3 export

``--format lerobot`` times ``export_lerobot`` against lerobot 0.4.4's recording path
(``LeRobotDataset.create``, ``add_frame`` per step with the decoded frames, ``save_episode``,
``finalize``; lerobot-record's 4 image-writer threads per camera; with ``--peer-streaming``
also ``streaming_encoding=True``) on the same episodes and features. Both run in the peer's
venv (``--lerobot-python``), so both use the same PyAV / FFmpeg / SVT-AV1 build and the
same codec settings (libsvtav1, crf 30, gop 2, yuv420p), each warmed by an untimed
two-episode write; ``--ours-python`` runs teleforge elsewhere.
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
from teleforge.convert.rlds.tfrecord import CRC_BACKEND
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


CI_CACHE = Path.home() / ".cache" / "teleforge-ci"
TFDS_PYTHON_DEFAULT = str(CI_CACHE / "venv-tfds" / "bin" / "python")


def _stats(values: list[float]) -> dict[str, float]:
    """min / median / max of a list of rates, rounded."""
    v = sorted(values)
    return {"min": round(v[0], 1), "median": round(float(np.median(v)), 1), "max": round(v[-1], 1), "n": len(v)}


def _tfds_features(size: int):  # type: ignore[no-untyped-def]
    import tensorflow_datasets as tfds

    F = tfds.features
    return F.FeaturesDict({
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


def _tfds_store(source: Path, ids: list[int], out: Path) -> int:
    """(Inside the TFDS venv.) Write episodes ``ids`` through TFDS's writer; returns steps written."""
    import contextlib

    import tensorflow_datasets as tfds

    from teleforge.dataset import Dataset
    from teleforge.dataset.schema import image_column

    ds = Dataset.open(source)
    steps_total = 0

    def episodes():  # type: ignore[no-untyped-def]
        nonlocal steps_total
        for eid in ids:
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

    with contextlib.redirect_stdout(sys.stderr):  # TFDS prints progress; stdout carries the protocol
        tfds.dataset_builders.store_as_tfds_dataset(
            name="bench_tfds", version="1.0.0", features=_tfds_features(ds.spec.cameras[0].height),
            split_datasets={"train": episodes()}, data_dir=str(out), disable_shuffling=True)
    return steps_total


def tfds_peer_part(source: Path, out: Path, part: int, parts: int, repeats: int) -> None:
    """(Inside the TFDS venv.) One peer process: warm up, then per repeat wait for "go" and time its share.

    Prints "ready", then one JSON line per repeat: {"steps", "start", "end"} (CLOCK_MONOTONIC).
    """
    from teleforge.dataset import Dataset

    ids = Dataset.open(source).episode_ids
    bounds = [round(len(ids) * k / parts) for k in range(parts + 1)]
    mine = ids[bounds[part]:bounds[part + 1]]
    _tfds_store(source, ids[:2], out / f"warm_{part}")  # import, graph/codec setup, first use: outside the clock
    shutil.rmtree(out / f"warm_{part}", ignore_errors=True)
    print("ready", flush=True)
    for r in range(repeats):
        if sys.stdin.readline().strip() != "go":
            return
        dest = out / f"p{part}_r{r}"
        t0 = time.monotonic()
        steps = _tfds_store(source, mine, dest)
        t1 = time.monotonic()
        shutil.rmtree(dest, ignore_errors=True)
        print(json.dumps({"steps": steps, "start": t0, "end": t1}), flush=True)


def tfds_peer(python: str, source: Path, out: Path, workers: int, repeats: int) -> list[float] | None:
    """steps/s of TFDS's writer with ``workers`` warmed processes, one figure per repeat (None: no TFDS venv)."""
    import os
    import subprocess

    if not Path(python).exists():
        return None
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"), os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([python, __file__, "--tfds-peer-part", str(source), str(out), str(k), str(workers),
                               str(repeats)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True, env=env) for k in range(workers)]
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise SystemExit(f"the TFDS peer failed to start ({python}); run it by hand to see why")
        rates = []
        for _ in range(repeats):
            for p in procs:
                assert p.stdin is not None
                p.stdin.write("go\n")
                p.stdin.flush()
            lines = [json.loads(p.stdout.readline()) for p in procs if p.stdout is not None]
            wall = max(x["end"] for x in lines) - min(x["start"] for x in lines)
            rates.append(sum(x["steps"] for x in lines) / wall)
        return rates
    finally:
        for p in procs:
            if p.stdin:
                p.stdin.close()
            p.wait(timeout=120)


def copy_limit(source: Path, out: Path) -> float:
    """steps/s of reading every step's image bytes from the shards, CRC32C-ing them and writing them once."""
    import os

    from teleforge.convert.rlds.tfrecord import crc32c
    from teleforge.convert.rlds.writer import ShardFrames
    from teleforge.dataset import Dataset

    ds = Dataset.open(source)
    cams = [c.name for c in ds.spec.cameras]
    steps = 0
    t0 = time.perf_counter()
    with open(out, "wb", buffering=1 << 20) as f:
        for eid in ds.episode_ids:
            fr = ShardFrames(ds.episode(eid).path, cams)
            steps += len(fr.valid[cams[0]])
            with open(fr.path, "rb", buffering=0) as src:
                fd = src.fileno()
                crc = 0
                for c in cams:
                    buf = bytearray(int(fr.lengths[c].max()))
                    view = memoryview(buf)
                    for n, at in zip(fr.lengths[c].tolist(), fr.starts[c].tolist()):
                        os.preadv(fd, [view[:n]], at)
                        crc = crc32c(view[:n], crc)
                        f.write(view[:n])
        f.flush()
        os.fsync(f.fileno())
    return steps / (time.perf_counter() - t0)


def rlds_bench(args: argparse.Namespace, source: Path, tmp: Path) -> dict:
    """The RLDS figures: teleforge 1 and N workers, TFDS 1 and N processes, the copy limit; repeats each."""
    from teleforge.convert.rlds import check_rlds
    from teleforge.dataset import Dataset

    ids = Dataset.open(source).episode_ids
    export_rlds(source, tmp / "warm", RldsExportConfig(name="warm", workers=1, episodes=ids[:2]))  # warm-up, untimed
    shutil.rmtree(tmp / "warm", ignore_errors=True)
    counts = sorted({1, args.workers})
    ours: dict[int, list[float]] = {w: [] for w in counts}
    copies: list[float] = []
    res = None
    for r in range(args.repeats):
        for w in counts:
            res = export_rlds(source, tmp / f"rlds_{w}_{r}", RldsExportConfig(name="bench", workers=w))
            ours[w].append(res.steps_per_s)
            if not (w == counts[-1] and r == args.repeats - 1):
                shutil.rmtree(tmp / f"rlds_{w}_{r}", ignore_errors=True)
        copies.append(copy_limit(source, tmp / "copy.bin"))
        (tmp / "copy.bin").unlink()
    assert res is not None
    t0 = time.perf_counter()
    check = check_rlds(res.path)
    check_s = time.perf_counter() - t0
    peer = {w: (None if args.no_peer else tfds_peer(args.tfds_python, source, tmp / "tfds", w, args.repeats))
            for w in counts}
    out: dict = {
        "benchmark": "export_rlds", "episodes": res.num_episodes, "steps": res.num_steps,
        "cameras": "2x224x224 jpeg", "bytes": res.num_bytes, "crc_backend": CRC_BACKEND, "repeats": args.repeats,
        "copy_limit_steps_per_s": _stats(copies),
        "check_steps_per_s": round(check.steps / check_s, 1),
    }
    for w in counts:
        o, p = _stats(ours[w]), (None if peer[w] is None else _stats(peer[w]))
        out[f"teleforge_{w}w_steps_per_s"] = o
        out[f"tfds_{w}w_steps_per_s"] = p
        out[f"speedup_{w}v{w}_median"] = None if p is None else round(o["median"] / p["median"], 2)
        out[f"fraction_of_copy_limit_{w}w_median"] = round(o["median"] / out["copy_limit_steps_per_s"]["median"], 3)
    out["python"] = sys.version.split()[0]
    return out


# --- LeRobot v3.0 ---------------------------------------------------------------
# teleforge's export_lerobot vs lerobot's own recording path (LeRobotDataset.create,
# add_frame per step, save_episode per episode, finalize) on the same episodes and the
# same features. lerobot lives in its own venv (see .ci/lerobot_venv.sh), so the peer
# runs there as a subprocess of this script and times itself.
LEROBOT_PYTHON_DEFAULT = str(CI_CACHE / "venv-lerobot" / "bin" / "python")


def lerobot_peer_run(source: Path, out: Path, streaming: bool) -> None:
    """(Inside the lerobot venv.) Write ``source`` with lerobot's writer; print {"steps", "seconds"}.

    Warmed first: one untimed two-episode write (imports, encoder and writer set-up)."""
    import logging
    import os

    os.environ.setdefault("SVT_LOG", "1")
    logging.disable(logging.WARNING)
    from teleforge.dataset import Dataset

    ids = Dataset.open(source).episode_ids
    _lerobot_write(source, ids[:2], out.with_name(out.name + "_warm"), streaming)
    shutil.rmtree(out.with_name(out.name + "_warm"), ignore_errors=True)
    steps, seconds = _lerobot_write(source, ids, out, streaming)
    print(json.dumps({"steps": steps, "seconds": seconds}))


def lerobot_ours_run(source: Path, out: Path, encoder_threads: int | None) -> None:
    """(In whichever venv runs it.) ``export_lerobot`` warmed by an untimed two-episode export; prints its figures."""
    from teleforge.convert.lerobot.writer import export_lerobot
    from teleforge.dataset import Dataset
    from teleforge.dataset.selection import select

    ids = Dataset.open(source).episode_ids
    export_lerobot(select(source, ids[:2]), out.with_name(out.name + "_warm"), encoder_threads=encoder_threads)
    shutil.rmtree(out.with_name(out.name + "_warm"), ignore_errors=True)
    res = export_lerobot(source, out, encoder_threads=encoder_threads)
    import av

    print(json.dumps({"steps": res.frames, "steps_per_s": res.steps_per_s, "episodes": res.episodes, "vcodec": res.vcodec,
                      "data_files": res.data_files, "video_files": res.video_files, "pyav": av.__version__,
                      "libavcodec": ".".join(map(str, av.library_versions["libavcodec"])),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def _lerobot_write(source: Path, ids: list[int], out: Path, streaming: bool) -> tuple[int, float]:
    """(Inside the lerobot venv.) lerobot's recording path over episodes ``ids``: (steps, seconds)."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from teleforge.convert.lerobot.layout import EXTRA_COLUMNS, EXTRA_PREFIX, INDEX_FEATURES, features
    from teleforge.convert.native import native_arrays
    from teleforge.dataset import Dataset
    from teleforge.dataset.images import decode_image
    from teleforge.dataset.schema import image_column

    ds = Dataset.open(source)
    feats = {k: {**v, "shape": tuple(v["shape"])} for k, v in features(ds.spec).items() if k not in INDEX_FEATURES}
    cams = ds.spec.cameras
    t0 = time.perf_counter()
    # lerobot-record's defaults: 4 image-writer threads per camera, libsvtav1, one episode per encode
    lr = LeRobotDataset.create("bench/lerobot", fps=int(ds.spec.fps), features=feats, root=out,
                               robot_type=ds.spec.robot_embodiment, use_videos=True,
                               image_writer_threads=4 * len(cams), streaming_encoding=streaming)
    steps = 0
    for eid in ids:
        ep = ds.episode(eid)
        arr = native_arrays(ep)
        raw = {c.name: ep.column(image_column(c.name)) for c in cams}
        T = ep.num_steps
        for t in range(T):
            frame = {"action": arr["action"][t],
                     "observation.state": np.concatenate([arr["observation.state.ee_pos"][t], arr["observation.state.ee_quat"][t],
                                                          [arr["observation.state.gripper"][t]]]).astype(np.float32),
                     "next.reward": np.array([arr["reward"][t]], np.float32),
                     "next.done": np.array([t == T - 1]),
                     "next.success": np.array([bool(arr["success"][t])]),
                     "task": ep.meta.instruction}
            for c in EXTRA_COLUMNS:
                v = arr[c][t]
                frame[EXTRA_PREFIX + c] = np.atleast_1d(v).astype(feats[EXTRA_PREFIX + c]["dtype"])
            for c in cams:
                frame[image_column(c.name)] = decode_image(raw[c.name][t], c)
            lr.add_frame(frame)
        lr.save_episode()
        steps += T
    lr.finalize()
    return steps, time.perf_counter() - t0


def lerobot_bench(args: argparse.Namespace, source: Path, tmp: Path) -> dict:
    import os
    import subprocess

    py = Path(args.lerobot_python)
    # Same codec build: teleforge's exporter runs in the peer's venv (its PyAV / FFmpeg / SVT-AV1)
    # unless --ours-python says otherwise; both are warmed, both write the same episodes.
    ours_py = args.ours_python or (str(py) if py.exists() else sys.executable)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1] / "src"),
                                                         os.environ.get("PYTHONPATH", "")])}

    def run(cmd: list[str]) -> dict:
        done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise SystemExit(f"benchmark run failed ({' '.join(cmd)})")
        return json.loads(done.stdout.strip().splitlines()[-1])

    ours_runs, peers = [], {"default": [], "streaming": []}
    modes = ("default", "streaming") if args.peer_streaming else ("default",)
    for r in range(args.repeats):
        cmd = [ours_py, __file__, "--lerobot-ours-run", str(source), str(tmp / f"lerobot_teleforge_{r}")]
        if args.encoder_threads:
            cmd += ["--encoder-threads", str(args.encoder_threads)]
        ours_runs.append(run(cmd))
        shutil.rmtree(tmp / f"lerobot_teleforge_{r}", ignore_errors=True)
        if not args.no_peer and py.exists():
            for mode in modes:
                cmd = [str(py), __file__, "--lerobot-peer-run", str(source), str(tmp / f"lerobot_peer_{mode}_{r}")]
                if mode == "streaming":
                    cmd.append("--peer-streaming")
                line = run(cmd)
                peers[mode].append(line["steps"] / line["seconds"])
                shutil.rmtree(tmp / f"lerobot_peer_{mode}_{r}", ignore_errors=True)
    ours = _stats([o["steps_per_s"] for o in ours_runs])
    last = ours_runs[-1]
    out = {"benchmark": "export_lerobot", "episodes": last["episodes"], "steps": last["steps"],
           "cameras": "2x224x224 jpeg", "vcodec": last["vcodec"], "ours_python": ours_py,
           "ours_pyav": last["pyav"], "ours_libavcodec": last["libavcodec"], "repeats": args.repeats,
           "teleforge_steps_per_s": ours}
    for mode, key in (("default", ""), ("streaming", "_streaming")):
        p = _stats(peers[mode]) if peers[mode] else None
        out[f"lerobot{key}_writer_steps_per_s"] = p
        out[f"speedup{key}_median"] = None if p is None else round(ours["median"] / p["median"], 2)
    out |= {"peak_rss_mb": last["peak_rss_mb"], "data_files": last["data_files"], "video_files": last["video_files"]}
    return out


def rlds_memory_run(source: Path, out: Path, episodes: int) -> None:
    """Child process of ``--memory``: export the first ``episodes`` episodes (one worker), print a JSON line."""
    from teleforge.dataset import Dataset

    ids = Dataset.open(source).episode_ids[:episodes]
    res = export_rlds(source, out, RldsExportConfig(name="mem", workers=1, episodes=ids))
    print(json.dumps({"episodes": res.num_episodes, "steps": res.num_steps, "bytes": res.num_bytes,
                      "steps_per_s": round(res.steps_per_s, 1)}))


def rlds_memory_bench(counts: list[int], steps: int, tmp: Path) -> dict:
    """Peak RSS of the RLDS export at each episode count, each run in a fresh process (ru_maxrss per child)."""
    import os
    import subprocess

    source = build_source(tmp / "src", max(counts), steps)
    runs = []
    for n in counts:
        proc = subprocess.Popen([sys.executable, __file__, "--rlds-memory-run", str(source), str(tmp / f"rlds_{n}"), str(n)],
                                stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        out = proc.stdout.read() if proc.stdout else ""
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            raise SystemExit(f"memory run for {n} episodes failed ({proc.returncode})")
        runs.append({**json.loads(out.strip().splitlines()[-1]), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)})
    return {"benchmark": "export_rlds_memory", "cameras": "2x224x224 jpeg", "steps_per_episode": steps, "workers": 1,
            "runs": runs, "rss_ratio_last_vs_first": round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3),
            "episode_ratio": round(runs[-1]["episodes"] / runs[0]["episodes"], 1), "python": sys.version.split()[0]}


def rlds_memory_steps_bench(lengths: list[int], episodes: int, tmp: Path) -> dict:
    """Peak RSS of the RLDS export (1 worker, fresh process each) with ``episodes`` episodes of each length."""
    import os
    import subprocess

    runs = []
    for steps in lengths:
        source = build_source(tmp / f"src_{steps}", episodes, steps)
        proc = subprocess.Popen([sys.executable, __file__, "--rlds-memory-run", str(source), str(tmp / f"rlds_{steps}"),
                                 str(episodes)], stdout=subprocess.PIPE, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        out = proc.stdout.read() if proc.stdout else ""
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"memory run for {steps}-step episodes failed")
        shard_mb = sum(p.stat().st_size for p in (source / "episodes").iterdir()) / episodes / 2**20
        runs.append({**json.loads(out.strip().splitlines()[-1]), "steps_per_episode": steps,
                     "episode_mb": round(shard_mb, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1)})
        shutil.rmtree(source, ignore_errors=True)
        shutil.rmtree(tmp / f"rlds_{steps}", ignore_errors=True)
    return {"benchmark": "export_rlds_memory_vs_length", "cameras": "2x224x224 jpeg", "workers": 1, "runs": runs,
            "rss_ratio_last_vs_first": round(runs[-1]["peak_rss_mb"] / runs[0]["peak_rss_mb"], 3),
            "length_ratio": round(lengths[-1] / lengths[0], 1), "python": sys.version.split()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, help="Use this native dataset instead of building one.")
    ap.add_argument("--episodes", type=int, default=100)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-peer", action="store_true")
    ap.add_argument("--format", choices=("rlds", "lerobot"), default="rlds", help="Which exporter to measure.")
    ap.add_argument("--lerobot-python", default=LEROBOT_PYTHON_DEFAULT, help="Python of the lerobot venv (the peer).")
    ap.add_argument("--peer-streaming", action="store_true", help="Also time lerobot's streaming_encoding=True writer.")
    ap.add_argument("--encoder-threads", type=int, default=None, help="LeRobot export: threads per video encoder.")
    ap.add_argument("--lerobot-peer-run", nargs=2, type=Path, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--lerobot-ours-run", nargs=2, type=Path, metavar=("SOURCE", "OUT"), help=argparse.SUPPRESS)
    ap.add_argument("--ours-python", default=None,
                    help="LeRobot export: Python that runs teleforge's exporter (default: the peer's, same codec build).")
    ap.add_argument("--memory", default=None, metavar="N,M",
                    help="RLDS peak RSS at these episode counts (e.g. 100,1000; --steps per episode), one process each.")
    ap.add_argument("--memory-steps", default=None, metavar="N,M",
                    help="RLDS peak RSS with episodes of these lengths (e.g. 50,1000; --episodes each), one process each.")
    ap.add_argument("--rlds-memory-run", nargs=3, metavar=("SOURCE", "OUT", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, default=None,
                    help="Folder for the source and outputs (e.g. /dev/shm to keep a shared disk out of the figures).")
    ap.add_argument("--repeats", type=int, default=3, help="Timed repeats of every figure (min / median reported).")
    ap.add_argument("--tfds-python", default=TFDS_PYTHON_DEFAULT, help="Python of the TFDS venv (the peer).")
    ap.add_argument("--tfds-peer-part", nargs=5, metavar=("SOURCE", "OUT", "K", "N", "R"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.tfds_peer_part:
        src_, out_, k_, n_, r_ = args.tfds_peer_part
        tfds_peer_part(Path(src_), Path(out_), int(k_), int(n_), int(r_))
        return
    if args.memory_steps:
        tmp = Path(tempfile.mkdtemp(prefix="tf_export_mem_"))
        try:
            print(json.dumps(rlds_memory_steps_bench([int(x) for x in args.memory_steps.split(",")], args.episodes, tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.rlds_memory_run:
        rlds_memory_run(Path(args.rlds_memory_run[0]), Path(args.rlds_memory_run[1]), int(args.rlds_memory_run[2]))
        return
    if args.memory:
        tmp = Path(tempfile.mkdtemp(prefix="tf_export_mem_"))
        try:
            print(json.dumps(rlds_memory_bench([int(x) for x in args.memory.split(",")], args.steps, tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if args.lerobot_ours_run:
        lerobot_ours_run(*args.lerobot_ours_run, encoder_threads=args.encoder_threads)
        return
    if args.lerobot_peer_run:
        lerobot_peer_run(*args.lerobot_peer_run, streaming=args.peer_streaming)
        return
    if args.format == "lerobot":
        tmp = Path(tempfile.mkdtemp(prefix="tf_export_bench_", dir=args.tmp))
        try:
            source = args.source or build_source(tmp / "src", args.episodes, args.steps)
            print(json.dumps(lerobot_bench(args, source, tmp)))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    tmp = Path(tempfile.mkdtemp(prefix="tf_export_bench_", dir=args.tmp))
    try:
        source = args.source or build_source(tmp / "src", args.episodes, args.steps)
        print(json.dumps({**rlds_bench(args, source, tmp), "tmp": str(tmp.parent)}))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
