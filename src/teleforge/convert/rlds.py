"""RLDS / Open X-Embodiment export without TensorFlow, and a TF-free reader.

The output is what ``tfds.builder_from_directory`` loads: ``<out>/<name>/<version>/``
with ``features.json`` (the FeaturesDict JSON TFDS writes), ``dataset_info.json``
(only keys tensorflow-datasets 4.9.3 knows) and ``<name>-train.tfrecord-XXXXX-of-YYYYY``
shards. One episode is one tf.train.Example; its ``steps`` Dataset feature is stored
the way TFDS flattens it: ``steps/<feature>`` holds every step's values concatenated.
Camera JPEG/PNG bytes are copied as stored, never re-encoded.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from teleforge.convert.example_proto import decode_example, encode_example
from teleforge.convert.statistics import dataset_statistics, write_statistics
from teleforge.convert.tfrecord import TFRecordWriter, read_records
from teleforge.dataset.images import decode_image
from teleforge.dataset.reader import Dataset, Episode
from teleforge.dataset.schema import DatasetSpec, image_column
from teleforge.errors import CorruptRecordError, ExportError

if TYPE_CHECKING:
    from teleforge.convert.card import ExportSource

ACTION_SPACES = ("ee_delta", "openvla", "joint_pos")
STATE_SPACES = ("eef", "joints")
SIDECAR = "teleforge_rlds.json"
STATISTICS = "dataset_statistics.json"
_TFDS = "tensorflow_datasets.core.features."
_CLASS = {
    "tensor": _TFDS + "tensor_feature.Tensor",
    "scalar": _TFDS + "scalar.Scalar",
    "image": _TFDS + "image_feature.Image",
    "text": _TFDS + "text_feature.Text",
}
_FEATURES_DICT = _TFDS + "features_dict.FeaturesDict"
_DATASET = _TFDS + "dataset_feature.Dataset"
_SEQUENCE = _TFDS + "sequence_feature.Sequence"


# --- features ----------------------------------------------------------------
@dataclass(frozen=True)
class FeatureSpec:
    """One leaf feature: kind is tensor | scalar | image | text."""

    kind: str
    dtype: str = "float32"
    shape: tuple[int, ...] = ()
    doc: str = ""
    encoding: str = "jpeg"  # images only

    @property
    def size(self) -> int:
        return int(np.prod(self.shape)) if self.kind in ("tensor", "scalar") else 1

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {"pythonClassName": _CLASS[self.kind]}
        if self.kind == "text":
            d["text"] = {}
        elif self.kind == "image":
            d["image"] = {
                "shape": {"dimensions": [str(x) for x in self.shape]},
                "dtype": "uint8",
                "encodingFormat": self.encoding,
            }
        else:
            shape = {"dimensions": [str(x) for x in self.shape]} if self.shape else {}
            d["tensor"] = {"shape": shape, "dtype": self.dtype, "encoding": "none"}
        if self.doc:
            d["description"] = self.doc
        return d

    @property
    def list_kind(self) -> str:
        """Which tf.train.Feature list holds it: bytes | float | int64."""
        if self.kind in ("image", "text") or self.dtype == "string":
            return "bytes"
        return "float" if self.dtype.startswith("float") else "int64"


def _nest(flat: dict[str, FeatureSpec]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key, spec in flat.items():
        node = tree
        parts = key.split("/")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = spec
    return tree


def _dict_json(tree: dict[str, Any]) -> dict[str, Any]:
    feats = {k: (v.to_json() if isinstance(v, FeatureSpec) else _dict_json(v)) for k, v in sorted(tree.items())}
    return {"pythonClassName": _FEATURES_DICT, "featuresDict": {"features": feats}}


def features_json(steps: dict[str, FeatureSpec], episode: dict[str, FeatureSpec]) -> dict[str, Any]:
    """The features.json TFDS writes for ``{"steps": Dataset(steps), **episode}``."""
    top = _dict_json(_nest(episode))
    top["featuresDict"]["features"]["steps"] = {
        "pythonClassName": _DATASET,
        "sequence": {"feature": _dict_json(_nest(steps)), "length": "-1"},
    }
    top["featuresDict"]["features"] = dict(sorted(top["featuresDict"]["features"].items()))
    return top


def parse_features_json(doc: dict[str, Any], strict: bool = True) -> tuple[dict[str, FeatureSpec], dict[str, FeatureSpec]]:
    """features.json -> (flat per-step features under ``steps/``, flat episode features).

    ``strict=False``: a leaf the TF-free reader cannot decode (dynamic shape, unknown class)
    becomes ``FeatureSpec("unsupported", doc=<why>)`` instead of an error, so an importer can
    name it and let the user skip it."""
    steps: dict[str, FeatureSpec] = {}
    episode: dict[str, FeatureSpec] = {}

    def walk(node: dict[str, Any], prefix: str, in_steps: bool) -> None:
        cls = node.get("pythonClassName", "")
        if "featuresDict" in node:
            for k, v in node["featuresDict"]["features"].items():
                walk(v, f"{prefix}{k}/", in_steps)
            return
        if "sequence" in node:
            if in_steps or prefix != "steps/":
                raise ExportError(
                    f"feature {prefix.rstrip('/')!r} is a {cls}; RLDS allows one sequence feature, named 'steps'"
                )
            walk(node["sequence"]["feature"], "", True)
            return
        key = prefix.rstrip("/")
        doc = node.get("description", "")
        if "image" in node:
            im = node["image"]
            spec = FeatureSpec("image", "uint8", tuple(int(x) for x in im["shape"].get("dimensions", [])), doc,
                               im.get("encodingFormat", "png") or "png")
        elif "text" in node:
            spec = FeatureSpec("text", "string", (), doc)
        elif "tensor" in node:
            t = node["tensor"]
            shape = tuple(int(x) for x in t.get("shape", {}).get("dimensions", []))
            if any(d < 0 for d in shape):
                if strict:
                    raise ExportError(f"feature {key!r} has a dynamic shape {shape}; only fixed shapes are supported")
                spec = FeatureSpec("unsupported", str(t.get("dtype")), (), f"dynamic shape {list(shape)}")
            else:
                spec = FeatureSpec("scalar" if cls.endswith(".Scalar") else "tensor", t["dtype"], shape, doc)
        else:
            if strict:
                raise ExportError(f"feature {key!r} uses {cls or 'an unknown class'}, which the TF-free reader does not support")
            spec = FeatureSpec("unsupported", "", (), cls.rsplit(".", 1)[-1] or "unknown feature class")
        (steps if in_steps else episode)[key] = spec

    walk(doc, "", False)
    return steps, episode


# --- configuration -----------------------------------------------------------
@dataclass
class RldsExportConfig:
    """How to export: names, action/state representation, sharding, parallelism."""

    name: str = "teleforge_dataset"
    version: str = "1.0.0"
    action_space: str = "ee_delta"  # ee_delta | openvla | joint_pos
    state: str = "eef"  # eef: ee_pos(3)+ee_quat wxyz(4)+gripper(1); joints: joint_pos(n)+gripper(1)
    primary_camera: str | None = None  # becomes observation/image; others observation/<cam>_image
    episodes: Sequence[int] | None = None  # None = every live episode (or every episode of the view)
    view: str | None = None  # curated view name (views/NAME.json) or view file: kept episodes and trims
    num_shards: int | None = None  # None = from size (shard_target_bytes), at least `workers`
    shard_target_bytes: int = 256 << 20
    workers: int = 1
    overwrite: bool = False
    check: bool = False
    description: str = ""
    # Also store every native column RLDS has no field for under steps/native/, so
    # native -> RLDS -> native is exact; consumers that pick the OXE keys ignore them.
    native_columns: bool = True

    def validate(self, spec: DatasetSpec) -> None:
        if self.action_space not in ACTION_SPACES:
            raise ExportError(f"unknown action space {self.action_space!r} for RLDS; use one of {', '.join(ACTION_SPACES)}")
        if self.state not in STATE_SPACES:
            raise ExportError(f"unknown state layout {self.state!r}; use one of {', '.join(STATE_SPACES)}")
        if not self.name.replace("_", "").isalnum() or not self.name[0].isalpha() or self.name != self.name.lower():
            raise ExportError(f"dataset name {self.name!r} must be snake_case (letters, digits, '_'), as TFDS requires")
        parts = self.version.split(".")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            raise ExportError(f"version {self.version!r} must look like 1.0.0 (TFDS refuses other forms)")
        if self.primary_camera is not None:
            spec.camera(self.primary_camera)
        if self.workers < 1:
            raise ExportError("workers must be at least 1")


ACTION_DOCS = {
    "ee_delta": "teleforge native action [dx, dy, dz, drx, dry, drz, gripper]: end-effector translation (m) and "
    "rotation (axis-angle, rad) per step in the robot base frame; gripper target in [0, 1] with 0 = open, 1 = closed",
    "openvla": "OpenVLA-style EEF delta [dx, dy, dz, drx, dry, drz, gripper]: translation (m) and rotation "
    "(axis-angle, rad) per step in the robot base frame; gripper with 1 = open, 0 = closed (1 - teleforge gripper)",
    "joint_pos": "absolute target joint positions (rad) followed by the gripper target in [0, 1] with 0 = open, 1 = closed",
}


def _state_doc(state: str) -> str:
    if state == "eef":
        return "[x, y, z, qw, qx, qy, qz, gripper]: end-effector position (m) and quaternion (wxyz) in the base frame, gripper opening in [0, 1] with 1 = open"
    return "[joint positions (rad)..., gripper]: measured joint positions and gripper opening in [0, 1] with 1 = open"


def camera_keys(spec: DatasetSpec, primary: str | None) -> dict[str, str]:
    """camera -> observation key: the primary camera is ``image`` (LIBERO/OXE convention), others ``<cam>_image``."""
    if not spec.cameras:
        return {}
    first = primary or spec.cameras[0].name
    return {c.name: ("image" if c.name == first else f"{c.name}_image") for c in spec.cameras}


def step_features(spec: DatasetSpec, cfg: RldsExportConfig) -> dict[str, FeatureSpec]:
    n = spec.n_joints
    adim = n + 1 if cfg.action_space == "joint_pos" else 7
    sdim = 8 if cfg.state == "eef" else n + 1
    feats: dict[str, FeatureSpec] = {}
    for cam, key in camera_keys(spec, cfg.primary_camera).items():
        c = spec.camera(cam)
        enc = "jpeg" if c.encoding == "jpeg" else "png"
        feats[f"observation/{key}"] = FeatureSpec("image", "uint8", (c.height, c.width, 3), f"camera {cam!r} RGB", enc)
    feats["observation/state"] = FeatureSpec("tensor", "float32", (sdim,), _state_doc(cfg.state))
    feats["observation/joint_state"] = FeatureSpec("tensor", "float32", (n,), "measured joint positions (rad)")
    feats["action"] = FeatureSpec("tensor", "float32", (adim,), ACTION_DOCS[cfg.action_space])
    feats["reward"] = FeatureSpec("scalar", "float32", (), "task reward at this step")
    feats["discount"] = FeatureSpec("scalar", "float32", (), "discount; 1.0 everywhere")
    feats["is_first"] = FeatureSpec("scalar", "bool", (), "true on the first step")
    feats["is_last"] = FeatureSpec("scalar", "bool", (), "true on the last step")
    feats["is_terminal"] = FeatureSpec("scalar", "bool", (), "true on the last step of a successful episode")
    feats["language_instruction"] = FeatureSpec("text", "string", (), "natural-language instruction")
    if cfg.native_columns:
        sizes = _native_sizes(spec)
        for col in native_extra_columns(cfg):
            if col == "tick_ns":
                f = FeatureSpec("tensor", "int64", (), "teleforge tick_ns: control-loop time of the step (ns)")
            elif col in _BOOL_NATIVE:
                f = FeatureSpec("tensor", "bool", (), f"teleforge native column {col}")
            else:
                f = FeatureSpec("tensor", "float32", sizes.get(col, ()), f"teleforge native column {col}")
            feats[NATIVE_PREFIX + native_key(col)] = f
    return feats


NATIVE_PREFIX = "native/"
_BOOL_NATIVE = ("success", "safety.hold", "safety.estop", "safety.clamped")


def native_key(col: str) -> str:
    """Feature name of a native column under ``steps/native/`` (dots are TFDS-unfriendly)."""
    return col.replace(".", "_")


def _native_sizes(spec: DatasetSpec) -> dict[str, tuple[int, ...]]:
    n = spec.n_joints
    return {"action": (7,), "observation.state.joint_pos": (n,), "observation.state.joint_vel": (n,),
            "observation.state.ee_pos": (3,), "observation.state.ee_quat": (4,), "target.ee_pos": (3,),
            "target.ee_quat": (4,), "target.joint_pos": (n,), "command.twist": (6,)}


def native_extra_columns(cfg: RldsExportConfig) -> list[str]:
    """Native columns the OXE fields do not already hold verbatim (plus tick_ns)."""
    from teleforge.convert.hdf5 import NATIVE_COLUMNS

    verbatim = {"observation.state.joint_pos", "reward", "observation.state.gripper"}
    if cfg.action_space == "ee_delta":
        verbatim.add("action")
    if cfg.state == "eef":
        verbatim |= {"observation.state.ee_pos", "observation.state.ee_quat"}
    return [c for c in NATIVE_COLUMNS if c not in verbatim] + ["tick_ns"]


EPISODE_FEATURES: dict[str, FeatureSpec] = {
    "episode_metadata/file_path": FeatureSpec("text", "string", (), "source teleforge shard"),
    "episode_metadata/episode_id": FeatureSpec("scalar", "int64", (), "teleforge episode id"),
    "episode_metadata/task": FeatureSpec("text", "string", (), "task name"),
    "episode_metadata/outcome": FeatureSpec("text", "string", (), "success | failure | unknown"),
    "episode_metadata/robot_embodiment": FeatureSpec("text", "string", (), "robot type"),
}


# --- one episode -> one Example -----------------------------------------------
def _fill_frames(frames: np.ndarray, cam: str, spec: DatasetSpec) -> list[bytes]:
    """Every step needs a frame: steps before a camera's first frame reuse that first frame."""
    out: list[bytes | None] = list(frames)
    nxt: bytes | None = None
    for i in range(len(out) - 1, -1, -1):
        if out[i] is None:
            out[i] = nxt
        else:
            nxt = out[i]
    if any(f is None for f in out):
        raise ExportError(f"camera {cam!r} delivered no frame in this episode; export without it or re-record")
    c = spec.camera(cam)
    if c.encoding == "raw":  # TFDS Image needs an encoded file: store raw frames as lossless PNG
        import cv2

        png: list[bytes] = []
        for f in out:
            ok, buf = cv2.imencode(".png", decode_image(f, c)[:, :, ::-1])  # type: ignore[arg-type]
            if not ok:
                raise ExportError(f"camera {cam!r}: PNG encoding failed")
            png.append(buf.tobytes())
        return png
    return [bytes(f) for f in out]  # type: ignore[arg-type]


