"""LeRobot target: the LeRobot export plus the `lerobot-train` command."""

from __future__ import annotations

from pathlib import Path

from teleforge.convert.lerobot import export_lerobot
from teleforge.dataset.selection import ExportSource
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult


def export(src: ExportSource, out: Path, name: str, res: HandoffResult, say: Progress) -> tuple[str, Path]:
    """LeRobot export of the selection under ``OUT/lerobot/<repo_id>``; returns (repo_id, root)."""
    repo_id = f"teleforge/{name}"
    say.message(f"{res.target}: LeRobot export of {res.episodes} episodes")
    lr_root = out / "lerobot" / repo_id
    export_lerobot(src, lr_root, repo_id=repo_id, state="ee")
    res.files["lerobot"] = lr_root
    return repo_id, lr_root


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """LeRobot data plus the `lerobot-train` command."""
    repo_id, lr_root = export(src, out, name, res, say)
    job = repo_id.split("/")[-1] + "_act"
    res.commands = [
        f"lerobot-train --dataset.repo_id={repo_id} --dataset.root={lr_root.resolve()} --policy.type=act "
        f"--policy.device=cuda --policy.push_to_hub=false --output_dir=outputs/train/{job} --job_name={job} "
        f"--batch_size=8 --steps=100000 --wandb.enable=false",
    ]


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for LeRobot."""
    return [
        "## Run it (LeRobot ≥ 0.4: `pip install lerobot`)",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "Swap `--policy.type=act` for `diffusion`, `pi0` or `smolvla` as you like; "
        "`--dataset.root` points at the local export, so nothing is downloaded.",
    ]
