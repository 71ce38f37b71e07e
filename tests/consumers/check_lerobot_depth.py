"""LeRobot's own ``LeRobotDataset`` loads a teleforge LeRobot export's depth exactly.

Run with a LeRobot venv's python (no teleforge import): LeRobot 0.4.4 on a v3.0 export, or openpi's
pinned LeRobot 0cf8648 (``lerobot.common``, PYTHONPATH=shared/validators/lerobot-0cf8648) on a v2.1
export. Checks, frame by frame over the whole dataset:
- ``meta.features`` declares ``observation.depth.<cam>`` uint16 (H, W) and ``observation.depth_valid.<cam>``;
- each item's depth is the native PNG-16 depth bit for bit (all 0 where the step had no depth frame),
  and its validity flag is true exactly where the native step has a depth frame.

Usage: check_lerobot_depth.py EXPORT NATIVE --repo-id ID [--camera front]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from _common import read_native, run


def decode_png16(data: bytes) -> np.ndarray:
    """A 16-bit grayscale PNG as (H, W) uint16 (PIL opens it as mode I;16 or I)."""
    from PIL import Image

    img = Image.open(io.BytesIO(data))
    arr = np.asarray(img)
    assert img.mode in ("I;16", "I;16B", "I") and arr.max(initial=0) <= 65535, (img.mode, arr.dtype)
    return arr.astype(np.uint16)


def load(repo_id: str, root: Path):  # noqa: ANN201 - LeRobotDataset of whichever LeRobot is installed
    try:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset  # 0.4.x
        version = "0.4.x"
    except ImportError:
        from lerobot.common.datasets.lerobot_dataset import LeRobotDataset  # openpi's pin (0cf8648)
        version = "0cf8648"
    return LeRobotDataset(repo_id, root=root), version


def body(report: dict, export: Path, native: Path, repo_id: str, cam: str) -> None:
    ds, version = load(repo_id, export)
    eps = read_native(native)
    key, vkey = f"observation.depth.{cam}", f"observation.depth_valid.{cam}"
    feats = ds.meta.features
    report.update(lerobot=version, codebase_version=ds.meta.info["codebase_version"],
                  depth_feature=feats.get(key), valid_feature=feats.get(vkey))
    assert key in feats and vkey in feats, f"{key} / {vkey} missing from meta.features ({', '.join(feats)})"
    assert feats[key]["dtype"] == "uint16" and len(feats[key]["shape"]) == 2, feats[key]
    h, w = (int(n) for n in feats[key]["shape"])
    assert ds.num_frames == sum(len(e["step"]) for e in eps), "frame counts differ"
    k = missing = 0
    worst = 0
    for e_idx, ep in enumerate(eps):
        for i, png in enumerate(ep[key]):
            item = ds[k]
            assert int(item["episode_index"]) == e_idx and int(item["frame_index"]) == i
            got = item[key].numpy()
            assert got.shape == (h, w), f"frame {k}: depth shape {got.shape}, expected {(h, w)}"
            want = np.zeros((h, w), np.uint16) if png is None else decode_png16(png)
            diff = int(np.abs(got.astype(np.int64) - want.astype(np.int64)).max())
            worst = max(worst, diff)
            assert diff == 0, f"frame {k} (episode {e_idx} step {i}): depth differs by up to {diff} mm"
            valid = bool(np.asarray(item[vkey]).reshape(-1)[0])
            assert valid == (png is not None), f"frame {k}: {vkey} is {valid}, the native step has depth: {png is not None}"
            missing += png is None
            k += 1
    report.update(frames=k, frames_without_depth=missing, depth_dtype_in_item=str(got.dtype), max_abs_depth_diff_mm=worst)
    assert missing > 0, "the native dataset has no step without depth: the validity flag went unchecked"


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("export", type=Path)
    ap.add_argument("native", type=Path)
    ap.add_argument("--repo-id", default="teleforge/depth")
    ap.add_argument("--camera", default="front")
    a = ap.parse_args()
    run("lerobot-depth", lambda r: body(r, a.export, a.native, a.repo_id, a.camera))
