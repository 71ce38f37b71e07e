"""The pipeline never blocks the control thread and never drops a step silently."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from teleforge.dataset import AsyncRecorder, Dataset, EpisodeEnd, EpisodeWriter
from teleforge.errors import DatasetError, RecorderError
from tests.dataset.synth import make_start, make_step


class GatedWriter(EpisodeWriter):
    """A sink that stalls until the test opens the gate: the slowest disk possible."""

    gate = threading.Event()

    def append(self, rec, encoded=None):
        self.gate.wait(timeout=30)
        super().append(rec, encoded)


def test_submit_never_blocks_on_a_stalled_writer_and_reports_behind(ds_root, rng):
    root, spec = ds_root
    GatedWriter.gate = threading.Event()
    rec = AsyncRecorder(root, queue_capacity=10, writer_factory=lambda r, s, st: GatedWriter(r, s, st))
    rec.start_episode(make_start())
    steps = [make_step(i, spec, rng, t0=0) for i in range(60)]
    for s in steps:  # if submit waited on the writer, this would hang (the gate is closed)
        rec.submit(s)
    st = rec.status()
    assert st.behind and st.queue_depth == 60 and st.overflow_steps == 50 and st.queue_high_water == 60
    assert st.steps_written == 0
    GatedWriter.gate.set()
    summary = rec.finish(EpisodeEnd("success"))
    rec.close()
    assert summary.num_steps == 60  # nothing dropped
    ep = Dataset.open(root).episode(summary.episode_id)
    np.testing.assert_array_equal(ep.column("step"), np.arange(60))
    stats = ep.meta.loop_stats["recorder"]
    assert stats["overflow_steps"] == 50 and stats["queue_high_water"] == 60 and stats["behind"]
    assert ep.meta.recorder_behind_steps == 50 and ep.meta.queue_high_water == 60
    assert not rec.status().behind


def test_backlog_beyond_hard_limit_raises_instead_of_dropping(ds_root, rng):
    root, spec = ds_root
    GatedWriter.gate = threading.Event()
    rec = AsyncRecorder(root, queue_capacity=4, max_backlog=20, writer_factory=lambda r, s, st: GatedWriter(r, s, st))
    rec.start_episode(make_start())
    step = make_step(0, spec, rng)
    for _ in range(20):
        rec.submit(step)
    with pytest.raises(RecorderError, match="20 steps behind"):
        rec.submit(step)
    GatedWriter.gate.set()
    assert rec.finish(EpisodeEnd("failure")).num_steps == 20
    rec.close()


def test_writer_errors_surface_on_next_submit_and_in_status(ds_root, rng):
    root, spec = ds_root

    class Boom(EpisodeWriter):
        def append(self, rec, encoded=None):
            raise RecorderError("sink exploded")

    rec = AsyncRecorder(root, writer_factory=lambda r, s, st: Boom(r, s, st))
    rec.start_episode(make_start())
    rec.submit(make_step(0, spec, rng))
    for _ in range(200):
        if rec.status().last_error:
            break
        threading.Event().wait(0.01)
    assert "sink exploded" in (rec.status().last_error or "")
    with pytest.raises(RecorderError, match="sink exploded"):
        rec.submit(make_step(1, spec, rng))
    rec.discard()
    assert not list((root / "episodes").glob("*.partial"))
    rec.close()


def test_bad_frame_is_reported_not_dropped_silently(ds_root, rng):
    root, spec = ds_root
    rec = AsyncRecorder(root)
    rec.start_episode(make_start())
    bad = make_step(0, spec, rng)
    bad.images["front"] = np.zeros((5, 5, 3), np.uint8)  # wrong size
    rec.submit(bad)
    with pytest.raises(DatasetError, match="frame is 5x5"):
        rec.finish(EpisodeEnd("success"))
    rec.close()


def test_close_mid_episode_leaves_partial_for_recover(ds_root, rng):
    root, spec = ds_root
    rec = AsyncRecorder(root)
    rec.start_episode(make_start())
    for i in range(7):
        rec.submit(make_step(i, spec, rng))
    rec.close()
    from teleforge.dataset import recover

    report = recover(root)
    assert report.recovered_steps == {0: 7}


def test_submit_without_episode_is_an_error(ds_root, rng):
    root, spec = ds_root
    with AsyncRecorder(root) as rec:
        with pytest.raises(RecorderError, match="start_episode"):
            rec.submit(make_step(0, spec, rng))
        rec.start_episode(make_start())
        with pytest.raises(RecorderError, match="already recording"):
            rec.start_episode(make_start())
        rec.discard()
