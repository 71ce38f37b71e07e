"""Per-episode quality metrics, computed one episode at a time with vectorized numpy.

Every metric is one number per episode, so it can live as a column of
catalog.parquet (see :mod:`teleforge.curation.store`) and be used in rules.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.curation.arrays import scalar, vec

# Bump when a metric's definition changes: stored metrics of another version are recomputed.
METRICS_VERSION = 3


@dataclass
class MetricsConfig:
    """Thresholds of the metrics. Defaults match the sim arm (DESIGN.md §3)."""

    idle_translation_m: float = 1e-4  # per-step EE translation below this (and no rotation/gripper change) is idle
    idle_rotation_rad: float = 1e-3
    idle_gripper: float = 1e-3
    max_speed_m_s: float = 0.6  # the arm's translation bound: saturation is measured against speed / fps
    max_rot_speed_rad_s: float = 2.0
    saturation_frac: float = 0.98  # |action| >= this share of its bound counts as saturated
    gripper_threshold: float = 0.5  # gripper command above it = closed
    gap_factor: float = 1.5  # a tick interval longer than this many periods is a gap
    images: bool = True  # image health on thumbnails (the only part that decodes)
    thumb_scale: int = 8  # largest JPEG reduction (1/2, 1/4, 1/8 by DCT scaling); small frames use less
    image_stride: int = 4  # image health decodes ~1 frame in 4 (frame pairs on a grid; frozen stays exact)


# name -> (unit, meaning); rules refer to these names (plus the catalog's own columns).
METRICS: dict[str, tuple[str, str]] = {
    "length": ("steps", "number of control steps"),
    "duration": ("s", "wall time from the first to the last tick (+1 period)"),
    "time_limit_frac": ("", "duration / the task's time limit (1.0 = ran out of time); NaN if unknown"),
    "path_length_m": ("m", "end-effector path length"),
    "net_displacement_m": ("m", "straight-line distance from the first to the last EE position"),
    "idle_fraction": ("", "share of steps with a zero action (no translation, rotation or gripper change)"),
    "idle_head_steps": ("steps", "idle steps at the start"),
    "idle_tail_steps": ("steps", "idle steps at the end"),
    "idle_max_run_s": ("s", "longest idle pause strictly inside the episode (head and tail excluded)"),
    "action_jerk_rms": ("m/s^3", "RMS jerk of the commanded translation (third derivative of the EE target)"),
    "action_rot_jerk_rms": ("rad/s^3", "RMS jerk of the commanded rotation"),
    "action_saturation_frac": ("", "share of steps with any translation/rotation action at its bound"),
    "gripper_toggles": ("", "open<->close switches of the gripper command"),
    "post_release_motion_m": ("m", "EE path after the last gripper release (NaN if never released)"),
    "approach_overshoot_m": ("m", "how far the EE went past the first grasp point along its approach (NaN if no grasp)"),
    "nonfinite_values": ("", "NaN/Inf values in actions, states and targets"),
    "tick_gaps": ("", "tick intervals longer than gap_factor periods"),
    "tick_period_p99_ms": ("ms", "p99 of the recorded tick intervals"),
    "frame_age_max_p99_ms": ("ms", "p99 of step time minus frame capture time, worst camera"),
    "instruction_present": ("", "1 if the instruction is non-empty"),
    "is_success": ("", "1 if the outcome is success"),
    "safety_hold_frac": ("", "share of steps the safety guard held the arm"),
    "content_hash": ("", "hash of actions + states (exact-duplicate key)"),
}
# Per camera: img_<cam>_<suffix>
IMAGE_METRICS: dict[str, tuple[str, str]] = {
    "missing_frac": ("", "share of steps without a frame"),
    "duplicate_frac": ("", "share of frames byte-identical to the previous step's frame"),
    "frozen_frac": ("", "share of steps in runs >= 0.5 s where the picture did not change while the arm moved >= 1 cm"),
    "black_frac": ("", "share of frames with mean luma < 12"),
    "overexposed_frac": ("", "share of frames with mean luma > 243 or >90% saturated pixels"),
    "age_p99_ms": ("ms", "p99 of step time minus this camera's capture time"),
}


_STATE_COLS = (
    "action",
    "observation.state.joint_pos",
    "observation.state.joint_vel",
    "observation.state.ee_pos",
    "observation.state.ee_quat",
    "target.ee_pos",
    "target.joint_pos",
)


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start indices and lengths of the True runs of a boolean array."""
    if not mask.size:
        return np.zeros(0, int), np.zeros(0, int)
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    return starts, ends - starts


