"""robomimic target: the robomimic HDF5 export, BC config JSONs (low-dim and image) and the train command.

robomimic's ``scripts/train.py --config FILE`` starts from ``config_factory(algo_name)`` and
updates it with the file, so the configs here hold only what differs from robomimic's defaults:
the data, the output folder, the observation keys, no rollouts (the teleforge sim is not a
robomimic env) and no validation split. Validated against robomimic 0.3.0.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from teleforge.convert.hdf5.robomimic import IMAGE_SUFFIX, OBS_KEYS, export_robomimic
from teleforge.dataset.selection import ExportSource
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult

ROBOMIMIC_VERSION = "0.3.0"
LOW_DIM_KEYS = list(OBS_KEYS)


def bc_config(name: str, data: Path, output_dir: Path, rgb: list[str], samples: int = 100) -> dict[str, Any]:
    """A robomimic BC config (the keys that differ from ``config_factory("bc")``), JSON-ready.

    ``samples``: steps in the file; the batch (robomimic's default 100) is capped there because its
    loader drops the last partial batch, so a smaller dataset would yield no batch at all."""
    return {
        "algo_name": "bc",
        "experiment": {
            "name": f"{name}_bc{'_image' if rgb else ''}",
            "validate": False,  # the export has no mask/valid split unless asked
            "rollout": {"enabled": False},  # rollouts build an env from env_args; teleforge's sim is not one
            "render_video": False,
        },
        "train": {
            "data": str(data),
            "output_dir": str(output_dir),
            # low-dim data fits in memory; images are read from the file per batch
            "hdf5_cache_mode": None if rgb else "low_dim",
            "num_data_workers": 0,
            "batch_size": max(1, min(100, samples)),
        },
        "observation": {"modalities": {"obs": {"low_dim": LOW_DIM_KEYS, "rgb": rgb}}},
    }


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """``robomimic/<name>.hdf5`` (with next_obs), ``robomimic_bc.json``, ``robomimic_bc_image.json``, commands."""
    say.message(f"robomimic: HDF5 export of {res.episodes} episodes")
    data = out / "robomimic" / f"{name}.hdf5"
    data.parent.mkdir(parents=True, exist_ok=True)
    export_robomimic(src, data)
    res.files["robomimic"] = data
    runs = out.resolve() / "robomimic_runs"
    cams = src.dataset.spec.camera_names
    if primary in cams:  # the primary camera first: robomimic's image encoders take keys in order
        cams = [primary] + [c for c in cams if c != primary]
    configs = {"bc": bc_config(name, data.resolve(), runs, [], res.steps)}
    if cams:
        configs["bc_image"] = bc_config(name, data.resolve(), runs, [c + IMAGE_SUFFIX for c in cams], res.steps)
    res.commands = []
    for key, cfg in configs.items():
        path = out / f"robomimic_{key}.json"
        path.write_text(json.dumps(cfg, indent=2))
        res.files[f"config_{key}"] = path
        res.commands.append(f"python -m robomimic.scripts.train --config {shlex.quote(str(path.resolve()))}")


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for robomimic."""
    return [
        f"## Run it (robomimic {ROBOMIMIC_VERSION}: `pip install robomimic=={ROBOMIMIC_VERSION}`)",
        "",
        "BC on the low-dim observations (EE pose, joints, gripper), then BC with the camera images:",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "robomimic's `scripts/train.py` prints `finished run successfully!` at the end; it exits 0 even when a run "
        "fails, so read its last line. Other algorithms: set `algo_name` (e.g. `iql`, `bcq`, `cql`) — the file "
        "carries `next_obs`, `rewards` and `dones`. Actions are the native EE delta "
        "[dx, dy, dz, drx, dry, drz, gripper], gripper 0 = open, 1 = closed; `robot0_eef_quat` is xyzw.",
    ]
