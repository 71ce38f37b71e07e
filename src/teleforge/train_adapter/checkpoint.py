"""Checkpoints (a folder: model.safetensors + config.json [+ train_state.safetensors/.json]) and ``load_policy``.

config.json holds everything needed to run the weights: the model config, the instruction
vocabulary, the q01/q99 normalization stats, which heads were trained, the action space
and embodiment, and what the run was trained on.

Training state for ``--resume`` is tensors in ``train_state.safetensors`` and everything else
(step, best, losses, optimizer hyper-parameters and state layout, the batch RNG) in
``train_state.json``: nothing in a run folder is unpickled, so a shared or downloaded run
cannot run code. A legacy ``train_state.pt`` is refused, never opened.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from teleforge.errors import CheckpointError
from teleforge.train_adapter._torch import require_torch
from teleforge.train_adapter.frames import prep_images
from teleforge.train_adapter.normalize import DEFAULT_TOKEN_DECODE, TOKEN_DECODES, NormStats, state_vector
from teleforge.train_adapter.policy import PolicyInfo, PolicyObs
from teleforge.train_adapter.text import InstructionTokenizer

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
TRAIN_STATE = "train_state.json"
TRAIN_TENSORS = "train_state.safetensors"
LEGACY_TRAIN_STATE = "train_state.pt"  # pickle: refused, never opened
FORMAT = "teleforge.vla/1"
ACTION_SPACE = "native_ee_delta"
BUNDLED_DIR = Path(__file__).parent / "assets" / "base"


def resolve(path: str | Path) -> Path:
    """``"bundled"`` -> the shipped base; a folder or its model.safetensors -> the folder."""
    if str(path) == "bundled":
        if not (BUNDLED_DIR / WEIGHTS).is_file():
            raise CheckpointError(f"the bundled base checkpoint is missing from {BUNDLED_DIR}: reinstall teleforge, "
                                  "or rebuild it with `teleforge train pretrain --out DIR`")
        return BUNDLED_DIR
    p = Path(path)
    if p.is_file() and p.name in (WEIGHTS, CONFIG):
        p = p.parent
    if not (p / CONFIG).is_file() or not (p / WEIGHTS).is_file():
        raise CheckpointError(f"{p} is not a teleforge checkpoint (it needs {CONFIG} and {WEIGHTS}); "
                              "pass a folder written by `teleforge train`, or 'bundled'")
    return p


def read_config(path: str | Path) -> dict[str, Any]:
    p = resolve(path) / CONFIG
    try:
        cfg = json.loads(p.read_text())
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{p} is corrupt ({exc}); re-train or copy the checkpoint again") from exc
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{p} is not a {FORMAT} checkpoint config (format {cfg.get('format') if isinstance(cfg, dict) else None!r})")
    return cfg


def save_checkpoint(out: Path, model: Any, config: dict[str, Any], train_state: dict[str, Any] | None = None) -> Path:
    """Write the folder atomically enough for resume: weights and state first, config last."""
    require_torch()
    from safetensors.torch import save_file  # lazy: safetensors.torch imports torch

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(out / (WEIGHTS + ".tmp")), metadata={"format": FORMAT})
    (out / (WEIGHTS + ".tmp")).replace(out / WEIGHTS)
    if train_state is not None:
        save_train_state(out, train_state)
    cfg = dict(config, format=FORMAT)
    (out / (CONFIG + ".tmp")).write_text(json.dumps(cfg, indent=1))
    (out / (CONFIG + ".tmp")).replace(out / CONFIG)
    return out


def _split_tensors(obj: Any, path: str, tensors: dict[str, Any]) -> Any:
    """``obj`` with every tensor replaced by ``{"__tensor__": name}`` (the tensor goes to ``tensors``).

    Dict keys become strings; the optimizer's integer parameter ids are restored on load.
    """
    torch = require_torch()
    if isinstance(obj, torch.Tensor):
        tensors[path] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": path}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _split_tensors(v, f"{path}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_split_tensors(v, f"{path}.{i}", tensors) for i, v in enumerate(obj)]
    if isinstance(obj, float) and not math.isfinite(obj):
        return {"__float__": repr(obj)}  # JSON proper has no inf/nan
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise CheckpointError(f"training state holds a {type(obj).__name__} at {path}, which cannot be saved without pickle")


def _join_tensors(obj: Any, tensors: dict[str, Any], where: Path) -> Any:
    if isinstance(obj, list):
        return [_join_tensors(v, tensors, where) for v in obj]
    if isinstance(obj, dict):
        if set(obj) == {"__tensor__"}:
            try:
                return tensors[obj["__tensor__"]]
            except (KeyError, TypeError) as exc:
                raise CheckpointError(f"{where} names tensor {obj['__tensor__']!r} that {TRAIN_TENSORS} lacks; "
                                      "restart training without --resume") from exc
        if set(obj) == {"__float__"} and obj["__float__"] in ("inf", "-inf", "nan"):
            return float(obj["__float__"])
        if set(obj) == {"__dict__"} and isinstance(obj["__dict__"], list):
            return {k: _join_tensors(v, tensors, where) for k, v in obj["__dict__"]}
        raise CheckpointError(f"{where} holds an unexpected record {sorted(obj)!r}; restart training without --resume")
    return obj


def save_train_state(out: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (nested dicts/lists of tensors and JSON scalars) as safetensors + JSON, tensors first."""
    from safetensors.torch import save_file  # lazy: safetensors.torch imports torch

    tensors: dict[str, Any] = {}
    tree = _split_tensors(state, "s", tensors)
    save_file(tensors, str(out / (TRAIN_TENSORS + ".tmp")), metadata={"format": FORMAT})
    (out / (TRAIN_TENSORS + ".tmp")).replace(out / TRAIN_TENSORS)
    (out / (TRAIN_STATE + ".tmp")).write_text(json.dumps({"format": FORMAT, "state": tree}))
    (out / (TRAIN_STATE + ".tmp")).replace(out / TRAIN_STATE)


