"""SpaceMouse: report parsing from recorded byte streams, scaling, buttons, errors, unplug."""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

from teleforge.errors import DeviceError, DeviceNotFoundError, DevicePermissionError
from teleforge.teleop.command import Event
from teleforge.teleop.devices.spacemouse import (
    SpaceMouseConfig,
    SpaceMouseDevice,
    SpaceMouseParser,
    udev_rule,
)

from .fake_hid import DATA, FakeHid, permission_error, read_stream

_spec = importlib.util.spec_from_file_location("make_streams", DATA / "make_streams.py")
make_streams = importlib.util.module_from_spec(_spec)
sys.modules["make_streams"] = make_streams
_spec.loader.exec_module(make_streams)

MOTION_STREAMS = ["spacenavigator_motion.bin", "spacemouse_compact_motion.bin", "spacemouse_wireless_motion.bin"]


def parse_until(fname: str, phase: str, script=make_streams.SCRIPT_MOTION) -> tuple[SpaceMouseParser, int]:
    """Feed every report sent before ``phase`` ends; return the parser and the OR of pressed bits."""
    end = make_streams.phase_end_us(script, phase)
    p = SpaceMouseParser()
    pressed = 0
    for t, rep in read_stream(DATA / fname).records:
        if t >= end or rep is None:
            break
        pressed |= p.feed(rep)
    return p, pressed


def robot_twist(counts) -> np.ndarray:
    return SpaceMouseDevice(SpaceMouseConfig()).twist_from_counts(counts)


@pytest.mark.parametrize("fname", MOTION_STREAMS)
def test_parser_recovers_scripted_counts_in_split_and_combined_layouts(fname):
    expect = {
        "push_away": [0, -350, 0, 0, 0, 0],
        "push_left_half": [-175, 0, 0, 0, 0, 0],
        "lift_and_yaw": [0, 0, -300, 0, 0, -350],
        "over_range": [420, 0, 0, 0, 0, 0],
        "release": [0, 0, 0, 0, 0, 0],
        "tilt_roll": [0, 0, 0, 0, 350, 0],
    }
    for phase, counts in expect.items():
        p, _ = parse_until(fname, phase)
        assert p.counts.tolist() == counts, phase


def test_layout_detection_follows_report_length():
    split, _ = parse_until("spacenavigator_motion.bin", "push_away")
    combined, _ = parse_until("spacemouse_compact_motion.bin", "push_away")
    assert not split.combined_seen
    assert combined.combined_seen


def test_split_rotation_report_does_not_clobber_translation():
    p = SpaceMouseParser()
    p.feed(bytes([1]) + (100).to_bytes(2, "little", signed=True) + bytes(4))
    p.feed(bytes([2]) + bytes(4) + (-50).to_bytes(2, "little", signed=True))
    assert p.counts.tolist() == [100, 0, 0, 0, 0, -50]


def test_default_mapping_turns_push_away_into_plus_x_and_lift_into_plus_z():
    assert robot_twist([0, -350, 0, 0, 0, 0]) == pytest.approx([1, 0, 0, 0, 0, 0])
    assert robot_twist([-350, 0, 0, 0, 0, 0]) == pytest.approx([0, 1, 0, 0, 0, 0])
    assert robot_twist([0, 0, -350, 0, 0, 0]) == pytest.approx([0, 0, 1, 0, 0, 0])
    assert robot_twist([0, 0, 0, 0, 0, -350]) == pytest.approx([0, 0, 0, 0, 0, 1])


def test_scaling_clips_over_range_and_deadzone_rescales_continuously():
    assert robot_twist([420, 0, 0, 0, 0, 0])[1] == pytest.approx(-1.0)  # x = +420 -> robot -y, clipped
    half = robot_twist([-175, 0, 0, 0, 0, 0])[1]
    dz = SpaceMouseConfig().deadzone
    assert half == pytest.approx((0.5 - dz) / (1 - dz), abs=1e-6)
    just_outside = robot_twist([-(dz * 350 + 1), 0, 0, 0, 0, 0])[1]
    assert 0 < just_outside < 0.01  # no jump at the deadzone edge


