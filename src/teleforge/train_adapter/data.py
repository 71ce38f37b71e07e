"""Training data straight from native shards: views and trims honoured, JPEG decoded in worker threads.

Each worker takes one episode shard (memory-mapped Arrow), decodes its frames, resizes them
with ``frames.resize_frame`` (exactly what closed-loop eval does to live renders, and what the
bundled base was pretrained on: a DCT-scaled decode measurably hurt the base, 65 % vs 80 % on
20 seeds) and returns compact uint8 arrays. JPEG decode and resize release the GIL, so threads
keep every core busy with no process start-up (which dominated small sets). Training then
samples (episode, step) pairs in memory.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from teleforge.dataset import Dataset
from teleforge.dataset.images import decode_image
from teleforge.dataset.schema import image_column
from teleforge.errors import TrainError
from teleforge.progress import Progress, or_null, tracked
from teleforge.train_adapter.frames import resize_frame
from teleforge.train_adapter.normalize import state_vector


@dataclass
class EpisodeArrays:
    """One episode, ready for training (decoded from shards, or scripted in memory by ``sim_data``)."""

    images: np.ndarray  # (T, n_cam, s, s, 3) uint8
    state: np.ndarray  # (T, S) float32
    actions: np.ndarray  # (T, 7) float32 native
    instruction: str
    task: str = ""
    seed: int = -1
    aux: np.ndarray | None = None  # (T, 6) privileged object/goal positions (pretraining only)


def split_data_arg(data: str | Path, view: str | None = None) -> tuple[Path, str | None]:
    """``DATASET[:VIEW]`` -> (dataset path, view name); an explicit ``view`` wins."""
    s = str(data)
    if view is None and not Path(s).exists() and ":" in s:
        s, view = s.rsplit(":", 1)
    return Path(s), view or None


@dataclass
class EpisodeRef:
    episode_id: int
    start: int
    stop: int  # exclusive
    instruction: str
    task: str


def select_episodes(root: Path, view: str | None, tasks: tuple[str, ...] | None = None,
                    outcomes: tuple[str, ...] | None = None) -> list[EpisodeRef]:
    """The episodes (and step ranges) a training run uses: a view's kept ids and trims, else every
    live episode; curated relabels (instruction, outcome) applied — the same selection an export makes."""
    from teleforge.dataset.selection import select
    from teleforge.errors import ExportError

    try:
        src = select(root, None, view)
    except ExportError as exc:
        raise TrainError(str(exc)) from None
    infos = {e.episode_id: e for e in src.dataset.episodes}  # trimmed and relabelled
    refs = []
    for i in src.episode_ids:
        e = infos[i]
        if tasks and e.task not in tasks:
            continue
        if outcomes and e.outcome not in outcomes:
            continue
        a, b = src.step_range(i)
        if b - a < 1:
            continue
        refs.append(EpisodeRef(i, a, b, e.instruction or "", e.task))
    if not refs:
        what = f"view {view!r} of {root}" if view else str(root)
        raise TrainError(f"{what} has no episodes to train on{' for tasks ' + ','.join(tasks) if tasks else ''}; "
                         "collect some with `teleforge collect` or pick another view")
    missing = [r.episode_id for r in refs if not r.instruction.strip()]
    if missing:
        raise TrainError(f"episodes {missing[:10]} of {root} have no instruction; the VLA is language-conditioned: "
                         "re-collect them with a task, or drop them with a view (`teleforge curate filter`)")
    return refs


def _load_one(ds: Dataset, ref: EpisodeRef, cameras: tuple[str, ...], size: int) -> EpisodeArrays:
    ep = ds.episode(ref.episode_id)
    sl = slice(ref.start, ref.stop)
    n = ref.stop - ref.start
    imgs = np.empty((n, len(cameras), size, size, 3), np.uint8)
    for k, cam in enumerate(cameras):
        if image_column(cam) not in ep.columns:
            raise TrainError(f"episode {ref.episode_id} has no camera {cam!r} (columns: {', '.join(ep.columns)})")
        conf = ds.spec.camera(cam)
        col = ep.column(image_column(cam))[sl]
        last = None
        for t, data in enumerate(col):
            if data is None:  # a camera's first frame may lag the first step: reuse the nearest one
                img = last
            else:
                img = resize_frame(decode_image(data, conf), size)
                last = img
            if img is not None:
                imgs[t, k] = img
        if last is None:
            raise TrainError(f"episode {ref.episode_id}: camera {cam!r} has no frames")
        first = next(i for i, d in enumerate(col) if d is not None)
        imgs[:first, k] = imgs[first, k]
    state = state_vector(ep.column("observation.state.ee_pos")[sl], ep.column("observation.state.ee_quat")[sl],
                         np.asarray(ep.column("observation.state.gripper")[sl], np.float32),
                         ep.column("observation.state.joint_pos")[sl])
    actions = np.asarray(ep.column("action")[sl], np.float32)
    if actions.ndim != 2 or actions.shape[1] != 7:
        raise TrainError(f"episode {ref.episode_id}: actions are {actions.shape}, the VLA is trained on 7-D native actions")
    return EpisodeArrays(imgs, state.astype(np.float32), actions, ref.instruction, ref.task, ref.episode_id)


def load_episodes(root: Path | str, refs: list[EpisodeRef], cameras: tuple[str, ...], image_size: int,
                  workers: int = 2, progress: Progress | None = None) -> list[EpisodeArrays]:
    """Decode ``refs`` into memory with ``workers`` threads (<= 1: in the calling thread), in order; one progress unit per episode."""
    cv2.setNumThreads(1)  # the workers parallelize over episodes
    ds = Dataset.open(root)
    spec = ds.spec
    have = set(spec.camera_names)
    lacking = [c for c in cameras if c not in have]
    if lacking:
        raise TrainError(f"{root} has cameras {sorted(have)}, the model needs {list(cameras)}; "
                         "train from scratch with --cameras matching the dataset, or record the missing camera")
    cams, size = tuple(cameras), int(image_size)
    out: list[EpisodeArrays] = []
    with tracked(or_null(progress), len(refs), f"decoding {len(refs)} episodes") as prog:
        if workers <= 1 or len(refs) == 1:
            for r in refs:
                out.append(_load_one(ds, r, cams, size))
                prog.advance(1)
            return out
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="teleforge-load") as pool:
            for ep in pool.map(lambda r: _load_one(ds, r, cams, size), refs):
                out.append(ep)
                prog.advance(1)
    return out


class ChunkSampler:
    """All episodes concatenated; draws (frame, action chunk) training samples."""

    def __init__(self, episodes: list[EpisodeArrays], chunk: int) -> None:
        if not episodes:
            raise TrainError("no episodes to sample from")
        self.images = np.concatenate([e.images for e in episodes])
        self.state = np.concatenate([e.state for e in episodes])
        lens = np.array([len(e.actions) for e in episodes])
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
        acts = np.concatenate([e.actions for e in episodes])
        # Targets past an episode's end repeat its last action (the arm holds still).
        idx = np.arange(len(acts))[:, None] + np.arange(chunk)[None]
        ends = np.repeat(starts + lens - 1, lens)
        self.chunks = acts[np.minimum(idx, ends[:, None])]  # (N, chunk, 7)
        self.episode_of = np.repeat(np.arange(len(episodes)), lens)
        self.instructions = [e.instruction for e in episodes]
        self.n = len(acts)
        self.aux = np.concatenate([e.aux for e in episodes]) if all(e.aux is not None for e in episodes) else None

    def __len__(self) -> int:
        return self.n
