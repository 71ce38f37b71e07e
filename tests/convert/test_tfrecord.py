"""TFRecord framing and tf.train.Example encoding against known vectors."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from teleforge.convert.rlds import tfrecord
from teleforge.convert.rlds.example_proto import (
    decode_example,
    decode_sequence_example,
    encode_example,
    encode_sequence_example,
)
from teleforge.errors import CorruptRecordError

# RFC 3720 (iSCSI) B.4 test vectors and the classic check value.
KNOWN = [
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
    (b"", 0),
]


@pytest.mark.parametrize("data,want", KNOWN)
def test_crc32c_known_vectors(data: bytes, want: int) -> None:
    assert tfrecord.crc32c(data) == want
    assert tfrecord.crc32c_fallback(data) == want


@pytest.mark.parametrize("n", [4095, 4096, 4097, 5000, 65_537, 1_000_003])
def test_numpy_fallback_matches_bytewise_crc_on_large_buffers(n: int) -> None:
    data = os.urandom(n)
    want = tfrecord._raw_py(data, 0xFFFFFFFF) ^ 0xFFFFFFFF
    assert tfrecord.crc32c_fallback(data) == want
    # continuing a CRC over a split buffer equals the CRC of the whole
    assert tfrecord.crc32c_fallback(data[n // 3:], tfrecord.crc32c_fallback(data[: n // 3])) == want


def test_masked_crc_matches_tensorflow_framing_of_known_record() -> None:
    # An empty record as TensorFlow writes it: length 0, masked CRC of 8 zero bytes, masked CRC of b"".
    framed = tfrecord.frame_record(b"")
    assert framed[:8] == bytes(8)
    crc0 = tfrecord.crc32c(bytes(8))
    assert struct.unpack("<I", framed[8:12])[0] == (((crc0 >> 15) | (crc0 << 17)) + 0xA282EAD8) & 0xFFFFFFFF
    assert struct.unpack("<I", framed[12:16])[0] == 0xA282EAD8  # masked CRC of nothing is the mask delta


def test_writer_reader_round_trip(tmp_path: Path) -> None:
    recs = [b"", b"a", os.urandom(10_000), b"xyz" * 5000]
    with tfrecord.TFRecordWriter(tmp_path / "r.tfrecord") as w:
        for r in recs:
            w.write(r)
    assert w.num_records == 4 and w.data_bytes == sum(map(len, recs))
    assert (tmp_path / "r.tfrecord").stat().st_size == w.file_bytes
    assert list(tfrecord.read_records(tmp_path / "r.tfrecord")) == recs


def test_truncated_file_names_file_and_record(tmp_path: Path) -> None:
    p = tmp_path / "t.tfrecord"
    p.write_bytes(tfrecord.frame_record(b"ok") + tfrecord.frame_record(b"x" * 100)[:50])
    with pytest.raises(CorruptRecordError, match=r"t\.tfrecord: record 1 .*truncated"):
        list(tfrecord.read_records(p))


def test_garbage_header_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "g.tfrecord"
    p.write_bytes(b"this is not a tfrecord file at all")
    with pytest.raises(CorruptRecordError, match=r"g\.tfrecord: record 0 .*length header"):
        list(tfrecord.read_records(p))


def test_example_round_trip_all_kinds() -> None:
    feats = {
        "f": np.array([1.5, -2.25, 3e-8], np.float32),
        "i": np.array([0, 1, -1, 127, 128, 2**40, -(2**63)], np.int64),
        "b": np.array([True, False, True]),
        "s": [b"", b"hello", bytes(range(256))],
        "empty_f": np.zeros(0, np.float32),
    }
    out = decode_example(encode_example(feats))
    np.testing.assert_array_equal(out["f"], feats["f"])
    np.testing.assert_array_equal(out["i"], feats["i"])
    assert out["b"].tolist() == [1, 0, 1] and out["s"] == feats["s"]
    assert out["empty_f"].size == 0


def test_example_bytes_match_protobuf_known_encoding() -> None:
    # Example{features{feature{key:"a" value{int64_list{value:[1,300]}}}}} in wire format:
    # Example.features (0a 0e) > map entry (0a 0c) > key "a" (0a 01 61) > value Feature (12 07)
    # > int64_list (1a 05) > packed values (0a 03 01 ac02)
    data = encode_example({"a": np.array([1, 300], np.int64)})
    assert data == bytes.fromhex("0a0e" "0a0c" "0a0161" "1207" "1a05" "0a03" "01ac02")


def test_sequence_example_round_trip() -> None:
    ctx = {"id": np.array([7], np.int64)}
    lists = {"obs": [np.array([1, 2], np.float32), np.array([3, 4], np.float32)], "txt": [[b"a"], [b"b", b"c"]]}
    c, fl = decode_sequence_example(encode_sequence_example(ctx, lists))
    assert c["id"].tolist() == [7]
    assert [x.tolist() for x in fl["obs"]] == [[1, 2], [3, 4]]
    assert fl["txt"] == [[b"a"], [b"b", b"c"]]


def test_malformed_example_raises_typed_error() -> None:
    with pytest.raises(CorruptRecordError):
        decode_example(b"\x0a\xff\xff\xff")
