"""``teleforge handoff openvla|openpi|lerobot|octo|robomimic|act DATASET[:VIEW] OUT``. Thin: parse, call, print."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from teleforge.cli.progress import RichProgress
from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError
from teleforge.workflows.handoff import TARGETS, HandoffConfig, handoff, parse_dataset_arg

console = Console()


def handoff_cmd(
    target: str = typer.Argument(..., help=" | ".join(TARGETS)),
    dataset: str = typer.Argument(..., help="Dataset folder, optionally with a curated view: DATASET:VIEW."),
    out: Path = typer.Argument(..., help="Output folder (created; holds the data, stats, config and a README)."),
    name: Optional[str] = typer.Option(None, help="Dataset name for the trainer (default: from the folder and view)."),
    primary_camera: Optional[str] = typer.Option(None, help="Camera used as the main image (default: front)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an OUT written by an earlier handoff."),
) -> None:
    """Write what another trainer needs (data, normalization stats, config entry) and a README saying what to run."""
    from teleforge.cli.grammar import split_dataset_view
    from teleforge.cli.remote import looks_remote, stage_selection
    from teleforge.dataset.selection import select

    root, view = split_dataset_view(dataset) if looks_remote(dataset) else parse_dataset_arg(dataset)
    try:
        if looks_remote(dataset):
            stage_selection(root, select(root, None, view).episode_ids)  # object storage: only the view's shards
        res = handoff(HandoffConfig(target=target, dataset=root, out=out, view=view, name=name,
                                    primary_camera=primary_camera, overwrite=overwrite),
                      progress=RichProgress(console))
    except TeleforgeError as exc:
        fail(exc)
    t = Table(title=f"handoff → {target} · {res.episodes} episodes, {res.steps} steps", title_justify="left")
    t.add_column("what")
    t.add_column("path")
    for role, p in res.files.items():
        t.add_row(role, str(p))
    console.print(t)
    console.print("run there:", soft_wrap=True)
    for c in res.commands:
        console.print(f"  [cyan]{escape(c)}[/]", soft_wrap=True, highlight=False)
    console.print(f"details: [bold]{out / 'README.md'}[/]")
