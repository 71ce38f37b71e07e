"""ALOHA / ACT HDF5: one ``episode_N.hdf5`` per episode, export and import.

Layout (ACT's ``EpisodicDataset`` reads it unchanged)::

    attrs: sim (bool), compress (False), instruction, task, outcome, episode_id, teleforge_layout (JSON)
    /observations/qpos   (T, n+1) float32  [joint_pos..., gripper opening (1 = open)]
    /observations/qvel   (T, n+1) float32  [joint_vel..., gripper opening rate]
    /observations/images/<cam>  (T, H, W, 3) uint8
    /observations/depth/<cam>   (T, H, W) uint16 mm (depth cameras only; 0 = no reading)
    /observations/depth_valid/<cam>  (T,) bool: False where the step had no depth frame (its depth is all 0)
    /action              (T, n+1) float32  [target joint_pos..., gripper (1 = open, ALOHA's convention)]
    /teleforge/<native column>  the native columns, so native -> ALOHA -> native is exact

For ACT (``export_aloha(..., episode_len=, state_dim=14)``, ``teleforge handoff act``) every episode
is padded to one length and qpos/qvel/action to ACT's hard-coded width; ``teleforge_layout``
records the real ``steps`` and the padding, and the importer drops the padding again.

ALOHA data is joint-space: a foreign file imports with qpos as joint positions
and /action as joint targets; the native EE-delta action is zero except its
gripper (from ``gripper_index``), and the episode says so in its extras.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from teleforge.convert.hdf5.common import attr_text, dense_depth, dense_frames, open_h5, read_array
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.native import (
    ImportedEpisode,
    ImportReport,
    check_fps,
    check_joints,
    native_arrays,
    write_native_episode,
)
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import batches, current_engine
from teleforge.dataset.records import EpisodeStart
from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.dataset.selection import ExportSource
from teleforge.dataset.store import open_or_create
from teleforge.errors import ExportError, ImportFormatError
from teleforge.spec import ACTION_DIM, GRIPPER_INDEX, NATIVE_COLUMN_NAMES

EXTRAS_GROUP = "teleforge"
OBS_KNOWN = {"qpos", "qvel", "images", "depth", "depth_valid"}
OBS_IGNORED = {"effort"}  # motor currents: teleforge has no column for them; reported, not refused
TOP_KNOWN = {"observations", "action", EXTRAS_GROUP, "base_action"}
_EP_RE = re.compile(r"episode_(\d+)\.hdf5$")
EPISODES_PER_JOB = 4  # episode files one engine job writes


@dataclass
class AlohaExport:
    folder: Path
    files: list[Path]
    samples: int
    backfilled_frames: int


def export_aloha(src: ExportSource, out: Path | str, *, sim: bool = True, overwrite: bool = False,
                 compression: str | None = "gzip", episode_len: int | None = None,
                 state_dim: int | None = None) -> AlohaExport:
    """Write ``out/episode_N.hdf5`` (N = 0.. in selection order) for the kept, trimmed steps of ``src``.

    ACT (tonyzhaozh/act ``utils.load_data``) stacks whole episodes and builds its policy for a
    14-wide state: ``episode_len`` pads every episode to that many steps (observations and
    frames repeat the last step, velocities are zero, the last action is held: the arm stays
    where it ended) and ``state_dim`` zero-pads qpos/qvel/action to that width (ACT clips the
    std of a constant dimension, so zeros normalise to 0). The real length is the ``steps``
    entry of the ``teleforge_layout`` attribute; ``/teleforge`` holds only the real steps.
    :func:`act_episode_len` gives the longest episode of a selection.
    """
    out = Path(out)
    if episode_len is not None:
        longest = act_episode_len(src)
        if episode_len < longest:
            raise ExportError(f"episode_len {episode_len} is shorter than the longest selected episode ({longest} steps); "
                              f"pass at least {longest}")
    if state_dim is not None and state_dim < src.dataset.spec.n_joints + 1:
        raise ExportError(f"state_dim {state_dim} is narrower than qpos ({src.dataset.spec.n_joints} joints + gripper); "
                          f"pass at least {src.dataset.spec.n_joints + 1}")
    # The whole folder is staged and renamed at the end: a crash never leaves a folder of
    # episode files that looks like the complete export.
    stage = stage_output(out, overwrite=overwrite, fmt="aloha")
    try:
        result = _write_aloha(src, stage.staging, out, sim, compression, episode_len, state_dim)
        stage.publish()
    except BaseException:
        stage.abort()
        raise
    return result


def act_episode_len(src: ExportSource) -> int:
    """The longest episode (kept steps) of a selection: the smallest ``episode_len`` ACT's loader accepts."""
    return max((src.num_steps(i) for i in src.episode_ids), default=0)


