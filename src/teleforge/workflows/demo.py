"""`teleforge demo`: the whole story on the embedded sim, as one library call.

scripted collection with injected, labelled failures → curation (metrics, rules with
reasons, HTML report) → exports (RLDS, LeRobot v3) of the curated view → fine-tune of
the bundled VLA on the curated view → closed-loop eval on held-out seeds → a summary.

Every stage after collection degrades on its own: a missing optional piece (torch for
fine-tune and eval, a video encoder for LeRobot) marks that stage skipped with the
reason and the fix, and the rest still runs.
"""

from __future__ import annotations

import importlib.util
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from rich.markup import escape
from rich.table import Table
from rich.text import Text

from teleforge.errors import TeleforgeError

CURATED_VIEW = "curated"
EVAL_TASK = "pick_cube"


@dataclass
class DemoConfig:
    out: Path = Path("teleforge_demo")
    episodes_per_task: int = 10
    tasks: tuple[str, ...] = ("pick_cube", "place_in_bin", "push_to_target", "stack")
    quick: bool = False
    failure_rate: float = 0.3
    seed: int = 0
    hz: float = 20.0
    image_size: int = 128  # recorded camera size (the bundled base was pretrained on 128 px renders)
    cameras: tuple[str, ...] = ("front", "wrist")
    export: bool = True
    train: bool = True  # fine-tune + eval (needs teleforge[train])
    head: str = "flow"
    init: str = "bundled"
    train_steps: int = 400
    train_time_s: float = 180.0  # fine-tune wall-clock budget
    batch_size: int = 32
    eval_task: str = EVAL_TASK
    eval_episodes: int = 20
    videos: int = 3

    def effective(self) -> DemoConfig:
        """The settings actually run: ``quick`` shrinks everything to a ≤ 3-minute smoke run."""
        if not self.quick:
            return self
        from dataclasses import replace

        return replace(self, tasks=(self.tasks[0] if self.tasks else EVAL_TASK,), episodes_per_task=min(self.episodes_per_task, 4),
                       train_steps=min(self.train_steps, 40), train_time_s=min(self.train_time_s, 30.0),
                       eval_episodes=min(self.eval_episodes, 5), videos=min(self.videos, 1))


@dataclass
class Stage:
    name: str
    status: str  # ok | skipped | failed
    detail: str = ""
    seconds: float = 0.0


@dataclass
class DemoReport:
    dataset: Path
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    sections: list[Any] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    curation: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    checkpoint: str | None = None
    eval: Any | None = None  # teleforge.train_adapter.eval.EvalResult

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def run_demo(cfg: DemoConfig, console: Any | None = None) -> DemoReport:
    """Run every stage into ``cfg.out`` (dataset/, exports/, runs/, eval/) and summarize."""
    from teleforge.dataset import Dataset, summarize

    run = cfg.effective()
    out = Path(run.out)
    root = out / "dataset"
    report = DemoReport(dataset=root, summary={})
    t_all = time.perf_counter()

    # 1. collection: the one stage everything else needs, so its errors propagate.
    per_task = _collect(run, root, report, console)
    ds = Dataset.open(root)
    report.summary = summarize(ds)
    ids = {e.episode_id for r in per_task for e in r.episodes if e.episode_id is not None}

    # 2. curation
    _stage(report, "curate", console, lambda: _curate(root, report))
    # 3. exports of the curated view (the whole set when curation did not run)
    view = CURATED_VIEW if report.curation.get("kept") else None
    if run.export:
        _stage(report, "export rlds", console, lambda: _export_rlds(root, view, out, report))
        _stage(report, "export lerobot", console, lambda: _export_lerobot(root, view, out, report))
    else:
        _skip(report, "export rlds", "--no-export")
        _skip(report, "export lerobot", "--no-export")
    # 4-5. fine-tune and eval
    if not run.train:
        _skip(report, "fine-tune", "--no-train")
        _skip(report, "eval", "--no-train")
    elif not torch_available():
        why = "torch is not installed: install teleforge[train] (pip install 'teleforge[train]')"
        _skip(report, "fine-tune", why)
        _skip(report, "eval", why)
    else:
        _stage(report, "fine-tune", console, lambda: _finetune(run, root, view, out, report, console))
        if report.checkpoint:
            _stage(report, "eval", console, lambda: _eval(run, root, out, report, console))
        else:
            _skip(report, "eval", "no fine-tuned checkpoint (see fine-tune)")
    report.timings = {s.name: s.seconds for s in report.stages}
    report.timings["total"] = time.perf_counter() - t_all

    report.sections.append(_collection_table(ds, per_task, ids))
    report.sections.append(_curation_table(report))
    report.sections.append(_stages_table(report))
    report.sections.append(_next_steps(report, root))
    return report


