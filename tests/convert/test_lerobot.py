"""LeRobot v3.0 export and import without lerobot installed: layout, metadata, round trips, views, bad input.

The same exports are loaded by the real lerobot 0.4.4 in tests/convert/lerobot_check.py
(run by .ci/lerobot_venv.sh in its own venv).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import typer
from tests.convert.h5_synth import build_dataset
from typer.testing import CliRunner

from teleforge.cli.formats import import_app, register_export_commands
from teleforge.convert.hdf5.common import dense_frames
from teleforge.convert.lerobot.importer import import_lerobot
from teleforge.convert.lerobot.stats import StatsAggregator, vector_stats
from teleforge.convert.lerobot.writer import export_lerobot
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.dataset.views import View, save_view
from teleforge.errors import EpisodeNotFoundError, ExportError, ImportFormatError, PartialExportError

EXACT = ["action", "observation.state.joint_pos", "observation.state.joint_vel", "observation.state.ee_pos",
         "observation.state.ee_quat", "observation.state.gripper", "target.joint_pos", "target.ee_pos",
         "target.ee_quat", "command.twist", "command.gripper", "reward", "success", "safety.hold", "safety.estop",
         "safety.clamped", "tick_ns"]
MIN_PSNR = 28.0  # AV1 (CRF 30) then JPEG q95 on re-import, 24x32 textured frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("lr") / "ds", episodes=3, steps=12, first_frame_missing=True)


@pytest.fixture(scope="module")
def exported(src: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lr_out") / "lerobot"
    export_lerobot(src, out, repo_id="me/ds")
    return out


def test_round_trip_native_lerobot_native_is_exact_for_values(src: Path, exported: Path, tmp_path: Path) -> None:
    rep = import_lerobot(exported, tmp_path / "back")
    assert rep.steps == 36 and rep.filled_columns == [] and rep.skipped_keys == []
    a, b = Dataset.open(src), Dataset.open(tmp_path / "back")
    assert b.spec.fps == a.spec.fps and b.spec.n_joints == a.spec.n_joints
    assert b.spec.camera_names == a.spec.camera_names
    for i, j in zip(a.episode_ids, b.episode_ids, strict=True):
        ea, eb = a.episode(i), b.episode(j)
        assert (eb.meta.task, eb.meta.instruction, eb.meta.outcome) == (ea.meta.task, ea.meta.instruction, ea.meta.outcome)
        assert eb.meta.extras["teleforge_episode_id"] == i
        for col in EXACT:
            np.testing.assert_array_equal(ea.column(col), eb.column(col), err_msg=col)
        for cam in a.spec.camera_names:
            x, y = dense_frames(ea, cam)[0], dense_frames(eb, cam)[0]
            assert x.shape == y.shape
            assert min(psnr(p, q) for p, q in zip(x, y)) >= MIN_PSNR


def test_layout_and_metadata_follow_lerobot_v3(src: Path, exported: Path) -> None:
    info = json.loads((exported / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 50 and info["robot_type"] == "test_arm_7dof"
    assert (info["total_episodes"], info["total_frames"], info["total_tasks"]) == (3, 36, 2)
    assert info["data_path"] == "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
    assert info["video_path"] == "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
    assert info["splits"] == {"train": "0:3"} and info["chunks_size"] == 1000
    assert (info["data_files_size_in_mb"], info["video_files_size_in_mb"]) == (100, 200)
    f = info["features"]
    assert f["action"]["shape"] == [7] and f["observation.state"]["names"] == ["x", "y", "z", "qw", "qx", "qy", "qz", "gripper"]
    front = f["observation.images.front"]
    assert front["dtype"] == "video" and front["shape"] == [24, 32, 3]
    assert front["info"]["video.codec"] in ("av1", "h264") and front["info"]["video.pix_fmt"] == "yuv420p"
    assert front["info"]["video.fps"] == 50 and front["info"]["has_audio"] is False
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert f[k]["shape"] == [1]

    data = pq.read_table(exported / "data" / "chunk-000" / "file-000.parquet")
    assert sorted(data.column_names) == sorted(k for k, v in f.items() if v["dtype"] != "video")
    assert "huggingface" in (data.schema.metadata or {}).__repr__() or b"huggingface" in data.schema.metadata
    assert data.column("index").to_pylist() == list(range(36))
    assert data.column("frame_index").to_pylist() == list(range(12)) * 3
    assert np.allclose(data.column("timestamp").to_numpy()[:12], np.arange(12) / 50)
    assert data.column("next.done").to_pylist() == ([False] * 11 + [True]) * 3

    eps = pq.read_table(exported / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [e["episode_index"] for e in eps] == [0, 1, 2] and [e["length"] for e in eps] == [12] * 3
    assert [(e["dataset_from_index"], e["dataset_to_index"]) for e in eps] == [(0, 12), (12, 24), (24, 36)]
    assert [e["tasks"] for e in eps] == [["do pick_cube"], ["do stack"], ["do pick_cube"]]
    for k, e in enumerate(eps):  # episodes back to back in one mp4 per camera
        assert e["videos/observation.images.front/from_timestamp"] == pytest.approx(k * 12 / 50)
        assert e["videos/observation.images.front/to_timestamp"] == pytest.approx((k + 1) * 12 / 50)
        assert e["meta/episodes/chunk_index"] == 0 and e["data/file_index"] == 0
        assert np.asarray(e["stats/observation.images.front/mean"]).shape == (3, 1, 1)
        assert e["stats/action/count"] == [12]
    tasks = pd.read_parquet(exported / "meta" / "tasks.parquet")  # lerobot reads the task text from the index
    assert list(tasks.index) == ["do pick_cube", "do stack"] and tasks["task_index"].tolist() == [0, 1]

    with av.open(str(exported / "videos" / "observation.images.front" / "chunk-000" / "file-000.mp4")) as c:
        pts = [float(fr.time) for fr in c.decode(video=0)]
    assert pts == pytest.approx([i / 50 for i in range(36)])  # lerobot seeks frame round(ts * fps)


def test_stats_match_the_data_and_lerobots_shapes(src: Path, exported: Path) -> None:
    stats = json.loads((exported / "meta" / "stats.json").read_text())
    ds = Dataset.open(src)
    act = np.concatenate([ds.episode(i).column("action") for i in ds.episode_ids]).astype(np.float64)
    np.testing.assert_allclose(stats["action"]["mean"], act.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(stats["action"]["std"], act.std(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(np.asarray(stats["action"]["min"], np.float32), act.min(0).astype(np.float32))
    assert stats["action"]["count"] == [36]
    for q in ("q01", "q10", "q50", "q90", "q99"):
        assert np.all(np.asarray(stats["action"][q]) >= act.min(0) - 1e-6) and np.all(np.asarray(stats["action"][q]) <= act.max(0) + 1e-6)
    img = stats["observation.images.wrist"]
    assert np.asarray(img["mean"]).shape == (3, 1, 1) and img["count"] == [36]
    frames = np.concatenate([dense_frames(ds.episode(i), "wrist")[0] for i in ds.episode_ids]).reshape(-1, 3) / 255.0
    np.testing.assert_allclose(np.asarray(img["mean"]).ravel(), frames.mean(0), atol=1e-9)
    np.testing.assert_allclose(np.asarray(img["std"]).ravel(), frames.std(0), rtol=1e-3)
    assert stats["next.reward"]["mean"] == pytest.approx([float(np.mean(np.concatenate([ds.episode(i).column("reward") for i in ds.episode_ids])))])


def test_stats_aggregation_equals_stats_of_the_concatenation() -> None:
    rng = np.random.default_rng(1)
    parts = [rng.standard_normal((n, 4)) * (k + 1) for k, n in enumerate((5, 17, 9))]
    agg = StatsAggregator()
    for p in parts:
        agg.add({"x": vector_stats(p)})
    r = agg.result()["x"]
    allx = np.concatenate(parts)
    np.testing.assert_allclose(r["mean"], allx.mean(0))
    np.testing.assert_allclose(r["std"], allx.std(0))
    np.testing.assert_array_equal(r["min"], allx.min(0))
    assert r["count"].tolist() == [31]


def test_files_roll_over_into_new_files_and_chunks(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "small"
    r = export_lerobot(src, out, data_files_size_in_mb=0.001, video_files_size_in_mb=0.001, chunks_size=2)
    # videos roll over too (the encoder's look-ahead makes the size estimate lag by a few frames)
    assert r.data_files == 3 and r.video_files > 2
    assert sorted(p.relative_to(out).as_posix() for p in (out / "data").glob("*/*.parquet")) == [
        "data/chunk-000/file-000.parquet", "data/chunk-000/file-001.parquet", "data/chunk-001/file-000.parquet"]
    eps = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [(e["data/chunk_index"], e["data/file_index"]) for e in eps] == [(0, 0), (0, 1), (1, 0)]
    for key in ("front", "wrist"):
        k = f"videos/observation.images.{key}"
        seen: dict = {}
        for e in eps:  # each episode starts where the previous one in the same file ended
            where = (e[f"{k}/chunk_index"], e[f"{k}/file_index"])
            assert e[f"{k}/from_timestamp"] == pytest.approx(seen.get(where, 0.0))
            seen[where] = e[f"{k}/to_timestamp"]
        assert len(seen) > 1
    rep = import_lerobot(out, tmp_path / "back")  # the importer follows the indices across files
    back = Dataset.open(tmp_path / "back")
    a = Dataset.open(src)
    for i, j in zip(a.episode_ids, rep.episode_ids, strict=True):
        np.testing.assert_array_equal(a.episode(i).column("action"), back.episode(j).column("action"))


def test_view_keeps_its_episodes_and_trims(src: Path, tmp_path: Path) -> None:
    ds_root = tmp_path / "ds"
    shutil.copytree(src, ds_root)
    save_view(ds_root, View(name="good", episodes=[2, 0], trims={2: (3, 10)}, operation="trim"))
    out = tmp_path / "viewed"
    r = export_lerobot(select(ds_root, view="good"), out)
    assert (r.episodes, r.frames) == (2, 7 + 12)
    eps = pq.read_table(out / "meta" / "episodes" / "chunk-000" / "file-000.parquet").to_pylist()
    assert [e["teleforge/episode_id"] for e in eps] == [2, 0] and [e["length"] for e in eps] == [7, 12]
    data = pq.read_table(out / "data" / "chunk-000" / "file-000.parquet")
    native = Dataset.open(ds_root).episode(2)
    got = np.asarray(data.column("action").to_pylist()[:7], np.float32)
    np.testing.assert_array_equal(got, native.column("action")[3:10])
    assert data.column("frame_index").to_pylist()[:7] == list(range(7))
    back = import_lerobot(out, tmp_path / "back")
    e0 = Dataset.open(tmp_path / "back").episode(back.episode_ids[0])
    np.testing.assert_array_equal(e0.column("tick_ns"), native.column("tick_ns")[3:10])
    manifest = json.loads((out / "teleforge_export.json").read_text())
    assert manifest["view"] == "good" and manifest["lerobot"]["trims"] == {"2": [3, 10]}


def test_view_naming_missing_episodes_is_refused(src: Path, tmp_path: Path) -> None:
    ds_root = tmp_path / "ds"
    shutil.copytree(src, ds_root)
    save_view(ds_root, View(name="stale", episodes=[0, 7]))
    with pytest.raises(EpisodeNotFoundError, match=r"\[7\]"):
        export_lerobot(select(ds_root, view="stale"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_interrupted_export_leaves_no_dataset_and_a_killed_one_is_refused_clearly(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"

    def die(done: int, total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_lerobot(src, out, progress=die)
    assert not out.exists() and not (tmp_path / ".out.partial").exists()
    assert export_lerobot(src, out).episodes == 3
    # a hard kill leaves the hidden staging folder: never mistaken for a dataset, refused until --overwrite
    out2 = tmp_path / "out2"
    (tmp_path / ".out2.partial" / "data").mkdir(parents=True)
    with pytest.raises(PartialExportError, match="interrupted export"):
        export_lerobot(src, out2)
    assert not out2.exists()
    assert export_lerobot(src, out2, overwrite=True).frames == 36
    assert not (tmp_path / ".out2.partial").exists()
    with pytest.raises(ExportError, match="already exists"):
        export_lerobot(src, out)
    assert export_lerobot(src, out, overwrite=True).frames == 36


def test_overwrite_never_replaces_a_native_dataset_or_foreign_folder(src: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="native teleforge dataset"):
        export_lerobot(src, src, overwrite=True)
    assert Dataset.open(src).episode_ids == [0, 1, 2]
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("x")
    with pytest.raises(ExportError, match="not written by"):
        export_lerobot(src, foreign, overwrite=True)
    assert (foreign / "keep.txt").exists()


def _copy(exported: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(exported, dst)
    return dst


def _edit_info(root: Path, fn) -> None:
    p = root / "meta" / "info.json"
    info = json.loads(p.read_text())
    fn(info)
    p.write_text(json.dumps(info))


def test_import_refuses_unknown_features_by_name_unless_skipped(exported: Path, tmp_path: Path) -> None:
    root = _copy(exported, tmp_path)
    _edit_info(root, lambda i: i["features"].update({"observation.environment_state": {"dtype": "float32", "shape": [4], "names": None}}))
    with pytest.raises(ImportFormatError, match="observation.environment_state"):
        import_lerobot(root, tmp_path / "a")
    assert not (tmp_path / "a" / "episodes").exists() or not any((tmp_path / "a" / "episodes").iterdir())
    # the feature is not in the parquet either, so skipping it is enough
    rep = import_lerobot(root, tmp_path / "b", skip=["observation.environment_state"])
    assert rep.skipped_keys == ["observation.environment_state"] and rep.steps == 36


def test_import_refuses_other_action_spaces_and_versions(exported: Path, tmp_path: Path) -> None:
    root = _copy(exported, tmp_path)
    _edit_info(root, lambda i: i["features"]["action"].update({"shape": [14]}))
    with pytest.raises(ImportFormatError, match=r"action has shape \[14\]"):
        import_lerobot(root, tmp_path / "a")
    _edit_info(root, lambda i: i.update({"codebase_version": "v2.1"}))
    with pytest.raises(ImportFormatError, match="convert_dataset_v21_to_v30"):
        import_lerobot(root, tmp_path / "a")
    with pytest.raises(ImportFormatError, match="no meta/info.json"):
        import_lerobot(tmp_path / "nothing", tmp_path / "a")


def test_import_names_a_corrupt_data_or_video_file(exported: Path, tmp_path: Path) -> None:
    root = _copy(exported, tmp_path)
    data = root / "data" / "chunk-000" / "file-000.parquet"
    data.write_bytes(data.read_bytes()[:200])
    with pytest.raises(ImportFormatError, match="file-000.parquet"):
        import_lerobot(root, tmp_path / "a")
    root2 = tmp_path / "copy2"
    shutil.copytree(exported, root2)
    video = root2 / "videos" / "observation.images.front" / "chunk-000" / "file-000.mp4"
    video.write_bytes(video.read_bytes()[:300])
    with pytest.raises(ImportFormatError, match="file-000.mp4"):
        import_lerobot(root2, tmp_path / "b")


def test_cli_export_and_import_lerobot(src: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    export_app = typer.Typer()
    register_export_commands(export_app)
    app.add_typer(export_app, name="export")
    app.add_typer(import_app, name="import")
    runner = CliRunner()
    res = runner.invoke(app, ["export", "lerobot", str(src), "-o", str(tmp_path / "lr"), "--episodes", "0,1"])
    assert res.exit_code == 0, res.output
    assert "LeRobotDataset(" in res.output
    res = runner.invoke(app, ["import", "lerobot", str(tmp_path / "lr"), "-d", str(tmp_path / "nat")])
    assert res.exit_code == 0, res.output
    assert len(Dataset.open(tmp_path / "nat")) == 2
    res = runner.invoke(app, ["export", "lerobot", str(src), "-o", str(tmp_path / "lr")])
    assert res.exit_code == 1 and "already exists" in res.output


def test_joint_state_without_native_columns_round_trips_joints(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "joints"
    export_lerobot(src, out, state="joints", native_columns=False)
    f = json.loads((out / "meta" / "info.json").read_text())["features"]
    assert f["observation.state"]["names"] == [f"joint_{i}" for i in range(7)] + ["gripper"]
    assert not [k for k in f if k.startswith("teleforge.")]
    rep = import_lerobot(out, tmp_path / "back")
    assert "observation.state.ee_pos" in rep.filled_columns and "observation.state.joint_pos" not in rep.filled_columns
    a, b = Dataset.open(src), Dataset.open(tmp_path / "back")
    for i, j in zip(a.episode_ids, b.episode_ids, strict=True):
        for col in ("observation.state.joint_pos", "observation.state.gripper", "action", "reward"):
            np.testing.assert_array_equal(a.episode(i).column(col), b.episode(j).column(col), err_msg=col)


@pytest.mark.slow
def test_real_lerobot_loads_our_export_and_writes_what_we_import() -> None:
    """tests/convert/lerobot_check.py in the lerobot 0.4.4 venv (.ci/lerobot_venv.sh builds it)."""
    import os
    import subprocess

    py = os.environ.get("TELEFORGE_LEROBOT_PYTHON", str(Path(os.environ.get("TELEFORGE_CI_CACHE", Path.home() / ".cache/teleforge-ci")) / "venv-lerobot/bin/python"))
    if not Path(py).exists():
        pytest.skip(f"no lerobot venv at {py}; build it with .ci/lerobot_venv.sh --build-only")
    check = Path(__file__).with_name("lerobot_check.py")
    repo = check.parents[2]  # the tree under test, whatever teleforge the venv has installed
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(repo / "src"), str(repo)])}
    done = subprocess.run([py, str(check)], capture_output=True, text=True, cwd=repo, check=False, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and report["export"]["min_psnr_db"] >= 28
    assert report["export_rollover"]["data_files"] > 1 and report["lerobot_writer_import"]["steps"] == 29
