"""Small valid seed files for the fuzz harness, made in the test (no simulator, no downloads).

One native dataset (2 short episodes, one 24x32 JPEG camera, a view, a session) and its
exports: RLDS, LeRobot v3, HF ``datasets`` folder, robomimic and ALOHA. Built once per
seed folder and reused: every fuzz case copies the one seed it mutates.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.convert.h5_synth import build_dataset, write_view

STEPS = 6
SEEDS = ("native", "rlds", "lerobot", "hf", "robomimic", "aloha")


def _native(root: Path) -> None:
    build_dataset(root, episodes=2, steps=STEPS, cams=("front",), first_frame_missing=True)
    write_view(root, "keep", [0, 1], trims={1: (1, 5)})


def build_seeds(base: Path) -> dict[str, Path]:
    """Build (or reuse) every seed under ``base``; returns seed name -> path (a folder or a file)."""
    base = Path(base)
    done = base / ".complete"
    paths = {
        "native": base / "native",
        "rlds": base / "rlds",
        "lerobot": base / "lerobot",
        "hf": base / "hf",
        "robomimic": base / "robomimic" / "demo.hdf5",
        "aloha": base / "aloha",
    }
    if done.is_file():
        return paths
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    from teleforge.convert.hdf5.aloha import export_aloha
    from teleforge.convert.hdf5.robomimic import export_robomimic
    from teleforge.convert.hf.export import export_hf
    from teleforge.convert.lerobot.writer import export_lerobot
    from teleforge.convert.rlds.writer import export_rlds
    from teleforge.dataset.selection import select

    _native(paths["native"])
    src = paths["native"]
    export_rlds(select(src), paths["rlds"])
    export_lerobot(select(src), paths["lerobot"])
    export_hf(select(src), paths["hf"])
    paths["robomimic"].parent.mkdir()
    export_robomimic(select(src), paths["robomimic"])
    export_aloha(select(src), paths["aloha"])
    done.write_text(json.dumps({k: str(v) for k, v in paths.items()}))
    return paths


def seed_files(seed_path: Path) -> list[str]:
    """Every regular file of a seed, relative to the seed's folder (a file seed: its own name)."""
    if seed_path.is_file():
        return [seed_path.name]
    return sorted(str(p.relative_to(seed_path)) for p in seed_path.rglob("*") if p.is_file())
