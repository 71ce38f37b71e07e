"""Depth cameras in every exporter's natural place: RLDS ``observation/<cam>_depth`` (uint16 PNG Image),
robomimic ``obs/<cam>_depth`` and ALOHA ``/observations/depth/<cam>`` (uint16 datasets), LeRobot v3
``observation.depth.<cam>`` (uint16 Array2D in the data parquet); a step without depth is all 0
(no reading) and False in a validity flag written beside it (RLDS ``observation/<cam>_depth_valid``,
robomimic ``obs/<cam>_depth_valid``, ALOHA ``/observations/depth_valid/<cam>``, LeRobot
``observation.depth_valid.<cam>``). Round trips through our importers keep depth bit for bit and bring
a step that had no depth back as missing (None), not as an all-zero frame."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.convert.depth_synth import MISSING, make_depth_dataset

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds
from teleforge.convert.hdf5.aloha import export_aloha, import_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic, import_robomimic
from teleforge.convert.lerobot import export_lerobot, import_lerobot
from teleforge.convert.rlds.importer import import_rlds
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select

H, W = 12, 16


@pytest.fixture(scope="module")
def depth_ds(tmp_path_factory) -> tuple[Path, dict[int, list[np.ndarray | None]]]:
    """Two episodes (7 and 5 steps): camera ``front`` with depth (steps 2 and 5 missing), ``wrist`` colour only."""
    root = tmp_path_factory.mktemp("depth") / "ds"
    return root, make_depth_dataset(root, (7, 5), H, W)


def _dense(depths: list[np.ndarray | None]) -> np.ndarray:
    return np.stack([np.zeros((H, W), np.uint16) if d is None else d for d in depths])


def _same_depth(back: Path, truth: dict[int, list[np.ndarray | None]], dense: bool) -> None:
    ds = Dataset.open(back)
    assert [c.depth for c in ds.spec.cameras] == [True, False]
    for eid, depths in zip(ds.episode_ids, truth.values(), strict=True):
        ep = ds.episode(eid)
        got = [ep.depth("front", i) for i in range(ep.num_steps)]
        want = _dense(depths) if dense else depths
        for g, w in zip(got, want, strict=True):
            assert (g is None and w is None) or np.array_equal(g, w)


def test_native_info_lists_depth(depth_ds):
    from teleforge.dataset.info import summarize

    root, _ = depth_ds
    assert summarize(Dataset.open(root))["cameras"][0] == f"front {H}x{W} jpeg + depth (png16, mm)"
    manifest = json.loads((root / "teleforge.json").read_text())
    assert manifest["features"]["observation.depth.front"]["dtype"] == "depth"


def test_rlds_carries_depth_as_uint16_png_and_imports_back(depth_ds, tmp_path):
    root, truth = depth_ds
    res = export_rlds(root, tmp_path / "rlds", RldsExportConfig())
    feats = json.loads((res.path / "features.json").read_text())
    obs = feats["featuresDict"]["features"]["steps"]["sequence"]["feature"]["featuresDict"]["features"]["observation"]
    img = obs["featuresDict"]["features"]["front_depth"]["image"]
    assert img["dtype"] == "uint16" and img["encodingFormat"] == "png" and img["shape"]["dimensions"] == [str(H), str(W), "1"]
    assert obs["featuresDict"]["features"]["front_depth_valid"]["tensor"]["dtype"] == "bool"
    assert "wrist_depth_valid" not in obs["featuresDict"]["features"]
    reader = RldsReader(res.path)
    for (_, _, raw), depths in zip(reader.records(), truth.values(), strict=True):
        ep = reader.decode(raw)
        got = np.stack([cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) for b in ep.steps["observation/front_depth"]])
        assert got.dtype == np.uint16 and np.array_equal(got, _dense(depths))
        assert np.asarray(ep.steps["observation/front_depth_valid"]).tolist() == [d is not None for d in depths]
    from teleforge.convert.rlds.reader import check_rlds

    assert check_rlds(res.path).ok  # image headers, sizes and dtypes check out
    import_rlds(res.path.parent, tmp_path / "back")
    _same_depth(tmp_path / "back", truth, dense=False)


def test_robomimic_and_aloha_carry_uint16_depth_and_import_back(depth_ds, tmp_path):
    import h5py

    root, truth = depth_ds
    export_robomimic(select(root), tmp_path / "rm.hdf5")
    with h5py.File(tmp_path / "rm.hdf5") as f:
        d = f["data/demo_0/obs/front_depth"][()]
        assert d.dtype == np.uint16 and np.array_equal(d, _dense(next(iter(truth.values()))))
        assert "wrist_depth" not in f["data/demo_0/obs"]
        valid = f["data/demo_0/obs/front_depth_valid"][()]
        assert valid.dtype == bool and valid.reshape(-1).tolist() == [i not in MISSING for i in range(7)]
    import_robomimic(tmp_path / "rm.hdf5", tmp_path / "back_rm")
    _same_depth(tmp_path / "back_rm", truth, dense=False)

    export_aloha(select(root), tmp_path / "al")
    with h5py.File(tmp_path / "al" / "episode_0.hdf5") as f:
        assert f["observations/depth_valid/front"][()].tolist() == [i not in MISSING for i in range(7)]
    import_aloha(tmp_path / "al", tmp_path / "back_al")
    _same_depth(tmp_path / "back_al", truth, dense=False)
    # ACT-padded (one episode length): padding rows repeat the last step and are dropped again on import
    export_aloha(select(root), tmp_path / "al_act", episode_len=9)
    import_aloha(tmp_path / "al_act", tmp_path / "back_al_act")
    _same_depth(tmp_path / "back_al_act", truth, dense=False)


def test_hdf5_without_validity_flags_imports_every_frame_as_a_reading(depth_ds, tmp_path):
    """Files from older exports or other writers have no flag: all-zero frames stay all-zero readings."""
    import h5py

    root, truth = depth_ds
    export_robomimic(select(root), tmp_path / "rm.hdf5")
    with h5py.File(tmp_path / "rm.hdf5", "a") as f:
        for demo in f["data"].values():
            del demo["obs/front_depth_valid"], demo["next_obs/front_depth_valid"]
    import_robomimic(tmp_path / "rm.hdf5", tmp_path / "back_rm")
    _same_depth(tmp_path / "back_rm", truth, dense=True)


def test_lerobot_v3_carries_depth_as_uint16_array2d(depth_ds, tmp_path):
    root, truth = depth_ds
    export_lerobot(root, tmp_path / "lr")
    info = json.loads((tmp_path / "lr" / "meta" / "info.json").read_text())
    assert info["features"]["observation.depth.front"] == {"dtype": "uint16", "shape": [H, W], "names": ["height", "width"]}
    assert "observation.depth.wrist" not in info["features"]
    table = pq.read_table(tmp_path / "lr" / "data" / "chunk-000" / "file-000.parquet")
    hf = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]["observation.depth.front"]
    assert hf == {"shape": [H, W], "dtype": "uint16", "_type": "Array2D"}
    got = np.array(table.column("observation.depth.front").to_pylist(), np.uint16)
    assert np.array_equal(got, np.concatenate([_dense(d) for d in truth.values()]))
    assert info["features"]["observation.depth_valid.front"] == {"dtype": "bool", "shape": [1], "names": None}
    valid = table.column("observation.depth_valid.front").to_pylist()
    assert valid == [d is not None for ds in truth.values() for d in ds]
    stats = json.loads((tmp_path / "lr" / "meta" / "stats.json").read_text())["observation.depth.front"]
    assert stats["count"] == [12] and stats["max"][0] <= 65535
    import_lerobot(tmp_path / "lr", tmp_path / "back")
    _same_depth(tmp_path / "back", truth, dense=False)


def test_lerobot_v21_carries_depth_like_v3(depth_ds, tmp_path):
    root, truth = depth_ds
    export_lerobot(root, tmp_path / "lr21", codebase_version="v2.1")
    info = json.loads((tmp_path / "lr21" / "meta" / "info.json").read_text())
    assert info["features"]["observation.depth.front"] == {"dtype": "uint16", "shape": [H, W], "names": ["height", "width"]}
    assert info["features"]["observation.depth_valid.front"]["dtype"] == "bool"
    for k, depths in enumerate(truth.values()):
        table = pq.read_table(tmp_path / "lr21" / "data" / "chunk-000" / f"episode_{k:06d}.parquet")
        hf = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
        assert hf["observation.depth.front"] == {"shape": [H, W], "dtype": "uint16", "_type": "Array2D"}
        assert np.array_equal(np.array(table.column("observation.depth.front").to_pylist(), np.uint16), _dense(depths))
        assert table.column("observation.depth_valid.front").to_pylist() == [d is not None for d in depths]
    stats = [json.loads(line) for line in (tmp_path / "lr21" / "meta" / "episodes_stats.jsonl").read_text().splitlines()]
    assert stats[0]["stats"]["observation.depth.front"]["count"] == [7]
