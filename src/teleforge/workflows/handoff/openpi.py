"""openpi target: LeRobot v2.1 data (what openpi's pinned LeRobot reads), norm stats where openpi's loader looks, a TrainConfig and the command."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from teleforge.convert.lerobot import CODEBASE_VERSION_V21
from teleforge.dataset.selection import ExportSource
from teleforge.errors import HandoffError
from teleforge.progress import Progress
from teleforge.workflows.handoff import lerobot
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult, ee_arrays, norm_stats

OPENPI_CONFIG_NAME = "pi0_teleforge"


OPENPI_COMMIT = "15a9616"  # Physical-Intelligence/openpi main the handoff was validated against
OPENPI_LEROBOT = "0cf864870cf29f4738d3ade893e6fd13fbd7cdb5"  # the LeRobot openpi pins: reads codebase v2.1
ACTION_HORIZON = 50  # pi0_config.Pi0Config.action_horizon: the action chunk openpi's loader asks for


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """LeRobot v2.1 data, norm stats under ``assets/<config>/<repo_id>/``, the config to append and the commands."""
    if primary is None:
        raise HandoffError("openpi's LIBERO transforms need a camera image; this dataset records none — record with a camera")
    repo_id, lr_root = lerobot.export(src, out, name, res, say, codebase_version=CODEBASE_VERSION_V21)
    cams = src.dataset.spec.camera_names
    acts, states = ee_arrays(src, openvla=False)
    # Keys are what LiberoInputs outputs ("state", "actions"): openpi's Normalize runs after it.
    norm = {"norm_stats": {"state": norm_stats(states), "actions": norm_stats(acts)}}
    stats_dir = out / "openpi" / "assets" / OPENPI_CONFIG_NAME / repo_id
    stats_dir.mkdir(parents=True, exist_ok=True)
    (stats_dir / "norm_stats.json").write_text(json.dumps(norm, indent=2))
    res.files["norm_stats"] = stats_dir / "norm_stats.json"
    wrist = next((c for c in cams if "wrist" in c and c != primary), None)
    image = f"observation.images.{primary}" if primary else None
    repack = {
        "observation/image": image,
        "observation/wrist_image": f"observation.images.{wrist}" if wrist else image,
        "observation/state": "observation.state",
        "actions": "action",
        "prompt": "prompt",
    }
    snippet = out / "openpi" / "openpi_config.py"
    snippet.write_text(config_snippet(repo_id, repack, wrist_missing=wrist is None))
    res.files["config"] = snippet
    lerobot_home = (out / "lerobot").resolve()
    res.commands = [
        f"cat {shlex.quote(str(snippet.resolve()))} >> src/openpi/training/config.py",
        f"mkdir -p assets && cp -r {shlex.quote(str((out / 'openpi' / 'assets').resolve()))}/. assets/",
        f"export HF_LEROBOT_HOME={shlex.quote(str(lerobot_home))}",
        f"XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 uv run scripts/train.py {OPENPI_CONFIG_NAME} --exp-name=teleforge --overwrite",
    ]


def config_snippet(repo_id: str, repack: dict[str, str | None], wrist_missing: bool = False) -> str:
    """The Python appended to openpi's ``src/openpi/training/config.py``; data values only through repr()."""
    values = "\n".join([
        f"TELEFORGE_REPO_ID = {repo_id!r}",
        f"TELEFORGE_CONFIG_NAME = {OPENPI_CONFIG_NAME!r}",
        f"TELEFORGE_REPACK = {repack!r}",
        f"TELEFORGE_ACTION_SEQUENCE_KEYS = {('action',)!r}  # openpi's DataConfig default is ('actions',)",
    ])
    note = "# no wrist camera recorded: the primary image stands in for observation/wrist_image\n" if wrist_missing else ""
    return _OPENPI_SNIPPET.replace("@VALUES@", values).replace("@NOTE@", note).replace("@REPO@", repr(repo_id))


