"""OpenVLA target: RLDS in OpenVLA's action space, its statistics, a registration script and the command.

OpenVLA (openvla/openvla, validated at c8f03f4) looks a dataset up by name in three
dictionaries of ``prismatic/vla/datasets/rlds/oxe/``: ``OXE_DATASET_CONFIGS`` (configs.py),
``OXE_STANDARDIZATION_TRANSFORMS`` (transforms.py) and ``OXE_NAMED_MIXTURES`` (mixtures.py).
The handoff writes one block per file that *adds* the dataset to each dictionary, and
``openvla_register.py``, a standalone script that appends those blocks to an openvla checkout
(once: a second run changes nothing). Every name from the data enters the generated code through
``repr()``/``json.dumps``.
"""

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

OPENVLA_COMMIT = "c8f03f4"  # the openvla commit the blocks and command were validated against
OXE_DIR = "prismatic/vla/datasets/rlds/oxe"


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """RLDS (OpenVLA action space), dataset_statistics.json, the registration blocks/script and the command."""
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
    for key in (name, *keys.values()):
        check_key(key, "RLDS name or image key")
    blocks = registration_blocks(name, keys, src.dataset.spec.fps)
    snippet = out / "openvla_dataset_config.py"
    snippet.write_text(_snippet(name, blocks))
    res.files["config"] = snippet
    script = out / "openvla_register.py"
    script.write_text(_register_script(name, blocks))
    res.files["register"] = script
    res.commands = [
        f"python {shlex.quote(str(script.resolve()))} .",
        "WANDB_MODE=offline torchrun --standalone --nnodes 1 --nproc-per-node 1 vla-scripts/finetune.py "
        f"--vla_path openvla/openvla-7b --data_root_dir {shlex.quote(str(rlds_root.resolve()))} "
        f"--dataset_name {shlex.quote(name)} --run_root_dir runs --adapter_tmp_dir adapter-tmp --lora_rank 32 "
        "--batch_size 16 --grad_accumulation_steps 1 --learning_rate 5e-4 --image_aug True --save_steps 5000 "
        "--wandb_project teleforge",
    ]


def registration_blocks(name: str, keys: dict[str, str], fps: float) -> dict[str, str]:
    """File name (under ``OXE_DIR``) -> the Python block that registers ``name`` there.

    Each block runs at the end of its file, where ``StateEncoding``/``ActionEncoding``,
    ``OXE_DATASET_CONFIGS``, ``OXE_STANDARDIZATION_TRANSFORMS`` and ``OXE_NAMED_MIXTURES`` are defined.
    """
    wrist = next((k for c, k in keys.items() if "wrist" in c), None)
    secondary = next((k for c, k in keys.items() if k != "image" and k != wrist), None)
    image_keys = {"primary": "image" if "image" in keys.values() else None, "secondary": secondary, "wrist": wrist}
    n = repr(name)
    return {
        "configs.py": (
            f"# teleforge handoff {n}: state [x, y, z, qw, qx, qy, qz, gripper opening], {float(fps)!r} Hz\n"
            f"OXE_DATASET_CONFIGS[{n}] = {{\n"
            f"    \"image_obs_keys\": {_py(image_keys)},\n"
            "    \"depth_obs_keys\": {\"primary\": None, \"secondary\": None, \"wrist\": None},\n"
            "    \"state_obs_keys\": [\"state\"],\n"
            "    \"state_encoding\": StateEncoding.POS_QUAT,  # noqa: F821 - defined in configs.py\n"
            "    \"action_encoding\": ActionEncoding.EEF_POS,  # noqa: F821 - defined in configs.py\n"
            "}\n"
        ),
        "transforms.py": (
            f"# teleforge handoff {n}\n"
            "def teleforge_dataset_transform(trajectory):\n"
            "    # The export already holds OpenVLA's conventions (EEF delta, gripper in {0, 1}, 1 = open).\n"
            "    return trajectory\n"
            "\n"
            "\n"
            f"OXE_STANDARDIZATION_TRANSFORMS[{n}] = teleforge_dataset_transform  # noqa: F821\n"
        ),
        "mixtures.py": (
            f"# teleforge handoff {n}: lets --dataset_name name it as a mixture too\n"
            f"OXE_NAMED_MIXTURES[{n}] = [({n}, 1.0)]  # noqa: F821\n"
        ),
    }


def openvla_config_source(name: str, secondary: str | None, wrist: str | None, fps: float) -> str:
    """The registration module for RLDS dataset ``name`` (image keys ``secondary``/``wrist``, None: not
    recorded; ``fps`` in Hz). Names are checked; data enters the code only as literals."""
    for value, what in ((name, "dataset name"), (secondary, "image key"), (wrist, "image key")):
        if value is not None:
            check_key(value, what)
    keys = {"primary": "image", **({"secondary": secondary} if secondary else {}), **({"wrist": wrist} if wrist else {})}
    return _snippet(name, registration_blocks(name, keys, fps))


