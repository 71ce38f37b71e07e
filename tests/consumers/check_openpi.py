"""openpi's data path (its pinned LeRobot 0cf8648, codebase v2.1, + openpi's own transforms) reads an `handoff openpi` folder.

Usage: PY_LEROBOT21 check_openpi.py HANDOFF_DIR NATIVE_DATASET [--openpi-src DIR] [--action-horizon 50]

Replays openpi's create_torch_dataset + transform_dataset (src/openpi/training/data_loader.py at 15a9616):
LeRobotDatasetMetadata(repo_id), LeRobotDataset(repo_id, delta_timestamps={k: [t / fps ...] for k in
action_sequence_keys}) with HF_LEROBOT_HOME set the way the README's `export` line sets it, then — with
--openpi-src (an openpi checkout: src/openpi, packages/openpi-client) — openpi's OWN classes from that
source: PromptFromLeRobotTask, RepackTransform(TELEFORGE_REPACK), LiberoInputs, Normalize with the
handoff's norm_stats.json loaded by openpi.shared.normalize.load, PadStatesAndActions(32), and
Unnormalize to compare actions/state against the native reader. JAX/flax are not installed: the two
functions those modules take from them (jax.tree.map over a dict of key paths, flax.traverse_util's
flatten/unflatten with a separator) are given small pure-Python equivalents; openpi.models.model is
reduced to its ModelType enum and the tokenizer module is left empty (tokenising needs the PaliGemma
model download). The config values come from the snippet's TELEFORGE_* literals (ast.literal_eval),
and the snippet is checked to compile appended to openpi's config.py with every name it uses defined there.
"""

from __future__ import annotations

import argparse
import ast
import enum
import importlib.util
import json
import os
import sys
import tempfile
import types
from pathlib import Path
from typing import Any

import numpy as np
from _common import decode_jpeg, native_state8, psnr, read_native, run


def snippet_values(src: str) -> dict[str, Any]:
    """The TELEFORGE_* literal assignments of the handoff's openpi_config.py."""
    out: dict[str, Any] = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.startswith("TELEFORGE_"):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass  # TELEFORGE_TRAIN_CONFIG = TrainConfig(...)
    return out


