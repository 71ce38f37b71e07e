"""The curation arms: same budget, same seeds, honest controls, per-operator report (training faked)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")

from teleforge.train_adapter.eval import EVAL_SEED_BASE, EvalConfig  # noqa: E402
from teleforge.train_adapter.reference import ExpertPolicy, ZeroPolicy  # noqa: E402
from teleforge.workflows.experiment_arms import ArmsConfig, length_matched_view, run_arms  # noqa: E402
from teleforge.workflows.parallel_eval import evaluate_parallel  # noqa: E402
from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402


@dataclass
class FakeTrainResult:
    checkpoint: Path


def fake_loader(path: str) -> object:
    """rules' checkpoint behaves like the oracle, every other arm never moves (module level: spawn can pickle it)."""
    return ExpertPolicy("pick_cube", image_size=48) if "/rules-" in path else ZeroPolicy(image_size=48)


@pytest.fixture()
def dataset(tmp_path: Path) -> Path:
    plans = [EpisodePlan(seed=i, steps=40 + 3 * i) for i in range(8)]
    plans += [EpisodePlan(seed=20, jitter=0.8, label="jitter"), EpisodePlan(seed=21, outcome="failure", label="wrong_object")]
    make_dataset(tmp_path / "dataset", plans, make_spec(("front",), size=32))
    return tmp_path


def test_two_arms_same_budget_same_seeds(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import teleforge.train_adapter.train as tr

    calls: list = []
    monkeypatch.setattr(tr, "train", lambda cfg, progress=None: calls.append(cfg) or FakeTrainResult(Path(cfg.out) / "best"))
    cfg = ArmsConfig(out=dataset, episodes=10, arms=("raw", "rules"), train_steps=5, batch_size=4, eval_episodes=2,
                     eval_workers=1, methods=("scizor",))
    res = run_arms(cfg, loader=fake_loader)
    assert [c.view for c in calls] == [None, "rules"]
    assert len({(c.steps, c.batch_size, c.seed, c.lr, c.init) for c in calls}) == 1
    seeds = {k: [e.seed for e in v[0].eval.episodes] for k, v in res.arms.items()}
    assert seeds["raw"] == seeds["rules"] == [EVAL_SEED_BASE, EVAL_SEED_BASE + 1]
    assert res.pooled("rules")[:2] == (2, 2) and res.pooled("raw")[:2] == (0, 2)
    doc = json.loads((dataset / "arms.json").read_text())
    assert doc["arms"]["rules"]["ci95"][1] == 1.0 and doc["arms"]["raw"]["view"]["episodes"] == 10
    assert doc["operators"] and "score_scizor" in doc["operators"][0]
    assert (dataset / "arms.png").is_file()


def test_rerun_reuses_finished_arms_of_the_same_budget(dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import teleforge.train_adapter.train as tr

    calls: list = []

    def fake_train(cfg, progress=None):  # writes the checkpoint config a real run writes
        calls.append(cfg.view)
        best = Path(cfg.out) / "best"
        best.mkdir(parents=True, exist_ok=True)
        (best / "config.json").write_text(json.dumps({"train_config": {"steps": cfg.steps, "batch_size": cfg.batch_size,
                                                                        "lr": cfg.lr}}))
        return FakeTrainResult(best)

    monkeypatch.setattr(tr, "train", fake_train)
    cfg = ArmsConfig(out=dataset, episodes=10, arms=("raw", "rules"), train_steps=5, batch_size=4, eval_episodes=2,
                     eval_workers=1, methods=("scizor",))
    first = run_arms(cfg, loader=fake_loader)
    assert calls == [None, "rules"]
    again = run_arms(cfg, loader=fake_loader)
    assert calls == [None, "rules"]  # nothing retrained or re-evaluated
    assert again.pooled("rules") == first.pooled("rules") and again.pooled("raw") == first.pooled("raw")
    run_arms(ArmsConfig(**{**cfg.__dict__, "train_steps": 6}), loader=fake_loader)
    assert calls == [None, "rules", None, "rules"]  # a different budget trains again


def test_length_matched_control_matches_lengths(dataset: Path) -> None:
    ref = [0, 3, 7]
    v = length_matched_view(dataset / "dataset", "lm", ref, seed=1)
    assert len(v.episodes) == 3 and len(v.rejected) == 7


@pytest.mark.slow
def test_parallel_eval_matches_sequential_seeds() -> None:
    cfg = EvalConfig(task="pick_cube", episodes=3, videos=0)
    res = evaluate_parallel("x/rules-s0/best", cfg, workers=2, loader=fake_loader)
    assert [e.seed for e in res.episodes] == cfg.seeds() and res.successes == 3
