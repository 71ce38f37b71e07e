"""Rich progress bars shared by long-running commands."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def make_progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


@contextmanager
def episode_progress(console: Console, total: int, label: str) -> Iterator[Callable[[Any], None]]:
    """Yields a callback for each finished episode (an EpisodeResult)."""
    counts: dict[str, int] = {}
    with make_progress(console) as prog:
        task = prog.add_task(label, total=total, status="")

        def advance(res: Any) -> None:
            counts[res.outcome] = counts.get(res.outcome, 0) + 1
            status = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
            prog.update(task, advance=0 if res.outcome == "discarded" else 1, status=status)

        yield advance
