"""Learned quality scores: stored beside the metrics, views with reasons, sensible on synthetic defects."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from teleforge.curation.scores import SCORES_VERSION, DemInf, read_steps, score_dataset, score_view
from teleforge.curation.scores.knn import digamma_int, ksg_counts
from teleforge.dataset.catalog import read_catalog
from teleforge.errors import CurationError

from .synth import EpisodePlan, make_dataset, make_spec


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plans = [EpisodePlan(seed=i, steps=50) for i in range(10)]
    plans += [EpisodePlan(seed=30 + i, steps=50, jitter=0.6, label="jitter") for i in range(3)]
    plans += [EpisodePlan(seed=40 + i, steps=90, idle_pause=30, label="idle") for i in range(2)]
    plans += [EpisodePlan(seed=50, steps=50, outcome="failure", label="wrong_object")]
    return make_dataset(tmp_path_factory.mktemp("scores") / "ds", plans, make_spec((), size=16))


@pytest.mark.parametrize("method", ["deminf", "democore", "scizor"])
def test_score_lands_in_the_catalog(ds: Path, method: str) -> None:
    res = score_dataset(ds, method)
    assert len(res.scores) == 16 and res.steps > 0 and res.seconds > 0
    rows = {r["episode_id"]: r for r in read_catalog(ds).to_pylist()}
    assert all(np.isfinite(rows[i][f"score_{method}"]) for i in rows)
    assert all(rows[i][f"score_{method}_version"] == SCORES_VERSION for i in rows)


def test_scores_rank_clean_demos_above_jittery_and_idle_ones(ds: Path) -> None:
    for method in ("deminf", "scizor"):
        res = score_dataset(ds, method, store=False)
        ids = sorted(res.scores)
        clean = np.mean([res.scores[i] for i in ids[:10]])
        bad = np.mean([res.scores[i] for i in ids[10:15]])
        assert clean > bad, (method, clean, bad)


def test_views_keep_the_best_with_reasons(ds: Path) -> None:
    score_dataset(ds, "scizor")
    v = score_view(ds, "best", "scizor", top_k=5)
    assert len(v.episodes) == 5 and len(v.rejected) == 11
    reason = next(iter(v.rejected.values()))[0]
    assert reason["kind"] == "learned_score" and "score_scizor" in reason["values"]
    assert len(score_view(ds, "frac", "scizor", keep_frac=0.5).episodes) == 8
    with pytest.raises(CurationError, match="exactly one"):
        score_view(ds, "x", "scizor", top_k=2, keep_frac=0.5)
    with pytest.raises(CurationError, match="curate score"):
        score_view(ds, "x", "no-such-method", top_k=2)


def test_unknown_method_and_single_outcome_are_refused(ds: Path, tmp_path: Path) -> None:
    with pytest.raises(CurationError, match="deminf"):
        score_dataset(ds, "cupid")
    one = make_dataset(tmp_path / "one", [EpisodePlan(seed=i) for i in range(4)], make_spec((), size=16))
    with pytest.raises(CurationError, match="rollouts"):
        score_dataset(one, "democore")


def _ksg(x: np.ndarray, y: np.ndarray, k: int = 4) -> float:
    nx, ny = ksg_counts(x, y, k)
    n = np.array([len(x)])
    return float(np.mean(digamma_int(np.array([k]))[0] + digamma_int(n)[0] - digamma_int(nx + 1) - digamma_int(ny + 1)))


def test_ksg_estimates_dependence() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 1))
    assert _ksg(x, x + 0.05 * rng.normal(size=x.shape)) > 1.0  # strongly dependent: well above 0 nats
    assert abs(_ksg(x, rng.normal(size=(600, 1)))) < 0.15  # independent: about 0


def test_deminf_reads_only_numeric_columns(ds: Path) -> None:
    st = read_steps(ds)
    assert st.action.shape[1] == 7 and len(st.episode_ids) == 16
    assert DemInf(max_points=200).score(st).params["points"] <= 16 * 50


def _rewrite_shard(path: Path, column: str, fn) -> None:  # type: ignore[no-untyped-def]
    """Rewrite one column of every batch of a shard, keeping its schema and batch metadata."""
    import pyarrow as pa

    reader = pa.ipc.open_stream(pa.BufferReader(path.read_bytes()))  # not mapped: the file is rewritten below
    batches = []
    while True:
        try:
            batches.append(reader.read_next_batch_with_custom_metadata())
        except StopIteration:
            break
    out_batches = []
    for b, md in batches:
        i = b.schema.get_field_index(column)
        arr = fn(b.column(i))
        t = pa.Table.from_batches([b]).set_column(i, pa.field(column, arr.type), arr)
        out_batches.append((t.combine_chunks().to_batches()[0], md))
    schema = out_batches[0][0].schema.with_metadata(reader.schema.metadata)
    with pa.OSFile(str(path), "wb") as f, pa.ipc.new_stream(f, schema) as w:
        for b, md in out_batches:
            w.write_batch(b.replace_schema_metadata(reader.schema.metadata), custom_metadata=md)


def test_read_steps_across_column_widths(tmp_path: Path) -> None:
    """A float64 episode among float32 ones reads the same values; a different joint count is a typed error."""
    import pyarrow as pa

    root = make_dataset(tmp_path / "ds", [EpisodePlan(seed=i, steps=20) for i in range(3)], make_spec((), size=16))
    before = read_steps(root)
    shard = root / read_catalog(root).to_pylist()[1]["file"]
    _rewrite_shard(shard, "action", lambda a: a.cast(pa.list_(pa.float64(), a.type.list_size)))
    after = read_steps(root)
    np.testing.assert_array_equal(after.action, before.action)
    np.testing.assert_array_equal(after.offsets, before.offsets)

    def drop_joint(a: pa.FixedSizeListArray) -> pa.Array:
        k = a.type.list_size
        vals = np.asarray(a.values.to_numpy(zero_copy_only=False)).reshape(-1, k)[:, : k - 1].ravel()
        return pa.FixedSizeListArray.from_arrays(pa.array(vals, a.type.value_type), k - 1)

    _rewrite_shard(shard, "observation.state.joint_pos", drop_joint)
    with pytest.raises(CurationError, match="different widths"):
        read_steps(root)
