"""The versioned native step schema: one Arrow row per control step.

``teleforge.json`` stores the :class:`DatasetSpec` and the format version;
every shard carries the same Arrow schema, built here from the spec and only here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.dataset.records import StepRecord
from teleforge.errors import DatasetError, FormatVersionError

FORMAT_MAJOR = 1
FORMAT_MINOR = 0
FORMAT_VERSION = f"{FORMAT_MAJOR}.{FORMAT_MINOR}"

ENCODINGS = ("jpeg", "png", "raw")
ACTION_DIM = 7

# Shard metadata keys (schema metadata holds the start, the last batch's custom metadata the end).
META_START = b"teleforge.episode_start"
META_END = b"teleforge.episode_end"
META_VERSION = b"teleforge.format_version"
META_SPEC = b"teleforge.spec"

IMAGE_PREFIX = "observation.images."


@dataclass
class CameraConfig:
    """One recorded camera: its frame size and how frames are stored."""

    name: str
    height: int
    width: int
    encoding: str = "jpeg"  # "jpeg" | "png" | "raw"
    quality: int = 95  # JPEG quality; ignored for png/raw

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise DatasetError(f"camera {self.name!r}: unknown encoding {self.encoding!r}; use one of {', '.join(ENCODINGS)}")
        if not self.name or "." in self.name or "/" in self.name:
            raise DatasetError(f"camera name {self.name!r} must be non-empty and contain no '.' or '/'")
        if not 1 <= int(self.quality) <= 100:
            raise DatasetError(f"camera {self.name!r}: JPEG quality {self.quality} must be in 1..100")


@dataclass
class DatasetSpec:
    """What every episode of a dataset shares: rate, robot and cameras."""

    fps: float
    robot_embodiment: str
    n_joints: int
    cameras: list[CameraConfig] = field(default_factory=list)

    def camera(self, name: str) -> CameraConfig:
        for c in self.cameras:
            if c.name == name:
                return c
        raise DatasetError(f"no camera {name!r} in this dataset; it has: {', '.join(self.camera_names) or 'none'}")

    @property
    def camera_names(self) -> list[str]:
        return [c.name for c in self.cameras]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetSpec:
        try:
            return cls(
                fps=float(d["fps"]),
                robot_embodiment=str(d["robot_embodiment"]),
                n_joints=int(d["n_joints"]),
                cameras=[CameraConfig(**c) for c in d.get("cameras", [])],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"malformed dataset spec ({exc}); expected fps, robot_embodiment, n_joints, cameras") from exc


def parse_version(version: str) -> tuple[int, int]:
    try:
        major, minor = (int(x) for x in str(version).split(".")[:2])
    except ValueError as exc:
        raise DatasetError(f"unreadable format version {version!r}; expected 'MAJOR.MINOR' like {FORMAT_VERSION!r}") from exc
    return major, minor


def check_version(version: str, where: str) -> tuple[int, int]:
    """Refuse data written by an unknown major format version (newer minors are readable)."""
    major, minor = parse_version(version)
    if major != FORMAT_MAJOR:
        newer = major > FORMAT_MAJOR
        hint = (
            "upgrade teleforge (`pip install -U teleforge`) to read it"
            if newer
            else "convert it with the teleforge release that wrote it, or re-export it"
        )
        raise FormatVersionError(
            f"{where} uses teleforge format {major}.{minor}, but this teleforge reads format {FORMAT_MAJOR}.x; {hint}"
        )
    return major, minor


def image_column(cam: str) -> str:
    return f"{IMAGE_PREFIX}{cam}"


def _vec(n: int) -> pa.DataType:
    return pa.list_(pa.float32(), n)


def step_fields(spec: DatasetSpec) -> list[pa.Field]:
    """Column order of a shard. Image columns are nullable: a camera may not have delivered yet."""
    n = spec.n_joints
    fields = [
        pa.field("step", pa.int32(), nullable=False),
        pa.field("tick_ns", pa.int64(), nullable=False),
        pa.field("action", _vec(ACTION_DIM), nullable=False),
        pa.field("observation.state.joint_pos", _vec(n), nullable=False),
        pa.field("observation.state.joint_vel", _vec(n), nullable=False),
        pa.field("observation.state.ee_pos", _vec(3), nullable=False),
        pa.field("observation.state.ee_quat", _vec(4), nullable=False),
        pa.field("observation.state.gripper", pa.float32(), nullable=False),
        pa.field("target.ee_pos", _vec(3), nullable=False),
        pa.field("target.ee_quat", _vec(4), nullable=False),
        pa.field("target.joint_pos", _vec(n), nullable=False),
        pa.field("command.twist", _vec(6), nullable=False),
        pa.field("command.gripper", pa.float32(), nullable=False),
        pa.field("reward", pa.float32(), nullable=False),
        pa.field("success", pa.bool_(), nullable=False),
        pa.field("safety.hold", pa.bool_(), nullable=False),
        pa.field("safety.estop", pa.bool_(), nullable=False),
        pa.field("safety.clamped", pa.bool_(), nullable=False),
    ]
    for cam in spec.cameras:
        col = image_column(cam.name)
        fields += [
            pa.field(col, pa.binary()),
            pa.field(f"{col}.t_ns", pa.int64()),
            pa.field(f"{col}.seq", pa.int64()),
        ]
    return fields


def step_schema(spec: DatasetSpec, metadata: dict[bytes, bytes] | None = None) -> pa.Schema:
    md = {META_VERSION: FORMAT_VERSION.encode(), META_SPEC: json.dumps(spec.to_dict()).encode()}
    md.update(metadata or {})
    return pa.schema(step_fields(spec), metadata=md)


def feature_schema(spec: DatasetSpec) -> dict[str, dict[str, Any]]:
    """Human-readable feature table for teleforge.json: name -> dtype, shape, meaning."""
    out: dict[str, dict[str, Any]] = {}
    for f in step_fields(spec):
        t = f.type
        if pa.types.is_fixed_size_list(t):
            out[f.name] = {"dtype": str(t.value_type), "shape": [t.list_size]}
        elif pa.types.is_binary(t):
            cam = spec.camera(f.name[len(IMAGE_PREFIX):])
            out[f.name] = {"dtype": "image", "shape": [cam.height, cam.width, 3], "encoding": cam.encoding}
        else:
            out[f.name] = {"dtype": str(t), "shape": []}
    out["action"]["names"] = ["dx", "dy", "dz", "drx", "dry", "drz", "gripper"]
    out["action"]["meaning"] = "EE delta (m, axis-angle rad) in base frame per step; gripper target 0=open 1=closed"
    out["observation.state.ee_quat"]["meaning"] = "wxyz"
    out["target.ee_quat"]["meaning"] = "wxyz"
    return out


class BatchBuilder:
    """Accumulates StepRecords (with images already encoded) into one RecordBatch.

    Column-wise Python lists: cheap to append, one numpy stack per flush.
    """

    _VEC_COLS = (
        ("action", "action"),
        ("observation.state.joint_pos", "joint_pos"),
        ("observation.state.joint_vel", "joint_vel"),
        ("observation.state.ee_pos", "ee_pos"),
        ("observation.state.ee_quat", "ee_quat"),
        ("target.ee_pos", "target_ee_pos"),
        ("target.ee_quat", "target_ee_quat"),
        ("target.joint_pos", "target_joint_pos"),
        ("command.twist", "command_twist"),
    )
    _SCALAR_COLS = (
        ("observation.state.gripper", "gripper"),
        ("command.gripper", "command_gripper"),
        ("reward", "reward"),
        ("success", "success"),
        ("safety.hold", "hold"),
        ("safety.estop", "estop"),
        ("safety.clamped", "clamped"),
    )

    def __init__(self, spec: DatasetSpec, schema: pa.Schema) -> None:
        self.spec = spec
        self.schema = schema
        self._sizes = {f.name: f.type.list_size for f in schema if pa.types.is_fixed_size_list(f.type)}
        self.clear()

    def clear(self) -> None:
        self._cols: dict[str, list[Any]] = {f.name: [] for f in self.schema}

    def __len__(self) -> int:
        return len(self._cols["step"])

    def add(self, rec: StepRecord, encoded: dict[str, bytes]) -> None:
        c = self._cols
        for col, attr in self._VEC_COLS:
            v = np.asarray(getattr(rec, attr), dtype=np.float32).reshape(-1)
            if v.shape[0] != self._sizes[col]:
                raise DatasetError(
                    f"step {rec.step}: {col} has {v.shape[0]} values, the dataset expects {self._sizes[col]} "
                    f"(n_joints={self.spec.n_joints}); record into a dataset created for this robot"
                )
            c[col].append(v)
        for col, attr in self._SCALAR_COLS:
            c[col].append(getattr(rec, attr))
        c["step"].append(int(rec.step))
        c["tick_ns"].append(int(rec.tick_ns))
        for cam in self.spec.cameras:
            col = image_column(cam.name)
            data = encoded.get(cam.name)
            c[col].append(data)
            c[f"{col}.t_ns"].append(rec.image_t_ns.get(cam.name) if data is not None else None)
            c[f"{col}.seq"].append(rec.image_seq.get(cam.name) if data is not None else None)

    def build(self) -> pa.RecordBatch:
        arrays = []
        n = len(self)
        for f in self.schema:
            vals = self._cols[f.name]
            if pa.types.is_fixed_size_list(f.type):
                size = f.type.list_size
                flat = np.stack(vals).reshape(-1) if n else np.zeros(0, np.float32)
                arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), size))
            else:
                arrays.append(pa.array(vals, type=f.type))
        return pa.RecordBatch.from_arrays(arrays, schema=self.schema)
