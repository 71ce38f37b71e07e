"""The ``openvla`` action space's gripper: OpenVLA's convention (1 = open, 0 = closed), binarised.

OpenVLA does not normalise the gripper dimension (``ActionEncoding.EEF_POS`` masks it out) and
its action tokenizer bins whatever arrives, so a 0.5 step (the native gripper passing through
half-closed) would reach the model as a third gripper command. OpenVLA's own transforms binarise
with ``binarize_gripper_actions`` (prismatic/vla/datasets/rlds/utils/data_utils.py); this is the
same rule in numpy, so the export already holds what those transforms would produce.
"""

from __future__ import annotations

import numpy as np

OPEN_ABOVE = 0.95  # OpenVLA's thresholds: > 0.95 is open, < 0.05 is closed, the rest in between
CLOSED_BELOW = 0.05


def binarize_gripper(open_fraction: np.ndarray) -> np.ndarray:
    """(T,) gripper commands with 1 = open -> (T,) float32 in {0, 1}.

    An in-between value takes the state reached after it (the gripper is on its way there);
    a trailing run of in-between values takes the nearest threshold (>= 0.5 is open), where
    OpenVLA's version keeps the raw value — a value outside {0, 1} would be binned as a third command.
    """
    g = np.asarray(open_fraction, np.float64).reshape(-1)
    out = np.empty(len(g), np.float32)
    carry = float(g[-1] >= 0.5) if len(g) else 1.0
    for i in range(len(g) - 1, -1, -1):
        if g[i] > OPEN_ABOVE:
            carry = 1.0
        elif g[i] < CLOSED_BELOW:
            carry = 0.0
        out[i] = carry
    return out
