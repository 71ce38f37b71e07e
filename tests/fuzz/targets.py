"""What the fuzz runner does with a mutated seed, and how it judges an accepted result.

Each target reads the mutated copy the way a user would (the reader, the importer, or the
CLI command in-process) and returns nothing; an accepted result is then checked by an
oracle that raises :class:`Wrong` ("silently wrong") or :class:`Undetected` (finite values
that differ from the seed: only a checksum can catch those).

"Valid" per case: a native dataset whose manifest agrees with the seed's (rate, joints,
cameras), whose episodes all read with finite numbers, outcomes from the enum, step counts
that match the catalog, frames that decode to the declared size, and whose view selection
stays inside the dataset; an import whose result is such a dataset with safe camera names;
an HF export that loads with the seed's row count.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

OUTCOMES = ("success", "failure", "unknown")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class Wrong(AssertionError):
    """An accepted input produced a value the schema forbids (silently wrong)."""


class Undetected(AssertionError):
    """An accepted input produced finite values that differ from the seed (needs a checksum)."""


def _finite(x: Any) -> bool:
    try:
        return bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64))))
    except (TypeError, ValueError):
        return False


def check_dataset(root: Path, reference: dict[str, Any] | None = None, *, import_result: bool = False) -> dict[str, Any]:
    """Read every episode of the native dataset at ``root`` and check it; returns a summary.

    ``reference``: the summary of the unmutated seed (values must match it exactly)."""
    from teleforge.dataset.reader import Dataset
    from teleforge.spec import NATIVE_COLUMN_NAMES

    ds = Dataset.open(root)
    spec = ds.spec
    if not (math.isfinite(spec.fps) and spec.fps > 0):
        raise Wrong(f"fps {spec.fps} accepted")
    if spec.n_joints <= 0:
        raise Wrong(f"n_joints {spec.n_joints} accepted")
    for c in spec.cameras:
        if import_result and not _SAFE_NAME.match(c.name):
            raise Wrong(f"camera name {c.name!r} accepted")
        if not (0 < c.height <= 8192 and 0 < c.width <= 8192):
            raise Wrong(f"camera {c.name} size {c.height}x{c.width} accepted")
    summary: dict[str, Any] = {
        "spec": (spec.fps, spec.n_joints, [(c.name, c.height, c.width, c.encoding) for c in spec.cameras]),
        "episodes": {},
    }
    for info in ds.episodes:
        if info.outcome not in OUTCOMES:
            raise Wrong(f"catalog outcome {info.outcome!r} accepted")
        if info.num_steps < 0 or not math.isfinite(info.duration_s) or info.duration_s < 0:
            raise Wrong(f"catalog num_steps {info.num_steps} / duration {info.duration_s} accepted")
        ep = ds.episode(info.episode_id)
        meta = ep.meta
        if meta.outcome not in OUTCOMES:
            raise Wrong(f"shard outcome {meta.outcome!r} accepted")
        if meta.num_steps != ep.num_steps or info.num_steps != ep.num_steps:
            raise Wrong(f"episode {info.episode_id}: catalog {info.num_steps}, end record {meta.num_steps}, rows {ep.num_steps}")
        if not Path(root, info.file).resolve().is_relative_to(Path(root).resolve()):
            raise Wrong(f"catalog file {info.file!r} outside the dataset was opened")
        cols = {name: np.asarray(ep.column(name), np.float64) for name in NATIVE_COLUMN_NAMES}
        for name, v in cols.items():
            # A recording may hold NaN (curation flags it); an import must not bring any in.
            if import_result and not _finite(v):
                raise Wrong(f"episode {info.episode_id}: non-finite {name} accepted")
        frames = []
        for cam in spec.cameras:
            for img in ep.images(cam.name):
                if img.shape != (cam.height, cam.width, 3) or img.dtype != np.uint8:
                    raise Wrong(f"episode {info.episode_id}: {cam.name} frame {img.shape} {img.dtype}")
                frames.append(img)
        summary["episodes"][info.episode_id] = {
            "outcome": meta.outcome, "steps": ep.num_steps,
            "cols": {k: v.tolist() for k, v in cols.items()},
            "frames": [f.tobytes() for f in frames],
        }
    if reference is not None:
        if summary["spec"] != reference["spec"]:
            raise Wrong(f"spec {summary['spec']} accepted, the shards were recorded with {reference['spec']}")
        for eid, got in summary["episodes"].items():
            want = reference["episodes"].get(eid)
            if want is None:
                raise Wrong(f"episode {eid} appeared")
            if got["steps"] != want["steps"]:
                raise Wrong(f"episode {eid}: {got['steps']} steps accepted, seed has {want['steps']}")
            if got["cols"] != want["cols"] or got["frames"] != want["frames"]:
                raise Undetected(f"episode {eid}: step data differs from the seed")
    return summary


def check_views(root: Path) -> None:
    """Every view resolves to episodes the dataset holds, with trims inside each episode."""
    from teleforge.dataset.selection import select
    from teleforge.dataset.views import list_views

    for name in list_views(root):
        src = select(root, view=name)
        steps = {i: src.dataset.episode(i).num_steps for i in src.episode_ids}
        for i, (a, b) in src.trims.items():
            if not (0 <= a < b) or steps.get(i, 0) != b - a:
                raise Wrong(f"view {name}: trim {a}..{b} of episode {i} accepted")


# --- targets -------------------------------------------------------------------------------
def run_native(src: Path, reference: dict[str, Any], out: Path, cli: bool) -> None:
    check_dataset(src, reference)
    check_views(src)
    run_curation(src)
    if cli:
        run_cli(["info", str(src)])


def run_curation(root: Path) -> None:
    """Metrics (image health on every frame) and the learned scores on a dataset that read back valid:
    typed errors or finite values in the catalog."""
    from teleforge.curation import MetricsConfig, compute_metrics
    from teleforge.curation.scores import score_dataset
    from teleforge.errors import CurationError

    compute_metrics(root, MetricsConfig(images=True, image_stride=1), force=True)
    for method in ("scizor", "democore", "deminf"):
        try:
            res = score_dataset(root, method)
        except CurationError:  # e.g. democore on episodes that all share one outcome: said, typed
            continue
        if not res.scores or not all(_finite(v) for v in res.scores.values()):
            raise Wrong(f"{method} scores {res.scores} accepted")


def run_cli(args: list[str]) -> None:
    """A CLI command in-process: a clean exit or a one-line error is fine, a traceback is not."""
    from typer.testing import CliRunner

    from teleforge.cli.main import app
    from teleforge.errors import TeleforgeError

    res = CliRunner().invoke(app, args, catch_exceptions=True)
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        if isinstance(res.exception, TeleforgeError):
            raise res.exception
        raise res.exception
    if res.exit_code not in (0, 1, 2):
        raise Wrong(f"teleforge {' '.join(args)} exited {res.exit_code}")
    if res.exit_code != 0 and "Traceback" in res.output:
        raise Wrong(f"teleforge {' '.join(args)} printed a traceback")


def run_import(kind: str, src: Path, out: Path) -> None:
    if kind == "rlds":
        from teleforge.convert.rlds.importer import import_rlds

        import_rlds(src, out)
    elif kind == "lerobot":
        from teleforge.convert.lerobot.importer import import_lerobot

        import_lerobot(src, out)
    elif kind == "robomimic":
        from teleforge.convert.hdf5.robomimic import import_robomimic

        import_robomimic(src / "demo.hdf5", out)
    elif kind == "aloha":
        from teleforge.convert.hdf5.aloha import import_aloha

        import_aloha(src, out)
    else:
        raise ValueError(kind)
    check_dataset(out, import_result=True)


def run_hf(src: Path, rows: int) -> None:
    from teleforge.convert.hf.export import load_hf

    ds = load_hf(src)
    if len(ds) != rows:
        raise Wrong(f"HF export loaded with {len(ds)} rows, the seed has {rows}")
    for name in ("action",):
        if not _finite(np.asarray(ds[name], np.float64)):
            raise Wrong(f"HF export: non-finite {name} accepted")
