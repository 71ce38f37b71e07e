"""The LeRobot v2.1 layout (what openpi's pinned LeRobot 0cf8648 reads): paths and metadata records.

One parquet and one mp4 per camera for every episode, grouped in ``chunk-NNN`` folders of
``chunks_size`` episodes; JSON-lines metadata (episodes, tasks, per-episode stats). The
``features`` block is the v3.0 one (:func:`teleforge.convert.lerobot.layout.features`): both
versions describe a feature as ``{dtype, shape, names}`` and require the same index features.
"""

from __future__ import annotations

from typing import Any

CODEBASE_VERSION_V21 = "v2.1"
DATA_PATH_V21 = "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet"
VIDEO_PATH_V21 = "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4"
EPISODES_JSONL = "meta/episodes.jsonl"
TASKS_JSONL = "meta/tasks.jsonl"
EPISODES_STATS_JSONL = "meta/episodes_stats.jsonl"
# v2.1's compute_episode_stats writes these only; its aggregate_stats reads them.
V21_STAT_KEYS = ("min", "max", "mean", "std", "count")


def hf_feature_v21(ft: dict[str, Any]) -> dict[str, Any]:
    """A non-video feature as ``datasets`` 3.x writes it into the parquet "huggingface" metadata.

    Vectors are ``Sequence(length=n)``: datasets 3.6 (openpi's lock) knows no ``List`` type,
    and datasets >= 4 still reads ``Sequence`` (as a fixed-length list)."""
    value = {"dtype": ft["dtype"], "_type": "Value"}
    if len(ft["shape"]) == 2:  # depth (H, W) uint16: datasets 3.6 and 4.x both write Array2D
        return {"shape": [int(n) for n in ft["shape"]], "dtype": ft["dtype"], "_type": "Array2D"}
    if list(ft["shape"]) == [1]:
        return value
    return {"feature": value, "length": int(ft["shape"][0]), "_type": "Sequence"}


def data_path(episode_index: int, chunks_size: int) -> str:
    """Relative path of an episode's parquet file."""
    return DATA_PATH_V21.format(episode_chunk=episode_index // chunks_size, episode_index=episode_index)


def video_path(episode_index: int, video_key: str, chunks_size: int) -> str:
    """Relative path of an episode's mp4 for one camera key (``observation.images.<cam>``)."""
    return VIDEO_PATH_V21.format(episode_chunk=episode_index // chunks_size, video_key=video_key,
                                 episode_index=episode_index)
