"""RLDS (TFDS folder of Example-per-episode TFRecords) -> native dataset, without TensorFlow.

One file because both kinds of source map to native episodes through the same feature table.

Reads ``features.json`` + ``dataset_info.json`` + shards with the TF-free reader
(:class:`teleforge.convert.rlds.reader.RldsReader`). Two kinds of source:

- a teleforge export (``teleforge_rlds.json`` beside it): every column comes back exactly
  (the OXE fields plus ``steps/native/*``), cameras get their original names, JPEG bytes
  are stored as they are — native -> RLDS -> native is exact except that steps recorded
  before a camera's first frame carry that first frame (RLDS needs a frame on every step);
- any other RLDS dataset (written by TFDS or others): image features become cameras
  (bytes kept: JPEG stays JPEG, PNG stays PNG), ``action`` must be 7-D EE delta + gripper
  (or mapped), float observation keys are mapped by well-known names or by ``mapping``
  (``observation/state[0:3]=observation.state.ee_pos``), ``language_instruction`` comes
  from the steps or the episode metadata. Anything else is refused by name unless skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from teleforge.convert.native import (
    DEFAULT_N_JOINTS,
    ImportReport,
    check_columns,
    check_fps,
    default_ticks,
    fill_missing,
    step_record,
)
from teleforge.convert.rlds.config import SIDECAR
from teleforge.convert.rlds.features import NATIVE_PREFIX, FeatureSpec, native_key
from teleforge.convert.rlds.reader import RldsReader
from teleforge.dataset.records import EpisodeEnd, EpisodeStart
from teleforge.dataset.schema import CameraConfig, DatasetSpec, depth_column
from teleforge.dataset.store import open_or_create
from teleforge.dataset.writer import EpisodeWriter
from teleforge.errors import ExportError, ImportFormatError
from teleforge.spec import (
    ACTION_DIM,
    BOOL_COLUMNS,
    NATIVE_COLUMN_NAMES,
    SCALAR_COLUMNS,
    column_sizes,
)

# Step features RLDS defines that carry no native column (or that we derive ourselves).
_RLDS_BOOKKEEPING = {"is_first", "is_last", "is_terminal", "discount"}
_INSTRUCTION_KEYS = ("language_instruction", "instruction", "natural_language_instruction", "language")
# Well-known foreign observation names -> native column (used when no mapping says otherwise).
_KNOWN_OBS = {
    "joint_state": "observation.state.joint_pos", "joint_pos": "observation.state.joint_pos",
    "joint_positions": "observation.state.joint_pos", "joint_states": "observation.state.joint_pos",
    "joint_vel": "observation.state.joint_vel",
    "joint_velocities": "observation.state.joint_vel", "ee_pos": "observation.state.ee_pos",
    "eef_pos": "observation.state.ee_pos", "ee_quat": "observation.state.ee_quat",
    "gripper": "observation.state.gripper", "gripper_state": "observation.state.gripper",
}
_MAP_RE = re.compile(r"^\s*(?P<key>[^\[=\s]+)\s*(?:\[(?P<a>\d*):(?P<b>\d*)\])?\s*=\s*(?P<col>[\w.]+)\s*$")


@dataclass(frozen=True)
class FieldMap:
    """One step feature (or a slice of its last axis) -> one native column."""

    key: str  # step feature name, e.g. observation/state
    column: str
    start: int | None = None
    stop: int | None = None

    @classmethod
    def parse(cls, text: str) -> FieldMap:
        m = _MAP_RE.match(text)
        if not m:
            raise ImportFormatError(f"bad --map {text!r}: write KEY=COLUMN or KEY[a:b]=COLUMN, e.g. observation/state[0:3]=observation.state.ee_pos")
        col = m["col"]
        if col not in NATIVE_COLUMN_NAMES:
            raise ImportFormatError(f"--map {text!r}: {col!r} is not a native column; use one of {', '.join(NATIVE_COLUMN_NAMES)}")
        a = int(m["a"]) if m["a"] else None
        b = int(m["b"]) if m["b"] else None
        return cls(m["key"].removeprefix("steps/"), col, a, b)

    def take(self, arr: np.ndarray) -> np.ndarray:
        return arr[..., self.start:self.stop] if (self.start is not None or self.stop is not None) else arr



def find_rlds_folder(path: Path | str) -> Path:
    """``<name>/<version>`` (holds features.json), or ``<name>`` with one or more version folders (newest)."""
    p = Path(path)
    if (p / "features.json").is_file():
        return p
    versions = [d for d in p.iterdir() if d.is_dir() and (d / "features.json").is_file()] if p.is_dir() else []
    if not versions:
        raise ImportFormatError(f"{p} is not an RLDS dataset: no features.json in it or in a version folder below it")

    def key(d: Path) -> tuple[int, ...]:
        return tuple(int(x) if x.isdigit() else -1 for x in d.name.split("."))

    return max(versions, key=key)


class _Plan:
    """How each step feature of a source lands in the native dataset."""

    def __init__(self, reader: RldsReader, mapping: list[FieldMap], skip: set[str], skip_unknown: bool,
                 sidecar: dict[str, Any] | None) -> None:
        self.reader = reader
        self.sidecar = sidecar
        feats = reader.step_features
        self.cameras: dict[str, str] = {}  # step key -> camera name
        self.depths: dict[str, str] = {}  # step key of a uint16 PNG image (depth, mm) -> camera name
        self.maps: list[FieldMap] = []
        self.skipped: list[str] = []
        unknown: list[str] = []
        unsupported: list[str] = []
        mapped_keys = {m.key for m in mapping}
        for m in mapping:
            if m.key not in feats:
                raise ImportFormatError(f"--map names {m.key!r}, which {reader.path} does not have; step features: {', '.join(feats)}")
        self.maps.extend(mapping)
        cam_names = {v: k for k, v in (sidecar or {}).get("cameras", {}).items()}
        for key, spec in feats.items():
            if key in skip or f"steps/{key}" in skip:
                self.skipped.append(key)
                continue
            if spec.kind == "unsupported":
                unsupported.append(f"{key} ({spec.doc})")
                continue
            if key in mapped_keys or key in _RLDS_BOOKKEEPING:
                continue
            if spec.kind == "image" and spec.dtype == "uint16" and key.endswith("_depth"):
                self.depths[key] = key.rsplit("/", 1)[-1].removesuffix("_depth")  # checked against the cameras below
                continue
            if spec.kind == "image":
                leaf = key.rsplit("/", 1)[-1]
                name = cam_names.get(leaf) or (key.removeprefix("observation/").replace("/", "_"))
                if not re.match(r"^[A-Za-z0-9_-]+$", name):
                    raise ImportFormatError(f"image feature {key!r} gives camera name {name!r}; rename it with --skip and re-export")
                self.cameras[key] = name
                continue
            if spec.kind == "text" or spec.dtype == "string":
                if key in _INSTRUCTION_KEYS:
                    continue
                unknown.append(key)
                continue
            target = self._default_target(key, spec)
            if target is None:
                unknown.append(key)
            else:
                self.maps.extend(target)
        cams = set(self.cameras.values())
        for key, name in list(self.depths.items()):
            if name not in cams:  # depth of no recorded camera: nothing to attach it to
                del self.depths[key]
                unknown.append(key)
        if unsupported and not skip_unknown:
            raise ImportFormatError(
                f"{reader.path}: features {', '.join(unsupported)} cannot be read without TensorFlow; "
                f"pass --skip {','.join(u.split(' ')[0] for u in unsupported)} to import without them"
            )
        if unknown and not skip_unknown:
            described = ", ".join(f"{k} ({self._describe(feats[k])})" for k in unknown)
            raise ImportFormatError(
                f"{reader.path}: teleforge cannot map step features {described}. Map them with --map KEY=COLUMN "
                f"or KEY[a:b]=COLUMN (native columns: {', '.join(NATIVE_COLUMN_NAMES)}), or pass --skip "
                f"{','.join(unknown)} (or --skip-unknown) to import without them"
            )
        self.skipped += unknown + [u.split(" ")[0] for u in unsupported]
        if not any(m.column == "action" for m in self.maps) and "action" not in skip:
            raise ImportFormatError(f"{reader.path} has no 'action' step feature teleforge can use; map one with --map KEY=action")

    @staticmethod
    def _describe(spec: FeatureSpec) -> str:
        return f"{spec.kind} {spec.dtype}{list(spec.shape)}"

    def _default_target(self, key: str, spec: FeatureSpec) -> list[FieldMap] | None:
        sc = self.sidecar
        if sc is not None:  # a teleforge export: its own layout, known exactly
            if key.startswith(NATIVE_PREFIX):
                by_key = {native_key(c): c for c in (*NATIVE_COLUMN_NAMES, "tick_ns")}
                col = by_key.get(key[len(NATIVE_PREFIX):])
                return None if col is None else [FieldMap(key, col)]
            if key == "observation/joint_state":
                return [FieldMap(key, "observation.state.joint_pos")]
            if key == "reward":
                return [FieldMap(key, "reward")]
            if key == "action":
                # ee_delta is the native action verbatim; other spaces keep the native one in native/action.
                return [FieldMap(key, "action")] if sc.get("action_space") == "ee_delta" else []
            if key == "observation/state":
                if sc.get("state") == "eef":
                    return [FieldMap(key, "observation.state.ee_pos", 0, 3), FieldMap(key, "observation.state.ee_quat", 3, 7),
                            FieldMap(key, "observation.state.gripper", 7, 8)]
                return [FieldMap(key, "observation.state.gripper", spec.shape[-1] - 1, spec.shape[-1])]
            return None
        if key == "reward":
            return [FieldMap(key, "reward")]
        if key == "action":
            return [FieldMap(key, "action")]
        leaf = key.removeprefix("observation/")
        col = _KNOWN_OBS.get(leaf) if key.startswith("observation/") else None
        return None if col is None else [FieldMap(key, col)]


def _columns(plan: _Plan, steps: dict[str, Any], T: int, n_joints: int, where: str) -> dict[str, np.ndarray]:
    cols: dict[str, np.ndarray] = {}
    for m in plan.maps:
        v = np.asarray(steps[m.key])
        v = m.take(v.reshape(T, -1) if v.ndim > 1 or m.column not in (*SCALAR_COLUMNS, "tick_ns") else v)
        if m.column == "tick_ns":
            cols["tick_ns"] = v.astype(np.int64).reshape(T)
            continue
        if m.column in BOOL_COLUMNS:
            cols[m.column] = v.astype(bool).reshape(T)
        elif m.column in SCALAR_COLUMNS:
            if v.size != T:
                raise ImportFormatError(f"{where}: {m.key} gives {v.size // max(T, 1)} values per step for scalar {m.column}; map one index, e.g. {m.key}[0:1]")
            cols[m.column] = v.astype(np.float32).reshape(T)
        else:
            want = column_sizes(n_joints)[m.column]
            v = v.astype(np.float32).reshape(T, -1)
            if v.shape[1] != want:
                hint = (f" (the native action is {ACTION_DIM}-D EE delta + gripper; map a joint-space action to target.joint_pos)"
                        if m.column == "action" else "")
                raise ImportFormatError(f"{where}: {m.key} has {v.shape[1]} values per step but {m.column} needs {want}{hint}")
            cols[m.column] = v
    return cols


def _instruction(steps: dict[str, Any], meta: dict[str, Any], override: str | None, where: str) -> str:
    if override:
        return override
    for k in _INSTRUCTION_KEYS:
        v = steps.get(k)
        if v:
            text = v[0] if isinstance(v, list) else str(v)
            if str(text).strip():
                return str(text).strip()
    for k in _INSTRUCTION_KEYS:
        v = meta.get(k)
        if isinstance(v, (str, bytes)) and (v.decode() if isinstance(v, bytes) else v).strip():
            return (v.decode() if isinstance(v, bytes) else v).strip()
    raise ImportFormatError(f"{where} has no language_instruction (steps or episode_metadata); pass --instruction TEXT")


def _image_info(data: bytes, where: str) -> tuple[str, int, int]:
    """(encoding, height, width) from the bytes themselves (features.json may say None x None)."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png", int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:2] == b"\xff\xd8":
        try:
            h, w, _, _ = simplejpeg.decode_jpeg_header(data)
        except ValueError as exc:
            raise ImportFormatError(f"{where}: unreadable JPEG header ({exc})") from exc
        return "jpeg", int(h), int(w)
    raise ImportFormatError(f"{where}: image bytes are neither JPEG nor PNG; teleforge stores cameras as JPEG/PNG")