def _pad(v: np.ndarray, length: int | None, width: int | None, hold: bool = True) -> np.ndarray:
    """(T, ...) -> (length, ...): rows after T repeat the last row (``hold``) or are zero; a (T, D) array
    also gets zero columns up to ``width``. None keeps that size."""
    t = len(v)
    shape = [length if length is not None else t, *v.shape[1:]]
    if width is not None and v.ndim == 2:
        shape[1] = width
    out = np.zeros(shape, v.dtype)
    cols = tuple(slice(0, d) for d in v.shape[1:])
    out[(slice(0, t), *cols)] = v
    if hold and t:
        out[(slice(t, None), *cols)] = v[-1]
    return out


@dataclass(frozen=True)
class _AlohaJob:
    """A few episodes' files for one engine job: the source (plain state), (k, episode id) pairs, settings."""

    source: dict[str, Any]  # ExportSource.to_state() with an absolute root
    episodes: list[tuple[int, int]]
    work: str  # the staging folder (on a cluster: a shared filesystem)
    sim: bool
    compression: str | None
    episode_len: int | None
    state_dim: int | None


def _write_job(job: _AlohaJob) -> list[tuple[int, int]]:
    """Engine job: write ``episode_<k>.hdf5`` for each of its episodes; (steps, backfilled frames) each."""
    src = ExportSource.from_state(job.source)
    return [_write_episode(src, eid, Path(job.work) / f"episode_{k}.hdf5", job) for k, eid in job.episodes]


