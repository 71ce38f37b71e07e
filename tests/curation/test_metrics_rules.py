from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from teleforge.curation import (
    RuleSet,
    compute_metrics,
    default_rules,
    diagnosis,
    effective_rows,
    filter_view,
    load_rules,
    relabel,
    set_deleted,
)
from teleforge.curation.rules import Rule
from teleforge.dataset import read_catalog, rebuild_catalog
from teleforge.errors import CurationError, RuleError


def _rows(root: Path) -> dict[str, dict]:
    """Rows keyed by planted label ('' + seed for clean episodes)."""
    out = {}
    for r in effective_rows(read_catalog(root)):
        out[r["labels"].get("failure") or f"clean{r['seed']}"] = r
    return out


def test_metrics_detect_each_planted_defect(mixed: Path) -> None:
    rows = _rows(mixed)
    clean = [r for k, r in rows.items() if k.startswith("clean")]
    assert rows["idle"]["idle_max_run_s"] == pytest.approx(60 / 20.0)
    assert max(r["idle_max_run_s"] for r in clean) < 0.5
    assert rows["jitter"]["action_jerk_rms"] > 5 * max(r["action_jerk_rms"] for r in clean)
    assert rows["overshoot"]["approach_overshoot_m"] == pytest.approx(0.08, abs=0.01)
    assert max(r["approach_overshoot_m"] for r in clean) < 0.01
    assert rows["corrupt"]["nonfinite_values"] == 1
    assert all(r["nonfinite_values"] == 0 for r in clean)
    assert rows["camera"]["img_front_black_frac"] == 1.0
    assert all(r["img_front_black_frac"] == 0.0 for r in clean)
    c0 = rows["clean0"]
    assert (c0["idle_head_steps"], c0["idle_tail_steps"]) == (3, 8)
    assert c0["length"] == 60 and c0["duration"] == pytest.approx(3.0)
    assert c0["gripper_toggles"] == 1
    assert c0["time_limit_frac"] == pytest.approx(3.0 / 20.0)
    assert c0["img_front_missing_frac"] == 0.0
    assert c0["img_front_age_p99_ms"] == pytest.approx(20.0)
    assert c0["metrics_version"] >= 1


def test_metrics_are_catalog_columns_that_survive_a_rebuild(mixed: Path) -> None:
    before = read_catalog(mixed)
    assert {"idle_fraction", "action_jerk_rms", "metrics_version", "content_hash"} <= set(before.column_names)
    rebuild_catalog(mixed)
    after = read_catalog(mixed)
    assert after.column("action_jerk_rms").to_pylist() == before.column("action_jerk_rms").to_pylist()


def test_metrics_are_idempotent_and_recompute_only_on_force(mixed: Path) -> None:
    run = compute_metrics(mixed)
    assert run.computed == 0 and run.skipped == len(read_catalog(mixed))
    assert compute_metrics(mixed, force=True).computed == len(read_catalog(mixed))


def test_default_rules_reject_each_defect_and_keep_every_clean_demo(mixed: Path) -> None:
    view = filter_view(mixed, "f")
    rows = _rows(mixed)
    ids = {k: r["episode_id"] for k, r in rows.items()}
    assert {k for k in ids if k.startswith("clean")} == {k for k, i in ids.items() if i in view.episodes}
    want = {"idle": "idle", "jitter": "jitter", "wrong_object": "failure", "corrupt": "corrupt", "camera": "camera",
            "overshoot": "overshoot"}
    for label, kind in want.items():
        reasons = view.rejected[ids[label]]
        assert diagnosis(reasons) == kind
        assert all(r["values"] for r in reasons), "every reason carries the values it saw"
    assert view.rules_hash == default_rules().hash


def test_rejection_reasons_name_every_rule_that_fired_with_values(mixed: Path) -> None:
    rs = RuleSet([Rule("long", "length > 50"), Rule("idle", "idle_fraction > 0.4")])
    view = filter_view(mixed, "f", rs)
    idle_id = _rows(mixed)["idle"]["episode_id"]
    reasons = view.rejected[idle_id]
    assert [r["rule"] for r in reasons] == ["long", "idle"]
    assert reasons[0]["values"] == {"length": 120}


def test_rule_expressions_support_strings_logic_and_camera_wildcards() -> None:
    row = {"outcome": "failure", "idle_fraction": 0.5, "img_front_black_frac": 0.0, "img_wrist_black_frac": 0.9, "x": float("nan")}
    assert Rule("a", 'outcome != "success" and idle_fraction > 0.4').evaluate(row)[0]
    assert not Rule("b", "not (idle_fraction >= 0.5) or outcome == 'success'").evaluate(row)[0]
    fires, values = Rule("c", "img_*_black_frac > 0.5").evaluate(row)
    assert fires and values["img_*_black_frac"] == 0.9
    assert not Rule("d", "x > 0").evaluate(row)[0], "an unmeasured (NaN) value never rejects"


