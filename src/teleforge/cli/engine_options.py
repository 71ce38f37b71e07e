"""``--engine local|ray`` and ``--ray-address`` for the command groups that do dataset-wide
work (``teleforge curate --engine ray metrics DS``, ``teleforge export --engine ray rlds DS OUT``)."""

from __future__ import annotations

from typing import Optional

import typer

from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError

EngineOpt = typer.Option("local", "--engine", help="Where dataset-wide work runs: local (this machine) or ray (Ray Data; pip install 'teleforge[ray]').")
RayAddressOpt = typer.Option(None, "--ray-address", help="Join this Ray cluster (e.g. ray://head:10001 or auto); default: start a local Ray for this command.")


def enter_engine(ctx: typer.Context, engine: str, ray_address: Optional[str]) -> None:
    """Make ``engine`` current for the rest of the command (closed, and a local Ray shut down, at exit)."""
    if engine == "local" and not ray_address:
        return  # the default: nothing to build
    from teleforge.dataset.engine import use_engine

    try:
        ctx.with_resource(use_engine(engine, ray_address))
    except TeleforgeError as exc:
        fail(exc)
