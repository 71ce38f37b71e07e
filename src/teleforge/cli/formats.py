"""CLI commands for the HF datasets / Hub and HDF5 (robomimic, ALOHA) converters.

main.py wires them: ``register_export_commands(export_app)`` adds ``export hf|robomimic|aloha``,
``app.command("push")(push_cmd)``, and ``app.add_typer(import_app, name="import")``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError

console = Console()
err_console = Console(stderr=True)
import_app = typer.Typer(rich_markup_mode=None, help="Import other formats into a native teleforge dataset.", no_args_is_help=True)


_fail = fail  # one error format for every command


def _ids(text: Optional[str]) -> Optional[list[int]]:
    return None if not text else [int(x) for x in text.split(",") if x.strip()]


def _split(text: Optional[str]) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


_DATASET = typer.Argument(..., metavar="DATASET[:VIEW]",
                          help="Native dataset folder or URI (s3://bucket/ds); DATASET:VIEW exports a curated view's kept, trimmed steps.")
_IDS = typer.Option(None, "--ids", help="Comma-separated episode ids (default: all; with a view, narrows it).")
_EPISODES = typer.Option(None, "--episodes", hidden=True, help="Deprecated: use --ids.")
_VIEW = typer.Option(None, "--view", hidden=True, help="Deprecated: use DATASET:VIEW.")


def _select(dataset: str, ids: Optional[str], episodes: Optional[str], view: Optional[str]) -> Any:
    """One grammar: DATASET[:VIEW] plus --ids (old --view / --episodes still work for one release)."""
    from teleforge.cli.grammar import deprecated, split_dataset_view
    from teleforge.cli.remote import stage_selection
    from teleforge.dataset.selection import select

    root, v = split_dataset_view(dataset, deprecated(None, view, "--view", "DATASET:VIEW"))
    src = select(root, _ids(deprecated(ids, episodes, "--episodes", "--ids")), v)
    stage_selection(root, src.episode_ids)  # from object storage: fetch the selected episodes' shards only
    return src
_OVERWRITE = typer.Option(False, "--overwrite", help="Replace an existing output.")


def register_export_commands(export_app: typer.Typer) -> None:
    """Add ``hf``, ``robomimic`` and ``aloha`` to the ``teleforge export`` group."""

    @export_app.command("hf")
    def export_hf_cmd(dataset: str = _DATASET, out: Path = typer.Option(..., "--out", "-o", help="Output folder (save_to_disk layout)."),
                      ids: Optional[str] = _IDS, episodes: Optional[str] = _EPISODES, view: Optional[str] = _VIEW, overwrite: bool = _OVERWRITE) -> None:
        """Export to a Hugging Face `datasets` folder (load with datasets.load_from_disk)."""
        from teleforge.convert.hf import export_hf

        try:
            r = export_hf(_select(dataset, ids, episodes, view), out, overwrite=overwrite)
        except TeleforgeError as exc:
            _fail(exc)
        console.print(f"wrote {r.rows} steps of {r.episodes} episodes to {r.folder}")

    @export_app.command("robomimic")
    def export_robomimic_cmd(dataset: str = _DATASET, out: Path = typer.Option(..., "--out", "-o", help="Output .hdf5 file."),
                             ids: Optional[str] = _IDS, episodes: Optional[str] = _EPISODES, view: Optional[str] = _VIEW,
                             valid_fraction: float = typer.Option(0.0, help="Write mask/train and mask/valid with this share of demos in valid."),
                             overwrite: bool = _OVERWRITE) -> None:
        """Export to one robomimic HDF5 file (data/demo_N/{actions,obs/...})."""
        from teleforge.convert.hdf5 import export_robomimic

        try:
            r = export_robomimic(_select(dataset, ids, episodes, view), out, valid_fraction=valid_fraction, overwrite=overwrite)
        except TeleforgeError as exc:
            _fail(exc)
        console.print(f"wrote {r.demos} demos ({r.samples} samples) to {r.path}")

    @export_app.command("aloha")
    def export_aloha_cmd(dataset: str = _DATASET, out: Path = typer.Option(..., "--out", "-o", help="Output folder for episode_N.hdf5."),
                         ids: Optional[str] = _IDS, episodes: Optional[str] = _EPISODES, view: Optional[str] = _VIEW,
                         sim: bool = typer.Option(True, "--sim/--real", help="The 'sim' attribute ACT reads."),
                         act: bool = typer.Option(False, "--act", help="What ACT's load_data stacks: every episode padded "
                                                  "to the longest, qpos/qvel/action zero-padded to 14 (see `handoff act`)."),
                         overwrite: bool = _OVERWRITE) -> None:
        """Export to the ALOHA/ACT layout, one HDF5 file per episode."""
        from teleforge.convert.hdf5 import export_aloha
        from teleforge.convert.hdf5.aloha import act_episode_len

        try:
            src = _select(dataset, ids, episodes, view)
            r = export_aloha(src, out, sim=sim, overwrite=overwrite,
                             episode_len=act_episode_len(src) if act else None, state_dim=14 if act else None)
        except TeleforgeError as exc:
            _fail(exc)
        console.print(f"wrote {len(r.files)} episode files ({r.samples} steps) to {r.folder}")

    @export_app.command("lerobot")
    def export_lerobot_cmd(dataset: str = _DATASET, out: Path = typer.Option(..., "--out", "-o", help="Output folder (LeRobot dataset)."),
                           ids: Optional[str] = _IDS, episodes: Optional[str] = _EPISODES, view: Optional[str] = _VIEW,
                           repo_id: str = typer.Option("teleforge/dataset", "--repo-id", help="Repo id recorded in the export."),
                           state: str = typer.Option("ee", "--state", help="observation.state: ee (pos + quat wxyz + gripper) | joints"),
                           vcodec: str = typer.Option("auto", "--vcodec", help="auto (libsvtav1, as LeRobot) | libsvtav1 | libx264"),
                           codebase_version: str = typer.Option("v3.0", "--codebase-version",
                                                                help="v3.0 (LeRobot >= 0.4) | v2.1 (the LeRobot openpi pins)"),
                           workers: Optional[int] = typer.Option(None, "--workers", help="v3.0, local engine: processes encoding "
                                                                 "videos (default: 1 on 2 CPUs, up to 4 on bigger machines for large exports)."),
                           overwrite: bool = _OVERWRITE) -> None:
        """Export to LeRobot v3.0, or v2.1 (load with LeRobotDataset(repo_id, root=OUT))."""
        from teleforge.cli.progress import make_progress
        from teleforge.convert.lerobot import export_lerobot

        try:
            src = _select(dataset, ids, episodes, view)
            with make_progress(console) as prog:
                bar = prog.add_task("export lerobot", total=len(src.episode_ids), status="")
                r = export_lerobot(src, out, repo_id=repo_id, state=state, vcodec=vcodec, overwrite=overwrite,
                                   progress=lambda done, total: prog.update(bar, completed=done),
                                   codebase_version=codebase_version, workers=workers)
        except TeleforgeError as exc:
            _fail(exc)
        console.print(f"wrote {r.frames} frames of {r.episodes} episodes to {r.root} (LeRobot {codebase_version}, {r.data_files} data files, "
                      f"{r.video_files} videos, {r.vcodec}) in {r.seconds:.1f} s ({r.steps_per_s:.0f} steps/s)", soft_wrap=True)
        console.print(f"load it with: LeRobotDataset({repo_id!r}, root={str(r.root)!r})", soft_wrap=True)


def push_cmd(repo_id: str = typer.Argument(..., help="Hub dataset repo, owner/name."),
             export: Path = typer.Option(..., "--export", help="Export folder to upload (teleforge export hf|lerobot ...)."),
             private: bool = typer.Option(False, "--private", help="Create the repo private."),
             token: Optional[str] = typer.Option(None, "--token", envvar="HF_TOKEN", help="Hub token (default: your login)."),
             license: str = typer.Option("apache-2.0", "--license", help="License in the card header."),
             tags: Optional[str] = typer.Option(None, "--tags", help="Extra card tags, comma-separated.")) -> None:
    """Upload an export to the Hugging Face Hub with a generated dataset card (README.md)."""
    from teleforge.convert.hf import push_export

    try:
        r = push_export(export, repo_id, token=token, private=private, license=license, tags=_split(tags))
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"pushed {r.files} files to {r.url} (commit {r.commit})")


_INSTR = typer.Option(None, "--instruction", help="Instruction for every episode (when the files carry none).")
_TASK = typer.Option(None, "--task", help="Task name (default: from the file).")
_SKIP = typer.Option(None, "--skip", help="Comma-separated source keys to leave out.")
_SKIP_UNKNOWN = typer.Option(False, "--skip-unknown", help="Leave out every key teleforge cannot map.")
_FPS = typer.Option(None, "--fps", help="Control rate of the source data (default: from the file).")
_ROBOT = typer.Option(None, "--robot", help="robot_embodiment for the native dataset.")


@import_app.command("robomimic")
def import_robomimic_cmd(path: Path = typer.Argument(..., help="robomimic .hdf5 file."),
                         dataset: Path = typer.Option(..., "--dataset", "-d", help="Native dataset (created if new)."),
                         instruction: Optional[str] = _INSTR, task: Optional[str] = _TASK, skip: Optional[str] = _SKIP,
                         skip_unknown: bool = _SKIP_UNKNOWN, fps: Optional[float] = _FPS, robot: Optional[str] = _ROBOT) -> None:
    """Import a robomimic HDF5 file into a native dataset."""
    from teleforge.convert.hdf5 import import_robomimic

    try:
        r = import_robomimic(path, dataset, instruction=instruction, task=task, skip=_split(skip),
                             skip_unknown=skip_unknown, fps=fps, robot_embodiment=robot)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"imported {len(r.episode_ids)} episodes ({r.steps} steps) into {r.dataset}"
                  + (f"; left out {', '.join(r.skipped_keys)}" if r.skipped_keys else ""))


@import_app.command("aloha")
def import_aloha_cmd(path: Path = typer.Argument(..., help="Folder of episode_N.hdf5 files (or one file)."),
                     dataset: Path = typer.Option(..., "--dataset", "-d", help="Native dataset (created if new)."),
                     instruction: Optional[str] = _INSTR, task: Optional[str] = _TASK, skip: Optional[str] = _SKIP,
                     skip_unknown: bool = _SKIP_UNKNOWN, fps: Optional[float] = _FPS, robot: Optional[str] = _ROBOT,
                     gripper_index: Optional[int] = typer.Option(None, "--gripper-index", help="qpos/action index of the gripper (foreign files).")) -> None:
    """Import ALOHA/ACT episode files into a native dataset."""
    from teleforge.convert.hdf5 import import_aloha

    try:
        r = import_aloha(path, dataset, instruction=instruction, task=task, skip=_split(skip), skip_unknown=skip_unknown,
                         fps=fps, robot_embodiment=robot, gripper_index=gripper_index)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"imported {len(r.episode_ids)} episodes ({r.steps} steps) into {r.dataset}"
                  + (f"; left out {', '.join(r.skipped_keys)}" if r.skipped_keys else ""))


@import_app.command("rlds")
def import_rlds_cmd(path: Path = typer.Argument(..., help="RLDS dataset folder (NAME/VERSION with features.json, or NAME)."),
                    dataset: Path = typer.Option(..., "--dataset", "-d", help="Native dataset (created if new)."),
                    split: Optional[str] = typer.Option(None, "--split", help="Split to import (default: every split)."),
                    instruction: Optional[str] = _INSTR, task: Optional[str] = _TASK, skip: Optional[str] = _SKIP,
                    skip_unknown: bool = _SKIP_UNKNOWN, fps: Optional[float] = _FPS, robot: Optional[str] = _ROBOT,
                    map_: Optional[list[str]] = typer.Option(None, "--map", help="KEY=COLUMN or KEY[a:b]=COLUMN, e.g. observation/state[0:3]=observation.state.ee_pos (repeatable).")) -> None:
    """Import an RLDS / Open X-Embodiment dataset (no TensorFlow needed) into a native dataset."""
    from teleforge.convert.rlds import import_rlds

    try:
        r = import_rlds(path, dataset, split=split, instruction=instruction, task=task, robot_embodiment=robot, fps=fps,
                        mapping=list(map_ or []), skip=_split(skip), skip_unknown=skip_unknown)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"imported {len(r.episode_ids)} episodes ({r.steps} steps) into {r.dataset}"
                  + (f"; left out {', '.join(r.skipped_keys)}" if r.skipped_keys else "")
                  + (f"; no source for {', '.join(r.filled_columns)} (filled with neutral values)" if r.filled_columns else ""))


@import_app.command("lerobot")
def import_lerobot_cmd(path: Path = typer.Argument(..., help="LeRobot v3 dataset folder (meta/info.json, data/, videos/)."),
                       dataset: Path = typer.Option(..., "--dataset", "-d", help="Native dataset (created if new)."),
                       instruction: Optional[str] = _INSTR, task: Optional[str] = _TASK, skip: Optional[str] = _SKIP,
                       skip_unknown: bool = _SKIP_UNKNOWN, robot: Optional[str] = _ROBOT,
                       episodes: Optional[str] = typer.Option(None, "--episodes", help="Comma-separated LeRobot episode indices (default: all).")) -> None:
    """Import a LeRobot v3 dataset (parquet + mp4) into a native dataset."""
    from teleforge.convert.lerobot import import_lerobot

    try:
        r = import_lerobot(path, dataset, instruction=instruction, task=task, robot_embodiment=robot, skip=_split(skip),
                           skip_unknown=skip_unknown, episodes=_ids(episodes))
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"imported {len(r.episode_ids)} episodes ({r.steps} steps) into {r.dataset}"
                  + (f"; left out {', '.join(r.skipped_keys)}" if r.skipped_keys else "")
                  + (f"; no source for {', '.join(r.filled_columns)} (filled with neutral values)" if r.filled_columns else ""))
