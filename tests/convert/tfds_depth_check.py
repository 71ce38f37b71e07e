"""TensorFlow Datasets decodes a teleforge RLDS export's depth exactly, and its validity flag.

Run with the TF venv (``.ci/run`` does, after tfds_check.py)::

    $PY_TFDS tests/convert/tfds_depth_check.py [WORKDIR]

Builds a small native dataset whose camera ``front`` records depth (uint16 mm over the whole
range, some steps without a depth frame; tests/convert/depth_synth.py), exports it to RLDS, loads it
with ``tfds.builder_from_directory(path).as_dataset(split="train")`` and compares every step:
``observation/front_depth`` must be the native depth bit for bit ((H, W, 1) uint16, all 0 where the
step had no frame) and ``observation/front_depth_valid`` must say which steps had one. Prints one
JSON line and exits 1 on any difference.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def check(work: Path) -> dict:
    import tensorflow_datasets as tfds

    sys.path[:0] = [str(ROOT / "src"), str(ROOT)]
    from tests.convert.depth_synth import make_depth_dataset

    from teleforge.convert import RldsExportConfig, export_rlds

    truth = make_depth_dataset(work / "native", (7, 5), h=12, w=16)
    res = export_rlds(work / "native", work / "rlds", RldsExportConfig(name="tf_depth_check", check=True))
    ds = tfds.builder_from_directory(str(res.path)).as_dataset(split="train", shuffle_files=False)
    sidecar = json.loads((res.path / "teleforge_rlds.json").read_text())
    n_steps = n_missing = 0
    for ep, eid in zip(tfds.as_numpy(ds), sidecar["episode_ids"], strict=True):
        steps = list(ep["steps"])
        want = truth[int(eid)]
        assert len(steps) == len(want), (eid, len(steps), len(want))
        for t, (st, d) in enumerate(zip(steps, want, strict=True)):
            got = st["observation"]["front_depth"]
            assert got.dtype == np.uint16 and got.shape == (12, 16, 1), (eid, t, got.dtype, got.shape)
            expect = np.zeros((12, 16), np.uint16) if d is None else d
            diff = int(np.abs(got[..., 0].astype(np.int64) - expect.astype(np.int64)).max())
            assert diff == 0, f"episode {eid} step {t}: depth differs by up to {diff} mm"
            assert bool(st["observation"]["front_depth_valid"]) == (d is not None), (eid, t)
            assert "wrist_depth" not in st["observation"]
            n_steps += 1
            n_missing += d is None
    assert n_steps == sum(len(v) for v in truth.values())
    return {"ok": True, "episodes": len(truth), "steps": n_steps, "steps_without_depth": n_missing,
            "max_abs_depth_diff_mm": 0, "tfds": tfds.__version__}


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        print(json.dumps(check(Path(argv[1]))))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        print(json.dumps(check(Path(tmp))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