def _episodes(reader: RldsReader, splits: list[str]) -> Iterator[tuple[str, Path, int, Any]]:
    for split in splits:
        for p, i, rec in reader.records(split):
            yield split, p, i, reader.decode(rec, f"{p}: record {i}")


def import_rlds(source: Path | str, dataset: Path | str, *, split: str | None = None, instruction: str | None = None,
                task: str | None = None, robot_embodiment: str | None = None, fps: float | None = None,
                mapping: list[str] | None = None, skip: list[str] | None = None, skip_unknown: bool = False,
                limit: int | None = None) -> ImportReport:
    """Append every episode of an RLDS dataset folder to the native dataset at ``dataset`` (created if new)."""
    folder = find_rlds_folder(source)
    try:
        reader = RldsReader(folder, strict=False)
    except ExportError as exc:
        raise ImportFormatError(str(exc)) from exc
    sidecar_path = folder / SIDECAR
    sidecar = _read_sidecar(sidecar_path) if sidecar_path.is_file() else None
    maps = [FieldMap.parse(m) for m in (mapping or [])]
    try:
        plan = _Plan(reader, maps, set(skip or []), skip_unknown, sidecar)
    except (IndexError, KeyError, TypeError, ValueError) as exc:
        raise ImportFormatError(f"{folder}/features.json: a step feature has an unusable shape or type ({exc!r})") from exc
    splits = [split] if split else [s["name"] for s in reader.info.get("splits", [])]
    if not splits:
        raise ImportFormatError(f"{folder}/dataset_info.json lists no splits; nothing to import")
    n_joints_hint = None
    for m in plan.maps:
        if m.column == "observation.state.joint_pos":
            spec_f = reader.step_features[m.key]
            n_joints_hint = (m.stop or (spec_f.shape[-1] if spec_f.shape else 1)) - (m.start or 0)
    n_joints = int(n_joints_hint or DEFAULT_N_JOINTS)
    if not 1 <= n_joints <= 64:
        raise ImportFormatError(f"{folder}/features.json: joint positions have {n_joints} values; expected 1..64 joints")
    out_spec: DatasetSpec | None = None
    ids: list[int] = []
    filled: set[str] = set()
    total = 0
    for k, (split_name, path, index, ep) in enumerate(_episodes(reader, splits)):
        if limit is not None and k >= limit:
            break
        where = f"{path}: record {index}"
        T = ep.num_steps
        if T == 0:
            raise ImportFormatError(f"{where}: the episode has no steps")
        try:
            cols = _columns(plan, ep.steps, T, n_joints, where)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            raise ImportFormatError(f"{where}: a step feature does not fit its native column ({exc!r})") from exc
        meta = ep.metadata
        if out_spec is None:
            cams = []
            for key, name in plan.cameras.items():
                enc, h, w = _image_info(ep.steps[key][0], f"{where}: {key}")
                cams.append(CameraConfig(name, h, w, enc, depth=name in plan.depths.values()))
            fps_v = check_fps(fps or (sidecar or {}).get("fps") or _scalar(meta.get("fps")) or 10.0,
                              f"{folder}/{SIDECAR if sidecar and sidecar.get('fps') else 'episode_metadata/fps'}")
            robot = (robot_embodiment or (sidecar or {}).get("robot_embodiment") or _text(meta.get("robot_embodiment"))
                     or f"rlds:{reader.name}")
            out_spec = DatasetSpec(fps=fps_v, robot_embodiment=robot, n_joints=n_joints, cameras=cams)
            open_or_create(dataset, out_spec)
        images = {plan.cameras[key]: ep.steps[key] for key in plan.cameras}
        depths = {plan.depths[key]: ep.steps[key] for key in plan.depths}
        for cam in out_spec.cameras:
            enc, h, w = _image_info(images[cam.name][0], f"{where}: camera {cam.name}")
            if (enc, h, w) != (cam.encoding, cam.height, cam.width):
                raise ImportFormatError(f"{where}: camera {cam.name} is {enc} {h}x{w}, earlier episodes had "
                                        f"{cam.encoding} {cam.height}x{cam.width}; import them into separate datasets")
        outcome = _text(meta.get("outcome")) or ("success" if bool(meta.get("success", False)) else "")
        if outcome not in ("success", "failure"):
            outcome = "unknown"
        extras: dict[str, Any] = {"source": str(folder), "split": split_name, "record": f"{path.name}:{index}"}
        other = {k2: (_text(v) if isinstance(v, (bytes, str)) else np.asarray(v).tolist()) for k2, v in meta.items()
                 if k2 not in ("outcome", "task", "robot_embodiment", "episode_id", *_INSTRUCTION_KEYS)}
        if other:
            extras["rlds_metadata"] = other
        if "episode_id" in meta:
            try:
                extras["source_episode_id"] = int(np.asarray(meta["episode_id"]))
            except (TypeError, ValueError) as exc:
                raise ImportFormatError(f"{where}: episode_metadata/episode_id {meta['episode_id']!r} is not an integer") from exc
        start = EpisodeStart(
            task=task or _text(meta.get("task")) or reader.name, instruction=_instruction(ep.steps, meta, instruction, where),
            robot_embodiment=out_spec.robot_embodiment, seed=None, device="import:rlds", operator_id="",
            session_id=f"import:{reader.name}", fps=out_spec.fps, extras=extras,
        )
        filled.update(c for c in NATIVE_COLUMN_NAMES if c not in cols)
        ids.append(_write(Path(dataset), out_spec, start, cols, images, T, outcome, depths))
        total += T
    if out_spec is None:
        raise ImportFormatError(f"{folder} holds no episodes in split(s) {', '.join(splits)}")
    return ImportReport(Path(dataset), ids, total, sorted(plan.skipped), sorted(filled), source_kind="teleforge" if sidecar else "foreign")


