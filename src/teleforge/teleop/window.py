"""The operator window: live cameras, REC light + countdown, instruction, robot state, loop health,
safety, keys, the quality card after each save and the quit confirmation.

Runs on the session's UI thread (pygame wants the main thread) and only reads a
`HudState`; it never touches the robot or the recorder. Text is rendered once and
cached, so a frame costs a few blits and two camera scalings (a few ms).
Headless (CI, screenshots) with ``SDL_VIDEODRIVER=dummy``. The window fits the screen:
cameras are scaled (up to ``scale``) so the whole layout fits the desktop, or ``max_size``.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.errors import WindowError
from teleforge.teleop.hud import HudState, QualityCard

# --- look ------------------------------------------------------------------------
BG = (16, 18, 22)
PANEL = (29, 32, 39)
PANEL_EDGE = (50, 55, 66)
TEXT = (234, 236, 240)
DIM = (138, 145, 158)
FAINT = (88, 94, 106)
ACCENT = (110, 170, 255)
GREEN = (70, 205, 115)
AMBER = (247, 172, 42)
RED = (226, 38, 38)
REC_RED = (236, 32, 32)
NO_SIGNAL = (40, 42, 48)

PAD = 12
HEADER_H = 60
BAND_H = 76
FOOTER_H = 38
SIDEBAR_W = 330
MIN_LEFT_W = 520
MIN_BODY_H = 540
REC_W = 360
MESSAGE_FRESH_S = 5.0  # a new message shows bright this long, then dims (it stays readable)
WARN_LEFT_S = 10.0  # the countdown turns amber with this little time left
URGENT_LEFT_S = 5.0  # and red
SCREEN_MARGIN = (40, 80)  # px kept free of the desktop for window decorations and a task bar

# font roles -> pygame default-font pixel sizes (the default font ships inside pygame)
_FONT_SIZES = {"small": 19, "body": 23, "bold": 23, "large": 34, "title": 38, "huge": 52}


@dataclass(frozen=True)
class Layout:
    """Where everything sits, in window pixels; tests and screenshots use it to find regions."""

    size: tuple[int, int]
    header: tuple[int, int, int, int]
    rec: tuple[int, int, int, int]
    device: tuple[int, int, int, int]
    safety: tuple[int, int, int, int]
    band: tuple[int, int, int, int]  # the instruction band; the E-STOP banner replaces it
    cameras: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    sidebar: tuple[int, int, int, int] = (0, 0, 0, 0)
    footer: tuple[int, int, int, int] = (0, 0, 0, 0)


def _fixed_size(n: int) -> tuple[int, int]:
    """Width and height of everything but the camera images (n cameras side by side)."""
    return 3 * PAD + SIDEBAR_W + max(0, n - 1) * PAD, HEADER_H + PAD + BAND_H + PAD + PAD + FOOTER_H + PAD


def fit_scale(camera_names: list[str], cam_size: tuple[int, int], max_size: tuple[int, int] | None,
              max_scale: float = 2.0) -> float:
    """The largest camera scale (<= ``max_scale``) whose layout fits in ``max_size`` px (None: no bound)."""
    if max_size is None:
        return float(max_scale)
    n = max(1, len(camera_names))
    fw, fh = _fixed_size(n)
    k_w = (max_size[0] - fw) / (n * cam_size[0])
    k_h = (max_size[1] - fh) / cam_size[1]
    k = min(float(max_scale), k_w, k_h)
    # Below the sidebar's minimum the layout cannot shrink further; keep the cameras legible.
    return max(0.25, k)


def _layout(camera_names: list[str], cam_size: tuple[int, int], scale: float,
            max_size: tuple[int, int] | None = None) -> Layout:
    cw, ch = int(cam_size[0] * scale), int(cam_size[1] * scale)
    n = len(camera_names)
    cams_w = n * cw + max(0, n - 1) * PAD
    left_w = max(cams_w, MIN_LEFT_W)
    width = PAD + left_w + PAD + SIDEBAR_W + PAD
    body_h = max(ch, MIN_BODY_H)
    if max_size is not None:  # a short screen: the cameras fit, so let the sidebar give way too
        body_h = max(ch, min(body_h, max_size[1] - _fixed_size(n)[1]))
    band_y = HEADER_H + PAD
    body_y = band_y + BAND_H + PAD
    footer_y = body_y + body_h + PAD
    height = footer_y + FOOTER_H + PAD
    x0 = PAD + (left_w - cams_w) // 2
    cams = {name: (x0 + i * (cw + PAD), body_y, cw, ch) for i, name in enumerate(camera_names)}
    # Status pills shrink on narrow windows so the task and episode counter keep ~200 px.
    pill_w = max(170, min(300, (width - REC_W - 4 * PAD - 200) // 2))
    return Layout(
        size=(width, height),
        header=(0, 0, width, HEADER_H),
        rec=(PAD, 8, REC_W, HEADER_H - 16),
        device=(width - PAD - 2 * pill_w - PAD, 10, pill_w, HEADER_H - 20),
        safety=(width - PAD - pill_w, 10, pill_w, HEADER_H - 20),
        band=(0, band_y, width, BAND_H),
        cameras=cams,
        # The sidebar runs down beside the message bar: the key list needs the room.
        sidebar=(PAD + left_w + PAD, body_y, SIDEBAR_W, body_h + PAD + FOOTER_H),
        footer=(PAD, footer_y, left_w, FOOTER_H),
    )


def format_elapsed(seconds: float) -> str:
    """mm:ss.s, the REC clock."""
    tenths = int(round(max(0.0, float(seconds)) * 10))  # round first, so 59.96 s reads 01:00.0, not 00:60.0
    minutes, rest = divmod(tenths, 600)
    return f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def rate_colour(loop_hz: float, target_hz: float) -> tuple[int, int, int]:
    """Green within 3 % of target, amber within 10 %, red below; dim before the first measurement."""
    if loop_hz <= 0 or target_hz <= 0:
        return DIM
    ratio = loop_hz / target_hz
    if ratio >= 0.97:
        return GREEN
    return AMBER if ratio >= 0.90 else RED


def jitter_colour(jitter_p99_ms: float, target_hz: float) -> tuple[int, int, int]:
    """Relative to the period: under 10 % green, under 25 % amber, else red."""
    if target_hz <= 0 or not math.isfinite(jitter_p99_ms):
        return DIM
    frac = jitter_p99_ms / (1000.0 / target_hz)
    if frac < 0.10:
        return GREEN
    return AMBER if frac < 0.25 else RED


def age_colour(age_ms: float) -> tuple[int, int, int]:
    """HUD colour for a camera frame age (ms): plain text up to 100, amber up to 250, red beyond or unknown."""
    if not math.isfinite(age_ms):
        return RED
    if age_ms <= 100:
        return TEXT
    return AMBER if age_ms <= 250 else RED


class OperatorWindow:
    """A pygame window showing the live cameras and the session's `HudState`."""

    def __init__(
        self,
        camera_names: list[str],
        cam_size: tuple[int, int] = (224, 224),
        scale: float = 2.0,
        title: str = "teleforge",
        max_size: tuple[int, int] | None = None,
    ) -> None:
        """``scale``: the largest camera magnification; the window shrinks it to fit ``max_size``
        (px; None: the desktop, known once the window opens)."""
        if not scale > 0:
            raise WindowError(f"scale must be positive, got {scale}")
        self.camera_names = list(camera_names)
        self.cam_size = (int(cam_size[0]), int(cam_size[1]))
        self.max_scale = float(scale)
        self.max_size = None if max_size is None else (int(max_size[0]), int(max_size[1]))
        self.title = title
        self._fit_to(self.max_size)
        self._card: QualityCard | None = None
        self._pg: Any = None
        self._screen: Any = None
        self._fonts: dict[str, Any] = {}
        self._text_cache: dict[tuple[str, str, tuple[int, int, int]], Any] = {}
        self._fit_cache: dict[tuple[str, str, int, int], list[str]] = {}
        self._static: Any = None  # background with panels, built once
        self._bars: dict[int, Any] = {}  # translucent camera label strips, by width
        self._message = ""
        self._message_t = 0.0

    # ------------------------------------------------------------------ lifecycle
    def open(self) -> None:
        """Create the window. Raises WindowError when there is no display."""
        if self._screen is not None:
            return
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        try:
            import pygame  # lazy: the module imports (and tests its layout helpers) without pygame
        except ImportError as exc:  # pragma: no cover - pygame is a dependency
            raise WindowError("the operator window needs pygame: pip install pygame, or run with --headless") from exc
        self._pg = pygame
        try:
            pygame.display.init()
            pygame.font.init()
            if self.max_size is None:
                self._fit_to(desktop_size(pygame))
            self._screen = pygame.display.set_mode(self.layout.size)
        except pygame.error as exc:
            raise WindowError(
                f"cannot open the operator window ({exc}): run with --headless, or set SDL_VIDEODRIVER=dummy "
                "to render off-screen"
            ) from exc
        pygame.display.set_caption(self.title)
        self._fonts = {role: pygame.font.Font(None, size) for role, size in _FONT_SIZES.items()}
        self._fonts["bold"].set_bold(True)
        self._fonts["title"].set_bold(True)
        self._fonts["huge"].set_bold(True)
        self._static = self._build_static()

    def close(self) -> None:
        """Close the window (safe to call twice)."""
        if self._screen is None:
            return
        self._screen = None
        self._static = None
        self._text_cache.clear()
        self._bars.clear()
        self._fonts = {}
        self._pg.display.quit()

    def __enter__(self) -> OperatorWindow:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fit_to(self, bound: tuple[int, int] | None) -> None:
        self.scale = fit_scale(self.camera_names, self.cam_size, bound, self.max_scale)
        self.layout = _layout(self.camera_names, self.cam_size, self.scale, bound)

    def show_card(self, card: QualityCard | None) -> None:
        """Show ``card`` over the cameras while in standby (None hides it)."""
        self._card = card

    @property
    def card(self) -> QualityCard | None:
        """The quality card being shown, if any."""
        return self._card

    @property
    def surface(self) -> Any:
        """The window's pygame Surface (what `draw` last rendered)."""
        if self._screen is None:
            raise WindowError("the operator window is not open: call open() first")
        return self._screen

    def poll_events(self) -> list[Any]:
        """Every pending pygame event (keys, quit); the session forwards them to the keyboard device."""
        if self._screen is None:
            return []
        return self._pg.event.get()

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        """Save what the window shows as PNG."""
        path = Path(path)
        if path.suffix.lower() != ".png":
            path = path.with_suffix(".png")
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pg.image.save(self.surface, str(path))
        return path

    # ----------------------------------------------------------------------- draw
    def draw(self, hud: HudState, frames: dict[str, np.ndarray | None]) -> None:
        """Render one frame of the window from ``hud`` and the newest camera images."""
        if self._screen is None:
            self.open()
        pg, screen, lay = self._pg, self._screen, self.layout
        # Copies: the control thread updates these containers while we draw.
        outcomes = dict(hud.outcomes)
        ages = dict(hud.frame_age_ms)
        key_help = list(hud.key_help)
        frames = dict(frames)

        screen.blit(self._static, (0, 0))
        self._draw_header(hud)
        if hud.safety == "estop":
            self._draw_estop_banner(hud, key_help)
        else:
            self._draw_instruction(hud)
        for name, rect in lay.cameras.items():
            self._draw_camera(name, rect, frames.get(name), ages.get(name), hud)
        if not lay.cameras:
            x, y, w, h = PAD, lay.sidebar[1], lay.sidebar[0] - 2 * PAD, lay.sidebar[3]
            self._center_text("no cameras configured", "body", DIM, (x, y, w, h))
        card = self._card
        if card is not None and not hud.recording:
            self._draw_card(card)
        self._draw_sidebar(hud, outcomes, key_help)
        self._draw_footer(hud)
        if hud.confirm_quit:
            self._draw_confirm(hud)
        pg.display.flip()

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


