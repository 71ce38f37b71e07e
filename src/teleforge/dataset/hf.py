"""Native dataset -> in-memory Hugging Face ``datasets.Dataset`` (one row per step)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from teleforge.dataset.schema import image_column

if TYPE_CHECKING:
    from teleforge.dataset.reader import Dataset

EPISODE_COLUMNS = ("episode_id", "task", "instruction", "outcome", "robot_embodiment", "session_id")


def _episode_table(ds: Dataset, episode_id: int) -> pa.Table:
    ep = ds.episode(episode_id)
    table = ep.table
    meta = ep.meta
    n = table.num_rows
    for cam in ds.spec.cameras:
        col = image_column(cam.name)
        data = table.column(col).combine_chunks() if n else pa.array([], pa.binary())
        # datasets' Image storage: struct<bytes, path>; null frames stay null.
        img = pa.StructArray.from_arrays(
            [data, pa.nulls(n, pa.string())], names=["bytes", "path"], mask=data.is_null() if n else None
        )
        table = table.set_column(table.schema.get_field_index(col), col, img)
    values = {
        "episode_id": pa.array([meta.episode_id] * n, pa.int64()),
        "task": pa.array([meta.task] * n, pa.string()),
        "instruction": pa.array([meta.instruction] * n, pa.string()),
        "outcome": pa.array([meta.outcome] * n, pa.string()),
        "robot_embodiment": pa.array([meta.robot_embodiment] * n, pa.string()),
        "session_id": pa.array([meta.session_id] * n, pa.string()),
    }
    for i, name in enumerate(EPISODE_COLUMNS):
        table = table.add_column(i, name, values[name])
    return table.replace_schema_metadata(None)


def to_hf_dataset(ds: Dataset, episodes: Iterable[int] | None = None) -> Any:
    # Lazy: `datasets` takes seconds to import and only this conversion needs it.
    """Concatenate the selected episodes into one in-memory ``datasets.Dataset`` (one row per step)."""
    import datasets

    ids = list(ds.episode_ids if episodes is None else episodes)
    tables = [_episode_table(ds, int(i)) for i in ids]
    if not tables:
        raise ValueError("no episodes selected for to_hf(); pass episode ids that exist in the dataset")
    table = pa.concat_tables(tables)
    features = datasets.Features.from_arrow_schema(table.schema)
    for cam in ds.spec.cameras:
        features[image_column(cam.name)] = datasets.Image()
    info = datasets.DatasetInfo(
        description=f"teleforge dataset {ds.root.name}: {ds.spec.robot_embodiment} at {ds.spec.fps:g} Hz",
        features=features,
    )
    return datasets.Dataset(table.cast(features.arrow_schema), info=info)
