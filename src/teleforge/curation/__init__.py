"""Curation: per-episode metrics, rules with reasons, trims, dedupe, outliers, views, review reports, splits.

Curation never rewrites shards: metrics and edits are catalog columns, selections are
views (``views/<name>.json``, :mod:`teleforge.dataset.views`), and ``apply_view``
materializes a view into a new dataset. The operations that make views are in
:mod:`teleforge.curation.operations`.
Needs only numpy, pyarrow and OpenCV (no mujoco, torch or pygame).
"""

from teleforge.curation.dedupe import (
    DedupeConfig,
    DedupeResult,
    find_duplicates,
    near_duplicates,
    signature,
)
from teleforge.curation.evaluate import label_scores
from teleforge.curation.materialize import Materialized, apply_view, merge_datasets
from teleforge.curation.metrics import (
    IMAGE_METRICS,
    METRICS,
    METRICS_VERSION,
    MetricsConfig,
    motion_metrics,
)
from teleforge.curation.operations import (
    Candidates,
    add_outlier_scores,
    candidates,
    dedupe_view,
    diagnosis,
    filter_view,
    relabel,
    set_deleted,
    split_views,
    trim_view,
)
from teleforge.curation.report import build_report
from teleforge.curation.rules import (
    Rule,
    RuleSet,
    TrimConfig,
    default_rules,
    load_rules,
    rules_from_dict,
)
from teleforge.curation.store import MetricsRun, compute_metrics, effective_rows
from teleforge.dataset.views import (  # views live in dataset; re-exported for curation users
    View,
    list_views,
    load_view,
    save_view,
)

__all__ = [
    "IMAGE_METRICS",
    "METRICS",
    "METRICS_VERSION",
    "Candidates",
    "DedupeConfig",
    "DedupeResult",
    "Materialized",
    "MetricsConfig",
    "MetricsRun",
    "Rule",
    "RuleSet",
    "TrimConfig",
    "View",
    "add_outlier_scores",
    "apply_view",
    "build_report",
    "candidates",
    "compute_metrics",
    "dedupe_view",
    "default_rules",
    "diagnosis",
    "effective_rows",
    "filter_view",
    "find_duplicates",
    "label_scores",
    "list_views",
    "load_rules",
    "load_view",
    "merge_datasets",
    "motion_metrics",
    "near_duplicates",
    "relabel",
    "rules_from_dict",
    "save_view",
    "set_deleted",
    "signature",
    "split_views",
    "trim_view",
]
