"""``teleforge train``: fine-tune the bundled VLA on DATASET[:VIEW]; ``teleforge train pretrain``: rebuild the base.

Thin: parse, call teleforge.train_adapter, print. torch is imported only when a command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from teleforge.cli.grammar import deprecated
from teleforge.cli.progress import RichProgress
from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError, TrainError

train_app = typer.Typer(
    name="train",
    help="Fine-tune the bundled VLA on a dataset or view (`teleforge train -d DATASET[:VIEW]`), or rebuild the base (`pretrain`).",
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: brackets such as teleforge[train] and [[rule]] survive
)
console = Console()


_fail = fail  # one error format for every command


def _summary(res: object, title: str) -> None:
    t = Table(title=title, show_header=False)
    for k in ("checkpoint", "steps", "seconds", "steps_per_s", "episodes", "frames", "params"):
        t.add_row(k, str(getattr(res, k)))
    vl = getattr(res, "val_losses")
    t.add_row("val loss (first → last)", f"{vl[0][1]} → {vl[-1][1]}" if vl else "n/a (no validation split)")
    console.print(t)


def _trunk_layers(freeze: str | None) -> int:
    """``--freeze`` -> frozen lower trunk layers: None/'vision' -> 0, 'trunk:N' -> N."""
    if freeze in (None, "vision"):
        return 0
    head, _, n = str(freeze).partition(":")
    if head == "trunk" and n.isdigit() and int(n) > 0:
        return int(n)
    raise TrainError(f"--freeze {freeze!r} is not supported: use --freeze vision (or --fast), or --freeze trunk:N")


@train_app.callback(invoke_without_command=True)
def train_cmd(
    ctx: typer.Context,
    data: Optional[str] = typer.Option(None, "--dataset", "-d", metavar="DATASET[:VIEW]", help="Dataset folder, or DATASET:VIEW for a curated view."),
    data_alias: Optional[str] = typer.Option(None, "--data", hidden=True, help="Deprecated: use --dataset/-d."),
    head: str = typer.Option("flow", "--head", help="tokens | flow | both"),
    init: str = typer.Option("bundled", "--init", help="bundled | scratch | a checkpoint folder"),
    steps: int = typer.Option(1500, "--steps", help="Optimizer steps."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many seconds of training (the LR schedule anneals to it)."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Samples per optimizer step."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Default: 3e-5 from a checkpoint, 3e-4 from scratch."),
    seed: int = typer.Option(0, "--seed", help="Seed for data order, the split and initialisation."),
    out: Path = typer.Option(Path("runs/vla"), "--out", "-o", help="Run folder: best/ and last/ checkpoints, result.json."),
    val_fraction: float = typer.Option(0.1, "--val-fraction", help="Share of episodes held out for validation."),
    val_every: int = typer.Option(250, "--val-every", help="Validate every this many steps (best/ keeps the lowest loss)."),
    tasks: Optional[str] = typer.Option(None, "--tasks", help="Comma-separated tasks to keep (default: all in the data)."),
    success_only: bool = typer.Option(False, "--success-only", help="Keep only episodes whose outcome is success."),
    workers: int = typer.Option(2, "--workers", help="JPEG-decoding processes."),
    resume: bool = typer.Option(False, "--resume", help="Continue from OUT/last."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
    fast: bool = typer.Option(False, "--fast", help="Freeze the vision encoder and cache its tokens once per frame: a faster CPU fine-tune (no image-shift augmentation)."),
    freeze: Optional[str] = typer.Option(None, "--freeze", help="What to freeze and cache: 'vision' (the same as --fast), or 'trunk:N' (vision and the first N trunk layers; no word dropout or state noise)."),
    head_only: bool = typer.Option(False, "--head-only", help="Train only --head's own layers: the trunk, vision and the other head stay bit-identical (e.g. tune the tokens head without moving flow)."),
    token_sigma: float = typer.Option(0.0, "--token-sigma", help="Tokens-head label smoothing: a Gaussian over this many neighbouring bins (0: one-hot). Use last/ with it: validation stays plain cross-entropy."),
) -> None:
    """Fine-tune (or train from scratch) on a native dataset; views and trims are honoured."""
    if ctx.invoked_subcommand is not None:
        return
    data = deprecated(data, data_alias, "--data", "--dataset")
    if not data:
        console.print(ctx.get_help())
        raise typer.Exit(code=2)
    try:
        from teleforge.train_adapter.train import TrainConfig, train  # lazy: keeps `teleforge --help` free of the sim

        trunk_layers = _trunk_layers(freeze)
        cfg = TrainConfig(data=data, head=head, init=init, steps=steps, time_budget_s=time_budget, batch_size=batch_size,
                          lr=lr, seed=seed, out=out, val_fraction=val_fraction, val_every=val_every,
                          tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()) if tasks else None,
                          outcomes=("success",) if success_only else None, workers=workers, resume=resume, device=device,
                          freeze_vision=fast or freeze is not None, freeze_trunk_layers=trunk_layers,
                          head_only=head_only, token_sigma=token_sigma)
        res = train(cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    _summary(res, "teleforge train")


@train_app.command("pretrain")
def pretrain_cmd(
    out: Path = typer.Option(Path("runs/base"), "--out", "-o", help="Run folder; the base checkpoint is OUT/best."),
    pick: int = typer.Option(1500, "--pick", help="Scripted pick_cube episodes."),
    place: int = typer.Option(350, "--place", help="Scripted place_in_bin episodes."),
    push: int = typer.Option(350, "--push", help="Scripted push_to_target episodes."),
    stack: int = typer.Option(400, "--stack", help="Scripted stack episodes."),
    steps: int = typer.Option(14000, "--steps", help="Optimizer steps."),
    time_budget: Optional[float] = typer.Option(None, "--time-budget", help="Stop after this many seconds of training (the bundled base: 290 on an H100)."),
    batch_size: int = typer.Option(256, "--batch-size", "-b", help="Samples per optimizer step."),
    lr: float = typer.Option(5e-4, "--lr", help="Peak learning rate."),
    seed: int = typer.Option(0, "--seed", help="Seed for collection and training."),
    workers: int = typer.Option(2, "--workers", help="Collection (sim) processes."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda"),
) -> None:
    """Rebuild the bundled base: scripted multi-task demos in memory, then both heads from scratch."""
    try:
        from teleforge.train_adapter.pretrain import PretrainConfig, pretrain  # lazy, as above
        from teleforge.train_adapter.train import TrainConfig

        tc = TrainConfig(head="both", init="scratch", steps=steps, time_budget_s=time_budget, batch_size=batch_size, lr=lr,
                         seed=seed, out=out, val_fraction=0.05, val_every=1000, ckpt_every=5000, warmup_steps=300,
                         workers=workers, device=device)
        cfg = PretrainConfig(episodes={"pick_cube": pick, "place_in_bin": place, "push_to_target": push, "stack": stack},
                             collect_workers=workers, train=tc)
        res = pretrain(cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    _summary(res, "teleforge train pretrain")


@train_app.command("variant")
def variant_cmd(
    out: Path = typer.Option(Path("runs/variant"), "--out", "-o", help="Run folder: run/ checkpoints and variant.json."),
    demos: int = typer.Option(100, "--demos", help="Scripted carry_left demos to collect (in memory)."),
    time_budget: float = typer.Option(840.0, "--time-budget", help="Training wall clock in seconds, feature cache included."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", help="Samples per optimizer step."),
    lr: float = typer.Option(3e-4, "--lr", help="Peak learning rate (trunk and heads)."),
    head: str = typer.Option("flow", "--head", help="tokens | flow"),
    full: bool = typer.Option(False, "--full", help="Train the vision encoder too (no feature cache)."),
    trunk_layers: int = typer.Option(0, "--freeze-trunk-layers", help="Also freeze and cache the first N trunk layers."),
    eval_episodes: int = typer.Option(50, "--eval-episodes", help="Held-out closed-loop episodes per checkpoint."),
    skip_base: bool = typer.Option(False, "--skip-base", help="Do not evaluate the bundled base first."),
    workers: int = typer.Option(2, "--workers", help="Collection and evaluation processes."),
    threads: int = typer.Option(1, "--threads", help="torch threads for training (1 is fastest on a shared 2-core CPU)."),
    seed: int = typer.Option(0, "--seed", help="Training seed."),
) -> None:
    """Held-out target: fine-tune the bundled base on carry_left (pick, then carry 15 cm left), base vs fine-tuned."""
    try:
        import torch

        from teleforge.workflows.variant_finetune import VariantConfig, run_variant  # lazy, as above

        torch.set_num_threads(threads)
        cfg = VariantConfig(out=out, demos=demos, time_budget_s=time_budget, batch_size=batch_size, lr=lr, head=head,
                            freeze_vision=not full, freeze_trunk_layers=trunk_layers, eval_episodes=eval_episodes, eval_base=not skip_base, workers=workers,
                            seed=seed)
        rep = run_variant(cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    t = Table(title=f"teleforge train variant ({rep['variant']})")
    t.add_column("checkpoint")
    t.add_column("success")
    t.add_column("95 % CI")
    for k in ("base", "finetuned"):
        if k in rep:
            r = rep[k]
            t.add_row(k, f"{r['successes']}/{r['episodes']}", f"{r['ci95'][0]:.2f}-{r['ci95'][1]:.2f}")
    console.print(t)
    console.print(f"demos {rep['demos']} ({rep['frames']} frames) collected in {rep['collect_seconds']} s; "
                  f"training {rep['train']['steps']} steps in {rep['train']['seconds']} s (cache {rep['train']['cache_seconds']} s)")
