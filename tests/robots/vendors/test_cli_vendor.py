"""`teleforge collect --robot xarm://HOST|ur://HOST --shadow` against the fake SDKs: the vendor
adapter is built from its config, its limits are printed at start, and no motion reaches the arm."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from typer.testing import CliRunner

import teleforge.robots.vendors.ur.robot as ur_robot
import teleforge.robots.vendors.xarm.robot as xarm_robot
import teleforge.workflows.collect as collect_mod
import teleforge.workflows.collect_parts as collect_parts
from teleforge.cli.main import app
from teleforge.dataset import Dataset
from teleforge.errors import RobotError
from teleforge.teleop.command import Command, Event
from teleforge.teleop.devices.replay import ReplayDevice
from teleforge.workflows.collect_config import CollectConfig, check_config

from .fake_ur import FakeUR
from .fake_xarm import FakeXArmAPI

runner = CliRunner()
UR_MOTION = ("servoL", "speedL", "servoJ", "servoStop", "speedStop", "moveJ", "moveL")


class Nudge(ReplayDevice):
    """`--device replay` that plays 20 small +x steps, then says STOP on every read (ends the episode)."""

    autonomous = True  # records at once, like a policy: no operator to press start

    def __init__(self) -> None:
        actions = np.zeros((20, 7), np.float32)
        actions[:, 0] = 0.001
        super().__init__(actions)

    def read(self) -> Command:
        cmd = super().read()
        if self._i >= len(self.actions) and Event.STOP not in cmd.events:
            cmd.events.append(Event.STOP)
        return cmd


def _replay(monkeypatch: pytest.MonkeyPatch) -> None:
    # Patched where the code that runs looks them up: make_device (collect_parts) calls make_hw, collect._run make_robot.
    monkeypatch.setattr(collect_parts, "make_hw", lambda name, **kw: Nudge())
    make_robot = collect_mod.make_robot

    def loose(cfg: CollectConfig) -> object:
        robot = make_robot(cfg)
        # A loaded test machine can stall a fake reply past 200 ms; the timeout itself is tested in test_xarm/test_ur.
        robot.config.reply_timeout_s = 10.0  # type: ignore[attr-defined]
        return robot

    monkeypatch.setattr(collect_mod, "make_robot", loose)


def _collect(robot: str, ds: Path) -> str:
    res = runner.invoke(app, ["collect", "--robot", robot, "--shadow", "--device", "replay", "--headless",
                              "--episodes", "1", "--hz", "50", "--cameras", "", "--dataset", str(ds)],
                        catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def test_xarm_shadow_session_sends_no_motion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _replay(monkeypatch)
    FakeXArmAPI.instances.clear()
    monkeypatch.setattr(xarm_robot, "load_sdk", lambda module, extra: SimpleNamespace(XArmAPI=FakeXArmAPI))
    out = _collect("xarm://10.0.0.2", tmp_path / "ds")
    (api,) = FakeXArmAPI.instances
    assert api.port == "10.0.0.2"
    assert api.motion_calls() == [], [c.method for c in api.motion_calls()]
    assert any(c.method == "get_position" for c in api.calls)  # it did read the arm
    assert "safety limits in force" in out and "ufactory_xarm7" in out
    assert "SHADOW MODE" in out and "tool-tip workspace" in out
    ds = Dataset.open(tmp_path / "ds")
    (meta,) = ds.episodes
    assert meta.robot_embodiment == "ufactory_xarm7" and ds.episode(meta.episode_id).num_steps > 0
    assert ds.sessions[0].extras.get("shadow") is True


def test_ur_shadow_session_never_opens_control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _replay(monkeypatch)
    ur = FakeUR()
    modules = {"rtde_receive": SimpleNamespace(RTDEReceiveInterface=ur.receive_factory),
               "rtde_control": SimpleNamespace(RTDEControlInterface=ur.control_factory)}
    monkeypatch.setattr(ur_robot, "load_sdk", lambda module, extra: modules[module])
    out = _collect("ur://10.0.0.3", tmp_path / "ds")
    assert ur.control_opened == 0
    assert not any(n in ur.names() for n in UR_MOTION), ur.names()
    assert "SHADOW MODE" in out and "ur_ur5e" in out
    assert Dataset.open(tmp_path / "ds").episodes[0].robot_embodiment == "ur_ur5e"


@pytest.mark.parametrize("robot, shadow, match", [
    ("franka://10.0.0.4", False, "unknown robot"),
    ("xarm://", False, "no host"),
    ("sim", True, "--shadow needs a vendor arm"),
    ("tcp://127.0.0.1:5555", True, "--shadow needs a vendor arm"),
])
def test_check_config_refuses_bad_robot_urls_before_anything_is_created(tmp_path: Path, robot: str, shadow: bool,
                                                                       match: str) -> None:
    with pytest.raises(RobotError, match=match):
        check_config(CollectConfig(dataset=tmp_path / "ds", device="scripted", robot=robot, shadow=shadow, headless=True))
    assert not (tmp_path / "ds").exists()
