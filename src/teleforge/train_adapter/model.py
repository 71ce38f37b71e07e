"""The bundled VLA: a small CNN per camera, word embeddings, proprio, a transformer trunk, two heads.

Tokens: ``[instruction words | state | front 6x6 | wrist 6x6 | chunk queries]``. The trunk
runs once per prediction; the query outputs feed

* the **tokens** head: per chunk step and action dimension, logits over 256 uniform bins
  of the q01/q99-normalized action (cross-entropy, optionally smoothed over neighbouring bins;
  decoded by :func:`decode_tokens`: argmax, the expected value over the bins, or a local
  expectation around the peak, the policies' default), and
* the **flow** head: a 2-layer transformer over the chunk that predicts the flow-matching
  velocity of a noisy action chunk (pi0 convention: x_t = t*noise + (1-t)*action,
  v = noise - action), integrated from t=1 to 0 in ``flow_steps`` Euler steps.

One checkpoint can hold both heads (the bundled base does); ``head`` picks which one runs.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from teleforge.errors import TrainError
from teleforge.train_adapter._torch import require_torch
from teleforge.train_adapter.frames import prep_images, resize_frame  # noqa: F401 - re-exported: model.resize_frame is their public name
from teleforge.train_adapter.normalize import N_BINS, TOKEN_DECODES

torch = require_torch()
nn = torch.nn
F = torch.nn.functional
# torch comes in through require_torch() (typed Any), so its base class is named through an Any alias
_Module: Any = nn.Module


@dataclass
class ModelConfig:
    cameras: tuple[str, ...] = ("front", "wrist")
    image_size: int = 96
    state_dim: int = 17
    action_dim: int = 7
    chunk: int = 8
    d_model: int = 128
    n_layers: int = 4
    n_heads: int = 4
    cnn_channels: tuple[int, ...] = (32, 64, 96, 128)
    vocab_size: int = 128
    max_words: int = 16
    n_bins: int = N_BINS
    flow_layers: int = 2
    flow_steps: int = 10
    heads: tuple[str, ...] = ("tokens", "flow")
    aux_dim: int = 6  # pretraining only: target object (and goal) position, a grounding aid

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelConfig:
        known = set(cls.__dataclass_fields__)
        kw: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in known}
        return cls(**kw)


def _block(cin: int, cout: int, k: int) -> Any:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride=2, padding=k // 2), nn.GroupNorm(8, cout), nn.GELU())


class ImageEncoder(_Module):
    """uint8 (B, H, W, 3) + instruction vector -> (B, (H/16)^2, d) tokens with learned positions.

    Every block is FiLM-modulated by the instruction (RT-1 style), so what the CNN looks
    for depends on the words ("red cube") from the first layer on.
    """

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        ch = (3, *cfg.cnn_channels)
        self.blocks = nn.ModuleList([_block(ch[i], ch[i + 1], 5 if i == 0 else 3) for i in range(len(ch) - 1)])
        self.film = nn.ModuleList([nn.Linear(cfg.d_model, 2 * c) for c in ch[1:]])
        for f in self.film:  # start as identity
            nn.init.zeros_(f.weight)
            nn.init.zeros_(f.bias)
        self.proj = nn.Linear(ch[-1], cfg.d_model)
        side = cfg.image_size // 2 ** (len(ch) - 1)
        self.pos = nn.Parameter(torch.randn(side * side, cfg.d_model) * 0.02)

    def forward(self, img: Any, lang: Any) -> Any:
        x = img.permute(0, 3, 1, 2).float() * (1 / 255.0)
        x = (x - 0.45) / 0.25
        for blk, film in zip(self.blocks, self.film):
            x = blk(x)
            g, b = film(lang).chunk(2, dim=-1)
            x = x * (1 + g[:, :, None, None]) + b[:, :, None, None]
        x = x.flatten(2).transpose(1, 2)  # (B, side*side, C)
        return self.proj(x) + self.pos


def _time_embedding(t: Any, dim: int) -> Any:
    half = dim // 2
    freqs = torch.exp(-math.log(1000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    ang = t[:, None].float() * 100.0 * freqs[None]
    return torch.cat([ang.sin(), ang.cos()], dim=-1)


def _encoder(d: int, heads: int, layers: int) -> Any:
    layer = nn.TransformerEncoderLayer(d, heads, dim_feedforward=2 * d, dropout=0.0, activation="gelu",
                                       batch_first=True, norm_first=True)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


class VLA(_Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.d_model
        self.vision = ImageEncoder(cfg)
        self.cam_emb = nn.Parameter(torch.zeros(len(cfg.cameras), d))
        self.word_emb = nn.Embedding(cfg.vocab_size, d, padding_idx=0)
        self.word_pos = nn.Parameter(torch.randn(cfg.max_words, d) * 0.02)
        self.state_proj = nn.Sequential(nn.Linear(cfg.state_dim, d), nn.GELU(), nn.Linear(d, d))
        self.queries = nn.Parameter(torch.randn(cfg.chunk, d) * 0.02)
        self.trunk = _encoder(d, cfg.n_heads, cfg.n_layers)
        self.out_norm = nn.LayerNorm(d)
        if cfg.aux_dim:
            self.aux_head = nn.Linear(d, cfg.aux_dim)
        if "tokens" in cfg.heads:
            self.token_head = nn.Linear(d, cfg.action_dim * cfg.n_bins)
        if "flow" in cfg.heads:
            self.flow_in = nn.Linear(cfg.action_dim, d)
            self.flow_time = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
            self.flow_net = _encoder(d, cfg.n_heads, cfg.flow_layers)
            self.flow_out = nn.Linear(d, cfg.action_dim)

    # --- trunk ---------------------------------------------------------------------
    def lang_vector(self, words: Any) -> Any:
        """words (B, L) int64 -> (B, d): the bag-of-words mean of known ids that FiLM-modulates the CNN."""
        we = self.word_emb(words)
        known = (words != 0).float()[..., None]
        return (we * known).sum(1) / known.sum(1).clamp(min=1.0)

    def encode_vision(self, images: Any, words: Any) -> Any:
        """images (B, n_cam, H, W, 3) uint8, words (B, L) -> (B, n_cam, tokens, d) image tokens, before camera embeddings.

        A function of (frame, instruction) only: ``feature_cache`` stores it once per training
        frame when the vision encoder is frozen.
        """
        b, n_cam = images.shape[:2]
        lang = self.lang_vector(words)[:, None].expand(b, n_cam, -1).reshape(b * n_cam, -1)
        vis = self.vision(images.reshape(b * n_cam, *images.shape[2:]), lang)
        return vis.reshape(b, n_cam, vis.shape[1], -1)

    def encode(self, images: Any, words: Any, state: Any, vis: Any = None) -> Any:
        """images (B, n_cam, H, W, 3) uint8, words (B, L) int64, state (B, S) -> (B, chunk, d).

        ``vis`` (B, n_cam, tokens, d), when given, replaces the vision encoder (cached features;
        ``images`` is then unused and may be None).
        """
        if vis is None:
            vis = self.encode_vision(images, words)
        x, pad = self.trunk_input(vis, words, state)
        return self.run_trunk(x, pad)

    def trunk_input(self, vis: Any, words: Any, state: Any) -> tuple[Any, Any]:
        """The trunk's token sequence [words | state | images | chunk queries] (B, T, d) and its padding mask (B, T)."""
        b = vis.shape[0]
        vis = (vis.to(self.cam_emb.dtype) + self.cam_emb[None, :, None, :]).reshape(b, -1, vis.shape[-1])
        w = self.word_emb(words) + self.word_pos[: words.shape[1]]
        s = self.state_proj(state)[:, None]
        q = self.queries[None].expand(b, -1, -1)
        x = torch.cat([w, s, vis, q], dim=1)
        return x, self.padding_mask(words, x.shape[1])

    @staticmethod
    def padding_mask(words: Any, length: int) -> Any:
        """(B, length) bool: True at padded word positions (nothing else is ever padded)."""
        return torch.cat([words == 0, torch.zeros(words.shape[0], length - words.shape[1], dtype=torch.bool, device=words.device)], 1)

    def trunk_prefix(self, x: Any, pad: Any, layers: int) -> Any:
        """Hidden states (B, T, d) after the first ``layers`` trunk layers (what a frozen-prefix fine-tune caches)."""
        for layer in self.trunk.layers[:layers]:
            x = layer(x, src_key_padding_mask=pad)
        return x

    def run_trunk(self, x: Any, pad: Any, start: int = 0) -> Any:
        """Trunk layers ``start..`` over hidden states x (B, T, d) -> normalized chunk-query features (B, chunk, d).

        Equal to ``self.trunk(x)[:, -chunk:]``: the last layer's attention queries, feed-forward
        and norms run for the chunk queries alone (keys and values still cover every token),
        so 8 instead of ~97 positions pay for them — a free 15-20 % of trunk time.
        """
        layers = self.trunk.layers
        x = x.to(self.queries.dtype)
        for layer in layers[start:-1]:
            x = layer(x, src_key_padding_mask=pad)
        last, k = layers[-1], self.cfg.chunk
        h = last.norm1(x)
        q = x[:, -k:] + last.self_attn(h[:, -k:], h, h, key_padding_mask=pad, need_weights=False)[0]
        return self.out_norm(q + last.linear2(last.activation(last.linear1(last.norm2(q)))))

    # --- heads ---------------------------------------------------------------------
    def token_logits(self, feat: Any) -> Any:
        b = feat.shape[0]
        return self.token_head(feat).reshape(b, self.cfg.chunk, self.cfg.action_dim, self.cfg.n_bins)

    def velocity(self, feat: Any, x_t: Any, t: Any) -> Any:
        temb = self.flow_time(_time_embedding(t, self.cfg.d_model))[:, None]
        h = self.flow_net(feat + self.flow_in(x_t) + temb)
        return self.flow_out(h)

    def losses(self, batch: dict[str, Any], heads: tuple[str, ...], token_sigma: float = 0.0) -> dict[str, Any]:
        """Per-head losses for a batch with images (or cached ``vis``), words, state, actions (B, chunk, 7) in [-1, 1], bins.

        ``token_sigma`` > 0 (bins) trains the tokens head on a Gaussian over the neighbouring bins
        instead of the one-hot bin (label smoothing that knows the bins are ordered).
        """
        if "hidden" in batch:  # cached trunk prefix (frozen vision and lower layers)
            feat = self.run_trunk(batch["hidden"], self.padding_mask(batch["words"], batch["hidden"].shape[1]),
                                  int(batch["trunk_start"]))
        else:
            feat = self.encode(batch.get("images"), batch["words"], batch["state"], vis=batch.get("vis"))
        out: dict[str, Any] = {}
        if "aux" in batch and self.cfg.aux_dim:
            out["aux"] = F.mse_loss(self.aux_head(feat.mean(1)), batch["aux"])
        if "tokens" in heads:
            logits = self.token_logits(feat)
            target = batch["bins"].reshape(-1)
            if token_sigma > 0:
                target = soft_bins(target, self.cfg.n_bins, token_sigma)
            out["tokens"] = F.cross_entropy(logits.reshape(-1, self.cfg.n_bins), target)
        if "flow" in heads:
            a = batch["actions"]
            t = torch.rand(a.shape[0], device=a.device) * 0.999 + 0.001
            noise = torch.randn_like(a)
            x_t = t[:, None, None] * noise + (1 - t[:, None, None]) * a
            v = self.velocity(feat, x_t, t)
            out["flow"] = F.mse_loss(v, noise - a)
        return out

    @torch.no_grad()
    def sample(self, images: Any, words: Any, state: Any, head: str, generator: Any = None, flow_steps: int | None = None,
               token_decode: str = "argmax") -> Any:
        """Normalized action chunk (B, chunk, 7) in [-1, 1]; ``flow_steps`` overrides the config's Euler steps,
        ``token_decode`` picks how the tokens head's bins become a value (see :func:`decode_tokens`)."""
        feat = self.encode(images, words, state)
        if head == "tokens":
            return decode_tokens(self.token_logits(feat), token_decode)
        b = feat.shape[0]
        x = torch.randn(b, self.cfg.chunk, self.cfg.action_dim, device=feat.device, generator=generator)
        n = int(flow_steps or self.cfg.flow_steps)
        # The Euler schedule is fixed: all time embeddings in one call, as velocity() would compute them one by one.
        ts = 1.0 - torch.arange(n, device=feat.device, dtype=torch.float32) / n
        temb = self.flow_time(_time_embedding(ts, self.cfg.d_model))  # (n, d)
        for i in range(n):
            v = self.flow_out(self.flow_net(feat + self.flow_in(x) + temb[i]))
            x = x - v / n
        return x.clamp(-1, 1)


