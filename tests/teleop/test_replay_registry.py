"""Replay device and the device registry."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.errors import DeviceError
from teleforge.teleop.command import Device, Event
from teleforge.teleop.devices import (
    GamepadDevice,
    KeyboardDevice,
    ReplayDevice,
    SpaceMouseDevice,
    device_names,
    list_devices,
    make_device,
    register,
)

from .fake_hid import FakeHid


def test_replay_emits_each_action_then_one_stop_then_holds():
    actions = np.arange(21, dtype=np.float32).reshape(3, 7) / 100
    dev = ReplayDevice(actions)
    dev.open()
    got = [dev.read() for _ in range(3)]
    for i, cmd in enumerate(got):
        assert np.array_equal(cmd.native_action, actions[i])
        assert cmd.events == []
        assert cmd.t_ns > 0
    end = dev.read()
    assert end.events == [Event.STOP] and dev.done
    assert np.all(end.native_action[:6] == 0) and end.native_action[6] == pytest.approx(actions[-1, 6])
    assert dev.read().events == []  # STOP is said once


def test_replay_output_is_a_copy():
    actions = np.zeros((2, 7), np.float32)
    dev = ReplayDevice(actions)
    dev.read().native_action[0] = 9.0
    assert actions[0, 0] == 0.0


def test_replay_refuses_bad_shapes_and_nan():
    with pytest.raises(DeviceError, match=r"\(T, 7\)"):
        ReplayDevice(np.zeros((4, 6)))
    bad = np.zeros((2, 7))
    bad[1, 2] = np.nan
    with pytest.raises(DeviceError, match="NaN"):
        ReplayDevice(bad)


def test_make_device_builds_each_kind_with_config():
    assert isinstance(make_device("keyboard", speed=0.5), KeyboardDevice)
    assert isinstance(make_device("gamepad", deadzone=0.2, feed="owner"), GamepadDevice)
    sm = make_device("spacemouse", deadzone=0.1, hid_module=FakeHid())
    assert isinstance(sm, SpaceMouseDevice) and sm.config.deadzone == 0.1
    rp = make_device("replay", actions=np.zeros((2, 7)))
    assert isinstance(rp, ReplayDevice)
    for dev in (sm, rp):
        assert isinstance(dev, Device)


def test_unknown_device_name_lists_valid_names():
    with pytest.raises(DeviceError) as ei:
        make_device("joystick9000")
    for n in ("keyboard", "gamepad", "spacemouse", "replay"):
        assert n in str(ei.value)


def test_unknown_option_lists_valid_options():
    with pytest.raises(DeviceError, match="deadzone"):
        make_device("spacemouse", dead_zone=0.1)


def test_register_adds_a_kind():
    register("null-test", lambda **cfg: ReplayDevice(np.zeros((1, 7)), name="null-test"))
    assert "null-test" in device_names()
    assert make_device("null-test").name == "null-test"


def test_list_devices_reports_spacemouse_model_and_joysticks():
    rows = list_devices(hid_module=FakeHid("spacemouse_compact_motion.bin"), joystick_names=["Xbox 360 Controller"])
    sm = [r for r in rows if r.kind == "spacemouse"]
    gp = [r for r in rows if r.kind == "gamepad"]
    assert sm[0].status == "ready" and "SpaceMouse Compact" in sm[0].detail and "256f:c635" in sm[0].detail
    assert gp[0].status == "ready" and "Xbox 360 Controller" in gp[0].detail and "layout xbox" in gp[0].detail
    assert any(r.kind == "scripted" and r.status == "ready" for r in rows)
    assert any(r.kind == "keyboard" for r in rows)


def test_list_devices_says_what_is_missing():
    rows = list_devices(hid_module=FakeHid(), joystick_names=[])
    by_kind = {r.kind: r for r in rows}
    assert by_kind["spacemouse"].status == "not found"
    assert by_kind["gamepad"].status == "not found"


def test_keyboard_needs_a_window_without_display(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    rows = list_devices(hid_module=FakeHid(), joystick_names=[])
    kb = next(r for r in rows if r.kind == "keyboard")
    assert kb.status == "needs a window"
