"""Check teleforge's LeRobot v3.0 export and import against the real lerobot 0.4.4.

Run with the validator venv (see /work/shared/VERIFY.md and .ci/lerobot_venv.sh)::

    /work/cache/venv-lerobot/bin/python tests/convert/lerobot_check.py [SOURCE_DATASET]

Without SOURCE_DATASET a small synthetic dataset is built. It then

1. exports it (once with lerobot's default file sizes, once with tiny ones so data and
   video files roll over), loads each with ``LeRobotDataset(repo_id, root=...)``, indexes
   random frames and compares every value and decoded video frame (PSNR bound) with the
   native dataset, and checks meta/stats.json against lerobot's own stats functions;
2. writes a dataset with lerobot's own writer (``LeRobotDataset.create``, ``add_frame``,
   ``save_episode``, ``finalize``), imports it with teleforge and compares.

Prints one JSON line with what it checked; exits non-zero on the first mismatch.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("SVT_LOG", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repo root, for tests.convert.h5_synth

MIN_PSNR = 28.0  # AV1 CRF 30 on small textured frames (lerobot's own encoder settings)
REPO_ID = "teleforge/check"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def native_frames(ep, cam: str) -> np.ndarray:
    from teleforge.convert.hdf5.common import dense_frames

    return dense_frames(ep, cam)[0]


def check_export(source: Path, out: Path, rng: np.random.Generator, **kw) -> dict:
    import torch
    from lerobot.datasets.compute_stats import aggregate_stats, get_feature_stats
    from lerobot.datasets.lerobot_dataset import LeRobotDataset
    from lerobot.datasets.utils import load_nested_dataset

    from teleforge.convert.lerobot.writer import export_lerobot
    from teleforge.convert.native import native_arrays
    from teleforge.dataset import Dataset
    from teleforge.dataset.schema import image_column

    res = export_lerobot(source, out, repo_id=REPO_ID, **kw)
    src = Dataset.open(source)
    lr = LeRobotDataset(REPO_ID, root=out)
    assert lr.meta.total_episodes == len(src.episode_ids) == lr.num_episodes, (lr.meta.total_episodes, len(src))
    assert len(lr) == res.frames == sum(src.episode(i).num_steps for i in src.episode_ids)
    assert lr.fps == int(src.spec.fps)
    cams = src.spec.camera_names
    assert sorted(lr.meta.video_keys) == sorted(image_column(c) for c in cams), lr.meta.video_keys
    starts = {int(e["episode_index"]): int(e["dataset_from_index"]) for e in lr.meta.episodes}

    # every frame's numbers, random frames' images
    frames_cache: dict = {}
    worst = float("inf")
    idx = sorted(set(rng.choice(len(lr), size=min(len(lr), 40), replace=False).tolist()) | {0, len(lr) - 1})
    for k, eid in enumerate(src.episode_ids):
        ep = src.episode(eid)
        arr = native_arrays(ep)
        T = ep.num_steps
        for t in range(T):
            g = starts[k] + t
            item = lr.hf_dataset[g]
            assert int(item["episode_index"]) == k and int(item["frame_index"]) == t and int(item["index"]) == g
            np.testing.assert_array_equal(item["action"].numpy(), arr["action"][t])
            state = np.concatenate([arr["observation.state.ee_pos"][t], arr["observation.state.ee_quat"][t],
                                    [arr["observation.state.gripper"][t]]]).astype(np.float32)
            np.testing.assert_array_equal(item["observation.state"].numpy(), state)
            np.testing.assert_array_equal(item["teleforge.observation.state.joint_pos"].numpy(), arr["observation.state.joint_pos"][t])
            assert int(item["teleforge.tick_ns"]) == int(arr["tick_ns"][t])
            assert float(item["next.reward"]) == float(arr["reward"][t])
            assert bool(item["next.done"]) == (t == T - 1)
    for g in idx:
        item = lr[g]  # through LeRobotDataset.__getitem__: parquet row + torchcodec video decode
        k, t = int(item["episode_index"]), int(item["frame_index"])
        eid = src.episode_ids[k]
        ep = src.episode(eid)
        assert item["task"] == ep.meta.instruction, (item["task"], ep.meta.instruction)
        abs_ts = float(item["timestamp"])
        assert abs(abs_ts - t / lr.fps) < 1e-6
        for cam in cams:
            if (eid, cam) not in frames_cache:
                frames_cache = {(eid, cam): native_frames(ep, cam)} | {kk: v for kk, v in frames_cache.items() if kk[0] == eid}
            got = (item[image_column(cam)] * 255).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
            want = frames_cache[(eid, cam)][t]
            assert got.shape == want.shape, (got.shape, want.shape)
            p = psnr(got, want)
            worst = min(worst, p)
            assert p >= MIN_PSNR, f"frame {g} camera {cam}: PSNR {p:.1f} dB < {MIN_PSNR}"

    # stats: per-episode stats re-aggregated by lerobot itself == meta/stats.json; numbers == numpy over the data
    ep_table = load_nested_dataset(out / "meta" / "episodes")
    per_ep = []
    for row in ep_table:
        st: dict = {}
        for col, v in row.items():
            if col.startswith("stats/"):
                _, key, name = col.split("/")
                st.setdefault(key, {})[name] = np.asarray(v)
        per_ep.append(st)
    agg = aggregate_stats(per_ep)
    stats = lr.meta.stats
    for key in agg:
        for name in ("min", "max", "mean", "std", "count", "q01", "q99"):
            np.testing.assert_allclose(np.asarray(stats[key][name], np.float64), np.asarray(agg[key][name], np.float64),
                                       rtol=1e-6, atol=1e-9, err_msg=f"{key}/{name}")
    actions = np.concatenate([native_arrays(src.episode(i))["action"] for i in src.episode_ids])
    np.testing.assert_allclose(stats["action"]["mean"], actions.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(stats["action"]["std"], actions.astype(np.float64).std(0), rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(stats["action"]["min"], actions.min(0))
    np.testing.assert_array_equal(stats["action"]["max"], actions.max(0))
    # quantiles follow lerobot's own histogram definition: compare with get_feature_stats on the same data
    ep0 = src.episode(src.episode_ids[0])
    first = native_arrays(ep0)["action"]
    theirs = get_feature_stats(first, axis=0, keepdims=False)
    width = (first.max(0) - first.min(0)) / 5000
    for q in ("q01", "q10", "q50", "q90", "q99"):
        assert np.all(np.abs(per_ep[0]["action"][q] - theirs[q]) <= width + 1e-6), (q, per_ep[0]["action"][q], theirs[q])
    for cam in cams:  # image stats: lerobot's sampling, per channel, /255 (its std wraps uint8, so not compared)
        from lerobot.datasets.compute_stats import auto_downsample_height_width, sample_indices

        frames = native_frames(ep0, cam)
        chw = np.stack([auto_downsample_height_width(frames[i].transpose(2, 0, 1)) for i in sample_indices(len(frames))])
        theirs = get_feature_stats(chw, axis=(0, 2, 3), keepdims=True)
        ours = per_ep[0][image_column(cam)]
        assert int(ours["count"][0]) == int(theirs["count"][0])
        for name in ("min", "max", "mean", "q01", "q50", "q99"):
            np.testing.assert_allclose(ours[name].ravel(), np.asarray(theirs[name], np.float64).ravel() / 255.0,
                                       atol=2e-3, err_msg=f"{cam} {name}")
    for cam in cams:
        s = stats[image_column(cam)]
        assert np.asarray(s["mean"]).shape == (3, 1, 1) and 0 <= np.min(s["min"]) <= np.max(s["max"]) <= 1
    n_files = len(list((out / "data").glob("*/*.parquet")))
    n_videos = len(list((out / "videos").glob("*/*/*.mp4")))
    return {"episodes": lr.num_episodes, "frames": len(lr), "data_files": n_files, "video_files": n_videos,
            "frames_decoded": len(idx), "min_psnr_db": round(worst, 2)}


def check_import_of_lerobot_writer(tmp: Path, rng: np.random.Generator) -> dict:
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from teleforge.convert.lerobot.importer import import_lerobot
    from teleforge.convert.lerobot.layout import ACTION_NAMES, EE_STATE_NAMES
    from teleforge.dataset import Dataset

    h, w, fps = 48, 64, 10
    feats = {
        "action": {"dtype": "float32", "shape": (7,), "names": ACTION_NAMES},
        "observation.state": {"dtype": "float32", "shape": (8,), "names": EE_STATE_NAMES},
        "observation.images.front": {"dtype": "video", "shape": (h, w, 3), "names": ["height", "width", "channels"]},
        "next.reward": {"dtype": "float32", "shape": (1,), "names": None},
        "next.success": {"dtype": "bool", "shape": (1,), "names": None},
    }
    root = tmp / "lerobot_written"
    ds = LeRobotDataset.create(REPO_ID, fps=fps, features=feats, root=root, robot_type="other_arm", use_videos=True)
    written = []
    yy, xx = np.mgrid[0:h, 0:w]
    for e, T in enumerate((9, 14, 6)):
        instr = ["put the block in the bowl", "open the drawer", "put the block in the bowl"][e]
        ep = {"action": [], "observation.state": [], "img": [], "reward": [], "success": [], "task": instr}
        for t in range(T):
            img = np.stack([(xx * 4 + t * 7) % 256, (yy * 5 + e * 40) % 256, ((xx + yy) * 2) % 256], -1).astype(np.uint8)
            frame = {
                "action": rng.standard_normal(7).astype(np.float32),
                "observation.state": rng.standard_normal(8).astype(np.float32),
                "observation.images.front": img,
                "next.reward": np.array([float(t == T - 1)], np.float32),
                "next.success": np.array([t == T - 1 and e != 1]),
                "task": instr,
            }
            ds.add_frame(frame)
            for k in ("action", "observation.state"):
                ep[k].append(frame[k])
            ep["img"].append(img)
            ep["reward"].append(frame["next.reward"][0])
            ep["success"].append(frame["next.success"][0])
        ds.save_episode()
        written.append(ep)
    ds.finalize()

    back = tmp / "imported"
    rep = import_lerobot(root, back)
    assert rep.steps == 29 and len(rep.episode_ids) == 3, rep
    nat = Dataset.open(back)
    worst = float("inf")
    for eid, ep in zip(nat.episode_ids, written, strict=True):
        e = nat.episode(eid)
        assert e.meta.instruction == ep["task"], (e.meta.instruction, ep["task"])
        np.testing.assert_array_equal(e.column("action"), np.stack(ep["action"]))
        st = np.stack(ep["observation.state"])
        np.testing.assert_array_equal(e.column("observation.state.ee_pos"), st[:, :3])
        np.testing.assert_array_equal(e.column("observation.state.ee_quat"), st[:, 3:7])
        np.testing.assert_array_equal(e.column("observation.state.gripper"), st[:, 7])
        np.testing.assert_array_equal(e.column("reward"), np.array(ep["reward"], np.float32))
        np.testing.assert_array_equal(e.column("success"), np.array(ep["success"]))
        got = np.stack(list(e.images("front")))
        assert got.shape == (len(ep["img"]), h, w, 3)
        for a, b in zip(got, ep["img"]):
            p = psnr(a, b)
            worst = min(worst, p)
            assert p >= 24.0, f"imported frame PSNR {p:.1f} dB"  # AV1 by lerobot, then JPEG q95 by teleforge
    # a feature teleforge cannot map is refused by name
    try:
        import_lerobot(_with_extra_feature(root, tmp), tmp / "refused")
    except Exception as exc:  # ImportFormatError
        assert "observation.environment_state" in str(exc), exc
    else:
        raise AssertionError("an unknown feature was imported silently")
    return {"episodes": 3, "steps": rep.steps, "min_psnr_db": round(worst, 2), "skipped": rep.skipped_keys}


def check_import_of_lerobot_images(tmp: Path, rng: np.random.Generator) -> dict:
    """lerobot's writer with use_videos=False: PNG images embedded in the data parquet."""
    from lerobot.datasets.lerobot_dataset import LeRobotDataset

    from teleforge.convert.lerobot.importer import import_lerobot
    from teleforge.convert.lerobot.layout import ACTION_NAMES
    from teleforge.dataset import Dataset

    feats = {"action": {"dtype": "float32", "shape": (7,), "names": ACTION_NAMES},
             "observation.state": {"dtype": "float32", "shape": (6,), "names": [f"q{i}" for i in range(6)]},
             "observation.images.top": {"dtype": "image", "shape": (32, 40, 3), "names": ["height", "width", "channels"]}}
    root = tmp / "lerobot_images"
    ds = LeRobotDataset.create(REPO_ID + "_img", fps=15, features=feats, root=root, use_videos=False)
    imgs, states = [], []
    for t in range(8):
        img = rng.integers(0, 256, (32, 40, 3), dtype=np.uint8)
        st = rng.standard_normal(6).astype(np.float32)
        ds.add_frame({"action": rng.standard_normal(7).astype(np.float32), "observation.state": st,
                      "observation.images.top": img, "task": "wave"})
        imgs.append(img)
        states.append(st)
    ds.save_episode()
    ds.finalize()
    rep = import_lerobot(root, tmp / "imported_images")
    ep = Dataset.open(tmp / "imported_images").episode(rep.episode_ids[0])
    assert ep.spec.n_joints == 6 and ep.meta.instruction == "wave"
    np.testing.assert_array_equal(ep.column("observation.state.joint_pos"), np.stack(states))  # unnamed state -> joints
    got = np.stack(list(ep.images("top")))
    worst = min(psnr(a, b) for a, b in zip(got, imgs))  # PNG is lossless; JPEG q95 of noise is the only loss
    assert worst >= 20.0, worst
    return {"episodes": 1, "steps": rep.steps, "min_psnr_db": round(worst, 2), "filled": len(rep.filled_columns)}