def _read_sidecar(path: Path) -> dict[str, Any]:
    """teleforge_rlds.json: an object whose ``cameras`` (if any) maps camera names to feature keys."""
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ImportFormatError(f"{path} is not valid JSON ({exc}); re-export the dataset or delete the file") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("cameras", {}), dict):
        raise ImportFormatError(f"{path} is malformed (expected an object with a 'cameras' object); re-export the dataset")
    for key in ("action_space", "state", "robot_embodiment"):
        if doc.get(key) is not None and not isinstance(doc[key], str):
            raise ImportFormatError(f"{path}: {key!r} must be text, got {doc[key]!r}")
    return doc


def _scalar(v: Any) -> Any:
    return v.item() if isinstance(v, np.ndarray) and v.size == 1 else v


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.ndarray) and v.shape == ():
        return _text(v.item())
    return str(v)


def _write(root: Path, spec: DatasetSpec, start: EpisodeStart, cols: dict[str, np.ndarray], images: dict[str, list[bytes]],
           T: int, outcome: str, depths: dict[str, list[bytes]] | None = None) -> int:
    """One native episode; camera and depth (16-bit PNG) bytes are stored as they came (no re-encode)."""
    ticks = cols.pop("tick_ns", None)
    cols = check_columns(cols, spec, T, f"{start.extras.get('source')}: {start.extras.get('record')}", ticks)
    if ticks is None:
        ticks = default_ticks(spec, T)
    filled = fill_missing(cols, spec, T)
    if filled:
        start = EpisodeStart(**{**start.__dict__, "extras": {**start.extras, "filled_columns": filled}})
    writer = EpisodeWriter(root, spec, start, batch_rows=64, flush_interval_s=5.0)
    try:
        for i in range(T):
            rec = step_record(cols, i, ticks[i])
            encoded: dict[str, bytes] = {}
            for cam in spec.cameras:
                encoded[cam.name] = bytes(images[cam.name][i])
                rec.image_t_ns[cam.name] = int(ticks[i])
                rec.image_seq[cam.name] = i
                if cam.depth and depths and cam.name in depths:
                    encoded[depth_column(cam.name)] = bytes(depths[cam.name][i])
            writer.append(rec, encoded)
        writer.finalize(EpisodeEnd(outcome=outcome))
    except BaseException:
        writer.discard()
        raise
    return writer.episode_id
