"""Interrupted exports: a process killed mid-export never leaves a folder that looks complete;
re-running resumes (RLDS) or refuses clearly until --overwrite (every format). Views in HDF5 exports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest
from tests.convert.h5_synth import build_dataset, write_view

from teleforge.convert import RldsExportConfig, RldsReader, export_rlds
from teleforge.convert.hdf5.aloha import export_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic
from teleforge.convert.hf.export import export_hf
from teleforge.dataset import Dataset
from teleforge.dataset.selection import select
from teleforge.errors import ExportError, MissingEpisodesError, PartialExportError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def src(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("partial") / "ds", episodes=3, steps=12)


def _crash_during(module: str, fn: str, at: int, call: str) -> None:
    """Run ``call`` in a child process that dies (os._exit, no cleanup) on the ``at``-th call of module.fn."""
    code = textwrap.dedent(f"""
        import os, sys
        sys.path.insert(0, {str(ROOT)!r})
        import {module} as m
        from teleforge.dataset.selection import select
        orig = m.{fn}
        n = [0]
        def crash(*a, **k):
            n[0] += 1
            if n[0] == {at}:
                os._exit(9)
            return orig(*a, **k)
        m.{fn} = crash
        {call}
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])})
    assert r.returncode == 9, r.stderr[-2000:]


CASES = {
    "hf": ("teleforge.convert.hf.export", "_image_column", 2, "from teleforge.convert.hf import export_hf as ex; ex(select({src!r}), {out!r})",
           lambda s, o, **k: export_hf(select(s), o, **k)),
    "robomimic": ("teleforge.convert.hdf5.robomimic", "dense_frames", 3,
                  "from teleforge.convert.hdf5.robomimic import export_robomimic as ex; ex(select({src!r}), {out!r})",
                  lambda s, o, **k: export_robomimic(select(s), o, **k)),
    "aloha": ("teleforge.convert.hdf5.aloha", "dense_frames", 3,
              "from teleforge.convert.hdf5.aloha import export_aloha as ex; ex(select({src!r}), {out!r})",
              lambda s, o, **k: export_aloha(select(s), o, **k)),
}


@pytest.mark.parametrize("fmt", list(CASES))
def test_killed_export_leaves_nothing_that_looks_complete_and_rerun_refuses_until_overwrite(
        src: Path, tmp_path: Path, fmt: str) -> None:
    module, fn, at, call, run = CASES[fmt]
    out = tmp_path / ("out.hdf5" if fmt == "robomimic" else "out")
    _crash_during(module, fn, at, call.format(src=str(src), out=str(out)))
    assert not out.exists()  # the final name appears only when everything is written
    assert (tmp_path / ".out.partial").exists() or (tmp_path / ".out.hdf5.partial").exists()
    with pytest.raises(PartialExportError, match=r"interrupted export.*--overwrite"):
        run(src, out)
    assert not out.exists()
    run(src, out, overwrite=True)
    assert out.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # staging and owner gone


def test_killed_rlds_export_resumes_with_finished_shards(src: Path, tmp_path: Path) -> None:
    cfg = "RldsExportConfig(name='res', num_shards=3, workers=1)"
    _crash_during("teleforge.convert.rlds.writer", "write_episode", 2,
                  f"from teleforge.convert.rlds import export_rlds, RldsExportConfig; export_rlds({str(src)!r}, {str(tmp_path)!r}, {cfg})")
    final = tmp_path / "res" / "1.0.0"
    staging = tmp_path / "res" / ".1.0.0.partial"
    assert not final.exists() and (staging / "res-train.tfrecord-00000-of-00003").is_file()
    # another selection cannot reuse it: refused, named, --overwrite offered
    with pytest.raises(PartialExportError, match="cannot be resumed.*--overwrite"):
        export_rlds(src, tmp_path, RldsExportConfig(name="res", num_shards=3, workers=1, episodes=[0, 1]))
    res = export_rlds(src, tmp_path, RldsExportConfig(name="res", num_shards=3, workers=1, check=True))
    assert res.resumed_shards == 1 and res.check is not None and res.check.episodes == 3
    clean = export_rlds(src, tmp_path / "clean", RldsExportConfig(name="res", num_shards=3, workers=1))
    for f in sorted(clean.path.glob("res-train.tfrecord-*")):
        assert (final / f.name).read_bytes() == f.read_bytes()
    assert sorted(p.name for p in final.iterdir()) == sorted(p.name for p in clean.path.iterdir())  # no leftovers
    assert not staging.exists() and not (tmp_path / "res" / ".1.0.0.partial.json").exists()


