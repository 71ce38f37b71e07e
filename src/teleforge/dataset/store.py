"""Create-or-open: the one call a recording session needs."""

from __future__ import annotations

from pathlib import Path

from teleforge.dataset.layout import MANIFEST, check_compatible, create_dataset
from teleforge.dataset.reader import Dataset
from teleforge.dataset.schema import DatasetSpec


def open_or_create(root: Path | str, spec: DatasetSpec) -> Dataset:
    """Open the dataset at ``root`` (checking it matches ``spec``), or create it."""
    root = Path(root)
    if not (root / MANIFEST).exists():
        create_dataset(root, spec)
    ds = Dataset.open(root)
    check_compatible(root, ds.spec, spec)
    return ds
