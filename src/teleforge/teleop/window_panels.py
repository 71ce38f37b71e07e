"""One file because every section draws with the same cached text and surface state.

The operator window's sections drawn with pygame: header pills, instruction band or
E-STOP banner, camera tiles, sidebar cards, footer, the quality card and the quit
confirmation, plus the cached text rendering they share.

`HudPainter` is the drawing half of `teleforge.teleop.window.OperatorWindow`, which owns
the pygame window, its events and the order sections are drawn in.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from teleforge.teleop.hud import HudState, QualityCard
from teleforge.teleop.window_layout import (
    ACCENT,
    AMBER,
    BG,
    DIM,
    FAINT,
    GREEN,
    HEADER_H,
    MESSAGE_FRESH_S,
    NO_SIGNAL,
    PAD,
    PANEL,
    PANEL_EDGE,
    REC_RED,
    RED,
    TEXT,
    Layout,
    _as_rgb8,
    age_colour,
    countdown_colour,
    format_elapsed,
    jitter_colour,
    rate_colour,
    remaining_s,
    session_keys_first,
    wrap_text,
)


class HudPainter:
    """Draws the HUD's sections onto the open window's surface (state set up by OperatorWindow)."""

    camera_names: list[str]
    layout: Layout
    _pg: Any  # the pygame module, once the window is open
    _screen: Any  # the window's Surface
    _fonts: dict[str, Any]
    _text_cache: dict[tuple[str, str, tuple[int, int, int]], Any]
    _fit_cache: dict[tuple[str, str, int, int], list[str]]
    _bars: dict[int, Any]  # translucent camera label strips, by width
    _message: str
    _message_t: float

    # ----------------------------------------------------------------- sections
    def _build_static(self) -> Any:
        pg, lay = self._pg, self.layout
        surf = pg.Surface(lay.size)
        surf.fill(BG)
        pg.draw.rect(surf, PANEL, lay.header)
        pg.draw.line(surf, PANEL_EDGE, (0, HEADER_H - 1), (lay.size[0], HEADER_H - 1))
        for rect in lay.cameras.values():
            pg.draw.rect(surf, NO_SIGNAL, rect)
        return surf

    def _draw_header(self, hud: HudState) -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = self.layout.rec
        cy = y + h // 2
        if hud.recording:
            pg.draw.rect(screen, (70, 14, 14), (x, y, w, h), border_radius=8)
            pg.draw.circle(screen, REC_RED, (x + 24, cy), 13)
            rec = self._text("REC", "title", REC_RED)
            screen.blit(rec, (x + 46, cy - rec.get_height() // 2))
            clock = self._text(format_elapsed(hud.elapsed_s), "title", TEXT)
            cx = x + 60 + rec.get_width()
            screen.blit(clock, (cx, cy - clock.get_height() // 2))
            left = remaining_s(hud)
            if left is not None:
                colour = countdown_colour(left, float(hud.time_limit_s or 60.0))
                label = self._text(f"{math.ceil(left):.0f} s left", "bold", colour)
                screen.blit(label, (x + w - label.get_width() - 12, cy - label.get_height() // 2 - 2))
                frac = left / hud.time_limit_s if hud.time_limit_s else 0.0
                pg.draw.rect(screen, (40, 20, 20), (x + 8, y + h - 6, w - 16, 4))
                pg.draw.rect(screen, colour, (x + 8, y + h - 6, int((w - 16) * frac), 4))
        else:
            pg.draw.rect(screen, (40, 44, 52), (x, y, w, h), border_radius=8)
            pg.draw.circle(screen, FAINT, (x + 24, cy), 12, width=3)
            sb = self._text("STANDBY", "title", DIM)
            screen.blit(sb, (x + 46, cy - sb.get_height() // 2))
            if hud.time_limit_s:
                lim = self._text(f"limit {hud.time_limit_s:g} s", "small", DIM)
                screen.blit(lim, (x + w - lim.get_width() - 12, cy - lim.get_height() // 2))
        # task and episode counter, between the REC light and the status pills
        tx = x + w + 2 * PAD
        avail = self.layout.device[0] - tx - PAD
        task = self._text(self._fit(hud.task or "no task", "bold", avail), "bold", TEXT)
        screen.blit(task, (tx, y + 2))
        episode = self._episode_text(hud, list(hud.key_help))
        screen.blit(self._text(self._fit(episode, "small", avail), "small", DIM), (tx, y + 26))
        self._draw_device_pill(hud)
        self._draw_safety_pill(hud)

    @staticmethod
    def _episode_text(hud: HudState, key_help: list[tuple[str, str]]) -> str:
        saved = hud.episode_index
        if hud.episodes_target and saved >= hud.episodes_target:
            return f"all {hud.episodes_target} episodes saved"
        text = f"episode {saved + 1}" + (f" of {hud.episodes_target}" if hud.episodes_target else "")
        if not hud.recording:
            start = next((k for k, action in key_help if "start" in action.lower()), None)
            text += f"  -  press {start} to start" if start else "  -  ready"
        return text

    def _pill(self, rect: tuple[int, int, int, int], fill: tuple[int, int, int], dot: tuple[int, int, int] | None,
              text: str, colour: tuple[int, int, int], font: str = "bold") -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = rect
        pg.draw.rect(screen, fill, rect, border_radius=h // 2)
        tx = x + 16
        if dot is not None:
            pg.draw.circle(screen, dot, (x + 20, y + h // 2), 7)
            tx = x + 36
        label = self._text(self._fit(text, font, x + w - tx - 14), font, colour)
        screen.blit(label, (tx, y + (h - label.get_height()) // 2))

    def _draw_device_pill(self, hud: HudState) -> None:
        name = hud.device_name or "device"
        if hud.device_connected:
            self._pill(self.layout.device, (36, 52, 42), GREEN, name, TEXT)
        else:
            self._pill(self.layout.device, RED, (255, 255, 255), "DEVICE LOST — holding", (255, 255, 255))

    def _draw_safety_pill(self, hud: HudState) -> None:
        rect = self.layout.safety
        if hud.safety == "estop":
            self._pill(rect, RED, (255, 255, 255), "E-STOP", (255, 255, 255))
        elif hud.safety == "hold":
            if not hud.safety_reason:
                self._pill(rect, AMBER, (40, 28, 0), "HOLD", (30, 22, 0))
                return
            # The whole reason matters (which limit, which device): two small lines, and the footer repeats it.
            pg, screen = self._pg, self._screen
            x, y, w, h = rect
            pg.draw.rect(screen, AMBER, rect, border_radius=h // 2)
            pg.draw.circle(screen, (40, 28, 0), (x + 20, y + h // 2), 7)
            lines = self._wrap(f"HOLD: {hud.safety_reason}", "small", w - 36 - 14, 2)
            lh = 15
            top = y + (h - lh * len(lines)) // 2
            for i, line in enumerate(lines):
                screen.blit(self._text(line, "small", (30, 22, 0)), (x + 36, top + i * lh))
        else:
            self._pill(rect, (36, 52, 42), GREEN, "safety ok", TEXT)

    def _draw_instruction(self, hud: HudState) -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = self.layout.band
        pg.draw.rect(screen, PANEL, (PAD, y, w - 2 * PAD, h), border_radius=10)
        pg.draw.rect(screen, ACCENT, (PAD, y, 6, h), border_top_left_radius=10, border_bottom_left_radius=10)
        label = self._text("INSTRUCTION", "small", DIM)
        screen.blit(label, (PAD + 22, y + 8))
        text = hud.instruction or "(no instruction yet)"
        avail = w - 2 * PAD - 44
        lines = self._wrap(text, "large", avail, 2)
        if len(lines) > 1:  # two lines only fit in the body size
            lines = self._wrap(text, "body", avail, 2)
            for i, line in enumerate(lines):
                screen.blit(self._text(line, "body", TEXT), (PAD + 22, y + 28 + i * 21))
        else:
            screen.blit(self._text(lines[0], "large", TEXT), (PAD + 22, y + 32))

    def _draw_estop_banner(self, hud: HudState, key_help: list[tuple[str, str]]) -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = self.layout.band
        pg.draw.rect(screen, RED, (x, y, w, h))
        big = self._text("E-STOP", "huge", (255, 255, 255))
        screen.blit(big, (PAD + 18, y + (h - big.get_height()) // 2))
        release = next((k for k, action in key_help if "release" in action.lower()), None)
        reason = hud.safety_reason or "emergency stop latched"
        detail = f"robot halted: {reason}"
        hint = f"press {release} to release" if release else "release the e-stop to continue"
        tx = PAD + 40 + big.get_width()
        avail = w - tx - PAD
        screen.blit(self._text(self._fit(detail, "bold", avail), "bold", (255, 255, 255)), (tx, y + 14))
        screen.blit(self._text(self._fit(hint, "body", avail), "body", (255, 225, 225)), (tx, y + 42))

    def _draw_camera(self, name: str, rect: tuple[int, int, int, int], image: np.ndarray | None,
                     age_ms: float | None, hud: HudState) -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = rect
        arr = None if image is None else _as_rgb8(image)
        if arr is None:
            self._center_text("NO SIGNAL" if image is None else "BAD FRAME", "large", FAINT, rect)
        else:
            self._blit_image(arr, rect)
        # label strip: name left, frame age right, over a translucent bar
        screen.blit(self._label_bar(w), (x, y))
        screen.blit(self._text(name, "bold", TEXT), (x + 10, y + 6))
        if age_ms is None and image is None:
            age_ms = float("nan")
        if age_ms is not None:  # no age reported for a live image: say nothing rather than guess
            age = "no frame" if not math.isfinite(age_ms) else f"{age_ms:.0f} ms"
            age_surf = self._text(age, "small", age_colour(age_ms))
            screen.blit(age_surf, (x + w - age_surf.get_width() - 10, y + 8))
        # A frame round the views makes the state visible from the corner of an eye.
        if hud.safety == "estop":
            pg.draw.rect(screen, RED, rect, width=4)
        elif hud.safety == "hold" or not hud.device_connected:
            pg.draw.rect(screen, AMBER, rect, width=3)
        elif hud.recording:
            pg.draw.rect(screen, REC_RED, rect, width=2)

    def _label_bar(self, width: int) -> Any:
        bar = self._bars.get(width)
        if bar is None:
            bar = self._pg.Surface((width, 28), self._pg.SRCALPHA)
            bar.fill((0, 0, 0, 150))
            self._bars[width] = bar
        return bar

    def _blit_image(self, arr: np.ndarray, rect: tuple[int, int, int, int]) -> None:
        pg = self._pg
        ih, iw = arr.shape[:2]
        x, y, w, h = rect
        src = pg.image.frombuffer(arr, (iw, ih), "RGB")
        # Fit inside the slot keeping the aspect ratio; nearest-neighbour keeps pixels crisp.
        k = min(w / iw, h / ih)
        sw, sh = max(1, int(iw * k)), max(1, int(ih * k))
        scaled = pg.transform.scale(src, (sw, sh))
        self._screen.blit(scaled, (x + (w - sw) // 2, y + (h - sh) // 2))

    def _draw_sidebar(self, hud: HudState, outcomes: dict[str, int], key_help: list[tuple[str, str]]) -> None:
        x, y, w, h = self.layout.sidebar
        bottom = y + h
        # --- outcomes
        cy = self._card_box(x, y, w, 90, "OUTCOMES")
        entries = [("success", GREEN), ("failure", RED), ("unknown", DIM), ("discarded", FAINT)]
        for i, (key, colour) in enumerate(entries):
            cx = x + 16 + (i % 2) * (w // 2)
            ry = cy + (i // 2) * 26
            count = self._text(str(outcomes.get(key, 0)), "large", colour)
            self._screen.blit(count, (cx, ry - 4))
            self._screen.blit(self._text(key, "small", DIM), (cx + count.get_width() + 8, ry + 4))
        y += 90 + PAD
        # --- robot: gripper, fine mode, the task's own success check, control frame
        cy = self._card_box(x, y, w, 122, "ROBOT")
        closed = hud.gripper_cmd >= 0.5
        meas = "" if hud.gripper_open is None else f" · {hud.gripper_open * 100:.0f}% open"
        self._row(x, cy, w, "gripper", f"{'CLOSED' if closed else 'OPEN'}{meas}", AMBER if closed else TEXT)
        fine = "—" if hud.fine_mode is None else ("ON (slow)" if hud.fine_mode else "off")
        self._row(x, cy + 22, w, "fine mode", fine, ACCENT if hud.fine_mode else DIM)
        if hud.success_check is None:
            check, check_col = "no check", DIM
        else:
            check, check_col = ("SUCCESS", GREEN) if hud.success_check else ("not yet", DIM)
        self._row(x, cy + 44, w, "task check", check, check_col)
        self._row(x, cy + 66, w, "controls", hud.control_frame or "device", DIM)
        y += 122 + PAD
        # --- loop health
        behind = hud.recorder_behind
        cy = self._card_box(x, y, w, 120, "CONTROL LOOP", edge=AMBER if behind else None)
        rate = "—" if hud.loop_hz <= 0 else f"{hud.loop_hz:.1f}"
        self._row(x, cy, w, "rate", f"{rate} / {hud.target_hz:g} Hz", rate_colour(hud.loop_hz, hud.target_hz))
        jit = "—" if hud.loop_hz <= 0 else f"{hud.jitter_p99_ms:.1f} ms"
        self._row(x, cy + 22, w, "jitter p99", jit, jitter_colour(hud.jitter_p99_ms, hud.target_hz) if hud.loop_hz > 0 else DIM)
        # Standby misses (scene resets, window drags) are not the recording's: never alarm there.
        missed_col = GREEN if hud.missed_deadlines == 0 else (AMBER if hud.missed_deadlines < 10 else RED)
        if not hud.recording:
            missed_col = DIM
        self._row(x, cy + 44, w, "missed deadlines", str(hud.missed_deadlines), missed_col)
        if behind:
            self._row(x, cy + 66, w, "RECORDER BEHIND", f"queue {hud.queue_depth}", AMBER, label_colour=AMBER)
        else:
            self._row(x, cy + 66, w, "recorder queue", str(hud.queue_depth), TEXT)
        y += 120 + PAD
        # --- keys: whatever room is left
        if key_help and bottom - y > 60:
            ch = bottom - y
            cy = self._card_box(x, y, w, ch, "KEYS")
            line_h = 18
            rows = max(0, (bottom - cy - 6) // line_h)
            ordered = session_keys_first(key_help)
            shown = ordered if len(ordered) <= rows else ordered[: max(0, rows - 1)]
            key_w = 118
            for i, (key, action) in enumerate(shown):
                ry = cy + i * line_h
                self._screen.blit(self._text(self._fit(key, "bold", key_w - 8), "bold", ACCENT), (x + 16, ry))
                self._screen.blit(self._text(self._fit(action, "small", w - key_w - 30), "small", TEXT), (x + 16 + key_w, ry + 2))
            if len(shown) < len(key_help):
                more = f"+{len(key_help) - len(shown)} more"
                self._screen.blit(self._text(more, "small", DIM), (x + 16, cy + len(shown) * line_h + 2))

    def _card_box(self, x: int, y: int, w: int, h: int, title: str, edge: tuple[int, int, int] | None = None) -> int:
        """Draw a card; returns the y where its content starts."""
        pg, screen = self._pg, self._screen
        pg.draw.rect(screen, PANEL, (x, y, w, h), border_radius=10)
        pg.draw.rect(screen, edge or PANEL_EDGE, (x, y, w, h), width=2 if edge else 1, border_radius=10)
        screen.blit(self._text(title, "small", DIM), (x + 16, y + 10))
        return y + 34

    def _row(self, x: int, y: int, w: int, label: str, value: str, colour: tuple[int, int, int],
             label_colour: tuple[int, int, int] = DIM) -> None:
        self._screen.blit(self._text(label, "body" if label.isupper() else "small", label_colour), (x + 16, y + 1))
        val = self._text(value, "bold", colour)
        self._screen.blit(val, (x + w - 16 - val.get_width(), y))

    def _draw_footer(self, hud: HudState) -> None:
        pg, screen = self._pg, self._screen
        x, y, w, h = self.layout.footer
        if hud.message != self._message:
            self._message, self._message_t = hud.message, time.monotonic()
        pg.draw.rect(screen, PANEL, (x, y, w, h), border_radius=8)
        if hud.safety == "hold" and hud.safety_reason:  # the pill may be short: the whole reason here
            pg.draw.rect(screen, AMBER, (x, y, 6, h), border_top_left_radius=8, border_bottom_left_radius=8)
            for i, line in enumerate(lines := self.hold_lines(hud.safety_reason)):
                surf = self._text(line, "body" if len(lines) == 1 else "small", AMBER)
                screen.blit(surf, (x + 20, y + (h - surf.get_height() * len(lines)) // 2 + i * surf.get_height()))
            return
        if not self._message:
            return
        fresh = time.monotonic() - self._message_t < MESSAGE_FRESH_S
        colour = TEXT if fresh else DIM
        if fresh:
            pg.draw.rect(screen, ACCENT, (x, y, 6, h), border_top_left_radius=8, border_bottom_left_radius=8)
        msg = self._text(self._fit(self._message, "body", w - 40), "body", colour)
        screen.blit(msg, (x + 20, y + (h - msg.get_height()) // 2))

    def hold_lines(self, reason: str) -> list[str]:
        """The HOLD reason as the message bar shows it: one body line, or two small ones when longer."""
        w = self.layout.footer[2] - 40
        text = f"HOLD: {reason}"
        if self._fonts["body"].size(text)[0] <= w:
            return [text]
        return self._wrap(text, "small", w, 2)

    # ------------------------------------------------------------ overlays
    def _draw_card(self, card: QualityCard) -> None:
        """The quality card over the camera area: what was saved, how it measures, what to do."""
        pg, screen, lay = self._pg, self._screen, self.layout
        rects = list(lay.cameras.values())
        if rects:
            x0 = min(r[0] for r in rects)
            x1 = max(r[0] + r[2] for r in rects)
            y0, h = rects[0][1], max(r[3] for r in rects)
        else:
            x0, x1, y0, h = PAD, lay.sidebar[0] - PAD, lay.sidebar[1], lay.footer[1] - lay.sidebar[1] - PAD
        w = min(x1 - x0, 760)
        x = x0 + (x1 - x0 - w) // 2
        rows = list(card.rows)
        need = 96 + 24 * len(rows) + 28 * (card.duplicate_of is not None) + 30 + 30
        ch = min(h, max(need, 200))
        y = y0 + max(0, (h - ch) // 2)
        shade = pg.Surface((x1 - x0, h), pg.SRCALPHA)
        shade.fill((0, 0, 0, 150))
        screen.blit(shade, (x0, y0))
        colour = {"success": GREEN, "failure": RED, "unknown": AMBER, "discarded": FAINT}.get(card.outcome, TEXT)
        pg.draw.rect(screen, PANEL, (x, y, w, ch), border_radius=12)
        pg.draw.rect(screen, colour, (x, y, w, ch), width=2, border_radius=12)
        title = self._text(f"EPISODE {card.number} SAVED AS {card.outcome.upper()}", "large", colour)
        screen.blit(title, (x + 20, y + 14))
        sub = f"dataset id {card.episode_id} · {card.end_reason}" if card.end_reason else f"dataset id {card.episode_id}"
        screen.blit(self._text(self._fit(sub, "small", w - 40), "small", DIM), (x + 20, y + 48))
        ry = y + 76
        level_colour = {"ok": GREEN, "warn": AMBER, "bad": RED, "info": TEXT}
        for row in rows:
            if ry + 22 > y + ch - 64:
                break
            screen.blit(self._text(row.label, "small", DIM), (x + 20, ry + 3))
            val = self._text(row.value, "bold", level_colour.get(row.level, TEXT))
            screen.blit(val, (x + 210, ry))
            if row.note:
                screen.blit(self._text(self._fit(row.note, "small", w - 340), "small", DIM), (x + 320, ry + 3))
            ry += 24
        if card.duplicate_of is not None:
            dup = self._text(f"near-duplicate of episode {card.duplicate_of}", "bold", AMBER)
            screen.blit(dup, (x + 20, ry + 2))
            ry += 28
        if card.verdict:
            v = self._text(self._fit(card.verdict, "body", w - 40), "body", level_colour.get(card.verdict_level, TEXT))
            screen.blit(v, (x + 20, y + ch - 60))
        keys = "   ·   ".join(f"{k} {a}" for k, a in card.keys)
        if keys:
            screen.blit(self._text(self._fit(keys, "small", w - 40), "small", ACCENT), (x + 20, y + ch - 28))

    def _draw_confirm(self, hud: HudState) -> None:
        """Quit with an episode in progress: keep it (unknown), discard it, or go back."""
        pg, screen, lay = self._pg, self._screen, self.layout
        shade = pg.Surface(lay.size, pg.SRCALPHA)
        shade.fill((0, 0, 0, 170))
        screen.blit(shade, (0, 0))
        w, h = min(640, lay.size[0] - 2 * PAD), 200
        x, y = (lay.size[0] - w) // 2, (lay.size[1] - h) // 2
        pg.draw.rect(screen, PANEL, (x, y, w, h), border_radius=12)
        pg.draw.rect(screen, AMBER, (x, y, w, h), width=3, border_radius=12)
        screen.blit(self._text("Quit the session?", "large", TEXT), (x + 24, y + 18))
        detail = f"The episode in progress has {format_elapsed(hud.elapsed_s)} recorded. The arm holds meanwhile."
        screen.blit(self._text(self._fit(detail, "small", w - 48), "small", DIM), (x + 24, y + 60))
        for i, (key, what, colour) in enumerate((("Y", "keep it as unknown and quit", GREEN),
                                                 ("N", "discard it and quit", RED),
                                                 ("ESC", "cancel, keep recording", TEXT))):
            ky = y + 92 + i * 30
            screen.blit(self._text(key, "bold", colour), (x + 24, ky))
            screen.blit(self._text(what, "body", TEXT), (x + 90, ky))

    # ------------------------------------------------------------------ text
    def _text(self, text: str, role: str, colour: tuple[int, int, int]) -> Any:
        key = (text, role, colour)
        surf = self._text_cache.get(key)
        if surf is None:
            if len(self._text_cache) > 1024:  # changing numbers would grow it forever
                self._text_cache.clear()
            surf = self._fonts[role].render(text, True, colour)
            self._text_cache[key] = surf
        return surf

    def _fit(self, text: str, role: str, max_w: int) -> str:
        """``text``, cut with an ellipsis to fit ``max_w`` pixels."""
        return self._wrap(text, role, max_w, 1)[0]

    def _wrap(self, text: str, role: str, max_w: int, max_lines: int) -> list[str]:
        """Word-wrap to at most ``max_lines`` lines of ``max_w`` pixels; the last line ends in '…' when cut."""
        key = (text, role, max_w, max_lines)
        cached = self._fit_cache.get(key)
        if cached is not None:
            return cached
        font = self._fonts[role]
        lines = wrap_text(text, lambda t: font.size(t)[0], max_w, max_lines)
        if len(self._fit_cache) > 512:
            self._fit_cache.clear()
        self._fit_cache[key] = lines
        return lines

    def _center_text(self, text: str, role: str, colour: tuple[int, int, int], rect: tuple[int, int, int, int]) -> None:
        surf = self._text(text, role, colour)
        x, y, w, h = rect
        self._screen.blit(surf, (x + (w - surf.get_width()) // 2, y + (h - surf.get_height()) // 2))