def episode_arrays(ep: Episode, spec: DatasetSpec, cfg: RldsExportConfig) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The flattened Example features of one episode, plus its (T, A) actions and (T, S) states."""
    T = ep.num_steps
    if T == 0:
        raise ExportError(f"episode {ep.episode_id} has no steps; exclude it from the export")
    col = ep.column
    grip = col("observation.state.gripper").astype(np.float32).reshape(T, 1)
    native = col("action").astype(np.float32)
    if cfg.action_space == "ee_delta":
        action = native
    elif cfg.action_space == "openvla":
        action = np.concatenate([native[:, :6], 1.0 - native[:, 6:7]], axis=1)
    else:
        action = np.concatenate([col("target.joint_pos").astype(np.float32), native[:, 6:7]], axis=1)
    joints = col("observation.state.joint_pos").astype(np.float32)
    if cfg.state == "eef":
        state = np.concatenate([col("observation.state.ee_pos"), col("observation.state.ee_quat"), grip], axis=1)
    else:
        state = np.concatenate([joints, grip], axis=1)
    state = state.astype(np.float32)
    meta = ep.meta
    last = np.zeros(T, bool)
    last[-1] = True
    first = np.zeros(T, bool)
    first[0] = True
    feats: dict[str, Any] = {
        "steps/observation/state": state,
        "steps/observation/joint_state": joints,
        "steps/action": action,
        "steps/reward": col("reward").astype(np.float32),
        "steps/discount": np.ones(T, np.float32),
        "steps/is_first": first,
        "steps/is_last": last,
        "steps/is_terminal": last & (meta.outcome == "success"),
        "steps/language_instruction": [meta.instruction.encode()] * T,
        "episode_metadata/file_path": [str(ep.path).encode()],
        "episode_metadata/episode_id": np.array([ep.episode_id], np.int64),
        "episode_metadata/task": [meta.task.encode()],
        "episode_metadata/outcome": [meta.outcome.encode()],
        "episode_metadata/robot_embodiment": [(meta.robot_embodiment or spec.robot_embodiment).encode()],
    }
    for cam, key in camera_keys(spec, cfg.primary_camera).items():
        feats[f"steps/observation/{key}"] = _fill_frames(col(image_column(cam)), cam, spec)
    if cfg.native_columns:
        for c in native_extra_columns(cfg):
            v = np.asarray(col(c))
            feats[f"steps/{NATIVE_PREFIX}{native_key(c)}"] = (
                v.astype(np.int64) if c == "tick_ns" else v.astype(bool) if c in _BOOL_NATIVE else v.astype(np.float32))
    return feats, action, state


# --- shards ------------------------------------------------------------------
def shard_name(name: str, index: int, count: int) -> str:
    return f"{name}-train.tfrecord-{index:05d}-of-{count:05d}"


@dataclass
class _ShardJob:
    source: dict[str, Any]  # ExportSource.to_state(): root, ids, trims, relabels
    episode_ids: list[int]
    path: str
    config: RldsExportConfig


@dataclass
class _ShardResult:
    num_records: int
    data_bytes: int
    steps: list[int]
    actions: np.ndarray
    states: np.ndarray


def _result_path(shard: str | Path) -> Path:
    return Path(f"{shard}.result.npz")


def _load_result(shard: Path) -> _ShardResult | None:
    """The saved result of a shard a previous (interrupted) run finished, or None."""
    res = _result_path(shard)
    if not (shard.is_file() and res.is_file()):
        return None
    try:
        with np.load(res) as z:
            return _ShardResult(int(z["num_records"]), int(z["data_bytes"]), z["steps"].tolist(), z["actions"], z["states"])
    except (OSError, ValueError, KeyError):
        return None


def _write_shard(job: _ShardJob) -> _ShardResult:
    from teleforge.convert.card import ExportSource

    src = ExportSource.from_state(job.source)
    ds = src.dataset
    actions: list[np.ndarray] = []
    states: list[np.ndarray] = []
    steps: list[int] = []
    final = Path(job.path)
    tmp = final.with_name(final.name + ".tmp")
    with TFRecordWriter(tmp) as w:
        for eid in job.episode_ids:
            ep = src.episode(eid)  # only the view's kept steps
            feats, action, state = episode_arrays(ep, ds.spec, job.config)
            w.write(encode_example(feats))
            actions.append(action)
            states.append(state)
            steps.append(len(action))
            del ep, feats  # one episode in memory at a time
    result = _ShardResult(w.num_records, w.data_bytes, steps, np.concatenate(actions), np.concatenate(states))
    # The result is saved before the shard gets its final name: a shard under its final name
    # is complete and its numbers are known, so a resumed export can skip it.
    res_tmp = final.with_name(final.name + ".result.tmp.npz")
    np.savez(res_tmp, num_records=result.num_records, data_bytes=result.data_bytes, steps=np.asarray(steps, np.int64),
             actions=result.actions, states=result.states)
    os.replace(res_tmp, _result_path(final))
    os.replace(tmp, final)
    return result


def _shard_boundaries(num_examples: int, num_shards: int) -> list[int]:
    """Same split TFDS uses (shard_utils.get_shard_boundaries): round(n * (i+1) / k)."""
    return [int(round(num_examples * (i + 1) / num_shards)) for i in range(num_shards)]


@dataclass
class RldsExportResult:
    path: Path
    num_episodes: int
    num_steps: int
    shard_lengths: list[int]
    num_bytes: int
    seconds: float
    check: RldsCheckReport | None = None
    resumed_shards: int = 0  # shards an interrupted run had finished, reused

    @property
    def steps_per_s(self) -> float:
        return self.num_steps / self.seconds if self.seconds > 0 else float("inf")


def export_rlds(source: ExportSource | Dataset | Path | str, out: Path | str,
                config: RldsExportConfig | None = None) -> RldsExportResult:
    """Export a native dataset, some of its episodes, or a curated view as a TFDS-loadable RLDS dataset.

    Only a view's kept steps are written (is_first / is_last mark the trimmed range).
    Shards go into ``<out>/<name>/.<version>.partial`` and the folder is renamed to
    ``<out>/<name>/<version>`` only when every shard and the metadata are complete, so an
    interrupted export never looks like a dataset; re-running the same export resumes it
    (finished shards are kept), a different one is refused unless ``overwrite``.
    """
    from teleforge.convert.card import ExportSource, select, stage_output

    t0 = time.perf_counter()
    cfg = config or RldsExportConfig()
    src = source if isinstance(source, ExportSource) else select(source, cfg.episodes, cfg.view)
    ds = src.dataset
    cfg.validate(ds.spec)
    ids = list(src.episode_ids)
    infos = {e.episode_id: e for e in ds.episodes}
    final = Path(out) / cfg.name / cfg.version
    total = sum(max(1, infos[i].bytes) for i in ids)
    n = cfg.num_shards or max(1, math.ceil(total / cfg.shard_target_bytes))
    n = max(n, cfg.workers) if cfg.num_shards is None else n
    n = max(1, min(n, len(ids)))
    shaping = {k: v for k, v in asdict(cfg).items() if k not in ("workers", "overwrite", "check", "episodes", "view")}
    resume_key = {"source": str(ds.root.resolve()), "episode_ids": ids, "num_shards": n,
                  "trims": {str(i): list(t) for i, t in src.trims.items()},
                  "relabels": {str(i): r for i, r in src.relabels.items()},
                  "shards": [(infos[i].file, infos[i].bytes) for i in ids], "config": shaping}
    stage = stage_output(final, overwrite=cfg.overwrite, resume_key=resume_key)
    tmp = stage.staging
    bounds = _shard_boundaries(len(ids), n)
    jobs, start = [], 0
    state = src.to_state()
    for k, end in enumerate(bounds):
        jobs.append(_ShardJob(state, ids[start:end], str(tmp / shard_name(cfg.name, k, n)), cfg))
        start = end
    done = {j.path: r for j in jobs if (r := _load_result(Path(j.path))) is not None}
    todo = [j for j in jobs if j.path not in done]
    workers = min(cfg.workers, max(1, len(todo)))
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
            done.update(zip((j.path for j in todo), pool.map(_write_shard, todo)))
    else:
        for j in todo:
            done[j.path] = _write_shard(j)
    results = [done[j.path] for j in jobs]
    for j in jobs:
        _result_path(j.path).unlink(missing_ok=True)

    steps_f = step_features(ds.spec, cfg)
    (tmp / "features.json").write_text(json.dumps(features_json(steps_f, EPISODE_FEATURES), indent=4))
    lengths = [r.num_records for r in results]
    num_bytes = sum(r.data_bytes for r in results)
    (tmp / "dataset_info.json").write_text(json.dumps(dataset_info(cfg, ds, lengths, num_bytes), indent=2))
    actions = np.concatenate([r.actions for r in results])
    states = np.concatenate([r.states for r in results])
    write_statistics(tmp / STATISTICS, cfg.name, dataset_statistics(actions, states, len(ids)))
    sidecar = {
        "source": str(ds.root),
        "episode_ids": ids,
        "view": src.view,
        "trims": {str(i): list(t) for i, t in src.trims.items()},
        "action_space": cfg.action_space,
        "action_convention": ACTION_DOCS[cfg.action_space],
        "state": cfg.state,
        "state_convention": _state_doc(cfg.state),
        "cameras": camera_keys(ds.spec, cfg.primary_camera),
        "fps": ds.spec.fps,
        "robot_embodiment": ds.spec.robot_embodiment,
        "steps_per_shard": [int(sum(r.steps)) for r in results],
    }
    (tmp / SIDECAR).write_text(json.dumps(sidecar, indent=2))
    stage.publish()
    report = None
    if cfg.check:
        report = check_rlds(final, expected_steps={eid: src.num_steps(eid) for eid in ids})
    return RldsExportResult(final, len(ids), int(len(actions)), lengths, num_bytes, time.perf_counter() - t0, report,
                            resumed_shards=len(jobs) - len(todo))


def dataset_info(cfg: RldsExportConfig, ds: Dataset, shard_lengths: list[int], num_bytes: int) -> dict[str, Any]:
    """dataset_info.json with only fields of tensorflow-datasets 4.9.3's DatasetInfo proto."""
    desc = cfg.description or (
        f"teleforge export of {ds.root.name} ({ds.spec.robot_embodiment}, {ds.spec.fps:g} Hz). "
        f"Action: {ACTION_DOCS[cfg.action_space]}. State: {_state_doc(cfg.state)}."
    )
    return {
        "name": cfg.name,
        "description": desc,
        "version": cfg.version,
        "fileFormat": "tfrecord",
        "moduleName": "teleforge.convert.rlds",
        "splits": [
            {
                "name": "train",
                "numBytes": str(num_bytes),
                "shardLengths": [str(x) for x in shard_lengths],
                "filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}",
            }
        ],
    }


