"""Rich drawing of library progress: bars for tasks, lines for messages."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from teleforge.progress import Level


def make_progress(console: Console) -> Progress:
    """The bar layout every command uses: label, bar, n/total, status, elapsed, remaining."""
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


def _status(info: dict[str, Any]) -> str:
    parts = []
    for k, v in info.items():
        parts.append(f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}")
    return escape(" · ".join(parts))


class RichProgress:
    """A :class:`teleforge.progress.Progress` that draws on a rich console.

    One live display holds every open task (nested tasks appear as further bars); it
    stops when the outermost task is done, so messages between tasks print plainly.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self._live: Progress | None = None
        self._tasks: list[TaskID] = []

    def start(self, total: int | None, label: str) -> None:
        if self._live is None:
            self._live = make_progress(self.console)
            self._live.start()
        self._tasks.append(self._live.add_task(escape(label), total=total, status=""))

    def advance(self, n: int = 1, **info: Any) -> None:
        if self._live is None or not self._tasks:
            return
        if info:
            self._live.update(self._tasks[-1], advance=n, status=_status(info))
        else:
            self._live.update(self._tasks[-1], advance=n)

    def message(self, text: str, level: Level = "info") -> None:
        if level == "heading":
            self.console.rule(f"[bold]{escape(text)}")
        elif level == "warning":
            self.console.print(f"[yellow]{escape(text)}[/]", soft_wrap=True, highlight=False)
        else:
            self.console.print(escape(text), soft_wrap=True, highlight=False)

    def done(self) -> None:
        if self._live is None or not self._tasks:
            return
        self._tasks.pop()
        if not self._tasks:
            self._live.stop()
            self._live = None
