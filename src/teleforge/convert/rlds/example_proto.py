"""tf.train.Example and tf.train.SequenceExample in protobuf wire format, by hand.

Messages (tensorflow/core/example/{example,feature}.proto)::

    Example         { Features features = 1; }
    SequenceExample { Features context = 1; FeatureLists feature_lists = 2; }
    Features        { map<string, Feature> feature = 1; }
    FeatureLists    { map<string, FeatureList> feature_list = 1; }
    FeatureList     { repeated Feature feature = 1; }
    Feature         { oneof kind { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    BytesList { repeated bytes value = 1; }  FloatList { repeated float value = 1 [packed]; }
    Int64List { repeated int64 value = 1 [packed]; }

A feature value is ``list[bytes]`` (bytes_list), a float32 array (float_list) or an
int64 array (int64_list); bool and integer arrays are stored as int64, like TFDS does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

from teleforge.errors import CorruptRecordError

FeatureValue = Union[list[bytes], np.ndarray]


# --- writing -----------------------------------------------------------------
def _varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64  # int64 negatives are ten-byte two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _varints(values: np.ndarray) -> bytes:
    """Packed varints of an int64 array (vectorized: 7 bits per byte, continuation bit)."""
    v = values.astype(np.int64, copy=False).view(np.uint64)
    if v.size == 0:
        return b""
    if int(v.max()) < 0x80:
        return v.astype(np.uint8).tobytes()
    groups = np.stack([(v >> np.uint64(7 * k)) & np.uint64(0x7F) for k in range(10)], axis=1).astype(np.uint8)
    # number of bytes each value needs: index of its highest non-zero 7-bit group, at least 1
    nz = groups != 0
    nbytes = np.where(nz.any(axis=1), 10 - np.argmax(nz[:, ::-1], axis=1), 1)
    cont = np.arange(10)[None, :] < (nbytes[:, None] - 1)
    groups = groups | (cont.astype(np.uint8) << np.uint8(7))
    keep = np.arange(10)[None, :] < nbytes[:, None]
    return groups[keep].tobytes()


def _field(num: int, payload: bytes) -> bytes:
    """A length-delimited field (wire type 2)."""
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def encode_feature(value: FeatureValue | Sequence[bytes] | Sequence[str]) -> bytes:
    """One Feature message."""
    if isinstance(value, np.ndarray) and value.dtype != object:
        if value.dtype.kind == "f":
            packed = np.ascontiguousarray(value, dtype="<f4").reshape(-1).tobytes()
            return _field(2, _field(1, packed) if packed else b"")
        if value.dtype.kind in "iub":
            packed = _varints(np.asarray(value, dtype=np.int64).reshape(-1))
            return _field(3, _field(1, packed) if packed else b"")
        if value.dtype.kind in "SU":
            value = list(value.reshape(-1))
        else:
            raise TypeError(f"cannot store dtype {value.dtype} in a tf.train.Feature")
    parts = []
    for item in value:
        b = item.encode() if isinstance(item, str) else bytes(item)
        parts.append(_field(1, b))
    return _field(1, b"".join(parts))


def encode_features(features: Mapping[str, FeatureValue]) -> bytes:
    """A Features message (map entries in key order, so output is deterministic)."""
    parts = []
    for key in sorted(features):
        entry = _field(1, key.encode()) + _field(2, encode_feature(features[key]))
        parts.append(_field(1, entry))
    return b"".join(parts)


def encode_example(features: Mapping[str, FeatureValue]) -> bytes:
    """A serialized tf.train.Example."""
    return _field(1, encode_features(features))


def encode_sequence_example(
    context: Mapping[str, FeatureValue], feature_lists: Mapping[str, Sequence[FeatureValue]]
) -> bytes:
    """A serialized tf.train.SequenceExample."""
    lists = []
    for key in sorted(feature_lists):
        fl = b"".join(_field(1, encode_feature(f)) for f in feature_lists[key])
        lists.append(_field(1, _field(1, key.encode()) + _field(2, fl)))
    return _field(1, encode_features(context)) + _field(2, b"".join(lists))


# --- streaming: sizes first, big values written once -------------------------
def varint_sizes(values: np.ndarray) -> np.ndarray:
    """Bytes each non-negative integer takes as a varint (vectorized), int64 array."""
    v = np.asarray(values, dtype=np.int64)
    n = np.ones(v.shape, np.int64)
    for k in range(1, 10):
        n += v >= (1 << (7 * k))
    return n


@dataclass
class StreamedBytes:
    """A bytes_list feature whose values are not held in memory: their sizes are known up front.

    ``lengths`` is the (N,) int64 byte length of each value; ``values()`` yields the N values
    (any bytes-like object, e.g. a memoryview into a reused buffer) in order, each exactly
    its announced length. The Example around them is framed from the sizes alone, so an
    episode's image bytes are read and written once, one value at a time.
    """

    lengths: np.ndarray
    values: Callable[[], Iterable[bytes | bytearray | memoryview]]

    @property
    def payload_size(self) -> int:
        """Size of the BytesList message: a tag byte + varint length + bytes per value."""
        lens = np.asarray(self.lengths, np.int64)
        return int(lens.sum() + (1 + varint_sizes(lens)).sum()) if lens.size else 0


# One streamed message: small, already encoded byte strings and StreamedBytes runs, in order.
Part = Union[bytes, StreamedBytes]


def _header(num: int, size: int) -> bytes:
    """Tag and length of a length-delimited field whose payload is ``size`` bytes."""
    return _varint((num << 3) | 2) + _varint(size)


def _part_size(part: Part) -> int:
    return len(part) if isinstance(part, bytes) else part.payload_size


def example_parts(features: Mapping[str, FeatureValue | StreamedBytes]) -> tuple[int, list[Part]]:
    """A tf.train.Example as (total size in bytes, parts in write order), byte-identical to
    :func:`encode_example` on the same values; StreamedBytes values stay unread."""
    entries: list[Part] = []
    for key in sorted(features):
        value = features[key]
        kb = _field(1, key.encode())
        if isinstance(value, StreamedBytes):
            inner = value.payload_size  # BytesList
            feature = _header(1, inner)  # Feature.bytes_list
            feature_size = len(feature) + inner
            head = kb + _header(2, feature_size) + feature
            entry_size = len(head) + inner
            entries += [_header(1, entry_size) + head, value]
        else:
            entries.append(_field(1, kb + _field(2, encode_feature(value))))
    features_size = sum(_part_size(p) for p in entries)
    parts: list[Part] = [_header(1, features_size), *entries]
    return sum(_part_size(p) for p in parts), parts


def iter_part_bytes(parts: Sequence[Part]) -> Iterator[bytes | bytearray | memoryview]:
    """The byte pieces of ``parts`` in order (each streamed value preceded by its tag and length).

    Raises ValueError when a streamed value's length differs from the one announced,
    since the framing around it would then be wrong.
    """
    for part in parts:
        if isinstance(part, bytes):
            yield part
            continue
        lengths = part.lengths
        i = -1
        for i, value in enumerate(part.values()):
            n = len(value) if not isinstance(value, memoryview) else value.nbytes
            if i >= len(lengths) or n != int(lengths[i]):
                raise ValueError(f"streamed value {i} is {n} bytes; {int(lengths[i]) if i < len(lengths) else 'none'} announced")
            yield b"\n" + _varint(n)  # field 1, wire type 2
            yield value
        if i + 1 != len(lengths):
            raise ValueError(f"streamed {i + 1} values; {len(lengths)} announced")


# --- reading -----------------------------------------------------------------
class _Malformed(ValueError):
    pass


def _read_varint(buf: memoryview, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise _Malformed("truncated varint")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 70:
            raise _Malformed("varint too long")


def _fields(buf: memoryview):
    """(field number, wire type, value) for every field; value is a memoryview for type 2."""
    pos = 0
    n = len(buf)
    while pos < n:
        key, pos = _read_varint(buf, pos)
        num, wt = key >> 3, key & 7
        if wt == 2:
            length, pos = _read_varint(buf, pos)
            if pos + length > n:
                raise _Malformed("length-delimited field runs past the end")
            yield num, wt, buf[pos:pos + length]
            pos += length
        elif wt == 0:
            v, pos = _read_varint(buf, pos)
            yield num, wt, v
        elif wt == 5:
            yield num, wt, buf[pos:pos + 4]
            pos += 4
        elif wt == 1:
            yield num, wt, buf[pos:pos + 8]
            pos += 8
        else:
            raise _Malformed(f"unsupported wire type {wt}")


def _decode_varints(data: memoryview) -> np.ndarray:
    raw = np.frombuffer(data, dtype=np.uint8)
    if raw.size and int(raw.max()) < 0x80:  # every value fits one byte (bools, small ints)
        return raw.astype(np.int64)
    vals = []
    pos = 0
    while pos < len(data):
        v, pos = _read_varint(data, pos)
        vals.append(v - (1 << 64) if v >= 1 << 63 else v)
    return np.array(vals, dtype=np.int64)


def decode_feature(buf: memoryview) -> FeatureValue:
    kind = None
    out: list = []
    for num, wt, val in _fields(buf):
        kind = num
        for inner_num, inner_wt, v in _fields(val):
            if inner_num != 1:
                continue
            if num == 1:
                out.append(bytes(v))
            elif num == 2:
                out.append(np.frombuffer(v, "<f4"))  # packed (2) or one fixed32 (5)
            elif num == 3:
                out.append(_decode_varints(v) if inner_wt == 2 else np.array([v if v < 1 << 63 else v - (1 << 64)], np.int64))
    if kind == 1:
        return out
    if kind == 2:
        return np.concatenate(out).astype(np.float32) if out else np.zeros(0, np.float32)
    if kind == 3:
        return np.concatenate(out) if out else np.zeros(0, np.int64)
    return []  # an empty Feature (no kind set)


def _decode_features(buf: memoryview) -> dict[str, FeatureValue]:
    out: dict[str, FeatureValue] = {}
    for num, _, entry in _fields(buf):
        if num != 1:
            continue
        key, value = "", memoryview(b"")
        for n2, _, v in _fields(entry):
            if n2 == 1:
                key = bytes(v).decode()
            elif n2 == 2:
                value = v
        out[key] = decode_feature(value)
    return out


def decode_example(data: bytes | memoryview) -> dict[str, FeatureValue]:
    """Parse a serialized tf.train.Example into {key: list[bytes] | float32 array | int64 array}."""
    try:
        buf = memoryview(data)
        out: dict[str, FeatureValue] = {}
        for num, _, v in _fields(buf):
            if num == 1:
                out.update(_decode_features(v))
        return out
    except (_Malformed, UnicodeDecodeError) as exc:
        raise CorruptRecordError(f"not a valid tf.train.Example ({exc})") from exc


def decode_sequence_example(data: bytes | memoryview) -> tuple[dict[str, FeatureValue], dict[str, list[FeatureValue]]]:
    """Parse a serialized tf.train.SequenceExample into (context, feature_lists)."""
    try:
        context: dict[str, FeatureValue] = {}
        lists: dict[str, list[FeatureValue]] = {}
        for num, _, v in _fields(memoryview(data)):
            if num == 1:
                context.update(_decode_features(v))
            elif num == 2:
                for n2, _, entry in _fields(v):
                    if n2 != 1:
                        continue
                    key, feats = "", []
                    for n3, _, ev in _fields(entry):
                        if n3 == 1:
                            key = bytes(ev).decode()
                        elif n3 == 2:
                            feats = [decode_feature(f) for n4, _, f in _fields(ev) if n4 == 1]
                    lists[key] = feats
        return context, lists
    except (_Malformed, UnicodeDecodeError) as exc:
        raise CorruptRecordError(f"not a valid tf.train.SequenceExample ({exc})") from exc
