"""``curate score --method policy-loss``: how badly the VLA fits each demo, as a quality score.

A policy-loss proxy in the spirit of CUPID (Agia et al., "CUPID: Curating Data your Robot
Loves with Influence Functions", 2025). CUPID scores a demo by its influence on the trained
policy's closed-loop return: the gradient of the rollout objective against the gradient of
the demo's action loss, through the inverse Hessian. Here only the second factor is kept: a
demo's per-step action loss under a trained policy (the bundled VLA, or ``policy=CKPT``),
with no rollouts, gradients or Hessian. A demo the policy finds hard to imitate (hesitant,
wobbly, an odd strategy) scores low; it is a proxy for "this demo disagrees with what the
policy learned", not for "this demo lowers success" (docs/curation-scores.md).

Per step t: the flow head's matching loss ``||v(x_s, s) - (noise - a)||^2`` on the
normalized action chunk a[t:t+chunk], averaged over ``flow_samples`` fixed (noise, s)
draws, or the tokens head's cross-entropy. Episode score = -mean step loss (higher =
better). Registered into :mod:`teleforge.curation.scores` on import (workflows sits above
both curation and train_adapter); curation never imports torch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from teleforge.curation.scores import ScoreResult, StepTable, register_method
from teleforge.errors import CurationError, TeleforgeError


@dataclass
class PolicyLoss:
    """Mean per-step action loss of a VLA checkpoint on each demo, negated (higher = better)."""

    policy: str = "bundled"  # checkpoint folder, or "bundled"
    head: str = "flow"  # flow | tokens
    step_stride: int = 2  # score every Nth step (the per-step values are those steps)
    flow_samples: int = 4  # (noise, time) draws per step; fixed by seed, shared by every episode
    batch_size: int = 64
    seed: int = 0
    threads: int = 0  # torch intra-op threads (0: leave as is)
    name: str = "policy-loss"

    def score(self, steps: StepTable, rollouts: StepTable | None = None) -> ScoreResult:
        from teleforge.train_adapter._torch import require_torch
        from teleforge.train_adapter.checkpoint import load_model
        from teleforge.train_adapter.data import EpisodeRef, load_episodes
        from teleforge.train_adapter.normalize import NormStats, to_bins
        from teleforge.train_adapter.text import InstructionTokenizer

        torch = require_torch()
        t0 = time.perf_counter()
        if self.threads:
            torch.set_num_threads(self.threads)
        if steps.root is None:
            raise CurationError("policy-loss reads the demos' images: score a dataset folder (read_steps(root))")
        model, cfg = load_model(self.policy)
        heads = tuple(cfg["model"]["heads"])
        if self.head not in heads:
            raise CurationError(f"the checkpoint {self.policy!r} has head(s) {', '.join(heads)}, not {self.head!r}; pass head=...")
        m = cfg["model"]
        chunk, cams, size = int(m["chunk"]), tuple(m["cameras"]), int(m["image_size"])
        norm = NormStats.from_dict(cfg["norm"])
        tok = InstructionTokenizer.from_dict(cfg["tokenizer"])
        refs = [EpisodeRef(eid, 0, int(n), str(r.get("curated_instruction") or r.get("instruction") or ""), str(r.get("task") or ""))
                for eid, n, r in zip(steps.episode_ids, steps.lengths, steps.rows)]
        gen = torch.Generator().manual_seed(self.seed)
        # One fixed set of (time, noise) draws for every step: differences between demos are
        # the demos', not the sampling's.
        t_fix = torch.rand(self.flow_samples, generator=gen) * 0.999 + 0.001
        noise_fix = torch.randn(self.flow_samples, chunk, int(m["action_dim"]), generator=gen)
        scores: dict[int, float] = {}
        per_step: dict[int, np.ndarray] = {}
        cols: dict[int, dict[str, Any]] = {}
        scored = 0
        for eid, ref in zip(steps.episode_ids, refs):
            try:  # one episode in memory at a time: decoded frames are ~55 kB a step
                ep = load_episodes(steps.root, [ref], cams, size, workers=1)[0]
            except TeleforgeError as exc:  # the dataset lacks what the policy sees (a camera, ...)
                raise CurationError(f"policy-loss cannot feed {self.policy!r} from {steps.root}: {exc}") from exc
            n = len(ep.actions)
            ts = np.arange(0, n, max(1, self.step_stride))
            idx = np.minimum(ts[:, None] + np.arange(chunk)[None], n - 1)
            acts = norm.norm_action(ep.actions[idx]).astype(np.float32)  # (k, chunk, 7)
            words = np.repeat(tok.encode(ep.instruction)[None], len(ts), axis=0)
            state = norm.norm_state(ep.state[ts]).astype(np.float32)
            losses = np.empty(len(ts))
            with torch.inference_mode():
                for s in range(0, len(ts), self.batch_size):
                    sl = slice(s, s + self.batch_size)
                    feat = model.encode(torch.from_numpy(np.ascontiguousarray(ep.images[ts[sl]])),
                                        torch.from_numpy(words[sl]), torch.from_numpy(state[sl]))
                    a = torch.from_numpy(acts[sl])
                    if self.head == "tokens":
                        logits = model.token_logits(feat)
                        bins = torch.from_numpy(to_bins(acts[sl]))
                        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), bins.reshape(-1), reduction="none")
                        losses[sl] = ce.reshape(len(a), -1).mean(1).numpy()
                        continue
                    acc = torch.zeros(len(a))
                    for j in range(self.flow_samples):
                        t = t_fix[j].expand(len(a))
                        x_t = t[:, None, None] * noise_fix[j] + (1 - t[:, None, None]) * a
                        v = model.velocity(feat, x_t, t)
                        acc += ((v - (noise_fix[j] - a)) ** 2).mean(dim=(1, 2))
                    losses[sl] = (acc / self.flow_samples).numpy()
            scored += len(ts)
            per_step[eid] = losses
            scores[eid] = -float(losses.mean()) if len(losses) else float("nan")
            worst = int(ts[int(np.argmax(losses))]) if len(losses) else -1
            cols[eid] = {"policy_loss_mean": float(losses.mean()) if len(losses) else float("nan"),
                         "policy_loss_p90": float(np.percentile(losses, 90)) if len(losses) else float("nan"),
                         "policy_loss_worst_step": worst}
        return ScoreResult(self.name, scores, columns=cols, step_values=per_step,
                           params={"policy": self.policy, "head": self.head, "step_stride": self.step_stride,
                                   "flow_samples": self.flow_samples, "steps_scored": scored},
                           steps=int(steps.offsets[-1]), seconds=time.perf_counter() - t0)


register_method("policy-loss", PolicyLoss)

__all__ = ["PolicyLoss"]
