from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from teleforge.curation import (
    DedupeConfig,
    RuleSet,
    apply_view,
    build_report,
    compute_metrics,
    dedupe_view,
    effective_rows,
    filter_view,
    load_view,
    merge_datasets,
    near_duplicates,
    save_view,
    split_views,
    trim_view,
)
from teleforge.curation.rules import Rule
from teleforge.dataset import Dataset, read_catalog
from teleforge.errors import CurationError, ViewError
from tests.curation.synth import EpisodePlan, make_dataset, make_spec, write_episode


def test_views_compose_and_keep_the_parents_reasons(mixed: Path) -> None:
    first = filter_view(mixed, "no-fail", RuleSet([Rule("fail", 'outcome != "success"')]))
    save_view(mixed, first)
    second = filter_view(mixed, "no-idle", RuleSet([Rule("idle", "idle_max_run_s > 1.5")]), from_view="no-fail")
    assert second.parent == "no-fail"
    assert set(second.episodes) < set(first.episodes)
    assert set(first.rejected) < set(second.rejected), "a view of a view remembers why its parent dropped episodes"
    save_view(mixed, second)
    again = load_view(mixed, "no-idle")
    assert again.episodes == second.episodes and again.rejected == second.rejected
    assert again.catalog_version and again.rules_hash


def test_view_naming_missing_episodes_is_a_clear_error(mixed: Path) -> None:
    view = filter_view(mixed, "v", RuleSet([Rule("none", "length < 0")]))
    view.episodes.append(999)
    save_view(mixed, view)
    with pytest.raises(ViewError, match=r"does not hold: \[999\]"):
        load_view(mixed, "v")
    with pytest.raises(ViewError, match="no view 'nope'"):
        load_view(mixed, "nope")
    (mixed / "views" / "junk.json").write_text("{not json")
    with pytest.raises(ViewError, match="not valid JSON"):
        load_view(mixed, "junk")


def test_trim_cuts_idle_head_and_tail_to_the_margin(mixed: Path) -> None:
    view = trim_view(mixed, "t")
    rows = {r["seed"]: r for r in effective_rows(read_catalog(mixed))}
    clean = rows[0]  # 3 idle head + 8 idle tail of 60 steps
    assert view.trims[clean["episode_id"]] == (1, 60 - 6)
    assert rows[20]["episode_id"] not in view.trims, "a mid-episode pause is not a trim"


def test_split_is_stratified_by_task_disjoint_and_seeded(mixed: Path) -> None:
    a = split_views(mixed, "s", (0.5, 0.25, 0.25), seed=1)
    b = split_views(mixed, "s", (0.5, 0.25, 0.25), seed=1)
    c = split_views(mixed, "s", (0.5, 0.25, 0.25), seed=2)
    assert [v.episodes for v in a] == [v.episodes for v in b]
    assert [v.episodes for v in a] != [v.episodes for v in c]
    ids = [i for v in a for i in v.episodes]
    assert len(ids) == len(set(ids)) == len(read_catalog(mixed))
    task = {r["episode_id"]: r["task"] for r in effective_rows(read_catalog(mixed))}
    for v in a:
        assert {"pick_cube", "place_in_bin"} <= {task[i] for i in v.episodes}, f"{v.name} misses a task"
    with pytest.raises(CurationError, match="sum"):
        split_views(mixed, "s", (0.5, 0.5, 0.5))


def test_apply_materializes_kept_trimmed_episodes_into_a_new_dataset(mixed: Path, tmp_path: Path) -> None:
    save_view(mixed, filter_view(mixed, "f"))
    view = trim_view(mixed, "ft", from_view="f")
    save_view(mixed, view)
    out = apply_view(mixed, "ft", tmp_path / "out")
    ds = Dataset.open(out.root)
    assert len(ds) == len(view.episodes) == out.episodes
    src = Dataset.open(mixed)
    for new_id, old_id in enumerate(view.episodes):
        a, b = view.trims.get(old_id, (0, src.episode(old_id).num_steps))
        got = ds.episode(new_id)
        assert got.num_steps == b - a
        np.testing.assert_array_equal(got.column("action"), src.episode(old_id).column("action")[a:b])
        assert got.meta.extras["curation"]["source_episode"] == old_id
    compute_metrics(out.root)  # the output is a normal dataset
    with pytest.raises(CurationError, match="not empty"):
        apply_view(mixed, "ft", tmp_path / "out")


