"""LeRobot target: the LeRobot export plus a `lerobot-train` command that runs on the machine at hand."""

from __future__ import annotations

import shlex
from pathlib import Path

from teleforge.convert.lerobot import CODEBASE_VERSION, export_lerobot
from teleforge.dataset.selection import ExportSource
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult

LEROBOT_VALIDATED = "lerobot 0.4.4"  # the release the command was run with (tests/consumers/check_lerobot_train.py)


def export(src: ExportSource, out: Path, name: str, res: HandoffResult, say: Progress,
           codebase_version: str = CODEBASE_VERSION) -> tuple[str, Path]:
    """LeRobot export (``codebase_version`` v3.0 or v2.1) of the selection under ``OUT/lerobot/<repo_id>``; returns (repo_id, root)."""
    repo_id = f"teleforge/{name}"
    say.message(f"{res.target}: LeRobot {codebase_version} export of {res.episodes} episodes")
    lr_root = out / "lerobot" / repo_id
    export_lerobot(src, lr_root, repo_id=repo_id, state="ee", codebase_version=codebase_version)
    res.files["lerobot"] = lr_root
    return repo_id, lr_root


def training_device() -> str:
    """``cuda`` when torch sees a GPU here, ``mps`` on Apple silicon, else ``cpu`` (also when torch is absent)."""
    try:
        import torch  # lazy: only to pick the device the printed command uses
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    return "mps" if mps is not None and mps.is_available() else "cpu"


def train_command(repo_id: str, root: Path, device: str, *, pretrained_backbone: bool = False,
                  steps: int = 100_000, batch_size: int = 8) -> str:
    """The ``lerobot-train`` line (ACT). Without ``pretrained_backbone`` it runs offline: the default
    ACT backbone downloads torchvision's ImageNet ResNet-18 weights."""
    job = repo_id.split("/")[-1] + "_act"
    args = [
        "lerobot-train", f"--dataset.repo_id={repo_id}", f"--dataset.root={root.resolve()}", "--policy.type=act",
        f"--policy.device={device}",
        *([] if pretrained_backbone else ["--policy.pretrained_backbone_weights=null"]),
        "--policy.push_to_hub=false", f"--output_dir=outputs/train/{job}", f"--job_name={job}",
        f"--batch_size={batch_size}", f"--steps={steps}", "--wandb.enable=false",
    ]
    return " ".join(shlex.quote(a) for a in args)


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """LeRobot data plus the `lerobot-train` commands: offline first (runs here), then with pretrained weights."""
    repo_id, lr_root = export(src, out, name, res, say)
    device = training_device()
    res.commands = [
        train_command(repo_id, lr_root, device),
        train_command(repo_id, lr_root, device, pretrained_backbone=True),
    ]


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for LeRobot."""
    device = next((a.split("=", 1)[1] for a in res.commands[0].split() if a.startswith("--policy.device=")), "cpu")
    return [
        f"## Run it (LeRobot ≥ 0.4: `pip install lerobot`; validated with {LEROBOT_VALIDATED})",
        "",
        f"Runs offline as is, on `{device}` (the device torch found where the handoff was written; set "
        "`--policy.device=cuda|mps|cpu` for another machine):",
        "",
        "```bash",
        res.commands[0],
        "```",
        "",
        "With internet access, start ACT's vision backbone from torchvision's ImageNet ResNet-18 weights "
        "(LeRobot's default; downloaded on first use) instead of random weights:",
        "",
        "```bash",
        *res.commands[1:],
        "```",
        "",
        "Swap `--policy.type=act` for `diffusion`, `pi0` or `smolvla` as you like; "
        "`--dataset.root` points at the local export, so no dataset is downloaded.",
    ]
