"""Closed-loop evaluation: held-out seeds, the recorder's JPEG, chunk execution, checks, results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from teleforge.errors import EvalError, PolicyMismatchError  # noqa: E402
from teleforge.train_adapter.closed_loop import ChunkExecutor  # noqa: E402
from teleforge.train_adapter.eval import EVAL_SEED_BASE, EvalConfig, evaluate, render_size_for, wilson_interval  # noqa: E402
from teleforge.train_adapter.policy import PolicyInfo, PolicyObs  # noqa: E402
from teleforge.train_adapter.reference import ExpertPolicy, ZeroPolicy  # noqa: E402


class Recording:
    """A do-nothing policy that keeps what it was shown."""

    def __init__(self, chunk: int = 4, **info: object) -> None:
        self.info = PolicyInfo(head="rec", chunk=chunk, cameras=("front", "wrist"), image_size=48, **info)  # type: ignore[arg-type]
        self.obs: list[PolicyObs] = []
        self.instructions: list[str] = []

    def reset(self, instruction: str) -> None:
        self.instructions.append(instruction)

    def predict(self, obs: PolicyObs) -> np.ndarray:
        self.obs.append(obs)
        return np.zeros((self.info.chunk, 7), np.float32)


def test_wilson_interval_matches_reference_values() -> None:
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-4) and hi == pytest.approx(0.7634, abs=1e-4)
    lo, hi = wilson_interval(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)
    lo, hi = wilson_interval(50, 50)
    assert hi == 1.0 and lo == pytest.approx(0.9287, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_scripted_oracle_succeeds_on_held_out_seeds_and_writes_results(tmp_path: Path) -> None:
    res = evaluate(ExpertPolicy("pick_cube", image_size=64), EvalConfig(episodes=3, videos=1, out=tmp_path))
    assert [e.seed for e in res.episodes] == [EVAL_SEED_BASE, EVAL_SEED_BASE + 1, EVAL_SEED_BASE + 2]
    assert all(e.success and e.ended_by == "success" for e in res.episodes)
    assert res.success_rate == 1.0
    assert res.ci95[1] == 1.0 and res.ci95[0] < 1.0
    # one predict() per step for a chunk-1 policy
    assert len(res.latency_ms) == sum(e.chunks for e in res.episodes) == sum(e.steps for e in res.episodes)
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["successes"] == 3 and doc["seeds"] == [e.seed for e in res.episodes]
    assert set(doc["latency_ms"]) >= {"p50", "p95", "chunks"}
    videos = sorted((tmp_path / "videos").iterdir())
    assert len(videos) == 1 and videos[0].suffix == ".gif" and videos[0].stat().st_size > 1000
    assert res.episodes[0].video == str(videos[0]) and res.episodes[1].video is None


def test_zero_policy_fails_and_runs_whole_chunks(tmp_path: Path) -> None:
    res = evaluate(ZeroPolicy(chunk=8, image_size=48), EvalConfig(episodes=2, time_limit_s=1.5, videos=0))
    assert res.success_rate == 0.0 and res.successes == 0
    for e in res.episodes:
        assert e.steps == 30 and e.ended_by == "time_limit"
        assert e.chunks == 4  # 30 steps / 8 actions per chunk, rounded up


def test_policy_sees_jpeg_frames_at_the_recorded_size_and_the_instruction() -> None:
    pol = Recording(chunk=5, extra={"render_size": 64})
    res = evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.5, videos=0, execute=2))
    assert res.episodes[0].chunks == 5  # 10 steps, 2 actions executed per chunk
    o = pol.obs[0]
    assert set(o.images) == {"front", "wrist"}
    assert o.images["front"].shape == (64, 64, 3) and o.images["front"].dtype == np.uint8
    assert o.instruction == pol.instructions[0] == res.episodes[0].instruction and o.instruction
    assert o.ee_pos.shape == (3,) and o.joint_pos.shape == (7,) and 0.0 <= o.gripper <= 1.0
    # JPEG at quality 95: close to the raw render but not identical (what the recorder stores)
    from teleforge.robots.sim_cameras import render
    from teleforge.robots.sim_robot import SimRobot

    robot = SimRobot()
    robot.connect()
    robot.reset("pick_cube", EVAL_SEED_BASE)
    raw = render(robot, "front", 64, 64)
    diff = np.abs(raw.astype(int) - o.images["front"].astype(int))
    assert 0 < diff.mean() < 4


def test_raw_frames_when_jpeg_is_off() -> None:
    pol = Recording(chunk=4)
    evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.2, videos=0, jpeg_quality=None))
    from teleforge.robots.sim_cameras import render
    from teleforge.robots.sim_robot import SimRobot

    robot = SimRobot()
    robot.connect()
    robot.reset("pick_cube", EVAL_SEED_BASE)
    assert np.array_equal(render(robot, "front", 48, 48), pol.obs[0].images["front"])


def test_render_size_falls_back_to_training_dataset_then_model_input(tmp_path: Path) -> None:
    from tests.curation.synth import EpisodePlan, make_dataset, make_spec

    root = make_dataset(tmp_path / "ds", [EpisodePlan(steps=5)], make_spec(("front",), size=40))
    info = PolicyInfo(head="flow", chunk=8, cameras=("front",), image_size=96, extra={"trained_on": {"data": str(root)}})
    assert render_size_for(info) == 40
    info.extra = {"trained_on": {"data": str(tmp_path / "gone")}}
    assert render_size_for(info) == 96
    info.extra = {"render_size": 128}
    assert render_size_for(info) == 128
    info.extra = {"trained_on": {"data": "scripted sim demos", "render_size": 112}}
    assert render_size_for(info) == 112


def test_temporal_ensembling_averages_overlapping_predictions() -> None:
    ex = ChunkExecutor(execute=1, ensemble=True, decay=0.0)
    ex.add(0, np.full((3, 7), 1.0))
    assert np.allclose(ex.action(0), 1.0)
    ex.add(1, np.full((3, 7), 3.0))
    assert np.allclose(ex.action(1), 2.0)  # mean of the two predictions for step 1
    ex.add(2, np.full((3, 7), 5.0))
    assert np.allclose(ex.action(2), 3.0)  # 1, 3, 5
    ex.add(3, np.full((3, 7), 7.0))
    assert np.allclose(ex.action(3), 5.0)  # the step-0 chunk no longer covers step 3
    # with decay, the oldest prediction weighs most (ACT: w_i = exp(-m i), i = 0 oldest)
    ex = ChunkExecutor(execute=1, ensemble=True, decay=1.0)
    ex.add(0, np.zeros((2, 7)))
    ex.action(0)
    ex.add(1, np.ones((2, 7)))
    assert np.allclose(ex.action(1), np.exp(-1) / (1 + np.exp(-1)))


def test_ensembling_queries_every_step_in_the_sim() -> None:
    pol = Recording(chunk=4)
    res = evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.5, videos=0, temporal_ensemble=True))
    assert res.episodes[0].chunks == res.episodes[0].steps == 10


@pytest.mark.parametrize(
    ("info", "cfg", "match"),
    [
        (dict(action_space="openvla_7d"), {}, "native_ee_delta"),
        (dict(cameras=("front", "top_down")), {}, "top_down"),
        (dict(control_hz=10.0), {"hz": 20.0}, "10 Hz"),
        (dict(extra={"tasks": ["stack"]}), {}, "stack"),
        (dict(chunk=0), {}, "chunk=0"),
    ],
)
def test_mismatched_checkpoint_is_refused_before_running(info: dict, cfg: dict, match: str) -> None:
    base = dict(head="flow", chunk=8, cameras=("front",), image_size=64)
    pol = ZeroPolicy()
    pol.info = PolicyInfo(**{**base, **info})  # type: ignore[arg-type]
    with pytest.raises(PolicyMismatchError, match=match):
        evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.1, videos=0, **cfg))


def test_training_seeds_overlapping_eval_seeds_are_refused() -> None:
    pol = ZeroPolicy()
    with pytest.raises(EvalError, match="used for training"):
        evaluate(pol, EvalConfig(episodes=3, time_limit_s=0.1, videos=0, train_seeds=[1, EVAL_SEED_BASE + 2]))
    pol.info.extra = {"train_seeds": [EVAL_SEED_BASE]}
    with pytest.raises(EvalError, match="used for training"):
        evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.1, videos=0))


@pytest.mark.parametrize("bad", [np.zeros((4, 6)), np.full((2, 7), np.nan), np.zeros((0, 7))])
def test_malformed_actions_stop_the_eval_with_a_clear_error(bad: np.ndarray) -> None:
    pol = ZeroPolicy()
    pol.predict = lambda obs: bad  # type: ignore[method-assign]
    with pytest.raises(EvalError, match="policy returned"):
        evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.2, videos=0))


def test_eval_cli_runs_the_oracle_and_reports(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    r = CliRunner().invoke(app, ["eval", "expert", "--episodes", "2", "--videos", "1", "--video-format", "mp4",
                                 "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    doc = json.loads((tmp_path / "results.json").read_text())
    assert doc["success_rate"] == 1.0 and doc["episodes"] == 2
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 1
    assert "100%" in r.output


def test_eval_cli_reports_a_corrupt_checkpoint_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    bad = tmp_path / "ckpt"
    bad.mkdir()
    (bad / "model.safetensors").write_bytes(b"not a checkpoint")
    (bad / "config.json").write_text("{")
    r = CliRunner().invoke(app, ["eval", str(bad), "--episodes", "1", "-o", str(tmp_path / "ev")])
    assert r.exit_code == 1
    assert "error:" in r.output and "Traceback" not in r.output


def test_eval_cli_without_torch_says_install_the_train_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from typer.testing import CliRunner

    from teleforge.cli.main import app
    from teleforge.train_adapter.checkpoint import CONFIG, FORMAT, WEIGHTS

    ck = tmp_path / "ckpt"
    ck.mkdir()
    (ck / CONFIG).write_text(json.dumps({"format": FORMAT, "model": {}}))
    (ck / WEIGHTS).write_bytes(b"\0" * 16)
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.") or m.startswith("safetensors")
                 or m == "teleforge.train_adapter.model"]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch -> ImportError, as on a torch-less install
    r = CliRunner().invoke(app, ["eval", str(ck), "--episodes", "1", "-o", str(tmp_path / "ev")])
    assert r.exit_code == 1
    assert "teleforge[train]" in r.output and "Traceback" not in r.output


def test_eval_video_keeps_recorded_size_frames_when_the_policy_decodes_smaller(tmp_path, monkeypatch) -> None:
    """A policy fed DCT-decoded 48 px frames, the video the recorded 64 px ones (a mixed-size video failed)."""
    import teleforge.train_adapter.eval as ev

    real = ev.LoopConfig
    monkeypatch.setattr(ev, "LoopConfig", lambda **kw: real(**{**kw, "decode_size": 48}))
    pol = Recording(chunk=3, extra={"render_size": 64})
    res = evaluate(pol, EvalConfig(episodes=1, time_limit_s=0.3, videos=1, out=tmp_path, execute=2))
    assert pol.obs[0].images["front"].shape[0] == 48
    gifs = list(tmp_path.rglob("*.gif"))
    assert len(gifs) == 1 and gifs[0].stat().st_size > 0 and res.episodes
