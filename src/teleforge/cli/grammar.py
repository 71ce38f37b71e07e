"""The one way a command names its data: ``DATASET[:VIEW]`` (a folder, optionally one of its curated views)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, TypeVar

import typer


def split_dataset_view(spec: str | Path, view: str | None = None) -> tuple[Path, str | None]:
    """``"data:filtered"`` -> (Path("data"), "filtered"); a path that exists as given is never split.

    A URI (``s3://bucket/ds[:VIEW]``) returns the dataset's staged local copy (:mod:`teleforge.cli.remote`).

    ``view`` (a deprecated ``--view``/``--from`` alias) is used when the argument names no view;
    naming a view both ways, differently, is refused.
    """
    from teleforge.cli.remote import local_dataset, looks_remote

    s = str(spec)
    if looks_remote(s):  # s3://bucket/ds[:VIEW]: staged into the local cache (catalog and views; shards when needed)
        head, _, tail = s.rpartition(":")
        named_remote = tail if tail and "/" not in tail and looks_remote(head) else None
        if named_remote and view and named_remote != view:
            raise typer.BadParameter(f"{s!r} names view {named_remote!r} but the option names {view!r}; give it once, as DATASET:VIEW")
        return local_dataset(head if named_remote else s), named_remote or view
    path, named = Path(s), None
    if not path.exists() and ":" in s:
        head, _, tail = s.rpartition(":")
        if head and tail and "/" not in tail:
            path, named = Path(head), tail
    if named and view and named != view:
        raise typer.BadParameter(f"{s!r} names view {named!r} but the option names {view!r}; give it once, as DATASET:VIEW")
    return path, named or view


T = TypeVar("T")


def deprecated(new: T, old: Optional[T], old_flag: str, new_flag: str) -> T:
    """The value of a renamed option: ``new`` unless only the old spelling (a hidden alias kept for one release) was given."""
    if old is None or old == [] or old is False:
        return new
    import sys

    print(f"note: {old_flag} is deprecated; use {new_flag}", file=sys.stderr)
    return old
