"""Rotation conversions the vendor SDKs need, in numpy only (no MuJoCo, no scipy).

Quaternions are wxyz (docs/design.md §3). Roll/pitch/yaw follow UFactory's
convention: roll about X, pitch about Y, yaw about Z, composed as
``R = Rz(yaw) @ Ry(pitch) @ Rx(roll)`` (fixed axes).
"""

from __future__ import annotations

import numpy as np


def mat_from_rotvec(rotvec: np.ndarray) -> np.ndarray:
    """3x3 rotation of an axis-angle vector (rad), Rodrigues' formula."""
    r = np.asarray(rotvec, dtype=np.float64).reshape(3)
    angle = float(np.linalg.norm(r))
    if angle < 1e-12:
        return np.eye(3)
    k = r / angle
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + np.sin(angle) * kx + (1.0 - np.cos(angle)) * (kx @ kx)


def quat_from_mat(mat: np.ndarray) -> np.ndarray:
    """wxyz unit quaternion (w >= 0) of a 3x3 rotation matrix."""
    m = np.asarray(mat, dtype=np.float64).reshape(3, 3)
    tr = m[0, 0] + m[1, 1] + m[2, 2]
    if tr > 0:
        s = np.sqrt(tr + 1.0) * 2
        q = np.array([0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s])
    elif m[0, 0] > m[1, 1] and m[0, 0] > m[2, 2]:
        s = np.sqrt(1.0 + m[0, 0] - m[1, 1] - m[2, 2]) * 2
        q = np.array([(m[2, 1] - m[1, 2]) / s, 0.25 * s, (m[0, 1] + m[1, 0]) / s, (m[0, 2] + m[2, 0]) / s])
    elif m[1, 1] > m[2, 2]:
        s = np.sqrt(1.0 + m[1, 1] - m[0, 0] - m[2, 2]) * 2
        q = np.array([(m[0, 2] - m[2, 0]) / s, (m[0, 1] + m[1, 0]) / s, 0.25 * s, (m[1, 2] + m[2, 1]) / s])
    else:
        s = np.sqrt(1.0 + m[2, 2] - m[0, 0] - m[1, 1]) * 2
        q = np.array([(m[1, 0] - m[0, 1]) / s, (m[0, 2] + m[2, 0]) / s, (m[1, 2] + m[2, 1]) / s, 0.25 * s])
    q /= np.linalg.norm(q)
    return -q if q[0] < 0 else q


def rotvec_from_mat(mat: np.ndarray) -> np.ndarray:
    """Axis-angle vector (rad, angle in [0, pi]) of a 3x3 rotation matrix."""
    q = quat_from_mat(mat)
    s = float(np.linalg.norm(q[1:]))
    if s < 1e-12:
        return np.zeros(3)
    return q[1:] / s * (2.0 * np.arctan2(s, q[0]))


def mat_from_rpy(roll: float, pitch: float, yaw: float) -> np.ndarray:
    """3x3 rotation of roll/pitch/yaw (rad), ``Rz(yaw) @ Ry(pitch) @ Rx(roll)``."""
    cr, sr, cp, sp, cy, sy = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw)
    return np.array([
        [cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
        [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
        [-sp, cp * sr, cp * cr],
    ])


def rpy_from_mat(mat: np.ndarray) -> np.ndarray:
    """(roll, pitch, yaw) in rad of a 3x3 rotation matrix (inverse of :func:`mat_from_rpy`)."""
    m = np.asarray(mat, dtype=np.float64).reshape(3, 3)
    pitch = float(np.arcsin(np.clip(-m[2, 0], -1.0, 1.0)))
    if abs(m[2, 0]) < 1 - 1e-9:
        roll = float(np.arctan2(m[2, 1], m[2, 2]))
        yaw = float(np.arctan2(m[1, 0], m[0, 0]))
    else:  # gimbal lock: put everything into yaw
        roll = 0.0
        yaw = float(np.arctan2(-m[0, 1], m[1, 1]))
    return np.array([roll, pitch, yaw])