@pytest.mark.parametrize("fname", MOTION_STREAMS)
def test_sensor_jitter_at_rest_reads_as_zero_twist(fname):
    p, _ = parse_until(fname, "jitter")
    assert np.any(p.counts != 0)  # the stream really carries noise
    assert np.all(robot_twist(p.counts) == 0)


def test_custom_axis_map_and_signs_are_applied():
    cfg = SpaceMouseConfig(axis_map=(0, 1, 2, 3, 4, 5), axis_signs=(1, 1, 1, 1, 1, 1), deadzone=0.0)
    t = SpaceMouseDevice(cfg).twist_from_counts([35, -70, 0, 0, 0, 350])
    assert t == pytest.approx([0.1, -0.2, 0, 0, 0, 1])


def test_bad_axis_map_is_refused():
    with pytest.raises(DeviceError, match="permutation"):
        SpaceMouseConfig(axis_map=(0, 0, 1, 2, 3, 4))


@pytest.mark.parametrize("fname", MOTION_STREAMS)
def test_two_button_models_report_left_then_right(fname):
    _, pressed_left = parse_until(fname, "left_button")
    p, pressed_both = parse_until(fname, "right_button")
    assert pressed_left == 0b01
    assert pressed_both == 0b11
    assert p.buttons == 0b10  # left was released before right went down


@pytest.mark.parametrize(
    "fname", ["spacemouse_pro_buttons.bin", "spacemouse_pro_wireless_buttons.bin", "spacemouse_enterprise_buttons.bin"]
)
def test_wide_button_masks_decode_high_bits(fname):
    script = make_streams.SCRIPT_PRO_BUTTONS
    p, _ = parse_until(fname, "esc", script)
    assert p.buttons == 1 << 22
    p, _ = parse_until(fname, "four", script)
    assert p.buttons == 1 << 15
    p, _ = parse_until(fname, "fit_while_moving", script)
    assert p.buttons == 1 << 1 and p.counts[1] == -350


def test_wireless_battery_report_is_read():
    p, _ = parse_until("spacemouse_wireless_motion.bin", "rest")
    assert p.battery == 87


# --- the device, end to end through the fake hid module ------------------------------

def run_device(fake: FakeHid, **cfg) -> SpaceMouseDevice:
    dev = SpaceMouseDevice(SpaceMouseConfig(**cfg), hid_module=fake)
    dev.open()
    assert fake.drained.wait(5.0), "reader thread did not consume the stream"
    return dev


def test_device_toggles_gripper_on_left_and_emits_start_on_right():
    fake = FakeHid("spacenavigator_motion.bin")
    dev = run_device(fake, reconnect=False)
    try:
        cmd = dev.read()
        assert dev.model is not None and dev.model.name == "SpaceNavigator"
        assert cmd.gripper == 1.0  # one left press: closed
        assert cmd.events == [Event.START]
        assert dev.read().events == []  # events are delivered once
        assert dev.connected()
        assert cmd.t_ns > 0
        assert cmd.twist.shape == (6,) and cmd.twist.dtype == np.float32
    finally:
        dev.close()


def test_pro_default_buttons_map_esc_to_estop_and_4_to_release():
    fake = FakeHid("spacemouse_pro_buttons.bin")
    dev = run_device(fake, reconnect=False)
    try:
        cmd = dev.read()
        assert cmd.events == [Event.ESTOP, Event.ESTOP_RELEASE, Event.START]
        assert cmd.gripper == 1.0
        assert np.all(cmd.twist == 0)  # the stream ends with the puck released
    finally:
        dev.close()


def test_configured_button_names_override_defaults_and_unknown_names_fail():
    fake = FakeHid("spacemouse_pro_buttons.bin")
    dev = run_device(fake, reconnect=False, buttons={"esc": "discard", "bit1": "save_failure"})
    try:
        assert dev.read().events == [Event.DISCARD, Event.SAVE_FAILURE]
    finally:
        dev.close()
    with pytest.raises(DeviceError, match="unknown for SpaceMouse Pro"):
        SpaceMouseDevice(SpaceMouseConfig(buttons={"nope": "start"}), hid_module=FakeHid("spacemouse_pro_buttons.bin")).open()
    with pytest.raises(DeviceError, match="unknown button action"):
        SpaceMouseDevice(SpaceMouseConfig(buttons={"esc": "explode"}), hid_module=FakeHid("spacemouse_pro_buttons.bin")).open()


