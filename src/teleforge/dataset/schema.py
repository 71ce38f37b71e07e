"""The versioned native step schema: one Arrow row per control step.

``teleforge.json`` stores the :class:`DatasetSpec` and the format version;
every shard carries the same Arrow schema, built here from the spec and only here.
The native columns come from :data:`teleforge.spec.NATIVE_COLUMNS`; a robot's
extra declared state features add ``observation.state.<name>`` columns.

Format history: 1.0 native columns only; 1.1 adds the optional spec fields
``action_dim`` and ``extra_state`` (absent = the native 7-D action, no extras); 1.2 adds the
``control.intervention`` step column (older shards read it as all False); 1.3 adds per-camera depth
(``CameraConfig.depth``: an ``observation.depth.<cam>`` column of lossless 16-bit PNG, uint16 mm,
0 = no reading; absent in older datasets, whose cameras read as colour only) and the optional spec
field ``feature_names`` (the robot's declared per-value names of the action and state features).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.dataset.records import StepRecord
from teleforge.errors import DatasetError, FormatVersionError
from teleforge.names import check_key
from teleforge.spec import ACTION_DIM, ACTION_NAMES, NATIVE_COLUMNS, NATIVE_STATE_NAMES, STATE_PREFIX, NativeColumn

FORMAT_MAJOR = 1
FORMAT_MINOR = 3
FORMAT_VERSION = f"{FORMAT_MAJOR}.{FORMAT_MINOR}"

ENCODINGS = ("jpeg", "png", "raw")

# Shard metadata keys (schema metadata holds the start, the last batch's custom metadata the end).
META_START = b"teleforge.episode_start"
META_END = b"teleforge.episode_end"
META_VERSION = b"teleforge.format_version"
META_SPEC = b"teleforge.spec"

IMAGE_PREFIX = "observation.images."
DEPTH_PREFIX = "observation.depth."
DEPTH_ENCODING = "png16"  # lossless 16-bit greyscale PNG of uint16 millimetres


@dataclass
class CameraConfig:
    """One recorded camera: its frame size and how frames are stored; ``depth``: it also records
    a per-step (H, W) uint16 depth image in millimetres (0 = no reading), lossless (format 1.3)."""

    name: str
    height: int
    width: int
    encoding: str = "jpeg"  # "jpeg" | "png" | "raw"
    quality: int = 95  # JPEG quality; ignored for png/raw
    depth: bool = False

    def __post_init__(self) -> None:
        if self.encoding not in ENCODINGS:
            raise DatasetError(f"camera {self.name!r}: unknown encoding {self.encoding!r}; use one of {', '.join(ENCODINGS)}")
        check_key(self.name, "camera name")  # it becomes a column, a file name and generated-config text
        if not 1 <= int(self.quality) <= 100:
            raise DatasetError(f"camera {self.name!r}: JPEG quality {self.quality} must be in 1..100")


@dataclass
class DatasetSpec:
    """What every episode of a dataset shares: rate (Hz), robot, cameras and the
    recorded features -- joint count, action width and extra state features
    (name -> float32 values per step, recorded as ``observation.state.<name>``)."""

    fps: float
    robot_embodiment: str
    n_joints: int
    cameras: list[CameraConfig] = field(default_factory=list)
    action_dim: int = ACTION_DIM
    extra_state: dict[str, int] = field(default_factory=dict)
    # Declared per-element names (format 1.3, optional): "action" and state feature names (e.g. "joint_pos")
    # -> one name per value, as the robot declared them (a LeRobot arm: "shoulder_pan.pos", ...).
    feature_names: dict[str, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.action_dim) < 1:
            raise DatasetError(f"action_dim must be at least 1, got {self.action_dim}")
        for name, width in self.extra_state.items():
            check_key(name, "extra state feature")  # it becomes the column observation.state.<name>
            if name in NATIVE_STATE_NAMES:
                raise DatasetError(
                    f"extra state feature {name!r} must be non-empty, contain no '.' or '/', and not be one of the "
                    f"native ones ({', '.join(NATIVE_STATE_NAMES)})"
                )
            if int(width) < 1:
                raise DatasetError(f"extra state feature {name!r} needs at least one value per step, got {width}")
        widths = {"action": int(self.action_dim), "joint_pos": int(self.n_joints), **self.extra_state}
        for name, names in self.feature_names.items():
            if name not in widths or len(names) != widths[name] or not all(isinstance(n, str) and n for n in names):
                raise DatasetError(f"feature_names[{name!r}] must name each of the {widths.get(name, '?')} values of a "
                                   f"recorded feature ({', '.join(widths)}), got {names!r}")

    @classmethod
    def from_features(
        cls,
        fps: float,
        robot_embodiment: str,
        state: Mapping[str, tuple[int, ...]],
        action_shape: tuple[int, ...] = (ACTION_DIM,),
        cameras: list[CameraConfig] | None = None,
        n_joints: int | None = None,
        feature_names: Mapping[str, Sequence[str]] | None = None,
    ) -> DatasetSpec:
        """The spec a robot's declared features ask for, from plain shapes: ``state`` maps
        feature name -> shape (``joint_pos`` gives the joint count unless ``n_joints`` is
        given; names beyond the native ones become extra float32 columns, flattened)."""
        if n_joints is None:
            if "joint_pos" not in state:
                raise DatasetError("the robot declares no 'joint_pos' state feature; pass n_joints explicitly")
            n_joints = _width(state["joint_pos"])
        extras = {name: _width(shape) for name, shape in state.items() if name not in NATIVE_STATE_NAMES}
        return cls(
            fps=float(fps),
            robot_embodiment=str(robot_embodiment),
            n_joints=int(n_joints),
            cameras=list(cameras or []),
            action_dim=_width(action_shape),
            extra_state=extras,
            feature_names={k: [str(n) for n in v] for k, v in (feature_names or {}).items()},
        )

    def camera(self, name: str) -> CameraConfig:
        """The camera called ``name``; DatasetError listing the cameras otherwise."""
        for c in self.cameras:
            if c.name == name:
                return c
        raise DatasetError(f"no camera {name!r} in this dataset; it has: {', '.join(self.camera_names) or 'none'}")

    @property
    def camera_names(self) -> list[str]:
        """Camera names, in column order."""
        return [c.name for c in self.cameras]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict; the 1.1 fields appear only when they differ from the 1.0 defaults,
        so a native-only spec reads exactly as before."""
        d = asdict(self)
        for cam in d["cameras"]:  # colour-only cameras read exactly as before 1.3
            if not cam["depth"]:
                del cam["depth"]
        if d["action_dim"] == ACTION_DIM:
            del d["action_dim"]
        if not d["extra_state"]:
            del d["extra_state"]
        if not d["feature_names"]:
            del d["feature_names"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetSpec:
        """Parse :meth:`to_dict` output (or a manifest); fields added after 1.0 default when absent."""
        try:
            return cls(
                fps=float(d["fps"]),
                robot_embodiment=str(d["robot_embodiment"]),
                n_joints=int(d["n_joints"]),
                cameras=[CameraConfig(**{**c, "depth": bool(c.get("depth", False))}) for c in d.get("cameras", [])],
                action_dim=int(d.get("action_dim", ACTION_DIM)),
                extra_state={str(k): int(v) for k, v in (d.get("extra_state") or {}).items()},
                feature_names={str(k): [str(n) for n in v] for k, v in (d.get("feature_names") or {}).items()},
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DatasetError(f"malformed dataset spec ({exc}); expected fps, robot_embodiment, n_joints, cameras") from exc


def _width(shape: tuple[int, ...] | list[int]) -> int:
    """Values per step of a feature of ``shape`` (a scalar, shape (), has one)."""
    return int(math.prod(int(n) for n in shape))


def parse_version(version: str) -> tuple[int, int]:
    """'1.0' -> (1, 0); DatasetError for anything else."""
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
    """The column holding camera ``cam``'s encoded frames."""
    return f"{IMAGE_PREFIX}{cam}"


def depth_column(cam: str) -> str:
    """The column holding camera ``cam``'s depth frames (16-bit PNG bytes; null = no depth that step).
    A depth frame shares its colour frame's ``.t_ns`` / ``.seq`` (RGB-D sensors align them)."""
    return f"{DEPTH_PREFIX}{cam}"


def state_column(name: str) -> str:
    """The column of state feature ``name`` (native or extra): ``observation.state.<name>``."""
    return f"{STATE_PREFIX}{name}"


def _vec(n: int) -> pa.DataType:
    return pa.list_(pa.float32(), n)


def _native_type(col: NativeColumn, spec: DatasetSpec) -> pa.DataType:
    if col.kind == "vector":
        return _vec(col.length(spec.n_joints, spec.action_dim))
    return pa.bool_() if col.kind == "bool" else pa.float32()


def step_fields(spec: DatasetSpec) -> list[pa.Field]:
    """Column order of a shard: step, tick_ns, the native columns, extra state, cameras.
    Image columns are nullable: a camera may not have delivered yet."""
    fields = [
        pa.field("step", pa.int32(), nullable=False),
        pa.field("tick_ns", pa.int64(), nullable=False),
    ]
    fields += [pa.field(c.name, _native_type(c, spec), nullable=False) for c in NATIVE_COLUMNS]
    fields += [pa.field(state_column(name), _vec(width), nullable=False) for name, width in spec.extra_state.items()]
    for cam in spec.cameras:
        col = image_column(cam.name)
        fields += [
            pa.field(col, pa.binary()),
            pa.field(f"{col}.t_ns", pa.int64()),
            pa.field(f"{col}.seq", pa.int64()),
        ]
        if cam.depth:
            fields.append(pa.field(depth_column(cam.name), pa.binary()))
    return fields


def step_schema(spec: DatasetSpec, metadata: dict[bytes, bytes] | None = None) -> pa.Schema:
    """The Arrow schema of every shard of ``spec``, with the format version and spec in its metadata."""
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
        elif pa.types.is_binary(t) and f.name.startswith(DEPTH_PREFIX):
            cam = spec.camera(f.name[len(DEPTH_PREFIX):])
            out[f.name] = {"dtype": "depth", "shape": [cam.height, cam.width], "encoding": DEPTH_ENCODING,
                           "unit": "mm", "meaning": "depth aligned to the colour frame, uint16 mm, 0 = no reading"}
        elif pa.types.is_binary(t):
            cam = spec.camera(f.name[len(IMAGE_PREFIX):])
            out[f.name] = {"dtype": "image", "shape": [cam.height, cam.width, 3], "encoding": cam.encoding}
        else:
            out[f.name] = {"dtype": str(t), "shape": []}
    if "action" in spec.feature_names:
        out["action"]["names"] = list(spec.feature_names["action"])
    elif spec.action_dim == ACTION_DIM:
        out["action"]["names"] = list(ACTION_NAMES)
    for name, names in spec.feature_names.items():
        if name != "action":
            out[state_column(name)]["names"] = list(names)
    for c in NATIVE_COLUMNS:
        if c.meaning:
            out[c.name]["meaning"] = c.meaning
    for name in spec.extra_state:
        out[state_column(name)]["meaning"] = "robot-declared state feature"
    return out


class BatchBuilder:
    """Accumulates StepRecords (with images already encoded) into one RecordBatch.

    Column-wise Python lists: cheap to append, one numpy stack per flush.
    """

    _VEC_COLS: tuple[tuple[str, str], ...] = tuple((c.name, c.attr) for c in NATIVE_COLUMNS if c.kind == "vector")
    _SCALAR_COLS: tuple[tuple[str, str], ...] = tuple((c.name, c.attr) for c in NATIVE_COLUMNS if c.kind != "vector")

    def __init__(self, spec: DatasetSpec, schema: pa.Schema) -> None:
        self.spec = spec
        self.schema = schema
        self._sizes = {f.name: f.type.list_size for f in schema if pa.types.is_fixed_size_list(f.type)}
        self._extra_cols = tuple((state_column(name), name) for name in spec.extra_state)
        self.clear()

    def clear(self) -> None:
        """Drop every buffered step (after a batch was written)."""
        self._cols: dict[str, list[Any]] = {f.name: [] for f in self.schema}

    def __len__(self) -> int:
        return len(self._cols["step"])

    def _vector(self, rec: StepRecord, col: str, value: Any) -> np.ndarray:
        v = np.asarray(value, dtype=np.float32).reshape(-1)
        if v.shape[0] != self._sizes[col]:
            raise DatasetError(
                f"step {rec.step}: {col} has {v.shape[0]} values, the dataset expects {self._sizes[col]} "
                f"(n_joints={self.spec.n_joints}, action_dim={self.spec.action_dim}); "
                "record into a dataset created for this robot"
            )
        return v

    def add(self, rec: StepRecord, encoded: dict[str, bytes]) -> None:
        """Buffer one step; ``encoded`` maps camera -> image bytes and ``depth_column(camera)`` ->
        depth bytes (missing = no frame yet)."""
        c = self._cols
        for col, attr in self._VEC_COLS:
            c[col].append(self._vector(rec, col, getattr(rec, attr)))
        for col, attr in self._SCALAR_COLS:
            c[col].append(getattr(rec, attr))
        for col, name in self._extra_cols:
            if name not in rec.state_extras:
                raise DatasetError(
                    f"step {rec.step}: the dataset records state feature {name!r} but the step has none; "
                    f"the robot must report it in RobotState.extras (it has: {', '.join(rec.state_extras) or 'none'})"
                )
            c[col].append(self._vector(rec, col, rec.state_extras[name]))
        c["step"].append(int(rec.step))
        c["tick_ns"].append(int(rec.tick_ns))
        for cam in self.spec.cameras:
            col = image_column(cam.name)
            data = encoded.get(cam.name)
            c[col].append(data)
            c[f"{col}.t_ns"].append(rec.image_t_ns.get(cam.name) if data is not None else None)
            c[f"{col}.seq"].append(rec.image_seq.get(cam.name) if data is not None else None)
            if cam.depth:
                dcol = depth_column(cam.name)
                c[dcol].append(encoded.get(dcol))

    def build(self) -> pa.RecordBatch:
        """The buffered steps as one RecordBatch of :attr:`schema` (buffer kept; call clear())."""
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