# --- reading back (no TensorFlow) ------------------------------------------------
@dataclass
class RldsEpisode:
    """One decoded episode: ``steps`` maps step feature names (no ``steps/`` prefix) to arrays of length T."""

    steps: dict[str, Any]
    metadata: dict[str, Any]

    @property
    def num_steps(self) -> int:
        return len(self.steps["is_first"])


class RldsReader:
    """Reads an RLDS folder written by teleforge or by TFDS (Example-per-episode TFRecords)."""

    def __init__(self, path: Path | str, strict: bool = True) -> None:
        self.path = Path(path)
        try:
            self.info = json.loads((self.path / "dataset_info.json").read_text())
            features = json.loads((self.path / "features.json").read_text())
        except FileNotFoundError as exc:
            raise ExportError(f"{self.path} is not an RLDS dataset folder ({exc.filename} is missing)") from exc
        self.step_features, self.episode_features = parse_features_json(features, strict)
        if self.info.get("fileFormat", "tfrecord") != "tfrecord":
            raise ExportError(f"{self.path}: file format {self.info.get('fileFormat')!r} is not supported; only tfrecord")

    @property
    def name(self) -> str:
        return str(self.info["name"])

    def split(self, split: str = "train") -> dict[str, Any]:
        for s in self.info.get("splits", []):
            if s["name"] == split:
                return s
        raise ExportError(f"{self.path} has no split {split!r}")

    def shard_paths(self, split: str = "train") -> list[Path]:
        lengths = self.split(split).get("shardLengths", [])
        n = len(lengths)
        return [self.path / f"{self.name}-{split}.tfrecord-{i:05d}-of-{n:05d}" for i in range(n)]

    def __len__(self) -> int:
        return sum(int(x) for x in self.split().get("shardLengths", []))

    def records(self, split: str = "train") -> Iterator[tuple[Path, int, bytes]]:
        for p in self.shard_paths(split):
            if not p.is_file():
                raise ExportError(f"shard {p} listed in dataset_info.json is missing; the export is incomplete, re-run it")
            for i, rec in enumerate(read_records(p)):
                yield p, i, rec

    def decode(self, record: bytes, where: str = "record") -> RldsEpisode:
        raw = decode_example(record)
        steps: dict[str, Any] = {}
        T: int | None = None
        for key, spec in self.step_features.items():
            full = f"steps/{key}"
            if spec.kind == "unsupported":
                continue
            if full not in raw:
                raise ExportError(f"{where}: feature {full!r} is missing")
            v = raw[full]
            if spec.list_kind == "bytes":
                n = len(v)
                val: Any = list(v) if spec.kind == "image" else [b.decode() for b in v]
            else:
                arr = np.asarray(v)
                if arr.size % spec.size:
                    raise ExportError(f"{where}: feature {full!r} has {arr.size} values, not a multiple of {spec.shape}")
                n = arr.size // spec.size
                val = arr.astype(spec.dtype).reshape((n, *spec.shape))
            if T is None:
                T = n
            elif n != T:
                raise ExportError(f"{where}: feature {full!r} has {n} steps, others have {T}; the record is misaligned")
            steps[key] = val
        meta: dict[str, Any] = {}
        for key, spec in self.episode_features.items():
            if spec.kind == "unsupported":
                continue
            v = raw.get(key)
            if v is None:
                raise ExportError(f"{where}: episode feature {key!r} is missing")
            if spec.list_kind == "bytes":
                meta[key.split("/", 1)[-1]] = v[0].decode() if spec.kind == "text" else v[0]
            else:
                meta[key.split("/", 1)[-1]] = np.asarray(v).astype(spec.dtype).reshape(spec.shape)[()]
        return RldsEpisode(steps, meta)

    def __iter__(self) -> Iterator[RldsEpisode]:
        for p, i, rec in self.records():
            yield self.decode(rec, f"{p}: record {i}")


