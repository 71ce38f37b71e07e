"""The review app's data side: paging, sorting, filtering, decisions written to a view and a log."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from teleforge.curation import load_view
from teleforge.curation.review_data import ReviewSession, read_log
from teleforge.errors import CurationError, ViewError
from tests.curation.synth import shard_digests


def test_table_pages_sorts_and_filters(reviewed: Path) -> None:
    s = ReviewSession(reviewed, "filtered")
    page = s.query(sort="idle_fraction", desc=True, limit=5)
    assert page.total == len(s.order) and len(page.rows) == 5
    vals = [r["idle_fraction"] for r in page.rows]
    assert vals == sorted(vals, reverse=True)
    assert {"instruction", "operator_id", "outcome", "rule"} <= set(page.columns)
    # the filter view's rejections show with the rule's threshold and the measured value
    dropped = s.query(equals={"decision": "drop"}, limit=100).rows
    assert dropped and all(r["reasons"] and r["reasons"][0]["when"] for r in dropped)
    idle = s.query(equals={"rule": "idle_pause"}).rows
    assert idle and all("idle_pause" in r["rule"] for r in idle)
    assert idle[0]["reasons"][0]["when"] == "idle_max_run_s > 1.5"
    assert s.query(where="idle_max_run_s > 1.5").total == len(idle)
    assert s.query(text="place_in_bin").total == sum(1 for r in s.rows if r["task"] == "place_in_bin")
    second = s.query(sort="episode_id", offset=5, limit=5).rows
    assert [r["episode_id"] for r in second] == s.order[5:10]
    with pytest.raises(CurationError, match="filter"):
        s.query(where="idle_fraction >")
    with pytest.raises(CurationError, match="cannot sort"):
        s.query(sort="nope")


def test_episode_detail_has_series_distributions_and_duplicates(reviewed: Path) -> None:
    s = ReviewSession(reviewed)
    eid = next(i for i in s.order if s.clusters.get(i))
    ep = s.episode(eid)
    assert ep["cameras"] == ["front", "wrist"] and ep["num_steps"] > 0
    assert len(ep["series"]["action"]["values"]) == ep["num_steps"]
    m = ep["metrics"]["idle_fraction"]
    assert 0 <= m["percentile"] <= 100 and sum(m["hist"]) > 0
    assert ep["row"]["duplicates"] and eid not in ep["row"]["duplicates"]
    assert s.frame(eid, "wrist", 0)[:2] == b"\xff\xd8"
    thumb = s.thumbnail(eid, "front")
    assert thumb[:2] == b"\xff\xd8" and list((reviewed / ".cache" / "review" / "thumbs").glob(f"{eid}-*-front-*.jpg"))


def test_decisions_are_saved_at_once_and_logged(reviewed: Path) -> None:
    before = shard_digests(reviewed)
    s = ReviewSession(reviewed, "filtered", name="review", who="ana")
    kept = s.view.episodes[0]
    s.decide(kept, "drop", why="gripper slipped")
    v = load_view(reviewed, "review")
    assert kept not in v.episodes and v.rejected[kept][0]["rule"] == "manual_review"
    assert v.rejected[kept][0]["values"] == {"who": "ana", "why": "gripper slipped"}
    assert v.parent == "filtered" and v.operation == "review"
    s.decide(kept, "keep")
    s.decide(kept, "trim", start=2, stop=30)
    s.decide(kept, "relabel", instruction="pick up the cube", outcome="failure")
    v = load_view(reviewed, "review")
    assert kept in v.episodes and v.trims[kept] == (2, 30) and kept not in v.rejected
    log = read_log(reviewed, "review")
    assert [e["action"] for e in log] == ["drop", "keep", "trim", "relabel"]
    assert all(e["who"] == "ana" and e["at"] and e["episode"] == kept for e in log)
    assert log[0]["why"] == "gripper slipped" and log[2]["after"] == [2, 30]
    assert log[3]["after"] == {"outcome": "failure", "instruction": "pick up the cube"}
    assert shard_digests(reviewed) == before  # nothing in the shards changes
    # a new session resumes the saved review
    s2 = ReviewSession(reviewed, "filtered", name="review")
    assert s2.view.trims[kept] == (2, 30) and s2.by_id[kept]["instruction"] == "pick up the cube"
    with pytest.raises(CurationError, match="start < stop"):
        s2.decide(kept, "trim", start=30, stop=2)
    s2.decide(kept, "trim")  # no range: clear
    assert kept not in load_view(reviewed, "review").trims
    lines = (reviewed / "views" / "review.log.jsonl").read_text().splitlines()
    assert len(lines) == 5 and all(json.loads(x) for x in lines)


def test_bad_names_are_refused(reviewed: Path) -> None:
    with pytest.raises(ViewError):
        ReviewSession(reviewed, name="../x")
    with pytest.raises(ViewError):
        ReviewSession(reviewed, "filtered", name="filtered")
    with pytest.raises(CurationError):
        ReviewSession(reviewed).decide(99999, "keep")
