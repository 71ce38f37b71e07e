"""Feature metadata every ``datasets`` major reads: ``Sequence`` instead of datasets-4 ``List``.

datasets >= 4 serialises fixed- and variable-length lists as ``{"_type": "List", ...}``;
datasets 3.x (openpi's lock pins 3.6.0) knows no ``List`` and fails with "Feature type
'List' not found". Both read ``{"_type": "Sequence", "feature": ..., "length": n}`` the same
way for a list of scalars (4.x maps it back to ``List``), so an export rewrites its
``dataset_info.json`` and the ``huggingface`` schema metadata of its Arrow files to that form.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa


def sequence_features(obj: Any) -> Any:
    """A features dict (as in dataset_info.json) with ``List`` of non-struct items written as ``Sequence``.

    A ``List`` of a dict stays as it is: ``Sequence`` of a dict means a dict of lists in 3.x."""
    if isinstance(obj, list):
        return [sequence_features(x) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {k: sequence_features(v) for k, v in obj.items()}
    if out.get("_type") == "List" and isinstance(out.get("feature"), dict) and "_type" in out["feature"]:
        out["_type"] = "Sequence"
        out.setdefault("length", -1)
    return out


def _rewrite_arrow(path: Path) -> None:
    """Rewrite one Arrow stream file with ``Sequence`` features in its schema metadata (streamed per batch)."""
    with pa.memory_map(str(path)) as src:
        reader = pa.ipc.open_stream(src)
        meta = dict(reader.schema.metadata or {})
        raw = meta.get(b"huggingface")
        if raw is None:
            return
        fixed = json.dumps(sequence_features(json.loads(raw))).encode()
        if fixed == raw:
            return
        meta[b"huggingface"] = fixed
        schema = reader.schema.with_metadata(meta)
        tmp = path.with_name(path.name + ".tmp")
        with pa.OSFile(str(tmp), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for batch in reader:
                writer.write_batch(batch)
    os.replace(tmp, path)


def make_features_portable(folder: Path) -> None:
    """Rewrite a ``save_to_disk`` folder's feature metadata so datasets 3.x and >= 4 both load it."""
    folder = Path(folder)
    info = folder / "dataset_info.json"
    if info.is_file():
        data = json.loads(info.read_text())
        if "features" in data:
            data["features"] = sequence_features(data["features"])
            info.write_text(json.dumps(data, indent=2))
    for arrow in sorted(folder.glob("*.arrow")):
        _rewrite_arrow(arrow)
