"""Reading a native dataset: the folder, its catalog and sessions, and lookup of its episodes.

One episode's metadata and shard (steps, lazily decoded images) are :mod:`.episode`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from teleforge.dataset.catalog import read_catalog, shard_path
from teleforge.dataset.checks import check_catalog, check_manifest
from teleforge.dataset.episode import Episode, EpisodeInfo
from teleforge.dataset.hf import to_hf_dataset
from teleforge.dataset.layout import (
    EPISODES,
    MANIFEST,
    PARTIAL_SUFFIX,
    SessionRecord,
    read_manifest,
    read_sessions,
    shard_name,
)
from teleforge.dataset.schema import DatasetSpec
from teleforge.errors import DatasetError, EpisodeNotFoundError


class Dataset:
    """A native teleforge dataset folder (see DESIGN.md §4)."""

    def __init__(self, root: Path, manifest: dict[str, Any], spec: DatasetSpec, verify: bool = False) -> None:
        self.root = root
        self.verify = verify
        self.manifest = manifest
        self.spec = spec
        self._catalog: pa.Table | None = None
        self._catalog_stamp: tuple[int, int] | None = None
        self._files: dict[int, tuple[str, int]] | None = None  # episode id -> (shard file, steps), built once per catalog read

    @classmethod
    def open(cls, path: Path | str, verify: bool = False) -> Dataset:
        """Open the dataset folder at ``path`` (checks teleforge.json and its format version).

        ``verify=True``: every episode checks its shard's batch checksums when first read
        (CorruptShardError names the shard and batch).
        """
        root = Path(path)
        manifest, spec = read_manifest(root)
        check_manifest(manifest, spec, root / MANIFEST)
        return cls(root, manifest, spec, verify)

    @property
    def format_version(self) -> str:
        """The format version teleforge.json was written with, e.g. '1.1'."""
        return str(self.manifest.get("format_version"))

    @property
    def catalog(self) -> pa.Table:
        """catalog.parquet as an Arrow table (re-read when it changes on disk)."""
        p = self.root / "catalog.parquet"
        try:
            st = p.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = (0, 0)
        if self._catalog is None or stamp != self._catalog_stamp:
            try:
                table = read_catalog(self.root)
            except (pa.ArrowException, OSError) as exc:
                raise DatasetError(f"{p} is unreadable ({exc}); rebuild it from the shards with "
                                   f"`teleforge recover {self.root}`") from exc
            self._catalog = check_catalog(table, self.root)
            self._catalog_stamp = stamp
            self._files = None
        return self._catalog

    def _file_index(self) -> dict[int, tuple[str, int]]:
        """{episode id: (shard file, num_steps)} of the current catalog: O(1) lookups, rebuilt when it changes."""
        catalog = self.catalog
        if self._files is None:
            self._files = dict(zip(catalog.column("episode_id").to_pylist(),
                                   zip(catalog.column("file").to_pylist(), catalog.column("num_steps").to_pylist())))
        return self._files

    @property
    def episodes(self) -> list[EpisodeInfo]:
        """Every catalog row as an EpisodeInfo, in catalog order."""
        return [EpisodeInfo.from_row(r) for r in self.catalog.to_pylist()]

    @property
    def episode_ids(self) -> list[int]:
        """Episode ids in catalog order."""
        return [int(i) for i in self.catalog.column("episode_id").to_pylist()]

    @property
    def sessions(self) -> list[SessionRecord]:
        """The collection sessions recorded in ``sessions/``."""
        return read_sessions(self.root)

    @property
    def partials(self) -> list[Path]:
        """Shards left unfinished (recording now, or by a crash): `teleforge recover` salvages them."""
        return sorted((self.root / EPISODES).glob("*" + PARTIAL_SUFFIX))

    def filter(
        self,
        task: str | Iterable[str] | None = None,
        outcome: str | Iterable[str] | None = None,
        session: str | Iterable[str] | None = None,
        recovered: bool | None = None,
    ) -> list[EpisodeInfo]:
        """Catalog rows matching every given criterion (a string or a collection of accepted values)."""

        def ok(value: str, want: str | Iterable[str] | None) -> bool:
            if want is None:
                return True
            return value == want if isinstance(want, str) else value in set(want)

        return [
            e
            for e in self.episodes
            if ok(e.task, task) and ok(e.outcome, outcome) and ok(e.session_id, session)
            and (recovered is None or e.recovered == recovered)
        ]

    def episode(self, episode_id: int) -> Episode:
        """The episode with this id (a dict lookup in the catalog; a stale catalog falls back to the shard)."""
        entry = self._file_index().get(int(episode_id))
        if entry is not None:
            file, steps = entry  # file is confined to episodes/ by check_catalog
            return Episode(shard_path(self.root, file), self.spec, episode_id, int(steps), self.verify)
        path = self.root / EPISODES / shard_name(int(episode_id))
        if path.is_file():  # finalized but not in a stale catalog
            return Episode(path, self.spec, int(episode_id), verify=self.verify)
        hint = ""
        if (self.root / EPISODES / shard_name(int(episode_id), partial=True)).exists():
            hint = f" It is still a .partial shard: run `teleforge recover {self.root}` if its recording crashed."
        ids = list(self._file_index())
        have = f"{min(ids)}..{max(ids)}" if ids else "none"
        raise EpisodeNotFoundError(f"episode {episode_id} is not in {self.root} (episode ids: {have}).{hint}")

    def __getitem__(self, key: int | tuple[int, int]) -> Any:
        """``ds[episode_id]`` -> Episode; ``ds[(episode_id, step)]`` -> that step's dict."""
        if isinstance(key, tuple):
            ep_id, step = key
            return self.episode(int(ep_id)).step(int(step))
        return self.episode(int(key))

    def __len__(self) -> int:
        return int(self.catalog.num_rows)

    def __iter__(self) -> Iterator[Episode]:
        for i in self.episode_ids:
            yield self.episode(i)

    def to_hf(self, episodes: Iterable[int] | None = None) -> Any:
        """A ``datasets.Dataset``: one row per step, cameras as Image features, episode columns added."""
        return to_hf_dataset(self, episodes)

    def __repr__(self) -> str:
        return f"Dataset({str(self.root)!r}, episodes={len(self)})"