def _write_episode(src: ExportSource, ep_id: int, path: Path, job: _AlohaJob) -> tuple[int, int]:
    import h5py  # lazy: the HDF5 library loads only for HDF5 exports

    ds = src.dataset
    fps = ds.spec.fps
    episode_len, state_dim, compression = job.episode_len, job.state_dim, job.compression
    backfilled = 0
    ep = ds.episode(ep_id)
    meta = ep.meta
    cols = native_arrays(ep)
    t = ep.num_steps
    grip = cols["observation.state.gripper"].astype(np.float32)
    grip_vel = np.gradient(grip) * fps if t > 1 else np.zeros(t, np.float32)
    qpos = np.concatenate([cols["observation.state.joint_pos"], grip[:, None]], axis=1)
    qvel = np.concatenate([cols["observation.state.joint_vel"], grip_vel[:, None].astype(np.float32)], axis=1)
    action = np.concatenate([cols["target.joint_pos"], (1.0 - cols["action"][:, GRIPPER_INDEX:GRIPPER_INDEX + 1])], axis=1).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.attrs.update(sim=bool(job.sim), compress=False, instruction=meta.instruction, task=meta.task,
                       outcome=meta.outcome, episode_id=ep_id, robot_embodiment=meta.robot_embodiment,
                       fps=fps)
        layout: dict[str, Any] = {
            "qpos": ["observation.state.joint_pos", "observation.state.gripper"],
            "qvel": ["observation.state.joint_vel", "d/dt observation.state.gripper"],
            "action": ["target.joint_pos", f"1 - action[{GRIPPER_INDEX}] (gripper, 1 = open)"],
            "n_joints": ds.spec.n_joints,
            "steps": t,  # real steps; rows after them are padding (episode_len)
        }
        if episode_len is not None or state_dim is not None:
            layout["padding"] = {"episode_len": episode_len or t, "state_dim": state_dim or qpos.shape[1],
                                 "rows": "after `steps`: qpos/images/action repeat the last step, qvel is 0",
                                 "columns": "after n_joints + 1: zero"}
        f.attrs["teleforge_layout"] = json.dumps(layout)
        obs = f.create_group("observations")
        obs.create_dataset("qpos", data=_pad(qpos, episode_len, state_dim))
        obs.create_dataset("qvel", data=_pad(qvel, episode_len, state_dim, hold=False))
        imgs = obs.create_group("images")
        for cam in ds.spec.camera_names:
            frames, miss = dense_frames(ep, cam)
            backfilled += miss
            frames = _pad(frames, episode_len, None)
            imgs.create_dataset(cam, data=frames, chunks=(1, *frames.shape[1:]) if len(frames) else None,
                                compression=compression)
        depth_cams = [c.name for c in ds.spec.cameras if c.depth]
        if depth_cams:
            dgroup, vgroup = obs.create_group("depth"), obs.create_group("depth_valid")
            for cam in depth_cams:
                depth, valid = dense_depth(ep, cam)
                # padding rows repeat the last step, as the images do
                depth = _pad(depth, episode_len, None)
                dgroup.create_dataset(cam, data=depth, chunks=(1, *depth.shape[1:]) if len(depth) else None,
                                      compression=compression)
                vgroup.create_dataset(cam, data=_pad(valid, episode_len, None))
        f.create_dataset("action", data=_pad(action, episode_len, state_dim))
        extra = f.create_group(EXTRAS_GROUP)
        for col in NATIVE_COLUMN_NAMES:
            extra.create_dataset(col, data=cols[col])
        extra.create_dataset("tick_ns", data=cols["tick_ns"])
    return t, backfilled


def _write_aloha(src: ExportSource, work: Path, out: Path, sim: bool, compression: str | None,
                 episode_len: int | None = None, state_dim: int | None = None) -> AlohaExport:
    """Every episode's file, written by the engine in force (one file per episode, a few per job)."""
    state = src.to_state() | {"root": str(Path(src.dataset.root).resolve())}
    pairs = list(enumerate(src.episode_ids))
    jobs = [_AlohaJob(state, part, str(Path(work).resolve()), sim, compression, episode_len, state_dim)
            for part in batches(pairs, EPISODES_PER_JOB)]
    results = current_engine().map(_write_job, jobs)
    per_episode = [r for res in results for r in res]
    files = [out / f"episode_{k}.hdf5" for k, _ in pairs]
    total = sum(t for t, _ in per_episode)
    backfilled = sum(b for _, b in per_episode)
    write_export_manifest(work, export_manifest(src, "aloha", {"files": [p.name for p in files], "conventions": {
        "qpos": "joint positions + gripper opening (1 = open)",
        "action": "target joint positions + gripper (1 = open, ALOHA convention; native is 0 = open)"}}))
    return AlohaExport(out, files, total, backfilled)


# --- import ------------------------------------------------------------------

def episode_files(source: Path | str) -> list[Path]:
    """``episode_N.hdf5`` files of a folder in N order (or the one file given)."""
    source = Path(source)
    if source.is_file():
        return [source]
    files = [p for p in source.glob("episode_*.hdf5") if _EP_RE.search(p.name)]
    if not files:
        raise ImportFormatError(f"{source} holds no episode_N.hdf5 files; pass the folder of an ALOHA dataset")
    return sorted(files, key=lambda p: int(_EP_RE.search(p.name).group(1)))  # type: ignore[union-attr]


def _frames(ds: Any, compressed: bool, where: str) -> np.ndarray:
    arr = read_array(ds, where)
    if arr.dtype == np.uint8 and arr.ndim == 4 and arr.shape[-1] == 3:
        return arr
    if compressed and arr.ndim == 2:  # act-plus-plus: padded JPEG bytes per frame
        frames = [cv2.imdecode(row, cv2.IMREAD_COLOR) for row in arr]
        decoded = [f for f in frames if f is not None]
        if len(decoded) != len(frames):
            raise ImportFormatError(f"{where}: a compressed frame does not decode; the file is corrupt")
        return np.stack(decoded)
    raise ImportFormatError(f"{where}: expected (T,H,W,3) uint8 frames, got {arr.dtype} {arr.shape}")


