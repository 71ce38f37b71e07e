"""The frame a human device's twist is given in: the robot base, or aligned with a camera view.

A device reports its twist as (forward, left, up, roll, pitch, yaw) in [-1, 1]. In the
*base* frame forward is the base's +x. *View-aligned*, forward is the direction the
main camera looks (projected on the table), left is the image's left, and up stays +z:
W then moves the arm away from the viewer (up in the picture) and A to the picture's
left, whatever side of the table the camera stands on.
"""

from __future__ import annotations

import math

import numpy as np

from teleforge.spec import TWIST_DIM


def camera_yaw(rotation: np.ndarray) -> float:
    """Heading (rad, about base +z, 0 = +x) of a camera's viewing direction projected on the table.

    ``rotation`` is the camera's (3, 3) orientation in the base frame with MuJoCo's
    convention (columns: image right, image up, backward; the camera looks along -z).
    """
    r = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    forward = -r[:, 2]
    if math.hypot(forward[0], forward[1]) < 1e-6:  # looking straight down: the image's up is forward
        forward = r[:, 1]
    return float(math.atan2(forward[1], forward[0]))


def rotate_twist(twist: np.ndarray, yaw: float) -> np.ndarray:
    """A (TWIST_DIM,) view-frame twist rotated by ``yaw`` (rad) about +z into the base frame.

    Translation (0:3) and rotation (3:6) axes rotate alike; z and its rotation are unchanged.
    Returns float32.
    """
    t = np.asarray(twist, dtype=np.float64).reshape(TWIST_DIM)
    c, s = math.cos(yaw), math.sin(yaw)
    out = t.copy()
    out[0], out[1] = c * t[0] - s * t[1], s * t[0] + c * t[1]
    out[3], out[4] = c * t[3] - s * t[4], s * t[3] + c * t[4]
    return out.astype(np.float32)