def check_snippet_in_config(snippet: str, config_py: Path) -> list[str]:
    """Names the snippet reads that openpi's config.py (plus the snippet itself) does not define."""
    tree = ast.parse(config_py.read_text() + "\n" + snippet)  # what `cat snippet >> config.py` gives
    defined = set(dir(__builtins__)) if not isinstance(__builtins__, dict) else set(__builtins__)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            defined |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            defined.add(node.id)
        elif isinstance(node, ast.arg):
            defined.add(node.arg)
    used = {n.id for n in ast.walk(ast.parse(snippet)) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return sorted(used - defined)


def _tree_map(fn, tree):  # jax.tree.map on the nested dicts of str RepackTransform uses
    if isinstance(tree, dict):
        return {k: _tree_map(fn, v) for k, v in tree.items()}
    return fn(tree)


def _flatten_dict(tree, sep="/", prefix=()):  # flax.traverse_util.flatten_dict(tree, sep=...)
    out = {}
    for k, v in tree.items():
        if isinstance(v, dict) and v:
            out.update(_flatten_dict(v, sep, prefix + (k,)))
        else:
            out[sep.join(prefix + (k,))] = v
    return out


def _unflatten_dict(flat, sep="/"):
    out: dict = {}
    for k, v in flat.items():
        *head, last = k.split(sep)
        d = out
        for h in head:
            d = d.setdefault(h, {})
        d[last] = v
    return out


def load_openpi(src: Path) -> dict[str, types.ModuleType]:
    """openpi.transforms, openpi.policies.libero_policy and openpi.shared.normalize from an openpi checkout."""
    def module(name: str, **attrs: Any) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class _PyTree:
        def __class_getitem__(cls, item):
            return Any

    module("jax", tree=types.SimpleNamespace(map=_tree_map))
    module("flax")
    module("flax.traverse_util", flatten_dict=_flatten_dict, unflatten_dict=_unflatten_dict)
    module("openpi.shared.array_typing", PyTree=_PyTree, Array=Any, Float=Any, Int=Any, Bool=Any)
    module("openpi.models.tokenizer", PaligemmaTokenizer=object, FASTTokenizer=object)

    class ModelType(enum.Enum):  # openpi/models/model.py
        PI0 = "pi0"
        PI0_FAST = "pi0_fast"
        PI05 = "pi05"

    module("openpi.models.model", ModelType=ModelType)
    root = src / "src" / "openpi"
    for pkg, path in (("openpi", root), ("openpi.shared", root / "shared"), ("openpi.models", root / "models"),
                      ("openpi.policies", root / "policies")):
        m = sys.modules.get(pkg) or module(pkg)
        m.__path__ = [str(path)]
    client = src / "packages" / "openpi-client" / "src"
    sys.path.insert(0, str(client))
    out = {}
    for name, rel in (("openpi.shared.normalize", "shared/normalize.py"), ("openpi.transforms", "transforms.py"),
                      ("openpi.policies.libero_policy", "policies/libero_policy.py")):
        spec = importlib.util.spec_from_file_location(name, root / rel)
        assert spec and spec.loader
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        out[name.rsplit(".", 1)[-1]] = mod
    out["ModelType"] = ModelType
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("handoff")
    p.add_argument("native")
    p.add_argument("--openpi-src", help="openpi checkout (src/openpi, packages/openpi-client); without it the "
                                        "transforms are skipped with a note")
    p.add_argument("--action-horizon", type=int, default=50)  # pi0_config.py:26
    p.add_argument("--model-action-dim", type=int, default=32)  # pi0_config.py:25
    a = p.parse_args()

    def body(r: dict) -> None:
        h = Path(a.handoff)
        snippet = (h / "openpi" / "openpi_config.py").read_text()
        cfg = snippet_values(snippet)
        repo_id, keys = cfg["TELEFORGE_REPO_ID"], tuple(cfg["TELEFORGE_ACTION_SEQUENCE_KEYS"])
        r["config"] = {"repo_id": repo_id, "action_sequence_keys": keys, "name": cfg["TELEFORGE_CONFIG_NAME"]}
        manifest = json.loads((h / "teleforge_handoff.json").read_text())
        home = next(c.split("=", 1)[1] for c in manifest["commands"] if c.startswith("export HF_LEROBOT_HOME="))
        os.environ["HF_LEROBOT_HOME"] = home.strip("'")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("HF_DATASETS_CACHE", tempfile.mkdtemp(prefix="hf-datasets-"))
        from lerobot.common.datasets import lerobot_dataset

        # create_torch_dataset
        meta = lerobot_dataset.LeRobotDatasetMetadata(repo_id)
        ds = lerobot_dataset.LeRobotDataset(
            repo_id, delta_timestamps={k: [t / meta.fps for t in range(a.action_horizon)] for k in keys})
        r["codebase_version"] = meta.info["codebase_version"]
        r["frames"], r["episodes"] = len(ds), meta.total_episodes
        native = read_native(a.native)
        stats_path = h / "openpi" / "assets" / cfg["TELEFORGE_CONFIG_NAME"] / repo_id / "norm_stats.json"
        if not a.openpi_src:
            r["openpi_transforms"] = "skipped: no --openpi-src (openpi's source is not in shared/validators)"
            item = ds[0]
            acts = np.asarray(item[keys[0]])
            r["action_chunk_max_abs"] = float(np.abs(acts[: len(native[0]["action"])] - native[0]["action"][: a.action_horizon]).max())
            return
        src = Path(a.openpi_src)
        missing = check_snippet_in_config(snippet, src / "src" / "openpi" / "training" / "config.py")
        if missing:
            raise NameError(f"the appended config uses names openpi's config.py does not define: {missing}")
        op = load_openpi(src)
        T, lib, norm = op["transforms"], op["libero_policy"], op["normalize"]
        stats = norm.load(stats_path.parent)  # openpi's own reader (NormStats per key)
        r["norm_stats_keys"] = sorted(stats)
        pipeline = [
            T.PromptFromLeRobotTask(meta.tasks),  # prompt_from_task=True
            T.RepackTransform(cfg["TELEFORGE_REPACK"]),
            lib.LiberoInputs(model_type=op["ModelType"].PI0),
            T.Normalize(stats, use_quantiles=False),  # pi0: mean/std (config.py use_quantile_norm)
            T.PadStatesAndActions(a.model_action_dim),
        ]
        checks = []
        worst_a = worst_s = 0.0
        psnrs = []
        starts = np.cumsum([0] + [len(e["action"]) for e in native])[:-1]
        for ep_i, idx in ((0, int(starts[0])), (len(native) - 1, int(starts[-1]) + len(native[-1]["action"]) - 3)):
            data = {k: (v.numpy() if hasattr(v, "numpy") else v) for k, v in ds[idx].items()}
            for t in pipeline:
                data = t(data)
            checks.append({k: list(np.shape(v)) for k, v in data.items() if k not in ("image", "image_mask", "prompt")})
            back = T.Unnormalize(stats, use_quantiles=False)({"state": data["state"][..., :8], "actions": data["actions"][..., :7]})
            ep = native[ep_i]
            t0 = idx - int(starts[ep_i])
            n_act = ep["action"][t0: t0 + a.action_horizon]
            pad = len(n_act)  # beyond the episode LeRobot repeats the last step (and flags *_is_pad)
            worst_a = max(worst_a, float(np.abs(back["actions"][:pad] - n_act).max()))
            worst_s = max(worst_s, float(np.abs(back["state"] - native_state8(ep)[t0]).max()))
            if np.abs(data["actions"][:, 7:]).max() != 0 or data["actions"].shape != (a.action_horizon, a.model_action_dim):
                raise ValueError(f"actions {data['actions'].shape} not padded to ({a.action_horizon}, {a.model_action_dim})")
            cam = cfg["TELEFORGE_REPACK"]["observation/image"].rsplit(".", 1)[-1]
            psnrs.append(psnr(data["image"]["base_0_rgb"], decode_jpeg(ep[f"observation.images.{cam}"][t0])))
            r["prompt"] = data["prompt"]
            if not isinstance(data["prompt"], str) or not data["prompt"]:
                raise TypeError(f"prompt {data['prompt']!r} is not the episode's instruction")
        r["batch_shapes"] = checks[0]
        r["image_shape"] = list(data["image"]["base_0_rgb"].shape)
        r["action_max_abs_after_unnormalize"] = worst_a
        r["state_max_abs_after_unnormalize"] = worst_s
        r["image_psnr_min_db"] = min(psnrs)
        if worst_a > 1e-6 or worst_s > 1e-6:
            raise ValueError(f"values differ from the native reader after undoing openpi's normalisation: "
                             f"actions {worst_a:.2e}, state {worst_s:.2e}")

    run("openpi", body)


if __name__ == "__main__":
    main()
