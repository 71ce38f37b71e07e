"""`collect --camera front=sim --camera wrist=FILE`: a sim camera and a video-file camera in one session."""

from __future__ import annotations

import pytest

from teleforge.dataset.reader import Dataset
from teleforge.errors import CameraError
from teleforge.workflows.collect import CollectConfig, collect

from .conftest import write_mp4


def test_collect_records_a_sim_and_a_file_camera(tmp_path):
    clip = write_mp4(tmp_path / "wrist.mp4", 30, size=(80, 60))
    cfg = CollectConfig(dataset=tmp_path / "ds", device="scripted", headless=True, episodes=1, hz=20.0,
                        image_size=64, camera_sources=("front=sim", f"wrist={clip}"), time_limit_s=1.5)
    res = collect(cfg)
    ep = res.episodes[0]
    assert ep.episode_id is not None and ep.steps > 10
    episode = Dataset.open(tmp_path / "ds").episode(ep.episode_id)
    for cam in ("front", "wrist"):
        have = [episode.image_bytes(cam, i) is not None for i in range(episode.num_steps)]
        assert sum(have) > len(have) // 2
    assert episode.image("wrist", episode.num_steps - 1).shape == (64, 64, 3)


def test_duplicate_camera_names_fail(tmp_path):
    cfg = CollectConfig(dataset=tmp_path / "ds", device="scripted", headless=True, episodes=1,
                        camera_sources=("front=sim", "front=0"))
    with pytest.raises(CameraError, match="share a name"):
        collect(cfg)