# --- validation ----------------------------------------------------------------
@dataclass
class RldsCheckReport:
    episodes: int = 0
    steps: int = 0
    shards: int = 0
    num_bytes: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


_KIND_OF = {"bytes": list, "float": np.floating, "int64": np.integer}


def _image_size(data: bytes, encoding: str) -> tuple[int, int] | None:
    if encoding == "png":
        if data[:8] != b"\x89PNG\r\n\x1a\n":
            return None
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    import simplejpeg

    try:
        h, w, _, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    return h, w


def check_rlds(path: Path | str, expected_steps: dict[int, int] | None = None) -> RldsCheckReport:
    """Read back every record and verify each field's step count, list type and dtype, the
    is_first/is_last flags, image headers, shard lengths and byte counts against dataset_info.json.

    Raises ExportError listing every problem found (at most 20 shown)."""
    reader = RldsReader(path)
    rep = RldsCheckReport()
    split = reader.split()
    want_lengths = [int(x) for x in split.get("shardLengths", [])]
    seen: dict[int, int] = {}
    for shard_i, p in enumerate(reader.shard_paths()):
        if not p.is_file():
            rep.problems.append(f"shard {p.name} is missing")
            continue
        count = 0
        try:
            for i, rec in enumerate(read_records(p)):
                count += 1
                rep.num_bytes += len(rec)
                where = f"{p.name} record {i}"
                raw = decode_example(rec)
                _check_record(reader, raw, where, rep, seen)
        except CorruptRecordError as exc:
            rep.problems.append(str(exc))
        if count != want_lengths[shard_i]:
            rep.problems.append(f"{p.name}: {count} records, dataset_info.json says {want_lengths[shard_i]}")
        rep.shards += 1
    if rep.num_bytes != int(split.get("numBytes", -1)):
        rep.problems.append(f"records hold {rep.num_bytes} bytes, dataset_info.json says numBytes={split.get('numBytes')}")
    if expected_steps is not None:
        for eid, n in expected_steps.items():
            if seen.get(eid) != n:
                rep.problems.append(f"episode {eid}: {seen.get(eid, 0)} steps exported, the source has {n}")
        extra = sorted(set(seen) - set(expected_steps))
        if extra:
            rep.problems.append(f"episodes {extra} are in the export but not in the selection")
    if rep.problems:
        shown = "\n  ".join(rep.problems[:20])
        raise ExportError(f"RLDS check of {path} failed ({len(rep.problems)} problems):\n  {shown}")
    return rep


