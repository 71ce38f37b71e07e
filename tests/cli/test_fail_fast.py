"""A new user's mistakes fail at once with one line that says what to do, and create nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from teleforge.cli.main import app
from teleforge.dataset.layout import check_compatible
from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.errors import DatasetError

runner = CliRunner()


def _collect(tmp_path: Path, *args: str):
    return runner.invoke(app, ["collect", "--headless", "--episodes", "1", "--dataset", str(tmp_path / "ds"), *args])


def test_a_device_typo_lists_every_valid_device_including_scripted(tmp_path: Path) -> None:
    r = _collect(tmp_path, "--device", "scriptd")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "scripted" in r.output and "keyboard" in r.output and "did you mean 'scripted'" in r.output
    assert not (tmp_path / "ds").exists()


@pytest.mark.parametrize("args, says", [
    (["--task", "pick_cub"], "pick_cube"),
    (["--cameras", "front,wirst"], "wrist"),
    (["--cameras", 'front,x", "y'], "not allowed"),
])
def test_a_task_or_camera_typo_is_refused_before_the_dataset_exists(tmp_path: Path, args: list[str], says: str) -> None:
    r = _collect(tmp_path, "--device", "scripted", *args)
    assert r.exit_code == 1 and "Traceback" not in r.output, r.output
    assert says in r.output and r.output.strip().count("\n") <= 2, r.output
    assert not (tmp_path / "ds").exists()


def test_keyboard_without_a_display_fails_at_once_with_the_devices_hint(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(var, raising=False)
    r = runner.invoke(app, ["collect", "--device", "keyboard", "--dataset", str(tmp_path / "ds")])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "no display" in r.output and "teleforge devices" in r.output
    assert not (tmp_path / "ds").exists()


def test_the_different_setup_error_names_the_actual_difference(tmp_path: Path) -> None:
    def spec(cams, size=64):
        return DatasetSpec(fps=20.0, robot_embodiment="teleforge_sim_panda", n_joints=7,
                           cameras=[CameraConfig(c, size, size) for c in cams])

    with pytest.raises(DatasetError, match=r"cameras: 'wrist' is in the dataset but missing from this session; cameras: 'wirst' is new"):
        check_compatible(tmp_path, spec(["front", "wrist"]), spec(["front", "wirst"]))
    with pytest.raises(DatasetError, match=r"cameras: 'front' is 64x64 jpeg in the dataset, 32x32 jpeg in this session"):
        check_compatible(tmp_path, spec(["front"]), spec(["front"], 32))