# --- stages ---------------------------------------------------------------------------------
def _stage(report: DemoReport, name: str, console: Any | None, fn: Callable[[], str]) -> None:
    """Run one stage; a TeleforgeError (or a missing optional import) fails only that stage."""
    if console is not None:
        console.rule(f"[bold]{name}")
    t0 = time.perf_counter()
    try:
        detail = fn() or ""
        status = "ok"
    except ImportError as exc:
        status, detail = "skipped", f"needs {exc.name or exc}: pip install 'teleforge[train]'"
    except TeleforgeError as exc:
        status, detail = "failed", str(exc)
    report.stages.append(Stage(name, status, detail, time.perf_counter() - t0))
    if console is not None and status != "ok":
        console.print(f"[yellow]{name} {status}:[/] {escape(detail)}", soft_wrap=True, highlight=False)


def _skip(report: DemoReport, name: str, why: str) -> None:
    report.stages.append(Stage(name, "skipped", why))


def _collect(run: DemoConfig, root: Path, report: DemoReport, console: Any | None) -> list[Any]:
    from teleforge.teleop.collect import CollectConfig, collect

    out = []
    for i, task in enumerate(run.tasks):
        if console is not None:
            console.rule(f"[bold]collect {task}")
            console.print(f"{run.episodes_per_task} scripted episodes, ~{run.failure_rate:.0%} with injected failures")
        t0 = time.perf_counter()
        res = collect(
            CollectConfig(dataset=root, device="scripted", task=task, episodes=run.episodes_per_task, hz=run.hz, headless=True,
                          seed=run.seed + 1000 * i, failure_rate=run.failure_rate, image_size=run.image_size,
                          cameras=run.cameras, operator_id="demo", notes=f"teleforge demo, task {task}"),
            console=console,
        )
        saved = sum(1 for e in res.episodes if e.episode_id is not None)
        report.stages.append(Stage(f"collect {task}", "ok", f"{saved} episodes", time.perf_counter() - t0))
        out.append(res)
    return out


def _curate(root: Path, report: DemoReport) -> str:
    from teleforge.curation import build_report
    from teleforge.train_adapter.experiment import curate

    report.curation = curate(root, CURATED_VIEW)
    report.curation["report"] = str(build_report(root, CURATED_VIEW, root / "report.html"))
    c = report.curation
    return f"kept {c['kept']}, rejected {c['rejected']} · {c['report']}"


def _export_rlds(root: Path, view: str | None, out: Path, report: DemoReport) -> str:
    from teleforge.convert.card import select
    from teleforge.convert.rlds import RldsExportConfig, export_rlds

    r = export_rlds(select(root, None, view), out / "exports" / "rlds",
                    RldsExportConfig(name="teleforge_demo", action_space="ee_delta", overwrite=True))
    report.exports["rlds"] = str(r.path)
    return f"{r.num_episodes} episodes, {r.num_steps} steps → {r.path}"


def _export_lerobot(root: Path, view: str | None, out: Path, report: DemoReport) -> str:
    from teleforge.convert.card import select
    from teleforge.convert.lerobot import export_lerobot

    dest = out / "exports" / "lerobot"
    r = export_lerobot(select(root, None, view), dest, repo_id="teleforge/demo", overwrite=True)
    report.exports["lerobot"] = str(r.root)
    return f"{r.episodes} episodes, {r.frames} frames → {r.root}"


