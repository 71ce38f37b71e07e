"""A disk that fills up mid-episode during `teleforge collect`: one-line error, nothing lost."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

import teleforge.dataset as tds
from teleforge.cli.main import app
from teleforge.dataset import Dataset, EpisodeWriter
from tests.dataset.test_disk_full import FillingDisk


def test_disk_full_mid_episode_is_one_line_and_keeps_everything(tmp_path: Path, monkeypatch):
    real = tds.AsyncRecorder
    episodes_started = []

    def factory(root, spec, start):
        episodes_started.append(start)
        if len(episodes_started) == 1:
            return EpisodeWriter(root, spec, start)
        # the second episode runs out of disk after ~200 kB
        return EpisodeWriter(root, spec, start, flush_interval_s=0.0, file_factory=lambda p: FillingDisk(p, 200_000))

    monkeypatch.setattr(tds, "AsyncRecorder", lambda ds, **kw: real(ds, writer_factory=factory, **kw))
    root = tmp_path / "ds"
    res = CliRunner().invoke(app, ["collect", "--device", "scripted", "--task", "pick_cube", "--episodes", "3",
                                   "--headless", "--dataset", str(root)])
    assert res.exit_code == 1
    err_lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(err_lines) == 1 and "teleforge recover" in err_lines[0] and "safely on disk" in err_lines[0]
    assert "Traceback" not in res.output

    ds = Dataset.open(root)
    assert [e.outcome for e in ds.episodes] == ["success"]  # the first episode is intact
    assert len(ds.partials) == 1
    report = tds.recover(root)
    assert report.recovered == [1] and report.recovered_steps[1] > 0
    assert len(Dataset.open(root).episodes) == 2
