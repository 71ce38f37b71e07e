"""How the CLI prints library results (rich tables). Presentation only."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table


def fail(exc: BaseException) -> None:
    """Print a library error as one unwrapped line on stderr (operators grep logs for it) and exit 1."""
    import typer
    from rich.markup import escape

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


def recover_report(console: Console, report: Any) -> None:
    d = vars(report) if hasattr(report, "__dict__") else dict(report)
    console.print(_kv_table("recover", [(k, v) for k, v in d.items()]))


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


def demo_report(console: Console, report: Any) -> None:
    console.rule("[bold]teleforge demo")
    for section in report.sections:
        console.print(section)
