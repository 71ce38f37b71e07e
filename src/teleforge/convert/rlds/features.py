"""RLDS features: the ``features.json`` TFDS writes and reads, and the features a teleforge export has.

One episode is one tf.train.Example; its ``steps`` Dataset feature is stored the way
TFDS flattens it (``steps/<feature>`` holds every step's values concatenated), beside
flat ``episode_metadata/*`` features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.convert.rlds.config import ACTION_DOCS, RldsExportConfig, state_doc
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import DatasetSpec
from teleforge.errors import ExportError
from teleforge.spec import ACTION_DIM, BOOL_COLUMNS, NATIVE_COLUMN_NAMES, column_sizes

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
NATIVE_PREFIX = "native/"


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
                "dtype": self.dtype,  # uint8 RGB, or uint16 single-channel PNG (depth, mm)
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
            spec = FeatureSpec("image", str(im.get("dtype", "uint8")), tuple(int(x) for x in im["shape"].get("dimensions", [])), doc,
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


def camera_keys(spec: DatasetSpec, primary: str | None) -> dict[str, str]:
    """camera -> observation key: the primary camera is ``image`` (LIBERO/OXE convention), others ``<cam>_image``."""
    if not spec.cameras:
        return {}
    first = primary or spec.cameras[0].name
    return {c.name: ("image" if c.name == first else f"{c.name}_image") for c in spec.cameras}


def depth_keys(spec: DatasetSpec) -> dict[str, str]:
    """depth camera -> observation key ``<cam>_depth`` (a uint16 single-channel PNG Image feature, mm)."""
    return {c.name: f"{c.name}_depth" for c in spec.cameras if c.depth}


def step_features(spec: DatasetSpec, cfg: RldsExportConfig) -> dict[str, FeatureSpec]:
    """Flat per-step features (no ``steps/`` prefix) of an export of ``spec`` configured by ``cfg``."""
    n = spec.n_joints
    sizes = column_sizes(n)
    adim = n + 1 if cfg.action_space == "joint_pos" else ACTION_DIM
    # eef: ee_pos + ee_quat (wxyz) + gripper opening; joints: joint_pos + gripper opening
    sdim = sizes["observation.state.ee_pos"] + sizes["observation.state.ee_quat"] + 1 if cfg.state == "eef" else n + 1
    feats: dict[str, FeatureSpec] = {}
    for cam, key in camera_keys(spec, cfg.primary_camera).items():
        c = spec.camera(cam)
        enc = "jpeg" if c.encoding == "jpeg" else "png"
        feats[f"observation/{key}"] = FeatureSpec("image", "uint8", (c.height, c.width, 3), f"camera {cam!r} RGB", enc)
    for cam, key in depth_keys(spec).items():
        c = spec.camera(cam)
        feats[f"observation/{key}"] = FeatureSpec(
            "image", "uint16", (c.height, c.width, 1),
            f"camera {cam!r} depth aligned to its RGB, uint16 millimetres, 0 = no reading (all 0: no depth frame that step)",
            "png")
    feats["observation/state"] = FeatureSpec("tensor", "float32", (sdim,), state_doc(cfg.state))
    feats["observation/joint_state"] = FeatureSpec("tensor", "float32", (n,), "measured joint positions (rad)")
    feats["action"] = FeatureSpec("tensor", "float32", (adim,), ACTION_DOCS[cfg.action_space])
    feats["reward"] = FeatureSpec("scalar", "float32", (), "task reward at this step")
    feats["discount"] = FeatureSpec("scalar", "float32", (), "discount; 1.0 everywhere")
    feats["is_first"] = FeatureSpec("scalar", "bool", (), "true on the first step")
    feats["is_last"] = FeatureSpec("scalar", "bool", (), "true on the last step")
    feats["is_terminal"] = FeatureSpec("scalar", "bool", (), "true on the last step of a successful episode")
    feats["language_instruction"] = FeatureSpec("text", "string", (), "natural-language instruction")
    if cfg.native_columns:
        for col in native_extra_columns(cfg):
            if col == "tick_ns":
                f = FeatureSpec("tensor", "int64", (), "teleforge tick_ns: control-loop time of the step (ns)")
            elif col in BOOL_COLUMNS:
                f = FeatureSpec("tensor", "bool", (), f"teleforge native column {col}")
            else:
                shape = (sizes[col],) if col in sizes else ()
                f = FeatureSpec("tensor", "float32", shape, f"teleforge native column {col}")
            feats[NATIVE_PREFIX + native_key(col)] = f
    return feats


def native_key(col: str) -> str:
    """Feature name of a native column under ``steps/native/`` (dots are TFDS-unfriendly)."""
    return col.replace(".", "_")


def native_extra_columns(cfg: RldsExportConfig) -> list[str]:
    """Native columns the OXE fields do not already hold verbatim (plus tick_ns)."""
    verbatim = {"observation.state.joint_pos", "reward", "observation.state.gripper"}
    if cfg.action_space == "ee_delta":
        verbatim.add("action")
    if cfg.state == "eef":
        verbatim |= {"observation.state.ee_pos", "observation.state.ee_quat"}
    return [c for c in NATIVE_COLUMN_NAMES if c not in verbatim] + ["tick_ns"]


EPISODE_FEATURES: dict[str, FeatureSpec] = {
    "episode_metadata/file_path": FeatureSpec("text", "string", (), "source teleforge shard"),
    "episode_metadata/episode_id": FeatureSpec("scalar", "int64", (), "teleforge episode id"),
    "episode_metadata/task": FeatureSpec("text", "string", (), "task name"),
    "episode_metadata/outcome": FeatureSpec("text", "string", (), "success | failure | unknown"),
    "episode_metadata/robot_embodiment": FeatureSpec("text", "string", (), "robot type"),
}


def dataset_info(cfg: RldsExportConfig, ds: Dataset, shard_lengths: list[int], num_bytes: int) -> dict[str, Any]:
    """dataset_info.json with only fields of tensorflow-datasets 4.9.3's DatasetInfo proto."""
    desc = cfg.description or (
        f"teleforge export of {ds.root.name} ({ds.spec.robot_embodiment}, {ds.spec.fps:g} Hz). "
        f"Action: {ACTION_DOCS[cfg.action_space]}. State: {state_doc(cfg.state)}."
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
