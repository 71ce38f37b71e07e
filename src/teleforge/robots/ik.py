"""Differential inverse kinematics: damped least squares with joint limits and a posture nullspace.

``DiffIK.solve`` walks joint positions toward an end-effector target pose on a
scratch ``MjData`` (the simulation's own data is never touched), so it can run
every control step from the previous solution.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mujoco
import numpy as np

# --- rotation helpers (quaternions are wxyz) -----------------------------------


def quat_from_mat(mat: np.ndarray) -> np.ndarray:
    """wxyz unit quaternion of a 3x3 rotation matrix."""
    q = np.empty(4)
    mujoco.mju_mat2Quat(q, np.ascontiguousarray(mat, dtype=np.float64).ravel())
    return q


def mat_from_axis_angle(rotvec: np.ndarray) -> np.ndarray:
    """Rotation matrix of an axis-angle vector (Rodrigues)."""
    rotvec = np.asarray(rotvec, dtype=np.float64)
    angle = float(np.linalg.norm(rotvec))
    if angle < 1e-12:
        return np.eye(3)
    k = rotvec / angle
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * kx + (1 - np.cos(angle)) * kx @ kx


def axis_angle_from_mat(mat: np.ndarray) -> np.ndarray:
    """Axis-angle vector of a rotation matrix (angle in [0, pi])."""
    q = quat_from_mat(mat)
    if q[0] < 0:
        q = -q
    s = float(np.linalg.norm(q[1:]))
    if s < 1e-12:
        return np.zeros(3)
    angle = 2.0 * np.arctan2(s, q[0])
    return q[1:] / s * angle


def orientation_error(target: np.ndarray, current: np.ndarray) -> np.ndarray:
    """World-frame axis-angle that rotates ``current`` onto ``target`` (both 3x3)."""
    return axis_angle_from_mat(target @ current.T)


# --- the solver ------------------------------------------------------------------


@dataclass(frozen=True)
class IKConfig:
    """Damped-least-squares IK settings (lengths in m, angles in rad)."""
    damping: float = 0.05  # DLS lambda: trades accuracy for smoothness near singularities
    rot_weight: float = 0.5  # m per rad: how much orientation error counts against position error
    posture_gain: float = 0.1  # pull toward the posture in the Jacobian's nullspace, per iteration
    max_iters: int = 6
    tol: float = 1e-4  # m (and rad * rot_weight)
    max_dq: float = 0.25  # rad per iteration
    limit_margin: float = 0.02  # rad kept away from each joint limit


@dataclass
class IKResult:
    """One IK solve: joint positions (rad) and the remaining pose error."""
    q: np.ndarray
    pos_error: float  # m
    rot_error: float  # rad
    clamped: bool  # a joint limit was active


class DiffIK:
    """Solve for arm joint positions that put ``site`` at a target pose."""

    def __init__(
        self,
        model: mujoco.MjModel,
        site: str,
        joints: tuple[str, ...],
        posture: np.ndarray,
        config: IKConfig | None = None,
    ) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.cfg = config or IKConfig()
        self.site_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, site)
        if self.site_id < 0:
            raise ValueError(f"site '{site}' does not exist in the model")
        jids = [mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, j) for j in joints]
        if min(jids) < 0:
            raise ValueError(f"joints {joints} are not all in the model")
        self.qadr = np.array([model.jnt_qposadr[j] for j in jids])
        self.dadr = np.array([model.jnt_dofadr[j] for j in jids])
        self.low = model.jnt_range[jids, 0] + self.cfg.limit_margin
        self.high = model.jnt_range[jids, 1] - self.cfg.limit_margin
        self.posture = np.asarray(posture, dtype=np.float64).copy()
        n = len(jids)
        # Preallocated per-iteration buffers: solve() runs several times per control step.
        self._jacp = np.zeros((3, model.nv))
        self._jacr = np.zeros((3, model.nv))
        self._jac = np.zeros((6, n))
        self._err = np.zeros(6)
        self._eye = np.eye(n)
        self._lam_eye = self.cfg.damping**2 * np.eye(6)

    def forward(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Site position and rotation matrix at arm joints ``q`` (other joints at zero)."""
        self.data.qpos[self.qadr] = q
        mujoco.mj_kinematics(self.model, self.data)
        return self.data.site_xpos[self.site_id].copy(), self.data.site_xmat[self.site_id].reshape(3, 3).copy()

    def solve(self, q_start: np.ndarray, target_pos: np.ndarray, target_mat: np.ndarray) -> IKResult:
        """Joint positions (rad) near ``q_start`` that put the site at ``target_pos`` (3,) m / ``target_mat`` (3, 3); best effort within ``max_iters``."""
        cfg = self.cfg
        q = np.clip(np.asarray(q_start, dtype=np.float64).copy(), self.low, self.high)
        clamped = False
        w = cfg.rot_weight
        jac, err = self._jac, self._err
        pos_err = rot_err = np.inf
        for _ in range(cfg.max_iters):
            pos, mat = self.forward(q)
            ep = target_pos - pos
            er = orientation_error(target_mat, mat)
            pos_err, rot_err = math.sqrt(ep @ ep), math.sqrt(er @ er)
            if pos_err + w * rot_err < cfg.tol:
                break
            mujoco.mj_comPos(self.model, self.data)
            mujoco.mj_jacSite(self.model, self.data, self._jacp, self._jacr, self.site_id)
            jac[:3] = self._jacp[:, self.dadr]
            np.multiply(self._jacr[:, self.dadr], w, out=jac[3:])
            err[:3] = ep
            np.multiply(er, w, out=err[3:])
            # Damped pseudo-inverse J^T (J J^T + lambda^2 I)^-1, from one 6x6 solve (J J^T is symmetric).
            pinv = np.linalg.solve(jac @ jac.T + self._lam_eye, jac).T
            dq = pinv @ err + (self._eye - pinv @ jac) @ (cfg.posture_gain * (self.posture - q))
            peak = float(np.abs(dq).max())
            if peak > cfg.max_dq:
                dq *= cfg.max_dq / peak
            q_new = q + dq
            if np.any(q_new < self.low) or np.any(q_new > self.high):
                clamped = True
                q_new = np.clip(q_new, self.low, self.high)
            q = q_new
        else:
            pos, mat = self.forward(q)
            pos_err = float(np.linalg.norm(target_pos - pos))
            rot_err = float(np.linalg.norm(orientation_error(target_mat, mat)))
        return IKResult(q=q, pos_error=pos_err, rot_error=rot_err, clamped=clamped)
