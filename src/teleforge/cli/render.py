"""How the CLI prints library results (rich tables). Presentation only."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

import typer
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # result types only: importing them here would pull mujoco into `teleforge --help`
    from teleforge.train_adapter.eval import EvalResult
    from teleforge.workflows.demo import DemoReport
    from teleforge.workflows.experiment import ExperimentResult


def fail(exc: BaseException) -> None:
    """Print a library error as one unwrapped line on stderr (operators grep logs for it) and exit 1."""
    Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True, highlight=False)
    raise typer.Exit(code=1)


def _fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.1f} {unit}" if unit != "B" else f"{int(n)} B"
        n /= 1024
    return f"{n:.1f} TB"


def _kv_table(title: str, rows: Iterable[tuple[str, Any]]) -> Table:
    t = Table(title=title, show_header=False, title_justify="left")
    t.add_column(style="bold")
    t.add_column()
    for k, v in rows:
        t.add_row(k, str(v))
    return t


def session_report(console: Console, result: Any, dataset: Path) -> None:
    t = Table(title=f"session {result.session_id} → {dataset}", title_justify="left",
              caption="p99: control period p99 · miss: missed deadlines · age: frame age p99 · fin: finalize time",
              caption_justify="left")
    for col, width in (("ep", 2), ("outcome", 7), ("steps", 5), ("p99", 6), ("miss", 4), ("age", 5), ("fin", 4)):
        t.add_column(col, no_wrap=True, min_width=width)
    t.add_column("instruction", overflow="ellipsis", no_wrap=True, max_width=22)
    for e in result.episodes:
        loop = e.loop or {}
        ages = (loop.get("frame_age_p99_ms") or {}).values()
        colour = {"success": "green", "failure": "red", "discarded": "dim"}.get(e.outcome, "yellow")
        t.add_row(
            "-" if e.episode_id is None else str(e.episode_id),
            f"[{colour}]{e.outcome}[/]",
            str(e.steps),
            f"{loop.get('period_p99_ms', float('nan')):.1f}ms",
            str(loop.get("missed_deadlines", "")),
            f"{max(ages):.0f}ms" if ages else "-",
            f"{e.finalize_s * 1e3:.0f}ms",
            e.instruction,
        )
    console.print(t)
    counts = result.counts()
    console.print("outcomes: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    if result.aborted:
        console.print(f"[yellow]session ended early: {result.aborted}[/]")
    operator_summary(console, getattr(result, "operator_summary", None))


def operator_summary(console: Console, s: dict[str, Any] | None) -> None:
    """The per-operator lines at the end of `collect`: what was kept, how well, how fast."""
    if not s:
        return
    kept = s.get("episodes_kept", 0)

    def med(key: str, fmt: str) -> str:
        v = s.get(key)
        return "-" if v is None else fmt.format(v)

    per = s.get("time_per_kept_episode_s")
    console.print(
        f"operator {s.get('operator_id')}: {kept} kept ({s.get('success', 0)} success, {s.get('failure', 0)} failure, "
        f"{s.get('unknown', 0)} unknown), {s.get('episodes_discarded', 0)} discarded; "
        f"{s.get('pass_default_rules', 0)}/{kept} pass the default curation rules; "
        f"{s.get('label_disagreements', 0)} label/check disagreements"
    )
    console.print(
        f"  median duration {med('median_duration', '{:.1f} s')}, idle {med('median_idle_fraction', '{:.0%}')}, "
        f"jerk {med('median_action_jerk_rms', '{:.0f}')} m/s^3, path {med('median_path_length_m', '{:.2f} m')}; "
        f"time per kept episode {'-' if per is None else f'{per:.0f} s'}"
    )


def info_summary(console: Console, s: dict[str, Any]) -> None:
    rows = [
        ("path", s.get("path")),
        ("format", s.get("format_version")),
        ("robot", s.get("robot_embodiment")),
        ("fps", s.get("fps")),
        ("episodes", s.get("episodes")),
        ("steps", s.get("steps")),
        ("duration", f"{s.get('duration_s', 0):.1f} s"),
        ("disk", _fmt_bytes(float(s.get("disk_bytes", 0)))),
        ("cameras", ", ".join(s.get("cameras", []) if isinstance(s.get("cameras"), list) else map(str, s.get("cameras", {})))),
        ("outcomes", ", ".join(f"{k}={v}" for k, v in sorted((s.get("outcomes") or {}).items()))),
        ("tasks", ", ".join(f"{k}={v}" for k, v in sorted((s.get("tasks") or {}).items()))),
        ("sessions", s.get("sessions", "")),
        ("recovered", s.get("recovered", 0)),
        ("partial (unrecovered)", s.get("partial", 0)),
    ]
    console.print(_kv_table("dataset", rows))
    timing = s.get("timing") or {}
    if timing:
        console.print(_kv_table("timing health", sorted(timing.items())))
    for w in s.get("warnings") or []:
        console.print(f"[bold yellow]warning:[/] {escape(w)}", soft_wrap=True, highlight=False)


def recover_report(console: Console, report: Any) -> None:
    d = vars(report) if hasattr(report, "__dict__") else dict(report)
    console.print(_kv_table("recover", [(k, v) for k, v in d.items() if k not in ("messages", "skipped")]))
    for m in d.get("messages") or []:
        console.print(escape(m), soft_wrap=True, highlight=False)
    for m in d.get("skipped") or []:
        console.print(f"[bold yellow]skipped[/] {escape(m)}", soft_wrap=True, highlight=False)


def verify_report(console: Console, report: Any) -> None:
    """One line per problem (then notes), and a summary line."""
    for p in report.problems:
        console.print(f"[bold red]problem:[/] {escape(p)}", soft_wrap=True, highlight=False)
    for n in report.notes:
        console.print(f"note: {escape(n)}", soft_wrap=True, highlight=False)
    status = "[green]ok[/]" if report.ok else f"[bold red]{len(report.problems)} problem(s)[/]"
    console.print(f"{status}: {report.shards} shards, {report.batches} record batches, {report.steps} steps, "
                  f"{report.catalog_rows} catalog rows, {report.views} views checked in {escape(str(report.root))}",
                  soft_wrap=True, highlight=False)


def devices_table(console: Console, devices: Iterable[Any]) -> None:
    t = Table(title="input devices", title_justify="left")
    for col in ("name", "kind", "status", "detail"):
        t.add_column(col)
    for d in devices:
        dd = vars(d) if hasattr(d, "__dict__") else dict(d)
        t.add_row(str(dd.get("name", "")), str(dd.get("kind", "")), str(dd.get("status", dd.get("available", ""))), str(dd.get("detail", "")))
    console.print(t)


def replay_table(console: Console, reports: Iterable[Any]) -> None:
    t = Table(title="replay", title_justify="left")
    for col in ("episode", "recorded", "replayed", "final EE error mm", "max joint error rad", "matches", "video"):
        t.add_column(col)
    for r in reports:
        t.add_row(
            str(r.episode_id), r.recorded_outcome, "success" if r.replay_success else "failure",
            f"{r.final_ee_error_m * 1e3:.2f}", f"{r.max_joint_error_rad:.4f}",
            "[green]yes[/]" if r.matches else "[red]no[/]", str(r.video or ""),
        )
    console.print(t)


def eval_table(result: EvalResult, title: str | None = None) -> Table:
    """Closed-loop eval: success with its 95 % interval, latency, time."""
    lo, hi = result.ci95
    t = Table(title=title or f"closed-loop eval · {result.task}", title_justify="left")
    for c in ("policy", "n", "success", "95% CI", "p50 ms", "p95 ms", "chunks", "time"):
        t.add_column(c, justify="right" if c != "policy" else "left")
    p = result.policy
    t.add_row(
        f"{p.get('head', '?')}·{p.get('chunk', '?')}",
        str(len(result.episodes)),
        f"[bold]{result.success_rate:.0%}[/]",
        f"{lo:.0%}–{hi:.0%}",
        f"{result.latency(50):.1f}",
        f"{result.latency(95):.1f}",
        str(len(result.latency_ms)),
        f"{result.seconds:.0f}s",
    )
    t.caption = "latency: one predict() per chunk · CI: Wilson score interval"
    return t


def experiment_table(result: ExperimentResult) -> Table:
    """The curation experiment: raw vs curated, side by side."""
    t = Table(title="curation experiment: same fine-tune budget, same held-out seeds", title_justify="left")
    for c in ("arm", "episodes", "steps", "success", "95% CI", "latency p50", "train time"):
        t.add_column(c, justify="left" if c == "arm" else "right", no_wrap=True)
    for a in result.arms.values():
        ev = a.eval
        lo, hi = ev.ci95 if ev else (float("nan"), float("nan"))
        t.add_row(a.name, str(a.episodes), str(a.steps),
                  f"[bold]{ev.success_rate:.0%}[/] ({ev.successes}/{len(ev.episodes)})" if ev else "-",
                  f"{lo:.0%} – {hi:.0%}" if ev else "-",
                  f"{ev.latency(50):.1f} ms" if ev else "-", f"{a.train_seconds:.0f} s")
    if result.gain is not None:
        t.caption = f"curated − raw: {100 * result.gain:+.0f} points"
    return t


def demo_sections(report: DemoReport) -> list[RenderableType]:
    """The demo's summary: what was collected, what curation kept, each stage, where things are."""
    return [_demo_collection_table(report), _demo_curation_table(report), _demo_stages_table(report),
            _demo_next_steps(report)]


