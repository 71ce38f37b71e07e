"""``teleforge export …``: hand a dataset to other trainers. Thin: parse, call convert, print."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from teleforge.cli.engine_options import EngineOpt, RayAddressOpt, enter_engine
from teleforge.errors import TeleforgeError

export_app = typer.Typer(rich_markup_mode=None, help="Export a dataset for other trainers (RLDS / Open X-Embodiment, ...).", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@export_app.callback()
def _group(ctx: typer.Context, engine: str = EngineOpt, ray_address: Optional[str] = RayAddressOpt) -> None:
    """Export a dataset for other trainers (RLDS / Open X-Embodiment, ...)."""
    enter_engine(ctx, engine, ray_address)


def _ids(episodes: Optional[str]) -> Optional[list[int]]:
    if not episodes:
        return None
    try:
        return [int(x) for x in episodes.split(",") if x.strip()]
    except ValueError:
        raise typer.BadParameter(f"--ids takes comma-separated episode ids, got {episodes!r}") from None


@export_app.command("rlds")
def rlds(
    dataset: str = typer.Argument(..., metavar="DATASET[:VIEW]", help="Native dataset folder; DATASET:VIEW exports a curated view's kept, trimmed steps."),
    out: Path = typer.Option(..., "--out", "-o", help="Output root; the export lands in OUT/NAME/VERSION."),
    name: str = typer.Option("teleforge_dataset", help="TFDS dataset name (snake_case)."),
    version: str = typer.Option("1.0.0", help="TFDS version folder (X.Y.Z)."),
    action_space: str = typer.Option("ee_delta", help="ee_delta (native, 0=open) | openvla (gripper 1=open) | joint_pos"),
    state: str = typer.Option("eef", help="observation/state layout: eef (pos + quat wxyz + gripper) | joints"),
    primary_camera: Optional[str] = typer.Option(None, help="Camera stored as observation/image (default: the first)."),
    ids: Optional[str] = typer.Option(None, "--ids", help="Comma-separated episode ids (default: all; with a view, narrows it)."),
    episodes: Optional[str] = typer.Option(None, "--episodes", hidden=True, help="Deprecated: use --ids."),
    view: Optional[str] = typer.Option(None, "--view", hidden=True, help="Deprecated: use DATASET:VIEW."),
    shards: Optional[int] = typer.Option(None, help="Number of TFRecord shards (default: from size, at least --workers)."),
    workers: int = typer.Option(2, help="Shards written in parallel processes."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing OUT/NAME/VERSION."),
    check: bool = typer.Option(False, "--check", help="Read everything back and verify step counts and dtypes."),
) -> None:
    """Write a TFDS-loadable RLDS dataset (no TensorFlow needed) with dataset_statistics.json."""
    from teleforge.cli.grammar import deprecated, split_dataset_view
    from teleforge.cli.remote import stage_selection
    from teleforge.convert.rlds import RldsExportConfig, export_rlds
    from teleforge.dataset.fs import remote_of
    from teleforge.dataset.selection import select

    root, view = split_dataset_view(dataset, deprecated(None, view, "--view", "DATASET:VIEW"))
    episodes = deprecated(ids, episodes, "--episodes", "--ids")
    try:
        if remote_of(root):
            stage_selection(root, select(root, _ids(episodes), view).episode_ids)  # object storage: only these shards
    except TeleforgeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=1) from None
    cfg = RldsExportConfig(name=name, version=version, action_space=action_space, state=state,
                           primary_camera=primary_camera, episodes=_ids(episodes), view=view, num_shards=shards,
                           workers=workers, overwrite=overwrite, check=check)
    try:
        res = export_rlds(root, out, cfg)
    except TeleforgeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", soft_wrap=True, highlight=False)
        raise typer.Exit(code=1) from None
    console.print(
        f"wrote [bold]{res.path}[/]: {res.num_episodes} episodes, {res.num_steps} steps, "
        f"{len(res.shard_lengths)} shards, {res.num_bytes / 1e6:.1f} MB in {res.seconds:.1f} s "
        f"({res.steps_per_s:.0f} steps/s)",
        soft_wrap=True,
    )
    if res.resumed_shards:
        console.print(f"resumed an interrupted export: {res.resumed_shards} finished shards reused", soft_wrap=True)
    if res.check is not None:
        console.print(f"check: ok — {res.check.episodes} episodes, {res.check.steps} steps, every field aligned", soft_wrap=True)
    console.print(f"load it with: tfds.builder_from_directory({str(res.path)!r}).as_dataset(split='train')", soft_wrap=True)
