"""A camera slower than the control loop repeats its frame: the recorder encodes it once."""

from __future__ import annotations

from teleforge.dataset import AsyncRecorder, Dataset, EpisodeEnd
from tests.dataset.synth import make_start, make_step


def test_repeated_frames_are_encoded_once_and_stored_per_step(ds_root, rng):
    root, spec = ds_root
    rec = AsyncRecorder(root)
    rec.start_episode(make_start())
    steps = [make_step(i, spec, rng, t0=0) for i in range(12)]
    for i, s in enumerate(steps):
        if i % 3:  # each camera frame is held for three control steps (same seq, same array)
            prev = steps[i - 1]
            s.images = dict(prev.images)
            s.image_seq = dict(prev.image_seq)
        rec.submit(s)
    rec.finish(EpisodeEnd("success"))
    st = rec.status()
    rec.close()
    cams = len(spec.cameras)
    assert st.frames_encoded == 4 * cams and st.frames_reused == 8 * cams  # encodes per capture: exactly 1
    ds = Dataset.open(root)
    ep = ds.episode(ds.episode_ids[-1])
    for cam in spec.cameras:
        stored = [ep.image_bytes(cam.name, i) for i in range(12)]
        assert all(stored[i] == stored[i - i % 3] for i in range(12))  # every step still carries its frame
        assert len(set(stored)) == 4


def test_depth_is_reused_with_its_repeated_frame_and_reads_back_exactly(tmp_path, rng):
    """A depth camera's repeated frame reuses its depth bytes too; a step whose frame lacks depth records null."""
    import numpy as np

    from teleforge.dataset import CameraConfig, create_dataset
    from tests.dataset.synth import make_spec

    spec = make_spec(("front",))
    spec.cameras = [CameraConfig("front", 24, 32, depth=True)]
    create_dataset(tmp_path / "ds", spec)
    rec = AsyncRecorder(tmp_path / "ds")
    rec.start_episode(make_start())
    steps = [make_step(i, spec, rng, t0=0) for i in range(9)]
    depths = [rng.integers(0, 65536, (24, 32)).astype(np.uint16) for _ in range(3)]
    for i, s in enumerate(steps):
        if i % 3:
            s.images, s.image_seq = dict(steps[i - 1].images), dict(steps[i - 1].image_seq)
        if i < 6:  # the third frame (steps 6..8) came without depth
            s.depth = {"front": depths[i // 3]}
        rec.submit(s)
    rec.finish(EpisodeEnd("success"))
    rec.close()
    ds = Dataset.open(tmp_path / "ds")
    ep = ds.episode(ds.episode_ids[-1])
    for i in range(6):
        assert np.array_equal(ep.depth("front", i), depths[i // 3])
    assert ep.depth_missing("front") == [6, 7, 8]
    assert ep.meta is not None and ep.step(0)["observation.depth.front"].dtype == np.uint16