def soft_bins(bins: Any, n_bins: int, sigma: float) -> Any:
    """Bin ids (N,) -> (N, n_bins) target distributions: a Gaussian of ``sigma`` bins around each id, renormalized."""
    d = torch.arange(n_bins, device=bins.device, dtype=torch.float32)[None] - bins[:, None].float()
    w = torch.exp(-0.5 * (d / sigma) ** 2)
    return w / w.sum(-1, keepdim=True)


LOCAL_RADIUS = 4  # bins each side of the peak that "local" averages over (4 bins = 3 % of the normalized range)


def decode_tokens(logits: Any, mode: str = "argmax", radius: int = LOCAL_RADIUS) -> Any:
    """Bin logits (..., n_bins) -> values (...) in [-1, 1] on the uniform bins' centres.

    ``argmax``: the most likely bin's centre (what the head was always decoded with). ``expected``:
    the softmax-weighted mean of all centres; smooth, but a two-peaked distribution decodes to a
    value between its peaks. ``local``: the softmax-weighted mean over the ``radius`` bins either
    side of the peak (renormalized there); sub-bin resolution without averaging distant modes.
    """
    n = logits.shape[-1]
    centres = (torch.arange(n, device=logits.device, dtype=torch.float32) + 0.5) / n * 2 - 1
    if mode == "argmax":
        return centres[logits.argmax(-1)]
    if mode == "expected":
        return (logits.float().softmax(-1) * centres).sum(-1)
    if mode == "local":
        peak = logits.argmax(-1, keepdim=True)
        near = (torch.arange(n, device=logits.device) - peak).abs() <= radius
        p = logits.float().masked_fill(~near, float("-inf")).softmax(-1)
        return (p * centres).sum(-1)
    raise TrainError(f"unknown token decoding {mode!r}; use one of {', '.join(TOKEN_DECODES)}")
