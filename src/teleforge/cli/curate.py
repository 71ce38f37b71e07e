"""``teleforge curate …``: metrics, filters with reasons, dedupe, trims, review report, splits, edits.

Thin: parse, call teleforge.curation, print a summary table. Every command is
idempotent and never rewrites a shard.
"""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import typer
from rich.console import Console
from rich.table import Table

from teleforge.cli.engine_options import EngineOpt, RayAddressOpt, enter_engine
from teleforge.cli.grammar import deprecated, split_dataset_view
from teleforge.cli.remote import local_dataset, push_back
from teleforge.cli.render import fail
from teleforge.errors import CurationError, TeleforgeError

curate_app = typer.Typer(
    name="curate",
    help="Score, filter, dedupe, trim, review and split a dataset into views (raw shards are never changed).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: brackets such as teleforge[train] and [[rule]] survive
)
console = Console()
err_console = Console(stderr=True)

DatasetArg = typer.Argument(..., help="Dataset folder or URI (s3://bucket/ds).")
# One grammar: DATASET[:VIEW] names the data; DATASET:VIEW starts from a view (views compose).
SourceArg = typer.Argument(..., metavar="DATASET[:VIEW]", help="Dataset folder, or DATASET:VIEW to start from that view (views compose).")
ViewArg = typer.Argument(..., metavar="DATASET:VIEW", help="Dataset folder and view, as DATASET:VIEW (or a view file path after the colon).")
FromView = typer.Option(None, "--from", hidden=True, help="Deprecated: use DATASET:VIEW.")
NameAlias = typer.Option(None, "-n", hidden=True, help="Deprecated: use --name.")
OldViewArg = typer.Argument(None, hidden=True, help="Deprecated: use DATASET:VIEW.")


def _source(dataset: str, from_view: Optional[str], name: str, name_alias: Optional[str]) -> tuple[Path, Optional[str], str]:
    root, view = split_dataset_view(dataset, deprecated(None, from_view, "--from", "DATASET:VIEW"))
    return root, view, deprecated(name, name_alias, "-n", "--name")


def _need_view(dataset: str, old: Optional[str]) -> tuple[Path, str]:
    root, view = split_dataset_view(dataset, deprecated(None, old, "DATASET VIEW", "DATASET:VIEW"))
    if not view:
        raise typer.BadParameter(f"name the view as DATASET:VIEW (e.g. {dataset}:filtered)")
    return root, view


_fail = fail  # one error format for every command


@curate_app.callback()
def _group(ctx: typer.Context, engine: str = EngineOpt, ray_address: Optional[str] = RayAddressOpt) -> None:
    """Score, filter, dedupe, trim, review and split a dataset into views (raw shards are never changed)."""
    enter_engine(ctx, engine, ray_address)
    ctx.call_on_close(push_back)  # a dataset on object storage gets back the catalog and views the command changed


@contextmanager
def _progress(label: str, total: int) -> Iterator[object]:
    from teleforge.cli.progress import make_progress

    with make_progress(console) as prog:
        task = prog.add_task(label, total=total, status="")
        yield lambda _id=None: prog.update(task, advance=1)


def _n_episodes(dataset: Path) -> int:
    from teleforge.dataset.catalog import read_catalog

    return read_catalog(dataset).num_rows


def _view_table(view: object, title: str) -> Table:
    from teleforge.curation import diagnosis

    t = Table(title=title)
    t.add_column("view")
    t.add_column("kept", justify="right")
    t.add_column("rejected", justify="right")
    t.add_column("trimmed", justify="right")
    t.add_column("reasons (first rule)")
    counts = Counter(diagnosis(r) for r in view.rejected.values())  # type: ignore[attr-defined]
    t.add_row(view.name, str(len(view.episodes)), str(len(view.rejected)), str(len(view.trims)),  # type: ignore[attr-defined]
              ", ".join(f"{k}={v}" for k, v in counts.most_common()) or "-")
    return t