def _with_extra_feature(root: Path, tmp: Path) -> Path:
    import shutil

    dst = tmp / "with_extra"
    shutil.copytree(root, dst)
    info = json.loads((dst / "meta" / "info.json").read_text())
    info["features"]["observation.environment_state"] = {"dtype": "float32", "shape": [3], "names": None}
    (dst / "meta" / "info.json").write_text(json.dumps(info))
    return dst


def main() -> None:
    logging.disable(logging.WARNING)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory(prefix="tf_lerobot_check_") as d:
        tmp = Path(d)
        if len(sys.argv) > 1:
            source = Path(sys.argv[1])
        else:
            from tests.convert.h5_synth import build_dataset

            source = build_dataset(tmp / "src", episodes=5, steps=30, first_frame_missing=True)
        report = {"export": check_export(source, tmp / "lr", rng),
                  "export_rollover": check_export(source, tmp / "lr_small", rng, data_files_size_in_mb=0.005,
                                                  video_files_size_in_mb=0.005, chunks_size=2),
                  "lerobot_writer_import": check_import_of_lerobot_writer(tmp, rng),
                  "lerobot_writer_images_import": check_import_of_lerobot_images(tmp, rng)}
        assert report["export_rollover"]["data_files"] > 1 and report["export_rollover"]["video_files"] > 2, report
    import lerobot

    print(json.dumps({"lerobot": lerobot.__version__ if hasattr(lerobot, "__version__") else "0.4.x", "ok": True, **report}))


if __name__ == "__main__":
    main()