def idle_mask(action: np.ndarray, cfg: MetricsConfig) -> np.ndarray:
    """Steps whose action does nothing: no translation, no rotation, gripper command unchanged."""
    t = np.abs(action[:, :3]).max(axis=1) if len(action) else np.zeros(0)
    r = np.abs(action[:, 3:6]).max(axis=1) if len(action) else np.zeros(0)
    g = np.abs(np.diff(action[:, 6], prepend=action[:1, 6])) if len(action) else np.zeros(0)
    return (t < cfg.idle_translation_m) & (r < cfg.idle_rotation_rad) & (g < cfg.idle_gripper)


def idle_head_tail(action: np.ndarray, cfg: MetricsConfig) -> tuple[int, int]:
    """Idle steps at the start and at the end (an all-idle episode is all head)."""
    m = idle_mask(action, cfg)
    if not m.size:
        return 0, 0
    if m.all():
        return int(m.size), 0
    head = int(np.argmin(m))
    tail = int(np.argmin(m[::-1]))
    return head, tail


def _approach_overshoot(ee: np.ndarray, grasp: int) -> float:
    """How far (m, horizontally) the EE went past the grasp point along its approach direction before grasping."""
    xy = ee[: grasp + 1, :2]
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) < 3:
        return math.nan
    g = xy[-1]
    u = g - xy[0]
    norm = float(np.linalg.norm(u))
    if norm < 1e-3:
        return 0.0
    return float(max(0.0, ((xy - g) @ (u / norm)).max()))


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.sum(x * x, axis=1)))) if len(x) else 0.0


def content_hash(table: pa.Table) -> str:
    """blake2b of the action and state bytes: equal for exact duplicates, whatever the ids/times."""
    h = hashlib.blake2b(digest_size=16)
    for name in ("action", "observation.state.joint_pos", "observation.state.ee_pos", "observation.state.gripper"):
        a = vec(table, name) if pa.types.is_fixed_size_list(table.schema.field(name).type) else scalar(table, name)
        h.update(np.ascontiguousarray(a, dtype=np.float32).tobytes())
    return h.hexdigest()


