"""Octo target: RLDS (the OXE/OpenVLA action space), Octo's ``dataset_kwargs`` and statistics, a loader script.

Octo (octo-models/octo, validated at 241fb35) reads RLDS through
``octo.data.dataset.make_single_dataset(dataset_kwargs, traj_transform_kwargs, frame_transform_kwargs)``;
its ``bounds`` normalisation reads ``p01``/``p99`` (octo/data/utils/data_utils.py), so the
statistics file here carries them (beside OpenVLA's ``q01``/``q99``) and ``dataset_kwargs`` points
at it. Every value from the data enters the written files through ``json.dumps``/``repr()``.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from teleforge.convert.rlds import RldsExportConfig, camera_keys, export_rlds, octo_statistics
from teleforge.dataset.selection import ExportSource
from teleforge.errors import HandoffError
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult

OCTO_COMMIT = "241fb35"  # the octo commit the kwargs were validated against
# Octo's finetuning defaults (scripts/configs/finetune_config.py): two frames of history, 4-step chunks,
# octo-base's image sizes.
TRAJ_TRANSFORM_KWARGS: dict[str, Any] = {"window_size": 2, "action_horizon": 4}
RESIZE = {"primary": [256, 256], "wrist": [128, 128]}


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """RLDS export, ``octo_dataset_statistics.json``, ``octo_dataset_kwargs.json`` and ``octo_dataset.py``."""
    say.message(f"octo: RLDS export (OXE action space, gripper 1 = open) of {res.episodes} episodes")
    rlds_root = out / "rlds"
    r = export_rlds(src, rlds_root, RldsExportConfig(name=name, action_space="openvla", state="eef", primary_camera=primary))
    res.files["rlds"] = r.path
    named = json.loads((r.path / "dataset_statistics.json").read_text())
    stats_path = out / "octo_dataset_statistics.json"
    stats_path.write_text(json.dumps(octo_statistics(named[name]), indent=2))
    res.files["dataset_statistics"] = stats_path
    kwargs = dataset_kwargs(name, rlds_root.resolve(), camera_keys(src.dataset.spec, primary), stats_path.resolve())
    kw_path = out / "octo_dataset_kwargs.json"
    kw_path.write_text(json.dumps(kwargs, indent=2))
    res.files["dataset_kwargs"] = kw_path
    frame = {"resize_size": {k: v for k, v in RESIZE.items() if k in kwargs["image_obs_keys"]}}
    loader = out / "octo_dataset.py"
    loader.write_text(_LOADER.replace("@TRAJ@", repr(TRAJ_TRANSFORM_KWARGS)).replace("@FRAME@", repr(frame)))
    res.files["loader"] = loader
    res.commands = [f"python {shlex.quote(str(loader.resolve()))}"]


def dataset_kwargs(name: str, data_dir: Path, keys: dict[str, str], statistics: Path) -> dict[str, Any]:
    """Octo's ``dataset_kwargs`` for this export (``make_dataset_from_rlds``'s arguments, JSON-ready)."""
    if "image" not in keys.values():
        raise HandoffError("octo needs a camera: record one, or pick another target")
    images: dict[str, str] = {"primary": "image"}
    wrist = next((k for c, k in keys.items() if "wrist" in c and k != "image"), None)
    if wrist:
        images["wrist"] = wrist
    return {
        "name": name,
        "data_dir": str(data_dir),
        "image_obs_keys": images,
        "proprio_obs_key": "state",
        "language_key": "language_instruction",
        "action_proprio_normalization_type": "bounds",
        # the gripper (last dim) is already in {0, 1}: Octo leaves it unnormalised, like OXE data
        "action_normalization_mask": [True] * 6 + [False],
        "dataset_statistics": str(statistics),
    }


_LOADER = '''"""Build Octo's training dataset from this handoff (written by `teleforge handoff octo`).

Usage (in an environment with octo installed): python octo_dataset.py
Prints one batch's shapes. In your own finetuning code: `from octo_dataset import make_dataset`,
or set Octo's finetune config `dataset_kwargs` to the contents of octo_dataset_kwargs.json.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
TRAJ_TRANSFORM_KWARGS = @TRAJ@
FRAME_TRANSFORM_KWARGS = @FRAME@


def make_dataset(train=True):
    from octo.data.dataset import make_single_dataset

    kwargs = json.loads((HERE / "octo_dataset_kwargs.json").read_text())
    return make_single_dataset(kwargs, train=train, traj_transform_kwargs=TRAJ_TRANSFORM_KWARGS,
                               frame_transform_kwargs=FRAME_TRANSFORM_KWARGS)


if __name__ == "__main__":
    traj = next(make_dataset().iterator())
    print("action", traj["action"].shape)
    for key, value in traj["observation"].items():
        if hasattr(value, "shape"):
            print("observation/" + key, value.shape)
'''


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for Octo."""
    return [
        f"## Run it (with octo installed, https://github.com/octo-models/octo; validated at {OCTO_COMMIT})",
        "",
        "Build Octo's dataset from this folder and print one batch:",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "To finetune, set `dataset_kwargs` in Octo's finetune config (scripts/configs/finetune_config.py) to the "
        "contents of `octo_dataset_kwargs.json` (`image_obs_keys`, `proprio_obs_key`, `language_key`, the "
        "normalisation mask and the statistics file), with `traj_transform_kwargs` "
        f"{json.dumps(TRAJ_TRANSFORM_KWARGS)} as in `octo_dataset.py`.",
        "",
        "`octo_dataset_statistics.json` holds Octo's `p01`/`p99` (and OpenVLA's `q01`/`q99`, mean, std, min, max) "
        "of the actions and of `observation/state`; the gripper (1 = open, in {0, 1}) is not normalised.",
    ]
