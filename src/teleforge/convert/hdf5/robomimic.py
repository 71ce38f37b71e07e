"""robomimic HDF5: export a native dataset (or view) to one file, and import one.

Layout (robomimic's ``SequenceDataset`` reads it unchanged)::

    data/                       attrs: total, env_args (JSON)
      demo_0/                   attrs: num_samples, instruction, task, outcome, episode_id
        actions   (T, 7) float32  native action, gripper 0 = open, 1 = closed
        obs/robot0_eef_pos (T,3)  robot0_eef_quat (T,4) xyzw (robosuite order)
            robot0_joint_pos (T,n)  robot0_joint_vel (T,n)  robot0_gripper_qpos (T,1)
            <cam>_image (T,H,W,3) uint8   <cam>_depth (T,H,W) uint16 mm (depth cameras; 0 = no reading)
            <cam>_depth_valid (T,1) bool  False where the step had no depth frame (its depth is all 0)
        next_obs/<same keys>      obs of the next step; the last step repeats its own obs
        rewards (T,)  dones (T,) (1 on the last step)  states (T, 2n) = [joint_pos, joint_vel]
        teleforge/<native column>  everything else native, so a round trip is exact
    mask/train, mask/valid      demo names (optional, ``valid_fraction``)
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.convert.hdf5.common import attr_text, dense_depth, dense_frames, open_h5, read_array
from teleforge.convert.manifest import export_manifest, write_export_manifest
from teleforge.convert.native import (
    DEFAULT_N_JOINTS,
    ImportedEpisode,
    ImportReport,
    check_fps,
    check_joints,
    native_arrays,
    write_native_episode,
)
from teleforge.convert.staging import stage_output
from teleforge.dataset.engine import batches, map_in_order
from teleforge.dataset.records import EpisodeStart
from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.dataset.selection import ExportSource
from teleforge.dataset.store import open_or_create
from teleforge.errors import ExportError, ImportFormatError
from teleforge.spec import ACTION_DIM, ACTION_NAMES, NATIVE_COLUMN_NAMES

# robomimic obs key -> native column
OBS_KEYS = {
    "robot0_eef_pos": "observation.state.ee_pos",
    "robot0_eef_quat": "observation.state.ee_quat",
    "robot0_joint_pos": "observation.state.joint_pos",
    "robot0_joint_vel": "observation.state.joint_vel",
    "robot0_gripper_qpos": "observation.state.gripper",
}
IMAGE_SUFFIX = "_image"
DEPTH_SUFFIX = "_depth"
VALID_SUFFIX = "_depth_valid"
EXTRAS_GROUP = "teleforge"
DEMO_KEYS = {"actions", "obs", "next_obs", "rewards", "dones", "states", EXTRAS_GROUP}


def shift_next(v: np.ndarray) -> np.ndarray:
    """(T, ...) -> (T, ...) with row t = v[t + 1] and the last row repeated: robomimic's ``next_obs``."""
    return np.concatenate([v[1:], v[-1:]], axis=0) if len(v) else v


def wxyz_to_xyzw(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[:, 1:4], q[:, :1]], axis=1)


def xyzw_to_wxyz(q: np.ndarray) -> np.ndarray:
    return np.concatenate([q[:, 3:4], q[:, :3]], axis=1)


@dataclass
class RobomimicExport:
    path: Path
    demos: int
    samples: int
    backfilled_frames: int


def _valid_split(ids: list[int], fraction: float) -> set[int]:
    # Stable per episode id, independent of order and of the other ids selected.
    return {i for i in ids if (zlib.crc32(str(i).encode()) % 10_000) / 10_000 < fraction}


@dataclass(frozen=True)
class _DemoJob:
    """A few episodes for one engine job: the source (plain state), their ids, the image compression."""

    source: dict[str, Any]  # ExportSource.to_state() with an absolute root
    episode_ids: list[int]
    compression: str | None


@dataclass
class _Demo:
    """One episode ready to write: its metadata, native columns and each camera's image (and depth) chunks.

    ``images[key]`` (key ``<cam>_image`` or ``<cam>_depth``): (frame array shape, dtype name, one stored chunk
    per step, filter mask per chunk); with gzip a chunk is the frame deflated exactly as HDF5's filter would
    (mask 0) or, when that would not shrink it, raw (mask 1).
    """

    attrs: dict[str, Any]
    cols: dict[str, np.ndarray]
    images: dict[str, tuple[tuple[int, ...], str, list[bytes], list[int]]]
    backfilled: int
    valid: dict[str, np.ndarray]  # ``<cam>_depth_valid`` -> (T,) bool: False where the step had no depth frame