def _finetune(run: DemoConfig, root: Path, view: str | None, out: Path, report: DemoReport, console: Any | None) -> str:
    from teleforge.train_adapter.train import TrainConfig, train

    res = train(TrainConfig(data=str(root), view=view, head=run.head, init=run.init, steps=run.train_steps,
                            time_budget_s=run.train_time_s, batch_size=run.batch_size, out=str(out / "runs" / "curated")),
                console=console)
    report.checkpoint = str(res.checkpoint)
    return f"{res.steps} steps on {res.episodes} episodes in {res.seconds:.0f} s → {res.checkpoint}"


def _eval(run: DemoConfig, root: Path, out: Path, report: DemoReport, console: Any | None) -> str:
    from teleforge.train_adapter.checkpoint import load_policy
    from teleforge.train_adapter.eval import EvalConfig, evaluate

    seeds = [int(e.seed) for e in _episodes(root) if e.seed is not None]
    policy = load_policy(report.checkpoint, head=run.head if run.head in ("tokens", "flow") else None)
    report.eval = evaluate(policy, EvalConfig(task=run.eval_task, episodes=run.eval_episodes, videos=run.videos,
                                              out=out / "eval", train_seeds=seeds), console=console)
    ev = report.eval
    lo, hi = ev.ci95
    return f"{run.eval_task}: {ev.success_rate:.0%} success ({ev.successes}/{len(ev.episodes)}, 95% CI {lo:.0%}–{hi:.0%})"


def _episodes(root: Path) -> list[Any]:
    from teleforge.dataset import Dataset

    return Dataset.open(root).episodes


# --- summary tables --------------------------------------------------------------------------
def _collection_table(ds: Any, results: list[Any], ids: set[int]) -> Table:
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


def _curation_table(report: DemoReport) -> Any:
    c = report.curation
    if not c:
        return Text("curation: not run (see stages)")
    t = Table(title=f"curation → view '{c['view']}'", title_justify="left")
    t.add_column("kept", justify="right")
    t.add_column("rejected", justify="right")
    t.add_column("why (first rule's kind)", ratio=1)
    t.add_column("vs injected labels", ratio=1)
    ls = c.get("label_scores") or {}
    pr = ls.get("reject_precision")
    rc = ls.get("reject_recall")
    t.add_row(
        f"[green]{c['kept']}[/]", f"[red]{c['rejected']}[/]",
        ", ".join(f"{k} {v}" for k, v in Counter(c.get("reasons") or {}).most_common()) or "-",
        f"precision {pr:.0%} · recall {rc:.0%}" if pr is not None and rc is not None else "-",
    )
    return t


def _stages_table(report: DemoReport) -> Table:
    t = Table(title="stages", title_justify="left")
    t.add_column("stage", no_wrap=True)
    t.add_column("status", no_wrap=True)
    t.add_column("time", justify="right", no_wrap=True)
    t.add_column("result", ratio=1)
    colour = {"ok": "green", "skipped": "yellow", "failed": "red"}
    for s in report.stages:
        t.add_row(s.name, f"[{colour.get(s.status, 'white')}]{s.status}[/]", f"{s.seconds:.1f} s", escape(s.detail))
    t.add_row("[bold]total[/]", "", f"[bold]{report.timings.get('total', 0.0):.0f} s[/]", "")
    return t


def _next_steps(report: DemoReport, root: Path) -> Text:
    lines = [f"dataset: [bold]{root}[/]"]
    if report.curation.get("report"):
        lines.append(f"review: [bold]{report.curation['report']}[/]")
    for k, v in report.exports.items():
        lines.append(f"{k}: [bold]{v}[/]")
    if report.eval is not None:
        lines.append(f"eval: [bold]{report.eval.success_rate:.0%}[/] on {len(report.eval.episodes)} held-out "
                     f"{report.eval.task} seeds · {report.eval.config.get('out')}")
    lines.append(f"next: [cyan]teleforge info {root}[/] · [cyan]teleforge handoff lerobot {root}:{CURATED_VIEW} handoff/[/]")
    return Text.from_markup("\n".join(lines))
