"""ACT (tonyzhaozh/act 742c753) loads an ALOHA export with its own utils.load_data.

Usage: PY_ACT check_act.py ALOHA_DIR NATIVE_DATASET --act-src shared/validators/act-742c753 [--camera front]
Checks: load_data batches (it stacks whole episodes, so lengths must be equal), one batch's shapes,
ACT's hard-coded state size (imitate_episodes.py:50 state_dim = 14), qpos vs the native joints.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
from _common import read_native, run

ACT_STATE_DIM = 14  # imitate_episodes.py:50 and detr/models/detr_vae.py:58,69,70 (nn.Linear(14, ...))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("aloha")
    p.add_argument("native")
    p.add_argument("--act-src", required=True)
    p.add_argument("--camera", action="append")
    a = p.parse_args()

    def body(r: dict) -> None:
        import h5py
        import torch

        sys.modules.setdefault("IPython", types.SimpleNamespace(embed=lambda *x, **k: None))  # utils.py:7
        sys.path.insert(0, a.act_src)
        import utils as act_utils  # ACT's own module

        files = sorted(Path(a.aloha).glob("episode_*.hdf5"))
        r["episodes"] = len(files)
        lengths = []
        for f in files:
            with h5py.File(f, "r") as h:
                lengths.append(int(h["/action"].shape[0]))
                r["qpos_dim"] = int(h["/observations/qpos"].shape[1])
                r["action_dim"] = int(h["/action"].shape[1])
                r["cameras"] = sorted(h["/observations/images"].keys())
        r["lengths"] = sorted(set(lengths))
        cams = a.camera or r["cameras"][:1]
        torch.manual_seed(0)
        np.random.seed(0)
        train, val, stats, is_sim = act_utils.load_data(a.aloha, len(files), cams, 2, 2)
        image, qpos, action, is_pad = next(iter(train))
        r["batch"] = {"image": list(image.shape), "qpos": list(qpos.shape), "action": list(action.shape),
                      "is_pad": list(is_pad.shape)}
        r["is_sim"] = bool(is_sim)
        # Values: de-normalised qpos of episode 0 against the native joints (first 7 dims).
        native = read_native(a.native)
        with h5py.File(files[0], "r") as h:
            q = h["/observations/qpos"][()]
        r["qpos_vs_native_joint_pos_max_abs"] = float(np.abs(q[: len(native[0]["step"]), :7]
                                                       - native[0]["observation.state.joint_pos"]).max())
        if r["qpos_dim"] != ACT_STATE_DIM or r["action_dim"] != ACT_STATE_DIM:
            raise ValueError(f"ACT's policy is built for state/action size {ACT_STATE_DIM} (imitate_episodes.py:50), "
                             f"export has qpos {r['qpos_dim']}, action {r['action_dim']}")

    run("act", body)


if __name__ == "__main__":
    main()
