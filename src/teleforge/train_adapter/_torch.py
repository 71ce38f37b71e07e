"""The one place that imports torch, so a torch-less install fails with a useful message."""

from __future__ import annotations

from typing import Any

from teleforge.errors import TrainDependencyError


def require_torch() -> Any:
    """Return the ``torch`` module, or raise ``TrainDependencyError`` saying how to install it."""
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - exercised by a test that hides torch
        raise TrainDependencyError(
            "training and running the bundled VLA need torch: install teleforge[train] "
            "(pip install 'teleforge[train]'; CPU wheels: --index-url https://download.pytorch.org/whl/cpu)"
        ) from exc
    return torch