@curate_app.command()
def metrics(
    dataset: Path = DatasetArg,
    force: bool = typer.Option(False, "--force", help="Recompute even episodes already measured at this metrics version."),
    images: bool = typer.Option(True, "--images/--no-images", help="Score camera health on thumbnails (the only part that decodes JPEG)."),
    image_stride: int = typer.Option(4, "--image-stride", min=1, help="Image health decodes about 1 frame in N "
                                     "(black/overexposed are shares of those; missing, duplicate, frame age and frozen stay exact); "
                                     "1 decodes every frame."),
) -> None:
    """Compute per-episode metrics and store them as catalog.parquet columns."""
    from teleforge.curation import MetricsConfig, compute_metrics
    from teleforge.dataset.fs import remote_of

    dataset = local_dataset(dataset)
    try:
        with _progress("metrics", _n_episodes(dataset)) as adv:
            # A staged copy is measured from its URI: each job (on any Ray node) fetches only its own shard.
            cfg = MetricsConfig(images=images, image_stride=image_stride)
            run = compute_metrics(remote_of(dataset) or dataset, cfg, force=force, on_episode=adv)  # type: ignore[arg-type]
    except TeleforgeError as exc:
        _fail(exc)
    t = Table(title="metrics")
    for c in ("computed", "up to date", "steps", "frames decoded", "seconds"):
        t.add_column(c, justify="right")
    t.add_row(str(run.computed), str(run.skipped), str(run.steps), str(run.frames_decoded), f"{run.seconds:.2f}")
    console.print(t)


@curate_app.command("filter")
def filter_cmd(
    dataset: str = SourceArg,
    name: str = typer.Option("filtered", "--name", help="Output view name (views/<name>.json)."),
    rules: Optional[Path] = typer.Option(None, "--rules", "-r", help="TOML rules file ([[rule]] name/when/kind)."),
    reject: list[str] = typer.Option([], "--reject", help="Extra rule, e.g. 'idle_fraction > 0.4' (repeatable)."),
    no_defaults: bool = typer.Option(False, "--no-defaults", help="Use only --rules/--reject, not the default rule set."),
    from_view: Optional[str] = FromView,
    name_alias: Optional[str] = NameAlias,
) -> None:
    """Reject episodes by declarative rules; every rejection records its rules and values."""
    dataset, from_view, name = _source(dataset, from_view, name, name_alias)  # type: ignore[assignment]
    from teleforge.curation import RuleSet, default_rules, filter_view, load_rules, save_view

    try:
        rs = load_rules(rules) if rules else (RuleSet([], name="cli") if no_defaults else default_rules())
        rs = rs.extended(reject)
        if not rs.rules:
            raise CurationError("no rules: drop --no-defaults, or give --rules FILE / --reject 'metric > value'")
        view = filter_view(dataset, name, rs, from_view)
        path = save_view(dataset, view)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(_view_table(view, f"filter ({len(rs.rules)} rules, hash {rs.hash})"))
    console.print(f"wrote {path}")


@curate_app.command()
def trim(
    dataset: str = SourceArg,
    name: str = typer.Option("trimmed", "--name", help="Output view name."),
    margin: int = typer.Option(2, help="Idle steps to keep before the first and after the last motion."),
    threshold: float = typer.Option(1e-4, help="Per-step translation (m) below which a step counts as idle."),
    head: bool = typer.Option(True, "--head/--no-head", help="Trim the idle head."),
    tail: bool = typer.Option(True, "--tail/--no-tail", help="Trim the idle tail."),
    from_view: Optional[str] = FromView,
    name_alias: Optional[str] = NameAlias,
) -> None:
    """Cut idle head and tail as step ranges in a view."""
    dataset, from_view, name = _source(dataset, from_view, name, name_alias)  # type: ignore[assignment]
    from teleforge.curation import TrimConfig, save_view, trim_view

    try:
        view = trim_view(dataset, name, TrimConfig(head, tail, margin, threshold), from_view)
        path = save_view(dataset, view)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(_view_table(view, "trim"))
    console.print(f"wrote {path}")


