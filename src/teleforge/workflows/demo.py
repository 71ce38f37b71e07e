"""`teleforge demo`: the whole story on the embedded sim, as one library call.

scripted collection with injected, labelled failures → curation (metrics, rules with
reasons, HTML report) → exports (RLDS, LeRobot v3) of the curated view → fine-tune of
the bundled VLA on the curated view → closed-loop eval on held-out seeds → a summary.

Every stage after collection degrades on its own: a missing optional piece (torch for
fine-tune and eval, a video encoder for LeRobot) marks that stage skipped with the
reason and the fix, and the rest still runs. The result is a :class:`DemoReport`; the CLI
draws its summary.
"""

from __future__ import annotations

import importlib.util
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

# train and load_policy are called through their modules, so a test can stand in for training.
import teleforge.train_adapter.checkpoint as checkpoint
import teleforge.train_adapter.train as training
from teleforge.convert.lerobot import export_lerobot
from teleforge.convert.rlds import RldsExportConfig, export_rlds
from teleforge.curation import build_report
from teleforge.dataset import Dataset, summarize
from teleforge.dataset.selection import select
from teleforge.errors import DatasetError, TeleforgeError
from teleforge.progress import Progress, or_null
from teleforge.train_adapter.eval import EvalConfig, EvalResult, evaluate
from teleforge.workflows.collect import SessionResult, collect
from teleforge.workflows.collect_config import CollectConfig
from teleforge.workflows.experiment import CURATED_VIEW, curate

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
class TaskCollection:
    """What this run collected for one task, with the failures the expert injected (ground truth)."""

    task: str
    episodes: int
    successes: int
    failures: int
    injected: dict[str, int] = field(default_factory=dict)  # failure kind -> episodes


@dataclass
class DemoReport:
    dataset: Path
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)
    collected: list[TaskCollection] = field(default_factory=list)
    stages: list[Stage] = field(default_factory=list)
    curation: dict[str, Any] = field(default_factory=dict)
    exports: dict[str, str] = field(default_factory=dict)
    checkpoint: str | None = None
    eval: EvalResult | None = None
    curated_view: str = CURATED_VIEW  # the view curation writes (exports and fine-tune use it when it kept anything)

    def stage(self, name: str) -> Stage | None:
        return next((s for s in self.stages if s.name == name), None)


def torch_available() -> bool:
    return importlib.util.find_spec("torch") is not None


def run_demo(cfg: DemoConfig, progress: Progress | None = None) -> DemoReport:
    """Run every stage into ``cfg.out`` (dataset/, exports/, runs/, eval/) and summarize.

    Each stage opens with a heading message to ``progress``; a stage that fails or is skipped sends a warning.
    """
    prog = or_null(progress)
    run = cfg.effective()
    out = Path(run.out)
    root = out / "dataset"
    report = DemoReport(dataset=root, summary={})
    t_all = time.perf_counter()
    if (root / "catalog.parquet").is_file() or (root / "episodes").is_dir():
        # Collecting again into the old dataset would append a second copy of every scripted episode.
        raise DatasetError(f"{root} already holds a dataset from an earlier demo; rerunning would append duplicates. "
                           f"Pass --out NEW_FOLDER, or delete {out} first")

    # 1. collection: the one stage everything else needs, so its errors propagate.
    per_task = _collect(run, root, report, prog)
    ds = Dataset.open(root)
    report.summary = summarize(ds)
    ids = {e.episode_id for r in per_task for e in r.episodes if e.episode_id is not None}

    # 2. curation
    _stage(report, "curate", prog, lambda: _curate(root, report))
    # 3. exports of the curated view (the whole set when curation did not run)
    view = CURATED_VIEW if report.curation.get("kept") else None
    if run.export:
        _stage(report, "export rlds", prog, lambda: _export_rlds(root, view, out, report))
        _stage(report, "export lerobot", prog, lambda: _export_lerobot(root, view, out, report))
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
        _stage(report, "fine-tune", prog, lambda: _finetune(run, root, view, out, report, prog))
        ckpt = report.checkpoint
        if ckpt:
            _stage(report, "eval", prog, lambda: _eval(run, root, out, ckpt, report, prog))
        else:
            _skip(report, "eval", "no fine-tuned checkpoint (see fine-tune)")
    report.timings = {s.name: s.seconds for s in report.stages}
    report.timings["total"] = time.perf_counter() - t_all
    report.collected = _collected(ds, ids)
    return report


