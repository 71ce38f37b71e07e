"""A command that reads the catalog exits cleanly.

``pq.read_table`` goes through ``pyarrow.dataset``, whose thread pool aborted the
interpreter at exit in about one run in four ("terminate called without an active
exception", rc 134) under pyarrow 26: a ``curate metrics`` that had done its work still
failed. The catalog and every parquet file are read with ``ParquetFile`` instead; this
checks that the reading path never loads ``pyarrow.dataset`` (a deterministic stand-in
for the racy abort), and that repeated runs exit 0.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.curation.synth import EpisodePlan, make_dataset, make_spec

SCRIPT = """
import sys
from teleforge.curation import MetricsConfig, compute_metrics
from teleforge.dataset import Dataset
ds = Dataset.open(sys.argv[1])
[ds.episode(e) for e in ds.episode_ids]
compute_metrics(sys.argv[1], MetricsConfig(images=False))
bad = sorted(m for m in ("pyarrow._dataset", "pyarrow.dataset") if m in sys.modules)
print(",".join(bad))
"""


def test_catalog_readers_never_load_pyarrow_dataset_and_exit_zero(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    make_dataset(root, [EpisodePlan(seed=i, steps=20) for i in range(4)], make_spec(("front",), size=16))
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", SCRIPT, str(root)], capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "", f"pyarrow.dataset was loaded: {out.stdout.strip()}"
