"""Broken folders and shards raise typed errors with messages that say what to do."""

from __future__ import annotations

import json

import pytest

from teleforge.dataset import Dataset, EpisodeEnd, EpisodeWriter, recover
from teleforge.errors import CorruptShardError, DatasetError, DatasetNotFoundError, FormatVersionError
from tests.dataset.synth import make_start, make_step


def finalized(root, spec, rng, n=40):
    w = EpisodeWriter(root, spec, make_start(), batch_rows=5)
    for i in range(n):
        w.append(make_step(i, spec, rng))
    return w.finalize(EpisodeEnd("success"))


def test_missing_manifest_says_what_the_folder_holds(tmp_path):
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("x")
    with pytest.raises(DatasetNotFoundError) as e:
        Dataset.open(tmp_path / "stuff")
    msg = str(e.value)
    assert "notes.txt" in msg and "teleforge.json" in msg and "teleforge collect" in msg
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        Dataset.open(tmp_path / "nope")


def test_unreadable_manifest_is_a_dataset_error(ds_root):
    root, _ = ds_root
    (root / "teleforge.json").write_text("{not json")
    with pytest.raises(DatasetError, match="not valid JSON") as e:
        Dataset.open(root)
    assert not isinstance(e.value, DatasetNotFoundError)


def test_unknown_major_version_is_refused_with_upgrade_hint(ds_root):
    root, _ = ds_root
    m = json.loads((root / "teleforge.json").read_text())
    m["format_version"] = "2.3"
    (root / "teleforge.json").write_text(json.dumps(m))
    with pytest.raises(FormatVersionError, match=r"format 2\.3.*reads format 1\.x.*upgrade teleforge"):
        Dataset.open(root)


def test_newer_minor_version_is_readable(ds_root):
    root, _ = ds_root
    m = json.loads((root / "teleforge.json").read_text())
    m["format_version"] = "1.7"
    (root / "teleforge.json").write_text(json.dumps(m))
    assert Dataset.open(root).format_version == "1.7"


def test_truncated_shard_raises_corrupt_shard_naming_file_and_recover(ds_root, rng):
    root, spec = ds_root
    s = finalized(root, spec, rng)
    data = s.file.read_bytes()
    s.file.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(CorruptShardError) as e:
        Dataset.open(root).episode(s.episode_id).num_steps
    assert s.file.name in str(e.value) and "teleforge recover" in str(e.value)


def test_garbage_shard_raises_corrupt_shard(ds_root, rng):
    root, spec = ds_root
    s = finalized(root, spec, rng)
    s.file.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(CorruptShardError, match=s.file.name):
        Dataset.open(root).episode(s.episode_id).column("action")


def test_recover_repairs_truncated_finalized_shard_and_keeps_original(ds_root, rng):
    root, spec = ds_root
    s = finalized(root, spec, rng, n=40)
    data = s.file.read_bytes()
    s.file.write_bytes(data[: len(data) // 2])
    report = recover(root)
    assert report.repaired == [s.episode_id]
    assert (root / "episodes" / "corrupt" / (s.file.name + ".corrupt")).read_bytes() == data[: len(data) // 2]
    ep = Dataset.open(root).episode(s.episode_id)
    assert 0 < ep.num_steps < 40 and ep.num_steps % 5 == 0  # whole batches only
    assert ep.meta.recovered and ep.meta.outcome == "success"  # outcome kept from the catalog
    assert Dataset.open(root).episodes[0].num_steps == ep.num_steps


def test_recover_quarantines_garbage_instead_of_deleting(ds_root, rng):
    root, spec = ds_root
    good = finalized(root, spec, rng, n=5)
    bad = finalized(root, spec, rng, n=5)
    bad.file.write_bytes(b"garbage!" * 50)
    (root / "episodes" / "ep-000009.arrow.partial").write_bytes(b"")  # crashed before the header
    report = recover(root)
    assert sorted(report.quarantined) == ["episodes/corrupt/ep-000001.arrow.corrupt", "episodes/corrupt/ep-000009.arrow.partial.corrupt"]
    assert (root / "episodes" / "corrupt" / "ep-000001.arrow.corrupt").read_bytes() == b"garbage!" * 50
    ds = Dataset.open(root)
    assert [e.episode_id for e in ds.episodes] == [good.episode_id]
    assert recover(root).quarantined == []  # idempotent
    # ids of quarantined shards are not reused
    assert EpisodeWriter(root, spec, make_start()).episode_id == 10


def test_recover_finishes_a_complete_shard_left_unrenamed(ds_root, rng):
    root, spec = ds_root
    s = finalized(root, spec, rng, n=10)
    s.file.rename(s.file.with_name(s.file.name + ".partial"))  # crash between fsync and rename
    (root / "catalog.parquet").unlink()
    report = recover(root)
    assert report.recovered_steps == {s.episode_id: 10}
    ep = Dataset.open(root).episodes[0]
    assert ep.outcome == "success" and not ep.recovered and ep.num_steps == 10
