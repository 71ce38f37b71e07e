"""Subtle defects: labelled, still successful, and under every default rule's threshold."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teleforge.curation import MetricsConfig, compute_metrics, filter_view
from teleforge.dataset.catalog import read_catalog
from teleforge.errors import RobotError
from teleforge.robots.expert_defects import SUBTLE_DEFECTS, EpisodeQuality, SubtleExpert, draw_quality, quality_of
from teleforge.workflows import scripted_dataset as sd
from teleforge.workflows.experiment_arms import _rules


def _collect(root: Path, settings: list[EpisodeQuality], monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    monkeypatch.setattr(sd, "episode_plan", lambda cfg: [(i, 700 + i, "op0", q) for i, q in enumerate(settings)])
    return sd.collect_scripted(sd.ScriptedDatasetConfig(root=root, episodes=len(settings), cameras=(), workers=1))


def _check_subtle(root: Path, settings: list[EpisodeQuality], monkeypatch: pytest.MonkeyPatch) -> None:
    res = _collect(root, settings, monkeypatch)
    assert all(r["success"] for r in res), [(r.get("defect"), r["success"]) for r in res]
    compute_metrics(root, MetricsConfig(images=False))
    view = filter_view(root, "rules", _rules(root))
    assert not view.rejected, {i: [x["rule"] for x in v] for i, v in view.rejected.items()}
    rows = read_catalog(root).to_pylist()
    for r, q in zip(rows, settings):
        lab = json.loads(r["labels"])
        assert lab["defect"] == q.kind and lab["quality_tier"] == "subtle"
        assert lab["quality"] == pytest.approx(quality_of(q.kind, q.severity)) and 0.4 < lab["quality"] < 0.9


def test_grasp_defects_succeed_and_pass_the_default_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _check_subtle(tmp_path / "ds", [EpisodeQuality("regrasp", 0.8), EpisodeQuality("hesitant", 1.0)], monkeypatch)


@pytest.mark.slow
def test_every_subtle_defect_succeeds_and_passes_the_default_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = [EpisodeQuality(k, s) for k in SUBTLE_DEFECTS for s in (0.25, 0.6, 1.0)]
    _check_subtle(tmp_path / "ds", settings, monkeypatch)


def test_quality_labels_order_clean_subtle_crude() -> None:
    assert quality_of(None, 0.0) == 1.0
    assert 0.45 <= quality_of("wobble", 1.0) < quality_of("wobble", 0.0) <= 0.85
    assert quality_of("idle", 0.0) <= 0.3
    with pytest.raises(RobotError, match="hesitant"):
        quality_of("sneeze", 0.5)
    with pytest.raises(RobotError, match="hesitant"):
        SubtleExpert("pick_cube", "sneeze")


def test_draw_quality_is_reproducible_and_near_the_rates() -> None:
    draws = [draw_quality(s, 0.3, 0.1) for s in range(2000)]
    assert draws[:50] == [draw_quality(s, 0.3, 0.1) for s in range(50)]
    subtle = sum(d.tier == "subtle" for d in draws) / len(draws)
    crude = sum(d.tier == "crude" for d in draws) / len(draws)
    assert 0.25 < subtle < 0.35 and 0.07 < crude < 0.13
    assert not any(d.kind in ("regrasp", "off_centre") for d in (draw_quality(s, 0.9, 0.0, "push_to_target") for s in range(200)))
