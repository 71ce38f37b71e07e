"""`teleforge train experiment-arms`: raw, rules, learned scores and random controls at one budget."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from teleforge.cli.render import fail
from teleforge.errors import TeleforgeError

console = Console()


def arms_table(res: Any) -> Table:
    """One row per arm: selection make-up and pooled closed-loop success with its Wilson 95 % interval."""
    t = Table(title="curation arms: same fine-tune budget, same held-out seeds", title_justify="left")
    for c in ("arm", "episodes", "mean len", "subtle", "crude", "label quality", "success", "95% CI", "eval eps"):
        t.add_column(c, justify="left" if c == "arm" else "right")
    for name in res.arms:
        v = res.views.get(name, {})
        k, n, (lo, hi) = res.pooled(name)
        t.add_row(name, str(v.get("episodes")), str(v.get("mean_len")), str(v.get("subtle")), str(v.get("crude")),
                  str(v.get("mean_quality")), f"{k / n:.0%}" if n else "-", f"{lo:.0%}–{hi:.0%}", str(n))
    return t


def operators_table(rows: list[dict[str, Any]]) -> Table:
    t = Table(title="per operator and session", title_justify="left")
    if not rows:
        return t
    keys = list(rows[0])
    for k in keys:
        t.add_column(k, justify="left" if k in ("operator", "session") else "right")
    for r in rows:
        t.add_row(*["-" if r.get(k) is None else (f"{r[k]:.3g}" if isinstance(r[k], float) else str(r[k])) for k in keys])
    return t


def experiment_arms_cmd(
    out: Path = typer.Option(Path("teleforge_arms"), "--out", "-o", help="Folder for the dataset, runs, evals, JSON and plot."),
    task: str = typer.Option("pick_cube", "--task", "-t", help="Task to collect, train and evaluate (stack separates the arms: the base scores ~6 %)."),
    episodes: int = typer.Option(200, help="Labelled scripted demos (clean, subtle defects, crude failures)."),
    subtle_rate: float = typer.Option(0.3, help="Share of demos with a subtle defect."),
    crude_rate: float = typer.Option(0.1, help="Share of demos with a crude failure."),
    arms: str = typer.Option("", help="Comma-separated arms to run (default: all)."),
    methods: str = typer.Option("deminf,democore,scizor", help="Learned scores to make arms of: deminf, democore, scizor, policy-loss (the bundled VLA's loss on each demo; needs teleforge[train])."),
    steps: int = typer.Option(600, help="Fine-tune steps per arm (the shared budget)."),
    batch_size: int = typer.Option(32, help="Training batch size (episodes x steps sampled per step)."),
    lr: float = typer.Option(3e-4, help="Fine-tune learning rate, the same for every arm."),
    seeds: str = typer.Option("0", "--seeds", help="Training seeds to sweep, e.g. 0,1,2 (eval episodes pool per arm)."),
    eval_episodes: int = typer.Option(100, help="Closed-loop episodes per arm and seed, same held-out seeds."),
    eval_workers: int = typer.Option(2, help="Evaluation worker processes (spawn, one torch thread each)."),
    collect_workers: int = typer.Option(2, help="Processes collecting the scripted demos."),
    image_size: int = typer.Option(128, help="Camera pixels the demos are recorded at (the model resizes to its own size)."),
    seed: int = typer.Option(0, help="First collection seed."),
) -> None:
    """Which curation makes the better policy: raw, rules, each learned score, rules+score, random and length-matched controls."""
    from teleforge.cli.progress import RichProgress
    from teleforge.workflows.experiment_arms import ArmsConfig, run_arms  # lazy: mujoco, torch

    try:
        cfg = ArmsConfig(out=out, task=task, episodes=episodes, subtle_rate=subtle_rate, crude_rate=crude_rate,
                         arms=tuple(a for a in arms.split(",") if a) or None, methods=tuple(m for m in methods.split(",") if m),
                         train_steps=steps, batch_size=batch_size, lr=lr, train_seeds=tuple(int(s) for s in seeds.split(",") if s),
                         eval_episodes=eval_episodes, eval_workers=eval_workers, collect_workers=collect_workers,
                         image_size=image_size, seed=seed)
        res = run_arms(cfg, progress=RichProgress(console))
    except ValueError as exc:
        fail(TeleforgeError(f"--seeds takes integers like 0,1,2 ({exc})"))
    except TeleforgeError as exc:
        fail(exc)
    console.print(arms_table(res))
    console.print(operators_table(res.operators))
    console.print(f"results: [bold]{res.json_path}[/] · plot: [bold]{res.plot_path}[/]", soft_wrap=True)
