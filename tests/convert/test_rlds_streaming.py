"""The streamed RLDS writer frames the same bytes the in-memory encoder makes."""

from __future__ import annotations

import numpy as np
from tests.convert.h5_synth import build_dataset, write_view

from teleforge.convert.rlds.config import RldsExportConfig
from teleforge.convert.rlds.example_proto import StreamedBytes, encode_example, example_parts, iter_part_bytes
from teleforge.convert.rlds.tfrecord import TFRecordWriter, frame_record
from teleforge.convert.rlds.writer import episode_arrays, write_episode
from teleforge.dataset.selection import select


def test_example_parts_match_encode_example(tmp_path) -> None:
    rng = np.random.default_rng(0)
    frames = [rng.bytes(int(n)) for n in (0, 1, 127, 128, 300, 20000)]
    feats = {"b": np.arange(5, dtype=np.float32), "a": [b"x", b"yz"], "img": frames, "z": np.array([1, -3], np.int64)}
    lens = np.array([len(f) for f in frames], np.int64)
    streamed = {**feats, "img": StreamedBytes(lens, lambda: (memoryview(f) for f in frames))}
    size, parts = example_parts(streamed)
    data = b"".join(bytes(p) for p in iter_part_bytes(parts))
    assert data == encode_example(feats) and size == len(data)
    with TFRecordWriter(tmp_path / "r") as w:
        w.write_stream(size, iter_part_bytes(parts))
    assert (tmp_path / "r").read_bytes() == frame_record(data)


def test_streamed_episode_equals_in_memory_episode_with_views_and_late_cameras(tmp_path) -> None:
    root = build_dataset(tmp_path / "ds", episodes=3, steps=12, first_frame_missing=True)
    write_view(root, "cut", [0, 2], trims={2: (3, 9)})
    src = select(root, view="cut")
    cfg = RldsExportConfig()
    for eid in src.episode_ids:
        w = TFRecordWriter(tmp_path / f"e{eid}")
        write_episode(w, src, eid, cfg)
        w.close()
        ref, _, _ = episode_arrays(src.episode(eid), src.dataset.spec, cfg)  # the view's trimmed episode, in memory
        assert (tmp_path / f"e{eid}").read_bytes() == frame_record(encode_example(ref))
