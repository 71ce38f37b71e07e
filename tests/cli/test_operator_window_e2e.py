"""The operator path with the window (SDL dummy driver): pygame key events → keyboard → guard → arm →
recorder, and what the operator sees: countdown, view-aligned motion, the task check against the
label, gripper / fine state, the quality card, and quitting without losing the episode."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pygame

import teleforge.workflows.collect as wc
from teleforge.dataset import Dataset
from teleforge.robots.sim_robot import scene_camera_pose
from teleforge.teleop.window import OperatorWindow, countdown_colour, remaining_s
from teleforge.workflows.collect import collect
from teleforge.workflows.collect_config import CollectConfig


def project(points: np.ndarray, camera: str = "front") -> np.ndarray:
    """(N, 3) base-frame points -> (N, 2) pixel offsets (u right, v down) in ``camera``'s image."""
    pos, rot, fovy = scene_camera_pose(camera)
    pc = (np.asarray(points, float) - pos) @ rot  # camera frame: x right, y up, z backward
    f = 1.0 / np.tan(np.radians(fovy) / 2)
    return np.stack([f * pc[:, 0] / -pc[:, 2], -f * pc[:, 1] / -pc[:, 2]], axis=1)


def wait_for(pred, timeout: float = 20.0, what: str = "") -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def key(k: int, mod: int = 0) -> None:
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="", scancode=0))
    pygame.event.post(pygame.event.Event(pygame.KEYUP, key=k, mod=mod, unicode="", scancode=0))


