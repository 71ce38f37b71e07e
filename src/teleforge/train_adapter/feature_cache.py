"""Frozen-vision fine-tuning: the image encoder's tokens computed once per training frame.

With ``TrainConfig.freeze_vision`` the CNN is not updated, so its output for a frame is a
fixed function of (frame, instruction) — the instruction enters through FiLM, so the key is
the pair, not the frame alone. Each training frame is stored with its episode's instruction
(word dropout still reaches the trunk's word tokens, not the FiLM input). The trunk and the
heads then train on these tokens: no CNN forward or backward per step.

What it costs: the random image shift (DrQ-style augmentation) cannot be applied to cached
tokens, so a frozen-vision run sees every frame exactly as recorded; the state noise and word
dropout stay. Memory: ``frames x n_cam x 36 x d_model`` float16 (2 cameras, d = 128: 18 KB a
frame, ~90 MB for 5 000 frames).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from teleforge.progress import Progress, or_null, tracked
from teleforge.train_adapter._torch import require_torch


def freeze_vision(model: Any) -> int:
    """Stop gradients into ``model.vision`` (the FiLM-CNN); returns how many parameters stay trainable."""
    for p in model.vision.parameters():
        p.requires_grad_(False)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def build_feature_cache(model: Any, images: np.ndarray, words: np.ndarray, device: str = "cpu", batch: int = 64,
                        progress: Progress | None = None) -> np.ndarray:
    """Vision tokens for every frame: images (N, n_cam, s, s, 3) uint8 + words (N, L) int64 -> (N, n_cam, T, d) float16.

    ``words`` holds each frame's own (undropped) instruction ids. One progress unit per batch.
    """
    torch = require_torch()
    n = len(images)
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    with tracked(or_null(progress), (n + batch - 1) // batch, f"caching vision tokens ({n} frames)") as prog, torch.inference_mode():
        for i in range(0, n, batch):
            img = torch.from_numpy(np.ascontiguousarray(images[i:i + batch])).to(device)
            wd = torch.from_numpy(np.ascontiguousarray(words[i:i + batch])).to(device)
            v = model.encode_vision(img, wd).to("cpu", torch.float16).numpy()
            if out is None:
                out = np.empty((n, *v.shape[1:]), np.float16)
            out[i:i + len(v)] = v
            prog.advance(1)
    model.train(was_training)
    assert out is not None
    return out


def freeze_trunk_prefix(model: Any, layers: int) -> int:
    """Also freeze what feeds trunk layer ``layers``: embeddings, state projection, queries and the first ``layers`` layers.

    Returns how many parameters stay trainable (the upper trunk layers, the output norm, the heads).
    """
    freeze_vision(model)
    for p in (model.cam_emb, model.word_pos, model.queries):
        p.requires_grad_(False)
    for mod in (model.word_emb, model.state_proj, *model.trunk.layers[:layers]):
        for p in mod.parameters():
            p.requires_grad_(False)
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


def build_trunk_cache(model: Any, vis: np.ndarray, words: np.ndarray, state: np.ndarray, layers: int, device: str = "cpu",
                      batch: int = 64, progress: Progress | None = None) -> np.ndarray:
    """Hidden states after the first ``layers`` trunk layers for every frame: (N, T, d) float16.

    vis (N, n_cam, tokens, d) from :func:`build_feature_cache`, words (N, L) each frame's
    instruction ids, state (N, S) normalized proprio. These are fixed inputs: a frozen-prefix
    run has no word dropout and no state noise (both act below the cached layers).
    """
    torch = require_torch()
    n = len(vis)
    out: np.ndarray | None = None
    was_training = model.training
    model.eval()
    with tracked(or_null(progress), (n + batch - 1) // batch, f"caching trunk layers 1-{layers} ({n} frames)") as prog, \
            torch.inference_mode():
        for i in range(0, n, batch):
            v = torch.from_numpy(np.ascontiguousarray(vis[i:i + batch])).to(device).float()
            wd = torch.from_numpy(np.ascontiguousarray(words[i:i + batch])).to(device)
            st = torch.from_numpy(np.ascontiguousarray(state[i:i + batch], dtype=np.float32)).to(device)
            x, pad = model.trunk_input(v, wd, st)
            h = model.trunk_prefix(x, pad, layers).to("cpu", torch.float16).numpy()
            if out is None:
                out = np.empty((n, *h.shape[1:]), np.float16)
            out[i:i + len(h)] = h
            prog.advance(1)
    model.train(was_training)
    assert out is not None
    return out
