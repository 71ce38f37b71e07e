"""OpenVLA target: RLDS in OpenVLA's action space, its statistics, the registration snippet and command."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

from teleforge.convert.rlds import RldsExportConfig, camera_keys, dataset_statistics, export_rlds, write_statistics
from teleforge.dataset.selection import ExportSource
from teleforge.names import check_key
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult, ee_arrays


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """RLDS (OpenVLA action space), dataset_statistics.json, the registration snippet and the command."""
    say.message(f"openvla: RLDS export (OpenVLA action space) of {res.episodes} episodes")
    rlds_root = out / "rlds"
    r = export_rlds(src, rlds_root, RldsExportConfig(name=name, action_space="openvla", state="eef", primary_camera=primary))
    res.files["rlds"] = r.path
    stats_src = r.path / "dataset_statistics.json"
    stats = out / "dataset_statistics.json"
    if stats_src.exists():
        shutil.copyfile(stats_src, stats)
    else:  # an exporter that stopped writing it: compute it here from the same actions
        acts, states = ee_arrays(src, openvla=True)
        write_statistics(stats, name, dataset_statistics(acts, states, res.episodes))
    res.files["dataset_statistics"] = stats
    keys = camera_keys(src.dataset.spec, primary)
    wrist = next((k for c, k in keys.items() if "wrist" in c), None)
    secondary = next((k for c, k in keys.items() if k != "image" and k != wrist), None)
    snippet = out / "openvla_dataset_config.py"
    snippet.write_text(openvla_config_source(name, secondary, wrist, src.dataset.spec.fps))
    res.files["config"] = snippet
    res.commands = [
        f"torchrun --standalone --nnodes 1 --nproc-per-node 1 vla-scripts/finetune.py "
        f"--vla_path openvla/openvla-7b --data_root_dir {shlex.quote(str(rlds_root.resolve()))} "
        f"--dataset_name {shlex.quote(name)} "
        f"--run_root_dir runs --adapter_tmp_dir adapter-tmp --lora_rank 32 --batch_size 16 --grad_accumulation_steps 1 "
        f"--learning_rate 5e-4 --image_aug True --save_steps 5000",
    ]


def _lit(value: str | None) -> str:
    """A Python literal for ``value`` (a JSON string is a valid Python string literal; ASCII-only)."""
    return "None" if value is None else json.dumps(str(value), ensure_ascii=True)


def openvla_config_source(name: str, secondary: str | None, wrist: str | None, fps: float) -> str:
    """The OpenVLA registration module for RLDS dataset ``name``; data enters only as string literals.

    ``secondary``/``wrist`` are RLDS image keys (None: not recorded); ``fps`` in Hz.
    """
    for value, what in ((name, "dataset name"), (secondary, "image key"), (wrist, "image key")):
        if value is not None:
            check_key(value, what)
    return _OPENVLA_SNIPPET.format(name=_lit(name), secondary=_lit(secondary), wrist=_lit(wrist), fps=float(fps))


_OPENVLA_SNIPPET = '''"""OpenVLA registration for the teleforge dataset named in DATASET_NAME (written by `teleforge handoff openvla`).

Paste each block into the named file of an openvla checkout (prismatic/vla/datasets/rlds/oxe/).
The RLDS episodes already use OpenVLA's conventions, so the transform only selects keys:
  action (7): [dx, dy, dz, drx, dry, drz, gripper] - EE translation (m) and rotation per step
              (axis-angle, rad; for steps this small it equals roll-pitch-yaw to first order) in the
              robot base frame; gripper in [0, 1] with 1 = open, 0 = closed (OpenVLA's convention).
  observation/state (8): [x, y, z, qw, qx, qy, qz, gripper opening (1 = open)] -> StateEncoding.POS_QUAT.
  control rate: {fps:g} Hz.
"""

DATASET_NAME = {name}

# --- configs.py: add to OXE_DATASET_CONFIGS -------------------------------------------
OXE_DATASET_CONFIGS_ENTRY = {{
    {name}: {{
        "image_obs_keys": {{"primary": "image", "secondary": {secondary}, "wrist": {wrist}}},
        "depth_obs_keys": {{"primary": None, "secondary": None, "wrist": None}},
        "state_obs_keys": ["state"],
        "state_encoding": StateEncoding.POS_QUAT,  # noqa: F821 - defined in configs.py
        "action_encoding": ActionEncoding.EEF_POS,  # noqa: F821 - defined in configs.py
    }},
}}


# --- transforms.py: add the function and the registry entry ---------------------------
def teleforge_dataset_transform(trajectory):
    # Actions are already EEF deltas with gripper 1 = open, 0 = close: nothing to convert.
    return trajectory


OXE_STANDARDIZATION_TRANSFORMS_ENTRY = {{
    {name}: teleforge_dataset_transform,
}}


# --- mixtures.py: add to OXE_NAMED_MIXTURES (lets you pass --dataset_name DATASET_NAME as a mixture too) ---
OXE_NAMED_MIXTURES_ENTRY = {{
    {name}: [({name}, 1.0)],
}}
'''



def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for OpenVLA."""
    return [
        "## Run it (in an openvla checkout, https://github.com/openvla/openvla)",
        "",
        "1. Register the dataset: paste the three blocks of `openvla_dataset_config.py` into "
        "`prismatic/vla/datasets/rlds/oxe/configs.py` (OXE_DATASET_CONFIGS), `transforms.py` "
        "(the function + OXE_STANDARDIZATION_TRANSFORMS) and `mixtures.py` (OXE_NAMED_MIXTURES).",
        f"2. Fine-tune (LoRA, one GPU; `--data_root_dir` is the folder that holds `{name}/1.0.0`):",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "3. `dataset_statistics.json` here is what the run saves next to its checkpoint; at inference call "
        f"`vla.predict_action(..., unnorm_key=\"{name}\")`. Actions use OpenVLA's gripper convention "
        "(1 = open); teleforge's native gripper (1 = closed) is `1 - gripper`.",
        "",
        "Load the data without OpenVLA: `tfds.builder_from_directory(\"" + str(res.files['rlds']) + "\").as_dataset(split=\"train\")`.",
    ]
