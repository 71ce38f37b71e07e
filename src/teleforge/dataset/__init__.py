"""The native dataset: crash-safe episode shards, the catalog, the reader and recovery.

Nothing here imports mujoco, torch or pygame: curation and export machines need
only pyarrow and numpy.
"""

from teleforge.dataset.catalog import CATALOG_SCHEMA, rebuild_catalog, read_catalog
from teleforge.dataset.info import summarize
from teleforge.dataset.layout import SessionRecord, create_dataset, read_sessions, write_session
from teleforge.dataset.reader import Dataset, Episode, EpisodeInfo
from teleforge.dataset.recorder import AsyncRecorder, RecorderStatus
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.recover import RecoverReport, recover
from teleforge.dataset.schema import FORMAT_VERSION, CameraConfig, DatasetSpec, step_schema
from teleforge.dataset.store import open_or_create
from teleforge.dataset.writer import EpisodeSummary, EpisodeWriter

__all__ = [
    "AsyncRecorder",
    "CATALOG_SCHEMA",
    "CameraConfig",
    "Dataset",
    "DatasetSpec",
    "Episode",
    "EpisodeEnd",
    "EpisodeInfo",
    "EpisodeStart",
    "EpisodeSummary",
    "EpisodeWriter",
    "FORMAT_VERSION",
    "RecorderStatus",
    "RecoverReport",
    "SessionRecord",
    "StepRecord",
    "create_dataset",
    "open_or_create",
    "read_catalog",
    "read_sessions",
    "rebuild_catalog",
    "recover",
    "step_schema",
    "summarize",
    "write_session",
]