GZIP_LEVEL = 4  # h5py's default for compression="gzip"
EPISODES_PER_JOB = 4  # episodes one engine job reads, decodes and compresses
JOBS_IN_FLIGHT = 16  # jobs whose results (compressed frames) are held at once


def _prepare_job(job: _DemoJob) -> list[_Demo]:
    """Engine job: read, decode and compress a few episodes (the heavy part); nothing is written here."""
    src = ExportSource.from_state(job.source)
    ds = src.dataset  # a view: episodes come trimmed, so dones/num_samples follow the kept range
    out = []
    for ep_id in job.episode_ids:
        ep = ds.episode(ep_id)
        meta = ep.meta
        attrs = dict(num_samples=ep.num_steps, instruction=meta.instruction, task=meta.task, outcome=meta.outcome,
                     episode_id=ep_id, robot_embodiment=meta.robot_embodiment)
        images: dict[str, tuple[tuple[int, ...], str, list[bytes], list[int]]] = {}
        backfilled = 0
        for cam in ds.spec.camera_names:
            frames, miss = dense_frames(ep, cam)
            backfilled += miss
            images[cam + IMAGE_SUFFIX] = _chunked(frames, job.compression)
        valid: dict[str, np.ndarray] = {}
        for cam in (c.name for c in ds.spec.cameras if c.depth):
            depth, has_depth = dense_depth(ep, cam)  # a step without depth is zeros ("no reading"), not backfilled
            images[cam + DEPTH_SUFFIX] = _chunked(depth, job.compression)
            valid[cam + VALID_SUFFIX] = has_depth
        out.append(_Demo(attrs, native_arrays(ep), images, backfilled, valid))
    return out


def _chunked(frames: np.ndarray, compression: str | None) -> tuple[tuple[int, ...], str, list[bytes], list[int]]:
    """(T, ...) frames -> (shape, dtype name, one HDF5 chunk per step, filter mask per chunk), see ``_Demo``."""
    chunks, masks = [], []
    for fr in frames:
        raw = np.ascontiguousarray(fr).tobytes()  # HDF5 chunks are C order, native (little-endian) here
        packed = zlib.compress(raw, GZIP_LEVEL) if compression == "gzip" else raw
        ok = len(packed) < len(raw) or compression != "gzip"
        chunks.append(packed if ok else raw)
        masks.append(0 if ok else 1)  # bit 0 set: the deflate filter was skipped for this chunk
    return tuple(frames.shape), frames.dtype.str, chunks, masks


def _image_datasets(groups: tuple[Any, Any], name: str, shape: tuple[int, ...], dtype: str, chunks: list[bytes],
                    masks: list[int], compression: str | None) -> None:
    """``obs/<name>`` and ``next_obs/<name>`` (step t holds frame t + 1, the last repeats) from stored chunks.

    ``shape``: (T, H, W, 3) images or (T, H, W) depth; ``dtype``: numpy dtype string of the frames."""
    t = shape[0]
    origin = (0,) * (len(shape) - 1)
    for g, order in zip(groups, (range(t), [min(i + 1, t - 1) for i in range(t)])):
        d = g.create_dataset(name, shape=shape, dtype=np.dtype(dtype), chunks=(1, *shape[1:]) if t else None,
                             compression=compression if t else None)
        for i, src in enumerate(order):
            d.id.write_direct_chunk((i, *origin), chunks[src], masks[src])


