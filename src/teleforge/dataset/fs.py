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
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pyarrow.fs as pafs

from teleforge.dataset.layout import CATALOG, EPISODES, MANIFEST, SESSIONS, VIEWS
from teleforge.errors import DatasetNotFoundError, TeleforgeError

__all__ = ["RemoteFsError", "cache_root", "filesystem", "is_remote", "push_changed", "push_file", "remote_of",
           "stage_dataset"]

STAGED_MARKER = ".teleforge_remote.json"  # in a staged copy: the URI it came from
_CREDENTIAL_VARS = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")


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
        # A few quick retries, not the SDK's long backoff: an unreachable endpoint fails in seconds.
        kwargs["retry_strategy"] = pafs.AwsStandardS3RetryStrategy(max_attempts=int(os.environ.get("TELEFORGE_S3_RETRIES", "2")))
        if os.environ.get("TELEFORGE_S3_ANONYMOUS") == "1":
            kwargs["anonymous"] = True
        elif not _have_credentials():
            # Without this check the AWS SDK asks the EC2 metadata service, which can wait a long time off EC2.
            raise RemoteFsError(f"no S3 credentials for {location}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
                                "(or AWS_PROFILE), or TELEFORGE_S3_ANONYMOUS=1 for a public bucket")
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


def _have_credentials() -> bool:
    if any(os.environ.get(v) for v in _CREDENTIAL_VARS):
        return True
    aws = Path(os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")
    cfg = Path(os.environ.get("AWS_CONFIG_FILE") or Path.home() / ".aws" / "config")
    return aws.is_file() or cfg.is_file()


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
        uri = remote_of(location)
        if uri is None or (shards is not None and not shards):
            return Path(location)
        _fetch_shards(uri, Path(location), shards)  # a staged copy: fetch the shards it still lacks
        return Path(location)
    loc = str(location).rstrip("/")
    fs, base = filesystem(loc)
    local = _cache_dir(loc, cache)
    try:
        info = fs.get_file_info(f"{base}/{MANIFEST}")
    except OSError as exc:
        raise RemoteFsError(f"cannot reach {loc}: {_first_line(exc)}; check the endpoint, bucket and credentials") from exc
    if info.type != pafs.FileType.File:
        bucket = base.split("/", 1)[0]
        try:
            no_bucket = fs.get_file_info(bucket).type == pafs.FileType.NotFound
        except OSError:
            no_bucket = False
        if no_bucket:
            raise RemoteFsError(f"bucket {bucket!r} does not exist at this endpoint; check the URI ({loc})")
        raise DatasetNotFoundError(f"{loc} holds no {MANIFEST}: is it a teleforge dataset?")
    _copy(fs, f"{base}/{MANIFEST}", local / MANIFEST, None)
    cat = fs.get_file_info(f"{base}/{CATALOG}")
    if cat.type == pafs.FileType.File:
        _copy(fs, f"{base}/{CATALOG}", local / CATALOG, None)
    for sub in (SESSIONS, VIEWS):
        for f in fs.get_file_info(pafs.FileSelector(f"{base}/{sub}", allow_not_found=True)):
            if f.type == pafs.FileType.File:
                _copy(fs, f.path, local / sub / f.base_name, None)
    (local / STAGED_MARKER).write_text(json.dumps({"uri": loc}))
    _fetch_shards(loc, local, shards, fs, base)
    return local


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _fetch_shards(loc: str, local: Path, shards: Iterable[str] | None, fs: pafs.FileSystem | None = None,
                  base: str | None = None) -> None:
    """Copy ``shards`` (None: every ``episodes/*.arrow``) of ``loc`` into the staged copy ``local``."""
    if fs is None or base is None:
        fs, base = filesystem(loc)
    try:
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
    except OSError as exc:
        raise RemoteFsError(f"cannot read {loc}: {_first_line(exc)}; check the endpoint and credentials") from exc


def remote_of(folder: str | Path) -> str | None:
    """The URI a staged copy (:func:`stage_dataset`) came from; None for any other folder."""
    try:
        uri = json.loads((Path(folder) / STAGED_MARKER).read_text()).get("uri")
    except (OSError, ValueError, AttributeError):
        return None
    return str(uri) if uri else None


def file_state(local_root: Path, rels: Iterable[str]) -> dict[str, tuple[int, int]]:
    """(size, mtime_ns) of each existing ``local_root/rel``: what :func:`push_changed` compares against."""
    out = {}
    for rel in rels:
        p = local_root / rel
        if p.is_file():
            st = p.stat()
            out[rel] = (st.st_size, st.st_mtime_ns)
    return out


def curated_files(local_root: Path) -> list[str]:
    """The files curation writes in a dataset: the catalog and every view (relative paths)."""
    views = sorted(f"{VIEWS}/{p.name}" for p in (local_root / VIEWS).glob("*") if p.is_file()) if (local_root / VIEWS).is_dir() else []
    return [CATALOG, *views]


def push_changed(local_root: Path, before: dict[str, tuple[int, int]]) -> list[str]:
    """Upload the catalog and views of a staged copy that changed (or appeared) since ``before``; their paths."""
    uri = remote_of(local_root)
    if uri is None:
        return []
    now = file_state(local_root, curated_files(local_root))
    changed = [rel for rel, st in now.items() if before.get(rel) != st]
    for rel in changed:
        push_file(local_root, uri, rel)
    return changed


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
        raise RemoteFsError(f"cannot upload {rel} to {location}: {_first_line(exc)}; check write access to the bucket") from exc
