"""robomimic 0.3.0's own SequenceDataset reads a robomimic export's depth exactly, and says what its
depth modality makes of it.

Run with the robomimic venv's python (no teleforge import) on a robomimic export of a dataset
with a depth camera. Checks, for every step of every demo:
- ``SequenceDataset`` with ``obs/<cam>_depth`` registered under robomimic's ``depth`` modality
  (hdf5_cache_mode "all" and None) returns the native PNG-16 depth bit for bit, uint16 (1, H, W)
  per step (all 0 where the step had no depth frame), and ``obs/<cam>_depth_valid`` (low_dim,
  (1, 1) bool) is true exactly where the native step has a depth frame;
- reported, not required: what robomimic's training-time depth processor
  (``ObsUtils.process_obs``, depth modality: ``process_frame(channel_dim=1, scale=1)``) does with a
  (H, W) uint16 mm frame. It asserts a trailing channel of 1 and clips to [0, 1], so robomimic cannot
  train on millimetre depth without a custom processor; the loader itself keeps it exact.

Usage: check_robomimic_depth.py EXPORT.hdf5 NATIVE [--camera front]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from _common import read_native, run


def decode_png16(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data))).astype(np.uint16)


def body(report: dict, hdf5: Path, native: Path, cam: str) -> None:
    import robomimic
    import robomimic.utils.obs_utils as ObsUtils
    from robomimic.utils.dataset import SequenceDataset

    key, vkey = f"{cam}_depth", f"{cam}_depth_valid"
    eps = read_native(native)
    report["robomimic"] = robomimic.__version__
    ObsUtils.initialize_obs_utils_with_obs_specs({"obs": {"low_dim": ["robot0_eef_pos", vkey], "depth": [key]}})
    for cache in ("all", None):
        ds = SequenceDataset(hdf5_path=str(hdf5), obs_keys=["robot0_eef_pos", key, vkey], dataset_keys=("actions",),
                             seq_length=1, hdf5_cache_mode=cache)
        assert len(ds) == sum(len(e["step"]) for e in eps), (len(ds), [len(e["step"]) for e in eps])
        k = missing = 0
        for ep in eps:
            for i, png in enumerate(ep["observation.depth." + cam]):
                item = ds[k]
                got, valid = item["obs"][key], item["obs"][vkey]
                want = None if png is None else decode_png16(png)
                h, w = got.shape[1:]
                assert got.dtype == np.uint16 and got.shape[0] == 1, (got.dtype, got.shape)
                expect = np.zeros((h, w), np.uint16) if want is None else want
                diff = int(np.abs(got[0].astype(np.int64) - expect.astype(np.int64)).max())
                assert diff == 0, f"cache {cache}: item {k} (step {i}): depth differs by up to {diff} mm"
                assert bool(np.asarray(valid).reshape(-1)[0]) == (png is not None), f"cache {cache}: item {k}: {vkey}"
                missing += png is None
                k += 1
        report[f"sequence_dataset_cache_{cache}"] = {"items": k, "items_without_depth": missing,
                                                     "depth": [str(got.dtype), list(got.shape)], "max_abs_depth_diff_mm": 0}
        assert missing > 0, "no step without depth: the validity flag went unchecked"
    try:  # robomimic's training-time processing of a depth-modality obs
        out = ObsUtils.process_obs(item["obs"][key], obs_modality="depth")
        report["depth_modality_processor"] = f"returned {out.dtype} {list(out.shape)}, max {float(out.max())}"
    except AssertionError:
        report["depth_modality_processor"] = ("AssertionError: process_frame wants (..., H, W, 1) and scales to [0, 1]; "
                                             "mm depth needs a custom obs processor to train")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("hdf5", type=Path)
    ap.add_argument("native", type=Path)
    ap.add_argument("--camera", default="front")
    a = ap.parse_args()
    run("robomimic-depth", lambda r: body(r, a.hdf5, a.native, a.camera))