def export_robomimic(src: ExportSource, out: Path | str, *, valid_fraction: float = 0.0, overwrite: bool = False,
                     compression: str | None = "gzip") -> RobomimicExport:
    """Write ``out`` (one .hdf5 file); written to a temp name and renamed, so a crash leaves no half file.

    The engine in force reads, decodes and deflates the episodes (a few per job); this process
    writes the file in selection order, storing the deflated frames as they came (every engine
    writes the same bytes)."""
    import h5py  # lazy: the HDF5 library loads only for HDF5 exports

    if compression not in (None, "gzip"):
        raise ExportError(f"robomimic export compression {compression!r}: use 'gzip' or none")
    out = Path(out)
    stage = stage_output(out, overwrite=overwrite, fmt="robomimic", is_dir=False)
    tmp = stage.staging
    ds = src.dataset
    spec = ds.spec
    total, backfilled, names = 0, 0, []
    state = src.to_state() | {"root": str(Path(ds.root).resolve())}
    jobs = [_DemoJob(state, part, compression) for part in batches(list(src.episode_ids), EPISODES_PER_JOB)]
    try:
        with h5py.File(tmp, "w") as f:
            data = f.create_group("data")
            demos = (d for res in map_in_order(_prepare_job, jobs, JOBS_IN_FLIGHT) for d in res)
            for k, demo in enumerate(demos):
                cols = demo.cols
                g = data.create_group(f"demo_{k}")
                names.append(f"demo_{k}")
                t = int(demo.attrs["num_samples"])
                g.attrs.update(**demo.attrs)
                g.create_dataset("actions", data=cols["action"])
                g.create_dataset("rewards", data=cols["reward"])
                dones = np.zeros(t, np.int64)
                if t:
                    dones[-1] = 1
                g.create_dataset("dones", data=dones)
                g.create_dataset("states", data=np.concatenate(
                    [cols["observation.state.joint_pos"], cols["observation.state.joint_vel"]], axis=1).astype(np.float64))
                obs = g.create_group("obs")
                # next_obs: what SequenceDataset loads by default (load_next_obs=True) and IQL/BCQ/CQL train on;
                # step t holds obs[t + 1], the last step repeats itself (robomimic's conversion scripts' convention).
                next_obs = g.create_group("next_obs")
                for key, col in OBS_KEYS.items():
                    v = cols[col]
                    if col.endswith("ee_quat"):
                        v = wxyz_to_xyzw(v)
                    obs.create_dataset(key, data=v.reshape(t, -1))
                    next_obs.create_dataset(key, data=shift_next(v.reshape(t, -1)))
                for name, (shape, dtype, chunks, masks) in demo.images.items():
                    _image_datasets((obs, next_obs), name, shape, dtype, chunks, masks, compression)
                for name, has_depth in demo.valid.items():
                    # (T, 1) like robomimic's other low-dim obs, so a config may list it as low_dim
                    obs.create_dataset(name, data=has_depth.reshape(t, 1))
                    next_obs.create_dataset(name, data=shift_next(has_depth.reshape(t, 1)))
                backfilled += demo.backfilled
                extra = g.create_group(EXTRAS_GROUP)
                for col in NATIVE_COLUMN_NAMES:
                    if col != "action" and col not in OBS_KEYS.values():
                        extra.create_dataset(col, data=cols[col])
                extra.create_dataset("tick_ns", data=cols["tick_ns"])
                total += t
            data.attrs["total"] = total
            data.attrs["env_args"] = json.dumps({
                "env_name": "+".join(sorted({e.task for e in ds.episodes if e.episode_id in set(src.episode_ids)})),
                # robomimic needs env_args only for rollouts; the teleforge sim is not a robomimic env.
                "type": 2,
                "env_kwargs": {"teleforge": {"spec": spec.to_dict(), "control_freq": spec.fps,
                                             "action": f"ee delta [{','.join(ACTION_NAMES)}]; gripper 0=open 1=closed",
                                             "quat_order": "xyzw"}},
            })
            if valid_fraction > 0:
                valid = _valid_split(src.episode_ids, valid_fraction)
                mask = f.create_group("mask")
                mask.create_dataset("train", data=np.array([n for n, i in zip(names, src.episode_ids) if i not in valid], dtype="S"))
                mask.create_dataset("valid", data=np.array([n for n, i in zip(names, src.episode_ids) if i in valid], dtype="S"))
        stage.publish()
    except BaseException:
        stage.abort()
        raise
    manifest = export_manifest(src, "robomimic", {"file": out.name, "conventions": {
        "robot0_eef_quat": "xyzw (robosuite order); native is wxyz", "actions": "native EE delta, gripper 0=open 1=closed"}})
    write_export_manifest(out.parent, manifest)
    return RobomimicExport(out, len(names), total, backfilled)


# --- import ------------------------------------------------------------------

def _instruction(g: Any, data: Any, override: str | None, where: str) -> str:
    if override:
        return override
    for attrs in (g.attrs, data.attrs):
        for key in ("instruction", "language_instruction", "lang"):
            if key in attrs and attr_text(attrs[key]).strip():
                return attr_text(attrs[key]).strip()
        if "problem_info" in attrs:  # LIBERO
            text = json.loads(attr_text(attrs["problem_info"])).get("language_instruction", "")
            if str(text).strip():
                return str(text).strip()
    raise ImportFormatError(f"{where} has no instruction attribute (instruction/lang/problem_info); pass --instruction TEXT")


