"""The frozen-camera metric: a stuck picture reads frozen even when re-encoded with noise; a
live camera whose only motion is a small object does not (the false positive of metrics v2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tests.curation.synth as synth
from teleforge.curation import MetricsConfig, compute_metrics
from teleforge.dataset.catalog import read_catalog


def _frozen(root: Path, stride: int) -> float:
    compute_metrics(root, MetricsConfig(images=True, image_stride=stride), force=True)
    return float(read_catalog(root).to_pylist()[0]["img_front_frozen_frac"])


@pytest.mark.parametrize("stride", [1, 4])
def test_a_stuck_picture_with_encoder_noise_reads_frozen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stride: int) -> None:
    y, x = np.mgrid[0:64, 0:64]  # a smooth scene (a gradient and a blob), like a camera's
    gray = 60 + x + 40 * np.exp(-((x - 40) ** 2 + (y - 20) ** 2) / 60.0)
    still = np.repeat(gray[:, :, None], 3, axis=2).astype(np.uint8)
    noise = np.random.default_rng(1)

    def stuck(ee: np.ndarray, size: int, black: bool) -> np.ndarray:  # the same picture, +-1 level of noise
        return np.clip(still.astype(np.int16) + noise.integers(-1, 2, still.shape), 0, 255).astype(np.uint8)

    monkeypatch.setattr(synth, "_frame", stuck)
    root = synth.make_dataset(tmp_path / "ds", [synth.EpisodePlan(seed=3, steps=60)], synth.make_spec(("front",), size=64))
    assert _frozen(root, stride) > 0.9  # the arm moved the whole time, the picture never changed


@pytest.mark.parametrize("stride", [1, 4])
def test_a_small_moving_object_is_a_live_camera(tmp_path: Path, stride: int) -> None:
    # synth frames: a 4 px bright square on a flat background, following the gripper
    root = synth.make_dataset(tmp_path / "ds", [synth.EpisodePlan(seed=3, steps=60)], synth.make_spec(("front",), size=128))
    assert _frozen(root, stride) == 0.0


def test_frozen_is_exact_on_the_grid_at_any_stride(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stuck and live segments of random lengths (1-25 steps): the grid (stride 3, 4, 8) finds the
    same frozen share as decoding every frame, so no run long enough to count slips between grid points."""
    rng = np.random.default_rng(7)
    plans = []
    frames: dict[int, list[np.ndarray]] = {}
    for e in range(8):
        seq: list[np.ndarray] = []
        while len(seq) < 120:
            k = int(rng.integers(1, 26))
            if rng.random() < 0.5:  # stuck: one picture repeated (re-encoded each step)
                seq += [rng.integers(0, 255, (64, 64, 3)).astype(np.uint8)] * k
            else:  # live: a new picture every step
                seq += [rng.integers(0, 255, (64, 64, 3)).astype(np.uint8) for _ in range(k)]
        frames[e] = seq[:120]
        plans.append(synth.EpisodePlan(seed=100 + e, steps=120))
    calls = iter(f for e in range(8) for f in frames[e])
    monkeypatch.setattr(synth, "_frame", lambda ee, size, black: next(calls))
    root = synth.make_dataset(tmp_path / "ds", plans, synth.make_spec(("front",), size=64))

    def frozen(stride: int) -> list[float]:
        compute_metrics(root, MetricsConfig(images=True, image_stride=stride), force=True)
        return [float(r["img_front_frozen_frac"]) for r in read_catalog(root).to_pylist()]

    exact = frozen(1)
    assert any(v > 0 for v in exact) and any(v < 0.5 for v in exact)  # the set has both kinds
    for stride in (3, 4, 8):
        assert frozen(stride) == exact, stride
