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