@pytest.mark.parametrize("expr", ["idle_fraction >", "idle_fraction 0.4", "(length > 3", "length > 3 3", "length ~ 3"])
def test_malformed_rule_expression_is_a_rule_error(expr: str) -> None:
    with pytest.raises(RuleError):
        Rule("bad", expr)


def test_unknown_metric_is_a_clear_error_with_a_suggestion(mixed: Path) -> None:
    with pytest.raises(RuleError, match="idle_fracton.*Did you mean idle_fraction"):
        filter_view(mixed, "f", RuleSet([Rule("typo", "idle_fracton > 0.4")]))


def test_rules_file_loads_and_malformed_files_fail_clearly(tmp_path: Path, mixed: Path) -> None:
    good = tmp_path / "r.toml"
    good.write_text('[[rule]]\nname = "fail"\nwhen = "outcome != \\"success\\""\nkind = "failure"\n[trim]\nmargin = 4\n')
    rs = load_rules(good)
    assert rs.trim.margin == 4 and rs.rules[0].kind == "failure"
    view = filter_view(mixed, "f", rs)
    assert len(view.rejected) == 1
    bad = tmp_path / "bad.toml"
    bad.write_text("[[rule]\nname=")
    with pytest.raises(RuleError, match="not valid TOML"):
        load_rules(bad)
    nowhen = tmp_path / "nowhen.toml"
    nowhen.write_text('[[rule]]\nname = "x"\n')
    with pytest.raises(RuleError, match="needs 'name' and 'when'"):
        load_rules(nowhen)
    with pytest.raises(RuleError, match="does not exist"):
        load_rules(tmp_path / "missing.toml")


def test_relabel_changes_what_rules_see_and_delete_hides_episodes(mixed: Path) -> None:
    rows = _rows(mixed)
    wrong = rows["wrong_object"]["episode_id"]
    relabel(mixed, [wrong], outcome="success", instruction="pick the red one")
    view = filter_view(mixed, "f", RuleSet([Rule("fail", 'outcome != "success"')]))
    assert wrong in view.episodes
    assert next(r for r in effective_rows(read_catalog(mixed)) if r["episode_id"] == wrong)["instruction"] == "pick the red one"
    set_deleted(mixed, [wrong])
    assert wrong not in filter_view(mixed, "f", RuleSet([Rule("x", "length < 0")])).episodes
    set_deleted(mixed, [wrong], False)
    assert wrong in filter_view(mixed, "f", RuleSet([Rule("x", "length < 0")])).episodes
    with pytest.raises(CurationError, match="not one of"):
        relabel(mixed, [wrong], outcome="great")


def test_outlier_scores_flag_the_abnormal_episode_per_task(mixed: Path) -> None:
    view = filter_view(mixed, "f", RuleSet([Rule("outlier", "outlier_z > 3.5")]))
    flagged = {r["labels"].get("failure") for r in effective_rows(read_catalog(mixed)) if r["episode_id"] in view.rejected}
    assert "jitter" in flagged and "idle" in flagged
    assert None not in flagged, "no clean demo is an outlier"


def test_curation_imports_no_simulator_torch_or_pygame() -> None:
    code = "import sys, teleforge.curation, teleforge.cli.curate; print(sorted(m for m in ('mujoco','torch','pygame') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_motion_metrics_on_an_empty_episode_do_not_crash() -> None:
    import pyarrow as pa

    from teleforge.curation import motion_metrics
    from teleforge.dataset.schema import step_schema
    from tests.curation.synth import make_spec

    m = motion_metrics(step_schema(make_spec()).empty_table(), 20.0)
    assert m["length"] == 0 and m["idle_fraction"] == 0.0 and np.isnan(m["post_release_motion_m"])
    assert isinstance(pa, object)


def test_metrics_from_another_version_must_be_recomputed_before_filtering(mixed: Path) -> None:
    from teleforge.curation.store import set_columns

    ids = read_catalog(mixed).column("episode_id").to_pylist()
    set_columns(mixed, {i: {"metrics_version": 0} for i in ids})
    with pytest.raises(CurationError, match="curate metrics"):
        filter_view(mixed, "f")
    assert compute_metrics(mixed).computed == len(ids)
    filter_view(mixed, "f")