def _check_record(reader: RldsReader, raw: dict[str, Any], where: str, rep: RldsCheckReport, seen: dict[int, int]) -> None:
    # is_first has one value per step whatever else is wrong: it defines the episode length.
    ref = raw.get("steps/is_first")
    T: int | None = len(ref) if ref is not None and "is_first" in reader.step_features else None
    known = {f"steps/{k}" for k in reader.step_features} | set(reader.episode_features)
    for k in sorted(set(raw) - known):
        rep.problems.append(f"{where}: unexpected feature {k!r} (not in features.json)")
    for key, spec in reader.step_features.items():
        full = f"steps/{key}"
        v = raw.get(full)
        if v is None:
            rep.problems.append(f"{where}: {full} missing")
            continue
        lk = spec.list_kind
        if lk == "bytes":
            if not isinstance(v, list):
                rep.problems.append(f"{where}: {full} should be a bytes_list for {spec.kind}, found {np.asarray(v).dtype}")
                continue
            n = len(v)
            if spec.kind == "image":
                for j, img in enumerate(v):
                    hw = _image_size(img, spec.encoding)
                    if hw is None or hw != spec.shape[:2]:
                        rep.problems.append(f"{where}: {full}[{j}] is not a {spec.shape[0]}x{spec.shape[1]} {spec.encoding} image")
                        break
        else:
            arr = np.asarray(v)
            if isinstance(v, list) or not np.issubdtype(arr.dtype, _KIND_OF[lk]):
                rep.problems.append(f"{where}: {full} should be a {lk}_list for {spec.dtype}")
                continue
            if arr.size % spec.size:
                rep.problems.append(f"{where}: {full} has {arr.size} values, not a multiple of shape {spec.shape}")
                continue
            n = arr.size // spec.size
            if spec.dtype == "bool" and not np.isin(arr, (0, 1)).all():
                rep.problems.append(f"{where}: {full} holds values other than 0/1")
        if T is None:
            T = n
        elif n != T:
            rep.problems.append(f"{where}: {full} has {n} steps, is_first has {T}")
    if T:
        first, last = np.asarray(raw.get("steps/is_first", [])), np.asarray(raw.get("steps/is_last", []))
        if len(first) == T and (first[0] != 1 or first[1:].any()):
            rep.problems.append(f"{where}: is_first must be true on step 0 only")
        if len(last) == T and (last[-1] != 1 or last[:-1].any()):
            rep.problems.append(f"{where}: is_last must be true on the final step only")
    for key in reader.episode_features:
        if key not in raw:
            rep.problems.append(f"{where}: {key} missing")
    eid_raw = raw.get("episode_metadata/episode_id")
    if eid_raw is not None and len(eid_raw):
        seen[int(np.asarray(eid_raw)[0])] = T or 0
    rep.episodes += 1
    rep.steps += T or 0
