"""OpenVLA (c8f03f4) reads an `handoff openvla` folder with RLDSDataset, after pasting its config as told.

Usage: PY_TFDS check_openvla.py HANDOFF_DIR NATIVE_DATASET --openvla-src SRC --dlimp-src DLIMP
The handoff's openvla_dataset_config.py is pasted verbatim (each "# --- FILE.py" block appended to
that file of a temporary copy of prismatic/vla/datasets/rlds/oxe/), then RLDSDataset(data_root_dir,
data_mix=NAME, ...) runs exactly as finetune.py builds it (datasets.py:70-130), with a batch transform
that keeps the RLDS batch, and OpenVLA's ActionTokenizer encodes the normalised action. torch,
transformers and prismatic's other packages are stubbed (not on the data path).
Checks: registration found, gripper values in {0, 1}, actions after undoing BOUNDS_Q99 vs native.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
from _common import read_native, run


def stub_modules(root: Path) -> None:
    torch = types.ModuleType("torch")
    torch.utils = types.ModuleType("torch.utils")
    torch.utils.data = types.ModuleType("torch.utils.data")
    torch.utils.data.Dataset = torch.utils.data.IterableDataset = object
    transformers = types.ModuleType("transformers")
    transformers.PreTrainedTokenizerBase = object
    mods = {"torch": torch, "torch.utils": torch.utils, "torch.utils.data": torch.utils.data,
            "transformers": transformers}
    for name in ("prismatic.models", "prismatic.models.backbones", "prismatic.models.backbones.llm",
                 "prismatic.models.backbones.llm.prompting", "prismatic.models.backbones.vision",
                 "prismatic.util", "prismatic.util.data_utils", "tensorflow_graphics",
                 "tensorflow_graphics.geometry", "tensorflow_graphics.geometry.transformation"):
        mods[name] = types.ModuleType(name)
    mods["prismatic.models.backbones.llm.prompting"].PromptBuilder = object
    mods["prismatic.models.backbones.vision"].ImageTransform = object
    mods["prismatic.util.data_utils"].tree_map = lambda fn, tree: {k: (tree_map(fn, v) if isinstance(v, dict) else fn(v)) for k, v in tree.items()}  # noqa: E501
    tree_map = mods["prismatic.util.data_utils"].tree_map
    ow = types.ModuleType("prismatic.overwatch")
    import logging

    ow.initialize_overwatch = lambda name: logging.getLogger(name)
    mods["prismatic.overwatch"] = ow
    for pkg in ("prismatic", "prismatic.vla", "prismatic.vla.datasets"):  # skip their __init__ imports
        m = types.ModuleType(pkg)
        m.__path__ = [str(root.joinpath(*pkg.split(".")))]
        mods[pkg] = m
    sys.modules.update(mods)


def paste(config_py: str, oxe: Path) -> list[str]:
    """Append each '# --- FILE.py' block of the handoff config to that file; returns the files touched."""
    header, *rest = re.split(r"^# --- (\w+\.py)[^\n]*\n", config_py, flags=re.M)
    touched = []
    for fname, block in zip(rest[::2], rest[1::2]):
        with open(oxe / fname, "a") as f:
            f.write("\n\n" + block)
        touched.append(fname)
    return touched


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("handoff")
    p.add_argument("native")
    p.add_argument("--openvla-src", required=True)
    p.add_argument("--dlimp-src", required=True)
    p.add_argument("--name")
    a = p.parse_args()

    def body(r: dict) -> None:
        h = Path(a.handoff)
        manifest = json.loads((h / "teleforge_handoff.json").read_text())
        tmp = Path(tempfile.mkdtemp())
        shutil.copytree(a.openvla_src, tmp / "openvla", dirs_exist_ok=True)
        oxe = tmp / "openvla" / "prismatic" / "vla" / "datasets" / "rlds" / "oxe"
        cmds = manifest["commands"]
        if (h / "openvla_register.py").exists():  # the README's first step, verbatim, from the checkout root
            reg = shlex.split(cmds[0])
            reg[0] = sys.executable
            proc = subprocess.run(reg, cwd=tmp / "openvla", capture_output=True, text=True)
            r["register"] = (proc.stdout + proc.stderr).strip().splitlines()
            if proc.returncode:
                raise RuntimeError(f"openvla_register.py failed: {r['register']}")
            r["register_again"] = subprocess.run(reg, cwd=tmp / "openvla", capture_output=True,
                                                 text=True).stdout.strip().splitlines()
        else:  # older handoffs: paste each block at the end of its file
            r["pasted_into"] = paste((h / "openvla_dataset_config.py").read_text(), oxe)
        train = shlex.split(cmds[-1])
        name = a.name or train[train.index("--dataset_name") + 1]
        data_root = train[train.index("--data_root_dir") + 1]
        r["dataset_name"], r["command"] = name, cmds[-1]
        sys.path[:0] = [a.dlimp_src, str(tmp / "openvla")]
        stub_modules(tmp / "openvla")
        from prismatic.vla.datasets.rlds.oxe import OXE_NAMED_MIXTURES
        from prismatic.vla.datasets.rlds.oxe.configs import OXE_DATASET_CONFIGS
        from prismatic.vla.datasets.rlds.oxe.transforms import OXE_STANDARDIZATION_TRANSFORMS

        r["registered"] = {"configs": name in OXE_DATASET_CONFIGS,
                           "transforms": name in OXE_STANDARDIZATION_TRANSFORMS,
                           "mixtures": name in OXE_NAMED_MIXTURES}
        import importlib

        ds_mod = importlib.import_module("prismatic.vla.datasets.datasets")
        from prismatic.vla.action_tokenizer import ActionTokenizer

        data = ds_mod.RLDSDataset(Path(data_root), name, lambda b: b, resize_resolution=(224, 224),
                                  shuffle_buffer_size=100, train=True, image_aug=False)
        batches = [b for _, b in zip(range(400), iter(data))]
        acts = np.stack([b["action"][0] for b in batches])
        r["batch_keys"] = sorted(batches[0]); r["image"] = list(np.shape(batches[0]["observation"]["image_primary"]))
        r["gripper_values"] = sorted(set(np.round(acts[:, -1], 4).tolist()))
        # Llama-2's vocabulary size; decode just shows the token ids the tokenizer would emit.
        tok = ActionTokenizer(types.SimpleNamespace(vocab_size=32000, decode=lambda ids: ids))
        r["action_token_ids_sample"] = [int(t) for t in tok(acts[0])]
        back = tok.decode_token_ids_to_actions(np.asarray(r["action_token_ids_sample"]))
        r["tokenizer_roundtrip_max_abs"] = float(np.abs(back - np.clip(acts[0], -1, 1)).max())
        stats = data.dataset_statistics[name]["action"]
        q01, q99, mask = (np.asarray(stats[k]) for k in ("q01", "q99", "mask"))
        undone = np.where(mask, 0.5 * (acts + 1) * (q99 - q01 + 1e-8) + q01, acts)
        native = np.concatenate([e["action"] for e in read_native(a.native)])
        # each undone action must be one of the native ones (shuffled; clipped to [-1, 1] outside q01..q99)
        d = np.abs(undone[:, None, :6] - native[None, :, :6]).max(-1).min(-1)
        r["action_vs_native_max_abs_unclipped"] = float(d[(np.abs(acts[:, :6]) < 1).all(1)].max())
        ours = json.loads((h / "dataset_statistics.json").read_text())[name]
        r["statistics_vs_openvla_max_abs"] = {
            f"{k}.{q}": float(np.abs(np.asarray(ours[k][q]) - np.asarray(data.dataset_statistics[name][k][q])).max())
            for k in ("action",) for q in ("q01", "q99", "mean", "std", "min", "max")}  # finetune.py loads no proprio
        if max(r["statistics_vs_openvla_max_abs"].values()) > 1e-6:
            raise ValueError(f"dataset_statistics.json differs from what OpenVLA computes: {r['statistics_vs_openvla_max_abs']}")
        if r["action_vs_native_max_abs_unclipped"] > 1e-6:
            raise ValueError("actions after undoing BOUNDS_Q99 differ from the native ones")
        if set(r["gripper_values"]) - {0.0, 1.0}:
            raise ValueError(f"gripper not binary in the openvla action space: {r['gripper_values']}")

    run("openvla", body)


if __name__ == "__main__":
    main()
