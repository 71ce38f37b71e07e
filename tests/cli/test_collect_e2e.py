"""End-to-end: the operator's commands on the real sim, recorder and dataset."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from teleforge.cli.main import app
from teleforge.dataset import Dataset
from teleforge.teleop.replay import replay_dataset

runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("e2e") / "ds"
    res = _cli("collect", "--device", "scripted", "--task", "pick_cube", "--episodes", "3",
               "--headless", "--dataset", str(root), "--notes", "e2e test session")
    assert res.exit_code == 0, res.output
    assert "safety limits in force: workspace" in res.output and "declared by the sim" in res.output
    return root


def test_scripted_collect_writes_episodes_with_synced_cameras(collected: Path):
    ds = Dataset.open(collected)
    assert len(ds.episodes) == 3
    assert all(e.outcome == "success" for e in ds.episodes)
    assert not list((collected / "episodes").glob("*.partial"))
    ep = ds.episode(ds.episodes[0].episode_id)
    assert ep.meta.instruction and ep.meta.robot_embodiment == "teleforge_sim_panda"
    assert ep.meta.device == "scripted" and ep.meta.seed == 0
    ticks = ep.column("tick_ns")
    for cam in ("front", "wrist"):
        t = ep.column(f"observation.images.{cam}.t_ns")
        age_ms = (ticks - t) / 1e6
        assert (age_ms >= 0).all()  # never a frame from the future
        # frames keep arriving during the episode (no wall-clock bound: the machine may be loaded)
        assert t[-1] > ticks[len(ticks) // 2] and len(set(t.tolist())) > 2
        img = ep.image(cam, ep.num_steps - 1)
        assert img.shape == (224, 224, 3) and img.std() > 5
    (session,) = ds.sessions
    assert session.notes == "e2e test session" and session.session_id == ep.meta.session_id


def test_info_shows_the_episodes(collected: Path):
    res = _cli("info", str(collected))
    assert res.exit_code == 0
    assert "success=3" in res.output and "pick_cube=3" in res.output


def test_replay_reproduces_every_episode(collected: Path, tmp_path: Path):
    reports = replay_dataset(collected)
    assert len(reports) == 3
    for r in reports:
        assert r.replay_success, r
        assert r.final_ee_error_m < 1e-6 and r.max_joint_error_rad < 1e-6
    res = _cli("replay", str(collected), "--episode", "0", "--video", str(tmp_path / "ep0.gif"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ep0.gif").stat().st_size > 1000


def test_missing_dataset_is_a_one_line_error(tmp_path: Path):
    res = runner.invoke(app, ["info", str(tmp_path / "nope")])
    assert res.exit_code == 1
    assert "does not exist" in res.output and res.output.strip().count("\n") == 0
    (tmp_path / "other" / "episodes").mkdir(parents=True)
    res = runner.invoke(app, ["info", str(tmp_path / "other")])
    assert res.exit_code == 1
    assert "teleforge.json" in res.output and res.output.strip().count("\n") == 0


def test_absent_spacemouse_is_a_clear_error_and_creates_nothing(tmp_path: Path):
    res = runner.invoke(app, ["collect", "--device", "spacemouse", "--headless", "--dataset", str(tmp_path / "ds")])
    assert res.exit_code == 1
    assert "SpaceMouse" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "ds").exists()


def test_garbage_shard_is_named_in_the_error(collected: Path, tmp_path: Path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(collected, root)
    shard = sorted((root / "episodes").glob("*.arrow"))[1]
    shard.write_bytes(b"\x00garbage" * 100)
    res = runner.invoke(app, ["replay", str(root), "--episode", "1"])
    assert res.exit_code == 1
    assert shard.name in res.output and "recover" in res.output


def _digest(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_sigkill_mid_episode_keeps_prior_episodes_and_recovers_the_rest(tmp_path: Path):
    root = tmp_path / "ds"
    env = {**os.environ, "MUJOCO_GL": "egl", "SDL_VIDEODRIVER": "dummy"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "teleforge.cli.main", "collect", "--device", "scripted", "--task", "pick_cube",
         "--episodes", "50", "--headless", "--dataset", str(root)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    def mid_episode() -> bool:
        done = list((root / "episodes").glob("*.arrow")) if (root / "episodes").exists() else []
        partial = list((root / "episodes").glob("*.partial")) if (root / "episodes").exists() else []
        return len(done) >= 2 and bool(partial) and partial[0].stat().st_size > 200_000

    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if mid_episode():
                # Freeze it, then look again: on a loaded machine the episode can finish between
                # the look and the kill, leaving only a fresh, empty partial to recover.
                proc.send_signal(signal.SIGSTOP)
                time.sleep(0.2)
                if mid_episode():
                    break
                proc.send_signal(signal.SIGCONT)
            time.sleep(0.1)
        else:
            pytest.fail("the collector did not reach two finished episodes")
        before = {p.name: _digest(p) for p in (root / "episodes").glob("*.arrow")}
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list((root / "episodes").glob("*.partial"))
    res = runner.invoke(app, ["recover", str(root)])
    assert res.exit_code == 0, res.output
    ds = Dataset.open(root)
    assert {p.name: _digest(p) for p in (root / "episodes").glob("*.arrow") if p.name in before} == before
    recovered = [e for e in ds.episodes if e.recovered]
    assert len(recovered) == 1 and recovered[0].outcome == "unknown" and recovered[0].num_steps > 0
    assert len(ds.episodes) == len(list((root / "episodes").glob("*.arrow")))
    assert not list((root / "episodes").glob("*.partial"))
