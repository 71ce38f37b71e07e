"""`collect --camera front=sim --camera wrist=FILE`: a sim camera and a video-file camera in one session."""

from __future__ import annotations

import numpy as np
import pytest

from teleforge.dataset.reader import Dataset
from teleforge.errors import CameraError, DatasetError
from teleforge.workflows.collect import collect
from teleforge.workflows.collect_config import CollectConfig

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


def test_collect_depth_from_a_sim_camera(tmp_path):
    """`collect --depth front`: the sim renders the front camera's depth with each frame; it is recorded."""
    cfg = CollectConfig(dataset=tmp_path / "ds", device="scripted", headless=True, episodes=1, hz=20.0,
                        image_size=48, cameras=("front", "wrist"), depth_cameras=("front",), time_limit_s=1.0)
    res = collect(cfg)
    ds = Dataset.open(tmp_path / "ds")
    assert [c.depth for c in ds.spec.cameras] == [True, False]
    episode = ds.episode(res.episodes[0].episode_id)
    depths = [episode.depth("front", i) for i in range(episode.num_steps)]
    have = [d for d in depths if d is not None]
    assert len(have) > len(depths) // 2
    # the table and the cube are 0.3-3 m from the front camera; nothing is in front of the lens
    d = have[-1]
    assert d.dtype == "uint16" and d.shape == (48, 48) and 300 < float(np.median(d[d > 0])) < 3000
    # depth rides with its colour frame: a step has both or neither
    assert all((episode.image_bytes("front", i) is None) == (depths[i] is None) for i in range(episode.num_steps))
    with pytest.raises(DatasetError, match="records no depth"):
        episode.depth("wrist", 0)


def test_depth_needs_a_recorded_camera_with_a_depth_sensor(tmp_path):
    clip = write_mp4(tmp_path / "wrist.mp4", 5)
    with pytest.raises(CameraError, match="not a recorded camera"):
        collect(CollectConfig(dataset=tmp_path / "ds", device="scripted", headless=True, depth_cameras=("top",)))
    with pytest.raises(CameraError, match="no depth sensor"):
        collect(CollectConfig(dataset=tmp_path / "ds", device="scripted", headless=True,
                              camera_sources=("front=sim", f"wrist={clip}"), depth_cameras=("wrist",)))
    assert not (tmp_path / "ds").exists()
