"""Every command's --help renders, keeps its square brackets, and documents every option; one grammar."""

from __future__ import annotations

import click
import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from teleforge.cli.main import app

runner = CliRunner()


def _commands(cmd: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    out = [(path, cmd)]
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            out += _commands(sub, (*path, name))
    return out


ALL = _commands(get_command(app))


@pytest.mark.parametrize("path,cmd", ALL, ids=[" ".join(p) or "teleforge" for p, _ in ALL])
def test_help_renders_and_every_option_has_help(path: tuple[str, ...], cmd: click.Command) -> None:
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200", "TERM": "dumb"})
    assert res.exit_code == 0, res.output
    for p in cmd.params:
        if getattr(p, "hidden", False) or p.name in ("help",):
            continue
        assert (getattr(p, "help", None) or "").strip(), f"`teleforge {' '.join(path)}`: {p.opts} has no help"
    # one grammar: -d is --dataset, -n a count, views are DATASET:VIEW, --image-size for pixels
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "option" and not p.hidden:
            assert not {"--view", "--from", "--data", "--size"} & set(p.opts), f"{path}: {p.opts} is an old spelling"
            if "-d" in p.opts:
                assert "--dataset" in p.opts, f"{path}: -d must mean --dataset, not {p.opts}"
            if "-n" in p.opts:
                assert "--episodes" in p.opts, f"{path}: -n must mean --episodes (a count), not {p.opts}"


def test_square_brackets_survive_in_help() -> None:
    out = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "DATASET[:VIEW]" in out
    out = runner.invoke(app, ["curate", "filter", "--help"], env={"COLUMNS": "200"}).output
    assert "[[rule]]" in out
    out = runner.invoke(app, ["review", "--help"], env={"COLUMNS": "200"}).output
    assert "teleforge[review]" in out and "DATASET[:VIEW]" in out


def test_version() -> None:
    import teleforge

    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and res.output.strip() == f"teleforge {teleforge.__version__}"


def test_dataset_view_split(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from teleforge.cli.grammar import split_dataset_view

    assert split_dataset_view("data:filtered") == (__import__("pathlib").Path("data"), "filtered")
    assert split_dataset_view(str(tmp_path)) == (tmp_path, None)
    assert split_dataset_view(f"{tmp_path}:v") == (tmp_path, "v")
    assert split_dataset_view("data", "old") == (__import__("pathlib").Path("data"), "old")
    with pytest.raises(typer.BadParameter):
        split_dataset_view("data:a", "b")
