"""Where the operator window puts things and what colour they are: the palette, the
`Layout` of header, cameras, sidebar and footer, and the small pure rules (countdown,
loop-rate and frame-age colours, text wrapping, key order). No pygame: tests check
them directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from teleforge.teleop.hud import HudState

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
