"""Normalisation statistics the RLDS trainers read: OpenVLA's and Octo's.

OpenVLA normalizes actions with q01/q99 (``BOUNDS_Q99``) and leaves dimensions whose
``mask`` is false (the gripper) untouched; its ``dataset_statistics.json`` is keyed by dataset
name, the way OpenVLA's fine-tuning run saves it and its ``unnorm_key`` looks it up.
Octo's ``bounds`` normalisation reads the same quantiles named ``p01``/``p99``
(octo/data/utils/data_utils.py), from a flat file (no name key) passed as
``dataset_kwargs["dataset_statistics"]``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def array_stats(values: np.ndarray) -> dict[str, list[float]]:
    """mean, std, max, min, q01, q99 over axis 0 of a (N, D) array."""
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 1:
        v = v[:, None]
    if v.shape[0] == 0:
        zero = [0.0] * v.shape[1]
        return {"mean": zero, "std": zero, "max": zero, "min": zero, "q01": zero, "q99": zero}
    return {
        "mean": v.mean(0).astype(np.float32).tolist(),
        "std": v.std(0).astype(np.float32).tolist(),
        "max": v.max(0).astype(np.float32).tolist(),
        "min": v.min(0).astype(np.float32).tolist(),
        "q01": np.quantile(v, 0.01, axis=0).astype(np.float32).tolist(),
        "q99": np.quantile(v, 0.99, axis=0).astype(np.float32).tolist(),
    }


def dataset_statistics(
    actions: np.ndarray,
    proprio: np.ndarray,
    num_trajectories: int,
    action_mask: Sequence[bool] | None = None,
) -> dict[str, Any]:
    """One dataset's statistics. ``action_mask`` defaults to "normalize all but the last (gripper) dim"."""
    actions = np.asarray(actions)
    dim = actions.shape[1] if actions.ndim == 2 else 1
    mask = list(action_mask) if action_mask is not None else [True] * (dim - 1) + [False]
    action = array_stats(actions)
    action["mask"] = [bool(m) for m in mask]
    return {
        "action": action,
        "proprio": array_stats(proprio),
        "num_transitions": int(actions.shape[0]),
        "num_trajectories": int(num_trajectories),
    }


def write_statistics(path: Path | str, name: str, stats: dict[str, Any]) -> Path:
    """Write ``{name: stats}`` as JSON."""
    p = Path(path)
    p.write_text(json.dumps({name: stats}, indent=2))
    return p


def octo_statistics(stats: dict[str, Any]) -> dict[str, Any]:
    """One dataset's :func:`dataset_statistics` in Octo's naming: q01/q99 also as p01/p99, flat.

    Octo's ``make_dataset_from_rlds`` loads this dict (or a JSON file of it) as
    ``dataset_statistics``; the q-names stay so OpenVLA's ``BOUNDS_Q99`` reads the same file.
    """
    out: dict[str, Any] = {}
    for key, value in stats.items():
        if isinstance(value, dict) and "q01" in value:
            value = {**value, "p01": value["q01"], "p99": value["q99"]}
        out[key] = value
    return out
