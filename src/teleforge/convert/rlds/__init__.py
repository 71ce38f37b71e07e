"""RLDS / Open X-Embodiment, without TensorFlow: export, TF-free reader and check, import.

- :mod:`.config`: export configuration (action/state layouts) and the conventions written down;
- :mod:`.features`: ``features.json`` / ``dataset_info.json`` and the features of an export;
- :mod:`.writer`: :func:`export_rlds` (sharded, parallel, resumable);
- :mod:`.reader`: :class:`RldsReader` and :func:`check_rlds`;
- :mod:`.importer`: :func:`import_rlds` (an RLDS folder into a native dataset);
- :mod:`.tfrecord`, :mod:`.example_proto`: TFRecord framing and tf.train.Example encoding;
- :mod:`.statistics`: OpenVLA's ``dataset_statistics.json`` and Octo's naming of it;
- :mod:`.gripper`: the binarised gripper of the ``openvla`` action space.
"""

from teleforge.convert.rlds.config import (
    ACTION_SPACES,
    SIDECAR,
    STATE_SPACES,
    STATISTICS,
    RldsExportConfig,
)
from teleforge.convert.rlds.features import (
    EPISODE_FEATURES,
    NATIVE_PREFIX,
    FeatureSpec,
    camera_keys,
    features_json,
    native_key,
    parse_features_json,
    step_features,
)
from teleforge.convert.rlds.gripper import binarize_gripper
from teleforge.convert.rlds.importer import FieldMap, find_rlds_folder, import_rlds
from teleforge.convert.rlds.reader import (
    RldsCheckReport,
    RldsEpisode,
    RldsReader,
    check_rlds,
)
from teleforge.convert.rlds.statistics import dataset_statistics, octo_statistics, write_statistics
from teleforge.convert.rlds.tfrecord import (
    TFRecordWriter,
    crc32c,
    masked_crc32c,
    read_records,
)
from teleforge.convert.rlds.writer import RldsExportResult, episode_arrays, export_rlds

__all__ = [
    "ACTION_SPACES",
    "EPISODE_FEATURES",
    "NATIVE_PREFIX",
    "SIDECAR",
    "STATE_SPACES",
    "STATISTICS",
    "FeatureSpec",
    "FieldMap",
    "RldsCheckReport",
    "RldsEpisode",
    "RldsExportConfig",
    "RldsExportResult",
    "RldsReader",
    "TFRecordWriter",
    "camera_keys",
    "check_rlds",
    "crc32c",
    "binarize_gripper",
    "dataset_statistics",
    "episode_arrays",
    "export_rlds",
    "features_json",
    "find_rlds_folder",
    "import_rlds",
    "masked_crc32c",
    "native_key",
    "octo_statistics",
    "parse_features_json",
    "read_records",
    "step_features",
    "write_statistics",
]
