"""Write the SpaceMouse HID byte streams in this folder (see README.md for the format).

No hardware is needed: each stream encodes a known motion script in one model's
real report layout, the way the device would send it (split reports 1+2 at ~125 Hz
on older models, one combined 12-byte report 1 on newer ones, report 3 on button
changes, silence at rest). Run it again after changing a script:

    python tests/data/hid/make_streams.py
"""

from __future__ import annotations

import random
import struct
from pathlib import Path

HERE = Path(__file__).parent
MAGIC = b"TFHID1"
ERROR_MARK = 0xFFFF
PERIOD_US = 8000  # the pucks report every ~8 ms while deflected

# (phase, duration_ms, device-frame counts [x y z rx ry rz], button bitmask)
# Device frame: x right, y toward the operator, z down.
SCRIPT_MOTION = [
    ("rest", 40, (0, 0, 0, 0, 0, 0), 0),
    ("jitter", 80, "jitter", 0),  # sensor noise around rest, |counts| <= 20
    ("push_away", 120, (0, -350, 0, 0, 0, 0), 0),
    ("push_left_half", 120, (-175, 0, 0, 0, 0, 0), 0),
    ("lift_and_yaw", 120, (0, 0, -300, 0, 0, -350), 0),
    ("over_range", 120, (420, 0, 0, 0, 0, 0), 0),
    ("release", 40, (0, 0, 0, 0, 0, 0), 0),
    ("left_button", 40, (0, 0, 0, 0, 0, 0), 0b01),
    ("left_up", 40, (0, 0, 0, 0, 0, 0), 0),
    ("right_button", 40, (0, 0, 0, 0, 0, 0), 0b10),
    ("right_up", 40, (0, 0, 0, 0, 0, 0), 0),
    ("tilt_roll", 120, (0, 0, 0, 0, 350, 0), 0),
    ("end", 40, (0, 0, 0, 0, 0, 0), 0),
]

PRO_BITS = {"menu": 0, "fit": 1, "esc": 22, "4": 15}
SCRIPT_PRO_BUTTONS = [
    ("rest", 40, (0, 0, 0, 0, 0, 0), 0),
    ("menu", 40, (0, 0, 0, 0, 0, 0), 1 << PRO_BITS["menu"]),
    ("menu_up", 40, (0, 0, 0, 0, 0, 0), 0),
    ("esc", 40, (0, 0, 0, 0, 0, 0), 1 << PRO_BITS["esc"]),
    ("esc_up", 40, (0, 0, 0, 0, 0, 0), 0),
    ("four", 40, (0, 0, 0, 0, 0, 0), 1 << PRO_BITS["4"]),
    ("four_up", 40, (0, 0, 0, 0, 0, 0), 0),
    ("fit_while_moving", 80, (0, -350, 0, 0, 0, 0), 1 << PRO_BITS["fit"]),
    ("end", 40, (0, 0, 0, 0, 0, 0), 0),
]

SCRIPT_UNPLUG = [
    ("rest", 40, (0, 0, 0, 0, 0, 0), 0),
    ("push_away", 120, (0, -350, 0, 0, 0, 0), 0),
    ("UNPLUG", 0, None, 0),  # read error while the puck is still deflected
]


def _le16(v: int) -> bytes:
    return struct.pack("<h", max(-32768, min(32767, v)))


def encode_motion(counts: tuple[int, ...], combined: bool) -> list[bytes]:
    if combined:
        return [bytes([1]) + b"".join(_le16(c) for c in counts)]
    return [bytes([1]) + b"".join(_le16(c) for c in counts[:3]), bytes([2]) + b"".join(_le16(c) for c in counts[3:])]


def encode_buttons(mask: int, width: int, enterprise: bool) -> bytes:
    if enterprise:  # report 0x1c: list of held button numbers (1-based), zero padded to 6
        codes = [i + 1 for i in range(32) if mask >> i & 1][:6]
        return bytes([0x1C, *codes, *([0] * (6 - len(codes)))])
    return bytes([3]) + mask.to_bytes(width, "little")


def render(script, combined: bool, button_width: int, enterprise: bool = False, battery: int | None = None, seed: int = 0):
    rng = random.Random(seed)
    t = 0
    out: list[tuple[int, bytes | None]] = []
    if battery is not None:
        out.append((t, bytes([0x17, battery])))
    last_counts = (0,) * 6
    last_buttons = 0
    for _phase, dur_ms, counts, buttons in script:
        if counts is None:
            out.append((t, None))
            break
        if buttons != last_buttons:
            out.append((t, encode_buttons(buttons, button_width, enterprise)))
            last_buttons = buttons
        for _ in range(max(1, dur_ms * 1000 // PERIOD_US)):
            c = tuple(rng.randint(-20, 20) for _ in range(6)) if counts == "jitter" else counts
            # Deflected: report every period. At rest: one zero report, then silence.
            if any(c) or any(last_counts):
                for r in encode_motion(c, combined):
                    out.append((t, r))
            last_counts = c
            t += PERIOD_US
    return out


def write_stream(path: Path, vendor_id: int, product_id: int, name: str, records) -> None:
    nb = name.encode()
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<HHH", vendor_id, product_id, len(nb)) + nb)
        for t_us, rep in records:
            if rep is None:
                f.write(struct.pack("<IH", t_us, ERROR_MARK))
            else:
                f.write(struct.pack("<IH", t_us, len(rep)) + rep)


STREAMS = {
    # file: (vendor, product, model name, script, combined, button bytes, enterprise, battery)
    "spacenavigator_motion.bin": (0x046D, 0xC626, "SpaceNavigator", SCRIPT_MOTION, False, 2, False, None),
    "spacemouse_compact_motion.bin": (0x256F, 0xC635, "SpaceMouse Compact", SCRIPT_MOTION, True, 2, False, None),
    "spacemouse_wireless_motion.bin": (0x256F, 0xC62E, "SpaceMouse Wireless", SCRIPT_MOTION, True, 2, False, 87),
    "spacemouse_pro_buttons.bin": (0x046D, 0xC62B, "SpaceMouse Pro", SCRIPT_PRO_BUTTONS, False, 4, False, None),
    "spacemouse_pro_wireless_buttons.bin": (0x256F, 0xC632, "SpaceMouse Pro Wireless", SCRIPT_PRO_BUTTONS, True, 4, False, 55),
    "spacemouse_enterprise_buttons.bin": (0x256F, 0xC633, "SpaceMouse Enterprise", SCRIPT_PRO_BUTTONS, True, 4, True, None),
    "spacenavigator_unplug.bin": (0x046D, 0xC626, "SpaceNavigator", SCRIPT_UNPLUG, False, 2, False, None),
    "spacemouse_compact_unplug.bin": (0x256F, 0xC635, "SpaceMouse Compact", SCRIPT_UNPLUG, True, 2, False, None),
}


def phase_end_us(script, phase: str) -> int:
    """Time (us) at which ``phase`` ends in a stream rendered from ``script``."""
    t = 0
    for name, dur_ms, counts, _b in script:
        if counts is not None:
            t += max(1, dur_ms * 1000 // PERIOD_US) * PERIOD_US
        if name == phase:
            return t
    raise KeyError(phase)


def main() -> None:
    for fname, (vid, pid, name, script, combined, width, enterprise, battery) in STREAMS.items():
        write_stream(HERE / fname, vid, pid, name, render(script, combined, width, enterprise, battery))
        print(f"wrote {fname}")


if __name__ == "__main__":
    main()
