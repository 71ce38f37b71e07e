"""3Dconnexion SpaceMouse models: USB ids and HID report layouts.

Every model speaks the same three input reports (values are little-endian):

| report id | payload | meaning |
|---|---|---|
| 1 | 6 bytes: x, y, z as int16 | translation (split models) |
| 1 | 12 bytes: x, y, z, rx, ry, rz as int16 | translation + rotation (combined models, 2013+) |
| 2 | 6 bytes: rx, ry, rz as int16 | rotation (split models only) |
| 3 | 1 to 6 bytes | button bitmask, bit *i* = button *i* (width varies by model) |
| 0x1c | up to 6 bytes | SpaceMouse Enterprise: numbers of the buttons now held, 0 = none |
| 0x17 | 1 byte | battery percent (wireless models) |

Raw counts span roughly ±350 at full deflection. Device frame (as the puck reports it):
x to the right, y toward the operator, z down; rx, ry, rz turn about those axes.

Ids and button bit positions follow what spacenavd, libspnav and pyspacemouse
document for these devices; the parser also detects split/combined by report length,
so an unlisted model with the same protocol still works.
"""

from __future__ import annotations

from dataclasses import dataclass, field

VENDOR_LOGITECH = 0x046D  # older, Logitech-branded 3Dconnexion devices
VENDOR_3DCONNEXION = 0x256F
VENDOR_IDS: tuple[int, ...] = (VENDOR_3DCONNEXION, VENDOR_LOGITECH)

REPORT_TRANSLATION = 0x01
REPORT_ROTATION = 0x02
REPORT_BUTTONS = 0x03
REPORT_BATTERY = 0x17
REPORT_ENTERPRISE_BUTTONS = 0x1C

TWO_BUTTONS: dict[str, int] = {"left": 0, "right": 1}
# SpaceMouse Pro family (also Pro Wireless and the Universal Receiver).
PRO_BUTTONS: dict[str, int] = {
    "menu": 0, "fit": 1, "top": 2, "rear": 4, "front": 5, "roll": 8,
    "1": 12, "2": 13, "3": 14, "4": 15,
    "esc": 22, "alt": 23, "shift": 24, "ctrl": 25, "rotation": 26,
}
SPACEPILOT_PRO_BUTTONS: dict[str, int] = {
    "menu": 0, "fit": 1, "top": 2, "rear": 4, "front": 5, "roll": 8, "iso": 10,
    "3": 14, "4": 15, "5": 16, "1": 17, "2": 18,
    "esc": 22, "alt": 23, "shift": 24, "ctrl": 25, "rotation": 26,
    "pan_zoom": 27, "dominant": 28, "plus": 29, "minus": 30,
}


@dataclass(frozen=True)
class SpaceMouseModel:
    """One product: its ids, whether report 1 carries rotation too, its named buttons."""

    name: str
    vendor_id: int
    product_id: int
    combined: bool  # report 1 = translation + rotation (12 bytes); else split reports 1 and 2
    buttons: dict[str, int] = field(default_factory=lambda: dict(TWO_BUTTONS))
    button_bytes: int = 2  # width of the report-3 bitmask payload
    wireless: bool = False


MODELS: tuple[SpaceMouseModel, ...] = (
    SpaceMouseModel("SpaceTraveler", VENDOR_LOGITECH, 0xC623, False,
                    {str(i + 1): i for i in range(8)}, 1),
    SpaceMouseModel("SpacePilot", VENDOR_LOGITECH, 0xC625, False,
                    {str(i + 1): i for i in range(21)}, 3),
    SpaceMouseModel("SpaceNavigator", VENDOR_LOGITECH, 0xC626, False),
    SpaceMouseModel("SpaceExplorer", VENDOR_LOGITECH, 0xC627, False,
                    {str(i + 1): i for i in range(15)}, 2),
    SpaceMouseModel("SpaceNavigator for Notebooks", VENDOR_LOGITECH, 0xC628, False),
    SpaceMouseModel("SpacePilot Pro", VENDOR_LOGITECH, 0xC629, False, dict(SPACEPILOT_PRO_BUTTONS), 4),
    SpaceMouseModel("SpaceMouse Pro", VENDOR_LOGITECH, 0xC62B, False, dict(PRO_BUTTONS), 4),
    SpaceMouseModel("SpaceMouse Wireless (cabled)", VENDOR_3DCONNEXION, 0xC62E, True, wireless=True),
    SpaceMouseModel("SpaceMouse Wireless (receiver)", VENDOR_3DCONNEXION, 0xC62F, True, wireless=True),
    SpaceMouseModel("SpaceMouse Pro Wireless (cabled)", VENDOR_3DCONNEXION, 0xC631, True, dict(PRO_BUTTONS), 4, True),
    SpaceMouseModel("SpaceMouse Pro Wireless (receiver)", VENDOR_3DCONNEXION, 0xC632, True, dict(PRO_BUTTONS), 4, True),
    SpaceMouseModel("SpaceMouse Enterprise", VENDOR_3DCONNEXION, 0xC633, True,
                    {"menu": 0, "fit": 1, **{f"b{i + 1}": i for i in range(2, 32)}}, 4),
    SpaceMouseModel("SpaceMouse Compact", VENDOR_3DCONNEXION, 0xC635, True),
    SpaceMouseModel("SpaceMouse Module", VENDOR_3DCONNEXION, 0xC636, True),
    SpaceMouseModel("3Dconnexion Universal Receiver", VENDOR_3DCONNEXION, 0xC652, True,
                    dict(PRO_BUTTONS), 4, True),
)

_BY_ID: dict[tuple[int, int], SpaceMouseModel] = {(m.vendor_id, m.product_id): m for m in MODELS}


def model_for(vendor_id: int, product_id: int) -> SpaceMouseModel | None:
    """The known model with these USB ids, or None."""
    return _BY_ID.get((vendor_id, product_id))