def has_train_state(folder: Path) -> bool:
    """True when ``folder`` holds resumable training state; a legacy pickle file raises ``CheckpointError``."""
    folder = Path(folder)
    if (folder / TRAIN_STATE).is_file():
        return True
    if (folder / LEGACY_TRAIN_STATE).is_file():
        raise CheckpointError(f"{folder / LEGACY_TRAIN_STATE} is an old pickle training state, which teleforge never "
                              "opens; restart training without --resume (or use the weights with --init)")
    return False


def load_train_state(folder: Path, device: str = "cpu") -> dict[str, Any]:
    """The dict given to ``save_train_state``, tensors on ``device``; damage raises ``CheckpointError`` naming the file."""
    from safetensors.torch import load_file  # lazy: imports torch

    folder = Path(folder)
    jfile, tfile = folder / TRAIN_STATE, folder / TRAIN_TENSORS
    try:
        doc = json.loads(jfile.read_text())
    except (ValueError, OSError) as exc:
        raise CheckpointError(f"{jfile} is corrupt ({exc}); restart training without --resume") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(doc.get("state"), dict):
        raise CheckpointError(f"{jfile} is not a {FORMAT} training state; restart training without --resume")
    try:
        tensors = load_file(str(tfile), device=device)
    except Exception as exc:  # safetensors raises several types for a missing/truncated file
        raise CheckpointError(f"{tfile} is missing or corrupt ({exc}); restart training without --resume") from exc
    state = _join_tensors(doc["state"], tensors, jfile)
    if not isinstance(state, dict):
        raise CheckpointError(f"{jfile} is not a {FORMAT} training state; restart training without --resume")
    return state


def load_model(path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any]]:
    """(VLA in eval mode, config dict); corrupt or mismatched weights raise ``CheckpointError`` naming the file."""
    from teleforge.train_adapter.model import VLA, ModelConfig  # lazy: model.py imports torch at import time

    root = resolve(path)
    cfg = read_config(root)
    wfile = root / WEIGHTS
    try:
        from safetensors.torch import load_file  # lazy: imports torch

        tensors = load_file(str(wfile), device=device)
    except Exception as exc:  # safetensors raises several types for a truncated/garbled file
        raise CheckpointError(f"{wfile} is corrupt or truncated ({exc}); re-train, or copy the checkpoint again") from exc
    try:
        model = VLA(ModelConfig.from_dict(cfg["model"]))
        model.load_state_dict(tensors)
    except (KeyError, RuntimeError, TypeError) as exc:
        raise CheckpointError(f"{wfile} does not match its {CONFIG} ({str(exc)[:300]})") from exc
    return model.to(device).eval(), cfg


