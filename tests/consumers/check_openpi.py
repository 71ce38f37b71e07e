"""openpi's data path (its pinned LeRobot 0cf8648, codebase v2.1) reads an `handoff openpi` folder.

Usage: PY_LEROBOT21 check_openpi.py HANDOFF_DIR NATIVE_DATASET [--action-horizon 50]
Replays openpi's create_torch_dataset (src/openpi/training/data_loader.py:130-151 at 15a9616):
LeRobotDatasetMetadata(repo_id) and LeRobotDataset(repo_id, delta_timestamps={k: [t / fps for t in
range(action_horizon)] for k in action_sequence_keys}) with HF_LEROBOT_HOME at the handoff's lerobot/,
then PromptFromLeRobotTask (transforms.py:310-324: tasks must be a dict task_index -> str), the
config's RepackTransform mapping, and the keys/shapes LiberoInputs reads; checks norm_stats.json
against openpi's NormStats (shared/normalize.py: {"norm_stats": {key: {mean, std, q01, q99}}}).
openpi itself (JAX) is not installed: the transform steps are the documented dict operations.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
from pathlib import Path

import numpy as np
from _common import native_state8, read_native, run


def config_values(src: str) -> dict:
    """repo_id, action_sequence_keys, prompt_from_task and the repack mapping from the pasted config."""
    out: dict = {"action_sequence_keys": ("actions",), "prompt_from_task": False}  # openpi DataConfig defaults
    if m := re.search(r'repo_id="([^"]+)"', src):
        out["repo_id"] = m.group(1)
    if m := re.search(r"action_sequence_keys\s*=\s*(\([^)]*\))", src):
        out["action_sequence_keys"] = ast.literal_eval(m.group(1))
    if m := re.search(r"prompt_from_task\s*=\s*(True|False)", src):
        out["prompt_from_task"] = m.group(1) == "True"
    if m := re.search(r"RepackTransform\(\s*(\{.*?\})\s*\)", src, re.S):
        out["repack"] = ast.literal_eval(m.group(1))
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("handoff")
    p.add_argument("native")
    p.add_argument("--action-horizon", type=int, default=50)  # pi0_config.py:26
    a = p.parse_args()

    def body(r: dict) -> None:
        h = Path(a.handoff)
        cfg = config_values((h / "openpi" / "openpi_config.py").read_text())
        r["config"] = {k: v for k, v in cfg.items() if k != "repack"}
        os.environ["HF_LEROBOT_HOME"] = str(h / "lerobot")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from lerobot.common.datasets import lerobot_dataset

        repo_id = cfg["repo_id"]
        meta = lerobot_dataset.LeRobotDatasetMetadata(repo_id)
        ds = lerobot_dataset.LeRobotDataset(
            repo_id,
            delta_timestamps={k: [t / meta.fps for t in range(a.action_horizon)] for k in cfg["action_sequence_keys"]},
        )
        r["frames"], r["episodes"] = len(ds), meta.total_episodes
        item = ds[0]
        if cfg["prompt_from_task"]:  # PromptFromLeRobotTask
            prompt = meta.tasks.get(int(item["task_index"]))
            if not isinstance(prompt, str):
                raise TypeError(f"meta.tasks[{int(item['task_index'])}] is {type(prompt).__name__}, not a prompt")
            item = {**item, "prompt": prompt}
        flat = dict(item)  # RepackTransform: flat_item[k] for each leaf (keys here have no "/")
        repacked = {new: flat[old] for new, old in cfg["repack"].items()}
        acts = np.asarray(repacked["actions"])
        r["batch"] = {k: list(np.shape(v)) for k, v in repacked.items() if k != "prompt"}
        r["prompt"] = repacked.get("prompt")
        if acts.shape[0] != a.action_horizon:
            raise ValueError(f"actions {acts.shape}: expected an action chunk of {a.action_horizon}")
        native = read_native(a.native)
        n_act = native[0]["action"][: a.action_horizon]
        r["action_chunk_max_abs"] = float(np.abs(acts[: len(n_act)] - n_act).max())
        r["state_max_abs"] = float(np.abs(np.asarray(repacked["observation/state"]) - native_state8(native[0])[0]).max())
        stats_files = list((h / "openpi" / "assets").rglob("norm_stats.json"))
        stats = json.loads(stats_files[0].read_text())["norm_stats"]
        r["norm_stats"] = {k: {s: len(v[s]) for s in ("mean", "std", "q01", "q99") if s in v} for k, v in stats.items()}
        missing = {"state", "actions"} - set(stats)
        if missing:
            raise KeyError(f"norm_stats.json lacks {missing} (Normalize matches LiberoInputs' output keys)")

    run("openpi", body)


if __name__ == "__main__":
    main()