def _demo_collection_table(report: DemoReport) -> Table:
    t = Table(title="collected this run", title_justify="left")
    for col in ("task", "episodes", "success", "failure"):
        t.add_column(col, no_wrap=True)
    t.add_column("injected failures (ground truth)", ratio=1)
    for c in report.collected:
        t.add_row(c.task, str(c.episodes), f"[green]{c.successes}[/]", f"[red]{c.failures}[/]",
                  ", ".join(f"{k} {v}" for k, v in sorted(c.injected.items())) or "-")
    return t


def _demo_curation_table(report: DemoReport) -> RenderableType:
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


def _demo_stages_table(report: DemoReport) -> Table:
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


def _demo_next_steps(report: DemoReport) -> Text:
    root = report.dataset
    lines = [f"dataset: [bold]{escape(str(root))}[/]"]
    if report.curation.get("report"):
        lines.append(f"review: [bold]{escape(report.curation['report'])}[/]")
    for k, v in report.exports.items():
        lines.append(f"{k}: [bold]{escape(v)}[/]")
    if report.eval is not None:
        lines.append(f"eval: [bold]{report.eval.success_rate:.0%}[/] on {len(report.eval.episodes)} held-out "
                     f"{report.eval.task} seeds · {escape(str(report.eval.config.get('out')))}")
    lines.append(f"next: [cyan]teleforge info {escape(str(root))}[/] · "
                 f"[cyan]teleforge handoff lerobot {escape(str(root))}:{report.curated_view} handoff/[/]")
    return Text.from_markup("\n".join(lines))


def demo_report(console: Console, report: DemoReport) -> None:
    """Print the demo's summary sections under one rule."""
    console.rule("[bold]teleforge demo")
    for section in demo_sections(report):
        console.print(section)
