"""Exporters and importers, one sub-package per format, and what they share.

- :mod:`.rlds` (RLDS / Open X-Embodiment, no TensorFlow: TFRecord framing and
  tf.train.Example encoding are implemented here), :mod:`.lerobot` (v3.0),
  :mod:`.hdf5` (robomimic, ALOHA), :mod:`.hf` (``datasets`` folder, Hub push);
- :mod:`.staging` (exports written beside their final path, published by rename),
  :mod:`.manifest` (``teleforge_export.json``), :mod:`.card` (the dataset card),
  :mod:`.native` (native episodes as arrays, for exporters and importers).

Which episodes an export reads is :func:`teleforge.dataset.selection.select`.
"""

from teleforge.convert.rlds import (
    ACTION_SPACES,
    STATE_SPACES,
    RldsCheckReport,
    RldsEpisode,
    RldsExportConfig,
    RldsExportResult,
    RldsReader,
    TFRecordWriter,
    check_rlds,
    crc32c,
    dataset_statistics,
    export_rlds,
    masked_crc32c,
    read_records,
)

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
