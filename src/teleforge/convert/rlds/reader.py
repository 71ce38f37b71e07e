"""Reading RLDS back without TensorFlow: a reader (any Example-per-episode TFDS folder) and ``--check``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import simplejpeg

from teleforge.convert.rlds.example_proto import decode_example
from teleforge.convert.rlds.features import parse_features_json
from teleforge.convert.rlds.tfrecord import read_records
from teleforge.errors import CorruptRecordError, ExportError, ImportFormatError

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _read_json_object(path: Path) -> dict[str, Any]:
    """A JSON file that must hold an object; missing, unreadable or mistyped -> ExportError naming it."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ExportError(f"{path.parent} is not an RLDS dataset folder ({path.name} is missing)") from exc
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise ExportError(f"{path} is not valid JSON ({exc}); re-export or re-download the dataset") from exc
    if not isinstance(doc, dict):
        raise ExportError(f"{path} holds a JSON {type(doc).__name__}, not an object; re-export or re-download the dataset")
    return doc


def _check_info(info: dict[str, Any], path: Path) -> None:
    """name is a plain file name (shard paths are built from it: no '/', no '..'); splits are
    objects with a plain name and non-negative integer shard lengths."""
    name = info.get("name")
    # name (<= 160) + "-" + split (<= 64) + ".tfrecord-00000-of-00000" stays under the 255-byte file name limit
    if not isinstance(name, str) or not _SAFE_NAME.match(name) or ".." in name or len(name) > 160:
        raise ExportError(f"{path}: dataset name {str(name)[:60]!r}{'...' if len(str(name)) > 60 else ''} is not a plain "
                          "file name of at most 160 characters (shard paths are built from it)")
    splits = info.get("splits", [])
    if not isinstance(splits, list) or not all(isinstance(s, dict) for s in splits):
        raise ExportError(f"{path}: 'splits' must be a list of objects; re-export or re-download the dataset")
    for s in splits:
        if not isinstance(s.get("name"), str) or not _SAFE_NAME.match(s["name"]) or len(s["name"]) > 64:
            raise ExportError(f"{path}: split name {str(s.get('name'))[:60]!r} is not a plain name of at most 64 characters")
        lengths = s.get("shardLengths", [])
        try:
            ok = isinstance(lengths, list) and all(int(x) >= 0 for x in lengths) and len(lengths) < 100_000
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ExportError(f"{path}: split {s['name']!r} has shardLengths {str(lengths)[:80]}; expected a list of counts")


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
        self.info = _read_json_object(self.path / "dataset_info.json")
        features_path = self.path / "features.json"
        features = _read_json_object(features_path)
        try:
            self.step_features, self.episode_features = parse_features_json(features, strict)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ExportError(f"{features_path} is malformed ({exc!r}); re-export or re-download the dataset") from exc
        if self.info.get("fileFormat", "tfrecord") != "tfrecord":
            raise ExportError(f"{self.path}: file format {self.info.get('fileFormat')!r} is not supported; only tfrecord")
        _check_info(self.info, self.path / "dataset_info.json")

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
        """One Example -> an episode; a malformed record raises ImportFormatError naming ``where`` and the feature."""
        try:
            return self._decode(record, where)
        except (ValueError, TypeError, IndexError, KeyError, UnicodeDecodeError, AttributeError) as exc:
            raise ImportFormatError(f"{where}: malformed tf.train.Example ({exc!r}); re-export or re-download it") from exc

    def _decode(self, record: bytes, where: str) -> RldsEpisode:
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
            ev = raw.get(key)
            if ev is None:
                raise ExportError(f"{where}: episode feature {key!r} is missing")
            if spec.list_kind == "bytes":
                meta[key.split("/", 1)[-1]] = ev[0].decode() if spec.kind == "text" else ev[0]
            else:
                meta[key.split("/", 1)[-1]] = np.asarray(ev).astype(spec.dtype).reshape(spec.shape)[()]
        return RldsEpisode(steps, meta)

    def __iter__(self) -> Iterator[RldsEpisode]:
        for p, i, rec in self.records():
            yield self.decode(rec, f"{p}: record {i}")


# --- validation ----------------------------------------------------------------
@dataclass
class RldsCheckReport:
    """What :func:`check_rlds` read: counts, and every problem found (empty when the export is sound)."""

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
