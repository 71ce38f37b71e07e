"""`teleforge import rlds`: exact round trip of our exports, foreign layouts, corrupt shards, views in the export."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_rlds import make_synthetic_dataset  # noqa: E402
from tests.convert.h5_synth import write_view  # noqa: E402

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds  # noqa: E402
from teleforge.convert.rlds.example_proto import encode_example  # noqa: E402
from teleforge.convert.rlds.features import FeatureSpec, features_json  # noqa: E402
from teleforge.convert.rlds.importer import import_rlds  # noqa: E402
from teleforge.convert.rlds.tfrecord import TFRecordWriter  # noqa: E402
from teleforge.dataset import Dataset  # noqa: E402
from teleforge.dataset.images import encode_image  # noqa: E402
from teleforge.dataset.schema import CameraConfig, image_column  # noqa: E402
from teleforge.errors import CorruptRecordError, ImportFormatError, MissingEpisodesError  # noqa: E402
from teleforge.spec import NATIVE_COLUMN_NAMES as NATIVE_COLUMNS  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("rli") / "src", episodes=3, steps=(6, 9, 4))


def _same_episode(a, b) -> None:
    for c in [*NATIVE_COLUMNS, "tick_ns", *(image_column(cam) for cam in a.spec.camera_names)]:
        x, y = a.column(c), b.column(c)
        if x.dtype == object:
            assert list(x) == list(y), c  # JPEG bytes pass through
        else:
            np.testing.assert_array_equal(x, y, err_msg=c)
    for k in ("instruction", "task", "outcome"):
        assert getattr(a.meta, k) == getattr(b.meta, k), k


@pytest.mark.parametrize("space,state", [("ee_delta", "eef"), ("openvla", "joints"), ("joint_pos", "eef")])
def test_round_trip_native_rlds_native_is_exact(source: Path, tmp_path: Path, space: str, state: str) -> None:
    res = export_rlds(source, tmp_path / "rlds", RldsExportConfig(action_space=space, state=state, num_shards=2))
    rep = import_rlds(res.path.parent, tmp_path / "back")  # the NAME folder: newest version picked
    assert rep.source_kind == "teleforge" and rep.steps == 19 and rep.filled_columns == []
    a, b = Dataset.open(source), Dataset.open(tmp_path / "back")
    assert b.spec.camera_names == a.spec.camera_names and b.spec.fps == a.spec.fps
    for i, j in zip(a.episode_ids, b.episode_ids, strict=True):
        _same_episode(a.episode(i), b.episode(j))


def _foreign(tmp: Path, *, extra_step: dict[str, FeatureSpec] | None = None, instr_in_meta: bool = False) -> Path:
    """An RLDS folder laid out like other people's data, written with our encoder (no TF needed)."""
    folder = tmp / "foreign_set" / "0.1.0"
    folder.mkdir(parents=True)
    cam = CameraConfig("agentview", 16, 20)
    steps = {"observation/agentview_rgb": FeatureSpec("image", "uint8", (16, 20, 3), encoding="jpeg"),
             "observation/state": FeatureSpec("tensor", "float32", (8,)),
             "observation/joint_states": FeatureSpec("tensor", "float32", (7,)),
             "action": FeatureSpec("tensor", "float32", (7,)), "reward": FeatureSpec("scalar", "float32"),
             "discount": FeatureSpec("scalar", "float32"), "is_first": FeatureSpec("scalar", "bool"),
             "is_last": FeatureSpec("scalar", "bool"), "is_terminal": FeatureSpec("scalar", "bool"),
             **(extra_step or {})}
    if not instr_in_meta:
        steps["language_instruction"] = FeatureSpec("text", "string")
    episode = {"episode_metadata/file_path": FeatureSpec("text", "string")}
    if instr_in_meta:
        episode["episode_metadata/language_instruction"] = FeatureSpec("text", "string")
    (folder / "features.json").write_text(json.dumps(features_json(steps, episode)))
    rng = np.random.default_rng(3)
    truth = []
    nbytes = 0
    with TFRecordWriter(folder / "foreign_set-train.tfrecord-00000-of-00001") as w:
        for e, T in enumerate((5, 3)):
            img = [encode_image(rng.integers(0, 255, (16, 20, 3), np.uint8), cam) for _ in range(T)]
            st = rng.standard_normal((T, 8)).astype(np.float32)
            js = rng.standard_normal((T, 7)).astype(np.float32)
            act = rng.standard_normal((T, 7)).astype(np.float32)
            feats = {"steps/observation/agentview_rgb": img, "steps/observation/state": st,
                     "steps/observation/joint_states": js, "steps/action": act, "steps/reward": np.arange(T, dtype=np.float32),
                     "steps/discount": np.ones(T, np.float32), "steps/is_first": np.arange(T) == 0,
                     "steps/is_last": np.arange(T) == T - 1, "steps/is_terminal": np.arange(T) == T - 1,
                     "episode_metadata/file_path": [f"ep{e}".encode()]}
            for k, f in (extra_step or {}).items():
                feats[f"steps/{k}"] = np.zeros((T, *f.shape), np.float32)
            if instr_in_meta:
                feats["episode_metadata/language_instruction"] = [f"open drawer {e}".encode()]
            else:
                feats["steps/language_instruction"] = [f"open drawer {e}".encode()] * T
            data = encode_example(feats)
            nbytes += len(data)
            w.write(data)
            truth.append((img, st, js, act))
    (folder / "dataset_info.json").write_text(json.dumps({"name": "foreign_set", "version": "0.1.0", "fileFormat": "tfrecord",
                                                          "splits": [{"name": "train", "shardLengths": ["2"], "numBytes": str(nbytes)}]}))
    return folder, truth


