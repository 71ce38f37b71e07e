"""LeRobot v3.0 (and v2.1): export (parquet + mp4, lerobot's stats) and import.

- :mod:`.layout`: paths, feature names, the ``features`` block of meta/info.json;
- :mod:`.stats`: statistics shaped the way lerobot computes them;
- :mod:`.files`: the rolling parquet / mp4 files;
- :mod:`.video`: PyAV video writing and windowed reading;
- :mod:`.writer`: :func:`export_lerobot`;
- :mod:`.importer`: :func:`import_lerobot`;
- :mod:`.v21_layout`, :mod:`.v21_writer`: the LeRobot v2.1 layout (openpi's pinned LeRobot),
  :func:`export_lerobot_v21` (also ``export_lerobot(..., codebase_version="v2.1")``).
"""

from teleforge.convert.lerobot.files import write_tasks
from teleforge.convert.lerobot.importer import (
    import_lerobot,
    read_episodes,
    read_info,
    read_tasks,
)
from teleforge.convert.lerobot.layout import (
    ACTION_NAMES,
    CODEBASE_VERSION,
    EE_STATE_NAMES,
    EXTRA_COLUMNS,
    EXTRA_PREFIX,
    INDEX_FEATURES,
    STATE_SPACES,
    features,
)
from teleforge.convert.lerobot.stats import ImageStats, StatsAggregator, vector_stats
from teleforge.convert.lerobot.v21_layout import CODEBASE_VERSION_V21
from teleforge.convert.lerobot.v21_writer import export_lerobot_v21
from teleforge.convert.lerobot.video import (
    VideoFileReader,
    VideoFileWriter,
    resolve_codec,
    video_info,
)
from teleforge.convert.lerobot.writer import LeRobotExport, export_lerobot

__all__ = [
    "ACTION_NAMES",
    "CODEBASE_VERSION",
    "CODEBASE_VERSION_V21",
    "EE_STATE_NAMES",
    "EXTRA_COLUMNS",
    "EXTRA_PREFIX",
    "INDEX_FEATURES",
    "STATE_SPACES",
    "ImageStats",
    "LeRobotExport",
    "StatsAggregator",
    "VideoFileReader",
    "VideoFileWriter",
    "export_lerobot",
    "export_lerobot_v21",
    "features",
    "import_lerobot",
    "read_episodes",
    "read_info",
    "read_tasks",
    "resolve_codec",
    "vector_stats",
    "video_info",
    "write_tasks",
]
