"""The collection session's main-thread side: the window's event loop, the quit
confirmation (keep / discard / cancel) and the quality card's relabel and discard keys.

`OperatorUi` is mixed into `teleforge.teleop.session.CollectionSession`; it only reads
the HUD and hands answers to the control thread through the session's fields.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import numpy as np

from teleforge.teleop.command import Device, EventConsumer, KeyStateConsumer
from teleforge.teleop.hud import HudState, QualityCard
from teleforge.teleop.ports import CameraRig, EpisodeReview, Window
from teleforge.teleop.session_records import SessionConfig, SessionResult

# quit overlay: key name -> answer
_CONFIRM_KEYS = {"y": "keep", "n": "discard", "escape": "cancel"}
# quality card, in standby after a save: key name -> new outcome, or discard
_CARD_KEYS = {"1": "success", "2": "failure", "3": "unknown", "x": "discard", "delete": "discard"}
CARD_KEY_HELP: tuple[tuple[str, str], ...] = (("1 / 2 / 3", "relabel success / failure / unknown"),
                                              ("X", "discard this episode"), ("ENTER", "next episode"))


class OperatorUi:
    """Quit confirmation, quality card and the UI loop of a session (state set up by CollectionSession)."""

    cfg: SessionConfig
    device: Device
    hud: HudState
    result: SessionResult
    review: EpisodeReview | None
    rig: CameraRig | None
    window: Window | None
    _quit_request: threading.Event  # the window was closed (UI thread -> control thread)
    _confirm_answer: str | None  # "keep" | "discard" | "cancel", from the quit overlay
    _card: QualityCard | None  # the quality card to show (any thread sets it)
    _card_shown: QualityCard | None  # what the window shows (UI thread)

    def request_quit(self) -> None:
        """What closing the window does (thread-safe): ask keep / discard / cancel when recording, else quit."""
        self._quit_request.set()

    def answer_quit(self, answer: str) -> None:
        """Answer the quit overlay: "keep" (as unknown, then quit), "discard" (then quit) or "cancel"."""
        if answer not in ("keep", "discard", "cancel"):
            raise ValueError(f"answer must be keep, discard or cancel, got {answer!r}")
        self._confirm_answer = answer

    def show_card(self, card: QualityCard | None) -> None:
        """Hand the quality card of the episode just saved to the window (thread-safe; None hides it)."""
        self._card = card

    @property
    def card(self) -> QualityCard | None:
        """The quality card on screen (or waiting to be drawn)."""
        return self._card

    # --------------------------------------------------------------- UI thread
    def _ui_loop(self, ctl: threading.Thread) -> None:
        window = self.window
        assert window is not None
        period = 1.0 / self.cfg.ui_fps
        feed = self.device.handle_event if isinstance(self.device, EventConsumer) else None
        set_pressed = self.device.set_pressed if isinstance(self.device, KeyStateConsumer) else None
        pg = _pygame()
        while ctl.is_alive():
            t0 = time.monotonic()
            for ev in window.poll_events():
                kind = getattr(ev, "type", None)
                if kind == pg.QUIT:  # closing the window asks first, like the quit key
                    self.request_quit()
                    continue
                if self.hud.confirm_quit:  # the overlay has the keyboard until it is answered
                    if kind == pg.KEYDOWN:
                        answer = _CONFIRM_KEYS.get(pg.key.name(ev.key))
                        if answer is not None:
                            self.answer_quit(answer)
                    continue
                if kind == pg.KEYDOWN and self._card_key(pg.key.name(ev.key)):
                    continue
                if feed is not None:
                    feed(ev)
            if set_pressed is not None:
                set_pressed(set() if self.hud.confirm_quit else pg.key.get_pressed())
            self._sync_card(window)
            window.draw(self.hud, self._latest_frames())
            time.sleep(max(0.0, period - (time.monotonic() - t0)))
        self._sync_card(window)
        window.draw(self.hud, self._latest_frames())  # the final counts, for the last look / screenshot

    def _sync_card(self, window: Window) -> None:
        card = self._card
        if card is not self._card_shown:
            window.show_card(card)
            self._card_shown = card

    def _card_key(self, key: str) -> bool:
        """Quality-card keys while the card shows in standby: relabel or discard the episode just saved."""
        card = self._card
        action = _CARD_KEYS.get(key)
        if card is None or action is None or self.hud.recording or self.review is None:
            return False
        res = next((e for e in self.result.episodes if e.episode_id == card.episode_id), None)
        if res is None or res.outcome == "discarded":
            return False
        try:
            if action == "discard":
                self.review.discard(card.episode_id)
            elif action != res.outcome:
                self.review.relabel(card.episode_id, action)
        except Exception as exc:  # a failed catalog edit must not end the session: say so and go on
            self.hud.message = f"could not {action} episode {card.number}: {exc}"
            return True
        old = res.outcome
        self.hud.outcomes[old] = max(0, self.hud.outcomes.get(old, 0) - 1)
        self.hud.outcomes[action if action != "discard" else "discarded"] = self.hud.outcomes.get(
            action if action != "discard" else "discarded", 0) + 1
        if action == "discard":
            res.outcome = "discarded"
            res.labels = {**res.labels, "discarded_after_save": True}
            self.hud.episode_index = max(0, self.hud.episode_index - 1)  # one more to record
            self.hud.message = f"discarded episode {card.number} (dataset id {card.episode_id}; `teleforge curate restore` brings it back)"
            self._card = None
        else:
            res.outcome = action
            res.labels = {**res.labels, "relabelled_from": old}
            self.hud.message = f"relabelled episode {card.number} (dataset id {card.episode_id}) as {action}"
            self._card = dataclasses.replace(card, outcome=action)
        return True

    def _latest_frames(self) -> dict[str, np.ndarray | None]:
        frames: dict[str, np.ndarray | None] = {}
        if self.rig is not None:
            for name, cam in self.rig.cameras.items():
                f = cam.latest()
                frames[name] = None if f is None else f.image
        return frames


def _pygame() -> Any:
    # Lazy: headless sessions (no window) must run without pygame installed.
    import pygame

    return pygame
