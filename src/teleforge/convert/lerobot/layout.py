"""The LeRobot v3.0 layout: file paths, feature names and the ``features`` block of meta/info.json.

Shared by the writer and the importer, so both agree on what ``teleforge.*`` columns hold.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from teleforge.dataset.schema import DatasetSpec, depth_column, image_column
from teleforge.spec import ACTION_DIM, BOOL_COLUMNS, NATIVE_COLUMN_NAMES, column_sizes
from teleforge.spec import ACTION_NAMES as _NATIVE_ACTION_NAMES

CODEBASE_VERSION = "v3.0"
CHUNK_FILE = "chunk-{chunk_index:03d}/file-{file_index:03d}"
DATA_PATH = "data/" + CHUNK_FILE + ".parquet"
VIDEO_PATH = "videos/{video_key}/" + CHUNK_FILE + ".mp4"
EPISODES_PATH = "meta/episodes/" + CHUNK_FILE + ".parquet"
EXTRA_PREFIX = "teleforge."  # native columns beyond action/state; not "observation.*", so policies ignore them
STATE_SPACES = ("ee", "joints")
EE_STATE_NAMES = ["x", "y", "z", "qw", "qx", "qy", "qz", "gripper"]
ACTION_NAMES = list(_NATIVE_ACTION_NAMES)  # lerobot stores feature names as a list
INDEX_FEATURES = ("timestamp", "frame_index", "episode_index", "index", "task_index")

# Native columns carried as teleforge.* (reward and success travel as next.reward / next.success).
EXTRA_COLUMNS = [c for c in NATIVE_COLUMN_NAMES if c not in ("action", "reward", "success")] + ["tick_ns"]


def features(spec: DatasetSpec, state: str = "ee", native_columns: bool = True,
             depth: bool = False) -> dict[str, dict[str, Any]]:
    """The ``features`` block of meta/info.json for a native dataset (video ``info`` added after encoding).

    ``depth``: each depth camera adds ``observation.depth.<cam>``, a uint16 (H, W) array feature in
    millimetres (0 = no reading) stored in the data parquet. LeRobot 0.4.4 cannot hold depth as an
    image or video (its image writer takes 3-channel uint8, its videos are 8-bit), so depth travels
    losslessly as a numeric ``Array2D`` instead; policies that do not ask for it ignore it."""
    n = spec.n_joints
    # Names the robot declared (a LeRobot arm: its motor keys) win over generic ones.
    joint_names = spec.feature_names.get("joint_pos") or [f"joint_{i}" for i in range(n)]
    state_names = EE_STATE_NAMES if state == "ee" else [*joint_names, "gripper"]
    action_names = spec.feature_names.get("action") or (
        ACTION_NAMES if spec.action_dim == ACTION_DIM else [f"a{i}" for i in range(spec.action_dim)])
    feats: dict[str, dict[str, Any]] = {
        # a joint-space robot (LeRobot bridge) records its own declared action width
        "action": {"dtype": "float32", "shape": [spec.action_dim], "names": list(action_names)},
        "observation.state": {"dtype": "float32", "shape": [len(state_names)], "names": state_names},
    }
    for cam in spec.cameras:
        feats[image_column(cam.name)] = {"dtype": "video", "shape": [cam.height, cam.width, 3],
                                         "names": ["height", "width", "channels"]}
    for cam in spec.cameras if depth else []:
        if cam.depth:
            feats[depth_column(cam.name)] = {"dtype": "uint16", "shape": [cam.height, cam.width],
                                             "names": ["height", "width"]}
    feats["next.reward"] = {"dtype": "float32", "shape": [1], "names": None}
    feats["next.done"] = {"dtype": "bool", "shape": [1], "names": None}
    feats["next.success"] = {"dtype": "bool", "shape": [1], "names": None}
    if native_columns:
        sizes = column_sizes(n, spec.action_dim)
        for col in EXTRA_COLUMNS:
            dtype = "int64" if col == "tick_ns" else "bool" if col in BOOL_COLUMNS else "float32"
            feats[EXTRA_PREFIX + col] = {"dtype": dtype, "shape": [sizes.get(col, 1)], "names": None}
    feats["timestamp"] = {"dtype": "float32", "shape": [1], "names": None}
    for k in ("frame_index", "episode_index", "index", "task_index"):
        feats[k] = {"dtype": "int64", "shape": [1], "names": None}
    return feats


def hf_feature(ft: dict[str, Any]) -> dict[str, Any]:
    """What ``datasets`` writes into the parquet "huggingface" metadata for Value / List(length=n)."""
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if len(ft["shape"]) == 2:  # depth: what datasets writes for Array2D
        return {"shape": [int(n) for n in ft["shape"]], "dtype": ft["dtype"], "_type": "Array2D"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "List"}


def arrow_type(ft: dict[str, Any]) -> pa.DataType:
    """The Arrow type of a non-video feature: a scalar, a fixed-size list of its length, or (depth) a list of lists."""
    base = {"float32": pa.float32(), "float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_(),
            "uint16": pa.uint16()}[ft["dtype"]]
    if len(ft["shape"]) == 2:  # datasets' Array2D storage: nested variable-size lists
        return pa.list_(pa.list_(base))
    return base if list(ft["shape"]) == [1] else pa.list_(base, int(ft["shape"][0]))
