"""Exporters and importers. RLDS / Open X-Embodiment needs no TensorFlow: TFRecord framing
and tf.train.Example encoding are implemented here (``tfrecord``, ``example_proto``)."""

from teleforge.convert.rlds import (
    ACTION_SPACES,
    STATE_SPACES,
    RldsCheckReport,
    RldsEpisode,
    RldsExportConfig,
    RldsExportResult,
    RldsReader,
    check_rlds,
    export_rlds,
)
from teleforge.convert.statistics import dataset_statistics
from teleforge.convert.tfrecord import TFRecordWriter, crc32c, masked_crc32c, read_records

__all__ = [
    "ACTION_SPACES",
    "STATE_SPACES",
    "RldsCheckReport",
    "RldsEpisode",
    "RldsExportConfig",
    "RldsExportResult",
    "RldsReader",
    "TFRecordWriter",
    "check_rlds",
    "crc32c",
    "dataset_statistics",
    "export_rlds",
    "masked_crc32c",
    "read_records",
]
