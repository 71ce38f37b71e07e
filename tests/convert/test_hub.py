"""`teleforge push` against a local stand-in for the Hub, and the dataset card itself."""

from __future__ import annotations

from pathlib import Path

import datasets
import huggingface_hub.constants
import pytest
import typer
from tests.convert.h5_synth import build_dataset, write_view
from tests.convert.hf_fake_hub import FakeHub
from typer.testing import CliRunner

from teleforge.cli.formats import push_cmd
from teleforge.convert.card import parse_card_header, render_card, size_category
from teleforge.convert.hf.export import export_hf
from teleforge.convert.hf.hub import push_export, write_card
from teleforge.convert.manifest import read_export_manifest
from teleforge.dataset.selection import select
from teleforge.errors import ExportError, HubError


@pytest.fixture
def export(tmp_path: Path) -> Path:
    src = build_dataset(tmp_path / "ds")
    write_view(src, "clean", [0, 2], rules=[{"rule": "outcome == success"}], rules_hash="abc123")
    export_hf(select(src, view="clean"), tmp_path / "hf")
    return tmp_path / "hf"


@pytest.fixture(autouse=True)
def no_xet(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in speaks the LFS protocol, not Xet's content-addressed store.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_DISABLE_XET", True)


def test_push_uploads_every_file_intact_with_a_card(export: Path) -> None:
    with FakeHub() as hub:
        r = push_export(export, "lab/pick-demos", token="hf_test", endpoint=hub.url)
    assert hub.unhandled == []
    assert [(c["organization"], c["name"], c["type"]) for c in hub.created] == [("lab", "pick-demos", "dataset")]
    files = hub.repos["lab/pick-demos"]
    local = {str(p.relative_to(export)): p.read_bytes() for p in export.rglob("*")
             if p.is_file() and not p.name.startswith(".")}  # dot-files (the output marker) stay local
    assert set(files) == set(local) and "README.md" in files
    assert all(files[k] == v for k, v in local.items())
    assert hub.lfs_uploads >= 1  # the arrow shard went through LFS batch + PUT + verify
    assert r.commit and len(hub.commits) == 1 and "Bearer hf_test" in hub.auth


def test_pushed_folder_loads_with_datasets_through_the_card_configs(export: Path, tmp_path: Path) -> None:
    with FakeHub() as hub:
        push_export(export, "lab/x", token="hf_test", endpoint=hub.url)
    repo = tmp_path / "clone"
    for name, data in hub.repos["lab/x"].items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    # What the Hub's loader does with the card: read data_files from `configs` with the arrow builder.
    cfg = parse_card_header((repo / "README.md").read_text())["configs"][0]["data_files"][0]
    loaded = datasets.load_dataset("arrow", data_files={"train": str(repo / cfg["path"])}, split="train")
    assert loaded.num_rows == 24 and sorted(set(loaded["episode_index"])) == [0, 2]


def test_cli_push_reads_hf_endpoint_from_the_environment(export: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = typer.Typer()
    app.command("push")(push_cmd)
    app.command("noop")(lambda: None)
    with FakeHub() as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        res = CliRunner().invoke(app, ["push", "lab/cli", "--export", str(export), "--token", "hf_t", "--tags", "pick"])
    assert res.exit_code == 0, res.output
    assert "tags" in parse_card_header(hub.repos["lab/cli"]["README.md"].decode())
    assert "pick" in parse_card_header(hub.repos["lab/cli"]["README.md"].decode())["tags"]


def test_push_failure_says_what_to_do(export: Path) -> None:
    with FakeHub() as hub:
        hub.server.RequestHandlerClass.do_POST = lambda self: self._send(401, {"error": "Invalid token"})  # type: ignore[method-assign]
        with pytest.raises(HubError, match="hf auth login"):
            push_export(export, "lab/x", token="bad", endpoint=hub.url)
    with pytest.raises(HubError, match="owner/name"):
        push_export(export, "justname", endpoint="http://127.0.0.1:9")


def test_card_header_has_what_the_hub_indexes(export: Path) -> None:
    text = write_card(export, license="cc-by-4.0").read_text()
    head = parse_card_header(text)
    assert head["license"] == "cc-by-4.0"
    assert head["task_categories"] == ["robotics"]
    assert {"robotics", "teleforge"} <= set(head["tags"])
    assert head["size_categories"] == ["n<1K"]
    assert head["configs"][0]["data_files"][0]["path"] == "data-*.arrow"


def test_card_body_describes_setup_tasks_curation_stats_and_preview(export: Path) -> None:
    text = (write_card(export)).read_text()
    m = read_export_manifest(export)
    for needle in ["## Collection setup", "test_arm_7dof", "Camera `front`: 24x32 jpeg", "scripted (2 episodes)",
                   "## Tasks and instructions", "`pick_cube` | 2", "“do pick_cube” (2)",
                   "curated view `clean`", "outcome == success", "abc123",
                   "- Episodes: 2", "- Steps: 24", "| gripper |", "![first frame](preview.jpg)"]:
        assert needle in text, needle
    assert (export / "preview.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert m["stats"]["outcomes"] == {"success": 2}
    # without a view the card says every episode is in
    plain = render_card({**m, "view": None, "view_info": {}})
    assert "No curation view" in plain and "curated view" not in plain


def test_size_category_boundaries() -> None:
    assert size_category(999) == "n<1K"
    assert size_category(1000) == "1K<n<10K"
    assert size_category(2_500_000) == "1M<n<10M"


def test_push_refuses_a_folder_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "random").mkdir()
    with pytest.raises(ExportError, match="not a teleforge export"):
        push_export(tmp_path / "random", "lab/x", endpoint="http://127.0.0.1:9")
