"""Datasets on object storage: a local S3-compatible server (moto, started by the test on
127.0.0.1) holds a dataset; metrics computed from s3:// equal the local ones, only the
shards a job needs are fetched, and the edited catalog goes back to the bucket.

The server comes from ``moto[server]`` in this environment, or ``$TELEFORGE_MOTO_SERVER``
(a moto_server executable from another venv, as .ci/run sets up); skipped without either.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from teleforge.curation.store import compute_metrics
from teleforge.dataset.fs import is_remote, stage_dataset
from tests.curation.synth import EpisodePlan, make_dataset


def _moto_cmd() -> list[str] | None:
    exe = os.environ.get("TELEFORGE_MOTO_SERVER")
    if exe and Path(exe).is_file():
        return [exe]
    try:
        import moto.server  # noqa: F401
    except ImportError:
        return None
    return [sys.executable, "-m", "moto.server"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3(monkeypatch, tmp_path):
    cmd = _moto_cmd()
    if cmd is None:
        pytest.skip("no S3-compatible server: pip install 'moto[server]' or set TELEFORGE_MOTO_SERVER")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    proc = subprocess.Popen([*cmd, "-H", "127.0.0.1", "-p", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for k, v in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_DEFAULT_REGION": "us-east-1",
                 "AWS_ENDPOINT_URL": endpoint, "TELEFORGE_CACHE": str(tmp_path / "cache")}.items():
        monkeypatch.setenv(k, v)
    try:
        yield from _ready(proc, port, endpoint)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def _ready(proc: subprocess.Popen, port: int, endpoint: str):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(endpoint, timeout=10).close()  # answers HTTP, not only accepts
            break
        except urllib.error.HTTPError:
            break
        except OSError:
            if proc.poll() is not None:
                pytest.skip("the moto server exited at start")
            time.sleep(0.2)
    fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http", access_key="test",
                           secret_key="test", region="us-east-1", allow_bucket_creation=True,
                           request_timeout=60, connect_timeout=10)
    fs.create_dir("bucket")
    yield fs


def _upload(fs: pafs.FileSystem, local: Path, prefix: str) -> None:
    for p in sorted(local.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            with fs.open_output_stream(f"{prefix}/{p.relative_to(local)}") as out:
                out.write(p.read_bytes())


def test_metrics_from_s3_equal_local_and_fetch_only_needed_shards(s3, tmp_path):
    local = make_dataset(tmp_path / "ds", [EpisodePlan(seed=i, idle_tail=3) for i in range(5)])
    copy = tmp_path / "ds-copy"
    shutil.copytree(local, copy)
    _upload(s3, copy, "bucket/ds")
    uri = "s3://bucket/ds"
    assert is_remote(uri) and not is_remote(local)

    staged = stage_dataset(uri)  # metadata only
    assert (staged / "teleforge.json").is_file() and not list((staged / "episodes").glob("*.arrow"))
    one = stage_dataset(uri, ["episodes/ep-000002.arrow"])
    assert [p.name for p in (one / "episodes").glob("*.arrow")] == ["ep-000002.arrow"]

    compute_metrics(local)
    compute_metrics(uri)
    want = pq.read_table(local / "catalog.parquet").to_pylist()
    with s3.open_input_file("bucket/ds/catalog.parquet") as f:
        got = pq.read_table(f).to_pylist()  # the edited catalog went back to the bucket
    assert len(got) == len(want) == 5
    for a, b in zip(want, got):
        for k, v in a.items():
            if isinstance(v, float) and v != v:
                assert b[k] != b[k], k
            else:
                assert b[k] == v, k
