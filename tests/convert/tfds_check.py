"""Load teleforge RLDS exports with the real tensorflow_datasets and compare every step.

Run standalone with the TF venv (see /work/shared/VERIFY.md)::

    /work/venv-tfds/bin/python tests/convert/tfds_check.py [SOURCE_DATASET]

Without SOURCE_DATASET a small synthetic dataset is built. For each action space
(native EE delta and OpenVLA) it exports, loads with
``tfds.builder_from_directory(path).as_dataset(split="train")``, iterates every step
and compares values and decoded images with the native dataset. If TFDS_493_PROTO
names a folder holding tensorflow_datasets 4.9.3's ``core/proto`` package (unpacked
from its wheel), dataset_info.json is also parsed with that older schema.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


def compare_with_tfds(rlds_dir: Path, source: Path, action_space: str) -> dict:
    import tensorflow as tf
    import tensorflow_datasets as tfds

    from teleforge.convert.rlds.gripper import binarize_gripper
    from teleforge.dataset import Dataset
    from teleforge.dataset.images import decode_image
    from teleforge.dataset.schema import image_column

    src = Dataset.open(source)
    sidecar = json.loads((rlds_dir / "teleforge_rlds.json").read_text())
    builder = tfds.builder_from_directory(str(rlds_dir))
    ds = builder.as_dataset(split="train", shuffle_files=False)
    n_eps = n_steps = n_images = 0
    max_img_diff = 0.0  # worst per-image mean |TF - simplejpeg| decode difference
    for ep, eid in zip(tfds.as_numpy(ds), sidecar["episode_ids"], strict=True):
        meta = ep["episode_metadata"]
        assert int(meta["episode_id"]) == eid, (meta["episode_id"], eid)
        native = src.episode(eid)
        info = native.meta
        assert meta["task"].decode() == info.task and meta["outcome"].decode() == info.outcome
        act = native.column("action")
        if action_space == "openvla":  # 1 = open, binarised as OpenVLA's transforms would (convert/rlds/gripper.py)
            act = act.copy()
            act[:, 6] = binarize_gripper(1.0 - act[:, 6])
        steps = list(ep["steps"])
        T = native.num_steps
        assert len(steps) == T, (len(steps), T)
        for t, st in enumerate(steps):
            want = act[t].copy()
            np.testing.assert_array_equal(st["action"], want.astype(np.float32))
            assert st["action"].dtype == np.float32
            state = np.concatenate([native.column("observation.state.ee_pos")[t], native.column("observation.state.ee_quat")[t],
                                    [native.column("observation.state.gripper")[t]]]).astype(np.float32)
            np.testing.assert_array_equal(st["observation"]["state"], state)
            np.testing.assert_array_equal(st["observation"]["joint_state"], native.column("observation.state.joint_pos")[t])
            assert bool(st["is_first"]) == (t == 0) and bool(st["is_last"]) == (t == T - 1)
            assert bool(st["is_terminal"]) == (t == T - 1 and info.outcome == "success")
            assert st["language_instruction"].decode() == info.instruction
            assert float(st["reward"]) == float(native.column("reward")[t]) and float(st["discount"]) == 1.0
            for cam, key in sidecar["cameras"].items():
                data = native.column(image_column(cam))[t]
                if data is None:
                    continue
                want_img = decode_image(data, src.spec.camera(cam))
                got = st["observation"][key]
                assert got.shape == want_img.shape and got.dtype == np.uint8, (got.shape, want_img.shape)
                # The stored bytes are copied verbatim: TF decoding the native bytes gives the same pixels.
                np.testing.assert_array_equal(got, tf.io.decode_image(data, channels=3).numpy())
                max_img_diff = max(max_img_diff, float(np.abs(got.astype(int) - want_img.astype(int)).mean()))
                n_images += 1
            n_steps += 1
        n_eps += 1
    assert n_eps == len(sidecar["episode_ids"])
    # TF decodes with libjpeg's fast integer IDCT, simplejpeg with the accurate one: close on average.
    assert max_img_diff < 4.0, f"decoded images differ by {max_img_diff} levels on average"
    return {"action_space": action_space, "episodes": n_eps, "steps": n_steps, "images": n_images,
            "worst_mean_image_diff_vs_simplejpeg": round(max_img_diff, 3), "tfds": tfds.__version__}


def check_493_schema(rlds_dir: Path) -> bool | None:
    """Parse dataset_info.json with tensorflow-datasets 4.9.3's own proto (OpenVLA's pin), strictly."""
    root = os.environ.get("TFDS_493_PROTO")
    if not root:
        return None
    import subprocess

    # A fresh interpreter: the newer tfds already registered a proto file of the same name.
    # A fresh interpreter whose tensorflow_datasets package is a bare shell over 4.9.3's proto folder:
    # importing the installed (newer) tfds would register a proto file of the same name first.
    code = (
        "import sys, types; from google.protobuf import json_format\n"
        "for name in ('tensorflow_datasets', 'tensorflow_datasets.core', 'tensorflow_datasets.core.proto'):\n"
        "    mod = types.ModuleType(name)\n"
        f"    mod.__path__ = [{str(Path(root))!r} + '/' + name.replace('.', '/')]\n"
        "    sys.modules[name] = mod\n"
        "from tensorflow_datasets.core.proto import dataset_info_generated_pb2 as m\n"
        f"json_format.Parse(open({str(rlds_dir / 'dataset_info.json')!r}).read(), m.DatasetInfo())\n"
    )
    # tfds 4.9.3 parses without ignore_unknown_fields: any key it does not know fails here.
    subprocess.run([sys.executable, "-c", code], check=True)
    return True


def main(argv: list[str]) -> int:
    from teleforge.convert import RldsExportConfig, export_rlds

    with tempfile.TemporaryDirectory() as tmp:
        if len(argv) > 1:
            source = Path(argv[1])
        else:
            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from synth_rlds import make_synthetic_dataset  # type: ignore[import-not-found]

            source = make_synthetic_dataset(Path(tmp) / "src", episodes=3, steps=(6, 9, 4))
        results = []
        for space in ("ee_delta", "openvla"):
            res = export_rlds(source, Path(tmp) / "out", RldsExportConfig(name=f"tf_check_{space}", action_space=space,
                                                                          num_shards=2, check=True))
            r = compare_with_tfds(res.path, source, space)
            r["tfds_4_9_3_dataset_info_parses"] = check_493_schema(res.path)
            results.append(r)
        print(json.dumps({"ok": True, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