def import_aloha(source: Path | str, dataset: Path | str, *, instruction: str | None = None, task: str | None = None,
                 robot_embodiment: str | None = None, fps: float | None = None, gripper_index: int | None = None,
                 skip: list[str] | None = None, skip_unknown: bool = False, quality: int = 95) -> ImportReport:
    """Append ALOHA episode files to the native dataset at ``dataset`` (created if new)."""
    skip_set = set(skip or [])
    ids: list[int] = []
    skipped: set[str] = set()
    steps = 0
    spec: DatasetSpec | None = None
    for path in episode_files(source):
        with open_h5(path) as f:
            where = str(path)
            try:
                try:
                    top = set(f.keys())
                    obs_keys = set(f["observations"].keys()) if "observations" in f else set()
                    cams = list(f["observations/images"].keys()) if "images" in obs_keys else []
                except (OSError, KeyError, RuntimeError) as exc:
                    raise ImportFormatError(f"{where}: cannot read the episode ({exc}); the file is corrupt") from exc
                for need in ("action",):
                    if need not in top:
                        raise ImportFormatError(f"{where} has no /{need} (keys: {', '.join(sorted(top))}); is this an ALOHA file?")
                if "qpos" not in obs_keys:
                    raise ImportFormatError(f"{where} has no /observations/qpos; is this an ALOHA file?")
                unknown = sorted({f"/{k}" for k in top - TOP_KNOWN - {"observations"}} |
                                 {f"/observations/{k}" for k in obs_keys - OBS_KNOWN - OBS_IGNORED})
                unknown = [k for k in unknown if k.rsplit("/", 1)[-1] not in skip_set and k not in skip_set]
                if unknown and not skip_unknown:
                    raise ImportFormatError(
                        f"{where}: teleforge cannot map {', '.join(unknown)} (it maps /observations/qpos, qvel, images/<cam> "
                        f"and /action); pass --skip {','.join(k.rsplit('/', 1)[-1] for k in unknown)} (or --skip-unknown)"
                    )
                skipped.update(unknown, {f"/observations/{k}" for k in obs_keys & OBS_IGNORED})
                cams = [c for c in cams if c not in skip_set]
                compressed = bool(f.attrs.get("compress", False))
                qpos = read_array(f["observations/qpos"], f"{where}:/observations/qpos").astype(np.float32)
                action = read_array(f["action"], f"{where}:/action").astype(np.float32)
                t = len(qpos)
                if len(action) != t:
                    raise ImportFormatError(f"{where}: /action has {len(action)} steps but qpos has {t}")
                frames = {c: _frames(f[f"observations/images/{c}"], compressed, f"{where}:/observations/images/{c}") for c in cams}
                depth_keys = [c for c in (f["observations/depth"].keys() if "depth" in obs_keys else []) if c in cams]
                depth = {c: read_array(f[f"observations/depth/{c}"], f"{where}:/observations/depth/{c}") for c in depth_keys}
                for c, d in depth.items():
                    if d.dtype != np.uint16 or d.ndim != 3 or len(d) != len(qpos):
                        raise ImportFormatError(f"{where}:/observations/depth/{c}: expected ({len(qpos)},H,W) uint16 mm, "
                                                f"got {d.dtype} {d.shape}")
                # Without the flag (older exports, other writers) every depth frame counts as a reading.
                vkeys = [c for c in (f["observations/depth_valid"].keys() if "depth_valid" in obs_keys else []) if c in depth]
                depth_valid = {c: read_array(f[f"observations/depth_valid/{c}"], f"{where}:/observations/depth_valid/{c}")
                               .reshape(-1).astype(bool) for c in vkeys}
                for c, v in depth_valid.items():
                    if len(v) != len(qpos):
                        raise ImportFormatError(f"{where}:/observations/depth_valid/{c}: {len(v)} flags for {len(qpos)} steps")
                layout = json.loads(attr_text(f.attrs["teleforge_layout"])) if "teleforge_layout" in f.attrs else None
                cols: dict[str, np.ndarray] = {}
                tick_ns = None
                extras: dict[str, Any] = {"source": str(path)}
                if layout is not None and EXTRAS_GROUP in top:
                    if "steps" in layout:  # an ACT-padded export: rows after the real steps are padding
                        real = layout["steps"]
                        if not isinstance(real, int) or isinstance(real, bool) or not 0 <= real <= t:
                            raise ImportFormatError(f"{where}: teleforge_layout steps {real!r} is not a step count "
                                                    f"within the file's {t} rows; the file is corrupt")
                        t = real
                        frames = {c: fr[:t] for c, fr in frames.items()}
                        depth = {c: d[:t] for c, d in depth.items()}
                        depth_valid = {c: v[:t] for c, v in depth_valid.items()}
                    for col in f[EXTRAS_GROUP].keys():
                        arr = read_array(f[EXTRAS_GROUP][col], f"{where}:/{EXTRAS_GROUP}/{col}")
                        if col == "tick_ns":
                            tick_ns = arr.astype(np.int64)
                        elif col in NATIVE_COLUMN_NAMES:
                            cols[col] = arr
                    n_joints = int(layout["n_joints"])
                else:
                    n_joints = qpos.shape[1]
                    cols["observation.state.joint_pos"] = qpos
                    if "qvel" in obs_keys:
                        cols["observation.state.joint_vel"] = read_array(
                            f["observations/qvel"], f"{where}:/observations/qvel").astype(np.float32)
                    if action.shape[1] == n_joints:
                        cols["target.joint_pos"] = action
                    native_action = np.zeros((t, ACTION_DIM), np.float32)
                    if gripper_index is not None:
                        cols["observation.state.gripper"] = qpos[:, gripper_index]
                        native_action[:, GRIPPER_INDEX] = 1.0 - action[:, gripper_index]
                    cols["action"] = native_action
                    extras["action_space"] = "joint_pos (native EE-delta action is zero; joint targets in target.joint_pos)"
                if spec is None:
                    spec = DatasetSpec(
                        fps=check_fps(fps or f.attrs.get("fps", 0) or 50.0, f"{where}: attrs['fps']"),
                        robot_embodiment=robot_embodiment or attr_text(f.attrs.get("robot_embodiment", "")) or "aloha",
                        n_joints=check_joints(n_joints, where),
                        cameras=[CameraConfig(c, fr.shape[1], fr.shape[2], "jpeg", quality, depth=c in depth)
                                 for c, fr in frames.items()],
                    )
                    open_or_create(dataset, spec)
                text = instruction or attr_text(f.attrs.get("instruction", "")).strip()
                if not text:
                    raise ImportFormatError(f"{where} has no 'instruction' attribute; pass --instruction TEXT")
                outcome = attr_text(f.attrs.get("outcome", "unknown"))
                start = EpisodeStart(
                    task=task or attr_text(f.attrs.get("task", "")) or "aloha", instruction=text,
                    robot_embodiment=spec.robot_embodiment, seed=None, device="import:aloha", operator_id="",
                    session_id=f"import:{Path(source).name}", fps=spec.fps, extras=extras,
                )
                ep = ImportedEpisode(start, cols, frames, outcome if outcome in ("success", "failure") else "unknown",
                                     tick_ns=tick_ns, depth=depth, depth_valid=depth_valid)
                ids.append(write_native_episode(Path(dataset), spec, ep))
                steps += t
            except (KeyError, OSError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as exc:
                raise ImportFormatError(f"{where}: cannot read the episode ({exc!r}); the file is corrupt or not in "
                                        "ALOHA layout — re-copy or re-export it") from exc
    return ImportReport(Path(dataset), ids, steps, sorted(skipped))
