"""ENOSPC injected at the file boundary: typed error, nothing already written is lost."""

from __future__ import annotations

import errno
import os

import numpy as np
import pytest

from teleforge.dataset import AsyncRecorder, Dataset, EpisodeEnd, EpisodeWriter, recover
from teleforge.errors import DiskFullError
from tests.dataset.synth import make_start, make_step


class FillingDisk:
    """A real file that raises ENOSPC once ``budget`` bytes were written (after a partial write)."""

    def __init__(self, path, budget: int) -> None:
        self._f = open(path, "xb", buffering=0)
        self.budget = budget

    def write(self, data) -> int:
        data = bytes(data)
        if len(data) > self.budget:
            self._f.write(data[: self.budget])  # a torn write, as a real full disk leaves
            self.budget = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self.budget -= len(data)
        return self._f.write(data)

    def __getattr__(self, name):
        return getattr(self._f, name)

    @property
    def closed(self) -> bool:
        return self._f.closed


def test_disk_full_mid_episode_keeps_flushed_steps_and_prior_episodes(ds_root, rng):
    root, spec = ds_root
    prior = EpisodeWriter(root, spec, make_start(), batch_rows=4)
    for i in range(12):
        prior.append(make_step(i, spec, rng))
    prior.finalize(EpisodeEnd("success"))

    w = EpisodeWriter(root, spec, make_start(), batch_rows=4, flush_interval_s=0.0,
                      file_factory=lambda p: FillingDisk(p, budget=40_000))
    with pytest.raises(DiskFullError) as e:
        for i in range(200):
            w.append(make_step(i, spec, rng))
    safe = w.steps_on_disk
    assert safe > 0 and f"{safe} steps are safely on disk" in str(e.value)
    assert "teleforge recover" in str(e.value)
    with pytest.raises(DiskFullError):  # the writer stays failed: no garbage appended after the tear
        w.append(make_step(999, spec, rng))
    w.abandon()
    assert w.partial_path.exists()

    report = recover(root)
    assert report.recovered == [1] and report.recovered_steps[1] == safe
    ds = Dataset.open(root)
    assert [e.num_steps for e in ds.episodes] == [12, safe]
    np.testing.assert_array_equal(ds.episode(1).column("step"), np.arange(safe))
    assert ds.episode(0).meta.outcome == "success"


def test_disk_full_surfaces_through_the_recorder(ds_root, rng):
    root, spec = ds_root

    def factory(r, s, start):
        return EpisodeWriter(r, s, start, batch_rows=4, flush_interval_s=0.0,
                             file_factory=lambda p: FillingDisk(p, budget=30_000))

    rec = AsyncRecorder(root, writer_factory=factory)
    rec.start_episode(make_start())
    with pytest.raises(DiskFullError, match="safely on disk"):
        for i in range(10_000):
            rec.submit(make_step(i, spec, rng))
            if i % 20 == 0:
                import time

                time.sleep(0.01)  # let the writer thread run into the full disk
    assert rec.status().last_error and "DiskFullError" in rec.status().last_error
    with pytest.raises(DiskFullError):
        rec.finish(EpisodeEnd("success"))
    rec.close()
    partials = list((root / "episodes").glob("*.partial"))
    assert len(partials) == 1 and os.path.getsize(partials[0]) > 0
    report = recover(root)
    assert report.recovered == [0] and report.recovered_steps[0] > 0