STATE_MAP = ["observation/state[0:3]=observation.state.ee_pos", "observation/state[3:7]=observation.state.ee_quat",
             "observation/state[7:8]=observation.state.gripper"]


@pytest.mark.parametrize("instr_in_meta", [False, True])
def test_foreign_layout_imports_with_mapping_and_keeps_jpeg_bytes(tmp_path: Path, instr_in_meta: bool) -> None:
    folder, truth = _foreign(tmp_path, instr_in_meta=instr_in_meta)
    rep = import_rlds(folder, tmp_path / "ds", mapping=STATE_MAP, fps=15)
    assert rep.source_kind == "foreign" and rep.steps == 8
    assert "observation.state.joint_vel" in rep.filled_columns  # no source: neutral values, reported
    ds = Dataset.open(tmp_path / "ds")
    assert ds.spec.camera_names == ["agentview_rgb"] and ds.spec.n_joints == 7 and ds.spec.fps == 15
    for eid, (img, st, js, act) in zip(ds.episode_ids, truth, strict=True):
        ep = ds.episode(eid)
        assert list(ep.column(image_column("agentview_rgb"))) == img
        np.testing.assert_array_equal(ep.column("observation.state.ee_pos"), st[:, :3])
        np.testing.assert_array_equal(ep.column("observation.state.ee_quat"), st[:, 3:7])
        np.testing.assert_array_equal(ep.column("observation.state.gripper"), st[:, 7])
        np.testing.assert_array_equal(ep.column("observation.state.joint_pos"), js)
        np.testing.assert_array_equal(ep.column("action"), act)
        assert ep.meta.instruction.startswith("open drawer")
    assert Dataset.open(tmp_path / "ds").episode(1).meta.instruction == "open drawer 1"


def test_foreign_unknown_features_are_named_and_can_be_skipped(tmp_path: Path) -> None:
    folder, _ = _foreign(tmp_path, extra_step={"observation/language_embedding": FeatureSpec("tensor", "float32", (16,))})
    with pytest.raises(ImportFormatError, match=r"observation/state \(tensor float32\[8\]\).*observation/language_embedding"):
        import_rlds(folder, tmp_path / "ds")
    rep = import_rlds(folder, tmp_path / "ds", mapping=STATE_MAP, skip=["observation/language_embedding"])
    assert rep.skipped_keys == ["observation/language_embedding"]
    with pytest.raises(ImportFormatError, match="not a native column"):
        import_rlds(folder, tmp_path / "ds2", mapping=["observation/state=observation.pose"])


