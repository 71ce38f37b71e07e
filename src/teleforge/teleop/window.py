"""The operator window: live cameras, REC light + countdown, instruction, robot state, loop health,
safety, keys, the quality card after each save and the quit confirmation.

Runs on the session's UI thread (pygame wants the main thread) and only reads a
`HudState`; it never touches the robot or the recorder. Text is rendered once and
cached, so a frame costs a few blits and two camera scalings (a few ms).
Headless (CI, screenshots) with ``SDL_VIDEODRIVER=dummy``. The window fits the screen:
cameras are scaled (up to ``scale``) so the whole layout fits the desktop, or ``max_size``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.errors import WindowError
from teleforge.teleop.hud import HudState, QualityCard
from teleforge.teleop.window_layout import (
    _FONT_SIZES,
    ACCENT,
    AMBER,
    BAND_H,
    BG,
    DIM,
    FAINT,
    FOOTER_H,
    GREEN,
    HEADER_H,
    MESSAGE_FRESH_S,
    MIN_BODY_H,
    MIN_LEFT_W,
    NO_SIGNAL,
    PAD,
    PANEL,
    PANEL_EDGE,
    REC_RED,
    REC_W,
    RED,
    SCREEN_MARGIN,
    SIDEBAR_W,
    TEXT,
    URGENT_LEFT_S,
    WARN_LEFT_S,
    Layout,
    _layout,
    age_colour,
    countdown_colour,
    desktop_size,
    fit_scale,
    format_elapsed,
    jitter_colour,
    rate_colour,
    remaining_s,
    session_keys_first,
    wrap_text,
)
from teleforge.teleop.window_panels import HudPainter

# The layout rules and palette live in window_layout; this module keeps their public names.
__all__ = ['ACCENT', 'AMBER', 'BAND_H', 'BG', 'DIM', 'FAINT', 'FOOTER_H', 'GREEN', 'HEADER_H', 'MESSAGE_FRESH_S', 'MIN_BODY_H', 'MIN_LEFT_W', 'NO_SIGNAL', 'PAD', 'PANEL', 'PANEL_EDGE', 'REC_RED', 'REC_W', 'RED', 'SCREEN_MARGIN', 'SIDEBAR_W', 'TEXT', 'URGENT_LEFT_S', 'WARN_LEFT_S', 'Layout', 'OperatorWindow', 'age_colour', 'countdown_colour', 'desktop_size', 'fit_scale', 'format_elapsed', 'jitter_colour', 'rate_colour', 'remaining_s', 'session_keys_first', 'wrap_text']


class OperatorWindow(HudPainter):
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
