"""Dataset arguments that are URIs (``s3://bucket/ds``, ``gs://...``): staged into the local cache.

Every command that takes a dataset goes through :func:`local_dataset` (via
``grammar.split_dataset_view``): a local folder is returned as is; a remote dataset is staged
(manifest, catalog, sessions, views -- shards only as asked: none, the selection's, or all)
and its local copy returned. Jobs that need a shard the copy lacks fetch it then
(``teleforge.dataset.fs.stage_dataset`` on a staged copy). Curation commands push the catalog
and views they changed back to the bucket when the command ends (:func:`push_back`); exports
write to a local folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from teleforge.cli.render import fail
from teleforge.dataset.fs import curated_files, file_state, is_remote, push_changed, remote_of, stage_dataset
from teleforge.errors import TeleforgeError

__all__ = ["local_dataset", "looks_remote", "push_back", "stage_selection"]

_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]+):/+")
_opened: dict[Path, dict[str, tuple[int, int]]] = {}  # staged copy -> its curated files' state when staged


def looks_remote(text: str | Path) -> bool:
    """A URI with a scheme (``s3://b/ds``; also ``s3:/b/ds``, what ``Path`` makes of it)."""
    m = _SCHEME.match(str(text))
    return m is not None and len(m.group(1)) > 1 and m.group(1) != "file"


def _uri(text: str | Path) -> str:
    """``s3:/b/ds`` (a URI that went through ``Path``) -> ``s3://b/ds``."""
    return _SCHEME.sub(lambda m: f"{m.group(1)}://", str(text), count=1)


def local_dataset(location: str | Path, shards: Iterable[str] | None = ()) -> Path:
    """The folder a command reads: ``location`` itself, or the staged copy of a remote dataset.

    ``shards``: catalog paths to fetch now (None: all; the default: none). A staging failure
    (credentials, bucket, endpoint) ends the command with its one-line error."""
    if not looks_remote(location):
        return Path(location)
    uri = _uri(location)
    assert is_remote(uri)
    try:
        local = stage_dataset(uri, shards)
    except TeleforgeError as exc:
        fail(exc)
    _opened.setdefault(local, file_state(local, curated_files(local)))
    return local


def stage_selection(root: Path, episode_ids: Iterable[int] | None) -> None:
    """Fetch the shards of ``episode_ids`` (None: every catalogued episode) into a staged copy; no-op when local."""
    if remote_of(root) is None:
        return
    from teleforge.dataset.catalog import read_catalog

    cat = read_catalog(root)
    want = None if episode_ids is None else {int(i) for i in episode_ids}
    files = [str(f) for i, f in zip(cat.column("episode_id").to_pylist(), cat.column("file").to_pylist())
             if want is None or int(i) in want]
    try:
        stage_dataset(root, files)
    except TeleforgeError as exc:
        fail(exc)


def push_back() -> None:
    """Upload what curation changed in every staged copy this command opened (catalog, views)."""
    for local, before in list(_opened.items()):
        try:
            push_changed(local, before)
        except TeleforgeError as exc:
            fail(exc)
        _opened[local] = file_state(local, curated_files(local))
