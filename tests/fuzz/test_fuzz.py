"""The fuzz harness as tests: a fixed-seed subset in the default suite, a larger sweep marked slow.

Every case must end as a typed teleforge error or an accepted, valid result: no traceback,
no hang, no crash, no silently wrong value (see tests/fuzz/targets.py for "valid").
``undetected`` (a bit flip inside a shard's step data that reads back as other finite
numbers) is reported but not failed here: only shard checksums can catch it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzz.runner import FAILURES, run, summarize

DEFAULT_CASES = 400
SWEEP_CASES = 2000


def _assert_clean(summary: dict) -> None:
    shown = "\n".join(json.dumps(f)[:400] for f in summary["failing"][:20])
    assert summary["failures"] == 0, f"{summary['counts']}\n{shown}"


def test_fuzz_subset_gives_typed_errors_or_valid_results(tmp_path_factory: pytest.TempPathFactory) -> None:
    summary = summarize(run(DEFAULT_CASES, rng_seed=0, seeds_dir=tmp_path_factory.mktemp("seeds")))
    _assert_clean(summary)
    assert summary["cases"] == DEFAULT_CASES
    assert set(summary["per_seed"]) == {"native", "rlds", "lerobot", "hf", "robomimic", "aloha"}


@pytest.mark.slow
def test_fuzz_sweep_gives_typed_errors_or_valid_results(tmp_path_factory: pytest.TempPathFactory) -> None:
    summary = summarize(run(SWEEP_CASES, rng_seed=1, seeds_dir=tmp_path_factory.mktemp("seeds")))
    print(json.dumps({k: summary[k] for k in ("cases", "counts", "failures", "per_seed")}))
    _assert_clean(summary)
    assert not set(summary["counts"]) & set(FAILURES)


def test_runner_reports_a_hang_and_a_crash(tmp_path: Path, seeds: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The parent's deadline and crash detection work (a worker that never answers, one that dies)."""
    from tests.fuzz import runner

    class Sleeper(runner._Worker):
        def __init__(self, argv: list[str]) -> None:
            import subprocess
            import sys

            self.proc = subprocess.Popen([sys.executable, "-c", argv[0]], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True, bufsize=1)

    case = {"id": 0, "seed": "native", "file": "teleforge.json", "op": "bin.empty", "arg": 0}
    w = Sleeper(["import time; time.sleep(60)"])
    assert w.run(case, 0.5)["outcome"] == "hang"
    w = Sleeper(["import os; os._exit(3)"])
    assert w.run(case, 10)["outcome"] == "crash"