def _py(d: dict[str, str | None]) -> str:
    """A dict of str/None as a Python literal (json.dumps quoting, None for null)."""
    return "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v) if v is not None else 'None'}" for k, v in d.items()) + "}"


def _snippet(name: str, blocks: dict[str, str]) -> str:
    head = (
        '"""OpenVLA registration for the teleforge dataset registered below (written by `teleforge handoff openvla`).\n'
        "\n"
        f"`python openvla_register.py OPENVLA_CHECKOUT` appends each block below to that file of {OXE_DIR}/;\n"
        "pasting them at the end of those files by hand does the same.\n"
        "  action (7): [dx, dy, dz, drx, dry, drz, gripper] - EE translation (m) and rotation per step\n"
        "              (axis-angle, rad) in the robot base frame; gripper in {0, 1}, 1 = open (OpenVLA's convention).\n"
        "  observation/state (8): [x, y, z, qw, qx, qy, qz, gripper opening (1 = open)] -> StateEncoding.POS_QUAT.\n"
        '"""\n'
    )
    parts = [head]
    for fname, block in blocks.items():
        parts.append(f"\n# --- {fname} (append at the end) ---\n{block}")
    return "".join(parts)


def _register_script(name: str, blocks: dict[str, str]) -> str:
    return (
        '"""Register the teleforge dataset NAME in an openvla checkout (written by `teleforge handoff openvla`).\n'
        "\n"
        "Usage: python openvla_register.py OPENVLA_CHECKOUT\n"
        f"Appends one block to each of {OXE_DIR}/configs.py, transforms.py and mixtures.py, adding the\n"
        "dataset to OXE_DATASET_CONFIGS, OXE_STANDARDIZATION_TRANSFORMS and OXE_NAMED_MIXTURES. Running it\n"
        "again changes nothing. Validated against openvla " + OPENVLA_COMMIT + ".\n"
        '"""\n'
        "\n"
        "import sys\n"
        "from pathlib import Path\n"
        "\n"
        f"NAME = {name!r}\n"
        f"OXE_DIR = {OXE_DIR!r}\n"
        f"BLOCKS = {blocks!r}\n"
        "\n"
        "\n"
        "def main(checkout: str) -> None:\n"
        "    oxe = Path(checkout, OXE_DIR)\n"
        "    if not (oxe / 'configs.py').is_file():\n"
        "        sys.exit(f'{oxe} has no configs.py: pass the root of an openvla checkout')\n"
        "    for fname, block in BLOCKS.items():\n"
        "        path = oxe / fname\n"
        "        text = path.read_text()\n"
        "        if block in text:\n"
        "            print(f'{path}: {NAME!r} already registered')\n"
        "            continue\n"
        "        path.write_text(text.rstrip('\\n') + '\\n\\n\\n' + block)\n"
        "        print(f'{path}: registered {NAME!r}')\n"
        "\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    if len(sys.argv) != 2:\n"
        "        sys.exit('usage: python openvla_register.py OPENVLA_CHECKOUT')\n"
        "    main(sys.argv[1])\n"
    )


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for OpenVLA."""
    return [
        f"## Run it (in an openvla checkout, https://github.com/openvla/openvla; validated at {OPENVLA_COMMIT})",
        "",
        "From the root of the checkout: register the dataset (adds it to `OXE_DATASET_CONFIGS`, "
        "`OXE_STANDARDIZATION_TRANSFORMS` and `OXE_NAMED_MIXTURES`; the blocks are also in "
        "`openvla_dataset_config.py`), then fine-tune (LoRA, one GPU):",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "`WANDB_MODE=offline` keeps the W&B log local (`wandb sync` it later); to log online drop it and add "
        "`--wandb_entity YOUR_ENTITY` (finetune.py's default entity is `stanford-voltron`). finetune.py downloads `openvla/openvla-7b` from the Hub "
        "unless `--vla_path` names a local copy.",
        "",
        "`dataset_statistics.json` here is what the run saves next to its checkpoint (OpenVLA recomputes the same "
        f"q01/q99 from the data); at inference call `vla.predict_action(..., unnorm_key={json.dumps(name)})`. "
        "Actions use OpenVLA's gripper convention (1 = open, binarised to {0, 1}); teleforge's native gripper "
        "(1 = closed) is `1 - gripper`.",
        "",
        "Load the data without OpenVLA: `tfds.builder_from_directory(" + json.dumps(str(res.files["rlds"]))
        + ").as_dataset(split=\"train\")`.",
    ]
