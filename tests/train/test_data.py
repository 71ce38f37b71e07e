"""The data pipeline reads native shards with views and trims honoured, decoding in worker processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

from teleforge.dataset import Dataset  # noqa: E402
from teleforge.dataset.views import View, save_view  # noqa: E402
from teleforge.errors import TrainError  # noqa: E402
from teleforge.train_adapter.data import ChunkSampler, load_episodes, select_episodes, split_data_arg  # noqa: E402


def test_split_data_arg(tiny_dataset: Path) -> None:
    assert split_data_arg(f"{tiny_dataset}:kept") == (tiny_dataset, "kept")
    assert split_data_arg(tiny_dataset) == (tiny_dataset, None)


def test_view_and_trims_are_honoured_in_workers(tiny_dataset: Path) -> None:
    ids = Dataset.open(tiny_dataset).episode_ids
    save_view(tiny_dataset, View(name="kept", episodes=[ids[1], ids[3]], trims={ids[3]: (5, 17)}))
    refs = select_episodes(*split_data_arg(f"{tiny_dataset}:kept"))
    assert [(r.episode_id, r.start, r.stop) for r in refs] == [(ids[1], 0, 30), (ids[3], 5, 17)]
    eps = load_episodes(tiny_dataset, refs, ("front", "wrist"), 16, workers=2)
    assert [len(e.actions) for e in eps] == [30, 12]
    assert eps[1].images.shape == (12, 2, 16, 16, 3) and eps[1].images.dtype == np.uint8
    ep = Dataset.open(tiny_dataset).episode(ids[3])
    assert np.allclose(eps[1].actions, ep.column("action")[5:17])  # the trim's steps, not the first 12
    assert np.allclose(eps[1].state[:, :3], ep.column("observation.state.ee_pos")[5:17])
    inproc = load_episodes(tiny_dataset, refs, ("front", "wrist"), 16, workers=1)
    assert np.array_equal(inproc[1].images, eps[1].images)
    s = ChunkSampler(eps, chunk=4)
    assert len(s) == 42 and s.chunks.shape == (42, 4, 7)
    assert np.array_equal(s.chunks[29, 1], s.chunks[29, 0])  # past the end: the last action repeats


def test_task_filter_and_missing_camera(tiny_dataset: Path) -> None:
    refs = select_episodes(tiny_dataset, None, tasks=("place_in_bin",))
    assert len(refs) == 2 and {r.task for r in refs} == {"place_in_bin"}
    with pytest.raises(TrainError, match="no episodes"):
        select_episodes(tiny_dataset, None, tasks=("stack",))
    with pytest.raises(TrainError, match="top"):
        load_episodes(tiny_dataset, refs, ("front", "top"), 16, workers=1)


def test_episodes_without_instruction_are_refused(tmp_path: Path) -> None:
    """The writer insists on instructions, but an imported catalog may lack them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.curation import synth

    root = synth.make_dataset(tmp_path / "noinstr", [synth.EpisodePlan(seed=1, steps=10)],
                              synth.make_spec(cams=("front", "wrist"), size=32))
    cat = pq.read_table(root / "catalog.parquet")
    i = cat.schema.get_field_index("instruction")
    pq.write_table(cat.set_column(i, "instruction", pa.array([""] * cat.num_rows)), root / "catalog.parquet")
    with pytest.raises(TrainError, match="no instruction"):
        select_episodes(root, None)
