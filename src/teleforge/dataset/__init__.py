"""The native dataset: crash-safe episode shards, the catalog, the reader, recovery,
views (curated selections) and selection (which episodes an export or a trainer reads).

Nothing here imports mujoco, torch or pygame: curation and export machines need
only pyarrow and numpy.
"""

from teleforge.dataset.catalog import (
    CATALOG_SCHEMA,
    CURATED_INSTRUCTION,
    CURATED_OUTCOME,
    DELETED,
    read_catalog,
    rebuild_catalog,
)
from teleforge.dataset.episode import Episode, EpisodeInfo
from teleforge.dataset.info import summarize
from teleforge.dataset.layout import (
    SessionRecord,
    create_dataset,
    read_sessions,
    write_session,
)
from teleforge.dataset.reader import Dataset
from teleforge.dataset.recorder import AsyncRecorder, RecorderStatus
from teleforge.dataset.records import EpisodeEnd, EpisodeStart, StepRecord
from teleforge.dataset.recover import RecoverReport, recover
from teleforge.dataset.schema import (
    FORMAT_VERSION,
    CameraConfig,
    DatasetSpec,
    step_schema,
)
from teleforge.dataset.selection import ExportSource, ViewDataset, ViewEpisode, select
from teleforge.dataset.store import open_or_create
from teleforge.dataset.views import View, list_views, load_view, save_view
from teleforge.dataset.writer import EpisodeSummary, EpisodeWriter

__all__ = [
    "CATALOG_SCHEMA",
    "CURATED_INSTRUCTION",
    "CURATED_OUTCOME",
    "DELETED",
    "FORMAT_VERSION",
    "AsyncRecorder",
    "CameraConfig",
    "Dataset",
    "DatasetSpec",
    "Episode",
    "EpisodeEnd",
    "EpisodeInfo",
    "EpisodeStart",
    "EpisodeSummary",
    "EpisodeWriter",
    "ExportSource",
    "RecorderStatus",
    "RecoverReport",
    "SessionRecord",
    "StepRecord",
    "View",
    "ViewDataset",
    "ViewEpisode",
    "create_dataset",
    "list_views",
    "load_view",
    "open_or_create",
    "read_catalog",
    "read_sessions",
    "rebuild_catalog",
    "recover",
    "save_view",
    "select",
    "step_schema",
    "summarize",
    "write_session",
]