_OPENPI_SNIPPET = '''

# ---- teleforge handoff (`teleforge handoff openpi`): the LeRobot dataset @REPO@ -------------------
# Appended to src/openpi/training/config.py of an openpi checkout (validated against openpi 15a9616,
# whose pinned LeRobot 0cf8648 reads this LeRobot v2.1 export from $HF_LEROBOT_HOME/<repo_id>).
# It reuses openpi's LIBERO input/output transforms, whose shapes match this dataset:
#   observation.state (8): [x, y, z, qw, qx, qy, qz, gripper opening (1 = open)]
#   action (7): [dx, dy, dz, drx, dry, drz, gripper] - per-step EE delta (m, axis-angle rad) in the
#               base frame; gripper target in [0, 1] with 1 = closed (teleforge's native convention).
# Normalization statistics: assets/<config name>/<repo_id>/norm_stats.json (copied by the README's
# commands; or recompute them with `uv run scripts/compute_norm_stats.py --config-name <config name>`).
# The values below are plain literals (teleforge's check reads them with ast.literal_eval).
@VALUES@
@NOTE@

@dataclasses.dataclass(frozen=True)
class LeRobotTeleforgeDataConfig(DataConfigFactory):
    # The LeRobot key openpi chunks into action_horizon steps (delta_timestamps).
    action_sequence_keys: Sequence[str] = TELEFORGE_ACTION_SEQUENCE_KEYS

    @override
    def create(self, assets_dirs: pathlib.Path, model_config: _model.BaseModelConfig) -> DataConfig:
        # teleforge's LeRobot keys -> the keys openpi's LIBERO policy transforms read.
        repack_transform = _transforms.Group(inputs=[_transforms.RepackTransform(TELEFORGE_REPACK)])
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
            action_sequence_keys=self.action_sequence_keys,
        )


TELEFORGE_TRAIN_CONFIG = TrainConfig(
    name=TELEFORGE_CONFIG_NAME,
    model=pi0_config.Pi0Config(),
    data=LeRobotTeleforgeDataConfig(
        repo_id=TELEFORGE_REPO_ID,
        base_config=DataConfig(prompt_from_task=True),  # the episode's instruction is the prompt
    ),
    weight_loader=weight_loaders.CheckpointWeightLoader("gs://openpi-assets/checkpoints/pi0_base/params"),
    num_train_steps=30_000,
)
# Registered after _CONFIGS was built: get_config() and the train CLI read _CONFIGS_DICT when called.
if TELEFORGE_TRAIN_CONFIG.name in _CONFIGS_DICT:
    raise ValueError(f"config {TELEFORGE_TRAIN_CONFIG.name!r} is already registered: append the handoff's config once")
_CONFIGS.append(TELEFORGE_TRAIN_CONFIG)
_CONFIGS_DICT[TELEFORGE_TRAIN_CONFIG.name] = TELEFORGE_TRAIN_CONFIG
'''


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for openpi."""
    return [
        "## Run it (in an openpi checkout, https://github.com/Physical-Intelligence/openpi)",
        "",
        f"From the root of an openpi checkout (validated against openpi {OPENPI_COMMIT} with its pinned LeRobot "
        f"{OPENPI_LEROBOT[:7]}, datasets 3.6.0), run as is: the first line appends the config "
        f"`{OPENPI_CONFIG_NAME}` (`openpi/openpi_config.py`) to `src/openpi/training/config.py` (once), the second "
        "copies the normalization statistics, the third points openpi's LeRobot at this export (no Hub download), "
        "the last trains (GPU; downloads the pi0 base checkpoint from gs://openpi-assets).",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "The data is LeRobot dataset format v2.1 (what openpi's pinned LeRobot reads; `teleforge export lerobot "
        "--codebase-version v2.1` writes the same). The action chunk is `action` (`action_sequence_keys`), the prompt "
        f"is the episode's instruction (`prompt_from_task`), chunks of {ACTION_HORIZON} steps (pi0's action_horizon).",
    ]
