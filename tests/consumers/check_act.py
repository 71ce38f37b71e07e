"""ACT (tonyzhaozh/act 742c753) loads an ALOHA export with its own utils.load_data.

Usage: PY_ACT check_act.py ALOHA_DIR NATIVE_DATASET --act-src shared/validators/act-742c753 [--camera front]
           [--handoff HANDOFF_ACT --act-checkout FULL_ACT_SOURCE [--steps 10]]
Checks: load_data batches (it stacks whole episodes, so lengths must be equal), one batch's shapes,
ACT's hard-coded state size (imitate_episodes.py:50 state_dim = 14), qpos/action vs the native joints.
With --handoff and a full ACT checkout (constants.py, policy.py, detr/): runs the README's register
command verbatim on a copy of the checkout, loads the task from its SIM_TASK_CONFIGS, and trains
ACTPolicy (built from the README's imitate_episodes.py arguments, as imitate_episodes.py builds it)
for --steps optimizer steps. Stubs: the ResNet-18 backbone starts from random weights (ACT
downloads ImageNet weights, which needs the network); without CUDA, Module.cuda() is a no-op.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
from _common import read_native, run

ACT_STATE_DIM = 14  # imitate_episodes.py:50 and detr/models/detr_vae.py:58,69,70 (nn.Linear(14, ...))


def train_from_handoff(a, act_utils) -> dict:
    """README step 1 verbatim on a copy of the checkout, then ACT's own policy for a.steps steps."""
    import json
    import shlex
    import shutil
    import subprocess
    import tempfile

    import torch

    manifest = json.loads(Path(a.handoff, "teleforge_handoff.json").read_text())
    register, train = (shlex.split(c) for c in manifest["commands"])
    tmp = Path(tempfile.mkdtemp()) / "act"
    shutil.copytree(a.act_checkout, tmp)
    register[0] = sys.executable
    proc = subprocess.run(register, cwd=tmp, capture_output=True, text=True)
    if proc.returncode:
        raise RuntimeError(f"register command failed: {proc.stderr.strip()}")
    sys.path[:0] = [str(tmp), str(tmp / "detr")]
    sys.argv = train[1:]  # detr/main.py parses the process's own arguments, as under imitate_episodes.py
    import constants

    args = {k.lstrip("-"): v for k, v in zip(train[2::2], train[3::2])}
    task = constants.SIM_TASK_CONFIGS[args["task_name"]]
    import detr.models.backbone as backbone  # noqa: F401 - patched below
    for mod in list(sys.modules.values()):  # no ImageNet download: random backbone weights
        if getattr(mod, "__name__", "").endswith("backbone") and hasattr(mod, "is_main_process"):
            mod.is_main_process = lambda: False
    if not torch.cuda.is_available():  # detr/main.py calls model.cuda(): keep the model on the CPU here
        torch.nn.Module.cuda = lambda self, *args, **kwargs: self
    from policy import ACTPolicy

    policy_config = {"lr": float(args["lr"]), "num_queries": int(args["chunk_size"]), "kl_weight": int(args["kl_weight"]),
                     "hidden_dim": int(args["hidden_dim"]), "dim_feedforward": int(args["dim_feedforward"]),
                     "lr_backbone": 1e-5, "backbone": "resnet18", "enc_layers": 4, "dec_layers": 7, "nheads": 8,
                     "camera_names": task["camera_names"]}  # imitate_episodes.py main(), policy_class ACT
    torch.manual_seed(0)
    train_dl, _, _, _ = act_utils.load_data(task["dataset_dir"], task["num_episodes"], task["camera_names"],
                                            int(args["batch_size"]), int(args["batch_size"]))
    policy = ACTPolicy(policy_config)
    opt = policy.configure_optimizers()
    losses, step = [], 0
    while step < a.steps:
        for image, qpos, action, is_pad in train_dl:  # imitate_episodes.py forward_pass + train_bc
            loss = policy(qpos, image, action, is_pad)["loss"]
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
            step += 1
            if step == a.steps:
                break
    if not all(np.isfinite(losses)):
        raise ValueError(f"non-finite ACT loss: {losses}")
    return {"task": args["task_name"], "task_config": task, "steps": len(losses), "loss_first": losses[0],
            "loss_last": losses[-1]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("aloha")
    p.add_argument("native")
    p.add_argument("--act-src", required=True)
    p.add_argument("--camera", action="append")
    p.add_argument("--handoff")
    p.add_argument("--act-checkout")
    p.add_argument("--steps", type=int, default=10)
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
        dq = da = 0.0
        for f, ep in zip(files, native):
            with h5py.File(f, "r") as h:
                t = len(ep["action"])
                n = ep["observation.state.joint_pos"].shape[1]
                q, act = h["/observations/qpos"][()], h["/action"][()]
                dq = max(dq, float(np.abs(q[:t, :n] - ep["observation.state.joint_pos"]).max()),
                         float(np.abs(q[:t, n] - ep["observation.state.gripper"]).max()))
                da = max(da, float(np.abs(act[:t, :n] - ep["target.joint_pos"]).max()),
                         float(np.abs(act[:t, n] - (1.0 - ep["action"][:, 6])).max()))
        r["all_episodes_vs_native_max_abs"] = {"qpos": dq, "action": da}
        if a.handoff and a.act_checkout:
            r["train"] = train_from_handoff(a, act_utils)
        if r["qpos_dim"] != ACT_STATE_DIM or r["action_dim"] != ACT_STATE_DIM:
            raise ValueError(f"ACT's policy is built for state/action size {ACT_STATE_DIM} (imitate_episodes.py:50), "
                             f"export has qpos {r['qpos_dim']}, action {r['action_dim']}")

    run("act", body)


if __name__ == "__main__":
    main()