def test_unsupported_feature_class_is_named(tmp_path: Path) -> None:
    folder, _ = _foreign(tmp_path)
    doc = json.loads((folder / "features.json").read_text())
    obs = doc["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]["observation"]
    obs["featuresDict"]["features"]["depth"] = {"pythonClassName": "tensorflow_datasets.core.features.video_feature.Video",
                                                "video": {}}
    (folder / "features.json").write_text(json.dumps(doc))
    with pytest.raises(ImportFormatError, match=r"observation/depth \(Video\)"):
        import_rlds(folder, tmp_path / "ds", mapping=STATE_MAP)


def test_truncated_and_bad_crc_shards_name_file_and_record(source: Path, tmp_path: Path) -> None:
    res = export_rlds(source, tmp_path / "rlds", RldsExportConfig(name="corrupt"))
    shard = next(res.path.glob("corrupt-train.tfrecord-*"))
    good = shard.read_bytes()
    first = 12 + int.from_bytes(good[:8], "little") + 4
    shard.write_bytes(good[: first + 30])  # record 1 cut short
    with pytest.raises(CorruptRecordError, match=rf"{shard.name}: record 1 .*truncated"):
        import_rlds(res.path, tmp_path / "ds1")
    bad = bytearray(good)
    bad[first + 12 + 50] ^= 0x40  # a bit flip inside record 1's payload
    shard.write_bytes(bytes(bad))
    with pytest.raises(CorruptRecordError, match=rf"{shard.name}: record 1 .*CRC32C"):
        import_rlds(res.path, tmp_path / "ds2")


def test_not_an_rlds_folder(tmp_path: Path) -> None:
    with pytest.raises(ImportFormatError, match="no features.json"):
        import_rlds(tmp_path, tmp_path / "ds")


def test_cli_import_rlds(source: Path, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from teleforge.cli.formats import import_app

    res = export_rlds(source, tmp_path / "rlds", RldsExportConfig(name="cli"))
    r = CliRunner().invoke(import_app, ["rlds", str(res.path), "-d", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    assert "imported 3 episodes (19 steps)" in r.output
    folder, _ = _foreign(tmp_path / "f")
    r = CliRunner().invoke(import_app, ["rlds", str(folder), "-d", str(tmp_path / "ds2")])
    assert r.exit_code == 1 and "observation/state" in r.output and "--map" in r.output
    args = ["rlds", str(folder), "-d", str(tmp_path / "ds2")] + [x for m in STATE_MAP for x in ("--map", m)]
    r = CliRunner().invoke(import_app, args)
    assert r.exit_code == 0, r.output
    assert isinstance(import_app, typer.Typer)


# --- views in the RLDS export ---------------------------------------------------
def test_rlds_export_of_a_trimmed_view(source: Path, tmp_path: Path) -> None:
    write_view(source, "rl_trim", [2, 0], trims={0: (1, 5)})
    res = export_rlds(source, tmp_path, RldsExportConfig(name="viewed", view="rl_trim", check=True))
    assert res.num_steps == 4 + 4 and res.check is not None and res.check.steps == 8
    eps = list(RldsReader(res.path))
    assert [int(e.metadata["episode_id"]) for e in eps] == [2, 0]
    native = Dataset.open(source).episode(0)
    ep0 = eps[1]
    np.testing.assert_array_equal(ep0.steps["action"], native.column("action")[1:5])
    assert ep0.steps["is_first"].tolist() == [True, False, False, False]
    assert ep0.steps["is_last"].tolist() == [False, False, False, True]
    assert ep0.steps["observation/image"] == list(native.column(image_column("front"))[1:5])
    side = json.loads((res.path / "teleforge_rlds.json").read_text())
    assert side["view"] == "rl_trim" and side["trims"] == {"0": [1, 5]}
    stats = json.loads((res.path / "dataset_statistics.json").read_text())["viewed"]
    assert stats["num_transitions"] == 8 and stats["num_trajectories"] == 2
    # the trimmed steps come back exactly on import
    import_rlds(res.path, tmp_path / "back")
    back = Dataset.open(tmp_path / "back").episode(1)
    np.testing.assert_array_equal(back.column("tick_ns"), native.column("tick_ns")[1:5])


def test_rlds_view_naming_missing_episodes_is_refused(source: Path, tmp_path: Path) -> None:
    write_view(source, "rl_stale", [0, 42])
    with pytest.raises(MissingEpisodesError, match=r"view 'rl_stale' names 1 episode\(s\) .*\[42\]"):
        export_rlds(source, tmp_path, RldsExportConfig(name="stale", view="rl_stale"))
    assert not (tmp_path / "stale").exists()


def test_cli_export_rlds_view(source: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.export import export_app

    write_view(source, "rl_cli", [1], trims={1: (2, 7)})
    r = CliRunner().invoke(export_app, ["rlds", str(source), "-o", str(tmp_path), "--name", "v", "--view", "rl_cli",
                                        "--workers", "1", "--check"])
    assert r.exit_code == 0, r.output
    assert "1 episodes, 5 steps" in r.output
    r = CliRunner().invoke(export_app, ["rlds", str(source), "-o", str(tmp_path), "--name", "v2", "--view", "nope"])
    assert r.exit_code == 1 and "no view 'nope'" in r.output
