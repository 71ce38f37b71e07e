"""``--overwrite`` replaces only an export of the same format that teleforge wrote: never a dataset, a
parent of one, a folder with foreign files, or the current folder (issue 11, item 8)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from tests.convert.h5_synth import build_dataset
from typer.testing import CliRunner

from teleforge.cli.main import app
from teleforge.convert.hdf5.aloha import export_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic
from teleforge.convert.staging import stage_output
from teleforge.dataset.selection import select
from teleforge.errors import ExportError


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("guard") / "ds", episodes=2, steps=8)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_overwrite_refuses_a_recorded_dataset(ds: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    shutil.copytree(ds, victim)
    before = _listing(victim)
    for fmt in ("hf", "rlds", "aloha", "lerobot"):
        with pytest.raises(ExportError, match="teleforge dataset"):
            stage_output(victim, overwrite=True, fmt=fmt)
    with pytest.raises(ExportError, match="teleforge dataset"):
        export_aloha(select(ds), victim, overwrite=True)
    assert _listing(victim) == before


def test_overwrite_refuses_a_parent_of_a_dataset_and_foreign_folders(ds: Path, tmp_path: Path) -> None:
    parent = tmp_path / "projects"
    shutil.copytree(ds, parent / "ds")
    with pytest.raises(ExportError, match="not written by"):
        export_aloha(select(parent / "ds"), parent, overwrite=True)
    assert (parent / "ds" / "teleforge.json").is_file()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(ExportError, match="not written by"):
        export_aloha(select(ds), foreign, overwrite=True)
    assert (foreign / "holiday.jpg").is_file()


def test_overwrite_replaces_only_an_export_of_the_same_format(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "aloha"
    export_aloha(select(ds), out)
    export_aloha(select(ds), out, overwrite=True)  # its own format: replaced
    with pytest.raises(ExportError, match="aloha export"):
        stage_output(out, overwrite=True, fmt="hf")  # another format's export: refused
    (out / "notes.txt").write_text("mine")  # a foreign file added by a user
    with pytest.raises(ExportError, match="notes.txt"):
        export_aloha(select(ds), out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"


def test_robomimic_file_overwrite_needs_a_teleforge_file(ds: Path, tmp_path: Path) -> None:
    f = tmp_path / "sub" / "demo.hdf5"
    export_robomimic(select(ds), f)
    export_robomimic(select(ds), f, overwrite=True)
    other = tmp_path / "sub" / "theirs.hdf5"
    other.write_bytes(b"not ours")
    with pytest.raises(ExportError, match="not written by"):
        export_robomimic(select(ds), other, overwrite=True)
    assert other.read_bytes() == b"not ours"


def test_a_file_export_is_never_written_into_a_dataset_folder(ds: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    shutil.copytree(ds, victim)
    before = _listing(victim)
    with pytest.raises(ExportError, match="teleforge dataset"):
        export_robomimic(select(ds), victim / "demo.hdf5")  # its manifest would land in the dataset root
    assert _listing(victim) == before


@pytest.mark.parametrize("fmt", ["hf", "aloha", "robomimic"])
def test_out_dot_is_a_clean_error(ds: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    work = tmp_path / "work"
    shutil.copytree(ds, work / "ds")
    monkeypatch.chdir(work)
    before = _listing(work)
    for args in (["-o", "."], ["-o", ".", "--overwrite"], ["-o", "ds", "--overwrite"], ["-o", "..", "--overwrite"]):
        r = CliRunner().invoke(app, ["export", fmt, "ds", *args])
        assert r.exit_code == 1, (args, r.output)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, r.exception)
        assert "Traceback" not in r.output and r.output.strip().count("\n") <= 2, r.output
    assert _listing(work) == before
