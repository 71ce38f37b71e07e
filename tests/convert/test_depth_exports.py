"""Depth cameras in every exporter's natural place: RLDS ``observation/<cam>_depth`` (uint16 PNG Image),
robomimic ``obs/<cam>_depth`` and ALOHA ``/observations/depth/<cam>`` (uint16 datasets), LeRobot v3
``observation.depth.<cam>`` (uint16 Array2D in the data parquet); a step without depth is all 0
(no reading). Round trips through our importers keep depth bit for bit."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from tests.dataset.synth import make_spec, make_start, make_step

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds
from teleforge.convert.hdf5.aloha import export_aloha, import_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic, import_robomimic
from teleforge.convert.lerobot.writer import export_lerobot
from teleforge.convert.rlds.importer import import_rlds
from teleforge.dataset import AsyncRecorder, CameraConfig, Dataset, EpisodeEnd, create_dataset
from teleforge.dataset.selection import select

H, W = 12, 16
MISSING = (2, 5)  # steps recorded without a depth frame


def _depth(rng: np.random.Generator) -> np.ndarray:
    d = rng.integers(0, 65536, (H, W)).astype(np.uint16)
    d[::3, ::4] = 0
    return d


@pytest.fixture(scope="module")
def depth_ds(tmp_path_factory) -> tuple[Path, dict[int, list[np.ndarray | None]]]:
    """Two episodes (7 and 5 steps): camera ``front`` with depth (steps 2 and 5 missing), ``wrist`` colour only."""
    root = tmp_path_factory.mktemp("depth") / "ds"
    spec = make_spec(("front", "wrist"), h=H, w=W)
    spec.cameras = [CameraConfig("front", H, W, depth=True), CameraConfig("wrist", H, W)]
    create_dataset(root, spec)
    rng = np.random.default_rng(7)
    truth: dict[int, list[np.ndarray | None]] = {}
    rec = AsyncRecorder(root)
    for n in (7, 5):
        rec.start_episode(make_start())
        depths: list[np.ndarray | None] = []
        for i in range(n):
            s = make_step(i, spec, rng, t0=0)
            d = None if i in MISSING else _depth(rng)
            if d is not None:
                s.depth = {"front": d}
            depths.append(d)
            rec.submit(s)
        truth[rec.finish(EpisodeEnd("success")).episode_id] = depths
    rec.close()
    return root, truth


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
    reader = RldsReader(res.path)
    for (_, _, raw), depths in zip(reader.records(), truth.values(), strict=True):
        ep = reader.decode(raw)
        got = np.stack([cv2.imdecode(np.frombuffer(b, np.uint8), cv2.IMREAD_UNCHANGED) for b in ep.steps["observation/front_depth"]])
        assert got.dtype == np.uint16 and np.array_equal(got, _dense(depths))
    from teleforge.convert.rlds.reader import check_rlds

    assert check_rlds(res.path).ok  # image headers, sizes and dtypes check out
    import_rlds(res.path.parent, tmp_path / "back")
    _same_depth(tmp_path / "back", truth, dense=True)


def test_robomimic_and_aloha_carry_uint16_depth_and_import_back(depth_ds, tmp_path):
    import h5py

    root, truth = depth_ds
    export_robomimic(select(root), tmp_path / "rm.hdf5")
    with h5py.File(tmp_path / "rm.hdf5") as f:
        d = f["data/demo_0/obs/front_depth"][()]
        assert d.dtype == np.uint16 and np.array_equal(d, _dense(next(iter(truth.values()))))
        assert "wrist_depth" not in f["data/demo_0/obs"]
    import_robomimic(tmp_path / "rm.hdf5", tmp_path / "back_rm")
    _same_depth(tmp_path / "back_rm", truth, dense=True)

    export_aloha(select(root), tmp_path / "al")
    import_aloha(tmp_path / "al", tmp_path / "back_al")
    _same_depth(tmp_path / "back_al", truth, dense=True)


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
    stats = json.loads((tmp_path / "lr" / "meta" / "stats.json").read_text())["observation.depth.front"]
    assert stats["count"] == [12] and stats["max"][0] <= 65535
