"""The operator path with the window: pygame key events → keyboard → guard → arm → recorder."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pygame

from teleforge.dataset import Dataset
from teleforge.workflows.collect import CollectConfig, collect


def test_keyboard_operator_records_and_saves_from_the_window(tmp_path: Path, monkeypatch):
    held: set[int] = set()
    monkeypatch.setattr(pygame.key, "get_pressed", lambda: set(held))
    root = tmp_path / "ds"
    shot = tmp_path / "window.png"

    def operator() -> None:
        def post(key: int) -> None:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key, mod=0, unicode="", scancode=0))
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key, mod=0, unicode="", scancode=0))

        time.sleep(1.5)  # window up, scene reset
        post(pygame.K_RETURN)  # start recording
        time.sleep(0.3)
        held.add(pygame.K_w)  # push forward (+x) for a second
        time.sleep(1.0)
        held.clear()
        time.sleep(0.3)
        post(pygame.K_RETURN)  # save as success

    threading.Thread(target=operator, daemon=True).start()
    result = collect(CollectConfig(dataset=root, device="keyboard", task="pick_cube", episodes=1,
                                   headless=False, screenshot=shot, operator_id="alice"))
    assert [e.outcome for e in result.episodes] == ["success"]

    ds = Dataset.open(root)
    (info,) = ds.episodes
    assert info.outcome == "success" and info.operator_id == "alice" and info.device == "keyboard"
    ep = ds.episode(info.episode_id)
    twist = ep.column("command.twist")
    moving = twist[:, 0] > 0.5
    assert moving.sum() >= 10  # ~1 s at 20 Hz with W held
    ee = ep.column("observation.state.ee_pos")
    assert ee[-1, 0] - ee[0, 0] > 0.02  # the arm really moved forward
    assert not ep.column("safety.hold").any()
    assert shot.exists() and shot.stat().st_size > 10_000