def test_failed_export_keeps_the_previous_one(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "hf"
    export_hf(select(src, episodes=[0]), out)
    before = sorted(p.name for p in out.iterdir())
    with pytest.raises(ExportError):
        export_hf(select(src, episodes=[0, 77]), out, overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == before


def test_live_writer_is_never_disturbed(src: Path, tmp_path: Path) -> None:
    out = tmp_path / "al"
    (tmp_path / ".al.partial").mkdir()
    (tmp_path / ".al.partial.json").write_text(json.dumps({"pid": os.getppid(), "host": os.uname().nodename}))
    with pytest.raises(PartialExportError, match=r"another export \(pid \d+"):
        export_aloha(select(src), out, overwrite=True)
    assert (tmp_path / ".al.partial").is_dir()


# --- views in the HDF5 exports --------------------------------------------------
def test_robomimic_and_aloha_export_only_a_views_trimmed_steps(src: Path, tmp_path: Path) -> None:
    write_view(src, "h5_trim", [2, 1], trims={1: (4, 10)})
    ds = Dataset.open(src)
    native = ds.episode(1)
    r = export_robomimic(select(src, view="h5_trim"), tmp_path / "rm.hdf5")
    assert r.demos == 2 and r.samples == 12 + 6
    with h5py.File(tmp_path / "rm.hdf5") as f:
        d = f["data/demo_1"]
        assert d.attrs["num_samples"] == 6 and int(d.attrs["episode_id"]) == 1
        np.testing.assert_array_equal(d["actions"][()], native.column("action")[4:10])
        assert d["dones"][()].tolist() == [0, 0, 0, 0, 0, 1]
        np.testing.assert_array_equal(d["obs/front_image"][0], native.image("front", 4))
        assert f["data"].attrs["total"] == 18
    a = export_aloha(select(src, view="h5_trim"), tmp_path / "al")
    assert [p.name for p in a.files] == ["episode_0.hdf5", "episode_1.hdf5"]
    with h5py.File(tmp_path / "al" / "episode_1.hdf5") as f:
        np.testing.assert_array_equal(f["observations/qpos"][:, :-1], native.column("observation.state.joint_pos")[4:10])
        np.testing.assert_array_equal(f["teleforge/tick_ns"][()], native.column("tick_ns")[4:10])
    manifest = json.loads((tmp_path / "al" / "teleforge_export.json").read_text())
    assert manifest["view"] == "h5_trim" and manifest["episodes"][1]["trim"] == [4, 10]
    assert manifest["stats"]["steps"] == 18


def test_view_naming_missing_episodes_is_refused_for_every_format(src: Path, tmp_path: Path) -> None:
    write_view(src, "gone", [0, 5, 6])
    with pytest.raises(MissingEpisodesError, match=r"view 'gone' names 2 episode\(s\) .*\[5, 6\]"):
        select(src, view="gone")
    write_view(src, "only0", [0])
    with pytest.raises(ExportError, match=r"episodes \[1\] are not in view 'only0'"):
        select(src, view="only0", episodes=[1])


@pytest.mark.parametrize("fmt", ["hf", "robomimic", "aloha"])
def test_cli_export_view_option(src: Path, tmp_path: Path, fmt: str) -> None:
    import typer
    from typer.testing import CliRunner

    from teleforge.cli.formats import register_export_commands

    write_view(src, "cli_v", [0], trims={0: (0, 5)})
    app = typer.Typer()
    register_export_commands(app)
    out = tmp_path / ("x.hdf5" if fmt == "robomimic" else "x")
    r = CliRunner().invoke(app, [fmt, str(src), "-o", str(out), "--view", "cli_v"])
    assert r.exit_code == 0, r.output
    assert "5 steps" in r.output or "5 samples" in r.output
    r = CliRunner().invoke(app, [fmt, str(src), "-o", str(tmp_path / "y"), "--view", "missing_view"])
    assert r.exit_code == 1 and "no view 'missing_view'" in r.output


def test_rlds_reader_still_reads_resumed_export(src: Path, tmp_path: Path) -> None:
    # sanity: a normal export is readable and lists the view it came from (none here)
    res = export_rlds(src, tmp_path, RldsExportConfig(name="plain"))
    assert len(RldsReader(res.path)) == 3
    assert json.loads((res.path / "teleforge_rlds.json").read_text())["view"] is None
