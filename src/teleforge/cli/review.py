"""``teleforge review DATASET[:VIEW]``: the local review web app. Thin: parse, start the server, print the URL."""

from __future__ import annotations

import os
import webbrowser

import typer
from rich.console import Console

from teleforge.cli.grammar import split_dataset_view
from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError

console = Console()


def review_cmd(
    dataset: str = typer.Argument(..., metavar="DATASET[:VIEW]", help="Dataset folder, optionally DATASET:VIEW to start from a view's keep/drop marks."),
    name: str = typer.Option("review", "--name", help="View every decision is saved to (views/NAME.json, log views/NAME.log.jsonl)."),
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    who: str = typer.Option(os.environ.get("USER", "reviewer"), "--who", help="Reviewer name written to the edit log."),
    open_browser: bool = typer.Option(True, "--open/--no-open", help="Open the app in the default browser."),
) -> None:
    """Review episodes in the browser: sortable table, synced cameras and plots, keyboard triage saved to a view.

    Needs teleforge[review] (Starlette + uvicorn). Binds to 127.0.0.1 only; the URL carries a per-run token.
    Keys: j/k next/previous, a keep, d drop, [ / ] trim start/end at the scrubber, i instruction, o outcome.
    """
    from teleforge.curation.review_data import ReviewSession
    from teleforge.workflows.review import ReviewServer

    root, view = split_dataset_view(dataset)
    try:
        session = ReviewSession(root, view, name=name, who=who)
        server = ReviewServer(session, port=port).start()
    except TeleforgeError as exc:
        fail(exc)
    console.print(f"reviewing [bold]{root}[/] ({len(session.order)} episodes{f', from view {view}' if view else ''}); "
                  f"decisions go to {session.summary()['view_path']}", highlight=False)
    console.print(f"open: {server.url}", soft_wrap=True, highlight=False, markup=False)
    console.print("Ctrl-C stops the server.", style="dim")
    if open_browser:
        webbrowser.open(server.url)
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
