"""Checkpoint save/load/resume equality, corrupt checkpoints, the bundled base, torch-less installs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from teleforge.errors import CheckpointError  # noqa: E402
from teleforge.train_adapter.checkpoint import load_model, load_policy  # noqa: E402
from teleforge.train_adapter.policy import PolicyObs  # noqa: E402
from teleforge.train_adapter.train import train  # noqa: E402

from .conftest import tiny_cfg  # noqa: E402


def _obs(size: int = 48) -> PolicyObs:
    rng = np.random.default_rng(0)
    return PolicyObs(images={c: rng.integers(0, 255, (size, size, 3), dtype=np.uint8) for c in ("front", "wrist")},
                     joint_pos=np.zeros(7, np.float32), ee_pos=np.array([0.5, 0, 0.3], np.float32),
                     ee_quat=np.array([0, 1, 0, 0], np.float32), gripper=1.0, instruction="pick up the red cube")


@pytest.fixture(scope="module")
def trained(tiny_dataset: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("run")
    return train(tiny_cfg(tiny_dataset, out / "a"))


def test_train_writes_checkpoints_and_losses(trained) -> None:
    assert trained.steps == 6
    assert [s for s, _ in trained.val_losses] == [3, 6]
    for d in (trained.checkpoint, trained.last):
        assert {"model.safetensors", "config.json"} <= {p.name for p in d.iterdir()}
    cfg = json.loads((trained.checkpoint / "config.json").read_text())
    assert len(cfg["norm"]["action_q01"]) == 7 and cfg["trained_on"]["episodes"] == 8
    assert {"train_state.safetensors", "train_state.json"} <= {p.name for p in trained.last.iterdir()}
    assert not list(trained.last.glob("*.pt"))  # no pickle-based file anywhere in a run folder
    assert json.loads((trained.last.parent / "result.json").read_text())["steps"] == 6


def test_save_load_round_trip_gives_identical_predictions(trained) -> None:
    for head in ("tokens", "flow"):
        p1, p2 = load_policy(trained.last, head), load_policy(trained.last / "model.safetensors", head)
        p1.reset("pick up the red cube")
        p2.reset("pick up the red cube")
        a1, a2 = p1.predict(_obs()), p2.predict(_obs())
        assert a1.shape == (4, 7) and np.array_equal(a1, a2)
        assert set(np.unique(a1[:, 6])) <= {0.0, 1.0}
    assert load_policy(trained.last).info.head == "flow"  # default: the last head named in training
    with pytest.raises(CheckpointError, match="head"):
        load_policy(trained.last, "diffusion")


def test_resume_equals_an_uninterrupted_run(tiny_dataset: Path, trained, tmp_path: Path) -> None:
    b = tmp_path / "b"
    first = train(tiny_cfg(tiny_dataset, b, stop_after=3))
    assert first.steps == 3
    second = train(tiny_cfg(tiny_dataset, b, resume=True))
    assert second.steps == 6
    wa, _ = load_model(trained.last)
    wb, _ = load_model(second.last)
    for (k, va), (_, vb) in zip(wa.state_dict().items(), wb.state_dict().items()):
        assert torch.equal(va, vb), k


def test_resume_never_unpickles_an_old_train_state(tiny_dataset: Path, trained, tmp_path: Path) -> None:
    """A train_state.pt (pickle) planted in a shared run folder is refused, never loaded."""
    import pickle
    import shutil

    run = tmp_path / "shared"
    shutil.copytree(trained.last, run / "last")
    for p in (run / "last").glob("train_state.*"):
        p.unlink()
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (run / "last" / "train_state.pt").write_bytes(pickle.dumps({"optimizer": Evil()}))
    with pytest.raises(CheckpointError, match="train_state.pt.*restart"):
        train(tiny_cfg(tiny_dataset, run, resume=True))
    assert not marker.exists()


def test_corrupt_train_state_is_a_typed_error(tiny_dataset: Path, trained, tmp_path: Path) -> None:
    import shutil

    run = tmp_path / "r"
    shutil.copytree(trained.last, run / "last")
    (run / "last" / "train_state.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="train_state.json"):
        train(tiny_cfg(tiny_dataset, run, resume=True))


def test_corrupt_checkpoint_names_the_file(trained, tmp_path: Path) -> None:
    import shutil

    bad = tmp_path / "bad"
    shutil.copytree(trained.last, bad)
    w = bad / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 3])
    with pytest.raises(CheckpointError, match=str(w)):
        load_policy(bad)
    (bad / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json"):
        load_policy(bad)
    with pytest.raises(CheckpointError, match="not a teleforge checkpoint"):
        load_policy(tmp_path / "nowhere")


def test_checkpoint_for_another_arm_is_refused(trained, tmp_path: Path) -> None:
    from tests.curation.synth import EpisodePlan, make_dataset, make_spec

    other = make_dataset(tmp_path / "other", [EpisodePlan(seed=1, steps=20)],
                         make_spec(cams=("front", "wrist"), size=32, robot="ur5e"))
    with pytest.raises(CheckpointError, match="embodiment"):
        train(tiny_cfg(other, tmp_path / "o", init=str(trained.last)))


def test_bundled_base_runs_both_heads_with_a_chunk() -> None:
    for head in ("tokens", "flow"):
        pol = load_policy("bundled", head)
        assert pol.info.head == head and pol.info.cameras == ("front", "wrist")
        pol.reset("pick up the red cube")
        a = pol.predict(_obs(128))
        assert a.shape == (pol.info.chunk, 7) and a.dtype == np.float32 and np.isfinite(a).all()


def test_torchless_install_gets_a_typed_error_and_imports_stay_torch_free(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # what a torch-less install looks like to importers\n"
        "import teleforge.cli.main, teleforge.train_adapter, teleforge.train_adapter.train\n"
        "from teleforge.errors import TrainDependencyError\n"
        "from teleforge.train_adapter.train import TrainConfig, train\n"
        "try:\n"
        "    train(TrainConfig(data='x'))\n"
        "except TrainDependencyError as e:\n"
        "    print('OK', e)\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")})
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout and "install teleforge[train]" in r.stdout
    r2 = subprocess.run([sys.executable, "-c", "import sys, teleforge.cli.main; print('torch' in sys.modules)"],
                        capture_output=True, text=True, timeout=120)
    assert r2.stdout.strip() == "False", r2.stderr


def test_cli_fine_tunes_from_a_checkpoint(tiny_dataset: Path, trained, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["train", "--data", str(tiny_dataset), "--init", str(trained.last), "--head", "tokens",
                                 "--steps", "2", "--batch-size", "2", "--workers", "1", "--val-every", "1",
                                 "--device", "cpu", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert (out / "best" / "model.safetensors").is_file()
    assert load_policy(out / "best").info.head == "tokens"
    bad = CliRunner().invoke(app, ["train", "--data", str(tiny_dataset), "--init", str(tmp_path / "nope"), "--steps", "1"])
    assert bad.exit_code == 1 and "not a teleforge checkpoint" in bad.output