@curate_app.command()
def dedupe(
    dataset: str = SourceArg,
    name: str = typer.Option("deduped", "--name", help="Output view name."),
    tolerance: float = typer.Option(0.005, help="RMS trajectory distance (m) below which episodes are duplicates."),
    from_view: Optional[str] = FromView,
    name_alias: Optional[str] = NameAlias,
) -> None:
    """Find exact and near-duplicate episodes (LSH, sub-quadratic); keep one per cluster."""
    dataset, from_view, name = _source(dataset, from_view, name, name_alias)  # type: ignore[assignment]
    from teleforge.curation import DedupeConfig, dedupe_view, save_view

    try:
        view, res = dedupe_view(dataset, name, DedupeConfig(tolerance_m=tolerance), from_view)
        path = save_view(dataset, view)
    except TeleforgeError as exc:
        _fail(exc)
    t = Table(title="duplicate clusters (first kept)")
    t.add_column("kept")
    t.add_column("dropped")
    t.add_column("kind")
    exact = {tuple(c) for c in res.exact}
    kept_ids = set(view.episodes)
    for c in res.clusters:
        keep = next((i for i in c if i in kept_ids), c[0])  # dedupe keeps one per cluster
        t.add_row(str(keep), ", ".join(str(i) for i in c if i != keep), "exact" if tuple(c) in exact else "near")
    console.print(t)
    console.print(_view_table(view, f"dedupe ({res.candidates} candidate pairs verified)"))
    console.print(f"wrote {path}")


@curate_app.command()
def split(
    dataset: str = SourceArg,
    name: str = typer.Option("split", "--name", help="Prefix: writes <name>-train, -val, -test."),
    fractions: str = typer.Option("0.8,0.1,0.1", help="train,val,test fractions."),
    seed: int = typer.Option(0, help="Shuffle seed (same seed, same split)."),
    from_view: Optional[str] = FromView,
    name_alias: Optional[str] = NameAlias,
) -> None:
    """Split into train/val/test views, stratified by task."""
    dataset, from_view, name = _source(dataset, from_view, name, name_alias)  # type: ignore[assignment]
    from teleforge.curation import save_view, split_views

    try:
        try:
            fr = tuple(float(x) for x in fractions.split(","))
        except ValueError as exc:
            raise CurationError(f"--fractions {fractions!r}: expected three numbers like 0.8,0.1,0.1") from exc
        views = split_views(dataset, name, fr, seed, from_view)  # type: ignore[arg-type]
        for v in views:
            save_view(dataset, v)
    except TeleforgeError as exc:
        _fail(exc)
    t = Table(title=f"split (seed {seed})")
    t.add_column("view")
    t.add_column("episodes", justify="right")
    for v in views:
        t.add_row(v.name, str(len(v.episodes)))
    console.print(t)


@curate_app.command()
def report(
    dataset: str = SourceArg,
    view: Optional[str] = typer.Option(None, "--view", "-v", hidden=True, help="Deprecated: use DATASET:VIEW."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="HTML file (default <dataset>/report.html)."),
    thumbs: int = typer.Option(6, help="Thumbnails per episode (0: none)."),
    clusters: Optional[str] = typer.Option(None, help="Show the duplicate clusters of this dedupe view."),
) -> None:
    """Write a self-contained HTML report (DATASET:VIEW marks keep/drop and reasons from that view); marks download as a view JSON."""
    root, view = split_dataset_view(dataset, deprecated(None, view, "--view", "DATASET:VIEW"))
    from teleforge.curation import build_report, load_view

    try:
        dd = load_view(root, clusters) if clusters else None
        path = build_report(root, view, out, thumbs, dedupe=dd)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"wrote {path}")


@curate_app.command()
def apply(
    dataset: str = ViewArg,
    view: Optional[str] = OldViewArg,
    out: Path = typer.Option(..., "--out", "-o", help="New dataset folder to write."),
) -> None:
    """Materialize a view (kept episodes, trimmed) into a new dataset. The source is only read."""
    from teleforge.curation import apply_view, load_view

    root, vname = _need_view(dataset, view)
    try:
        v = load_view(root, vname)
        with _progress(f"apply {v.name}", len(v.episodes)) as adv:
            m = apply_view(root, v, out, on_episode=adv)  # type: ignore[arg-type]
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"wrote {m.episodes} episodes ({m.steps} steps) to {m.root}")