def motion_metrics(table: pa.Table, fps: float, cfg: MetricsConfig | None = None) -> dict[str, Any]:
    """Everything computed from the numeric step columns (no image decoding)."""
    cfg = cfg or MetricsConfig()
    n = table.num_rows
    a = vec(table, "action").astype(np.float64)
    ee = vec(table, "observation.state.ee_pos").astype(np.float64)
    ticks = scalar(table, "tick_ns", np.int64)
    out: dict[str, Any] = {"length": n}
    period = 1.0 / fps
    out["duration"] = float((ticks[-1] - ticks[0]) / 1e9 + period) if n else 0.0

    seg = np.linalg.norm(np.diff(ee, axis=0), axis=1) if n > 1 else np.zeros(0)
    seg = np.where(np.isfinite(seg), seg, 0.0)
    out["path_length_m"] = float(seg.sum())
    out["net_displacement_m"] = float(np.linalg.norm(ee[-1] - ee[0])) if n > 1 and np.isfinite(ee[[0, -1]]).all() else 0.0

    idle = idle_mask(a, cfg)
    out["idle_fraction"] = float(idle.mean()) if n else 0.0
    starts, lengths = _runs(idle)
    head = int(lengths[0]) if len(starts) and starts[0] == 0 else 0
    tail = int(lengths[-1]) if len(starts) and starts[-1] + lengths[-1] == n else 0
    if head == n:
        tail = 0
    out["idle_head_steps"] = head
    out["idle_tail_steps"] = tail
    inner = lengths[(starts > 0) & (starts + lengths < n)]
    out["idle_max_run_s"] = float(inner.max() * period) if inner.size else 0.0

    # The action is a per-step EE delta (a velocity): jerk is its second difference, in SI units.
    fin = np.where(np.isfinite(a), a, 0.0)
    d2 = np.diff(fin[:, :6], n=2, axis=0) if n > 2 else np.zeros((0, 6))
    out["action_jerk_rms"] = _rms(d2[:, :3]) * fps**3
    out["action_rot_jerk_rms"] = _rms(d2[:, 3:]) * fps**3
    bound_t = cfg.max_speed_m_s / fps
    bound_r = cfg.max_rot_speed_rad_s / fps
    sat = (np.abs(fin[:, :3]) >= cfg.saturation_frac * bound_t).any(axis=1) | (
        np.abs(fin[:, 3:6]) >= cfg.saturation_frac * bound_r
    ).any(axis=1)
    out["action_saturation_frac"] = float(sat.mean()) if n else 0.0

    closed = fin[:, 6] > cfg.gripper_threshold
    switches = np.flatnonzero(closed[1:] != closed[:-1]) + 1 if n > 1 else np.zeros(0, int)
    out["gripper_toggles"] = int(switches.size)
    releases = switches[~closed[switches]] if switches.size else switches
    out["post_release_motion_m"] = float(seg[releases[-1] - 1 :].sum()) if releases.size else math.nan
    grasps = switches[closed[switches]] if switches.size else switches
    out["approach_overshoot_m"] = _approach_overshoot(ee, int(grasps[0])) if grasps.size else math.nan

    bad = 0
    for name in _STATE_COLS:
        if name in table.column_names:
            bad += int(np.count_nonzero(~np.isfinite(vec(table, name))))
    for name in ("observation.state.gripper", "command.gripper"):
        if name in table.column_names:
            bad += int(np.count_nonzero(~np.isfinite(scalar(table, name))))
    out["nonfinite_values"] = bad

    dt = np.diff(ticks) / 1e6 if n > 1 else np.zeros(0)
    out["tick_gaps"] = int(np.count_nonzero(dt > cfg.gap_factor * period * 1e3))
    out["tick_period_p99_ms"] = float(np.percentile(dt, 99)) if dt.size else 0.0
    out["safety_hold_frac"] = float(scalar(table, "safety.hold", np.float64).mean()) if n and "safety.hold" in table.column_names else 0.0
    out["content_hash"] = content_hash(table)
    return out


def frame_ages(table: pa.Table, cams: list[str]) -> dict[str, float]:
    """p99 of (step tick - frame capture time) per camera, from the recorded timestamps."""
    ticks = scalar(table, "tick_ns", np.float64)
    out: dict[str, float] = {}
    for cam in cams:
        col = f"observation.images.{cam}.t_ns"
        if col not in table.column_names or not table.num_rows:
            continue
        age = (ticks - scalar(table, col, np.float64)) / 1e6
        age = age[np.isfinite(age)]
        out[cam] = float(np.percentile(age, 99)) if age.size else math.nan
    return out