def test_merge_combines_compatible_datasets_and_refuses_others(tmp_path: Path) -> None:
    a = make_dataset(tmp_path / "a", [EpisodePlan(seed=1), EpisodePlan(seed=2)])
    b = make_dataset(tmp_path / "b", [EpisodePlan(seed=3)])
    m = merge_datasets([a, b], tmp_path / "ab")
    ds = Dataset.open(m.root)
    assert ds.episode_ids == [0, 1, 2]
    assert [e.seed for e in ds.episodes] == [1, 2, 3]
    c = make_dataset(tmp_path / "c", [EpisodePlan(seed=4)], spec=make_spec(cams=("front", "wrist")))
    with pytest.raises(CurationError, match="cannot merge.*cameras"):
        merge_datasets([a, c], tmp_path / "ac")


def _dup_dataset(root: Path) -> tuple[Path, dict[str, int]]:
    spec = make_spec()
    make_dataset(root, [EpisodePlan(seed=i) for i in range(6)], spec)
    ids = {"exact": write_episode(root, spec, EpisodePlan(seed=2)),
           "near": write_episode(root, spec, EpisodePlan(seed=4, noise_m=0.0005))}
    compute_metrics(root)
    return root, ids


def test_dedupe_finds_planted_exact_and_near_duplicates_and_keeps_one(tmp_path: Path) -> None:
    root, ids = _dup_dataset(tmp_path / "d")
    view, res = dedupe_view(root, "dd")
    assert sorted(res.clusters) == [[2, ids["exact"]], [4, ids["near"]]]
    assert res.exact == [[2, ids["exact"]]]
    assert set(view.rejected) == {ids["exact"], ids["near"]}
    assert view.rejected[ids["exact"]][0]["rule"] == "exact_duplicate"
    assert view.rejected[ids["near"]][0]["values"]["duplicate_of"] == 4
    page = build_report(root, out=tmp_path / "r.html", thumbs=0, dedupe=view).read_text()
    assert 'id="n-clusters">2<' in page and f"<li>2, {ids['exact']}</li>" in page


def test_dedupe_reports_no_cluster_on_a_clean_set(mixed: Path) -> None:
    _, res = dedupe_view(mixed, "dd")
    assert res.clusters == []


def test_near_duplicate_search_is_subquadratic_and_complete() -> None:
    rng = np.random.default_rng(0)
    n, d = 5000, 128
    base = rng.uniform(0, 0.5, (n, d)).astype(np.float32)
    planted = [(i, n + k) for k, i in enumerate(range(0, 500, 10))]
    dups = np.stack([base[i] + rng.normal(0, 0.0005, d).astype(np.float32) for i, _ in planted])
    sigs = np.concatenate([base, dups])
    clusters, verified, _ = near_duplicates(list(range(len(sigs))), sigs, DedupeConfig())
    assert sorted(tuple(c) for c in clusters) == sorted(planted)
    assert verified < len(sigs) * 5, "candidates must scale ~linearly, not n^2"


def test_view_json_has_the_documented_fields(mixed: Path) -> None:
    path = save_view(mixed, filter_view(mixed, "f"))
    d = json.loads(path.read_text())
    assert {"format", "name", "episodes", "trims", "rejected", "rules", "rules_hash", "catalog_version", "parent"} <= set(d)


def _traj_table(ee: np.ndarray, grip: np.ndarray) -> pa.Table:

    act = np.zeros((len(ee), 7), np.float32)
    act[:, 6] = grip
    return pa.table({"observation.state.ee_pos": pa.FixedSizeListArray.from_arrays(ee.astype(np.float32).ravel(), 3),
                     "action": pa.FixedSizeListArray.from_arrays(act.ravel(), 7)})


def test_signature_ignores_timing_but_not_the_path() -> None:
    from teleforge.curation.dedupe import DedupeConfig, signature

    t = np.linspace(0, 1, 47)[:, None]
    ee = np.hstack([0.4 + 0.2 * t, 0.1 * np.sin(3 * t), 0.3 - 0.2 * t])
    grip = (t[:, 0] > 0.6).astype(np.float32)
    base = signature(_traj_table(ee, grip))
    # The same motion re-recorded one tick longer (stopped later) and with a 1 s pause on the way.
    longer = signature(_traj_table(np.vstack([ee, ee[-1:]]), np.append(grip, grip[-1])))
    paused = signature(_traj_table(np.vstack([ee[:20], np.repeat(ee[20:21], 20, 0), ee[20:]]),
                                   np.concatenate([grip[:20], np.repeat(grip[20], 20), grip[20:]])))
    tol = DedupeConfig().tolerance_m * np.sqrt(base.size // 4)
    assert np.linalg.norm(base - longer) < 1e-6 and np.linalg.norm(base - paused) < 1e-6
    # A path 3 cm to the side, or closing the gripper at another place, is a different demo.
    shifted = signature(_traj_table(ee + [0.0, 0.03, 0.0], grip))
    late_grasp = signature(_traj_table(ee, (t[:, 0] > 0.9).astype(np.float32)))
    assert np.linalg.norm(base - shifted) > tol and np.linalg.norm(base - late_grasp) > tol
