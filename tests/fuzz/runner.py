"""Fuzz runner: mutate seeds, run the matching reader / importer / CLI command, classify.

The cases run in a worker subprocess (in-process calls there, one case at a time); the
parent gives each case a deadline, so a hang is killed and reported, and a crash of the
interpreter (segfault, MemoryError abort) is reported instead of taking the run down.

Outcomes: ``error`` (typed teleforge error naming the file: OK), ``error-unnamed`` (typed,
but the message does not name the file: OK, listed), ``valid`` (accepted, oracle passed: OK),
``undetected`` (accepted, finite values differ from the seed: needs a checksum),
``traceback``, ``wrong``, ``hang``, ``crash`` (FAIL), ``skip`` (mutation not applicable).

    python -m tests.fuzz.runner -n 1500 --seed 0 [--json out.json] [--timeout 60]
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FAILURES = ("traceback", "wrong", "hang", "crash")
HF_ROWS = 12


# --- worker ------------------------------------------------------------------------------
def _prepare(case: dict[str, Any], seeds: dict[str, Path], work: Path) -> tuple[Path, Path]:
    from tests.fuzz.mutate import apply

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    seed = seeds[case["seed"]]
    src = work / "src"
    shutil.copytree(seed if seed.is_dir() else seed.parent, src)
    apply(case, src, work / "outside")
    return src, work / "out"


def run_case(case: dict[str, Any], seeds: dict[str, Path], work: Path, reference: dict[str, Any]) -> dict[str, Any]:
    """Run one case in this process and classify it."""
    from teleforge.errors import TeleforgeError
    from tests.fuzz import targets

    try:
        src, out = _prepare(case, seeds, work)
    except Exception as exc:  # noqa: BLE001 - a mutation that does not apply to this file
        return {"outcome": "skip", "detail": f"{type(exc).__name__}: {exc}"[:300]}
    kind = case["seed"]
    try:
        if kind == "native":
            targets.run_native(src, reference, out, cli=case["id"] % 4 == 0)
        elif kind == "hf":
            targets.run_hf(src, HF_ROWS)
        elif kind == "rlds":
            targets.run_import(kind, src / "teleforge_dataset", out)
        else:
            targets.run_import(kind, src, out)
    except targets.Wrong as exc:
        return {"outcome": "wrong", "detail": str(exc)[:500]}
    except targets.Undetected as exc:
        return {"outcome": "undetected", "detail": str(exc)[:300]}
    except TeleforgeError as exc:
        msg = str(exc)
        name = Path(case["file"]).name
        named = name in msg or Path(case["file"]).parent.name in msg
        return {"outcome": "error" if named else "error-unnamed", "detail": f"{type(exc).__name__}: {msg}"[:400]}
    except BaseException as exc:  # noqa: BLE001 - anything else is a traceback the user would see
        tb = traceback.extract_tb(exc.__traceback__)
        where = [f"{Path(f.filename).name}:{f.lineno}" for f in tb if "teleforge" in f.filename][-3:]
        return {"outcome": "traceback", "detail": f"{type(exc).__name__}: {str(exc)[:300]} at {' < '.join(reversed(where))}"}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"outcome": "valid", "detail": ""}


def worker(seeds_dir: Path) -> None:
    """Read case dicts (one JSON line each) on stdin, answer one JSON line each on stdout."""
    import logging
    import warnings

    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    from tests.fuzz.seeds import build_seeds
    from tests.fuzz.targets import check_dataset

    seeds = build_seeds(seeds_dir)
    reference = check_dataset(seeds["native"])
    out = sys.stdout
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    out.write("ready\n")
    out.flush()
    work = Path(tempfile.mkdtemp(prefix="tf-fuzz-"))
    for line in sys.stdin:
        case = json.loads(line)
        res = run_case(case, seeds, work / f"c{case['id']}", reference)
        out.write(json.dumps({"id": case["id"], **res}) + "\n")
        out.flush()
    shutil.rmtree(work, ignore_errors=True)


# --- parent ------------------------------------------------------------------------------
class _Worker:
    def __init__(self, seeds_dir: Path) -> None:
        env = dict(os.environ)
        # The worker must import this tree's teleforge, not another checkout's editable install.
        env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), str(REPO), env.get("PYTHONPATH", "")])
        env.setdefault("MUJOCO_GL", "egl")
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.fuzz.runner", "--worker", "--seeds", str(seeds_dir)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     cwd=REPO, env=env, text=True, bufsize=1)
        line = self._readline(300.0)
        if line != "ready":
            raise RuntimeError(f"fuzz worker did not start ({line!r})")

    def _readline(self, timeout: float) -> str | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return line.strip() if line else ""

    def run(self, case: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return {"id": case["id"], "outcome": "crash", "detail": f"worker gone (rc {self.proc.poll()})"}
        line = self._readline(timeout)
        if line is None:
            self.kill()
            return {"id": case["id"], "outcome": "hang", "detail": f"no answer in {timeout:g} s"}
        if not line:
            rc = self.proc.wait()
            return {"id": case["id"], "outcome": "crash", "detail": f"worker died (rc {rc})"}
        return json.loads(line)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        if self.alive():
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def run(n: int, rng_seed: int = 0, timeout: float = 60.0, seeds_dir: Path | None = None,
        progress: bool = False) -> list[dict[str, Any]]:
    """Build seeds, sample ``n`` cases and run them; returns one result dict per case."""
    from tests.fuzz.mutate import enumerate_cases, sample
    from tests.fuzz.seeds import build_seeds

    seeds_dir = seeds_dir or Path(tempfile.gettempdir()) / f"teleforge-fuzz-seeds-{os.getuid()}"
    seeds = build_seeds(seeds_dir)
    cases = sample(enumerate_cases(seeds, rng_seed), n, rng_seed)
    results: list[dict[str, Any]] = []
    w = _Worker(seeds_dir)
    try:
        for k, case in enumerate(cases):
            if not w.alive():
                w = _Worker(seeds_dir)
            res = w.run(case, timeout)
            results.append({**case, **res})
            if progress and k % 50 == 0:
                print(f"{k}/{len(cases)} {dict(Counter(r['outcome'] for r in results))}", file=sys.stderr, flush=True)
    finally:
        w.close()
    return results


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts per outcome, per seed, and the failing cases (seed, file, op, arg, detail)."""
    counts = Counter(r["outcome"] for r in results)
    per_seed: dict[str, Counter[str]] = {}
    for r in results:
        per_seed.setdefault(r["seed"], Counter())[r["outcome"]] += 1
    fails = [{k: r[k] for k in ("id", "seed", "file", "op", "arg", "outcome", "detail")}
             for r in results if r["outcome"] in FAILURES]
    return {"cases": len(results), "counts": dict(counts), "failures": sum(counts[o] for o in FAILURES),
            "per_seed": {k: dict(v) for k, v in per_seed.items()}, "failing": fails}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--seeds", type=Path)
    ap.add_argument("--worker", action="store_true")
    a = ap.parse_args()
    if a.worker:
        worker(a.seeds)
        return
    t0 = time.monotonic()
    results = run(a.n, a.seed, a.timeout, a.seeds, progress=True)
    summary = summarize(results)
    summary["wall_s"] = round(time.monotonic() - t0, 1)
    if a.json:
        a.json.write_text(json.dumps({"summary": summary, "results": results}, indent=1, default=str))
    for f in summary["failing"]:
        print(f"{f['outcome']:9} {f['seed']}/{f['file']} {f['op']} {json.dumps(f['arg'])[:80]}\n          {f['detail'][:300]}")
    print(json.dumps({k: summary[k] for k in ("cases", "counts", "failures", "per_seed", "wall_s")}))


if __name__ == "__main__":
    main()
