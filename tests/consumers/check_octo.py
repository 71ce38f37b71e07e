"""Octo (241fb35) reads an RLDS export/handoff with its own make_single_dataset and yields a batch.

Usage: PY_TFDS check_octo.py RLDS_ROOT NAME NATIVE_DATASET --octo-src SRC --dlimp-src DLIMP
       [--dataset-kwargs FILE.json]   (a handoff's dataset_kwargs, used verbatim; else the ones below)
       [--handoff DIR]                (a `handoff octo` folder: also runs its README command)
Checks: make_single_dataset (octo/data/dataset.py:458) with `bounds` normalisation, which reads the
statistics' p01/p99 (octo/data/utils/data_utils.py:269-283); batch shapes; actions after undoing the
normalisation vs the native reader.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
from _common import native_state8, read_native, run


def unclipped_max_abs(normed: np.ndarray, undone: np.ndarray, native: np.ndarray) -> float:
    """Max over rows of the distance to the nearest native row (batches are shuffled), counting only the
    dims Octo did not clip to +-1 (outside p01..p99, or a constant dim, the value is not recoverable)."""
    keep = np.abs(normed) < 1  # (N, D)
    d = np.where(keep[:, None, :], np.abs(undone[:, None, :] - native[None]), 0.0).max(-1).min(-1)
    return float(d.max()) if len(d) else 0.0


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("rlds_root")
    p.add_argument("name")
    p.add_argument("native")
    p.add_argument("--octo-src", required=True)
    p.add_argument("--dlimp-src", required=True)
    p.add_argument("--dataset-kwargs")
    p.add_argument("--handoff", help="a `handoff octo` folder: also run its README command (octo_dataset.py) verbatim")
    a = p.parse_args()

    def body(r: dict) -> None:
        sys.path[:0] = [a.dlimp_src, a.octo_src]
        if "huggingface_hub" not in sys.modules:  # only task augmentation uses it
            try:
                import huggingface_hub  # noqa: F401
            except ImportError:
                sys.modules["huggingface_hub"] = types.SimpleNamespace(hf_hub_download=None)
        from octo.data.dataset import make_single_dataset

        if a.dataset_kwargs:
            kw = json.loads(Path(a.dataset_kwargs).read_text())
        else:
            kw = dict(name=a.name, data_dir=a.rlds_root,
                      image_obs_keys={"primary": "image", "wrist": "wrist_image"},
                      proprio_obs_key="state", language_key="language_instruction",
                      action_proprio_normalization_type="bounds",
                      action_normalization_mask=[True] * 6 + [False])
        r["dataset_kwargs"] = {k: v for k, v in kw.items() if k != "data_dir"}
        ds = make_single_dataset(kw, train=True,
                                 traj_transform_kwargs=dict(window_size=2, action_horizon=4),
                                 frame_transform_kwargs=dict(resize_size={"primary": (256, 256), "wrist": (128, 128)}))
        stats = ds.dataset_statistics
        r["statistics_keys"] = sorted(stats["action"])
        traj = next(ds.iterator())
        r["traj"] = {"action": list(traj["action"].shape),
                     "observation": {k: list(v.shape) for k, v in traj["observation"].items() if hasattr(v, "shape")}}
        act = traj["action"][:, 0, 0, :]  # (T, window, horizon, 7) -> current step
        lo, hi = np.asarray(stats["action"]["p01"]), np.asarray(stats["action"]["p99"])
        mask = np.asarray(kw.get("action_normalization_mask", [True] * act.shape[-1]))
        undone = np.where(mask, (act + 1) / 2 * (hi - lo + 1e-8) + lo, act)
        native = np.concatenate([e["action"] for e in read_native(a.native)])
        r["action_vs_native_max_abs_unclipped"] = unclipped_max_abs(act[:, :6], undone[:, :6], native[:, :6])
        native_eps = read_native(a.native)
        if "proprio" in traj["observation"]:
            pro = traj["observation"]["proprio"][:, -1, :]  # current step of each window
            plo, phi = np.asarray(stats["proprio"]["p01"]), np.asarray(stats["proprio"]["p99"])
            pundone = (pro + 1) / 2 * (phi - plo + 1e-8) + plo
            state = np.concatenate([native_state8(e) for e in native_eps])
            r["state_vs_native_max_abs_unclipped"] = unclipped_max_abs(pro, pundone, state)
        if isinstance(kw.get("dataset_statistics"), str):  # a handoff's file: equal to what Octo computes itself
            from octo.data.dataset import make_dataset_from_rlds

            own = {k: v for k, v in kw.items() if k != "dataset_statistics"}
            _, computed = make_dataset_from_rlds(**own, train=True, force_recompute_dataset_statistics=True)
            r["statistics_vs_octo_max_abs"] = {
                f"{k}.{q}": float(np.abs(np.asarray(stats[k][q]) - np.asarray(computed[k][q])).max())
                for k in ("action", "proprio") for q in ("p01", "p99", "mean", "std", "min", "max")}
            if max(r["statistics_vs_octo_max_abs"].values()) > 1e-6:
                raise ValueError(f"statistics differ from Octo's own: {r['statistics_vs_octo_max_abs']}")
        if a.handoff:  # the README's command, verbatim, with octo and dlimp importable
            manifest = json.loads(Path(a.handoff, "teleforge_handoff.json").read_text())
            cmd = shlex.split(manifest["commands"][0])
            cmd[0] = sys.executable if cmd[0] == "python" else cmd[0]
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([a.dlimp_src, a.octo_src, os.environ.get("PYTHONPATH", "")]))
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1200)
            r["readme_command"] = {"rc": proc.returncode, "stdout": proc.stdout.strip().splitlines()}
            if proc.returncode:
                raise RuntimeError(f"README command failed: {proc.stderr.strip().splitlines()[-3:]}")
        if r["action_vs_native_max_abs_unclipped"] > 1e-6 or r.get("state_vs_native_max_abs_unclipped", 0) > 1e-6:
            raise ValueError("actions/state after undoing the normalisation differ from the native ones")

    run("octo", body)


if __name__ == "__main__":
    main()
