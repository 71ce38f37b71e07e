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


# --- s3:// on the command line ---------------------------------------------------------
def _cli(*args: str):
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    return CliRunner().invoke(app, list(args))


def _cached_shards(tmp_path: Path) -> set[str]:
    return {p.name for p in (tmp_path / "cache").rglob("ep-*.arrow")}


def test_cli_reads_curates_and_exports_s3_datasets(s3, tmp_path):
    local = make_dataset(tmp_path / "ds", [EpisodePlan(seed=i, idle_tail=3) for i in range(5)])
    _upload(s3, local, "bucket/ds")
    uri = "s3://bucket/ds"

    res = _cli("info", uri)
    assert res.exit_code == 0, res.output
    assert _cached_shards(tmp_path) == set()  # info reads the catalog only

    res = _cli("export", "robomimic", uri, "--ids", "1,3", "-o", str(tmp_path / "out" / "demo.hdf5"))
    assert res.exit_code == 0, res.output
    assert _cached_shards(tmp_path) == {"ep-000001.arrow", "ep-000003.arrow"}  # only the selection's shards
    assert (tmp_path / "out" / "demo.hdf5").is_file()  # exports write to a local folder

    res = _cli("curate", "metrics", uri)
    assert res.exit_code == 0, res.output
    from teleforge.curation.store import VERSION_COL

    with s3.open_input_file("bucket/ds/catalog.parquet") as f:
        assert VERSION_COL in pq.read_table(f).column_names  # the measured catalog went back to the bucket

    res = _cli("curate", "filter", uri, "--name", "clean")
    assert res.exit_code == 0, res.output
    assert s3.get_file_info("bucket/ds/views/clean.json").type == pafs.FileType.File  # the view went back

    res = _cli("export", "lerobot", f"{uri}:clean", "-o", str(tmp_path / "lr"))
    assert res.exit_code == 0, res.output
    assert (tmp_path / "lr" / "meta" / "info.json").is_file()

    res = _cli("verify", uri)
    assert res.exit_code == 0, res.output
    assert len(_cached_shards(tmp_path)) == 5  # verify reads every shard


def test_cli_s3_errors_are_one_line_and_quick(s3, tmp_path, monkeypatch):
    local = make_dataset(tmp_path / "ds", [EpisodePlan(seed=0)])
    _upload(s3, local, "bucket/ds")

    res = _cli("info", "s3://no-such-bucket/ds")
    assert res.exit_code == 1 and "bucket 'no-such-bucket' does not exist" in res.output
    assert "Traceback" not in res.output

    res = _cli("info", "s3://bucket/nothing-here")
    assert res.exit_code == 1 and "holds no teleforge.json" in res.output

    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.aws either
    res = _cli("curate", "metrics", "s3://bucket/ds")
    assert res.exit_code == 1 and "no S3 credentials" in res.output

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{_free_port()}")  # nothing listens there
    monkeypatch.setenv("TELEFORGE_S3_TIMEOUT_S", "3")
    res = _cli("export", "hf", "s3://bucket/ds", "-o", str(tmp_path / "hf"))
    assert res.exit_code == 1 and "cannot reach s3://bucket/ds" in res.output, res.output
    assert "Traceback" not in res.output and len(res.output.strip().splitlines()) == 1
