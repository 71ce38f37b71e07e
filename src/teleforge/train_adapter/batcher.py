"""Training batches: random chunks of the sampled frames (numpy -> torch), with image-shift and
word-dropout augmentation, held on the GPU when training runs there."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from teleforge.train_adapter._torch import require_torch
from teleforge.train_adapter.normalize import to_bins
from teleforge.train_adapter.text import word_dropout

if TYPE_CHECKING:
    from teleforge.train_adapter.train import TrainConfig


class Batcher:
    """Random training batches (numpy -> torch) with image-shift and word-dropout augmentation."""

    def __init__(self, sampler: Any, idx: np.ndarray, norm: Any, tok: Any, cfg: TrainConfig, device: str, seed: int,
                 vis: np.ndarray | None = None) -> None:
        torch = require_torch()
        self.s, self.idx, self.cfg, self.tok, self.dev = sampler, idx, cfg, tok, device
        self.vis = vis  # cached vision tokens (N, n_cam, T, d) or trunk hidden states (N, T, d), float16: replace images
        self.feat_key = "images" if vis is None else ("hidden" if cfg.freeze_trunk_layers > 0 else "vis")
        self.rng = np.random.default_rng(seed)
        self.words = np.stack([tok.encode(t) for t in sampler.instructions])
        self.state = norm.norm_state(sampler.state)
        acts = norm.norm_action(sampler.chunks)
        self.actions = acts.astype(np.float32)
        self.bins = to_bins(acts)
        self.on_gpu = device != "cpu"
        if self.on_gpu:  # the whole set lives on the GPU: no host->device copies per step
            self.images_t = torch.from_numpy(vis if vis is not None else sampler.images).to(device)
            self.state_t = torch.from_numpy(self.state).to(device)
            self.actions_t = torch.from_numpy(self.actions).to(device)
            self.bins_t = torch.from_numpy(self.bins).to(device)
            self.aux_t = torch.from_numpy(sampler.aux).to(device) if sampler.aux is not None else None

    def batch(self, ids: np.ndarray | None = None, train: bool = True) -> dict[str, Any]:
        torch = require_torch()
        if ids is None:
            ids = self.idx[self.rng.integers(0, len(self.idx), self.cfg.batch_size)]
        words = self.words[self.s.episode_of[ids]]
        if train and self.cfg.word_dropout > 0:
            words = word_dropout(words, self.tok, self.cfg.word_dropout, self.rng)
        key = self.feat_key
        if self.on_gpu:
            ii = torch.from_numpy(ids).to(self.dev)
            b = {key: self.images_t[ii], "state": self.state_t[ii], "actions": self.actions_t[ii], "bins": self.bins_t[ii]}
        else:
            b = {k: torch.from_numpy(np.ascontiguousarray(v[ids])) for k, v in
                 ((key, self.s.images if self.vis is None else self.vis), ("state", self.state), ("actions", self.actions),
                  ("bins", self.bins))}
        if self.vis is not None:
            b[key] = b[key].float()
        if key == "hidden":
            b["trunk_start"] = self.cfg.freeze_trunk_layers
        if self.s.aux is not None:
            b["aux"] = self.aux_t[ii] if self.on_gpu and self.aux_t is not None else torch.from_numpy(self.s.aux[ids])
        b["words"] = torch.from_numpy(words).to(self.dev)
        if train and self.cfg.augment_shift > 0:
            if self.vis is None:  # cached tokens cannot be shifted: frozen-vision runs train on frames as recorded
                b["images"] = _shift(b["images"], self.cfg.augment_shift, self.rng)
            b["state"] = b["state"] + 0.02 * torch.randn_like(b["state"])
        return b


def _shift(images: Any, pad: int, rng: np.random.Generator) -> Any:
    """Random translation by up to ``pad`` px (replicate padding), per sample: DrQ-style augmentation."""
    torch = require_torch()
    b, n, h, w, c = images.shape
    x = images.reshape(b * n, h, w, c).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.pad(x, (pad, pad, pad, pad), mode="replicate")
    dx = torch.from_numpy(rng.integers(0, 2 * pad + 1, b * n)).to(x.device)
    dy = torch.from_numpy(rng.integers(0, 2 * pad + 1, b * n)).to(x.device)
    ar = torch.arange(h, device=x.device)
    rows = (dy[:, None] + ar[None])  # (bn, h)
    cols = (dx[:, None] + ar[None])
    x = x[torch.arange(b * n, device=x.device)[:, None, None], :, rows[:, :, None], cols[:, None, :]]  # (bn, h, w, C)
    return x.reshape(b, n, h, w, c).to(images.dtype)
