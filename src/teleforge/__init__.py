"""teleforge: teleoperate, record, curate, export and fine-tune robot demonstrations."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
