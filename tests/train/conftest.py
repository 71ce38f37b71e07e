from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small native dataset (front + wrist, 32 px JPEG) with instructions, written by the real writer."""
    from tests.curation.synth import EpisodePlan, make_dataset, make_spec

    root = tmp_path_factory.mktemp("train") / "ds"
    spec = make_spec(cams=("front", "wrist"), size=32, robot="teleforge_sim_panda")
    plans = [EpisodePlan(seed=i, steps=30) for i in range(6)] + [EpisodePlan(task="place_in_bin", seed=50 + i, steps=30) for i in range(2)]
    return make_dataset(root, plans, spec)


def tiny_cfg(data: Path | str, out: Path, **kw):
    from teleforge.train_adapter.train import TrainConfig

    base = dict(data=str(data), head="both", init="scratch", steps=6, batch_size=4, lr=1e-3, out=out, val_fraction=0.25,
                val_every=3, ckpt_every=3, workers=1, image_size=32, d_model=32, n_layers=1, chunk=4, warmup_steps=1,
                device="cpu")
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    """One intra-op thread: results do not depend on the core count, and OpenMP workers never
    spin-wait on each other on a loaded machine (that turned a 1 s test into 20 minutes)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
