"""robomimic and ALOHA HDF5: layout, round trips native -> X -> native, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from tests.convert.h5_synth import build_dataset

from teleforge.convert.hdf5.aloha import export_aloha, import_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic, import_robomimic
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.errors import EpisodeNotFoundError, ExportError, ImportFormatError

EXACT = ["action", "observation.state.joint_pos", "observation.state.joint_vel", "observation.state.ee_pos",
         "observation.state.ee_quat", "observation.state.gripper", "target.joint_pos", "target.ee_pos",
         "reward", "success", "safety.hold", "tick_ns"]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return build_dataset(tmp_path / "ds")


def _assert_round_trip(a: Dataset, b: Dataset) -> None:
    assert len(a) == len(b)
    for i, j in zip(a.episode_ids, b.episode_ids):
        ea, eb = a.episode(i), b.episode(j)
        assert eb.meta.instruction == ea.meta.instruction and eb.meta.task == ea.meta.task
        assert eb.meta.outcome == ea.meta.outcome
        for col in EXACT:
            np.testing.assert_array_equal(ea.column(col), eb.column(col), err_msg=col)
        for cam in a.spec.camera_names:
            x = np.stack(list(ea.images(cam))).astype(int)
            y = np.stack(list(eb.images(cam))).astype(int)
            assert x.shape == y.shape
            assert np.abs(x - y).mean() < 3.0  # one extra JPEG generation at q95


def test_robomimic_layout_matches_what_robomimic_reads(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "rm" / "demo.hdf5"
    r = export_robomimic(select(src), out, valid_fraction=0.5)
    ds = Dataset.open(src)
    with h5py.File(out) as f:
        data = f["data"]
        assert sorted(data) == ["demo_0", "demo_1", "demo_2"]
        assert data.attrs["total"] == r.samples == 36
        assert "env_name" in json.loads(data.attrs["env_args"])
        g = data["demo_0"]
        assert g.attrs["num_samples"] == 12
        assert g["actions"].shape == (12, 7)
        assert g["obs/front_image"].dtype == np.uint8 and g["obs/front_image"].shape == (12, 24, 32, 3)
        q_native = ds.episode(0).column("observation.state.ee_quat")
        np.testing.assert_array_equal(g["obs/robot0_eef_quat"][()], q_native[:, [1, 2, 3, 0]])  # xyzw
        assert list(g["dones"][()]) == [0] * 11 + [1]
        assert g["states"].shape == (12, 14)
        masks = sorted(n.decode() for n in f["mask/train"][()]) + sorted(n.decode() for n in f["mask/valid"][()])
        assert sorted(masks) == ["demo_0", "demo_1", "demo_2"]


def test_robomimic_round_trip_is_exact_for_actions_and_states(src: Path, tmp_path: Path) -> None:
    export_robomimic(select(src), tmp_path / "x.hdf5")
    rep = import_robomimic(tmp_path / "x.hdf5", tmp_path / "back")
    assert rep.steps == 36 and rep.filled_columns == []
    _assert_round_trip(Dataset.open(src), Dataset.open(tmp_path / "back"))


def test_aloha_layout_and_round_trip(src: Path, tmp_path: Path) -> None:
    r = export_aloha(select(src, episodes=[0, 2]), tmp_path / "al")
    assert [p.name for p in r.files] == ["episode_0.hdf5", "episode_1.hdf5"]
    ds = Dataset.open(src)
    with h5py.File(r.files[1]) as f:
        assert bool(f.attrs["sim"]) is True
        assert f["observations/qpos"].shape == (12, 8)
        assert f["observations/images/wrist"].shape == (12, 24, 32, 3)
        np.testing.assert_array_equal(f["action"][:, :7], ds.episode(2).column("target.joint_pos"))
        np.testing.assert_allclose(f["action"][:, 7], 1.0 - ds.episode(2).column("action")[:, 6])  # 1 = open
    import_aloha(tmp_path / "al", tmp_path / "back")
    back = Dataset.open(tmp_path / "back")
    assert len(back) == 2
    for i, j in zip([0, 2], back.episode_ids):
        for col in EXACT:
            np.testing.assert_array_equal(ds.episode(i).column(col), back.episode(j).column(col), err_msg=col)


def test_foreign_aloha_file_imports_joint_space_with_instruction_option(tmp_path: Path) -> None:
    folder = tmp_path / "act"
    folder.mkdir()
    rng = np.random.default_rng(0)
    qpos = rng.standard_normal((10, 14)).astype(np.float32)
    action = rng.standard_normal((10, 14)).astype(np.float32)
    with h5py.File(folder / "episode_0.hdf5", "w") as f:
        f.attrs["sim"] = True
        f.create_dataset("observations/qpos", data=qpos)
        f.create_dataset("observations/qvel", data=qpos * 0.5)
        f.create_dataset("observations/effort", data=qpos * 0)
        f.create_dataset("observations/images/top", data=rng.integers(0, 255, (10, 16, 16, 3), dtype=np.uint8))
        f.create_dataset("action", data=action)
    with pytest.raises(ImportFormatError, match="instruction"):
        import_aloha(folder, tmp_path / "nat")
    rep = import_aloha(folder, tmp_path / "nat2", instruction="transfer the cube", gripper_index=6)
    assert rep.skipped_keys == ["/observations/effort"]
    ep = Dataset.open(tmp_path / "nat2").episode(rep.episode_ids[0])
    assert ep.meta.instruction == "transfer the cube"
    np.testing.assert_array_equal(ep.column("observation.state.joint_pos"), qpos)
    np.testing.assert_array_equal(ep.column("target.joint_pos"), action)
    np.testing.assert_allclose(ep.column("action")[:, 6], 1.0 - action[:, 6])


def test_unknown_keys_are_refused_by_name_unless_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rs.hdf5"
    with h5py.File(path, "w") as f:
        g = f.create_group("data/demo_0")
        g.attrs["lang"] = "lift the block"
        g.create_dataset("actions", data=np.zeros((5, 7), np.float32))
        g.create_dataset("obs/robot0_eef_pos", data=np.zeros((5, 3)))
        g.create_dataset("obs/object", data=np.zeros((5, 10)))
        g.create_dataset("obs/agentview_image", data=np.zeros((5, 8, 8, 3), np.uint8))
    with pytest.raises(ImportFormatError, match=r"data/demo_0.*object.*--skip object"):
        import_robomimic(path, tmp_path / "a")
    rep = import_robomimic(path, tmp_path / "b", skip=["object"])
    assert rep.skipped_keys == ["object"]
    ep = Dataset.open(tmp_path / "b").episode(rep.episode_ids[0])
    assert ep.meta.instruction == "lift the block"
    assert "observation.state.joint_pos" in rep.filled_columns
    assert ep.spec.camera_names == ["agentview"]


def test_non_native_action_space_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.hdf5"
    with h5py.File(path, "w") as f:
        f.create_dataset("data/demo_0/actions", data=np.zeros((5, 14), np.float32))
    with pytest.raises(ImportFormatError, match=r"demo_0/actions has shape \(5, 14\)"):
        import_robomimic(path, tmp_path / "a", instruction="x")


def test_corrupt_hdf5_names_the_file(src: Path, tmp_path: Path) -> None:
    good = tmp_path / "x.hdf5"
    export_robomimic(select(src), good, compression=None)
    raw = good.read_bytes()
    trunc = tmp_path / "truncated.hdf5"
    trunc.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ImportFormatError, match="truncated.hdf5"):
        import_robomimic(trunc, tmp_path / "a")
    garbage = tmp_path / "episode_0.hdf5"
    garbage.write_bytes(b"not hdf5 at all" * 100)
    with pytest.raises(ImportFormatError, match="episode_0.hdf5"):
        import_aloha(tmp_path, tmp_path / "b")


def test_corrupt_chunk_names_file_and_demo(src: Path, tmp_path: Path) -> None:
    path = tmp_path / "x.hdf5"
    export_robomimic(select(src), path)  # gzip chunks: damaged bytes fail to inflate
    with h5py.File(path) as f:
        offset = f["data/demo_1/obs/front_image"].id.get_chunk_info(3).byte_offset
    data = bytearray(path.read_bytes())
    data[offset: offset + 64] = b"\xff" * 64
    path.write_bytes(bytes(data))
    with pytest.raises(ImportFormatError, match=r"x\.hdf5:data/demo_1/obs/front_image"):
        import_robomimic(path, tmp_path / "a")


def test_missing_first_frame_is_backfilled_from_the_next(tmp_path: Path) -> None:
    src = build_dataset(tmp_path / "ds", episodes=1, first_frame_missing=True)
    r = export_robomimic(select(src), tmp_path / "x.hdf5")
    assert r.backfilled_frames == 1
    with h5py.File(tmp_path / "x.hdf5") as f:
        img = f["data/demo_0/obs/front_image"][()]
    np.testing.assert_array_equal(img[0], img[1])


def test_existing_output_and_bad_selection_are_refused(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.hdf5"
    export_robomimic(select(src), out)
    with pytest.raises(ExportError, match="--overwrite"):
        export_robomimic(select(src), out)
    export_robomimic(select(src), out, overwrite=True)
    assert not list(tmp_path.glob(".x.hdf5.partial*"))
    with pytest.raises(EpisodeNotFoundError, match=r"\[7\]"):
        select(src, episodes=[0, 7])
