"""LeRobot v3 import: a LeRobot dataset folder (parquet + mp4) into a native teleforge dataset.

Features map onto native columns: ``action`` (must be the 7-D EE delta + gripper),
``observation.state`` (EE ``[x, y, z, qw, qx, qy, qz, gripper]``, ``[joint_*..., gripper]``,
or anything else as joint positions), ``observation.images.<cam>`` (video or image) as
cameras, ``next.reward`` / ``next.success``, and the ``teleforge.*`` columns our exporter
writes, and a camera's depth ``observation.depth.<cam>`` (uint16 (H, W) mm) with its validity flag
``observation.depth_valid.<cam>`` (a False step comes back missing). Any other feature is refused by name unless skipped. Videos are decoded with PyAV,
front to back, one file at a time.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from teleforge.convert.lerobot.layout import (
    ACTION_NAMES,
    DEPTH_VALID_PREFIX,
    EE_STATE_NAMES,
    EXTRA_COLUMNS,
    EXTRA_PREFIX,
    INDEX_FEATURES,
)
from teleforge.convert.lerobot.video import VideoFileReader
from teleforge.convert.native import (
    DEFAULT_N_JOINTS,
    ImportedEpisode,
    ImportReport,
    check_fps,
    write_native_episode,
)
from teleforge.dataset.records import EpisodeStart
from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.dataset.store import open_or_create
from teleforge.errors import ImportFormatError
from teleforge.spec import ACTION_DIM, BOOL_COLUMNS, NATIVE_COLUMN_NAMES

CAMERA_PREFIX = "observation.images."
DEPTH_PREFIX = "observation.depth."


def read_info(root: Path) -> dict[str, Any]:
    """meta/info.json of a LeRobot v3 folder; older layouts are refused with the conversion command."""
    path = root / "meta" / "info.json"
    if not path.is_file():
        raise ImportFormatError(f"{root} has no meta/info.json; it is not a LeRobot dataset folder")
    try:
        info = json.loads(path.read_text())
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ImportFormatError(f"{path} is not valid JSON ({exc}); re-download the dataset") from exc
    if not isinstance(info, dict):
        raise ImportFormatError(f"{path} holds a JSON {type(info).__name__}, not an object; re-download the dataset")
    version = str(info.get("codebase_version", ""))
    if not version.startswith("v3"):
        raise ImportFormatError(
            f"{root} is LeRobot {version or 'of unknown version'}; teleforge reads v3.x. Convert it first with "
            "`python -m lerobot.datasets.v30.convert_dataset_v21_to_v30 --repo-id=...`"
        )
    for key in ("fps", "features", "data_path"):
        if key not in info:
            raise ImportFormatError(f"{path} has no {key!r}; the dataset was not finalized or is damaged")
    info["fps"] = check_fps(info["fps"], f"{path}")
    feats = info["features"]
    if not isinstance(feats, dict) or not all(isinstance(v, dict) for v in feats.values()):
        raise ImportFormatError(f"{path}: 'features' must map feature names to objects; re-download the dataset")
    for name, ft in feats.items():
        shape = ft.get("shape", [])
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= 1 << 16
                                                  for d in shape):
            raise ImportFormatError(f"{path}: feature {name!r} has shape {str(shape)[:60]}; expected a list of sizes")
    has_video = any(ft.get("dtype") == "video" for ft in feats.values())
    for key in ("data_path", "video_path"):
        if key == "video_path" and info.get(key) is None and not has_video:
            continue  # LeRobot writes null when every camera is stored as images
        if key in info and not (isinstance(info[key], str) and _TEMPLATE_OK.fullmatch(info[key])):
            raise ImportFormatError(f"{path}: {key} {str(info[key])[:80]!r} is not a relative path template "
                                    "(only {chunk_index}, {file_index}, {video_key} fields, no '..')")
    return info


# Path templates may use only these fields; no attribute access, no absolute paths, no '..'.
_TEMPLATE_OK = re.compile(r"(?!/)(?!.*(?:^|/)\.\.(?:/|$))(?:[^{}]|\{(?:chunk_index|file_index|video_key|episode_chunk|episode_index)"
                          r"(?::0?\d*d)?\})+")


def _source_path(root: Path, template: str, where: str, **fields: Any) -> Path:
    """``root / template.format(**fields)``, refused unless it stays inside ``root``."""
    try:
        rel = template.format(**fields)
    except (KeyError, ValueError, IndexError, TypeError) as exc:
        raise ImportFormatError(f"{where}: path template {template!r} does not format ({exc!r})") from exc
    path = root / rel
    if ".." in Path(rel).parts or Path(rel).is_absolute() or not path.resolve().is_relative_to(root.resolve()):
        raise ImportFormatError(f"{where}: {rel!r} points outside {root}; teleforge reads only files inside the dataset folder")
    return path


def read_tasks(root: Path) -> dict[int, str]:
    """task_index -> task text (lerobot keeps the text as the pandas index)."""
    path = root / "meta" / "tasks.parquet"
    if not path.is_file():
        raise ImportFormatError(f"{root} has no meta/tasks.parquet; the dataset was not finalized")
    try:
        table = pq.ParquetFile(path).read()  # not read_table: see dataset/catalog.read_catalog
    except (OSError, pa.ArrowException) as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc}); re-download or re-export the dataset") from exc
    names = [c for c in table.column_names if c != "task_index"]
    if "task_index" not in table.column_names or not names:
        raise ImportFormatError(f"{path} has columns {table.column_names}; expected task_index and the task text")
    col = "task" if "task" in names else names[0]
    try:
        tasks = dict(zip(table.column("task_index").to_pylist(), table.column(col).to_pylist()))
    except (pa.ArrowException, UnicodeDecodeError) as exc:
        raise ImportFormatError(f"{path}: cannot read ({exc}); re-download or re-export the dataset") from exc
    if not all(isinstance(k, int) and isinstance(v, str) for k, v in tasks.items()):
        raise ImportFormatError(f"{path}: task_index must be integers and {col!r} text; re-download the dataset")
    return tasks


def read_episodes(root: Path) -> list[dict[str, Any]]:
    """The per-episode rows of meta/episodes (stats columns left out), in episode order."""
    files = sorted((root / "meta" / "episodes").glob("*/*.parquet"))
    if not files:
        raise ImportFormatError(f"{root} has no meta/episodes/*/*.parquet; the dataset was not finalized (call finalize())")
    rows: list[dict[str, Any]] = []
    for f in files:
        try:
            cols = [c for c in pq.read_schema(f).names if not c.startswith("stats/")]
            rows += [dict(r, _meta_file=str(f)) for r in pq.ParquetFile(f).read(columns=cols).to_pylist()]
        except (OSError, pa.ArrowException, UnicodeDecodeError) as exc:
            raise ImportFormatError(f"{f}: cannot read ({exc}); re-download or re-export the dataset") from exc
    need = ("episode_index", "data/chunk_index", "data/file_index")
    for r in rows:
        if any(not isinstance(r.get(k), int) or isinstance(r.get(k), bool) or r[k] < 0 for k in need):
            raise ImportFormatError(f"{r['_meta_file']}: a row lacks integer {', '.join(need)} "
                                    f"({ {k: r.get(k) for k in need} }); re-download or re-export the dataset")
    return sorted(rows, key=lambda r: r["episode_index"])


def _state_mapping(ft: dict[str, Any]) -> str:
    names = ft.get("names")
    if isinstance(names, dict):  # older lerobot: {"motors": [...]}
        names = next(iter(names.values()), None)
    if names == EE_STATE_NAMES:
        return "ee"
    if isinstance(names, list) and names and names[-1] == "gripper" and all(str(n).startswith("joint_") for n in names[:-1]):
        return "joints"
    return "raw"


def _image_hw(key: str, ft: dict[str, Any]) -> tuple[int, int]:
    shape = list(ft["shape"])
    names = ft.get("names") or []
    if len(shape) != 3 or 3 not in (shape[0], shape[2]):
        raise ImportFormatError(f"feature {key} has shape {shape}; teleforge imports (H, W, 3) color cameras — pass --skip {key}")
    h, w = (int(shape[1]), int(shape[2])) if names and names[0] in ("channel", "channels") else (int(shape[0]), int(shape[1]))
    if not (1 <= h <= 16_384 and 1 <= w <= 16_384):
        raise ImportFormatError(f"feature {key} declares {h}x{w} frames; the metadata is damaged — re-download the dataset")
    return h, w


def _decode_struct_image(value: Any, key: str) -> np.ndarray:
    data = value.get("bytes") if isinstance(value, dict) else value
    if not data:
        raise ImportFormatError(f"{key}: an image cell holds no bytes (path-only images are not supported); re-save with embedded images")
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ImportFormatError(f"{key}: an image cell is not a decodable PNG/JPEG")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def _depth_plan(feats: dict[str, dict[str, Any]], cams: dict[str, dict[str, Any]], skip: set[str]) -> dict[str, str]:
    """camera -> depth feature, for each uint16 (H, W) ``observation.depth.<cam>`` of an imported camera."""
    out: dict[str, str] = {}
    for key, ft in feats.items():
        cam = key[len(DEPTH_PREFIX):]
        if (key.startswith(DEPTH_PREFIX) and key not in skip and CAMERA_PREFIX + cam in cams
                and ft.get("dtype") == "uint16" and list(ft.get("shape", [])) == list(_image_hw(CAMERA_PREFIX + cam, cams[CAMERA_PREFIX + cam]))):
            out[cam] = key
    return out


def _plan(root: Path, info: dict[str, Any], skip: set[str], skip_unknown: bool) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The camera features to import and the features left out; unknown features are refused by name."""
    feats: dict[str, dict[str, Any]] = info["features"]
    if "action" not in feats:
        raise ImportFormatError(f"{root}: no 'action' feature (features: {', '.join(feats)})")
    ashape = list(feats["action"].get("shape", []))
    if ashape != [ACTION_DIM]:
        raise ImportFormatError(
            f"{root}: action has shape {ashape}; the native action is {ACTION_DIM}-D EE delta + gripper "
            f"(names {ACTION_NAMES}). Convert the action space before importing (teleforge does not guess it)"
        )
    cams = {k: ft for k, ft in feats.items() if ft.get("dtype") in ("video", "image") and k not in skip}
    for key in cams:
        name = key[len(CAMERA_PREFIX):]
        if not key.startswith(CAMERA_PREFIX) or not re.fullmatch(r"[A-Za-z0-9_-]+", name):
            raise ImportFormatError(f"{root}: camera feature {key!r} cannot become a native camera name; pass --skip {key}")
    known = {"action", "observation.state", "next.reward", "next.done", "next.success", *INDEX_FEATURES, *cams}
    known |= {EXTRA_PREFIX + c for c in EXTRA_COLUMNS}
    depth = _depth_plan(feats, cams, skip)
    known |= set(depth.values()) | {DEPTH_VALID_PREFIX + c for c in depth if DEPTH_VALID_PREFIX + c not in skip}
    unknown = sorted(k for k in feats if k not in known and k not in skip)
    if unknown and not skip_unknown:
        raise ImportFormatError(
            f"{root}: teleforge cannot map the features {', '.join(unknown)} (it maps action, observation.state, "
            f"observation.images.*, observation.depth.*, next.reward/done/success and {EXTRA_PREFIX}*); pass --skip {','.join(unknown)} "
            "or --skip-unknown to import without them"
        )
    return cams, sorted(set(unknown) | {k for k in skip if k in feats})