@pytest.mark.parametrize("fname", ["spacenavigator_unplug.bin", "spacemouse_compact_unplug.bin"])
def test_unplug_mid_deflection_disconnects_and_reads_zero_twist(fname):
    fake = FakeHid(fname)
    dev = run_device(fake, reconnect=False)
    try:
        deadline_ok = False
        for _ in range(200):  # the reader marks the loss right after the failing read
            if not dev.connected():
                deadline_ok = True
                break
            fake.drained.wait(0.01)
        assert deadline_ok
        cmd = dev.read()
        assert np.all(cmd.twist == 0)  # the puck was at full push when it vanished
        assert "disconnected" in (dev.last_error or "")
    finally:
        dev.close()


def test_replugged_device_reconnects_with_fresh_state():
    fake = FakeHid("spacemouse_compact_unplug.bin")
    dev = run_device(fake, reconnect=True, reconnect_interval_s=0.01)
    try:
        entry = next(iter(fake.entries.values()))
        for _ in range(500):
            if not dev.connected():
                break
            fake.drained.wait(0.01)
        entry.stream = read_stream(DATA / "spacemouse_compact_motion.bin")  # plugged back in, working again
        entry.unplugged = False
        fake.drained.clear()
        for _ in range(500):
            if dev.connected() and fake.opened >= 2:
                break
            fake.drained.wait(0.01)
        assert fake.opened >= 2 and dev.connected()
        assert dev.last_error is None
    finally:
        dev.close()


def test_absent_device_raises_not_found_with_next_step():
    with pytest.raises(DeviceNotFoundError) as ei:
        SpaceMouseDevice(hid_module=FakeHid()).open()
    msg = str(ei.value)
    assert "0x256f/0x046d" in msg and "--device keyboard" in msg


def test_logitech_non_spacemouse_is_not_mistaken_for_one():
    from .fake_hid import Stream

    fake = FakeHid(Stream(0x046D, 0xC52B, "Unifying Receiver", []))
    with pytest.raises(DeviceNotFoundError):
        SpaceMouseDevice(hid_module=fake).open()


def test_permission_denied_explains_udev_rule_and_reload():
    fake = FakeHid("spacemouse_compact_motion.bin", open_error=permission_error())
    with pytest.raises(DevicePermissionError) as ei:
        SpaceMouseDevice(hid_module=fake).open()
    msg = str(ei.value)
    assert udev_rule(0x256F) in msg
    assert 'ATTRS{idVendor}=="256f"' in msg
    assert "udevadm control --reload-rules" in msg and "udevadm trigger" in msg


def test_model_filter_picks_requested_model():
    fake = FakeHid("spacenavigator_motion.bin", "spacemouse_compact_motion.bin")
    dev = SpaceMouseDevice(SpaceMouseConfig(model="SpaceMouse Compact", reconnect=False), hid_module=fake)
    dev.open()
    try:
        assert dev.model.name == "SpaceMouse Compact"
    finally:
        dev.close()


def test_stored_streams_match_their_generator(tmp_path):
    """The .bin files are what make_streams.py writes: edit the script, then regenerate."""
    for fname, (vid, pid, name, script, combined, width, enterprise, battery) in make_streams.STREAMS.items():
        out = tmp_path / fname
        make_streams.write_stream(out, vid, pid, name, make_streams.render(script, combined, width, enterprise, battery))
        assert out.read_bytes() == (DATA / fname).read_bytes(), fname


def test_key_help_names_the_model_buttons():
    fake = FakeHid("spacemouse_pro_buttons.bin")
    dev = run_device(fake, reconnect=False)
    try:
        rows = dict(dev.key_help())
        assert rows["button menu"] == "gripper toggle"
        assert rows["button esc"] == "estop"
    finally:
        dev.close()
