"""Curation's dataset-wide jobs on the engine in force (``teleforge.dataset.engine``).

Each job reads one episode shard (staged from object storage when the dataset is remote)
and returns plain values; results come back in job order, so the local and Ray engines
give identical metrics and views.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from teleforge.curation.dedupe import SIGNATURE_POINTS, signature
from teleforge.dataset.engine import current_engine
from teleforge.dataset.fs import remote_of, stage_dataset
from teleforge.dataset.shard import open_shard

__all__ = ["SignatureJob", "shard_signatures"]


@dataclass(frozen=True)
class SignatureJob:
    """One episode's dedupe signature: the dataset (folder or URI) and the shard's catalog path."""

    location: str
    file: str


def _signature(job: SignatureJob) -> np.ndarray:
    root = stage_dataset(job.location, [job.file])
    return signature(open_shard(Path(root) / job.file)[0])


def shard_signatures(location: str | Path, files: list[str]) -> np.ndarray:
    """Dedupe signatures of ``files`` (catalog paths) as an (N, D) float array, in that order."""
    if not files:
        return np.zeros((0, SIGNATURE_POINTS * 4))
    # A staged copy of a remote dataset: jobs name the URI, so a job on any Ray node fetches its own shard.
    where = remote_of(location) or str(location)
    jobs = [SignatureJob(where, f) for f in files]
    return np.stack(current_engine().map(_signature, jobs))
