"""Thread priorities: background work yields the CPU to the control loop.

On a 2-core machine the renderers, JPEG encoders and the shard writer compete
with the control thread for cores. Raising their nice value (allowed without
privileges) makes the kernel wake the control thread first when it is due.
Linux applies ``setpriority`` to a single thread when given its native id; other
systems would renice the whole process, so this is a no-op there.
"""

from __future__ import annotations

import os
import sys
import threading

BACKGROUND_NICE = 10


def make_background_thread(nice: int = BACKGROUND_NICE) -> None:
    """Call at the start of a background thread's run function."""
    if not sys.platform.startswith("linux"):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
    except (OSError, AttributeError):
        pass  # containers may forbid it; timing degrades gracefully
