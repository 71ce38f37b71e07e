"""Write -> read: values, images, metadata, catalog, ids, HF conversion."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from teleforge.dataset import (
    AsyncRecorder,
    Dataset,
    EpisodeEnd,
    EpisodeWriter,
    create_dataset,
    open_or_create,
    read_catalog,
    rebuild_catalog,
    summarize,
)
from teleforge.errors import DatasetError, EpisodeNotFoundError
from tests.dataset.synth import make_dataset, make_spec, make_start, make_step


def write_episode(root, spec, rng, n=30, outcome="success", task="pick_cube", session="s1", **end_kw):
    w = EpisodeWriter(root, spec, make_start(task=task, session=session), batch_rows=7)
    steps = [make_step(i, spec, rng, t0=10**12) for i in range(n)]
    for s in steps:
        w.append(s)
    return w.finalize(EpisodeEnd(outcome, **end_kw)), steps


def test_writer_round_trip_preserves_every_column(ds_root, rng):
    root, spec = ds_root
    summary, steps = write_episode(root, spec, rng, n=23)
    ep = Dataset.open(root).episode(summary.episode_id)
    assert ep.num_steps == 23
    np.testing.assert_array_equal(ep.column("action"), np.stack([s.action for s in steps]))
    np.testing.assert_array_equal(ep.column("observation.state.joint_pos"), np.stack([s.joint_pos for s in steps]))
    np.testing.assert_array_equal(ep.column("target.joint_pos"), np.stack([s.target_joint_pos for s in steps]))
    np.testing.assert_array_equal(ep.column("observation.state.ee_quat")[0], [1, 0, 0, 0])
    np.testing.assert_array_equal(ep.column("command.twist"), np.stack([s.command_twist for s in steps]))
    np.testing.assert_array_equal(ep.column("tick_ns"), [s.tick_ns for s in steps])
    np.testing.assert_array_equal(ep.column("step"), np.arange(23))
    assert ep.column("safety.hold").tolist() == [s.hold for s in steps]
    assert ep.column("success").tolist() == [s.success for s in steps]
    np.testing.assert_allclose(ep.column("observation.state.gripper"), [s.gripper for s in steps], rtol=1e-6)
    np.testing.assert_array_equal(ep.column("observation.images.wrist.t_ns"), [s.image_t_ns["wrist"] for s in steps])
    np.testing.assert_array_equal(ep.column("observation.images.wrist.seq"), [s.image_seq["wrist"] for s in steps])
    assert ep.table.schema.field("action").type == pa.list_(pa.float32(), 7)
    assert ep.table.schema.field("step").type == pa.int32()
    # JPEG q95 is lossy but close on smooth images.
    img = ep.image("front", 11)
    assert img.shape == (24, 32, 3) and img.dtype == np.uint8
    assert np.abs(img.astype(int) - steps[11].images["front"].astype(int)).mean() < 4


@pytest.mark.parametrize("encoding", ["png", "raw"])
def test_lossless_encodings_round_trip_exactly(tmp_path, rng, encoding):
    root, spec = make_dataset(tmp_path / "ds", encoding=encoding)
    summary, steps = write_episode(root, spec, rng, n=5)
    ep = Dataset.open(root).episode(summary.episode_id)
    for i, img in enumerate(ep.images("wrist")):
        np.testing.assert_array_equal(img, steps[i].images["wrist"])


def test_step_without_frame_stores_null_image(ds_root, rng):
    root, spec = ds_root
    w = EpisodeWriter(root, spec, make_start())
    rec = make_step(0, spec, rng)
    del rec.images["front"]
    w.append(rec)
    w.append(make_step(1, spec, rng))
    w.finalize(EpisodeEnd("unknown"))
    ep = Dataset.open(root).episode(0)
    assert ep.image("front", 0) is None
    assert ep.image("front", 1) is not None
    assert len(list(ep.images("front"))) == 1
    assert ep.step(0)["observation.images.front.t_ns"] is None


def test_shard_carries_start_and_end_metadata(ds_root, rng):
    root, spec = ds_root
    loop = {"period_p50_ms": 20.0, "period_p99_ms": 23.5, "missed_deadlines": 2, "frame_age_p99_ms": {"front": 12.0, "wrist": 30.0}}
    summary, _ = write_episode(root, spec, rng, n=10, outcome="failure", loop_stats=loop, labels={"failure": "drop"})
    meta = Dataset.open(root).episode(summary.episode_id).meta
    assert (meta.task, meta.instruction, meta.seed, meta.operator_id, meta.session_id) == ("pick_cube", "do pick_cube", 3, "op1", "s1")
    assert meta.outcome == "failure" and meta.labels == {"failure": "drop"} and meta.extras == {"quality": 0.9}
    assert meta.period_p99_ms == 23.5 and meta.missed_deadlines == 2
    assert meta.frame_age_p99_ms == {"front": 12.0, "wrist": 30.0}
    assert meta.num_steps == 10 and not meta.recovered
    assert meta.duration_s == pytest.approx(10 / 50)


def test_finalize_is_atomic_and_catalog_matches_shards(ds_root, rng):
    root, spec = ds_root
    for k in range(3):
        write_episode(root, spec, rng, n=5 + k, outcome=["success", "failure", "success"][k])
    assert not list((root / "episodes").glob("*.partial"))
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp files left
    cat = read_catalog(root)
    assert cat.column("episode_id").to_pylist() == [0, 1, 2]
    assert cat.column("num_steps").to_pylist() == [5, 6, 7]
    assert cat.column("bytes").to_pylist() == [(root / f).stat().st_size for f in cat.column("file").to_pylist()]
    rebuilt = rebuild_catalog(root)
    drop = ["created_at"]
    assert rebuilt.drop_columns(drop).to_pylist() == cat.drop_columns(drop).to_pylist()


def test_rebuild_catalog_keeps_extra_metric_columns(ds_root, rng):
    root, spec = ds_root
    write_episode(root, spec, rng, n=4)
    write_episode(root, spec, rng, n=4)
    from teleforge.dataset.catalog import write_catalog

    cat = read_catalog(root)
    write_catalog(root, cat.append_column("jerk", pa.array([1.5, 2.5])))
    rebuilt = rebuild_catalog(root)
    assert rebuilt.column("jerk").to_pylist() == [1.5, 2.5]
    write_episode(root, spec, rng, n=4)  # appending keeps the column too (null for the new one)
    assert read_catalog(root).column("jerk").to_pylist() == [1.5, 2.5, None]
    assert Dataset.open(root).episodes[0].metrics == {"jerk": 1.5}


def test_episode_ids_never_reused_after_discard_or_crash(ds_root, rng):
    root, spec = ds_root
    write_episode(root, spec, rng, n=2)  # 0
    w = EpisodeWriter(root, spec, make_start())
    w.append(make_step(0, spec, rng))
    w.discard()  # 1, gone
    assert not w.partial_path.exists()
    crashed = EpisodeWriter(root, spec, make_start())  # 2, left as .partial
    crashed.append(make_step(0, spec, rng))
    crashed.flush()
    summary, _ = write_episode(root, spec, rng, n=2)
    assert (w.episode_id, crashed.episode_id, summary.episode_id) == (1, 2, 3)
    (root / "episodes" / ".next_id").unlink()  # even without the counter, ids on disk win
    assert EpisodeWriter(root, spec, make_start()).episode_id == 4


def test_dataset_access_patterns(ds_root, rng):
    root, spec = ds_root
    write_episode(root, spec, rng, n=6, task="pick_cube", session="a")
    write_episode(root, spec, rng, n=4, outcome="failure", task="stack", session="b")
    ds = Dataset.open(root)
    assert len(ds) == 2 and isinstance(ds.catalog, pa.Table)
    assert [e.episode_id for e in ds.filter(task="stack")] == [1]
    assert [e.episode_id for e in ds.filter(outcome=["success", "failure"])] == [0, 1]
    assert [e.episode_id for e in ds.filter(session="a", outcome="success")] == [0]
    step = ds[(1, 3)]
    assert step["step"] == 3 and step["observation.images.front"].shape == (24, 32, 3)
    assert step["action"].dtype == np.float32 and step["action"].shape == (7,)
    assert [s["step"] for s in ds.episode(0).steps(decode_images=False)] == list(range(6))
    with pytest.raises(EpisodeNotFoundError, match="episode 9"):
        ds.episode(9)
    with pytest.raises(EpisodeNotFoundError, match="steps 0..3"):
        ds[(1, 4)]
    with pytest.raises(DatasetError, match="no camera 'side'"):
        ds.episode(0).image("side", 0)


def test_async_recorder_round_trip(ds_root, rng):
    root, spec = ds_root
    ds = Dataset.open(root)
    steps = [make_step(i, spec, rng, t0=0) for i in range(57)]
    with AsyncRecorder(ds, flush_interval_s=0.05) as rec:
        rec.start_episode(make_start())
        for s in steps:
            rec.submit(s)
        summary = rec.finish(EpisodeEnd("success", loop_stats={"period_p99_ms": 21.0}))
        assert rec.status().steps_submitted == 57
    assert summary.num_steps == 57
    ep = ds.episode(summary.episode_id)
    np.testing.assert_array_equal(ep.column("step"), np.arange(57))  # order kept across encoder threads
    np.testing.assert_array_equal(ep.column("action"), np.stack([s.action for s in steps]))
    rs = ep.meta.loop_stats["recorder"]
    assert rs["queue_high_water"] >= 1 and rs["overflow_steps"] == 0
    assert ep.meta.period_p99_ms == 21.0
    assert [s.session_id for s in ds.sessions] == ["s1"]


def test_open_or_create_refuses_mismatched_setup(tmp_path):
    open_or_create(tmp_path / "ds", make_spec())
    assert open_or_create(tmp_path / "ds", make_spec()).spec == make_spec()
    with pytest.raises(DatasetError, match="different setup"):
        open_or_create(tmp_path / "ds", make_spec(cams=("front",)))
    with pytest.raises(DatasetError, match="already holds"):
        create_dataset(tmp_path / "ds", make_spec())


def test_to_hf_has_image_features_and_one_row_per_step(ds_root, rng):
    import datasets

    root, spec = ds_root
    write_episode(root, spec, rng, n=6)
    write_episode(root, spec, rng, n=4, outcome="failure")
    ds = Dataset.open(root)
    hf = ds.to_hf()
    assert hf.num_rows == 10
    assert isinstance(hf.features["observation.images.front"], datasets.Image)
    assert hf.features["outcome"] == datasets.Value("string")
    assert hf.features["observation.state.gripper"] == datasets.Value("float32")
    row = hf[7]
    assert row["episode_id"] == 1 and row["step"] == 1 and row["outcome"] == "failure"
    assert np.asarray(row["observation.images.wrist"]).shape == (24, 32, 3)
    assert len(row["action"]) == 7
    assert ds.to_hf(episodes=[1]).num_rows == 4


def test_summarize_reports_counts_and_timing(ds_root, rng):
    root, spec = ds_root
    write_episode(root, spec, rng, n=6, loop_stats={"period_p99_ms": 22.0, "missed_deadlines": 1, "frame_age_p99_ms": {"front": 9.0}})
    write_episode(root, spec, rng, n=4, outcome="failure", loop_stats={"period_p99_ms": 30.0, "missed_deadlines": 3})
    s = summarize(Dataset.open(root))
    assert (s["episodes"], s["steps"]) == (2, 10)
    assert s["outcomes"] == {"success": 1, "failure": 1}
    assert s["timing"]["worst_period_p99_ms"] == 30.0
    assert s["timing"]["total_missed_deadlines"] == 4
    assert s["timing"]["worst_frame_age_p99_ms"] == 9.0
    assert s["disk_bytes"] > 0 and s["recovered"] == 0 and s["partial"] == 0
    assert s["duration_s"] == pytest.approx(10 / 50)