@curate_app.command()
def merge(
    sources: list[Path] = typer.Argument(..., help="Two or more dataset folders with the same setup."),
    out: Path = typer.Option(..., "--out", "-o", help="New dataset folder to write."),
) -> None:
    """Merge datasets recorded with the same robot, cameras and rate into a new dataset."""
    from teleforge.curation import merge_datasets

    try:
        m = merge_datasets(list(sources), out)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"merged {m.episodes} episodes ({m.steps} steps) into {m.root}")


@curate_app.command()
def delete(dataset: Path = DatasetArg, episodes: list[int] = typer.Argument(..., help="Episode ids.")) -> None:
    """Hide episodes from every curation command (shards stay; `restore` undoes it)."""
    dataset = local_dataset(dataset)
    from teleforge.curation import set_deleted

    try:
        set_deleted(dataset, episodes, True)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"deleted {len(episodes)} episode(s); `teleforge curate restore {dataset} …` brings them back")


@curate_app.command()
def restore(dataset: Path = DatasetArg, episodes: list[int] = typer.Argument(..., help="Episode ids.")) -> None:
    """Undo `delete`."""
    dataset = local_dataset(dataset)
    from teleforge.curation import set_deleted

    try:
        set_deleted(dataset, episodes, False)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"restored {len(episodes)} episode(s)")


@curate_app.command()
def relabel(
    dataset: Path = DatasetArg,
    episodes: list[int] = typer.Argument(..., help="Episode ids."),
    outcome: Optional[str] = typer.Option(None, help="success | failure | unknown"),
    instruction: Optional[str] = typer.Option(None, help="New instruction ('' restores the recorded one)."),
) -> None:
    """Override outcome and/or instruction (stored as catalog columns; shards keep the recording)."""
    dataset = local_dataset(dataset)
    from teleforge.curation import relabel as do_relabel

    try:
        do_relabel(dataset, episodes, outcome, instruction)
    except TeleforgeError as exc:
        _fail(exc)
    console.print(f"relabelled {len(episodes)} episode(s)")


@curate_app.command("views")
def views_cmd(dataset: Path = DatasetArg) -> None:
    """List the views of a dataset."""
    dataset = local_dataset(dataset)
    from teleforge.curation import list_views, load_view

    t = Table(title="views")
    for c in ("name", "operation", "parent", "kept", "rejected", "trimmed", "rules hash"):
        t.add_column(c)
    try:
        for n in list_views(dataset):
            v = load_view(dataset, n, check=False)
            t.add_row(v.name, v.operation, v.parent or "-", str(len(v.episodes)), str(len(v.rejected)), str(len(v.trims)), v.rules_hash or "-")
    except TeleforgeError as exc:
        _fail(exc)
    console.print(t)


@curate_app.command("evaluate")
def evaluate_cmd(
    dataset: str = ViewArg,
    view: Optional[str] = OldViewArg,
    label: str = typer.Option("failure", help="Key of the ground-truth label in each episode's labels."),
    as_json: bool = typer.Option(False, "--json", help="Print the scores as one JSON line."),
) -> None:
    """Precision/recall of a filter view per failure kind, against recorded ground-truth labels."""
    import json

    from teleforge.curation import load_view
    from teleforge.curation.evaluate import label_scores

    root, view = _need_view(dataset, view)
    try:
        s = label_scores(root, load_view(root, view), label)
    except TeleforgeError as exc:
        _fail(exc)
    if as_json:
        console.print(json.dumps(s), soft_wrap=True, highlight=False)
        return
    t = Table(title=f"{view}: rejected {s['rejected']} of {s['episodes']} (labelled bad {s['bad']}); "
                    f"precision {s['reject_precision']}, recall {s['reject_recall']}")
    for c in ("kind", "labelled", "recall", "diagnosed", "precision", "diagnosed as"):
        t.add_column(c)
    for k, x in s["per_kind"].items():
        t.add_row(k, str(x["labelled"]), str(x["recall"]), str(x["diagnosed"]), str(x["precision"]),
                  ", ".join(f"{a}={b}" for a, b in x["diagnosed_as"].items()))
    console.print(t)
