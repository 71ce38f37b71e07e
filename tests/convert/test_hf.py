"""HF datasets export: loads with datasets, bytes pass through, views and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pytest
import typer
from tests.convert.h5_synth import build_dataset, write_view
from typer.testing import CliRunner

from teleforge.cli.formats import register_export_commands
from teleforge.convert.hf.export import export_hf
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.errors import EpisodeNotFoundError, ExportError


@pytest.fixture
def src(tmp_path: Path) -> Path:
    return build_dataset(tmp_path / "ds", first_frame_missing=True)


def test_export_loads_with_load_from_disk_one_row_per_step(src: Path, tmp_path: Path) -> None:
    r = export_hf(select(src), tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    ds = Dataset.open(src)
    assert r.rows == hf.num_rows == 36
    assert isinstance(hf.features["observation.images.front"], datasets.Image)
    assert hf["episode_index"] == [0] * 12 + [1] * 12 + [2] * 12
    assert hf["frame_index"][:12] == list(range(12))
    assert hf["instruction"][12] == ds.episode(1).meta.instruction and hf["task"][12] == "stack"
    ts = np.asarray(hf["timestamp"][:12])
    ticks = ds.episode(0).column("tick_ns")
    np.testing.assert_allclose(ts, (ticks - ticks[0]) / 1e9, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(hf["action"][12:24], np.float32), ds.episode(1).column("action"))
    img = hf[13]["observation.images.wrist"]
    np.testing.assert_array_equal(np.asarray(img), ds.episode(1).image("wrist", 1))


def test_jpeg_bytes_pass_through_unchanged_and_missing_frames_stay_null(src: Path, tmp_path: Path) -> None:
    export_hf(select(src), tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf")).with_format("arrow")
    col = hf[0:12]["observation.images.front"].to_pylist()
    ds = Dataset.open(src)
    assert col[0] is None  # camera had not delivered on step 0
    assert [c["bytes"] for c in col[1:]] == [ds.episode(0).image_bytes("front", i) for i in range(1, 12)]


def test_view_selects_episodes_and_is_recorded(src: Path, tmp_path: Path) -> None:
    write_view(src, "good", [2, 0], rules=[{"rule": "outcome == success"}])
    export_hf(select(src, view="good"), tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    assert hf["episode_index"] == [2] * 12 + [0] * 12  # the view's order
    manifest = json.loads((tmp_path / "hf" / "teleforge_export.json").read_text())
    assert manifest["view"] == "good" and manifest["stats"]["episodes"] == 2
    assert manifest["view_info"]["rules"] == [{"rule": "outcome == success"}]
    write_view(src, "stale", [0, 99])
    with pytest.raises(EpisodeNotFoundError, match=r"view 'stale' names 1 episode\(s\) .*\[99\]"):
        select(src, view="stale")


def test_view_trims_export_only_the_kept_steps(src: Path, tmp_path: Path) -> None:
    write_view(src, "trimmed", [1, 0], trims={1: (3, 8)})
    export_hf(select(src, view="trimmed"), tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    ds = Dataset.open(src)
    assert hf["episode_index"] == [1] * 5 + [0] * 12
    assert hf["frame_index"][:5] == list(range(5))  # counted from the first kept step
    np.testing.assert_array_equal(np.asarray(hf["action"][:5], np.float32), ds.episode(1).column("action")[3:8])
    ticks = ds.episode(1).column("tick_ns")[3:8]
    np.testing.assert_allclose(hf["timestamp"][:5], (ticks - ticks[0]) / 1e9, atol=1e-6)
    assert hf.with_format("arrow")[0:5]["observation.images.front"].to_pylist()[0]["bytes"] == ds.episode(1).image_bytes("front", 3)
    manifest = json.loads((tmp_path / "hf" / "teleforge_export.json").read_text())
    assert manifest["stats"]["steps"] == 17 and manifest["episodes"][0]["trim"] == [3, 8]
    assert manifest["episodes"][0]["num_steps"] == 5


def test_existing_output_is_refused_and_no_partial_is_left(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    export_hf(select(src), out)
    with pytest.raises(ExportError, match="--overwrite"):
        export_hf(select(src), out)
    export_hf(select(src, episodes=[1]), out, overwrite=True)
    assert datasets.load_from_disk(str(out)).num_rows == 12
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_raw_frames_are_exported_losslessly_as_png(tmp_path: Path) -> None:
    src = build_dataset(tmp_path / "ds", episodes=1, steps=3, cams=("front",), encoding="raw")
    export_hf(select(src), tmp_path / "hf")
    hf = datasets.load_from_disk(str(tmp_path / "hf"))
    np.testing.assert_array_equal(np.asarray(hf[2]["observation.images.front"]), Dataset.open(src).episode(0).image("front", 2))


def test_cli_export_hf_writes_a_loadable_folder(src: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    register_export_commands(app)
    res = CliRunner().invoke(app, ["hf", str(src), "-o", str(tmp_path / "out"), "--episodes", "0,2"])
    assert res.exit_code == 0, res.output
    assert datasets.load_from_disk(str(tmp_path / "out")).num_rows == 24
    res = CliRunner().invoke(app, ["hf", str(src), "-o", str(tmp_path / "out2"), "--episodes", "5"])
    assert res.exit_code == 1 and "episodes [5]" in res.output


def test_features_are_written_the_way_datasets_3_reads_them(src: Path, tmp_path: Path) -> None:
    """datasets 3.x (openpi's lock) knows no `List` type; `Sequence` loads in 3.x and >= 4 alike."""
    import json

    import pyarrow as pa

    from teleforge.convert.hf.compat import sequence_features

    out = tmp_path / "hf"
    export_hf(select(src), out)
    info = json.loads((out / "dataset_info.json").read_text())
    assert '"List"' not in json.dumps(info["features"])
    assert info["features"]["action"] == {"feature": {"dtype": "float32", "_type": "Value"}, "length": 7, "_type": "Sequence"}
    for arrow in out.glob("*.arrow"):
        with pa.memory_map(str(arrow)) as f:
            meta = pa.ipc.open_stream(f).schema.metadata[b"huggingface"].decode()
        assert '"List"' not in meta
    # a list of structs keeps List: Sequence of a dict means a dict of lists in datasets 3.x
    struct = {"_type": "List", "feature": {"a": {"dtype": "int64", "_type": "Value"}}}
    assert sequence_features(struct) == struct
    assert len(datasets.load_from_disk(str(out))) == 36


def test_manifest_features_are_the_data_columns(src: Path, tmp_path: Path) -> None:
    import json

    out = tmp_path / "hf"
    export_hf(select(src), out)
    manifest = json.loads((out / "teleforge_export.json").read_text())
    ds = datasets.load_from_disk(str(out))
    assert list(manifest["features"]) == list(ds.column_names)
    assert "step" not in manifest["features"] and manifest["features"]["frame_index"]["dtype"] == "int64"
