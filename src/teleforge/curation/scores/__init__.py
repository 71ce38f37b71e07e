"""Learned quality scores for demonstrations (one module per published method).

- :mod:`.deminf`: mutual-information contribution, KSG k-NN estimator (DemInf-like)
- :mod:`.democore`: rollout-trained success classifier applied to demos (Demo-SCORE-like)
- :mod:`.scizor`: transition-level progress estimator proposing trims (SCIZOR-like)
- ``policy-loss``: the VLA's action loss on each demo (CUPID-like proxy), registered by
  :mod:`teleforge.workflows.policy_loss` (torch lives there, not here)

Papers and deviations: docs/curation-scores.md. Numpy only (no torch, no scipy).
"""

from teleforge.curation.scores.apply import METHODS, SCORES_VERSION, make_method, register_method, score_dataset, score_view
from teleforge.curation.scores.base import ScoreMethod, ScoreResult, score_column
from teleforge.curation.scores.deminf import DemInf
from teleforge.curation.scores.democore import DemoScore
from teleforge.curation.scores.features import StepTable, read_steps
from teleforge.curation.scores.scizor import Scizor

__all__ = ["DemInf", "DemoScore", "METHODS", "SCORES_VERSION", "ScoreMethod", "ScoreResult", "Scizor", "StepTable",
           "make_method", "read_steps", "register_method", "score_column", "score_dataset", "score_view"]
