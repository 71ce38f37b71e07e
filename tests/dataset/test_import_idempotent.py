"""Item 13 of issue 11: an import that fails part-way, then is rerun after the fix, holds each demo once."""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import pytest

from teleforge.convert.hdf5.robomimic import export_robomimic, import_robomimic
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.errors import ImportFormatError
from tests.convert.h5_synth import build_dataset


def test_failed_import_then_rerun_does_not_duplicate(tmp_path: Path) -> None:
    good = tmp_path / "good.hdf5"
    export_robomimic(select(build_dataset(tmp_path / "src", episodes=3)), good)
    bad = tmp_path / "x.hdf5"
    shutil.copy(good, bad)
    with h5py.File(bad, "a") as f:
        del f["data/demo_2/actions"]  # the third demo is broken
    out = tmp_path / "out"
    with pytest.raises(ImportFormatError, match="demo_2"):
        import_robomimic(bad, out)
    assert len(Dataset.open(out)) == 2  # the first two demos landed
    shutil.copy(good, bad)  # the user fixes the file and reruns
    rep = import_robomimic(bad, out)
    ds = Dataset.open(out)
    demos = sorted(e.extras["demo"] for e in ds.episodes)
    assert demos == ["demo_0", "demo_1", "demo_2"]
    assert sorted(rep.episode_ids) == sorted(ds.episode_ids)
    rep = import_robomimic(bad, out)  # and a third run adds nothing
    assert len(Dataset.open(out)) == 3 and sorted(rep.episode_ids) == sorted(ds.episode_ids)
