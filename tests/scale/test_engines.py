"""The local and Ray engines give identical metrics, views and export bytes -- every exporter
(a local Ray, started by the test; skipped cleanly where Ray is not installed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from teleforge.curation.operations import dedupe_view, filter_view
from teleforge.curation.store import compute_metrics
from teleforge.dataset.engine import EngineError, LocalEngine, current_engine, make_engine, use_engine
from tests.curation.synth import EpisodePlan, make_dataset, mixed_plans
from tests.scale.exports import EXPORTERS, export_all


def _curate_and_export(root: Path) -> tuple[list[dict], dict, dict, dict[str, dict[str, str]]]:
    compute_metrics(root)
    metrics = pq.read_table(root / "catalog.parquet").to_pylist()
    clean = filter_view(root, "clean")
    dedup, _res = dedupe_view(root, "dedup")
    digests, _seconds = export_all(root, root.parent / (root.name + "-out"))
    return metrics, clean.to_json() if hasattr(clean, "to_json") else vars(clean), vars(dedup), digests


def _plans() -> list[EpisodePlan]:
    plans = mixed_plans()
    return plans + [EpisodePlan(seed=0, idle_head=3, idle_tail=8)]  # a duplicate of the first


def test_local_engine_is_the_default_and_maps_in_order():
    assert current_engine().name == "local"
    assert LocalEngine().map(lambda x: x * 2, [3, 1, 2]) == [6, 2, 4]
    with pytest.raises(EngineError, match="unknown engine"):
        make_engine("spark")
    with pytest.raises(EngineError, match="--ray-address needs --engine ray"):
        make_engine("local", "ray://h:10001")


@pytest.mark.slow  # starts a local Ray (tens of seconds); CI runs it in .ci/run's scale venv
def test_ray_and_local_give_identical_metrics_views_and_export_bytes(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra (pip install 'teleforge[ray]')")
    pristine = make_dataset(tmp_path / "pristine", _plans())
    root = tmp_path / "ds"  # both engines work on the same path: exports record where they came from
    shutil.copytree(pristine, root)
    local = _curate_and_export(root)
    shutil.rmtree(root)
    shutil.rmtree(tmp_path / "ds-out")
    shutil.copytree(pristine, root)
    try:
        ctx = use_engine("ray")
        engine = ctx.__enter__()
    except EngineError as exc:
        if "timed out during startup" in str(exc):  # Ray's fixed startup waits, on an overloaded machine
            pytest.skip(f"a local Ray could not start here: {exc}")
        raise
    try:
        engine_name = current_engine().name
        ray_out = _curate_and_export(root)
    finally:
        ctx.__exit__(None, None, None)
    assert engine.name == engine_name == "ray"
    assert _same_nan(local[0], ray_out[0])  # every catalog column, metrics included
    assert _strip(local[1]) == _strip(ray_out[1]) and _strip(local[2]) == _strip(ray_out[2])
    assert set(local[3]) == set(EXPORTERS)
    for name in EXPORTERS:  # every exported byte (and every HDF5 dataset and attribute), exporter by exporter
        assert local[3][name] and local[3][name] == ray_out[3][name], name


def _same_nan(a: list[dict], b: list[dict]) -> bool:
    import math

    for ra, rb in zip(a, b, strict=True):
        for k in ra:
            va, vb = ra[k], rb[k]
            if isinstance(va, float) and isinstance(vb, float) and math.isnan(va) and math.isnan(vb):
                continue
            if va != vb:
                return False
    return True


def _strip(view: dict) -> dict:
    return {k: v for k, v in view.items() if k not in ("created", "created_at", "catalog_version", "source")}
