"""The curation experiment: curate, same budget on both arms, same eval seeds, table + JSON + PNG."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from teleforge.cli.render import experiment_table  # noqa: E402
from teleforge.train_adapter.eval import EVAL_SEED_BASE  # noqa: E402
from teleforge.train_adapter.reference import ExpertPolicy, ZeroPolicy  # noqa: E402
from teleforge.workflows.experiment import ExperimentConfig, run_experiment  # noqa: E402
from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402


@dataclass
class FakeTrainResult:
    checkpoint: Path


@pytest.fixture()
def faked(monkeypatch: pytest.MonkeyPatch) -> list:
    """train() records its config; the 'curated' checkpoint behaves like the oracle, the raw one never moves."""
    import teleforge.train_adapter.checkpoint as ckpt
    import teleforge.train_adapter.train as tr

    calls: list = []

    def fake_train(cfg, progress=None):
        calls.append(cfg)
        return FakeTrainResult(Path(cfg.out) / "best")

    def fake_load(path, head=None):
        return ExpertPolicy("pick_cube", image_size=48) if "curated" in str(path) else ZeroPolicy(image_size=48)

    monkeypatch.setattr(tr, "train", fake_train)
    monkeypatch.setattr(ckpt, "load_policy", fake_load)
    return calls


def test_experiment_trains_both_arms_on_the_same_budget_and_reports(tmp_path: Path, faked: list) -> None:
    plans = [EpisodePlan(seed=i, steps=50) for i in range(6)]
    plans += [EpisodePlan(seed=10, jitter=0.8, label="jitter"), EpisodePlan(seed=11, outcome="failure", label="wrong_object"),
              EpisodePlan(seed=12, nan_step=5, label="corrupt")]
    make_dataset(tmp_path / "dataset", plans, make_spec(("front",), size=32))
    cfg = ExperimentConfig(out=tmp_path, episodes=len(plans), train_steps=7, batch_size=5, eval_episodes=2, videos=1)
    res = run_experiment(cfg)

    # curation ran and rejected the bad ones, with reasons and ground-truth scores
    assert res.curation["kept"] + res.curation["rejected"] == len(plans)
    assert res.curation["rejected"] >= 2 and res.curation["reasons"]
    assert res.curation["label_scores"]["bad"] == 3
    assert (tmp_path / "dataset" / "views" / "curated.json").is_file()
    # the same budget on both arms; the raw arm sees everything, the curated arm the view
    raw_cfg, cur_cfg = faked
    assert (raw_cfg.view, cur_cfg.view) == (None, "curated")
    for k in ("steps", "batch_size", "seed", "init", "head", "time_budget_s"):
        assert getattr(raw_cfg, k) == getattr(cur_cfg, k)
    assert raw_cfg.steps == 7 and raw_cfg.batch_size == 5
    assert res.arms["raw"].episodes == len(plans) and res.arms["curated"].episodes == res.curation["kept"]
    # both evaluated on the same held-out seeds
    seeds = {name: [e.seed for e in a.eval.episodes] for name, a in res.arms.items()}
    assert seeds["raw"] == seeds["curated"] == [EVAL_SEED_BASE, EVAL_SEED_BASE + 1]
    assert res.arms["curated"].eval.success_rate == 1.0 and res.arms["raw"].eval.success_rate == 0.0
    assert res.gain == pytest.approx(1.0)

    doc = json.loads((tmp_path / "experiment.json").read_text())
    assert doc["gain_points"] == 100.0 and set(doc["arms"]) == {"raw", "curated"}
    assert doc["arms"]["curated"]["eval"]["ci95"][1] == 1.0
    import cv2

    img = cv2.imread(str(tmp_path / "experiment.png"))
    assert img is not None and img.shape == (50 + 60 + 30 * 2, 640, 3)  # one 30-px row per arm
    assert (img < 250).any(axis=2).sum() > 5000  # bars and text were drawn
    from rich.console import Console

    con = Console(record=True, width=120)
    con.print(experiment_table(res))
    text = con.export_text()
    assert "raw" in text and "curated" in text and "+100 points" in text


def test_experiment_refuses_when_curation_keeps_nothing(tmp_path: Path, faked: list) -> None:
    from teleforge.errors import EvalError

    plans = [EpisodePlan(seed=i, nan_step=3, label="corrupt") for i in range(2)]
    make_dataset(tmp_path / "dataset", plans, make_spec(("front",), size=32))
    with pytest.raises(EvalError, match="rejected every episode"):
        run_experiment(ExperimentConfig(out=tmp_path, episodes=2, eval_episodes=1))
    assert faked == []  # nothing was trained


@pytest.mark.slow
def test_experiment_end_to_end_with_the_real_model(tmp_path: Path) -> None:
    """Real collection, curation, two tiny fine-tunes from scratch and closed-loop evals (minutes)."""
    pytest.importorskip("torch")
    cfg = ExperimentConfig(out=tmp_path, episodes=6, image_size=64, init="scratch", train_steps=10, batch_size=8,
                           eval_episodes=2, videos=0, workers=1)
    res = run_experiment(cfg)
    assert set(res.arms) == {"raw", "curated"}
    for arm in res.arms.values():
        assert arm.checkpoint and Path(arm.checkpoint).is_dir()
        assert arm.eval is not None and len(arm.eval.episodes) == 2 and arm.eval.latency_ms
    assert res.arms["raw"].episodes == 6 and res.arms["curated"].episodes == res.curation["kept"]
    assert (tmp_path / "experiment.json").is_file() and (tmp_path / "experiment.png").is_file()


def test_train_experiment_cli_prints_the_side_by_side_table(tmp_path: Path, faked: list) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    plans = [EpisodePlan(seed=i, steps=40) for i in range(3)] + [EpisodePlan(seed=9, jitter=0.8, label="jitter")]
    make_dataset(tmp_path / "dataset", plans, make_spec(("front",), size=32))
    r = CliRunner().invoke(app, ["train", "experiment", "-o", str(tmp_path), "--episodes", "4", "--steps", "3",
                                 "--eval-episodes", "1", "--videos", "0"])
    assert r.exit_code == 0, r.output
    assert "curated" in r.output and "raw" in r.output and "+100 points" in r.output
    assert faked[0].steps == faked[1].steps == 3
    assert (tmp_path / "experiment.json").is_file() and (tmp_path / "experiment.png").is_file()
