"""Hand a dataset (or a curated view) to another trainer: the data in its format, its
normalization statistics, the config entry it needs, and a README saying what to run.

- ``openvla``: RLDS (OpenVLA action space: EEF delta + gripper 1 = open) under
  ``OUT/rlds/<name>/1.0.0``, ``dataset_statistics.json`` keyed by the dataset name, and
  ``openvla_dataset_config.py`` with the ``OXE_DATASET_CONFIGS`` /
  ``OXE_STANDARDIZATION_TRANSFORMS`` / ``OXE_NAMED_MIXTURES`` entries to paste into
  ``prismatic/vla/datasets/rlds/oxe/``.
- ``openpi``: LeRobot v3 under ``OUT/lerobot/<repo_id>``, ``norm_stats.json`` where
  openpi's loader looks (``assets/<config>/<repo_id>/``) and ``openpi_config.py`` with a
  data config and a ``TrainConfig``.
- ``lerobot``: LeRobot v3 plus the ``lerobot-train`` command.

Never touches the source dataset; an existing OUT is refused unless ``overwrite``.
"""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from teleforge.convert.lerobot import export_lerobot
from teleforge.convert.rlds import RldsExportConfig, camera_keys, dataset_statistics, export_rlds, write_statistics
from teleforge.convert.staging import check_replaceable, write_output_marker
from teleforge.dataset.selection import ExportSource, select
from teleforge.errors import ExportError, HandoffError
from teleforge.names import check_key, check_repo_id
from teleforge.progress import Progress, or_null

TARGETS = ("openvla", "openpi", "lerobot")
OPENPI_CONFIG_NAME = "pi0_teleforge"


@dataclass
class HandoffConfig:
    target: str
    dataset: Path
    out: Path
    view: str | None = None
    name: str | None = None  # RLDS dataset name / LeRobot repo id stem; default from the dataset folder
    primary_camera: str | None = None  # default: "front" when recorded, else the first camera
    overwrite: bool = False


@dataclass
class HandoffResult:
    target: str
    out: Path
    episodes: int
    steps: int
    files: dict[str, Path] = field(default_factory=dict)  # role -> path
    commands: list[str] = field(default_factory=list)


def parse_dataset_arg(text: str) -> tuple[Path, str | None]:
    """``DATASET[:VIEW]`` -> (dataset, view). A path that exists as given is never split."""
    p = Path(text)
    if p.exists() or ":" not in text:
        return p, None
    root, view = text.rsplit(":", 1)
    if not view or "/" in view:
        return p, None
    return Path(root), view


def _snake(text: str) -> str:
    s = "".join(c.lower() if c.isalnum() else "_" for c in text).strip("_")
    while "__" in s:
        s = s.replace("__", "_")
    if not s or not s[0].isalpha():
        s = f"teleforge_{s}" if s else "teleforge_dataset"
    return s


def handoff(cfg: HandoffConfig, progress: Progress | None = None) -> HandoffResult:
    """Write ``cfg.out`` for ``cfg.target``; see the module doc for what each target gets. Each export step is a message."""
    if cfg.target not in TARGETS:
        raise HandoffError(f"unknown handoff target {cfg.target!r}: choose one of {', '.join(TARGETS)}")
    try:  # the one overwrite rule of every export: never a dataset, a foreign folder or the current folder
        out = check_replaceable(cfg.out, "handoff", overwrite=cfg.overwrite)
    except ExportError as exc:
        raise HandoffError(str(exc)) from exc
    if out.exists() and any(out.iterdir()):
        shutil.rmtree(out)
    src = select(cfg.dataset, None, cfg.view)
    ds = src.dataset
    cams = [c.name for c in ds.spec.cameras]
    primary = cfg.primary_camera or ("front" if "front" in cams else (cams[0] if cams else None))
    name = _snake(cfg.name or Path(cfg.dataset).resolve().name + (f"_{cfg.view}" if cfg.view else ""))
    out.mkdir(parents=True, exist_ok=True)
    say = or_null(progress)
    steps = src.total_steps
    res = HandoffResult(cfg.target, out, len(src.episode_ids), steps)
    tasks = sorted({e.task for e in ds.episodes if e.episode_id in set(src.episode_ids)})
    if cfg.target == "openvla":
        _openvla(src, out, name, primary, res, say)
    else:
        repo_id = f"teleforge/{name}"
        say.message(f"{cfg.target}: LeRobot v3 export of {res.episodes} episodes")
        lr_root = out / "lerobot" / repo_id
        export_lerobot(src, lr_root, repo_id=repo_id, state="ee")
        res.files["lerobot"] = lr_root
        if cfg.target == "openpi":
            _openpi(src, out, repo_id, lr_root, cams, primary, res)
        else:
            _lerobot(out, repo_id, lr_root, res)
    manifest = {
        "format": "teleforge.handoff/1",
        "target": cfg.target,
        "source": str(Path(cfg.dataset).resolve()),
        "view": cfg.view,
        "episodes": res.episodes,
        "steps": res.steps,
        "episode_ids": list(src.episode_ids),
        "tasks": tasks,
        "cameras": cams,
        "fps": ds.spec.fps,
        "files": {k: str(v.relative_to(out)) for k, v in res.files.items()},
        "commands": res.commands,
    }
    (out / "teleforge_handoff.json").write_text(json.dumps(manifest, indent=2))
    res.files["manifest"] = out / "teleforge_handoff.json"
    (out / "README.md").write_text(_readme(cfg, res, name, tasks, cams, primary))
    res.files["readme"] = out / "README.md"
    write_output_marker(out, "handoff")
    return res


