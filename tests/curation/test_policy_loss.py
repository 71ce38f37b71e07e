"""``curate score --method policy-loss``: the bundled VLA's action loss on each demo, stored and viewable,
registered from workflows so that curation itself never imports torch."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import teleforge.workflows.policy_loss  # noqa: E402,F401  registers policy-loss
from teleforge.curation.scores import score_dataset, score_view  # noqa: E402
from teleforge.dataset.catalog import read_catalog  # noqa: E402
from tests.curation.synth import EpisodePlan, make_dataset, make_spec  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six smooth demos and two jittery ones (front + wrist, 32 px), pick_cube."""
    plans = [EpisodePlan(seed=i, steps=24) for i in range(6)] + [EpisodePlan(seed=40 + i, steps=24, jitter=1.0) for i in range(2)]
    return make_dataset(tmp_path_factory.mktemp("pl") / "ds", plans, make_spec(("front", "wrist"), size=32, robot="teleforge_sim_panda"))


def test_policy_loss_lands_in_the_catalog_and_is_deterministic(tiny: Path) -> None:
    res = score_dataset(tiny, "policy-loss", step_stride=3, flow_samples=2)
    again = score_dataset(tiny, "policy-loss", store=False, step_stride=3, flow_samples=2)
    assert res.scores == again.scores
    rows = {int(r["episode_id"]): r for r in read_catalog(tiny).to_pylist()}
    for eid, v in res.scores.items():
        assert math.isfinite(v) and v < 0  # -(mean loss)
        assert rows[eid]["score_policy_loss"] == pytest.approx(v)
        assert rows[eid]["policy_loss_mean"] == pytest.approx(-v)
        assert 0 <= rows[eid]["policy_loss_worst_step"] < 24
        assert len(res.step_values[eid]) == 8  # steps 0, 3, ..., 21
    # Jittery demos (random action noise) are harder to imitate than smooth ones.
    ids = sorted(res.scores)
    assert np.mean([res.scores[i] for i in ids[6:]]) < np.mean([res.scores[i] for i in ids[:6]])


def test_policy_loss_view_keeps_the_best_with_reasons(tiny: Path) -> None:
    score_dataset(tiny, "policy-loss", step_stride=4, flow_samples=1, head="tokens")
    view = score_view(tiny, "pl", "policy-loss", top_k=5)
    assert len(view.episodes) == 5 and len(view.rejected) == 3
    reason = next(iter(view.rejected.values()))[0]
    assert reason["rule"] == "score_policy_loss" and reason["kind"] == "learned_score"


def test_curation_imports_no_torch() -> None:
    code = ("import sys, teleforge.curation, teleforge.curation.scores as s, teleforge.cli.curate_score, "
            "teleforge.workflows.policy_loss; assert 'policy-loss' in s.METHODS; assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_scores_with_policy_loss_and_saves_a_view(tiny: Path) -> None:
    from typer.testing import CliRunner

    import teleforge.cli.curate_score  # noqa: F401  registers `curate score`
    from teleforge.cli.curate import curate_app

    res = CliRunner().invoke(curate_app, ["score", str(tiny), "--method", "policy-loss", "--head", "tokens",
                                          "--name", "pl_cli", "--top-k", "6"])
    assert res.exit_code == 0, res.output
    assert "score_policy_loss" in res.output
    assert (tiny / "views" / "pl_cli.json").exists()


def test_policy_loss_says_what_the_policy_cannot_see(tmp_path: Path) -> None:
    from teleforge.errors import CurationError

    root = make_dataset(tmp_path / "front_only", [EpisodePlan(seed=i, steps=12) for i in range(2)], make_spec(("front",), size=32))
    with pytest.raises(CurationError, match="wrist"):
        score_dataset(root, "policy-loss", store=False)
