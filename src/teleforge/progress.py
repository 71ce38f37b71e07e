"""Progress reporting without drawing: the callback library code reports through (layer 0).

A long-running library call takes ``progress: Progress | None = None``, reports what it is
doing through it and returns its result; it never prints. The CLI passes a rich
implementation (``teleforge.cli.progress.RichProgress``); scripts and tests pass nothing
(:class:`NullProgress`) or their own recorder.

Tasks nest: :meth:`Progress.start` opens a task (a bar when drawn), :meth:`Progress.done`
closes the innermost open one, and :meth:`Progress.advance` moves the innermost one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, Protocol

Level = Literal["info", "heading", "warning"]


class Progress(Protocol):
    """Receives progress from a library call; implementations decide how (or whether) to show it."""

    def start(self, total: int | None, label: str) -> None:
        """Open a task of ``total`` units (None: unknown) called ``label``."""
        ...

    def advance(self, n: int = 1, **info: Any) -> None:
        """``n`` more units of the innermost task are done; ``info`` is its current status (e.g. ``loss=0.12``)."""
        ...

    def message(self, text: str, level: Level = "info") -> None:
        """One line for the user: plain text (no markup); ``heading`` opens a stage, ``warning`` flags a problem."""
        ...

    def done(self) -> None:
        """Close the innermost open task."""
        ...


class NullProgress:
    """Reports nowhere: the default when a caller passes no progress."""

    def start(self, total: int | None, label: str) -> None:
        pass

    def advance(self, n: int = 1, **info: Any) -> None:
        pass

    def message(self, text: str, level: Level = "info") -> None:
        pass

    def done(self) -> None:
        pass


def or_null(progress: Progress | None) -> Progress:
    """``progress``, or a :class:`NullProgress` when it is None."""
    return progress if progress is not None else NullProgress()


@contextmanager
def tracked(progress: Progress, total: int | None, label: str) -> Iterator[Progress]:
    """``start`` on entry and ``done`` on exit (also on error), so a failed call leaves no task open."""
    progress.start(total, label)
    try:
        yield progress
    finally:
        progress.done()
