"""Every exporter on one dataset, and what makes two runs comparable: a digest per output.

Used by ``test_engines.py`` (local vs Ray, small set) and ``benchmarks/engines.py`` (400
episodes). Folder and file exports are compared byte for byte (sha256 of every file); HDF5
files additionally by content (:func:`h5_digest`: every dataset's bytes, shape, dtype and
attribute), which is what the identity claim rests on should an HDF5 library ever stamp times.
LeRobot videos use the default codec: SVT-AV1 is byte-reproducible, libx264 is not (where only
x264 is available the mp4 files are compared by name only).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXPORTERS = ("rlds", "lerobot_v3", "lerobot_v21", "hf", "robomimic", "aloha")


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (or of ``root`` itself), keyed by relative path."""
    if root.is_file():
        return {root.name: hashlib.sha256(root.read_bytes()).hexdigest()}
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def h5_digest(path: Path) -> str:
    """sha256 over an HDF5 file's content: every group/dataset name, attribute, shape, dtype and data."""
    import h5py
    import numpy as np

    h = hashlib.sha256()

    def attrs(obj: Any) -> None:
        for k in sorted(obj.attrs):
            h.update(f"@{k}={np.asarray(obj.attrs[k]).tobytes()!r}".encode())

    with h5py.File(path, "r") as f:
        attrs(f)

        def visit(name: str, obj: Any) -> None:
            h.update(name.encode())
            attrs(obj)
            if isinstance(obj, h5py.Dataset):
                h.update(f"{obj.shape}{obj.dtype}".encode())
                h.update(np.ascontiguousarray(obj[()]).tobytes())

        f.visititems(visit)
    return h.hexdigest()


def _exporters() -> dict[str, Callable[[Path, Path], None]]:
    from teleforge.convert.hdf5.aloha import export_aloha
    from teleforge.convert.hdf5.robomimic import export_robomimic
    from teleforge.convert.hf.export import export_hf
    from teleforge.convert.lerobot.writer import export_lerobot
    from teleforge.convert.rlds.writer import RldsExportConfig, export_rlds
    from teleforge.dataset.selection import select

    return {
        "rlds": lambda root, out: export_rlds(root, out, RldsExportConfig(num_shards=3)) and None,
        "lerobot_v3": lambda root, out: export_lerobot(select(root), out) and None,
        "lerobot_v21": lambda root, out: export_lerobot(select(root), out, codebase_version="v2.1") and None,
        "hf": lambda root, out: export_hf(select(root), out) and None,
        "robomimic": lambda root, out: export_robomimic(select(root), out / "demo.hdf5") and None,
        "aloha": lambda root, out: export_aloha(select(root), out) and None,
    }


def export_all(root: Path, out: Path, only: tuple[str, ...] = EXPORTERS) -> tuple[dict[str, dict[str, str]], dict[str, float]]:
    """Run every exporter in ``only`` on ``root`` into ``out/<name>``: (digests per exporter, seconds per exporter).

    HDF5 files get a ``<file>#content`` digest beside their bytes digest."""
    digests: dict[str, dict[str, str]] = {}
    seconds: dict[str, float] = {}
    for name, run in _exporters().items():
        if name not in only:
            continue
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        run(root, target)
        seconds[name] = round(time.perf_counter() - t0, 2)
        d = tree_digest(target) if target.exists() else {}
        for p in sorted(target.rglob("*.hdf5")) if target.is_dir() else []:
            d[f"{p.relative_to(target)}#content"] = h5_digest(p)
        if not videos_reproducible():  # x264 differs run to run, even in one process: count the videos only
            d = {k: ("mp4" if k.endswith(".mp4") else v) for k, v in d.items()}
        digests[name] = d
    return digests, seconds


def videos_reproducible() -> bool:
    """Whether LeRobot exports' videos are byte-reproducible here: the default codec is SVT-AV1 (x264 is not)."""
    from teleforge.convert.lerobot.video import resolve_codec

    return resolve_codec("auto") == "libsvtav1"
