"""`teleforge demo`: every stage runs or degrades on its own, and the summary says which."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import teleforge.workflows.demo as demo  # noqa: E402
from teleforge.workflows.demo import DemoConfig, run_demo  # noqa: E402


def _tiny(out: Path, **kw: object) -> DemoConfig:
    return DemoConfig(out=out, tasks=("pick_cube",), episodes_per_task=2, failure_rate=0.0, image_size=48,
                      eval_episodes=1, videos=1, **kw)  # type: ignore[arg-type]


def _status(report: demo.DemoReport) -> dict[str, str]:
    return {s.name: s.status for s in report.stages}


def _text(report: demo.DemoReport) -> str:
    from rich.console import Console

    from teleforge.cli.render import demo_sections

    con = Console(record=True, width=160)
    for s in demo_sections(report):
        con.print(s)
    return con.export_text()


def test_demo_without_torch_collects_curates_exports_and_says_how_to_train(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "torch_available", lambda: False)
    rep = run_demo(_tiny(tmp_path))
    st = _status(rep)
    assert st == {"collect pick_cube": "ok", "curate": "ok", "export rlds": "ok", "export lerobot": "ok",
                  "fine-tune": "skipped", "eval": "skipped"}
    assert "teleforge[train]" in rep.stage("fine-tune").detail
    assert rep.summary["episodes"] == 2
    assert rep.curation["kept"] + rep.curation["rejected"] == 2
    assert (tmp_path / "dataset" / "report.html").is_file()
    assert (tmp_path / "dataset" / "views" / "curated.json").is_file()
    rlds = Path(rep.exports["rlds"])
    assert (rlds / "dataset_info.json").is_file()
    lr = json.loads((Path(rep.exports["lerobot"]) / "meta" / "info.json").read_text())
    assert lr["total_episodes"] == rep.curation["kept"]  # the curated view is what gets exported
    assert rep.timings["total"] > 0 and set(rep.timings) >= {"collect pick_cube", "curate", "total"}
    text = _text(rep)
    assert "skipped" in text and "teleforge[train]" in text and "curated" in text


def test_demo_fine_tunes_on_the_curated_view_and_evaluates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import teleforge.train_adapter.checkpoint as ckpt
    import teleforge.train_adapter.train as tr
    from teleforge.train_adapter.reference import ExpertPolicy

    @dataclass
    class Res:
        checkpoint: Path
        steps: int = 3
        episodes: int = 2
        seconds: float = 0.1

    seen: list = []
    monkeypatch.setattr(demo, "torch_available", lambda: True)
    monkeypatch.setattr(tr, "train", lambda cfg, progress=None: seen.append(cfg) or Res(Path(cfg.out) / "best"))
    monkeypatch.setattr(ckpt, "load_policy", lambda path, head=None: ExpertPolicy("pick_cube", image_size=48))
    rep = run_demo(_tiny(tmp_path, export=False))
    st = _status(rep)
    assert st["fine-tune"] == "ok" and st["eval"] == "ok" and st["export rlds"] == "skipped"
    assert seen[0].view == "curated" and seen[0].init == "bundled"
    assert rep.eval is not None and rep.eval.success_rate == 1.0 and len(rep.eval.episodes) == 1
    assert (tmp_path / "eval" / "results.json").is_file()
    assert "100%" in rep.stage("eval").detail


def test_demo_stage_failure_does_not_stop_later_stages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from teleforge.errors import ExportError

    def broken(*a: object, **k: object) -> str:
        raise ExportError("disk says no")

    monkeypatch.setattr(demo, "_export_rlds", broken)
    rep = run_demo(_tiny(tmp_path, train=False))
    st = _status(rep)
    assert st["export rlds"] == "failed" and "disk says no" in rep.stage("export rlds").detail
    assert st["export lerobot"] == "ok"


@pytest.mark.slow
def test_demo_quick_end_to_end_cli(tmp_path: Path) -> None:
    """`teleforge demo --quick` with the real bundled model (needs torch and the shipped checkpoint)."""
    pytest.importorskip("torch")
    from teleforge.train_adapter.checkpoint import BUNDLED_DIR

    if not any(BUNDLED_DIR.glob("*.safetensors")):
        pytest.skip("the bundled base checkpoint is not built yet")
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    r = CliRunner().invoke(app, ["demo", "--quick", "-o", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "eval" in r.output and "ok" in r.output
    doc = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert doc["episodes"] == 5 and 0.0 <= doc["success_rate"] <= 1.0


def test_rerunning_the_demo_into_the_same_folder_is_refused(tmp_path: Path) -> None:
    from teleforge.errors import DatasetError
    from teleforge.workflows.demo import run_demo

    (tmp_path / "dataset" / "episodes").mkdir(parents=True)
    with pytest.raises(DatasetError, match="append duplicates.*--out"):
        run_demo(_tiny(tmp_path))
