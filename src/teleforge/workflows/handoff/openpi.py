"""openpi target: LeRobot data, norm stats where openpi's loader looks, a TrainConfig and the command."""

from __future__ import annotations

import json
from pathlib import Path

from teleforge.dataset.selection import ExportSource
from teleforge.progress import Progress
from teleforge.workflows.handoff import lerobot
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult, ee_arrays, norm_stats

OPENPI_CONFIG_NAME = "pi0_teleforge"


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """LeRobot data, norm stats under ``assets/<config>/<repo_id>/``, the config snippet and the commands."""
    repo_id, lr_root = lerobot.export(src, out, name, res, say)
    cams = src.dataset.spec.camera_names
    acts, states = ee_arrays(src, openvla=False)
    norm = {"norm_stats": {"state": norm_stats(states), "actions": norm_stats(acts)}}
    stats_dir = out / "openpi" / "assets" / OPENPI_CONFIG_NAME / repo_id
    stats_dir.mkdir(parents=True, exist_ok=True)
    (stats_dir / "norm_stats.json").write_text(json.dumps(norm, indent=2))
    res.files["norm_stats"] = stats_dir / "norm_stats.json"
    wrist = next((c for c in cams if "wrist" in c and c != primary), None)
    snippet = out / "openpi" / "openpi_config.py"
    snippet.write_text(_OPENPI_SNIPPET.format(
        repo_id=repo_id, config=OPENPI_CONFIG_NAME,
        image=f"observation.images.{primary}",
        wrist=f"observation.images.{wrist}" if wrist else f"observation.images.{primary}",
        wrist_note="" if wrist else "  # no wrist camera recorded: the primary image stands in",
    ))
    res.files["config"] = snippet
    lerobot_home = (out / "lerobot").resolve()
    res.commands = [
        f"cp -r {(out / 'openpi' / 'assets').resolve()}/. assets/",
        f"export HF_LEROBOT_HOME={lerobot_home}",
        f"XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 uv run scripts/train.py {OPENPI_CONFIG_NAME} --exp-name=teleforge --overwrite",
    ]


_OPENPI_SNIPPET = '''"""openpi TrainConfig for the teleforge dataset {repo_id!r} (written by `teleforge handoff openpi`).

Paste into src/openpi/training/config.py of an openpi checkout: the data config class next to
LeRobotLiberoDataConfig, the TrainConfig into the _CONFIGS list. It reuses openpi's LIBERO
input/output transforms, whose shapes match this dataset:
  observation.state (8): [x, y, z, qw, qx, qy, qz, gripper opening (1 = open)]
  action (7): [dx, dy, dz, drx, dry, drz, gripper] - per-step EE delta (m, axis-angle rad) in the
              base frame; gripper target in [0, 1] with 1 = closed (teleforge's native convention).
Normalization statistics for both are in assets/{config}/{repo_id}/norm_stats.json (copy the
assets folder of this handoff into the openpi checkout; or recompute them with
`uv run scripts/compute_norm_stats.py --config-name {config}`).
"""


@dataclasses.dataclass(frozen=True)
class LeRobotTeleforgeDataConfig(DataConfigFactory):
    @override
    def create(self, assets_dirs: pathlib.Path, model_config: _model.BaseModelConfig) -> DataConfig:
        # teleforge's LeRobot keys -> the keys openpi's LIBERO policy transforms read.
        repack_transform = _transforms.Group(
            inputs=[
                _transforms.RepackTransform(
                    {{
                        "observation/image": "{image}",
                        "observation/wrist_image": "{wrist}",{wrist_note}
                        "observation/state": "observation.state",
                        "actions": "action",
                        "prompt": "prompt",
                    }}
                )
            ]
        )
        data_transforms = _transforms.Group(
            inputs=[libero_policy.LiberoInputs(model_type=model_config.model_type)],
            outputs=[libero_policy.LiberoOutputs()],
        )
        model_transforms = ModelTransformFactory()(model_config)
        return dataclasses.replace(
            self.create_base_config(assets_dirs, model_config),
            repack_transforms=repack_transform,
            data_transforms=data_transforms,
            model_transforms=model_transforms,
        )


TEL_TRAIN_CONFIG = TrainConfig(
    name="{config}",
    model=pi0_config.Pi0Config(),
    data=LeRobotTeleforgeDataConfig(
        repo_id="{repo_id}",
        base_config=DataConfig(prompt_from_task=True),  # the episode's instruction is the prompt
    ),
    weight_loader=weight_loaders.CheckpointWeightLoader("gs://openpi-assets/checkpoints/pi0_base/params"),
    num_train_steps=30_000,
)
'''


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for openpi."""
    return [
        "## Run it (in an openpi checkout, https://github.com/Physical-Intelligence/openpi)",
        "",
        f"1. Paste `openpi/openpi_config.py` into `src/openpi/training/config.py` (the data config class, and "
        f"`TEL_TRAIN_CONFIG` into `_CONFIGS`; it is named `{OPENPI_CONFIG_NAME}`).",
        "2. Copy the normalization statistics, point LeRobot at the export, train:",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "The export is LeRobot dataset format v3.0. openpi releases that pin an older LeRobot read v2.1 "
        "only: use an openpi whose LeRobot dependency reads v3.0 (LeRobot ≥ 0.4).",
    ]
