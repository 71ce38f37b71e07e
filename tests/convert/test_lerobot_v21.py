"""LeRobot v2.1 export (what openpi's pinned LeRobot 0cf8648 reads): layout, metadata, values, CLI,
and — where the validator venv exists — the pinned LeRobot itself loading it with action chunks."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import av
import numpy as np
import pyarrow.parquet as pq
import pytest
import typer
from tests.convert.h5_synth import build_dataset
from typer.testing import CliRunner

from teleforge.cli.formats import register_export_commands
from teleforge.convert.lerobot import export_lerobot
from teleforge.dataset import Dataset
from teleforge.errors import ExportError


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("lr21") / "ds", episodes=3, steps=12, first_frame_missing=True)


@pytest.fixture(scope="module")
def exported(src: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lr21_out") / "home" / "me" / "ds"
    export_lerobot(src, out, repo_id="me/ds", codebase_version="v2.1")
    return out


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_v21_layout_and_metadata(exported: Path) -> None:
    info = json.loads((exported / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v2.1" and info["total_episodes"] == 3 and info["total_frames"] == 36
    assert info["total_videos"] == 6 and info["total_chunks"] == 1 and info["chunks_size"] == 1000
    assert info["data_path"] == "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
    assert info["video_path"] == "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
    for k in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        assert info["features"][k]["shape"] == [1]
    front = info["features"]["observation.images.front"]
    assert front["dtype"] == "video" and front["info"]["video.fps"] == info["fps"]
    eps = _jsonl(exported / "meta" / "episodes.jsonl")
    assert [e["episode_index"] for e in eps] == [0, 1, 2] and [e["length"] for e in eps] == [12, 12, 12]
    tasks = _jsonl(exported / "meta" / "tasks.jsonl")
    assert [t["task_index"] for t in tasks] == list(range(len(tasks)))
    assert {e["tasks"][0] for e in eps} == {t["task"] for t in tasks}
    stats = _jsonl(exported / "meta" / "episodes_stats.jsonl")
    assert [s["episode_index"] for s in stats] == [0, 1, 2]
    assert set(stats[0]["stats"]["action"]) == {"min", "max", "mean", "std", "count"}
    assert np.asarray(stats[0]["stats"]["observation.images.front"]["mean"]).shape == (3, 1, 1)
    for k in range(3):
        assert (exported / f"data/chunk-000/episode_{k:06d}.parquet").is_file()
        for cam in ("front", "wrist"):
            with av.open(str(exported / f"videos/chunk-000/observation.images.{cam}/episode_{k:06d}.mp4")) as c:
                assert sum(1 for _ in c.decode(video=0)) == 12


def test_v21_parquet_values_and_datasets3_features(src: Path, exported: Path) -> None:
    ds = Dataset.open(src)
    for k, eid in enumerate(sorted(e.episode_id for e in ds.episodes)):
        t = pq.read_table(exported / f"data/chunk-000/episode_{k:06d}.parquet")
        hf = json.loads(t.schema.metadata[b"huggingface"])["info"]["features"]
        assert hf["action"] == {"feature": {"dtype": "float32", "_type": "Value"}, "length": 7, "_type": "Sequence"}
        assert "List" not in json.dumps(hf)  # datasets 3.x knows no List
        ep = ds.episode(eid)
        assert np.array_equal(np.asarray(t.column("action").to_pylist(), np.float32), ep.column("action").astype(np.float32))
        assert t.column("frame_index").to_pylist() == list(range(12))
        assert np.allclose(t.column("timestamp").to_pylist(), np.arange(12) / ds.spec.fps)
        assert t.column("index").to_pylist() == list(range(12 * k, 12 * k + 12))


def test_v21_cli_and_unknown_version(src: Path, tmp_path: Path) -> None:
    app = typer.Typer()
    register_export_commands(app)
    r = CliRunner().invoke(app, ["lerobot", str(src), "--out", str(tmp_path / "cli"), "--codebase-version", "v2.1"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "cli" / "meta" / "info.json").read_text())["codebase_version"] == "v2.1"
    with pytest.raises(ExportError, match="codebase version"):
        export_lerobot(src, tmp_path / "bad", codebase_version="v2.0")


def _lerobot21_python() -> str | None:
    cache = Path(os.environ.get("TELEFORGE_CI_CACHE", Path.home() / ".cache/teleforge-ci"))
    p = cache / "venv-lerobot21" / "bin" / "python"
    return str(p) if p.is_file() else None


def test_v21_loads_in_openpis_pinned_lerobot(exported: Path, tmp_path: Path) -> None:
    """LeRobot 0cf8648 (validator venv, built by .ci/validators.sh) reads the export the way openpi calls it."""
    py = _lerobot21_python()
    if py is None:
        pytest.skip("no venv-lerobot21 (openpi's pinned LeRobot); build it with .ci/validators.sh --only lerobot21")
    script = (
        "import json\n"
        "from lerobot.common.datasets import lerobot_dataset as L\n"
        "m = L.LeRobotDatasetMetadata('me/ds')\n"
        "d = L.LeRobotDataset('me/ds', delta_timestamps={'action': [t / m.fps for t in range(4)]})\n"
        "x = d[11]\n"
        "print(json.dumps({'n': len(d), 'tasks': {str(k): v for k, v in m.tasks.items()}, 'a': list(x['action'].shape),"
        " 'pad': x['action_is_pad'].tolist(), 'img': list(x['observation.images.front'].shape), 'task': x['task']}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the venv's lerobot, no teleforge
    env.update(HF_LEROBOT_HOME=str(exported.parent.parent), HF_HUB_OFFLINE="1", HF_DATASETS_CACHE=str(tmp_path / "hf"))
    p = subprocess.run([py, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["n"] == 36 and got["a"] == [4, 7] and got["pad"] == [False, True, True, True]
    assert got["img"][0] == 3 and got["task"] in got["tasks"].values()
