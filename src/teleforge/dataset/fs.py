"""Datasets on object storage: ``s3://bucket/prefix`` (and other pyarrow/fsspec filesystems)
read through ``pyarrow.fs``, staged into a local cache folder that the reader opens.

A dataset's layout is unchanged on object storage (teleforge.json, catalog.parquet,
episodes/ep-*.arrow, sessions/, views/). :func:`stage_dataset` copies the small files
(manifest, catalog, sessions, views) and the shards asked for -- all, none, or the ones
a job needs, so a Ray worker fetches only its own episodes -- and returns a local folder.
A shard already in the cache with the same size is not fetched again. Edits made to
the staged catalog (curation metrics, relabels) go back with :func:`push_file`.

S3 settings come from the usual AWS variables (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``); ``AWS_ENDPOINT_URL`` (or
``TELEFORGE_S3_ENDPOINT``) points at an S3-compatible server (MinIO, Ceph, moto).
Schemes pyarrow lacks (gs via gcsfs, hf, az...) go through fsspec when it is installed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from teleforge.dataset.layout import CATALOG, EPISODES, MANIFEST, SESSIONS, VIEWS
from teleforge.errors import DatasetNotFoundError, TeleforgeError

__all__ = ["RemoteFsError", "cache_root", "filesystem", "is_remote", "push_file", "stage_dataset"]


class RemoteFsError(TeleforgeError):
    """Object storage could not be reached or a file on it could not be copied."""


def is_remote(location: str | Path) -> bool:
    """True for a URI with a scheme other than file:// (``s3://b/ds``); False for local paths."""
    if isinstance(location, Path):
        return False
    scheme = urlparse(str(location)).scheme
    return len(scheme) > 1 and scheme != "file"  # 'C:' is a drive letter, not a scheme


def filesystem(location: str) -> tuple[pafs.FileSystem, str]:
    """``s3://bucket/ds`` -> (pyarrow filesystem, ``bucket/ds``)."""
    u = urlparse(location)
    if u.scheme == "s3":
        endpoint = os.environ.get("TELEFORGE_S3_ENDPOINT") or os.environ.get("AWS_ENDPOINT_URL")
        kwargs: dict[str, Any] = {}
        if endpoint:
            e = urlparse(endpoint)
            kwargs.update(endpoint_override=e.netloc or e.path, scheme=e.scheme or "https")
        # A slow (busy or far) endpoint: pyarrow's default 3 s request timeout is short.
        kwargs["request_timeout"] = float(os.environ.get("TELEFORGE_S3_TIMEOUT_S", "60"))
        kwargs["connect_timeout"] = 10.0
        region = os.environ.get("AWS_DEFAULT_REGION") or os.environ.get("AWS_REGION")
        if region:
            kwargs["region"] = region
        try:
            fs = pafs.S3FileSystem(**kwargs)
        except Exception as exc:
            raise RemoteFsError(f"cannot set up S3 for {location}: {exc}; check the AWS_* variables") from exc
        return fs, (u.netloc + u.path).rstrip("/")
    try:
        fs, path = pafs.FileSystem.from_uri(location)
        return fs, path.rstrip("/")
    except (pa_invalid(), ValueError):
        pass
    try:
        import fsspec
        from pyarrow.fs import FSSpecHandler, PyFileSystem
    except ImportError as exc:
        raise RemoteFsError(f"{u.scheme}:// needs fsspec and its {u.scheme} package (pip install fsspec ...)") from exc
    ffs, path = fsspec.core.url_to_fs(location)
    return PyFileSystem(FSSpecHandler(ffs)), path.rstrip("/")


def pa_invalid() -> type[BaseException]:
    import pyarrow as pa

    invalid: type[BaseException] = pa.ArrowInvalid
    return invalid


def cache_root() -> Path:
    """Where remote datasets are staged: ``$TELEFORGE_CACHE`` or ``~/.cache/teleforge/remote``."""
    return Path(os.environ.get("TELEFORGE_CACHE") or Path.home() / ".cache" / "teleforge" / "remote")


def _cache_dir(location: str, cache: Path | None) -> Path:
    digest = hashlib.sha256(location.rstrip("/").encode()).hexdigest()[:16]
    name = Path(urlparse(location).path.rstrip("/")).name or "dataset"
    return (cache or cache_root()) / f"{name}-{digest}"


def _copy(fs: pafs.FileSystem, src: str, dst: Path, size: int | None) -> None:
    if size is not None and dst.is_file() and dst.stat().st_size == size:
        return  # cached
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + f".{os.getpid()}.tmp")
    try:
        with fs.open_input_stream(src) as f, open(tmp, "wb") as out:
            while chunk := f.read(8 << 20):
                out.write(chunk)
        os.replace(tmp, dst)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RemoteFsError(f"cannot copy {src}: {exc}") from exc


def stage_dataset(location: str | Path, shards: Iterable[str] | None = (), cache: Path | None = None) -> Path:
    """A local folder holding the dataset at ``location`` (itself when local).

    ``shards``: the episode files (catalog ``file`` values, e.g. ``episodes/ep-000003.arrow``)
    to fetch; None fetches every shard, the default () only the manifest, catalog, sessions
    and views. The small files are refreshed on every call; shards are kept while their size matches.
    """
    if not is_remote(location):
        return Path(location)
    loc = str(location).rstrip("/")
    fs, base = filesystem(loc)
    local = _cache_dir(loc, cache)
    try:
        info = fs.get_file_info(f"{base}/{MANIFEST}")
    except OSError as exc:
        raise RemoteFsError(f"cannot reach {loc}: {exc}; check the endpoint and credentials") from exc
    if info.type != pafs.FileType.File:
        raise DatasetNotFoundError(f"{loc} holds no {MANIFEST}: is it a teleforge dataset?")
    _copy(fs, f"{base}/{MANIFEST}", local / MANIFEST, None)
    cat = fs.get_file_info(f"{base}/{CATALOG}")
    if cat.type == pafs.FileType.File:
        _copy(fs, f"{base}/{CATALOG}", local / CATALOG, None)
    for sub in (SESSIONS, VIEWS):
        for f in fs.get_file_info(pafs.FileSelector(f"{base}/{sub}", allow_not_found=True)):
            if f.type == pafs.FileType.File:
                _copy(fs, f.path, local / sub / f.base_name, None)
    wanted: Iterable[str]
    if shards is None:
        listing = fs.get_file_info(pafs.FileSelector(f"{base}/{EPISODES}", allow_not_found=True))
        wanted = [f"{EPISODES}/{f.base_name}" for f in listing if f.type == pafs.FileType.File and f.base_name.endswith(".arrow")]
    else:
        wanted = shards
    for rel in wanted:
        remote = f"{base}/{rel}"
        fi = fs.get_file_info(remote)
        if fi.type != pafs.FileType.File:
            raise RemoteFsError(f"{loc} lists {rel} in its catalog but the object is missing")
        _copy(fs, remote, local / rel, fi.size)
    return local


def push_file(local_root: Path, location: str | Path, rel: str) -> None:
    """Upload ``local_root/rel`` to ``location/rel`` (e.g. a catalog edited by curation); no-op when local."""
    if not is_remote(location):
        return
    fs, base = filesystem(str(location).rstrip("/"))
    try:
        with open(local_root / rel, "rb") as f, fs.open_output_stream(f"{base}/{rel}") as out:
            while chunk := f.read(8 << 20):
                out.write(chunk)
    except OSError as exc:
        raise RemoteFsError(f"cannot upload {rel} to {location}: {exc}") from exc
