"""Real arms through their vendors' Python SDKs (optional extras), each a teleforge ``Robot``.

One folder per vendor: a config dataclass beside the implementation. The SDKs import
lazily, on ``connect``-time construction, so ``import teleforge.robots.vendors`` needs none.

- ``xarm``: UFactory xArm 5/6/7, Lite 6, 850 via ``xarm-python-sdk`` (``pip install 'teleforge[xarm]'``)
- ``ur``: Universal Robots CB3 / e-Series via ``ur_rtde`` (``pip install 'teleforge[ur]'``)
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "ArmConfig": "base",
    "ArmLimits": "limits",
    "SdkCall": "base",
    "VendorArm": "base",
    "XArmConfig": "xarm",
    "XArmRobot": "xarm",
    "URConfig": "ur",
    "URRobot": "ur",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'teleforge.robots.vendors' has no attribute '{name}'")
    return getattr(importlib.import_module(f"teleforge.robots.vendors.{module}"), name)


def load_sdk(module: str, extra: str) -> Any:
    """Import a vendor SDK module, or RobotDependencyError naming the extra to install."""
    from teleforge.errors import RobotDependencyError

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise RobotDependencyError(
            f"the {extra} adapter needs the vendor SDK module {module!r} ({exc}); "
            f"install it with `pip install 'teleforge[{extra}]'`"
        ) from exc