class VLAPolicy:
    """A checkpoint behind the ``Policy`` protocol (CPU, one observation at a time)."""

    def __init__(self, model: Any, cfg: dict[str, Any], head: str | None = None, seed: int = 0,
                 flow_steps: int | None = None, token_decode: str | None = None) -> None:
        torch = require_torch()
        heads = tuple(cfg["model"]["heads"])
        head = head or cfg.get("default_head") or heads[0]
        if head not in heads:
            raise CheckpointError(f"this checkpoint has head(s) {', '.join(heads)}, not {head!r}")
        self.model = model
        self.cfg = cfg
        self.head = head
        self.norm = NormStats.from_dict(cfg["norm"])
        self.tokenizer = InstructionTokenizer.from_dict(cfg["tokenizer"])
        m = cfg["model"]
        self.info = PolicyInfo(
            head=head, chunk=int(m["chunk"]), cameras=tuple(m["cameras"]), image_size=int(m["image_size"]),
            action_space=cfg.get("action_space", ACTION_SPACE), control_hz=float(cfg.get("control_hz", 20.0)),
            extra={"embodiment": cfg.get("embodiment"), "params": int(sum(p.numel() for p in model.parameters())),
                   "flow_steps": int(flow_steps or m.get("flow_steps", 10)),
                   "token_decode": str(token_decode or cfg.get("token_decode") or DEFAULT_TOKEN_DECODE),
                   "trained_on": cfg.get("trained_on", {}),
                   "tasks": list(cfg.get("tasks") or []), "render_size": int(cfg.get("render_size") or 128)},
        )
        if self.info.extra["token_decode"] not in TOKEN_DECODES:
            raise CheckpointError(f"unknown token decoding {self.info.extra['token_decode']!r}; use one of {', '.join(TOKEN_DECODES)}")
        self._seed = seed
        self._gen = torch.Generator().manual_seed(seed)
        self._words = self.tokenizer.encode("")

    def reset(self, instruction: str) -> None:
        torch = require_torch()
        self._words = self.tokenizer.encode(instruction)
        self._gen = torch.Generator().manual_seed(self._seed)

    def predict(self, obs: PolicyObs) -> np.ndarray:
        torch = require_torch()
        if obs.instruction:
            words = self.tokenizer.encode(obs.instruction)
        else:
            words = self._words
        imgs = prep_images(obs.images, self.info.cameras, self.info.image_size)
        state = self.norm.norm_state(state_vector(obs.ee_pos, obs.ee_quat, obs.gripper, obs.joint_pos))
        with torch.inference_mode():
            x = self.model.sample(torch.from_numpy(imgs)[None], torch.from_numpy(words)[None],
                                  torch.from_numpy(state)[None], self.head, generator=self._gen,
                                  flow_steps=self.info.extra["flow_steps"], token_decode=self.info.extra["token_decode"])
        a = self.norm.denorm_action(x[0].numpy())
        a[:, 6] = (a[:, 6] > 0.5).astype(np.float32)  # the gripper target is binary in every demo
        return a


def load_policy(path: str | Path = "bundled", head: str | None = None, flow_steps: int | None = None,
                token_decode: str | None = None) -> VLAPolicy:
    """A runnable policy from a checkpoint folder (or "bundled"); ``head`` "tokens"|"flow" (default: the trained one);
    ``flow_steps`` overrides the checkpoint's Euler steps for the flow head (None: the checkpoint's);
    ``token_decode`` "argmax"|"expected"|"local" overrides how the tokens head decodes its bins
    (None: the config's ``token_decode``, else ``DEFAULT_TOKEN_DECODE`` = local; ``model.decode_tokens``)."""
    model, cfg = load_model(path)
    return VLAPolicy(model, cfg, head, flow_steps=flow_steps, token_decode=token_decode)
