"""RLDS export: round trip through the TF-free reader, metadata TFDS needs, bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synth_rlds import make_synthetic_dataset  # noqa: E402

from teleforge.convert import RldsExportConfig, RldsReader, check_rlds, export_rlds  # noqa: E402
from teleforge.convert.rlds.tfrecord import TFRecordWriter, read_records  # noqa: E402
from teleforge.dataset import Dataset  # noqa: E402
from teleforge.dataset.schema import image_column  # noqa: E402
from teleforge.errors import CorruptRecordError, ExportError  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synthetic_dataset(tmp_path_factory.mktemp("rlds") / "src", episodes=3, steps=(6, 9, 4), missing_first_frames=2)


def _export(source: Path, tmp_path: Path, **kw) -> Path:
    return export_rlds(source, tmp_path, RldsExportConfig(**kw)).path


def test_round_trip_keeps_every_step_value_and_image_bytes(source: Path, tmp_path: Path) -> None:
    res = export_rlds(source, tmp_path, RldsExportConfig(name="rt", num_shards=2, check=True))
    assert res.check is not None and res.check.ok and res.check.steps == 19
    src = Dataset.open(source)
    eps = list(RldsReader(res.path))
    assert [int(e.metadata["episode_id"]) for e in eps] == src.episode_ids
    for ep in eps:
        native = src.episode(int(ep.metadata["episode_id"]))
        T = native.num_steps
        np.testing.assert_array_equal(ep.steps["action"], native.column("action"))
        np.testing.assert_array_equal(ep.steps["observation/joint_state"], native.column("observation.state.joint_pos"))
        np.testing.assert_array_equal(ep.steps["observation/state"][:, :3], native.column("observation.state.ee_pos"))
        np.testing.assert_array_equal(ep.steps["observation/state"][:, 7], native.column("observation.state.gripper"))
        np.testing.assert_array_equal(ep.steps["reward"], native.column("reward"))
        assert ep.steps["is_first"].tolist() == [True] + [False] * (T - 1)
        assert ep.steps["is_last"].tolist() == [False] * (T - 1) + [True]
        assert ep.steps["is_terminal"][-1] == (native.meta.outcome == "success") and not ep.steps["is_terminal"][:-1].any()
        assert ep.steps["language_instruction"] == [native.meta.instruction] * T
        assert ep.metadata["outcome"] == native.meta.outcome and ep.metadata["task"] == native.meta.task
        front = native.column(image_column("front"))
        assert ep.steps["observation/image"] == list(front)  # bytes copied verbatim, not re-encoded
        wrist = list(native.column(image_column("wrist")))
        # the wrist camera had no frame for the first 2 steps: they reuse its first frame
        assert ep.steps["observation/wrist_image"] == [wrist[2], wrist[2]] + wrist[2:]


def test_openvla_action_space_flips_gripper_and_says_so(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="ovla", action_space="openvla")
    src = Dataset.open(source)
    ep = next(iter(RldsReader(path)))
    native = src.episode(int(ep.metadata["episode_id"])).column("action")
    np.testing.assert_array_equal(ep.steps["action"][:, :6], native[:, :6])
    # 1 = open, binarised to {0, 1} the way OpenVLA's binarize_gripper_actions would
    from teleforge.convert.rlds import binarize_gripper

    np.testing.assert_array_equal(ep.steps["action"][:, 6], binarize_gripper(1.0 - native[:, 6]))
    assert set(np.unique(ep.steps["action"][:, 6]).tolist()) <= {0.0, 1.0}
    desc = json.loads((path / "features.json").read_text())["featuresDict"]["features"]["steps"]["sequence"]["feature"][
        "featuresDict"]["features"]["action"]["description"]
    assert "1 = open, 0 = closed" in desc
    assert json.loads((path / "teleforge_rlds.json").read_text())["action_space"] == "openvla"


def test_joint_action_and_joint_state_layouts(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="joints", action_space="joint_pos", state="joints")
    ep = next(iter(RldsReader(path)))
    native = Dataset.open(source).episode(int(ep.metadata["episode_id"]))
    np.testing.assert_array_equal(ep.steps["action"][:, :7], native.column("target.joint_pos"))
    np.testing.assert_array_equal(ep.steps["action"][:, 7], native.column("action")[:, 6])
    np.testing.assert_array_equal(ep.steps["observation/state"][:, :7], native.column("observation.state.joint_pos"))
    assert ep.steps["observation/state"].shape == (native.num_steps, 8)


def test_dataset_info_has_tfds_split_metadata_and_only_493_keys(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="meta", num_shards=2)
    info = json.loads((path / "dataset_info.json").read_text())
    # fields of tensorflow-datasets 4.9.3's DatasetInfo / SplitInfo protos (it parses strictly)
    assert set(info) <= {"name", "description", "version", "releaseNotes", "configName", "configDescription", "configTags",
                         "citation", "sizeInBytes", "downloadSize", "location", "downloadChecksums", "schema", "splits",
                         "supervisedKeys", "redistributionInfo", "moduleName", "disableShuffling", "fileFormat",
                         "alternativeFileFormats", "dataSourceAccesses", "isBlocked"}
    (split,) = info["splits"]
    assert set(split) <= {"name", "numShards", "shardLengths", "numBytes", "statistics", "filepathTemplate"}
    files = sorted(p.name for p in path.glob("meta-train.tfrecord-*"))
    assert files == ["meta-train.tfrecord-00000-of-00002", "meta-train.tfrecord-00001-of-00002"]
    counts = [sum(1 for _ in read_records(path / f)) for f in files]
    assert [str(c) for c in counts] == split["shardLengths"] and sum(counts) == 3
    payload = sum(len(r) for f in files for r in read_records(path / f))
    assert split["numBytes"] == str(payload)  # TFDS counts serialized example bytes, not framing


def test_statistics_file_is_openvla_shaped(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="stats", action_space="openvla")
    stats = json.loads((path / "dataset_statistics.json").read_text())["stats"]
    assert stats["num_transitions"] == 19 and stats["num_trajectories"] == 3
    a = stats["action"]
    assert a["mask"] == [True] * 6 + [False]
    for k in ("mean", "std", "max", "min", "q01", "q99"):
        assert len(a[k]) == 7 and len(stats["proprio"][k]) == 8
    assert all(lo <= hi for lo, hi in zip(a["q01"], a["q99"]))
    acts = np.concatenate([e.steps["action"] for e in RldsReader(path)])
    np.testing.assert_allclose(a["mean"], acts.mean(0), rtol=1e-5, atol=1e-6)


def test_parallel_export_writes_same_records_as_serial(source: Path, tmp_path: Path) -> None:
    a = _export(source, tmp_path / "a", name="par", num_shards=3, workers=1)
    b = _export(source, tmp_path / "b", name="par", num_shards=3, workers=2)
    for f in sorted(a.glob("par-train.tfrecord-*")):
        assert f.read_bytes() == (b / f.name).read_bytes()


def test_episode_selection_and_missing_episode_refused(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="sel", episodes=[2, 0])
    assert [int(e.metadata["episode_id"]) for e in RldsReader(path)] == [2, 0]
    with pytest.raises(ExportError, match=r"episodes \[7\] are not in"):
        _export(source, tmp_path, name="sel2", episodes=[0, 7])


def test_existing_output_refused_unless_overwrite_and_stale_partial_refused(source: Path, tmp_path: Path) -> None:
    from teleforge.errors import PartialExportError

    _export(source, tmp_path, name="ow")
    with pytest.raises(ExportError, match="already exists"):
        _export(source, tmp_path, name="ow")
    stale = tmp_path / "ow" / ".2.0.0.partial"  # left by a crash, no owner record: cannot be resumed
    stale.mkdir()
    (stale / "ow-train.tfrecord-00000-of-00009").write_bytes(b"junk")
    with pytest.raises(PartialExportError, match="interrupted export.*--overwrite"):
        _export(source, tmp_path, name="ow", version="2.0.0")
    assert not (tmp_path / "ow" / "2.0.0").exists()
    path = _export(source, tmp_path, name="ow", version="2.0.0", overwrite=True)
    assert not stale.exists() and len(RldsReader(path)) == 3
    assert len(RldsReader(_export(source, tmp_path, name="ow", overwrite=True))) == 3


def test_bad_options_are_refused(source: Path, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown action space"):
        _export(source, tmp_path, action_space="eef_r6")
    with pytest.raises(ExportError, match="snake_case"):
        _export(source, tmp_path, name="My-Set")
    with pytest.raises(ExportError, match="1.0.0"):
        _export(source, tmp_path, version="v1")


def test_check_catches_a_misaligned_record(source: Path, tmp_path: Path) -> None:
    from teleforge.convert.rlds.example_proto import decode_example, encode_example

    path = _export(source, tmp_path, name="bad")
    shard = next(path.glob("bad-train.tfrecord-*"))
    records = [decode_example(r) for r in read_records(shard)]
    records[1]["steps/action"] = records[1]["steps/action"][:-7]  # one step short
    nbytes = 0
    with TFRecordWriter(shard) as w:
        for r in records:
            data = encode_example(r)
            nbytes += len(data)
            w.write(data)
    info = json.loads((path / "dataset_info.json").read_text())
    info["splits"][0]["numBytes"] = str(nbytes)
    (path / "dataset_info.json").write_text(json.dumps(info))
    with pytest.raises(ExportError, match=r"record 1: steps/action has 8 steps, is_first has 9"):
        check_rlds(path)


def test_reader_names_file_and_record_of_corrupt_shard(source: Path, tmp_path: Path) -> None:
    path = _export(source, tmp_path, name="crc")
    shard = next(path.glob("crc-train.tfrecord-*"))
    data = bytearray(shard.read_bytes())
    first_len = int.from_bytes(data[:8], "little")
    data[12 + first_len + 4 + 12 + 100] ^= 0xFF  # inside record 1's payload
    shard.write_bytes(bytes(data))
    with pytest.raises(CorruptRecordError, match=rf"{shard.name}: record 1 .*CRC32C"):
        list(RldsReader(path))
    with pytest.raises(ExportError, match="record 1"):
        check_rlds(path)


def test_tfds_loads_export_and_every_step_matches(source: Path, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow_datasets")
    from tfds_check import compare_with_tfds

    for space in ("ee_delta", "openvla"):
        path = _export(source, tmp_path, name=f"tfds_{space}", action_space=space, num_shards=2)
        result = compare_with_tfds(path, source, space)
        assert result["episodes"] == 3 and result["steps"] == 19


def test_cli_export_rlds_with_check_and_refusal(source: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.export import export_app

    args = ["rlds", str(source), "-o", str(tmp_path), "--name", "cli_set", "--action-space", "openvla", "--workers", "1"]
    r = CliRunner().invoke(export_app, [*args, "--check"])
    assert r.exit_code == 0, r.output
    assert "check: ok" in r.output and "19 steps" in r.output
    r = CliRunner().invoke(export_app, args)
    assert r.exit_code == 1 and "already exists" in r.output


def test_import_of_a_dataset_written_by_tfds_itself(tmp_path: Path) -> None:
    """TFDS's own writer, another layout: arbitrary observation keys, JPEG and PNG images,
    float state, the instruction in episode_metadata; imported without TF, values compared."""
    tfds = pytest.importorskip("tensorflow_datasets")
    import io

    from teleforge.convert.rlds.importer import import_rlds
    from teleforge.dataset.images import encode_image
    from teleforge.dataset.schema import CameraConfig
    from teleforge.errors import ImportFormatError

    F = tfds.features
    features = F.FeaturesDict({
        "steps": F.Dataset({
            "observation": F.FeaturesDict({
                "agentview_rgb": F.Image(shape=(16, 20, 3), dtype=np.uint8, encoding_format="jpeg"),
                "eye_in_hand_rgb": F.Image(shape=(16, 20, 3), dtype=np.uint8, encoding_format="png"),
                "ee_state": F.Tensor(shape=(8,), dtype=np.float32),
                "joint_states": F.Tensor(shape=(7,), dtype=np.float32),
                "object_pose": F.Tensor(shape=(7,), dtype=np.float64),
            }),
            "action": F.Tensor(shape=(7,), dtype=np.float32),
            "reward": F.Scalar(dtype=np.float32),
            "discount": F.Scalar(dtype=np.float32),
            "is_first": F.Scalar(dtype=np.bool_),
            "is_last": F.Scalar(dtype=np.bool_),
            "is_terminal": F.Scalar(dtype=np.bool_),
        }),
        "episode_metadata": F.FeaturesDict({"file_path": F.Text(), "language_instruction": F.Text()}),
    })
    rng = np.random.default_rng(5)
    cam = CameraConfig("a", 16, 20)
    truth = []

    def episodes():
        for e, T in enumerate((4, 6)):
            jpg = [encode_image(rng.integers(0, 255, (16, 20, 3), np.uint8), cam) for _ in range(T)]
            png = rng.integers(0, 255, (T, 16, 20, 3), np.uint8)
            st, js = rng.standard_normal((T, 8)).astype(np.float32), rng.standard_normal((T, 7)).astype(np.float32)
            act = rng.standard_normal((T, 7)).astype(np.float32)
            truth.append((jpg, png, st, js, act))
            yield f"ep{e}", {
                "steps": [{"observation": {"agentview_rgb": io.BytesIO(jpg[t]), "eye_in_hand_rgb": png[t], "ee_state": st[t],
                                           "joint_states": js[t], "object_pose": np.zeros(7)},
                           "action": act[t], "reward": float(t == T - 1), "discount": 1.0, "is_first": t == 0,
                           "is_last": t == T - 1, "is_terminal": t == T - 1} for t in range(T)],
                "episode_metadata": {"file_path": f"ep{e}", "language_instruction": f"put the bowl away {e}"},
            }

    tfds.dataset_builders.store_as_tfds_dataset(name="libero_like", version="1.0.0", features=features,
                                                split_datasets={"train": episodes()}, data_dir=str(tmp_path / "tfds"))
    src = tmp_path / "tfds" / "libero_like"
    with pytest.raises(ImportFormatError, match=r"observation/ee_state.*observation/object_pose"):
        import_rlds(src, tmp_path / "refused")
    rep = import_rlds(src, tmp_path / "ds", skip=["observation/object_pose"], fps=20,
                      mapping=["observation/ee_state[0:3]=observation.state.ee_pos",
                               "observation/ee_state[3:7]=observation.state.ee_quat",
                               "observation/ee_state[7:8]=observation.state.gripper"])
    assert rep.steps == 10 and rep.skipped_keys == ["observation/object_pose"]
    ds = Dataset.open(tmp_path / "ds")
    assert {c.name: c.encoding for c in ds.spec.cameras} == {"agentview_rgb": "jpeg", "eye_in_hand_rgb": "png"}
    # TFDS may shuffle episode order: match by instruction
    by_instr = {ds.episode(i).meta.instruction: ds.episode(i) for i in ds.episode_ids}
    for e, (jpg, png, st, js, act) in enumerate(truth):
        ep = by_instr[f"put the bowl away {e}"]
        assert list(ep.column(image_column("agentview_rgb"))) == jpg  # JPEG bytes passed through TFDS and us
        for t in range(len(jpg)):
            np.testing.assert_array_equal(ep.image("eye_in_hand_rgb", t), png[t])
        np.testing.assert_array_equal(ep.column("observation.state.ee_pos"), st[:, :3])
        np.testing.assert_array_equal(ep.column("observation.state.gripper"), st[:, 7])
        np.testing.assert_array_equal(ep.column("observation.state.joint_pos"), js)
        np.testing.assert_array_equal(ep.column("action"), act)
        assert ep.column("reward").tolist() == [0.0] * (len(jpg) - 1) + [1.0]