def _demo_sort_key(name: str) -> tuple[int, str]:
    tail = name.rsplit("_", 1)[-1]
    return (int(tail), name) if tail.isdigit() else (1 << 30, name)


def import_robomimic(path: Path | str, dataset: Path | str, *, instruction: str | None = None, task: str | None = None,
                     robot_embodiment: str | None = None, fps: float | None = None, skip: list[str] | None = None,
                     skip_unknown: bool = False, quality: int = 95) -> ImportReport:
    """Append every demo of a robomimic file to the native dataset at ``dataset`` (created if new).

    Observation keys teleforge cannot map are refused by name unless listed in ``skip``
    (or ``skip_unknown``); images become JPEG at ``quality``.
    """
    path = Path(path)
    skip_set = set(skip or [])
    ids: list[int] = []
    skipped: set[str] = set()
    filled: set[str] = set()
    steps = 0
    with open_h5(path) as f:
        try:
            if "data" not in f:
                raise ImportFormatError(f"{path} has no 'data' group; it is not a robomimic file (top-level keys: {', '.join(f)})")
            data = f["data"]
            env_args = json.loads(attr_text(data.attrs.get("env_args", "{}")))
            tf_info = (env_args.get("env_kwargs") or {}).get("teleforge") or {}
            if not isinstance(tf_info, dict) or not isinstance(tf_info.get("spec") or {}, dict):
                raise ValueError("env_kwargs.teleforge is not an object")
            demos = sorted(data.keys(), key=_demo_sort_key)
        except (KeyError, OSError, RuntimeError, ValueError, TypeError, AttributeError) as exc:
            raise ImportFormatError(f"{path}: the data group or its env_args attribute is unreadable ({exc!r}); "
                                    "re-copy or re-export the file") from exc
        if not demos:
            raise ImportFormatError(f"{path} has no demos under data/")
        spec: DatasetSpec | None = None
        for name in demos:
            where = f"{path}:data/{name}"
            try:
                g = data[name]
                try:
                    keys = set(g.keys())
                    obs_keys = list(g["obs"].keys()) if "obs" in g else []
                except (OSError, KeyError, RuntimeError) as exc:
                    raise ImportFormatError(f"{where}: cannot read the demo ({exc}); the file is corrupt") from exc
                if "actions" not in keys:
                    raise ImportFormatError(f"{where} has no 'actions' dataset (keys: {', '.join(sorted(keys))})")
                unknown_top = sorted(keys - DEMO_KEYS - skip_set)
                images = [k for k in obs_keys if k.endswith(IMAGE_SUFFIX) and k not in skip_set]
                depths = [k for k in obs_keys if k.endswith(DEPTH_SUFFIX) and k not in skip_set
                          and k[: -len(DEPTH_SUFFIX)] + IMAGE_SUFFIX in images]
                valids = [k for k in obs_keys if k.endswith(VALID_SUFFIX) and k[: -len("_valid")] in depths]
                unknown_obs = sorted(k for k in obs_keys if k not in OBS_KEYS and k not in images and k not in depths
                                     and k not in valids and k not in skip_set)
                if (unknown_obs or unknown_top) and not skip_unknown:
                    raise ImportFormatError(
                        f"{where}: teleforge cannot map {', '.join(unknown_obs + unknown_top)} "
                        f"(it maps obs {', '.join(OBS_KEYS)} and *{IMAGE_SUFFIX}); pass --skip "
                        f"{','.join(unknown_obs + unknown_top)} (or --skip-unknown) to import without them"
                    )
                skipped.update(unknown_obs + unknown_top + [k for k in skip_set if k in obs_keys or k in keys])
                actions = read_array(g["actions"], f"{where}/actions").astype(np.float32)
                t = len(actions)
                if actions.ndim != 2 or actions.shape[1] != ACTION_DIM:
                    raise ImportFormatError(
                        f"{where}/actions has shape {actions.shape}; the native action is {ACTION_DIM}-D EE delta + gripper. "
                        "Convert the action space before importing (teleforge does not guess it)"
                    )
                cols: dict[str, np.ndarray] = {"action": actions}
                for key, col in OBS_KEYS.items():
                    if key in obs_keys and key not in skip_set:
                        v = read_array(g["obs"][key], f"{where}/obs/{key}").astype(np.float32)
                        if col.endswith("ee_quat"):
                            v = xyzw_to_wxyz(v)
                        if col == "observation.state.gripper":
                            v = v.reshape(t, -1)[:, 0] if v.ndim > 1 else v
                        cols[col] = v
                if "rewards" in keys:
                    cols["reward"] = read_array(g["rewards"], f"{where}/rewards").astype(np.float32).reshape(-1)
                tick_ns = None
                if EXTRAS_GROUP in keys:
                    for col in g[EXTRAS_GROUP].keys():
                        arr = read_array(g[EXTRAS_GROUP][col], f"{where}/{EXTRAS_GROUP}/{col}")
                        if col == "tick_ns":
                            tick_ns = arr.astype(np.int64)
                        elif col in NATIVE_COLUMN_NAMES:
                            cols[col] = arr
                frames = {k[: -len(IMAGE_SUFFIX)]: read_array(g["obs"][k], f"{where}/obs/{k}") for k in images}
                for cam, fr in frames.items():
                    if fr.dtype != np.uint8 or fr.ndim != 4 or fr.shape[-1] != 3:
                        raise ImportFormatError(f"{where}/obs/{cam}{IMAGE_SUFFIX}: expected (T,H,W,3) uint8, got {fr.dtype} {fr.shape}")
                depth = {k[: -len(DEPTH_SUFFIX)]: read_array(g["obs"][k], f"{where}/obs/{k}") for k in depths}
                for cam, d in depth.items():
                    if d.dtype != np.uint16 or d.ndim != 3:
                        raise ImportFormatError(f"{where}/obs/{cam}{DEPTH_SUFFIX}: expected (T,H,W) uint16 mm, got {d.dtype} {d.shape}")
                # Without the flag (older exports, other writers) every depth frame counts as a reading.
                depth_valid = {k[: -len(VALID_SUFFIX)]: read_array(g["obs"][k], f"{where}/obs/{k}").reshape(-1).astype(bool)
                               for k in valids}
                for cam, v in depth_valid.items():
                    if len(v) != len(depth[cam]):
                        raise ImportFormatError(f"{where}/obs/{cam}{VALID_SUFFIX}: {len(v)} flags for {len(depth[cam])} depth frames")
                if spec is None:
                    n = cols["observation.state.joint_pos"].shape[1] if "observation.state.joint_pos" in cols else DEFAULT_N_JOINTS
                    spec = DatasetSpec(
                        fps=check_fps(fps or tf_info.get("control_freq") or (tf_info.get("spec") or {}).get("fps") or 20.0,
                                      f"{path}: data.attrs['env_args']"),
                        robot_embodiment=robot_embodiment or attr_text(g.attrs.get("robot_embodiment", "")) or
                        (tf_info.get("spec") or {}).get("robot_embodiment") or f"robomimic:{env_args.get('env_name', 'unknown')}",
                        n_joints=check_joints(int(n), where),
                        cameras=[CameraConfig(cam, fr.shape[1], fr.shape[2], "jpeg", quality, depth=cam in depth)
                                 for cam, fr in frames.items()],
                    )
                    open_or_create(dataset, spec)
                outcome = attr_text(g.attrs.get("outcome", "unknown"))
                start = EpisodeStart(
                    task=task or attr_text(g.attrs.get("task", "")) or str(env_args.get("env_name") or "robomimic"),
                    instruction=_instruction(g, data, instruction, where),
                    robot_embodiment=spec.robot_embodiment, seed=None, device="import:robomimic",
                    operator_id="", session_id=f"import:{path.name}", fps=spec.fps,
                    extras={"source": str(path), "demo": name},
                )
                ep = ImportedEpisode(start, cols, frames, outcome if outcome in ("success", "failure") else "unknown",
                                     tick_ns=tick_ns, depth=depth, depth_valid=depth_valid)
                filled.update(c for c in NATIVE_COLUMN_NAMES if c not in cols)
                ids.append(write_native_episode(Path(dataset), spec, ep))
                steps += t
            except (KeyError, OSError, RuntimeError, ValueError, TypeError, IndexError, AttributeError) as exc:
                raise ImportFormatError(f"{where}: cannot read the demo ({exc!r}); the file is corrupt or not in "
                                        "robomimic layout — re-copy or re-export it") from exc
    return ImportReport(Path(dataset), ids, steps, sorted(skipped), sorted(filled))
