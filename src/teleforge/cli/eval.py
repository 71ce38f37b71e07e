"""``teleforge eval CKPT``: closed-loop success in the sim on held-out seeds. Thin: parse, call, print."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from teleforge.cli.progress import RichProgress
from teleforge.cli.render import eval_table, experiment_table, fail
from teleforge.errors import TeleforgeError

console = Console()

_fail = fail  # one error format for every command


def load_any_policy(ckpt: str, task: str, head: Optional[str] = None) -> Any:
    """A checkpoint path, 'bundled', or a reference policy ('expert' = scripted oracle, 'zero' = never moves)."""
    from teleforge.train_adapter.reference import reference_policy  # lazy: the sim (mujoco) only when a command runs

    ref = reference_policy(ckpt, task)
    if ref is not None:
        return ref
    try:
        from teleforge.train_adapter.checkpoint import load_policy  # lazy: torch stays out of `teleforge --help`

        return load_policy(ckpt, head=head)
    except ImportError as exc:  # torch (the train extra) is not installed
        raise TeleforgeError(
            f"running a checkpoint needs torch ({exc.name or exc}): install teleforge[train] (pip install 'teleforge[train]')"
        ) from None


def eval_cmd(
    ckpt: str = typer.Argument(..., help="Checkpoint folder, 'bundled', or a reference policy: 'expert' (scripted oracle) | 'zero'."),
    task: str = typer.Option("pick_cube", "--task", "-t", help="pick_cube | place_in_bin | push_to_target | stack"),
    episodes: int = typer.Option(50, "--episodes", "-n", help="Closed-loop episodes (held-out seeds seed_base .. seed_base+n-1)."),
    head: Optional[str] = typer.Option(None, help="Action head to run when the checkpoint has both: tokens | flow."),
    out: Path = typer.Option(Path("teleforge_eval"), "--out", "-o", help="Folder for results.json and videos/."),
    seed_base: int = typer.Option(9_000_000, help="First held-out scene seed (collection and pretraining seeds stay below it)."),
    execute: Optional[int] = typer.Option(None, help="Actions executed per predicted chunk (default: the whole chunk)."),
    ensemble: bool = typer.Option(False, "--ensemble", help="ACT-style temporal ensembling of overlapping chunks."),
    videos: int = typer.Option(10, help="Write a video for the first N episodes (0: none)."),
    video_format: str = typer.Option("gif", help="gif | mp4"),
    time_limit: Optional[float] = typer.Option(None, help="Seconds per episode (default: the task's limit)."),
) -> None:
    """Evaluate a policy closed-loop in the sim: success rate with a 95% CI, videos, latency per chunk."""
    from teleforge.train_adapter.eval import EvalConfig, evaluate  # lazy: mujoco only when the command runs

    cfg = EvalConfig(task=task, episodes=episodes, seed_base=seed_base, execute=execute, temporal_ensemble=ensemble,
                     videos=videos, video_format=video_format, time_limit_s=time_limit, out=out)
    try:
        policy = load_any_policy(ckpt, task, head)
        result = evaluate(policy, cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    console.print(eval_table(result, title=f"closed-loop eval · {task} · {ckpt}"))
    console.print(f"seeds {cfg.seed_base}..{cfg.seed_base + episodes - 1} · results: [bold]{out / 'results.json'}[/]"
                  + (f" · videos: {out / 'videos'}" if videos else ""), soft_wrap=True)


def experiment_cmd(
    out: Path = typer.Option(Path("teleforge_experiment"), "--out", "-o", help="Folder for the dataset, runs, evals, JSON and plot."),
    task: str = typer.Option("pick_cube", "--task", "-t", help="Task to collect, train and evaluate."),
    episodes: int = typer.Option(60, help="Scripted demos to collect (the raw set)."),
    failure_rate: float = typer.Option(0.3, help="Share of demos with an injected, labelled failure."),
    head: str = typer.Option("flow", help="tokens | flow"),
    init: str = typer.Option("bundled", help="bundled | scratch | a checkpoint folder"),
    steps: int = typer.Option(600, help="Fine-tune steps per arm (the shared budget)."),
    batch_size: int = typer.Option(32, help="Batch size per step (the shared budget)."),
    lr: float = typer.Option(3e-4, help="Learning rate of both arms (high enough that the data, not the base, decides)."),
    eval_episodes: int = typer.Option(50, help="Closed-loop episodes per arm, on the same held-out seeds."),
    image_size: int = typer.Option(128, help="Recorded camera size for the collection."),
    seed: int = typer.Option(0, help="First collection seed."),
    videos: int = typer.Option(4, help="Eval videos per arm."),
) -> None:
    """Curation experiment: fine-tune the same budget on the raw set and on the curated view, compare success."""
    from teleforge.workflows.experiment import ExperimentConfig, run_experiment  # lazy: mujoco and pygame

    cfg = ExperimentConfig(out=out, task=task, episodes=episodes, failure_rate=failure_rate, head=head, init=init,
                           train_steps=steps, batch_size=batch_size, lr=lr, eval_episodes=eval_episodes, image_size=image_size,
                           seed=seed, videos=videos)
    try:
        res = run_experiment(cfg, progress=RichProgress(console))
    except ImportError as exc:
        _fail(TeleforgeError(f"the experiment trains a model and needs torch ({exc.name}): pip install 'teleforge[train]'"))
    except TeleforgeError as exc:
        _fail(exc)
    console.print(experiment_table(res))
    console.print(f"results: [bold]{res.json_path}[/] · plot: [bold]{res.plot_path}[/]", soft_wrap=True)
