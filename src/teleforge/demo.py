"""`teleforge demo`: the whole story on the embedded sim, as one library call.

Today: scripted collection over the sim's tasks with injected, labelled failures,
then a summary of what was recorded. Curation, export and fine-tuning plug in
after collection as they land.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text


@dataclass
class DemoConfig:
    out: Path = Path("teleforge_demo")
    episodes_per_task: int = 6
    tasks: tuple[str, ...] = ("pick_cube", "place_in_bin", "push_to_target", "stack")
    quick: bool = False
    failure_rate: float = 0.3
    seed: int = 0
    hz: float = 20.0
    image_size: int = 224


@dataclass
class DemoReport:
    dataset: Path
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    sections: list[Any] = field(default_factory=list)


def run_demo(cfg: DemoConfig, console: Any | None = None) -> DemoReport:
    """Collect scripted episodes for each task into ``cfg.out/dataset`` and summarize them."""
    from teleforge.dataset import Dataset, summarize
    from teleforge.teleop.collect import CollectConfig, collect

    tasks = cfg.tasks[:1] if cfg.quick else cfg.tasks
    n = min(cfg.episodes_per_task, 3) if cfg.quick else cfg.episodes_per_task
    root = cfg.out / "dataset"
    timings: dict[str, float] = {}
    per_task: list[tuple[str, Any]] = []
    t_all = time.perf_counter()
    for i, task in enumerate(tasks):
        if console is not None:
            console.print(f"[bold]collect[/] {task}: {n} scripted episodes, ~{cfg.failure_rate:.0%} with injected failures")
        t0 = time.perf_counter()
        res = collect(
            CollectConfig(dataset=root, device="scripted", task=task, episodes=n, hz=cfg.hz, headless=True,
                          seed=cfg.seed + 1000 * i, failure_rate=cfg.failure_rate, image_size=cfg.image_size,
                          operator_id="demo", notes=f"teleforge demo, task {task}"),
            console=console,
        )
        timings[f"collect {task}"] = time.perf_counter() - t0
        per_task.append((task, res))
    timings["total"] = time.perf_counter() - t_all

    ds = Dataset.open(root)
    summary = summarize(ds)
    report = DemoReport(dataset=root, summary=summary, timings=timings)
    report.sections.append(_collection_table(ds, [r for _, r in per_task]))
    report.sections.append(_timing_table(timings, summary))
    report.sections.append(
        Text.from_markup(
            f"dataset: [bold]{root}[/]\n"
            f"next: [cyan]teleforge info {root}[/] · [cyan]teleforge replay {root} --episode 0 --video ep0.mp4[/]"
        )
    )
    return report


def _collection_table(ds: Any, results: list[Any]) -> Table:
    ids = {e.episode_id for r in results for e in r.episodes if e.episode_id is not None}
    t = Table(title="collected this run", title_justify="left")
    for col in ("task", "episodes", "success", "failure"):
        t.add_column(col, no_wrap=True)
    t.add_column("injected failures (ground truth)", ratio=1)
    by_task: dict[str, list[Any]] = {}
    for info in ds.episodes:
        if info.episode_id in ids:
            by_task.setdefault(info.task, []).append(info)
    for task, eps in by_task.items():
        kinds: dict[str, int] = {}
        for e in eps:
            kind = (e.labels or {}).get("failure")
            if kind:
                kinds[kind] = kinds.get(kind, 0) + 1
        t.add_row(
            task, str(len(eps)),
            f"[green]{sum(e.outcome == 'success' for e in eps)}[/]",
            f"[red]{sum(e.outcome == 'failure' for e in eps)}[/]",
            ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())) or "-",
        )
    return t


def _timing_table(timings: dict[str, float], summary: dict[str, Any]) -> Table:
    t = Table(title="timing", title_justify="left", show_header=False)
    t.add_column(style="bold")
    t.add_column()
    for k, v in timings.items():
        t.add_row(k, f"{v:.1f} s")
    for k, v in sorted((summary.get("timing") or {}).items()):
        t.add_row(k, f"{v:.2f}" if isinstance(v, float) else str(v))
    return t
