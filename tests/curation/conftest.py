from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from teleforge.curation import compute_metrics
from tests.curation.synth import make_dataset, mixed_plans


@pytest.fixture(scope="session")
def _mixed_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_dataset(tmp_path_factory.mktemp("cur") / "mixed", mixed_plans())
    compute_metrics(root)
    return root


@pytest.fixture()
def mixed(_mixed_master: Path, tmp_path: Path) -> Path:
    """A measured dataset with clean demos and one episode per defect (a private copy)."""
    dst = tmp_path / "mixed"
    shutil.copytree(_mixed_master, dst)
    return dst
