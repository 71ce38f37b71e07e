from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.dataset.synth import make_dataset


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def ds_root(tmp_path: Path):
    return make_dataset(tmp_path / "ds")
