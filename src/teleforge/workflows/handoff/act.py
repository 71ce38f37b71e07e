"""ACT target: an ALOHA export ACT's ``utils.load_data`` batches unchanged, its task registration and command.

ACT (tonyzhaozh/act, validated at 742c753) stacks whole episodes (``utils.get_norm_stats``),
so every episode is padded to the longest (the arm holds its last pose and action), and builds
its policy for a 14-wide state (``imitate_episodes.py``: ``state_dim = 14``), so qpos/qvel/action
are zero-padded to 14. ``imitate_episodes.py`` finds a task in ``constants.SIM_TASK_CONFIGS`` when
its name starts with ``sim_``: ``act_register.py`` appends the entry to an ACT checkout's
constants.py. Names from the data enter the written code through ``repr()`` only.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

from teleforge.convert.hdf5.aloha import act_episode_len, export_aloha
from teleforge.dataset.selection import ExportSource
from teleforge.errors import HandoffError
from teleforge.progress import Progress
from teleforge.workflows.handoff.common import HandoffConfig, HandoffResult

ACT_COMMIT = "742c753"
ACT_STATE_DIM = 14  # imitate_episodes.py: state_dim = 14; detr/models/detr_vae.py: nn.Linear(14, ...)


def chunk_size(episode_len: int, fps: float) -> int:
    """ACT's ``--chunk_size``: about 2 s of actions (ACT's 100 steps at 50 Hz), at most the episode length.

    ACT's loss compares ``chunk_size`` predicted actions with the episode's remaining ones, padded
    to ``episode_len``: a chunk longer than the episode does not fit."""
    return max(1, min(100, episode_len, round(2.0 * fps)))


def task_config(name: str, dataset_dir: Path, num_episodes: int, episode_len: int, cameras: list[str]) -> dict[str, Any]:
    """The ``SIM_TASK_CONFIGS`` entry ACT's imitate_episodes.py reads."""
    return {"dataset_dir": str(dataset_dir), "num_episodes": num_episodes, "episode_len": episode_len,
            "camera_names": cameras}


def write(src: ExportSource, out: Path, name: str, primary: str | None, res: HandoffResult, say: Progress) -> None:
    """``aloha/episode_N.hdf5`` (fixed length, 14-wide), ``act_register.py`` and the training command."""
    cams = src.dataset.spec.camera_names
    if not cams:
        raise HandoffError("ACT trains on camera images: record a camera, or pick another target")
    if primary in cams:
        cams = [primary] + [c for c in cams if c != primary]
    episode_len = act_episode_len(src)
    say.message(f"act: ALOHA export of {res.episodes} episodes, padded to {episode_len} steps, state {ACT_STATE_DIM}-wide")
    data = out / "aloha"
    export_aloha(src, data, episode_len=episode_len, state_dim=ACT_STATE_DIM)
    res.files["aloha"] = data
    task = "sim_" + name
    entry = task_config(name, data.resolve(), res.episodes, episode_len, cams)
    script = out / "act_register.py"
    script.write_text(_REGISTER.replace("@TASK@", repr(task)).replace("@ENTRY@", repr(entry)))
    res.files["register"] = script
    ckpt = out.resolve() / "act_ckpt"
    res.commands = [
        f"python {shlex.quote(str(script.resolve()))} .",
        f"python3 imitate_episodes.py --task_name {shlex.quote(task)} --ckpt_dir {shlex.quote(str(ckpt))} "
        f"--policy_class ACT --kl_weight 10 --chunk_size {chunk_size(episode_len, src.dataset.spec.fps)} "
        "--hidden_dim 512 --batch_size 8 --dim_feedforward 3200 --num_epochs 2000 --lr 1e-5 --seed 0",
    ]


_REGISTER = '''"""Register this teleforge handoff as an ACT task (written by `teleforge handoff act`).

Usage: python act_register.py ACT_CHECKOUT
Appends the task to SIM_TASK_CONFIGS in ACT_CHECKOUT/constants.py (imitate_episodes.py reads it
there for task names starting with "sim_"). Running it again changes nothing.
"""

import sys
from pathlib import Path

TASK = @TASK@
ENTRY = @ENTRY@
BLOCK = "\\n\\n# teleforge handoff\\nSIM_TASK_CONFIGS[" + repr(TASK) + "] = " + repr(ENTRY) + "\\n"


def main(checkout):
    path = Path(checkout, "constants.py")
    if not path.is_file() or "SIM_TASK_CONFIGS" not in path.read_text():
        sys.exit(f"{path} has no SIM_TASK_CONFIGS: pass the root of an ACT checkout (tonyzhaozh/act)")
    text = path.read_text()
    if BLOCK in text:
        print(f"{path}: {TASK!r} already registered")
        return
    path.write_text(text.rstrip("\\n") + BLOCK)
    print(f"{path}: registered {TASK!r}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python act_register.py ACT_CHECKOUT")
    main(sys.argv[1])
'''


def readme_section(cfg: HandoffConfig, res: HandoffResult, name: str) -> list[str]:
    """The README's 'Run it' part for ACT."""
    return [
        f"## Run it (in an ACT checkout, https://github.com/tonyzhaozh/act; validated at {ACT_COMMIT})",
        "",
        "From the root of the checkout (its conda env, a CUDA GPU: imitate_episodes.py calls `policy.cuda()`): "
        "register the task in constants.py, then train:",
        "",
        "```bash",
        *res.commands,
        "```",
        "",
        "Episodes are padded to the longest one (rows after the real `steps` of the `teleforge_layout` attribute "
        "repeat the last observation and hold the last action; velocities are 0) and qpos/qvel/action are "
        f"zero-padded to ACT's {ACT_STATE_DIM} dims: [joint_pos..., gripper opening (1 = open), 0...]. "
        "ACT's backbone loads torchvision's ImageNet ResNet-18 weights (downloaded once).",
    ]
