"""HDF5 layouts: robomimic (one file, ``data/demo_N``) and ALOHA / ACT (one file per episode).

Each layout module holds its exporter and its importer; :mod:`.common` holds what
they share. :func:`native_arrays` and :func:`dense_frames` are re-exported because
benchmarks and checks read native episodes the way these exporters do.
"""

from teleforge.convert.hdf5.aloha import AlohaExport, export_aloha, import_aloha
from teleforge.convert.hdf5.common import attr_text, dense_frames, open_h5, read_array
from teleforge.convert.hdf5.robomimic import (
    RobomimicExport,
    export_robomimic,
    import_robomimic,
)
from teleforge.convert.native import (
    ImportedEpisode,
    ImportReport,
    native_arrays,
    write_native_episode,
)

__all__ = [
    "AlohaExport",
    "ImportReport",
    "ImportedEpisode",
    "RobomimicExport",
    "attr_text",
    "dense_frames",
    "export_aloha",
    "export_robomimic",
    "import_aloha",
    "import_robomimic",
    "native_arrays",
    "open_h5",
    "read_array",
    "write_native_episode",
]