def test_operator_session_end_to_end(tmp_path: Path, monkeypatch):
    held: set[int] = set()
    monkeypatch.setattr(pygame.key, "get_pressed", lambda: set(held))
    sessions: list = []

    class Spy(wc.CollectionSession):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            sessions.append(self)

    monkeypatch.setattr(wc, "CollectionSession", Spy)
    root, shot = tmp_path / "ds", tmp_path / "window.png"
    seen: dict = {}
    errors: list[BaseException] = []

    def operator() -> None:
        try:
            wait_for(lambda: sessions and sessions[0].hud.instruction, what="the first scene")
            s = sessions[0]
            hud = s.hud
            time.sleep(0.3)
            # --- episode 1: move by the front view, toggle gripper and fine mode, label it success
            key(pygame.K_RETURN)
            wait_for(lambda: hud.recording and hud.elapsed_s > 0.2, what="recording")
            seen["limit"], seen["left"] = hud.time_limit_s, remaining_s(hud)
            held.add(pygame.K_w)
            time.sleep(1.0)
            held.clear()
            time.sleep(0.2)
            held.add(pygame.K_a)
            time.sleep(0.8)
            held.clear()
            key(pygame.K_SPACE)  # close the (empty) gripper
            key(pygame.K_TAB)  # fine mode on
            wait_for(lambda: hud.gripper_cmd == 1.0 and hud.fine_mode is True, what="gripper + fine on the HUD")
            wait_for(lambda: hud.gripper_open is not None and hud.gripper_open < 0.5, what="measured gripper closing")
            seen["gripper"] = (hud.gripper_cmd, hud.gripper_open, hud.fine_mode, hud.success_check)
            key(pygame.K_TAB)
            key(pygame.K_RETURN)  # "success" with an empty gripper
            wait_for(lambda: s.card is not None, what="the quality card")
            seen["card"] = s.card
            # the next scene reopens the gripper (the card may show before the scene is reset)
            wait_for(lambda: s.device._gripper == 0.0, timeout=10, what="the gripper reopened at the new scene")
            seen["after_save"] = (hud.gripper_cmd, s.device._gripper)
            # --- episode 2: wait for the time limit
            key(pygame.K_RETURN)
            wait_for(lambda: hud.recording, what="episode 2")
            wait_for(lambda: not hud.recording and hud.end_reason, timeout=30, what="the time limit")
            seen["end_reason"] = hud.end_reason
            seen["message"] = hud.message
            # --- episode 3: close the window mid-episode, answer "keep"
            wait_for(lambda: s.card is not None and s.card.number == 2, what="card 2")
            key(pygame.K_RETURN)
            wait_for(lambda: hud.recording and hud.elapsed_s > 0.5, what="episode 3")
            pygame.event.post(pygame.event.Event(pygame.QUIT))
            wait_for(lambda: hud.confirm_quit, what="the quit overlay")
            time.sleep(0.3)
            seen["still_recording"] = hud.recording
            key(pygame.K_y)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
            for s in sessions:
                s.stop()

    threading.Thread(target=operator, daemon=True).start()
    result = collect(CollectConfig(dataset=root, device="keyboard", task="pick_cube", episodes=5, time_limit_s=5.0,
                                   headless=False, screenshot=shot, operator_id="alice", image_size=96))
    assert not errors, errors[0]

    # countdown: the limit is the operator's, counting down, plain colour with time to spare
    assert seen["limit"] == 5.0 and 3.5 < seen["left"] < 5.0
    assert countdown_colour(seen["left"], 5.0) != countdown_colour(0.5, 5.0) != countdown_colour(1.5, 5.0)
    # gripper and fine mode reach the HUD; the empty gripper closed further than half
    g_cmd, g_open, fine, check = seen["gripper"]
    assert g_cmd == 1.0 and g_open < 0.5 and fine is True and check is False
    # the next scene opens the hand again
    assert seen["after_save"][1] == 0.0

    assert [e.outcome for e in result.episodes] == ["success", "failure", "unknown"]
    assert "kept as unknown" in (result.aborted or "")
    ds = Dataset.open(root)
    e1, e2, e3 = ds.episodes
    # label vs the sim's check: recorded and flagged
    assert e1.labels["operator_outcome"] == "success" and e1.labels["success_check"] is False
    assert e1.labels["label_disagrees"] is True
    assert e2.labels["ended_by"] == "time_limit" and e2.labels["label_disagrees"] is False
    assert "time limit (5 s)" in seen["end_reason"] and "saved episode 2 of 5" in seen["message"]
    # quitting mid-episode asked first, kept the steps as unknown
    assert seen["still_recording"] is True
    assert e3.outcome == "unknown" and e3.labels["ended_by"] == "quit" and e3.num_steps > 5

    # W moved away from the front camera (up in its image), A to the image's left
    ep = ds.episode(e1.episode_id)
    twist = ep.column("command.twist")
    ee = ep.column("observation.state.ee_pos").astype(float)
    w_steps = np.flatnonzero(twist[:, 0] > 0.5)
    a_steps = np.flatnonzero(twist[:, 1] > 0.5)
    assert len(w_steps) >= 10 and len(a_steps) >= 8
    w_uv = project(ee[[w_steps[0], w_steps[-1] + 1]])
    a_uv = project(ee[[a_steps[0], a_steps[-1] + 1]])
    assert w_uv[1, 1] - w_uv[0, 1] < -0.02, "W must move the arm up in the front image"
    assert abs(w_uv[1, 0] - w_uv[0, 0]) < 0.5 * abs(w_uv[1, 1] - w_uv[0, 1])
    assert a_uv[1, 0] - a_uv[0, 0] < -0.02, "A must move the arm to the image's left"
    assert ee[w_steps[-1] + 1, 0] < ee[w_steps[0], 0] - 0.02  # in base terms: toward the robot (-x)
    assert e1.extras["control_frame"]["name"] == "front view"

    # the quality card: curation's numbers, the check, the disagreement
    card = seen["card"]
    assert card.number == 1 and card.episode_id == e1.episode_id and card.success_check is False
    labels = {r.label for r in card.rows}
    assert {"duration", "idle fraction", "jerk (RMS)", "path length", "success check"} <= labels
    assert "label_disagrees" in card.verdict or "disagree" in card.verdict
    assert card.ready_s < 0.5

    summary = result.operator_summary
    assert summary["operator_id"] == "alice" and summary["episodes_kept"] == 3
    assert summary["label_disagreements"] == 1 and summary["time_per_kept_episode_s"] > 0
    assert shot.exists() and shot.stat().st_size > 10_000


def test_window_fits_1280x800_at_size_480():
    w = OperatorWindow(["front", "wrist"], cam_size=(480, 480), max_size=(1280, 800))
    width, height = w.layout.size
    assert width <= 1280 and height <= 800
    # the cameras got the room: each at least 400 px, side by side, inside the window
    for x, y, cw, ch in w.layout.cameras.values():
        assert cw >= 400 and x + cw <= width and y + ch <= height
    sx, sy, sw, sh = w.layout.sidebar
    assert sx + sw <= width and sy + sh <= height
    rx, ry, rw, rh = w.layout.safety
    assert rx + rw <= width


def test_window_fits_the_desktop_when_opened():
    w = OperatorWindow(["front", "wrist"], cam_size=(480, 480))
    w.open()
    try:
        desk = pygame.display.get_desktop_sizes()[0]
        assert w.surface.get_size()[0] <= desk[0] and w.surface.get_size()[1] <= desk[1]
    finally:
        w.close()
