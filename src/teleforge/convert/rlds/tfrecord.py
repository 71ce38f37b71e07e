"""TFRecord framing without TensorFlow: length + masked CRC32C, writer and reader.

Each record on disk is::

    uint64 length (little endian) | uint32 masked_crc32c(length bytes) | data | uint32 masked_crc32c(data)

CRC32C (Castagnoli) uses the ``crc32c`` or ``google-crc32c`` package when one is
installed (hardware accelerated); otherwise a numpy fallback computes many slices
of the buffer in parallel and combines them with GF(2) shift operators, which keeps
multi-megabyte episode records fast without a C extension.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from teleforge.errors import CorruptRecordError

_POLY = 0x82F63B78  # reflected Castagnoli polynomial
_MASK_DELTA = 0xA282EAD8


def _make_table() -> np.ndarray:
    table = np.zeros(256, np.uint32)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table[i] = c
    return table


_TABLE = _make_table()
_TABLE_LIST = [int(x) for x in _TABLE]


def _raw_py(data: bytes | bytearray | memoryview, reg: int) -> int:
    """The CRC register after feeding ``data`` (no init / final inversion)."""
    t = _TABLE_LIST
    for b in bytes(data):
        reg = t[(reg ^ b) & 0xFF] ^ (reg >> 8)
    return reg


# --- GF(2) operators: "advance the register over n zero bytes" ---------------
def _op_zero_byte() -> np.ndarray:
    """Column images of the one-zero-byte operator: op[i] = image of bit i."""
    return np.array([_raw_py(b"\0", 1 << i) for i in range(32)], dtype=np.uint32)


def _apply(op: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Apply a 32x32 GF(2) operator (given by its bit images) to every uint32 in ``v``."""
    out = np.zeros_like(v)
    for i in range(32):
        out ^= np.where((v >> np.uint32(i)) & np.uint32(1), op[i], np.uint32(0))
    return out


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Operator a∘b (apply b, then a)."""
    return _apply(a, b)


def _byte_tables(op: np.ndarray) -> np.ndarray:
    """Four 256-entry lookup tables so that op(v) = T0[v&ff] ^ T1[v>>8&ff] ^ T2[..] ^ T3[..]."""
    vals = np.arange(256, dtype=np.uint32)
    return np.stack([_apply(op, vals << np.uint32(8 * k)) for k in range(4)])


def _apply_tables(tables: np.ndarray, v: np.ndarray) -> np.ndarray:
    ff = np.uint32(0xFF)
    return (
        tables[0][v & ff]
        ^ tables[1][(v >> np.uint32(8)) & ff]
        ^ tables[2][(v >> np.uint32(16)) & ff]
        ^ tables[3][v >> np.uint32(24)]
    )


_ZERO_OPS: dict[int, np.ndarray] = {}  # n bytes -> operator, powers of two only
_ZERO_TABLES: dict[int, np.ndarray] = {}


def _zero_op(n: int) -> np.ndarray:
    """The operator for n zero bytes, n a power of two (built by squaring)."""
    if n not in _ZERO_OPS:
        if n == 1:
            _ZERO_OPS[1] = _op_zero_byte()
        else:
            half = _zero_op(n // 2)
            _ZERO_OPS[n] = _compose(half, half)
    return _ZERO_OPS[n]


def _zero_tables(n: int) -> np.ndarray:
    if n not in _ZERO_TABLES:
        _ZERO_TABLES[n] = _byte_tables(_zero_op(n))
    return _ZERO_TABLES[n]


def _advance(reg: int, n: int) -> int:
    """The register after n zero bytes."""
    v = np.array([reg], np.uint32)
    bit = 1
    while n:
        if n & 1:
            v = _apply_tables(_zero_tables(bit), v)
        n >>= 1
        bit <<= 1
    return int(v[0])


_SMALL = 4096
_SLICE = 64  # bytes each parallel lane walks before the lanes are combined


def _raw_numpy(data: bytes | bytearray | memoryview) -> int:
    """Register (started at 0) after ``data``: lanes walk slices in parallel, then a tree combine.

    Leading zero bytes leave a zero register unchanged, so the buffer is padded at
    the front to a whole number of lanes.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    n = buf.size
    lanes = 1
    while lanes * _SLICE < n:
        lanes *= 2
    width = -(-n // lanes)
    padded = np.zeros(lanes * width, np.uint8)
    padded[lanes * width - n:] = buf
    cols = padded.reshape(lanes, width)
    reg = np.zeros(lanes, np.uint32)
    table = _TABLE
    ff = np.uint32(0xFF)
    eight = np.uint32(8)
    for j in range(width):
        reg = table[(reg ^ cols[:, j]) & ff] ^ (reg >> eight)
    span = width
    while reg.size > 1:
        # combine neighbours: raw(A||B) = advance(raw(A), |B|) ^ raw(B)
        left, right = reg[0::2], reg[1::2]
        reg = _apply_tables(_span_tables(span), left) ^ right
        span *= 2
    return int(reg[0])


_SPAN_TABLES: dict[int, np.ndarray] = {}


def _span_tables(n: int) -> np.ndarray:
    """Lookup tables for the n-zero-bytes operator, any n (cached; few distinct n occur)."""
    if n not in _SPAN_TABLES:
        op: np.ndarray | None = None
        bit, m = 1, n
        while m:
            if m & 1:
                op = _zero_op(bit) if op is None else _compose(_zero_op(bit), op)
            m >>= 1
            bit <<= 1
        assert op is not None
        if len(_SPAN_TABLES) > 64:
            _SPAN_TABLES.clear()
        _SPAN_TABLES[n] = _byte_tables(op)
    return _SPAN_TABLES[n]


def crc32c_fallback(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC32C of ``data`` continuing from ``crc`` (0 to start), pure numpy/Python."""
    reg = (crc ^ 0xFFFFFFFF) & 0xFFFFFFFF
    n = len(data)
    if n <= _SMALL:
        return _raw_py(data, reg) ^ 0xFFFFFFFF
    # Linearity: feeding data from register r equals advance(r, n) ^ raw_from_zero(data).
    return (_advance(reg, n) ^ _raw_numpy(data)) ^ 0xFFFFFFFF


def _native() -> tuple[str, Callable[[bytes | bytearray | memoryview, int], int]] | None:
    """A C CRC32C backend if one is installed (tried in order); None means the numpy fallback."""
    try:
        import crc32c as _c

        return "crc32c", lambda data, crc=0: _c.crc32c(data, crc)  # takes any buffer: no copy
    except ImportError:
        pass
    try:
        import google_crc32c as _g

        return "google-crc32c", lambda data, crc=0: _g.extend(crc, bytes(data))
    except ImportError:
        return None


_NATIVE = None if os.environ.get("TELEFORGE_PURE_CRC") else _native()
CRC_BACKEND: str = _NATIVE[0] if _NATIVE else "numpy"


def crc32c(data: bytes | bytearray | memoryview, crc: int = 0) -> int:
    """CRC32C (Castagnoli) of ``data``; pass a previous value as ``crc`` to continue it."""
    if _NATIVE is not None:
        return _NATIVE[1](data, crc) & 0xFFFFFFFF
    return crc32c_fallback(data, crc)


def masked_crc32c(data: bytes | memoryview) -> int:
    """The masked CRC TFRecord stores (rotate right 15, add a constant)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


_U64 = struct.Struct("<Q")
_U32 = struct.Struct("<I")
HEADER_BYTES = 12
FOOTER_BYTES = 4


def frame_record(data: bytes) -> bytes:
    """One record with its TFRecord framing."""
    length = _U64.pack(len(data))
    return length + _U32.pack(masked_crc32c(length)) + data + _U32.pack(masked_crc32c(data))


class TFRecordWriter:
    """Appends framed records to a file; counts records and bytes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._f: BinaryIO = open(self.path, "wb", buffering=1 << 20)  # small headers coalesce; images pass through
        self.num_records = 0
        self.data_bytes = 0  # payload bytes, what TFDS reports as a split's num_bytes
        self.file_bytes = 0

    def write(self, data: bytes) -> None:
        length = _U64.pack(len(data))
        self._f.write(length)
        self._f.write(_U32.pack(masked_crc32c(length)))
        self._f.write(data)
        self._f.write(_U32.pack(masked_crc32c(data)))
        self.num_records += 1
        self.data_bytes += len(data)
        self.file_bytes += len(data) + HEADER_BYTES + FOOTER_BYTES

    def write_stream(self, size: int, pieces: Iterable[bytes | bytearray | memoryview]) -> None:
        """One record of ``size`` bytes given as pieces, written and CRC-checked as they come.

        The header needs the length before the data, so the caller computes ``size`` first
        (see ``example_proto.example_parts``); nothing larger than one piece is held here.
        Raises ValueError when the pieces do not add up to ``size``.
        """
        length = _U64.pack(size)
        f = self._f
        f.write(length)
        f.write(_U32.pack(masked_crc32c(length)))
        crc = 0
        written = 0
        for piece in pieces:
            crc = crc32c(piece, crc)
            written += f.write(piece)
        if written != size:
            raise ValueError(f"record announced {size} bytes but {written} were written")
        crc = (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF
        f.write(_U32.pack(crc))
        self.num_records += 1
        self.data_bytes += size
        self.file_bytes += size + HEADER_BYTES + FOOTER_BYTES

    def close(self, fsync: bool = True) -> None:
        if self._f.closed:
            return
        self._f.flush()
        if fsync:
            os.fsync(self._f.fileno())
        self._f.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_records(path: Path | str, verify: bool = True) -> Iterator[bytes]:
    """Every record of a TFRecord file; raises CorruptRecordError naming the file and record index."""
    path = Path(path)
    try:
        f = open(path, "rb")
    except OSError as exc:
        raise CorruptRecordError(f"{path}: cannot open ({exc.strerror or exc}); re-export or re-download it") from exc
    with f:
        size = os.fstat(f.fileno()).st_size
        index = 0
        offset = 0
        while True:
            header = f.read(HEADER_BYTES)
            if not header:
                return
            where = f"{path}: record {index} (byte offset {offset})"
            if len(header) < HEADER_BYTES:
                raise CorruptRecordError(
                    f"{where} is truncated: {len(header)} of {HEADER_BYTES} header bytes. "
                    "The file was cut short; re-export it (`teleforge export rlds ... --overwrite`)."
                )
            length_bytes = header[:8]
            (length,) = _U64.unpack(length_bytes)
            (length_crc,) = _U32.unpack(header[8:])
            if verify and masked_crc32c(length_bytes) != length_crc:
                raise CorruptRecordError(
                    f"{where}: the length header fails its CRC check (not a TFRecord file, or corrupted). "
                    "Re-export or re-download this file."
                )
            # Checked before reading: a crafted length must not allocate (2**40 bytes is a MemoryError).
            if length > size - offset - HEADER_BYTES - FOOTER_BYTES:
                raise CorruptRecordError(
                    f"{where}: the header declares {length} data bytes but only {max(0, size - offset - HEADER_BYTES)} "
                    "remain in the file; the file is truncated or corrupted. Re-export or re-download it."
                )
            data = f.read(length)
            footer = f.read(FOOTER_BYTES)
            if len(data) < length or len(footer) < FOOTER_BYTES:
                raise CorruptRecordError(
                    f"{where} is truncated: expected {length} data bytes, found {len(data)}. "
                    "The file was cut short; re-export it."
                )
            if verify and masked_crc32c(data) != _U32.unpack(footer)[0]:
                raise CorruptRecordError(
                    f"{where}: the data fails its CRC32C check ({length} bytes); the file is corrupted. "
                    "Re-export or re-download this file."
                )
            yield data
            index += 1
            offset += HEADER_BYTES + length + FOOTER_BYTES