def import_lerobot(
    root: Path | str,
    dataset: Path | str,
    *,
    task: str | None = None,
    instruction: str | None = None,
    robot_embodiment: str | None = None,
    skip: list[str] | None = None,
    skip_unknown: bool = False,
    episodes: list[int] | None = None,
) -> ImportReport:
    """Append the episodes of the LeRobot v3 folder ``root`` to the native dataset ``dataset`` (created if new).

    LeRobot tasks become instructions. Features teleforge cannot map are refused by name
    unless listed in ``skip`` (or ``skip_unknown``).
    """
    root = Path(root)
    info = read_info(root)
    feats: dict[str, dict[str, Any]] = info["features"]
    fps = float(info["fps"])
    skip_set = set(skip or [])
    cams, skipped = _plan(root, info, skip_set, skip_unknown)
    state_map = None
    if "observation.state" in feats and "observation.state" not in skip_set:
        state_map = _state_mapping(feats["observation.state"])
    jp_key = EXTRA_PREFIX + "observation.state.joint_pos"
    try:
        if jp_key in feats:
            n_joints = int(feats[jp_key]["shape"][0])
        elif state_map == "joints":
            n_joints = int(feats["observation.state"]["shape"][0]) - 1
        elif state_map == "raw":
            n_joints = int(feats["observation.state"]["shape"][0])
        else:
            n_joints = DEFAULT_N_JOINTS
    except (KeyError, IndexError) as exc:
        raise ImportFormatError(f"{root}/meta/info.json: the state feature has no shape ({exc!r}); re-download the dataset") from exc
    if not 1 <= n_joints <= 64:
        raise ImportFormatError(f"{root}/meta/info.json: the state gives {n_joints} joints; expected 1..64")
    depth_feats = _depth_plan(feats, cams, skip_set)
    cameras = [CameraConfig(name=key[len(CAMERA_PREFIX):], height=h, width=w, depth=key[len(CAMERA_PREFIX):] in depth_feats)
               for key, (h, w) in ((k, _image_hw(k, ft)) for k, ft in cams.items())]
    robot = robot_embodiment or info.get("robot_type") or "unknown"
    if not isinstance(robot, str):
        raise ImportFormatError(f"{root}/meta/info.json: robot_type {robot!r} is not text; pass --robot")
    spec = DatasetSpec(fps=fps, robot_embodiment=robot,
                       n_joints=n_joints, cameras=cameras)
    open_or_create(dataset, spec)
    tasks = read_tasks(root)
    rows = read_episodes(root)
    if episodes is not None:
        have = {int(r["episode_index"]) for r in rows}
        missing = sorted(set(episodes) - have)
        if missing:
            raise ImportFormatError(f"{root} has no episodes {missing[:10]} (it has {len(have)})")
        rows = [r for r in rows if r["episode_index"] in set(episodes)]
    data_cols = [k for k, ft in feats.items() if ft.get("dtype") != "video" and k not in skipped]
    readers: dict[str, VideoFileReader] = {}
    cur: tuple[Path | None, pa.Table | None] = (None, None)
    ids: list[int] = []
    filled: set[str] = set()
    steps = 0
    try:
        for r in rows:
            e = int(r["episode_index"])
            files = r["_meta_file"]
            try:
                dpath = _source_path(root, info["data_path"], f"{root}/meta/info.json data_path",
                                     chunk_index=r["data/chunk_index"], file_index=r["data/file_index"])
                files = f"{r['_meta_file']} and {dpath}"
                if cur[0] != dpath:
                    try:
                        cur = (dpath, pq.ParquetFile(dpath).read(columns=data_cols))
                    except (OSError, pa.ArrowException) as exc:
                        raise ImportFormatError(f"{dpath}: cannot read ({exc}); re-download or re-export it") from exc
                table = cur[1]
                assert table is not None
                rows_e = table.filter(pc.equal(table.column("episode_index"), e))
                t = rows_e.num_rows
                if t == 0 or t != int(r.get("length", t)):
                    raise ImportFormatError(f"{dpath}: episode {e} has {t} rows, meta/episodes says {r.get('length')}; "
                                            "the data file and the metadata disagree — re-download or re-export it")
                order = np.argsort(np.asarray(rows_e.column("frame_index").to_numpy()), kind="stable")
                rows_e = rows_e.take(pa.array(order))

                def col(name: str, rows_e: pa.Table = rows_e, t: int = t) -> np.ndarray:
                    c = rows_e.column(name).combine_chunks()
                    if pa.types.is_fixed_size_list(c.type) or pa.types.is_list(c.type):
                        return np.asarray(c.flatten().to_numpy(zero_copy_only=False)).reshape(t, -1)
                    return np.asarray(c.to_numpy(zero_copy_only=False))

                cols: dict[str, np.ndarray] = {"action": col("action").astype(np.float32)}
                if state_map is not None:
                    st = col("observation.state").astype(np.float32)
                    if state_map == "ee":
                        cols["observation.state.ee_pos"], cols["observation.state.ee_quat"] = st[:, :3], st[:, 3:7]
                        cols["observation.state.gripper"] = st[:, 7]
                    elif state_map == "joints":
                        cols["observation.state.joint_pos"], cols["observation.state.gripper"] = st[:, :-1], st[:, -1]
                    else:
                        cols["observation.state.joint_pos"] = st
                if "next.reward" in data_cols:
                    cols["reward"] = col("next.reward").astype(np.float32).reshape(t)
                if "next.success" in data_cols:
                    cols["success"] = col("next.success").astype(bool).reshape(t)
                ticks = None
                for c in EXTRA_COLUMNS:
                    key = EXTRA_PREFIX + c
                    if key not in data_cols:
                        continue
                    v = col(key)
                    if c == "tick_ns":
                        ticks = v.astype(np.int64).reshape(t)
                    elif c in BOOL_COLUMNS:
                        cols[c] = v.astype(bool).reshape(t)
                    elif v.ndim == 2 and v.shape[1] > 1:
                        cols[c] = v.astype(np.float32)
                    else:
                        cols[c] = v.astype(np.float32).reshape(t)
                images: dict[str, np.ndarray] = {}
                for key, ft in cams.items():
                    cam = key[len(CAMERA_PREFIX):]
                    if ft["dtype"] == "video":
                        vpath = _source_path(root, str(info.get("video_path", "")), f"{root}/meta/info.json video_path",
                                             video_key=key, chunk_index=r[f"videos/{key}/chunk_index"],
                                             file_index=r[f"videos/{key}/file_index"])
                        if key not in readers or readers[key].path != vpath:
                            if key in readers:
                                readers[key].close()
                            readers[key] = VideoFileReader(vpath)
                        images[cam] = readers[key].window(float(r[f"videos/{key}/from_timestamp"]), t, fps)
                    else:
                        images[cam] = np.stack([_decode_struct_image(v, key) for v in rows_e.column(key).to_pylist()])
                    h, w = images[cam].shape[1:3]
                    want = next(c for c in cameras if c.name == cam)
                    if (h, w) != (want.height, want.width):
                        raise ImportFormatError(f"{key}: frames are {h}x{w}, meta/info.json says {want.height}x{want.width}")
                depth: dict[str, np.ndarray] = {}
                depth_valid: dict[str, np.ndarray] = {}
                for cam, key in depth_feats.items():
                    dcam = next(c for c in cameras if c.name == cam)
                    flat = rows_e.column(key).combine_chunks().flatten().flatten()  # Array2D: rows of H lists of W
                    depth[cam] = (np.asarray(flat.to_numpy(zero_copy_only=False)).astype(np.uint16)
                                  .reshape(t, dcam.height, dcam.width))
                    # Without the flag (older exports, other writers) every depth frame counts as a reading.
                    if DEPTH_VALID_PREFIX + cam in data_cols:
                        depth_valid[cam] = col(DEPTH_VALID_PREFIX + cam).astype(bool).reshape(t)
                text = tasks.get(int(col("task_index")[0]), "")
                text = instruction or (r.get("tasks") or [text])[0] or text
                if not str(text).strip():
                    raise ImportFormatError(f"{root}: episode {e} has no task text; pass --instruction")
                native_task = task or r.get("teleforge/task") or re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:64]
                outcome = r.get("teleforge/outcome") or ("success" if "success" in cols and cols["success"].any() else "unknown")
                if outcome not in ("success", "failure", "unknown"):
                    raise ImportFormatError(f"{r['_meta_file']}: episode {e} has outcome {outcome!r}, not success, "
                                            "failure or unknown; re-export the dataset")
                extras: dict[str, Any] = {"source": str(root), "lerobot_episode_index": e}
                if r.get("teleforge/episode_id") is not None:
                    extras["teleforge_episode_id"] = r["teleforge/episode_id"]
                start = EpisodeStart(task=native_task, instruction=str(text), robot_embodiment=spec.robot_embodiment, seed=None,
                                     device="import", operator_id="", session_id=f"lerobot:{root.name}", fps=fps, extras=extras)
                imported = ImportedEpisode(start=start, columns=cols, images=images, outcome=outcome, tick_ns=ticks,
                                           depth=depth, depth_valid=depth_valid)
                filled |= {c for c in NATIVE_COLUMN_NAMES if c not in cols}
                ids.append(write_native_episode(Path(dataset), spec, imported))
                steps += t
            except (KeyError, ValueError, TypeError, IndexError, AttributeError, pa.ArrowException) as exc:
                raise ImportFormatError(f"{files}: episode {e} does not match its metadata ({exc!r}); "
                                        "re-download or re-export the dataset") from exc
    finally:
        for rd in readers.values():
            rd.close()
    return ImportReport(Path(dataset), ids, steps, skipped, sorted(filled))
