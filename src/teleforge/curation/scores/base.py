"""What every learned quality score returns, and the protocol a method implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from teleforge.curation.scores.features import StepTable


@dataclass
class ScoreResult:
    """One method's per-episode scores: higher is better quality, comparable within one dataset only."""

    method: str
    scores: dict[int, float]  # episode id -> score
    columns: dict[int, dict[str, Any]] = field(default_factory=dict)  # extra catalog columns per episode
    trims: dict[int, tuple[int, int]] = field(default_factory=dict)  # proposed [start, stop) step ranges
    params: dict[str, Any] = field(default_factory=dict)
    step_values: dict[int, Any] = field(default_factory=dict)  # episode id -> (T,) per-step values, where the method has them
    steps: int = 0
    seconds: float = 0.0

    @property
    def column(self) -> str:
        return score_column(self.method)


def score_column(method: str) -> str:
    """The catalog column a method's score lands in, e.g. ``score_deminf``."""
    return f"score_{method.replace('-', '_')}"


class ScoreMethod(Protocol):
    """A learned quality score: per-episode scores from the steps of a dataset (and maybe rollouts)."""

    name: str

    def score(self, steps: StepTable, rollouts: StepTable | None = None) -> ScoreResult:
        """Score every episode of ``steps``; ``rollouts`` (policy rollouts with outcomes) when the method uses them."""
        ...