def motion_metrics_batch(tables: list[pa.Table], fps: float, cfg: MetricsConfig | None = None) -> list[dict[str, Any]]:
    """:func:`motion_metrics` of many episodes at once: each column is read and each metric computed
    over the concatenated steps with per-episode reductions (the same values, to rounding; a batch
    costs a few dozen numpy calls instead of a few dozen per episode). Episodes under 3 steps, or
    with differing schemas, go through :func:`motion_metrics`."""
    cfg = cfg or MetricsConfig()
    out: list[dict[str, Any] | None] = [None] * len(tables)
    batch = [i for i, t in enumerate(tables) if t.num_rows >= 3 and t.schema.equals(tables[0].schema)]
    for i in set(range(len(tables))) - set(batch):
        out[i] = motion_metrics(tables[i], fps, cfg)
    if batch:
        joined = pa.concat_tables([tables[i].replace_schema_metadata(None) for i in batch])  # zero-copy
        for i, m in zip(batch, _batch(joined, [tables[i].num_rows for i in batch], fps, cfg)):
            out[i] = m
    return out  # type: ignore[return-value]


def _batch(table: pa.Table, lengths: list[int], fps: float, cfg: MetricsConfig) -> list[dict[str, Any]]:
    """The metrics of ``len(lengths)`` episodes (each >= 3 steps) stored back to back in ``table``."""
    lens = np.asarray(lengths, np.int64)
    e = len(lens)
    start = np.concatenate(([0], np.cumsum(lens)[:-1]))
    last = start + lens - 1
    n_all = int(lens.sum())
    ep = np.repeat(np.arange(e), lens)
    first_step = np.zeros(n_all, bool)
    first_step[start] = True
    period = 1.0 / fps
    a32 = vec(table, "action")
    a = a32.astype(np.float64)
    ee = vec(table, "observation.state.ee_pos").astype(np.float64)
    ticks = scalar(table, "tick_ns", np.int64)

    def per_ep_sum(x: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
        x = np.asarray(x, np.float64) if valid is None else np.where(valid, x, 0.0)
        return np.bincount(ep[: len(x)], weights=x, minlength=e)

    # Segment i is the EE move from step i to i + 1: inside an episode unless i + 1 starts the next.
    seg = np.linalg.norm(ee[1:] - ee[:-1], axis=1)
    seg = np.where(np.isfinite(seg) & ~first_step[1:], seg, 0.0)
    path = np.bincount(ep[:-1], weights=seg, minlength=e)
    net_ok = np.asarray(np.isfinite(ee[start]).all(axis=1) & np.isfinite(ee[last]).all(axis=1))
    net = np.where(net_ok, np.linalg.norm(np.where(net_ok[:, None], ee[last] - ee[start], 0.0), axis=1), 0.0)

    g = np.abs(np.diff(a[:, 6], prepend=a[:1, 6]))
    g[first_step] = 0.0
    idle = (np.abs(a[:, :3]).max(axis=1) < cfg.idle_translation_m) & (np.abs(a[:, 3:6]).max(axis=1) < cfg.idle_rotation_rad) & (
        g < cfg.idle_gripper)
    idle_frac = per_ep_sum(idle) / lens
    idx = np.arange(n_all)
    first_busy = np.minimum.reduceat(np.where(idle, n_all, idx), start)
    last_busy = np.maximum.reduceat(np.where(idle, -1, idx), start)
    all_idle = first_busy == n_all
    head = np.where(all_idle, lens, first_busy - start)
    tail = np.where(all_idle, 0, last - last_busy)
    prev_idle = np.concatenate(([False], idle[:-1])) & ~first_step
    last_step = np.zeros(n_all, bool)
    last_step[last] = True
    next_idle = np.concatenate((idle[1:], [False])) & ~last_step
    r_start = np.flatnonzero(idle & ~prev_idle)
    r_end = np.flatnonzero(idle & ~next_idle)
    r_ep = ep[r_start]
    inner = (r_start > start[r_ep]) & (r_end < last[r_ep])
    inner_max = np.zeros(e, np.int64)
    np.maximum.at(inner_max, r_ep[inner], (r_end - r_start + 1)[inner])

    fin = np.where(np.isfinite(a), a, 0.0)
    d1 = fin[1:, :6] - fin[:-1, :6]
    d2 = d1[1:] - d1[:-1]  # rows i: steps i, i+1, i+2 (np.diff(n=2) per episode)
    ok2 = ep[:-2] == ep[2:]
    cnt2 = np.bincount(ep[:-2], weights=ok2, minlength=e)
    with np.errstate(invalid="ignore", divide="ignore"):
        jerk = np.sqrt(np.bincount(ep[:-2], weights=np.where(ok2, (d2[:, :3] ** 2).sum(axis=1), 0.0), minlength=e) / cnt2)
        rjerk = np.sqrt(np.bincount(ep[:-2], weights=np.where(ok2, (d2[:, 3:] ** 2).sum(axis=1), 0.0), minlength=e) / cnt2)
    bound_t = cfg.max_speed_m_s / fps
    bound_r = cfg.max_rot_speed_rad_s / fps
    sat = np.asarray((np.abs(fin[:, :3]) >= cfg.saturation_frac * bound_t).any(axis=1)
                     | (np.abs(fin[:, 3:6]) >= cfg.saturation_frac * bound_r).any(axis=1))
    sat_frac = per_ep_sum(sat) / lens

    closed = fin[:, 6] > cfg.gripper_threshold
    switch = np.zeros(n_all, bool)
    switch[1:] = closed[1:] != closed[:-1]
    switch &= ~first_step
    toggles = per_ep_sum(switch)

    bad = np.zeros(e)
    for name in _STATE_COLS:
        if name in table.column_names:
            bad += per_ep_sum(np.count_nonzero(~np.isfinite(vec(table, name)), axis=1))
    for name in ("observation.state.gripper", "command.gripper"):
        if name in table.column_names:
            bad += per_ep_sum(~np.isfinite(scalar(table, name)))

    dt = np.diff(ticks) / 1e6
    gaps = np.bincount(ep[:-1], weights=(dt > cfg.gap_factor * period * 1e3) & ~first_step[1:], minlength=e)
    hold = per_ep_sum(scalar(table, "safety.hold", np.float64)) / lens if "safety.hold" in table.column_names else np.zeros(e)
    hash_cols = [(vec(table, name) if pa.types.is_fixed_size_list(table.schema.field(name).type) else scalar(table, name))
                 for name in ("action", "observation.state.joint_pos", "observation.state.ee_pos", "observation.state.gripper")]

    out = []
    for k in range(e):
        s, n = int(start[k]), int(lens[k])
        sw = np.flatnonzero(switch[s:s + n])
        releases = sw[~closed[s + sw]]
        grasps = sw[closed[s + sw]]
        h = hashlib.blake2b(digest_size=16)
        for col in hash_cols:
            h.update(np.ascontiguousarray(col[s:s + n], dtype=np.float32).tobytes())
        out.append({
            "length": n,
            "duration": float((ticks[s + n - 1] - ticks[s]) / 1e9 + period),
            "path_length_m": float(path[k]),
            "net_displacement_m": float(net[k]),
            "idle_fraction": float(idle_frac[k]),
            "idle_head_steps": int(head[k]),
            "idle_tail_steps": int(tail[k]),
            "idle_max_run_s": float(inner_max[k] * period),
            "action_jerk_rms": float(jerk[k]) * fps**3,
            "action_rot_jerk_rms": float(rjerk[k]) * fps**3,
            "action_saturation_frac": float(sat_frac[k]),
            "gripper_toggles": int(toggles[k]),
            "post_release_motion_m": float(seg[s + releases[-1] - 1:s + n - 1].sum()) if releases.size else math.nan,
            "approach_overshoot_m": _approach_overshoot(ee[s:s + n], int(grasps[0])) if grasps.size else math.nan,
            "nonfinite_values": int(bad[k]),
            "tick_gaps": int(gaps[k]),
            "tick_period_p99_ms": float(np.percentile(dt[s:s + n - 1], 99)),
            "safety_hold_frac": float(hold[k]) if n else 0.0,
            "content_hash": h.hexdigest(),
        })
    return out
