"""Action/state normalization (q01/q99, RT-2/OpenVLA style) and the 256-bin action tokenizer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_BINS = 256
TOKEN_DECODES = ("argmax", "expected", "local")  # how bin logits become a value (model.decode_tokens)
# A policy's default: closed loop on pick_cube it never did worse than argmax (MODEL_CARD.md, "Tokens head").
DEFAULT_TOKEN_DECODE = "local"


@dataclass
class NormStats:
    """Per-dimension statistics stored in every checkpoint."""

    action_q01: np.ndarray
    action_q99: np.ndarray
    state_mean: np.ndarray
    state_std: np.ndarray

    @classmethod
    def fit(cls, actions: np.ndarray, states: np.ndarray) -> NormStats:
        a = np.asarray(actions, np.float64).reshape(-1, actions.shape[-1])
        s = np.asarray(states, np.float64).reshape(-1, states.shape[-1])
        q01, q99 = np.quantile(a, 0.01, axis=0), np.quantile(a, 0.99, axis=0)
        # A dimension that never moves (q01 == q99) would divide by zero: give it a tiny span.
        span = np.maximum(q99 - q01, 1e-4)
        mid = (q01 + q99) / 2
        return cls(
            action_q01=(mid - span / 2).astype(np.float32),
            action_q99=(mid + span / 2).astype(np.float32),
            state_mean=s.mean(0).astype(np.float32),
            state_std=np.maximum(s.std(0), 1e-3).astype(np.float32),
        )

    def norm_action(self, a: np.ndarray) -> np.ndarray:
        """Native -> [-1, 1] (clipped: the 2 % of outliers saturate instead of stretching the range)."""
        x = 2 * (np.asarray(a, np.float32) - self.action_q01) / (self.action_q99 - self.action_q01) - 1
        return np.clip(x, -1, 1)

    def denorm_action(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, np.float32) + 1) / 2 * (self.action_q99 - self.action_q01) + self.action_q01).astype(np.float32)

    def norm_state(self, s: np.ndarray) -> np.ndarray:
        return ((np.asarray(s, np.float32) - self.state_mean) / self.state_std).astype(np.float32)

    def to_dict(self) -> dict:
        return {k: np.asarray(v).tolist() for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> NormStats:
        return cls(**{k: np.asarray(d[k], np.float32) for k in ("action_q01", "action_q99", "state_mean", "state_std")})


def to_bins(x: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Normalized [-1, 1] values -> bin ids 0..n_bins-1 (uniform bins)."""
    idx = np.floor((np.clip(x, -1, 1) + 1) / 2 * n_bins)
    return np.clip(idx, 0, n_bins - 1).astype(np.int64)


def from_bins(idx: np.ndarray, n_bins: int = N_BINS) -> np.ndarray:
    """Bin ids -> the bins' centres in [-1, 1]."""
    return ((np.asarray(idx, np.float32) + 0.5) / n_bins * 2 - 1).astype(np.float32)


STATE_KEYS = ("ee_pos", "ee_quat", "gripper", "joint_pos")


def quat_to_rot6(q: np.ndarray) -> np.ndarray:
    """wxyz quaternion(s) -> the first two columns of the rotation matrix (6 numbers, continuous in the pose).

    A quaternion's sign is arbitrary and this arm points its hand down (w ~ 0), so a raw
    quaternion flips between q and -q from one step to the next; the matrix never does.
    """
    q = np.asarray(q, np.float32)
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-8)
    w, x, y, z = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    c0 = np.stack([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)], -1)
    c1 = np.stack([2 * (x * y - w * z), 1 - 2 * (x * x + z * z), 2 * (y * z + w * x)], -1)
    return np.concatenate([c0, c1], -1).astype(np.float32)


def state_vector(ee_pos: np.ndarray, ee_quat: np.ndarray, gripper: float | np.ndarray, joint_pos: np.ndarray) -> np.ndarray:
    """The proprio vector the model sees: [ee_pos 3, ee rotation 6D, gripper 1, joint_pos n] (17 for the sim arm)."""
    r6 = quat_to_rot6(ee_quat)
    g = np.asarray(gripper, np.float32).reshape(r6.shape[:-1] + (1,))
    return np.concatenate([np.asarray(ee_pos, np.float32), r6, g, np.asarray(joint_pos, np.float32)], axis=-1)
