"""`teleforge curate score`: learned quality scores into the catalog, and a view from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from teleforge.cli.curate import FromView, NameAlias, SourceArg, _fail, _source, _view_table, console, curate_app
from teleforge.errors import TeleforgeError


@curate_app.command("score")
def score_cmd(
    dataset: str = SourceArg,
    method: str = typer.Option(..., "--method", "-m", help="deminf | democore | scizor | policy-loss (see docs/curation-scores.md)."),
    rollouts: Optional[Path] = typer.Option(None, "--rollouts", help="democore: a dataset of policy rollouts (success and failure)."),
    policy: str = typer.Option("bundled", "--policy", help="policy-loss: the VLA checkpoint whose action loss scores the demos."),
    head: str = typer.Option("flow", "--head", help="policy-loss: flow (flow-matching loss) or tokens (cross-entropy)."),
    name: Optional[str] = typer.Option(None, "--name", help="Also save a view of the best episodes under this name (views/<name>.json)."),
    keep_frac: Optional[float] = typer.Option(None, "--keep-frac", help="The view keeps this best fraction (e.g. 0.7)."),
    top_k: Optional[int] = typer.Option(None, "--top-k", help="The view keeps the best K episodes."),
    min_score: Optional[float] = typer.Option(None, "--min-score", help="The view keeps episodes scoring at least this."),
    trims: bool = typer.Option(False, "--trims/--no-trims", help="scizor: apply the proposed head/tail trims in the view."),
    from_view: Optional[str] = FromView,
    name_alias: Optional[str] = NameAlias,
) -> None:
    """Score every episode with a learned method (higher = better) and store score_<method> in the catalog.

    DATASET:VIEW scores the whole dataset and makes the --name view from that view's episodes."""
    root, from_view, view = _source(dataset, from_view, name or "", name_alias)
    from teleforge.curation.scores import score_dataset, score_view
    from teleforge.dataset.views import save_view

    try:
        params: dict[str, Any] = {}
        if method == "policy-loss":
            import teleforge.workflows.policy_loss  # noqa: F401  registers the method (torch only when it runs)

            params = {"policy": policy, "head": head}
        res = score_dataset(root, method, rollouts=rollouts, **params)
        t = Table(title=f"score {method} -> catalog column {res.column}")
        for c in ("episodes", "steps", "seconds", "steps/s", "min", "median", "max"):
            t.add_column(c, justify="right")
        vals = sorted(v for v in res.scores.values() if v == v)
        med = vals[len(vals) // 2] if vals else float("nan")
        t.add_row(str(len(res.scores)), str(res.steps), f"{res.seconds:.2f}", f"{res.steps / max(res.seconds, 1e-9):,.0f}",
                  f"{vals[0]:.3f}" if vals else "-", f"{med:.3f}", f"{vals[-1]:.3f}" if vals else "-")
        console.print(t)
        if view:
            if top_k is None and keep_frac is None and min_score is None:
                keep_frac = 0.7
            v = score_view(root, view, method, top_k=top_k, keep_frac=keep_frac, min_score=min_score,
                           from_view=from_view, apply_trims=trims)
            save_view(root, v)
            console.print(_view_table(v, f"view {view} by {res.column} ({v.extra.get('selection')})"))
    except TeleforgeError as exc:
        _fail(exc)
