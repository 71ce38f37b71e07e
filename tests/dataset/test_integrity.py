"""Items 10-12 of issue 11: a damaged catalog, edits that outlive it, shard checksums and `verify`."""

from __future__ import annotations

import json

import numpy as np
import pytest

from teleforge.dataset import Dataset, read_catalog, rebuild_catalog, recover, summarize
from teleforge.dataset.catalog import CURATED_OUTCOME, DELETED
from teleforge.dataset.edits import EDITS, read_edits, record_edits
from teleforge.dataset.verify import verify_dataset
from teleforge.errors import CatalogError, CorruptShardError
from tests.dataset.helpers import record

MARK = 1.2345678  # a float32 whose bytes are easy to find in a shard


def _damage_catalog(root):
    p = root / "catalog.parquet"
    data = bytearray(p.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\xff" * 64
    p.write_bytes(bytes(data[: len(data) - 10]))


def test_damaged_catalog_raises_typed_error_and_recover_rebuilds_it(ds_root):
    root, _ = ds_root
    ids = [record(root, seed=k) for k in range(3)]
    _damage_catalog(root)
    with pytest.raises(CatalogError, match="recover"):
        read_catalog(root)
    s = summarize(Dataset.open(root))  # info must not crash
    assert any("catalog.parquet" in w for w in s["warnings"])
    report = recover(root)
    assert report.catalog_episodes == 3 and any("damaged" in m for m in report.messages)
    assert read_catalog(root).column("episode_id").to_pylist() == ids


def test_edits_survive_the_loss_of_the_catalog(ds_root):
    from teleforge.curation import relabel, set_deleted

    root, _ = ds_root
    ids = [record(root, seed=k) for k in range(3)]
    relabel(root, [ids[0]], outcome="failure", instruction="pick the red cube")
    set_deleted(root, [ids[1]])
    log = read_edits(root)
    assert [(e.episode_id, e.field) for e in log.edits] == [
        (ids[0], "curated_outcome"), (ids[0], "curated_instruction"), (ids[1], "deleted")]
    assert all(e.when and e.who is not None for e in log.edits)
    (root / "catalog.parquet").unlink()
    recover(root)
    rows = {r["episode_id"]: r for r in read_catalog(root).to_pylist()}
    assert rows[ids[0]][CURATED_OUTCOME] == "failure"
    assert rows[ids[0]]["curated_instruction"] == "pick the red cube"
    assert rows[ids[1]][DELETED] is True and not rows[ids[2]][DELETED]
    _damage_catalog(root)
    rebuild_catalog(root)
    assert read_catalog(root).to_pylist()[0][CURATED_OUTCOME] == "failure"


def test_a_torn_last_edit_line_is_ignored_and_the_next_edit_still_lands(ds_root):
    root, _ = ds_root
    a, b = record(root, seed=0), record(root, seed=1)
    record_edits(root, {a: {CURATED_OUTCOME: "failure"}})
    with open(root / EDITS, "ab") as f:
        f.write(b'{"episode_id": 1, "field": "curated_out')  # crash mid-append
    log = read_edits(root)
    assert log.torn_tail and len(log.edits) == 1 and not log.problems
    record_edits(root, {b: {DELETED: True}})
    log = read_edits(root)
    assert [(e.episode_id, e.field, e.value) for e in log.edits] == [(a, CURATED_OUTCOME, "failure"), (b, DELETED, True)]
    with pytest.raises(Exception, match="bogus"):
        record_edits(root, {a: {CURATED_OUTCOME: "bogus"}})


def _flip_action_bit(path):
    data = bytearray(path.read_bytes())
    needle = np.full(7, MARK, np.float32).tobytes()
    k = data.find(needle)
    assert k >= 0
    data[k + 2] ^= 0x10
    path.write_bytes(bytes(data))


def test_one_flipped_bit_is_named_by_verify(ds_root):
    root, _ = ds_root
    record(root, seed=0)
    ep = record(root, n_steps=20, seed=1, action=MARK)
    assert verify_dataset(root).ok
    shard = root / "episodes" / f"ep-{ep:06d}.arrow"
    _flip_action_bit(shard)
    report = verify_dataset(root)
    assert not report.ok
    assert any(shard.name in p and "batch 0" in p and "checksum" in p for p in report.problems), report.problems
    assert len(report.problems) == 1
    with pytest.raises(CorruptShardError, match="checksum"):
        Dataset.open(root, verify=True).episode(ep).table
    Dataset.open(root).episode(ep).table  # without verify it reads (the damage is silent)


def test_verify_reports_old_shards_views_and_catalog_disagreement(ds_root):
    root, _ = ds_root
    a = record(root, seed=0)
    b = record(root, seed=1, n_steps=10)
    # An old shard without checksums: rewrite its end record without them.
    from tests.dataset.test_integrity_old import strip_checksums

    strip_checksums(root / "episodes" / f"ep-{a:06d}.arrow")
    rebuild_catalog(root)
    (root / "views").mkdir(exist_ok=True)
    view = {"format": "teleforge.view/1", "name": "v", "episodes": [a, b, 99], "trims": {str(b): [2, 50]}}
    (root / "views" / "v.json").write_text(json.dumps(view))
    (root / "episodes" / f"ep-{b:06d}.arrow").rename(root / "episodes" / "moved.bin")
    report = verify_dataset(root)
    text = "\n".join(report.problems)
    assert not report.ok
    assert f"ep-{b:06d}.arrow" in text and "missing" in text
    assert "v.json" in text and "99" in text
    assert any(f"ep-{a:06d}.arrow" in n and "no checksum" in n for n in report.notes)
    assert not any(f"ep-{a:06d}" in p for p in report.problems)


def test_info_warns_when_shards_and_catalog_disagree(ds_root):
    root, _ = ds_root
    a = record(root, seed=0)
    record(root, seed=1)
    from teleforge.dataset.catalog import write_catalog

    cat = read_catalog(root)
    write_catalog(root, cat.filter(np.array(cat.column("episode_id").to_pylist()) != a))
    s = summarize(Dataset.open(root))
    assert any("not in the catalog" in w and f"ep-{a:06d}" in w for w in s["warnings"]), s["warnings"]


def test_cli_verify_exit_code_and_lines(ds_root):
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    root, _ = ds_root
    ep = record(root, seed=1, action=MARK)
    ok = CliRunner().invoke(app, ["verify", str(root)])
    assert ok.exit_code == 0 and "ok" in ok.output
    _flip_action_bit(root / "episodes" / f"ep-{ep:06d}.arrow")
    bad = CliRunner().invoke(app, ["verify", str(root)])
    assert bad.exit_code == 1
    assert f"ep-{ep:06d}.arrow: batch 0" in bad.output and "1 problem" in bad.output


def test_catalog_file_outside_episodes_is_refused_and_stale_temps_are_cleaned(ds_root):
    import pyarrow as pa

    from teleforge.dataset.catalog import write_catalog

    root, _ = ds_root
    ep = record(root, seed=0)
    cat = read_catalog(root)
    for bad in ("/etc/passwd", "../x/ep-000000.arrow", "episodes/../../ep-000000.arrow"):
        write_catalog(root, cat.set_column(cat.column_names.index("file"), "file", pa.array([bad])))
        with pytest.raises(CatalogError, match="field 'file'"):
            Dataset.open(root).episode(ep)
        assert any("field 'file'" in p for p in verify_dataset(root).problems)
    stale = root / ".catalog.parquet.tmp-999999999"
    stale.write_bytes(b"half a catalog")
    report = recover(root)
    assert not stale.exists() and any(stale.name in m for m in report.messages)
    assert read_catalog(root).column("file").to_pylist() == [f"episodes/ep-{ep:06d}.arrow"]