# --- stages ---------------------------------------------------------------------------------
def _stage(report: DemoReport, name: str, progress: Progress, fn: Callable[[], str]) -> None:
    """Run one stage; a TeleforgeError (or a missing optional import) fails only that stage."""
    progress.message(name, "heading")
    t0 = time.perf_counter()
    try:
        detail = fn() or ""
        status = "ok"
    except ImportError as exc:
        status, detail = "skipped", f"needs {exc.name or exc}: pip install 'teleforge[train]'"
    except TeleforgeError as exc:
        status, detail = "failed", str(exc)
    report.stages.append(Stage(name, status, detail, time.perf_counter() - t0))
    if status != "ok":
        progress.message(f"{name} {status}: {detail}", "warning")


def _skip(report: DemoReport, name: str, why: str) -> None:
    report.stages.append(Stage(name, "skipped", why))


def _collect(run: DemoConfig, root: Path, report: DemoReport, progress: Progress) -> list[SessionResult]:
    out = []
    for i, task in enumerate(run.tasks):
        progress.message(f"collect {task}", "heading")
        progress.message(f"{run.episodes_per_task} scripted episodes, ~{run.failure_rate:.0%} with injected failures")
        t0 = time.perf_counter()
        res = collect(
            CollectConfig(dataset=root, device="scripted", task=task, episodes=run.episodes_per_task, hz=run.hz, headless=True,
                          seed=run.seed + 1000 * i, failure_rate=run.failure_rate, image_size=run.image_size,
                          cameras=run.cameras, operator_id="demo", notes=f"teleforge demo, task {task}"),
            progress=progress,
        )
        saved = sum(1 for e in res.episodes if e.episode_id is not None)
        report.stages.append(Stage(f"collect {task}", "ok", f"{saved} episodes", time.perf_counter() - t0))
        out.append(res)
    return out


def _curate(root: Path, report: DemoReport) -> str:
    report.curation = curate(root, CURATED_VIEW)
    report.curation["report"] = str(build_report(root, CURATED_VIEW, root / "report.html"))
    c = report.curation
    return f"kept {c['kept']}, rejected {c['rejected']} · {c['report']}"


def _export_rlds(root: Path, view: str | None, out: Path, report: DemoReport) -> str:
    r = export_rlds(select(root, None, view), out / "exports" / "rlds",
                    RldsExportConfig(name="teleforge_demo", action_space="ee_delta", overwrite=True))
    report.exports["rlds"] = str(r.path)
    return f"{r.num_episodes} episodes, {r.num_steps} steps → {r.path}"


def _export_lerobot(root: Path, view: str | None, out: Path, report: DemoReport) -> str:
    dest = out / "exports" / "lerobot"
    r = export_lerobot(select(root, None, view), dest, repo_id="teleforge/demo", overwrite=True)
    report.exports["lerobot"] = str(r.root)
    return f"{r.episodes} episodes, {r.frames} frames → {r.root}"


def _finetune(run: DemoConfig, root: Path, view: str | None, out: Path, report: DemoReport, progress: Progress) -> str:
    res = training.train(training.TrainConfig(data=str(root), view=view, head=run.head, init=run.init, steps=run.train_steps,
                                              time_budget_s=run.train_time_s, batch_size=run.batch_size,
                                              out=str(out / "runs" / "curated")),
                         progress=progress)
    report.checkpoint = str(res.checkpoint)
    return f"{res.steps} steps on {res.episodes} episodes in {res.seconds:.0f} s → {res.checkpoint}"


def _eval(run: DemoConfig, root: Path, out: Path, ckpt: str, report: DemoReport, progress: Progress) -> str:
    seeds = [int(e.seed) for e in Dataset.open(root).episodes if e.seed is not None]
    policy = checkpoint.load_policy(ckpt, head=run.head if run.head in ("tokens", "flow") else None)
    report.eval = evaluate(policy, EvalConfig(task=run.eval_task, episodes=run.eval_episodes, videos=run.videos,
                                              out=out / "eval", train_seeds=seeds), progress=progress)
    ev = report.eval
    lo, hi = ev.ci95
    return f"{run.eval_task}: {ev.success_rate:.0%} success ({ev.successes}/{len(ev.episodes)}, 95% CI {lo:.0%}–{hi:.0%})"


def _collected(ds: Dataset, ids: set[int]) -> list[TaskCollection]:
    """Per task, what this run saved (``ids``), with the injected failure kinds from the episodes' labels."""
    by_task: dict[str, TaskCollection] = {}
    for info in ds.episodes:
        if info.episode_id not in ids:
            continue
        t = by_task.setdefault(info.task, TaskCollection(info.task, 0, 0, 0))
        t.episodes += 1
        t.successes += info.outcome == "success"
        t.failures += info.outcome == "failure"
        kind = (info.labels or {}).get("failure")
        if kind:
            t.injected[kind] = t.injected.get(kind, 0) + 1
    return list(by_task.values())
