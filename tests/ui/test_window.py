"""Operator window: what the operator sees must match the HudState and the camera frames."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

os.environ["SDL_VIDEODRIVER"] = "dummy"  # set before pygame opens a display, whatever ran first

import imageio.v3 as iio  # noqa: E402

from teleforge.teleop.hud import HudState  # noqa: E402
from teleforge.teleop.window import (  # noqa: E402
    AMBER,
    DIM,
    GREEN,
    RED,
    TEXT,
    OperatorWindow,
    age_colour,
    format_elapsed,
    jitter_colour,
    rate_colour,
    session_keys_first,
    wrap_text,
)

FRONT = (220, 40, 30)
WRIST = (30, 90, 230)
CAM = (64, 48)  # width, height: not square, so a transposed image would show


@pytest.fixture()
def window():
    w = OperatorWindow(["front", "wrist"], cam_size=CAM, scale=2)
    w.open()
    yield w
    w.close()


def healthy_hud(**overrides) -> HudState:
    hud = HudState(
        recording=True,
        elapsed_s=83.4,
        task="pick_cube",
        instruction="pick up the red cube",
        episode_index=3,
        episodes_target=10,
        outcomes={"success": 2, "failure": 1, "unknown": 0, "discarded": 1},
        loop_hz=20.0,
        target_hz=20.0,
        jitter_p99_ms=0.5,
        missed_deadlines=0,
        device_name="keyboard",
        frame_age_ms={"front": 20.0, "wrist": 25.0},
        message="saved episode 3 as success",
        key_help=[("ENTER", "start / save success"), ("ESC", "E-STOP"), ("W / S", "forward / back")],
    )
    return replace(hud, **overrides)


def solid(colour, size=CAM) -> np.ndarray:
    img = np.empty((size[1], size[0], 3), np.uint8)
    img[...] = colour
    return img


def shot(window: OperatorWindow, tmp_path, hud: HudState, frames) -> np.ndarray:
    """Draw, save a PNG screenshot and read it back: the test sees what a user would."""
    window.draw(hud, frames)
    path = window.screenshot(tmp_path / "window.png")
    img = iio.imread(path)
    assert img.shape[:2] == (window.layout.size[1], window.layout.size[0])
    return img[:, :, :3].astype(int)


def crop(img: np.ndarray, rect) -> np.ndarray:
    x, y, w, h = rect
    return img[y : y + h, x : x + w]


def fraction_near(region: np.ndarray, colour, tol: int = 40) -> float:
    return float((np.abs(region - np.asarray(colour)).max(axis=-1) <= tol).mean())


def is_red(region: np.ndarray) -> np.ndarray:
    return (region[..., 0] > 190) & (region[..., 1] < 80) & (region[..., 2] < 80)


# ------------------------------------------------------------------ cameras
def test_each_camera_frame_fills_its_own_slot(window, tmp_path):
    img = shot(window, tmp_path, healthy_hud(recording=False), {"front": solid(FRONT), "wrist": solid(WRIST)})
    front, wrist = window.layout.cameras["front"], window.layout.cameras["wrist"]
    assert front[0] + front[2] <= wrist[0], "cameras are side by side in the given order"
    assert (front[2], front[3]) == (CAM[0] * 2, CAM[1] * 2), "scaled by the window scale"
    for rect, colour in ((front, FRONT), (wrist, WRIST)):
        x, y, w, h = rect
        body = crop(img, (x + 4, y + 30, w - 8, h - 34))  # below the name strip, inside any border
        assert fraction_near(body, colour, tol=8) > 0.98


def test_camera_image_is_not_transposed_or_flipped(window, tmp_path):
    frame = solid((0, 200, 0))
    frame[CAM[1] // 2 :, : CAM[0] // 2] = (0, 0, 200)  # bottom-left quadrant blue
    img = shot(window, tmp_path, healthy_hud(recording=False), {"front": frame, "wrist": frame})
    x, y, w, h = window.layout.cameras["front"]
    bottom_left = crop(img, (x + 6, y + h // 2 + 6, w // 2 - 12, h // 2 - 12))
    top_right = crop(img, (x + w // 2 + 6, y + 34, w // 2 - 12, h // 2 - 40))
    bottom_right = crop(img, (x + w // 2 + 6, y + h // 2 + 6, w // 2 - 12, h // 2 - 12))
    assert fraction_near(bottom_left, (0, 0, 200), tol=8) > 0.98
    assert fraction_near(top_right, (0, 200, 0), tol=8) > 0.98
    assert fraction_near(bottom_right, (0, 200, 0), tol=8) > 0.98


def test_missing_frame_shows_no_signal_placeholder_not_stale_image(window, tmp_path):
    shot(window, tmp_path, healthy_hud(), {"front": solid(FRONT), "wrist": solid(WRIST)})
    img = shot(window, tmp_path, healthy_hud(), {"front": solid(FRONT), "wrist": None})
    x, y, w, h = window.layout.cameras["wrist"]
    body = crop(img, (x + 4, y + 30, w - 8, h - 34))
    assert fraction_near(body, WRIST, tol=40) < 0.01, "the last wrist frame must not linger"
    assert len(np.unique(body.reshape(-1, 3), axis=0)) > 2, "placeholder text is drawn"
    fx, fy, fw, fh = window.layout.cameras["front"]
    assert fraction_near(crop(img, (fx + 4, fy + 30, fw - 8, fh - 34)), FRONT, tol=8) > 0.98


def test_odd_frames_are_converted_or_replaced_without_crashing(window, tmp_path):
    grey = np.full((CAM[1], CAM[0]), 128, np.uint8)
    rgba = np.zeros((CAM[1], CAM[0], 4), np.uint8)
    rgba[..., 2] = 255
    img = shot(window, tmp_path, healthy_hud(recording=False), {"front": grey, "wrist": rgba})
    assert fraction_near(crop(img, window.layout.cameras["front"])[40:, 4:-4], (128, 128, 128), tol=3) > 0.98
    assert fraction_near(crop(img, window.layout.cameras["wrist"])[40:, 4:-4], (0, 0, 255), tol=3) > 0.98
    # float in [0, 1], a bigger image than the slot (scaled to fit), and garbage
    big = np.ones((480, 640, 3), np.float32) * np.array([1.0, 0.0, 0.0], np.float32)
    img = shot(window, tmp_path, healthy_hud(recording=False), {"front": big, "wrist": np.zeros((3, 3, 7))})
    assert fraction_near(crop(img, window.layout.cameras["front"])[40:-6, 6:-6], (255, 0, 0), tol=3) > 0.95


# ------------------------------------------------------------------- status
def test_rec_indicator_is_red_while_recording_and_not_in_standby(window, tmp_path):
    rec = crop(shot(window, tmp_path, healthy_hud(recording=True), {}), window.layout.rec)
    assert is_red(rec).sum() > 300
    standby = crop(shot(window, tmp_path, healthy_hud(recording=False), {}), window.layout.rec)
    assert is_red(standby).sum() == 0


def test_estop_draws_a_full_width_red_banner(window, tmp_path):
    x, y, w, h = window.layout.band
    assert (x, w) == (0, window.layout.size[0])
    ok = shot(window, tmp_path, healthy_hud(), {})
    assert is_red(ok[y + 4 : y + h - 4]).mean() < 0.05
    stopped = shot(window, tmp_path, healthy_hud(safety="estop", safety_reason="operator pressed ESC"), {})
    band = stopped[y + 4 : y + h - 4]
    assert is_red(band).mean() > 0.6
    assert is_red(band[:, :20]).all() and is_red(band[:, -20:]).all(), "edge to edge"


def test_hold_turns_safety_status_amber(window, tmp_path):
    ok = crop(shot(window, tmp_path, healthy_hud(), {}), window.layout.safety)
    hold = crop(shot(window, tmp_path, healthy_hud(safety="hold", safety_reason="workspace limit"), {}), window.layout.safety)
    assert fraction_near(ok, AMBER, tol=30) < 0.01
    assert fraction_near(hold, AMBER, tol=30) > 0.4


def test_device_lost_turns_device_area_red(window, tmp_path):
    ok = crop(shot(window, tmp_path, healthy_hud(), {}), window.layout.device)
    lost = crop(shot(window, tmp_path, healthy_hud(device_connected=False), {}), window.layout.device)
    assert is_red(ok).mean() < 0.01
    assert is_red(lost).mean() > 0.4


def test_recorder_behind_outlines_loop_card_in_amber(window, tmp_path):
    fine = crop(shot(window, tmp_path, healthy_hud(), {}), window.layout.sidebar)
    behind = crop(shot(window, tmp_path, healthy_hud(recorder_behind=True, queue_depth=40), {}), window.layout.sidebar)
    assert fraction_near(fine, AMBER, tol=30) == 0.0
    assert (np.abs(behind - np.asarray(AMBER)).max(axis=-1) <= 30).sum() > 500


def test_message_is_shown_in_footer(window, tmp_path):
    empty = crop(shot(window, tmp_path, healthy_hud(message=""), {}), window.layout.footer)
    saved = crop(shot(window, tmp_path, healthy_hud(message="saved episode 12 as success"), {}), window.layout.footer)
    bright = lambda r: int((r.min(axis=-1) > 200).sum())  # noqa: E731  white text pixels
    assert bright(empty) == 0
    assert bright(saved) > 100


def test_long_texts_do_not_crash_or_spill(window, tmp_path):
    long = "carefully pick up the small red cube from the cluttered left side of the table " * 6
    hud = healthy_hud(
        instruction=long,
        task="t" * 300,
        device_name="d" * 300,
        message="m " * 400,
        safety="estop",
        safety_reason="r" * 500,
        key_help=[(f"K{i}" * 20, "a very long action description " * 5) for i in range(60)],
    )
    img = shot(window, tmp_path, hud, {"front": None, "wrist": None})
    assert is_red(img[window.layout.band[1] + 4, :]).all()
    hud.safety = "hold"
    img = shot(window, tmp_path, hud, {"front": None, "wrist": None})
    # every text was cut to its box: the right margin below the header stays background
    margin = img[window.layout.header[3] + 1 :, -8:]
    assert fraction_near(margin, (16, 18, 22), tol=2) == 1.0


def test_wrap_text_keeps_lines_within_width_and_ellipsizes_the_rest():
    measure = lambda s: 10 * len(s)  # noqa: E731
    lines = wrap_text("pick up the red cube and place it on the green pad", measure, 200, 2)
    assert len(lines) == 2
    assert all(measure(line) <= 200 for line in lines)
    assert lines[-1].endswith("…")
    assert wrap_text("short", measure, 200, 2) == ["short"]
    one = wrap_text("x" * 100, measure, 100, 3)
    assert len(one[0]) <= 10 and one[0].endswith("…")
    assert wrap_text("", measure, 100, 2) == [""]


def test_session_keys_come_before_motion_keys():
    keys = [("W", "forward"), ("ENTER", "start / save success"), ("A", "left"), ("ESC", "E-STOP"), ("X", "discard")]
    ordered = session_keys_first(keys)
    assert [k for k, _ in ordered[:3]] == ["ENTER", "ESC", "X"]
    assert sorted(ordered) == sorted(keys)


# ------------------------------------------------------------- formatting
def test_elapsed_is_minutes_seconds_tenths():
    assert format_elapsed(83.42) == "01:23.4"
    assert format_elapsed(0) == "00:00.0"
    assert format_elapsed(605.0) == "10:05.0"
    assert format_elapsed(59.96) == "01:00.0"  # carries into minutes, never "00:60.0"
    assert format_elapsed(-1) == "00:00.0"


def test_health_colours_follow_the_target_rate():
    assert rate_colour(19.9, 20) == GREEN
    assert rate_colour(18.5, 20) == AMBER
    assert rate_colour(15.0, 20) == RED
    assert rate_colour(0.0, 20) == DIM  # not measured yet
    assert jitter_colour(1.0, 20) == GREEN  # 2 % of a 50 ms period
    assert jitter_colour(8.0, 20) == AMBER
    assert jitter_colour(20.0, 20) == RED
    assert jitter_colour(4.0, 50) == AMBER  # same ms, faster loop: 20 % of 20 ms
    assert age_colour(30.0) == TEXT
    assert age_colour(150.0) == AMBER
    assert age_colour(400.0) == RED
    assert age_colour(float("nan")) == RED  # no frame yet


# ------------------------------------------------------------------ plumbing
def test_poll_events_returns_key_presses_for_the_device(window):
    import pygame

    window.poll_events()  # drain
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RETURN, mod=0, unicode="\r", scancode=40))
    events = window.poll_events()
    assert any(e.type == pygame.KEYDOWN and e.key == pygame.K_RETURN for e in events)


def test_draw_before_open_opens_and_surface_matches_layout(tmp_path):
    w = OperatorWindow(["front"], cam_size=(32, 32), scale=1)
    try:
        w.draw(HudState(), {"front": solid(FRONT, (32, 32))})
        assert w.surface.get_size() == w.layout.size
    finally:
        w.close()
    assert w.poll_events() == []


def test_no_video_driver_raises_window_error_with_next_step():
    code = (
        "import os; os.environ['SDL_VIDEODRIVER']='no_such_driver'\n"
        "from teleforge.errors import WindowError\n"
        "from teleforge.teleop.window import OperatorWindow\n"
        "try:\n    OperatorWindow(['front']).open()\nexcept WindowError as e:\n    print('WINDOWERROR', e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "WINDOWERROR" in out.stdout, out.stderr
    assert "--headless" in out.stdout


# ------------------------------------------------------------ operator state (issue 13)
def _robot_card(window) -> tuple[int, int, int, int]:
    x, y, w, _h = window.layout.sidebar
    return (x, y + 90 + 12, w, 122)


def test_gripper_and_fine_mode_are_drawn(window, tmp_path):
    from teleforge.teleop.window import ACCENT

    open_ = crop(shot(window, tmp_path, healthy_hud(gripper_cmd=0.0, gripper_open=1.0, fine_mode=False), {}), _robot_card(window))
    closed = crop(shot(window, tmp_path, healthy_hud(gripper_cmd=1.0, gripper_open=0.1, fine_mode=True), {}), _robot_card(window))
    assert fraction_near(open_, AMBER, tol=30) < 0.002 and fraction_near(closed, AMBER, tol=30) > 0.004
    assert fraction_near(closed, ACCENT, tol=30) > fraction_near(open_, ACCENT, tol=30) + 0.002


def test_countdown_turns_red_near_the_limit(window, tmp_path):
    early = crop(shot(window, tmp_path, healthy_hud(elapsed_s=10.0, time_limit_s=60.0), {}), window.layout.rec)
    late = crop(shot(window, tmp_path, healthy_hud(elapsed_s=57.0, time_limit_s=60.0), {}), window.layout.rec)
    x0 = window.layout.rec[2] // 2  # the countdown sits in the right half of the REC panel
    assert is_red(late[:, x0:]).sum() > is_red(early[:, x0:]).sum() + 30


def test_missed_deadlines_are_not_red_in_standby(window, tmp_path):
    x, y, w, _h = window.layout.sidebar
    loop = (x, y + 90 + 12 + 122 + 12, w, 120)
    rec = crop(shot(window, tmp_path, healthy_hud(recording=True, missed_deadlines=40), {}), loop)
    standby = crop(shot(window, tmp_path, healthy_hud(recording=False, missed_deadlines=40), {}), loop)
    assert is_red(rec).sum() > 20 and is_red(standby).sum() < is_red(rec).sum() // 3


def test_hold_reason_is_shown_whole_in_the_message_bar(window, tmp_path):
    reason = "workspace limit: x above 0.80 m (tool tip), y within limits, device keyboard"
    img = shot(window, tmp_path, healthy_hud(safety="hold", safety_reason=reason), {})
    footer = crop(img, window.layout.footer)
    assert fraction_near(footer, AMBER, tol=40) > 0.01
    lines = window.hold_lines(reason)
    assert " ".join(lines) == f"HOLD: {reason}", "the whole reason, wrapped, never cut"


def test_quality_card_and_quit_overlay_are_drawn(window, tmp_path):
    from teleforge.teleop.hud import CardRow, QualityCard

    card = QualityCard(number=2, episode_id=7, outcome="success", end_reason="labelled by the operator",
                       rows=(CardRow("duration", "3.1 s", "median 12 s", "ok"),), success_check=False,
                       duplicate_of=1, verdict="curation would reject it: label_disagrees", verdict_level="bad",
                       keys=(("X", "discard"),))
    cams = {"front": solid(FRONT), "wrist": solid(WRIST)}
    plain = shot(window, tmp_path, healthy_hud(recording=False), cams)
    window.show_card(card)
    with_card = shot(window, tmp_path, healthy_hud(recording=False), cams)
    recording = shot(window, tmp_path, healthy_hud(recording=True), cams)
    window.show_card(None)
    x, y, w, h = window.layout.cameras["front"]
    region = (x + 4, y + 30, w - 8, h - 34)
    assert fraction_near(crop(plain, region), FRONT, tol=8) > 0.98
    assert fraction_near(crop(with_card, region), FRONT, tol=8) < 0.9, "the card covers the cameras in standby"
    assert fraction_near(crop(recording, region), FRONT, tol=8) > 0.98, "never while recording"
    confirm = shot(window, tmp_path, healthy_hud(confirm_quit=True), cams)
    cx, cy = window.layout.size[0] // 2, window.layout.size[1] // 2
    assert fraction_near(confirm[cy - 110 : cy + 110, cx - 330 : cx + 330], AMBER, tol=40) > 0.005