def remaining_s(hud: HudState) -> float | None:
    """Seconds left before the episode's time limit (None: no limit)."""
    if not hud.time_limit_s:
        return None
    return max(0.0, float(hud.time_limit_s) - float(hud.elapsed_s))


def countdown_colour(left_s: float, limit_s: float = 60.0) -> tuple[int, int, int]:
    """Plain text with time to spare, amber within WARN_LEFT_S, red within URGENT_LEFT_S
    (a third and a seventh of the limit for limits too short for those)."""
    if left_s <= min(URGENT_LEFT_S, limit_s / 7):
        return RED
    return AMBER if left_s <= min(WARN_LEFT_S, limit_s / 3) else TEXT


def desktop_size(pg: Any) -> tuple[int, int] | None:
    """The usable desktop (px), less room for window decorations; None when the driver cannot tell."""
    try:
        sizes = pg.display.get_desktop_sizes()
        w, h = sizes[0] if sizes else (0, 0)
    except (AttributeError, IndexError, Exception):
        info = pg.display.Info()
        w, h = info.current_w, info.current_h
    if w <= 0 or h <= 0:
        return None
    return max(320, w - SCREEN_MARGIN[0]), max(240, h - SCREEN_MARGIN[1])


def wrap_text(text: str, measure: Callable[[str], int], max_w: int, max_lines: int) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines no wider than ``max_w`` (as ``measure`` says).

    Whatever does not fit ends the last line in '…'; a single word wider than a line is cut.
    """
    lines: list[str] = []
    words = " ".join(text.split()).split(" ")
    i = 0
    while i < len(words) and max_lines > 0:
        if len(lines) == max_lines - 1:  # last line: everything left, cut to fit
            lines.append(_ellipsize(" ".join(words[i:]), measure, max_w))
            break
        line = words[i]
        i += 1
        if measure(line) > max_w:  # one word wider than the line: cut it
            line = _ellipsize(line, measure, max_w)
        while i < len(words) and measure(line + " " + words[i]) <= max_w:
            line += " " + words[i]
            i += 1
        lines.append(line)
    return lines or [""]


def _ellipsize(text: str, width: Callable[[str], int], max_w: int) -> str:
    """``text`` cut to ``max_w`` pixels, ending in '…' when cut (binary search: long texts stay cheap)."""
    if width(text) <= max_w:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if width(text[:mid].rstrip() + "…") <= max_w:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…" if lo > 0 else ""


_SESSION_WORDS = ("start", "save", "success", "fail", "discard", "reset", "stop", "release", "quit")


def session_keys_first(key_help: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Episode and safety keys before motion keys, so a list cut to fit the window keeps the ones that matter."""
    def is_session(action: str) -> bool:
        a = action.lower()
        return any(w in a for w in _SESSION_WORDS)

    return [kv for kv in key_help if is_session(kv[1])] + [kv for kv in key_help if not is_session(kv[1])]


def _as_rgb8(image: np.ndarray) -> np.ndarray | None:
    """HxWx3 uint8, C-contiguous, from what cameras hand out (grey, RGBA, float in [0, 1]); None if not an image."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (1, 3, 4)) or 0 in arr.shape:
        return None
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating):
            arr = (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)
