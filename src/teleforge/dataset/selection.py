"""Which episodes: a dataset (or a curated view) resolved into the episodes to read.

:func:`select` is the one front door every exporter, the trainer and the review
tools use. It applies what curation decided without touching a shard:

- a view's kept ids, in order, and its trims (``[start, stop)`` steps kept);
- curated relabels (catalog ``curated_outcome`` / ``curated_instruction``);
- soft deletes (catalog ``deleted``): hidden unless ids are asked for by name.

The result, :class:`ExportSource`, wraps the dataset in a :class:`ViewDataset`
whose episodes are :class:`ViewEpisode` objects, so code that only knows the Dataset
API reads exactly the selection.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from teleforge.dataset.catalog import CURATED_INSTRUCTION, CURATED_OUTCOME, DELETED
from teleforge.dataset.episode import Episode, EpisodeInfo
from teleforge.dataset.reader import Dataset
from teleforge.dataset.views import load_view, missing_episodes_message
from teleforge.errors import ExportError, MissingEpisodesError, ViewError


class ViewEpisode(Episode):
    """An episode as a view sees it: only the kept step range, with curated relabels applied.

    Every reader method (``column``, ``table``, ``image_bytes``, ``steps``, ``meta``)
    goes through ``_load``, so an exporter that reads an Episode exports only the kept steps.
    """

    def __init__(self, path: Path, spec: Any, episode_id: int, trim: tuple[int, int] | None = None,
                 relabel: dict[str, str] | None = None) -> None:
        super().__init__(path, spec, episode_id)
        self.trim = trim
        self.relabel = relabel or {}
        self._viewed = False

    def _load(self) -> pa.Table:
        if self._viewed:
            assert self._table is not None
            return self._table
        table = super()._load()
        meta = self._meta
        assert meta is not None
        if self.trim is not None:
            a, b = self.trim
            n = table.num_rows
            if not 0 <= a < b <= n:
                raise ExportError(f"trim {a}..{b} of episode {self.episode_id} is outside its 0..{n} steps; make the view again")
            # take() copies into offset-free arrays: fixed-size-list .values of a slice would ignore the offset.
            table = table.take(pa.array(np.arange(a, b, dtype=np.int64)))
            ticks = table.column("tick_ns").to_pylist()
            fps = float(self.spec.fps or 0)
            meta.duration_s = (ticks[-1] - ticks[0]) / 1e9 + (1.0 / fps if fps else 0.0)
            meta.num_steps = table.num_rows
            meta.extras = {**(meta.extras or {}), "trim": [a, b], "source_num_steps": n}
        for k, v in self.relabel.items():
            setattr(meta, k, v)
        self._table = table
        self._viewed = True
        return table


class ViewDataset(Dataset):
    """A dataset seen through a selection: ``episode()`` returns :class:`ViewEpisode`s (trimmed,
    relabelled) and ``episodes`` reports the trimmed step counts, so exporters that only know
    the Dataset API still export exactly the view."""

    def __init__(self, base: Dataset, trims: dict[int, tuple[int, int]] | None = None,
                 relabels: dict[int, dict[str, str]] | None = None) -> None:
        super().__init__(base.root, base.manifest, base.spec)
        self.trims = dict(trims or {})
        self.relabels = dict(relabels or {})

    @property
    def episodes(self) -> list[EpisodeInfo]:
        out = []
        for info in super().episodes:
            if info.episode_id in self.trims:
                a, b = self.trims[info.episode_id]
                info.duration_s = float(info.duration_s or 0.0) * (b - a) / max(1, int(info.num_steps or 1))
                info.num_steps = b - a
                info.extras = {**(info.extras or {}), "trim": [a, b]}
            for k, v in self.relabels.get(info.episode_id, {}).items():
                setattr(info, k, v)
            out.append(info)
        return out

    def episode(self, episode_id: int) -> Episode:
        ep = super().episode(episode_id)
        eid = int(episode_id)
        return ViewEpisode(ep.path, self.spec, eid, self.trims.get(eid), self.relabels.get(eid))


@dataclass
class ExportSource:
    """The episodes an export reads: a whole dataset, a list of ids, or a curated view.

    ``trims`` maps an episode id to the ``[start, stop)`` steps kept (absent: every step).
    ``dataset`` is wrapped in a :class:`ViewDataset`, so ``source.dataset.episode(i)`` (or
    ``source.episode(i)``) yields only the kept steps; exporters derive is_first/is_last,
    timestamps and frame indices from that trimmed range.
    """

    dataset: Dataset
    episode_ids: list[int]
    view: str | None = None
    view_info: dict[str, Any] = field(default_factory=dict)  # the view file: rules, rejected, hash, trims
    trims: dict[int, tuple[int, int]] = field(default_factory=dict)
    relabels: dict[int, dict[str, str]] = field(default_factory=dict)  # id -> {"instruction"|"outcome": value}

    def __post_init__(self) -> None:
        self.episode_ids = [int(i) for i in self.episode_ids]
        self.trims = {int(k): (int(v[0]), int(v[1])) for k, v in self.trims.items()}
        if not isinstance(self.dataset, ViewDataset):
            self.dataset = ViewDataset(self.dataset, self.trims, self.relabels)

    def episode(self, episode_id: int) -> Episode:
        """The episode's kept steps (trimmed, relabelled)."""
        return self.dataset.episode(episode_id)

    def step_range(self, episode_id: int) -> tuple[int, int]:
        """``[start, stop)`` of the source episode's steps that are exported."""
        if episode_id in self.trims:
            return self.trims[episode_id]
        return 0, self._catalog_steps()[episode_id]

    def num_steps(self, episode_id: int) -> int:
        """Steps of the episode that are exported (its kept range)."""
        a, b = self.step_range(episode_id)
        return b - a

    @property
    def total_steps(self) -> int:
        """Steps of every selected episode, kept ranges only."""
        return sum(self.num_steps(i) for i in self.episode_ids)

    def _catalog_steps(self) -> dict[int, int]:
        cat = self.dataset.catalog
        return dict(zip((int(i) for i in cat.column("episode_id").to_pylist()), (int(n) for n in cat.column("num_steps").to_pylist())))

    def to_state(self) -> dict[str, Any]:
        """What a worker process needs to rebuild this source (picklable, small)."""
        return {"root": str(self.dataset.root), "episode_ids": list(self.episode_ids), "view": self.view,
                "trims": {i: self.trims[i] for i in self.episode_ids if i in self.trims},
                "relabels": {i: self.relabels[i] for i in self.episode_ids if i in self.relabels}}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> ExportSource:
        """The inverse of :meth:`to_state` (reopens the dataset)."""
        return cls(Dataset.open(state["root"]), list(state["episode_ids"]), state.get("view"), {},
                   dict(state.get("trims") or {}), dict(state.get("relabels") or {}))


