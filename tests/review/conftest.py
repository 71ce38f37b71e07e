from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from teleforge.curation import compute_metrics, dedupe_view, filter_view, save_view
from tests.curation.synth import EpisodePlan, make_dataset, make_spec, mixed_plans


@pytest.fixture(scope="session")
def _review_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plans = [*mixed_plans(), EpisodePlan(seed=1, idle_head=3, idle_tail=8)]  # a duplicate of episode 1
    root = make_dataset(tmp_path_factory.mktemp("rev") / "mixed", plans, make_spec(("front", "wrist"), 48))
    compute_metrics(root)
    save_view(root, filter_view(root, "filtered"))
    save_view(root, dedupe_view(root, "deduped")[0])
    return root


@pytest.fixture()
def reviewed(_review_master: Path, tmp_path: Path) -> Path:
    """A measured two-camera dataset with a filter view and a dedupe view (a private copy)."""
    dst = tmp_path / "mixed"
    shutil.copytree(_review_master, dst)
    return dst
