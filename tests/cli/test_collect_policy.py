"""`teleforge collect --policy`: a policy drives the sim, the operator's device takes over twice,
and the episode records who was in control."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

import teleforge.workflows.collect_parts as collect_parts
from teleforge.cli.main import app
from teleforge.curation.takeover import intervention_segments
from teleforge.dataset import Dataset
from teleforge.errors import DeviceError
from teleforge.workflows.collect_config import CollectConfig, check_config
from tests.teleop.test_takeover import Operator

runner = CliRunner()


def test_collect_policy_with_two_takeovers_records_two_segments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The operator's "gamepad" is the takeover test's scripted operator: TAKEOVER at reads 10/20/35/45, STOP at 59.
    monkeypatch.setattr(collect_parts, "make_hw", lambda name, **kw: Operator())
    ds_path = tmp_path / "ds"
    res = runner.invoke(app, ["collect", "--policy", "zero", "--device", "gamepad", "--headless", "--episodes", "1",
                              "--hz", "50", "--cameras", "front", "--image-size", "64", "--dataset", str(ds_path)],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    assert "safety limits in force" in res.output and "takeover button" in res.output
    ds = Dataset.open(ds_path)
    (meta,) = ds.episodes
    ep = ds.episode(meta.episode_id)
    segs = intervention_segments(ep.column("control.intervention"))
    assert len(segs) == 2, segs
    assert [b - a for a, b in segs] == [10, 10]
    labels = ep.meta.labels
    assert labels["control"] == "policy" and labels["takeovers"] == 2
    assert [tuple(s) for s in labels["interventions"]] == segs
    assert labels["policy"]["head"] == "zero"
    (session,) = ds.sessions
    assert session.device == "policy+operator"


def test_policy_needs_an_operator_device_and_a_real_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(DeviceError, match="operator device"):
        check_config(CollectConfig(dataset=tmp_path / "a", device="scripted", policy="zero", headless=True))
    with pytest.raises(DeviceError, match="no checkpoint folder"):
        check_config(CollectConfig(dataset=tmp_path / "b", device="gamepad", policy=str(tmp_path / "nope"), headless=True))
    with pytest.raises(DeviceError, match="scripted oracle"):
        check_config(CollectConfig(dataset=tmp_path / "c", device="gamepad", policy="expert", robot="xarm://10.0.0.2",
                                   headless=True))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_help_names_the_policy_and_shadow_options() -> None:
    res = runner.invoke(app, ["collect", "--help"], env={"COLUMNS": "200"})
    assert "--policy" in res.output and "--shadow" in res.output and "xarm://HOST" in res.output