def _catalog_edits(ds: Dataset) -> tuple[dict[int, dict[str, str]], set[int]]:
    """Curated relabels (outcome / instruction overrides) and soft-deleted ids from the catalog."""
    cat = ds.catalog
    names = set(cat.column_names)
    ids = [int(i) for i in cat.column("episode_id").to_pylist()] if cat.num_rows else []
    relabels: dict[int, dict[str, str]] = {}
    for col, key in ((CURATED_OUTCOME, "outcome"), (CURATED_INSTRUCTION, "instruction")):
        if col in names:
            for i, v in zip(ids, cat.column(col).to_pylist()):
                if v:
                    relabels.setdefault(i, {})[key] = str(v)
    deleted = {i for i, v in zip(ids, cat.column(DELETED).to_pylist()) if v} if DELETED in names else set()
    return relabels, deleted


def select(dataset: Dataset | Path | str, episodes: Sequence[int] | None = None, view: str | None = None) -> ExportSource:
    """Resolve what to export: every live episode, a list of ids, or a curated view
    (``views/NAME.json`` or a view file: its kept ids, in order, and its trims; views made
    from other views already carry the composed selection). ``episodes`` narrows a view.

    A view or id naming episodes the dataset lacks is refused, naming them.
    """
    ds = dataset if isinstance(dataset, Dataset) else Dataset.open(dataset)
    if isinstance(ds, ViewDataset):
        ds = Dataset(ds.root, ds.manifest, ds.spec)
    have = set(ds.episode_ids)
    relabels, deleted = _catalog_edits(ds)
    info: dict[str, Any] = {}
    trims: dict[int, tuple[int, int]] = {}
    name = None
    if view is not None:
        try:
            v = load_view(ds.root, view, check=False)
        except ViewError as exc:
            raise ExportError(f"cannot export view {view!r}: {exc}") from None
        gone = sorted(set(v.episodes) - have)
        if gone:
            raise MissingEpisodesError(missing_episodes_message(v.name, ds.root, gone))
        name = v.name
        info = v.to_dict()
        ids = list(v.episodes)
        kept = set(ids)
        trims = {i: t for i, t in v.trims.items() if i in kept}
        if episodes is not None:
            want = [int(i) for i in episodes]
            outside = sorted(set(want) - set(ids))
            if outside:
                raise ExportError(f"episodes {outside} are not in view {v.name!r}; drop them from --episodes or use another view")
            wanted = set(want)
            ids = [i for i in ids if i in wanted]
    else:
        ids = [i for i in ds.episode_ids if i not in deleted] if episodes is None else [int(i) for i in episodes]
    missing = [i for i in ids if i not in have]
    if missing:
        raise MissingEpisodesError(
            f"episodes {missing[:10]} are not in {ds.root} (it has {len(have)} episodes); fix the selection, "
            f"or run `teleforge recover {ds.root}` if their shards exist but the catalog lost them"
        )
    dup = sorted(i for i, k in Counter(ids).items() if k > 1)  # linear: 100k-episode selections stay fast
    if dup:
        raise ExportError(f"episodes {dup} are selected twice; each episode can be exported once")
    if not ids:
        raise ExportError(f"nothing to export: no episodes selected from {ds.root}")
    return ExportSource(ds, ids, name, info, trims, relabels)
