"""LeRobot 0.4.4 loads a LeRobot v3.0 export/handoff and trains ACT on it for a few steps.

Usage: PY_LEROBOT check_lerobot_train.py ROOT NATIVE_DATASET [--repo-id ID] [--handoff DIR] [--steps 10]
ROOT is the dataset folder (meta/info.json inside). With --handoff, the handoff's own command
(teleforge_handoff.json "commands"[0]) is run with only --steps/--batch_size/--output_dir replaced;
without it, the VERIFY.md CPU command. Checks: frames vs native (actions/state max abs diff), video
frames' PSNR against the native JPEGs, lerobot_train exit status.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from _common import decode_jpeg, native_state8, psnr, read_native, run


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("root")
    p.add_argument("native")
    p.add_argument("--repo-id", default="teleforge/dataset")
    p.add_argument("--handoff")
    p.add_argument("--steps", type=int, default=10)
    a = p.parse_args()

    def body(r: dict) -> None:
        from lerobot.datasets.lerobot_dataset import LeRobotDataset

        ds = LeRobotDataset(a.repo_id, root=a.root)
        r["frames"], r["episodes"] = len(ds), ds.num_episodes
        native = read_native(a.native)
        act = np.stack([np.asarray(ds.hf_dataset[i]["action"]) for i in range(len(ds))])
        state = np.stack([np.asarray(ds.hf_dataset[i]["observation.state"]) for i in range(len(ds))])
        n_act = np.concatenate([e["action"] for e in native]).astype(np.float32)
        n_state = np.concatenate([native_state8(e) for e in native])
        r["action_max_abs"] = float(np.abs(act - n_act).max())
        r["state_max_abs"] = float(np.abs(state - n_state).max())
        cams = [k for k in ds.meta.video_keys]
        worst = {}
        for k in cams:
            name = k.rsplit(".", 1)[-1]
            vals = []
            for i in (0, len(native[0]["step"]) - 1):
                frame = (ds[i][k].numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
                vals.append(psnr(frame, decode_jpeg(native[0][f"observation.images.{name}"][i])))
            worst[k] = min(vals)
        r["video_psnr_min_db"] = worst

        with tempfile.TemporaryDirectory() as tmp:
            if a.handoff:
                cmd = shlex.split(json.loads(Path(a.handoff, "teleforge_handoff.json").read_text())["commands"][0])
                repl = {"--steps": str(a.steps), "--batch_size": "2", "--output_dir": str(Path(tmp, "out"))}
                cmd = [f"{c.split('=')[0]}={repl[c.split('=')[0]]}" if c.split("=")[0] in repl else c for c in cmd]
                cmd += ["--num_workers=0", "--save_checkpoint=false"]
            else:
                cmd = ["lerobot-train", f"--dataset.repo_id={a.repo_id}", f"--dataset.root={a.root}",
                       "--policy.type=act", "--policy.pretrained_backbone_weights=null", "--policy.device=cpu",
                       f"--steps={a.steps}", "--batch_size=2", "--num_workers=0", "--save_checkpoint=false",
                       "--wandb.enable=false", "--policy.push_to_hub=false", f"--output_dir={tmp}/out"]
            if cmd[0] == "lerobot-train":  # the console script of this venv
                cmd = [sys.executable, "-m", "lerobot.scripts.lerobot_train"] + cmd[1:]
            env = dict(os.environ, HF_HUB_OFFLINE="1")
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
            out = proc.stdout + proc.stderr
            done = re.findall(r"Training:.*?\b(\d+)/(\d+) \[", out)  # lerobot_train's tqdm bar
            r["train"] = {"cmd": " ".join(cmd[3:]), "rc": proc.returncode,
                          "steps_done": int(done[-1][0]) if done else None, "tail": out.strip().splitlines()[-2:]}
        if proc.returncode != 0:
            raise RuntimeError(f"lerobot_train exited {proc.returncode}: {r['train']['tail']}")
        if r["train"]["steps_done"] is not None and r["train"]["steps_done"] < a.steps:
            raise RuntimeError(f"lerobot_train stopped after {r['train']['steps_done']} of {a.steps} steps")

    run("lerobot_train", body)


if __name__ == "__main__":
    main()