# --- OpenVLA ---------------------------------------------------------------------------
def _openvla(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    say.message(f"openvla: RLDS export (OpenVLA action space) of {res.episodes} episodes")
    rlds_root = out / "rlds"
    r = export_rlds(src, rlds_root, RldsExportConfig(name=name, action_space="openvla", state="eef", primary_camera=primary))
    res.files["rlds"] = r.path
    stats_src = r.path / "dataset_statistics.json"
    stats = out / "dataset_statistics.json"
    if stats_src.exists():
        shutil.copyfile(stats_src, stats)
    else:  # an exporter that stopped writing it: compute it here from the same actions
        acts, states = _arrays(src, openvla=True)
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


# --- openpi -----------------------------------------------------------------------------
def _openpi(src: ExportSource, out: Path, repo_id: str, lr_root: Path, cams: list[str], primary: str | None, res: HandoffResult) -> None:
    acts, states = _arrays(src, openvla=False)
    norm = {"norm_stats": {"state": _norm_stats(states), "actions": _norm_stats(acts)}}
    stats_dir = out / "openpi" / "assets" / OPENPI_CONFIG_NAME / repo_id
    stats_dir.mkdir(parents=True, exist_ok=True)
    (stats_dir / "norm_stats.json").write_text(json.dumps(norm, indent=2))
    res.files["norm_stats"] = stats_dir / "norm_stats.json"
    wrist = next((c for c in cams if "wrist" in c and c != primary), None)
    snippet = out / "openpi" / "openpi_config.py"
    snippet.write_text(openpi_config_source(repo_id, OPENPI_CONFIG_NAME, primary, wrist))
    res.files["config"] = snippet
    lerobot_home = (out / "lerobot").resolve()
    res.commands = [
        f"cp -r {shlex.quote(str((out / 'openpi' / 'assets').resolve()) + '/.')} assets/",
        f"export HF_LEROBOT_HOME={shlex.quote(str(lerobot_home))}",
        f"XLA_PYTHON_CLIENT_MEM_FRACTION=0.9 uv run scripts/train.py {OPENPI_CONFIG_NAME} --exp-name=teleforge --overwrite",
    ]


def openpi_config_source(repo_id: str, config: str, primary: str | None, wrist: str | None) -> str:
    """The openpi config module for LeRobot ``repo_id``; data enters only as string literals.

    ``primary``/``wrist`` are camera names (no wrist camera: the primary image stands in).
    """
    check_repo_id(repo_id)
    check_key(config, "config name")
    for cam in (primary, wrist):
        if cam is not None:
            check_key(cam, "camera name")
    image = f"observation.images.{primary}"
    return _OPENPI_SNIPPET.format(
        repo_id=_lit(repo_id), config=_lit(config), image=_lit(image),
        wrist=_lit(f"observation.images.{wrist}" if wrist else image),
        wrist_note="" if wrist else "  # no wrist camera recorded: the primary image stands in",
    )


_OPENPI_SNIPPET = '''"""openpi TrainConfig for the teleforge dataset in REPO_ID (written by `teleforge handoff openpi`).

Paste into src/openpi/training/config.py of an openpi checkout: the data config class next to
LeRobotLiberoDataConfig, the TrainConfig into the _CONFIGS list. It reuses openpi's LIBERO
input/output transforms, whose shapes match this dataset:
  observation.state (8): [x, y, z, qw, qx, qy, qz, gripper opening (1 = open)]
  action (7): [dx, dy, dz, drx, dry, drz, gripper] - per-step EE delta (m, axis-angle rad) in the
              base frame; gripper target in [0, 1] with 1 = closed (teleforge's native convention).
Normalization statistics for both are in assets/CONFIG_NAME/REPO_ID/norm_stats.json (copy the
assets folder of this handoff into the openpi checkout; or recompute them with
`uv run scripts/compute_norm_stats.py --config-name CONFIG_NAME`).
"""

REPO_ID = {repo_id}
CONFIG_NAME = {config}


@dataclasses.dataclass(frozen=True)
class LeRobotTeleforgeDataConfig(DataConfigFactory):
    @override
    def create(self, assets_dirs: pathlib.Path, model_config: _model.BaseModelConfig) -> DataConfig:
        # teleforge's LeRobot keys -> the keys openpi's LIBERO policy transforms read.
        repack_transform = _transforms.Group(
            inputs=[
                _transforms.RepackTransform(
                    {{
                        "observation/image": {image},
                        "observation/wrist_image": {wrist},{wrist_note}
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
    name={config},
    model=pi0_config.Pi0Config(),
    data=LeRobotTeleforgeDataConfig(
        repo_id={repo_id},
        base_config=DataConfig(prompt_from_task=True),  # the episode's instruction is the prompt
    ),
    weight_loader=weight_loaders.CheckpointWeightLoader("gs://openpi-assets/checkpoints/pi0_base/params"),
    num_train_steps=30_000,
)
'''


def _lerobot(out: Path, repo_id: str, lr_root: Path, res: HandoffResult) -> None:
    job = repo_id.split("/")[-1] + "_act"
    res.commands = [
        f"lerobot-train --dataset.repo_id={shlex.quote(repo_id)} --dataset.root={shlex.quote(str(lr_root.resolve()))} "
        f"--policy.type=act "
        f"--policy.device=cuda --policy.push_to_hub=false --output_dir=outputs/train/{job} --job_name={job} "
        f"--batch_size=8 --steps=100000 --wandb.enable=false",
    ]


# --- statistics ---------------------------------------------------------------------------
def _arrays(src: ExportSource, openvla: bool) -> tuple[np.ndarray, np.ndarray]:
    """(actions (N, 7), ee state (N, 8)) over the selection's kept steps; numeric columns only."""
    acts, states = [], []
    for eid in src.episode_ids:
        ep = src.episode(eid)
        a = np.asarray(ep.column("action"), np.float64)
        if openvla:
            a = a.copy()
            a[:, 6] = 1.0 - a[:, 6]
        pos = np.asarray(ep.column("observation.state.ee_pos"), np.float64)
        quat = np.asarray(ep.column("observation.state.ee_quat"), np.float64)
        grip = np.asarray(ep.column("observation.state.gripper"), np.float64).reshape(len(pos), -1)
        acts.append(a)
        states.append(np.concatenate([pos, quat, grip], axis=1))
    if not acts:
        raise HandoffError("the selection has no episodes; check the view")
    return np.concatenate(acts), np.concatenate(states)


def _norm_stats(x: np.ndarray) -> dict[str, list[float]]:
    """openpi's NormStats fields (mean, std, q01, q99)."""
    return {
        "mean": x.mean(0).tolist(),
        "std": x.std(0).tolist(),
        "q01": np.quantile(x, 0.01, axis=0).tolist(),
        "q99": np.quantile(x, 0.99, axis=0).tolist(),
    }


# --- README ---------------------------------------------------------------------------------
def _readme(cfg: HandoffConfig, res: HandoffResult, name: str, tasks: list[str], cams: list[str], primary: str | None) -> str:
    out = res.out
    sel = f"view `{cfg.view}` of `{cfg.dataset}`" if cfg.view else f"`{cfg.dataset}` (every live episode)"
    lines = [
        f"# teleforge handoff → {cfg.target}",
        "",
        f"Source: {sel} — {res.episodes} episodes, {res.steps} steps; tasks: {', '.join(tasks) or '-'}; "
        f"cameras: {', '.join(cams) or '-'} (primary: {primary or '-'}).",
        "",
        "## Files",
        "",
    ]
    for role, p in res.files.items():
        if role in ("readme", "manifest"):
            continue
        lines.append(f"- **{role}**: `{p.relative_to(out) if p.is_relative_to(out) else p}`")
    lines += ["- **teleforge_handoff.json**: what this folder was made from (ids, view, commands)", ""]
    if cfg.target == "openvla":
        lines += [
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
    elif cfg.target == "openpi":
        lines += [
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
    else:
        lines += [
            "## Run it (LeRobot ≥ 0.4: `pip install lerobot`)",
            "",
            "```bash",
            *res.commands,
            "```",
            "",
            "Swap `--policy.type=act` for `diffusion`, `pi0` or `smolvla` as you like; "
            "`--dataset.root` points at the local export, so nothing is downloaded.",
        ]
    lines += ["", "Conventions: actions are per-step EE deltas in the robot base frame, "
              "[dx, dy, dz, drx, dry, drz, gripper]; see teleforge docs/design.md §3.", ""]
    return "\n".join(lines)
