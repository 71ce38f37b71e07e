"""Closed-loop evaluation of a :class:`~teleforge.train_adapter.policy.Policy` in the sim.

Every episode resets the workcell from a fixed, held-out seed, renders the cameras the
policy asks for at the size it was trained on, round-trips each frame through JPEG at
the recorder's quality (so the policy sees what training saw), and executes the
predicted action chunks until the task's predicate has held for ``success_hold_s`` or
the task's time limit runs out.

Held-out seeds: episode k of an evaluation uses scene seed ``seed_base + k`` with
``seed_base = EVAL_SEED_BASE = 9_000_000``. Collection seeds stay below that: ``teleforge
collect --seed`` (default 0), the demo and the experiment use seeds under 100,000, and
the bundled base's pretraining data uses 1,000,000-1,999,999. A checkpoint that declares
its training seeds (``PolicyInfo.extra["train_seeds"]``) is checked against them.

Frames are rendered at the size the training data was recorded at
(``PolicyInfo.extra["render_size"]``, else ``image_size``); the policy resizes them the
way it did in training. Each episode runs through the one closed-loop runner
(``closed_loop.run_episode``), which holds the success rule and the observation path.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from teleforge.dataset import Dataset
from teleforge.errors import EvalError, PolicyMismatchError
from teleforge.progress import Progress, or_null
from teleforge.robots.sim_cameras import render
from teleforge.robots.sim_robot import SimRobot
from teleforge.robots.tasks import get_task
from teleforge.train_adapter.closed_loop import LoopConfig, run_episode
from teleforge.train_adapter.policy import Policy, PolicyInfo
from teleforge.video import write_video

EVAL_SEED_BASE = 9_000_000
NATIVE_ACTION_SPACE = "native_ee_delta"


@dataclass
class EvalConfig:
    """How to evaluate; the defaults are the issue's ``--episodes 50`` on held-out seeds."""

    task: str = "pick_cube"
    episodes: int = 50
    seed_base: int = EVAL_SEED_BASE
    time_limit_s: float | None = None  # None: the task's own limit
    success_hold_s: float = 0.5  # the predicate must hold this long (the collection session's rule)
    execute: int | None = None  # actions executed per predicted chunk; None: the whole chunk
    temporal_ensemble: bool = False  # ACT-style: query every `execute` steps, average overlapping predictions
    ensemble_decay: float = 0.01  # weight exp(-decay * i), i = 0 for the oldest prediction of a step
    jpeg_quality: int | None = 95  # the recorder's quality; None feeds raw renders
    render_size: int | None = None  # None: the checkpoint's recorded size (extra["render_size"]), else its image_size
    hz: float | None = None  # None: the policy's control_hz
    videos: int = 10  # first N episodes get a video; 0 for none
    video_format: str = "gif"  # gif | mp4
    video_camera: str | None = None  # None: the policy's first camera, else "front"
    out: Path | None = None  # results.json and videos/ land here
    train_seeds: Iterable[int] | None = None  # scene seeds the policy was trained on; must not overlap

    def seeds(self) -> list[int]:
        return [self.seed_base + k for k in range(self.episodes)]


@dataclass
class EpisodeResult:
    seed: int
    instruction: str
    success: bool
    steps: int
    seconds: float
    chunks: int
    first_success_step: int | None = None
    ended_by: str = "time_limit"  # success | time_limit
    video: str | None = None


@dataclass
class EvalResult:
    task: str
    policy: dict[str, Any]
    config: dict[str, Any]
    episodes: list[EpisodeResult]
    latency_ms: list[float] = field(default_factory=list)  # one per predicted chunk
    seconds: float = 0.0

    @property
    def successes(self) -> int:
        return sum(e.success for e in self.episodes)

    @property
    def success_rate(self) -> float:
        return self.successes / len(self.episodes) if self.episodes else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        return wilson_interval(self.successes, len(self.episodes))

    def latency(self, q: float) -> float:
        return float(np.percentile(self.latency_ms, q)) if self.latency_ms else float("nan")

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.ci95
        return {
            "format": "teleforge.eval/1",
            "task": self.task,
            "episodes": len(self.episodes),
            "successes": self.successes,
            "success_rate": self.success_rate,
            "ci95": [lo, hi],
            "latency_ms": {"p50": self.latency(50), "p95": self.latency(95), "mean": float(np.mean(self.latency_ms)) if self.latency_ms else None,
                           "chunks": len(self.latency_ms)},
            "seconds": self.seconds,
            "seeds": [e.seed for e in self.episodes],
            "policy": self.policy,
            "config": self.config,
            "per_episode": [asdict(e) for e in self.episodes],
        }

    def save(self, path: Path | str) -> Path:
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(self.to_dict(), indent=2, default=_json_default))
        return p


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials (95 % for z = 1.96); (0, 1) when n = 0."""
    if n <= 0:
        return 0.0, 1.0
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def check_policy(info: PolicyInfo, cfg: EvalConfig, scene_cameras: Iterable[str]) -> None:
    """Refuse a policy the sim cannot run faithfully, saying what differs and what to do."""
    if info.action_space != NATIVE_ACTION_SPACE:
        raise PolicyMismatchError(
            f"the checkpoint predicts '{info.action_space}' actions, the sim executes '{NATIVE_ACTION_SPACE}' "
            "(EE delta + gripper, 1 = closed): retrain on native actions (`teleforge train`), or evaluate it in its own stack"
        )
    have = set(scene_cameras)
    missing = [c for c in info.cameras if c not in have]
    if missing:
        raise PolicyMismatchError(
            f"the checkpoint needs camera(s) {', '.join(missing)} that the sim does not have ({', '.join(sorted(have))}): "
            "retrain with --cameras set to the sim's cameras"
        )
    if info.cameras and (not isinstance(info.image_size, int) or info.image_size <= 0):
        raise PolicyMismatchError(f"the checkpoint declares image_size={info.image_size!r}; it must be a positive pixel count")
    if int(info.chunk) < 1:
        raise PolicyMismatchError(f"the checkpoint declares chunk={info.chunk}; it must predict at least one action")
    if cfg.hz is not None and abs(float(cfg.hz) - float(info.control_hz)) > 1e-6:
        raise PolicyMismatchError(
            f"the checkpoint was trained at {info.control_hz:g} Hz, the evaluation asks for {cfg.hz:g} Hz: "
            "drop --hz, or retrain on data recorded at that rate"
        )
    tasks = info.extra.get("tasks")
    if tasks and cfg.task not in tasks:
        raise PolicyMismatchError(
            f"the checkpoint was trained on {', '.join(tasks)}, not '{cfg.task}': pick one of those with --task, or fine-tune on {cfg.task} data"
        )
    train_seeds = set(int(s) for s in (cfg.train_seeds or [])) | set(int(s) for s in info.extra.get("train_seeds", []) or [])
    clash = sorted(train_seeds & set(cfg.seeds()))
    if clash:
        raise EvalError(
            f"evaluation seeds {clash[:5]} were used for training: held-out seeds start at {EVAL_SEED_BASE}; "
            "collect training data with seeds below that, or pass another --seed-base"
        )
    if cfg.execute is not None and cfg.execute < 1:
        raise EvalError(f"execute must be at least 1 action per chunk, got {cfg.execute}")
    if cfg.episodes < 1:
        raise EvalError(f"episodes must be at least 1, got {cfg.episodes}")


def render_size_for(info: PolicyInfo) -> int:
    """The camera size the policy's training data was recorded at, so eval frames match training frames.

    ``extra["render_size"]`` (or ``extra["trained_on"]["render_size"]``) when the checkpoint
    declares it; else the first camera of the dataset it was trained on
    (``extra["trained_on"]["data"]``) when that dataset is here; else the model's input size.
    """
    if info.extra.get("render_size"):
        return int(info.extra["render_size"])
    trained_on = info.extra.get("trained_on") or {}
    if trained_on.get("render_size"):
        return int(trained_on["render_size"])
    data = trained_on.get("data")
    if data:
        try:
            cams = {c.name: c for c in Dataset.open(data).spec.cameras}
            cam = cams.get(info.cameras[0]) if info.cameras else None
            if cam is not None:
                return int(cam.height)
        except Exception:  # the training data moved or is gone: fall back to the model's input size
            pass
    return int(info.image_size or 224)


def _torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads when torch is loaded; return the previous count."""
    torch = sys.modules.get("torch")
    if torch is None or n is None:
        return None
    prev = torch.get_num_threads()
    torch.set_num_threads(n)
    return prev


def evaluate(
    policy: Policy,
    cfg: EvalConfig | None = None,
    *,
    progress: Progress | None = None,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> EvalResult:
    """Run ``cfg.episodes`` closed-loop episodes of ``cfg.task`` in the sim on held-out seeds; see the module doc.

    One progress unit per episode; ``on_episode`` gets each result as it finishes.
    """
    cfg = cfg or EvalConfig()
    info = policy.info
    task = get_task(cfg.task)
    hz = float(cfg.hz or info.control_hz)
    robot = SimRobot(control_hz=hz)
    scene_cameras = [robot.model.camera(i).name for i in range(robot.model.ncam)]
    check_policy(info, cfg, scene_cameras)
    if cfg.video_format not in ("gif", "mp4"):
        raise EvalError(f"video_format must be gif or mp4, got {cfg.video_format!r}")
    video_cam = cfg.video_camera or (info.cameras[0] if info.cameras else "front")
    if video_cam not in scene_cameras:
        raise EvalError(f"video camera '{video_cam}' is not in the scene: choose one of {', '.join(scene_cameras)}")
    size = int(cfg.render_size or render_size_for(info))
    time_limit = float(cfg.time_limit_s if cfg.time_limit_s is not None else task.time_limit_s)
    execute = int(cfg.execute or info.chunk)
    if cfg.temporal_ensemble and cfg.execute is None:
        execute = 1  # ACT queries every step when ensembling
    execute = min(execute, int(info.chunk)) if not cfg.temporal_ensemble else execute
    loop = LoopConfig(max_steps=max(1, int(round(time_limit * hz))), hold_steps=max(1, int(round(cfg.success_hold_s * hz))),
                      execute=execute, temporal_ensemble=cfg.temporal_ensemble, ensemble_decay=cfg.ensemble_decay,
                      render_size=size, jpeg_quality=cfg.jpeg_quality,
                      decode_size=0)  # full decode + resize_frame, as the training loader and the base's pretraining do
    out = Path(cfg.out) if cfg.out else None

    def frames(camera: str, size: int) -> np.ndarray:
        return render(robot, camera, size, size)

    robot.connect()
    results: list[EpisodeResult] = []
    latency: list[float] = []
    t_all = time.perf_counter()
    prog = or_null(progress)
    prog.start(cfg.episodes, f"eval {cfg.task}")
    # Batch-1 inference is faster on one thread (no sync across cores), and the
    # renderer gets the other core; restored afterwards.
    threads = _torch_threads(1)
    try:
        for k, seed in enumerate(cfg.seeds()):
            t0 = time.perf_counter()
            want_video = out is not None and k < cfg.videos
            ep = run_episode(policy, robot, robot, frames, cfg.task, seed,
                             replace(loop, video_camera=video_cam if want_video else None))
            latency.extend(ep.latency_ms)
            video = None
            if out is not None and want_video and ep.frames:
                tag = "ok" if ep.success else "fail"
                video = str(write_video(ep.frames, out / "videos" / f"ep{k:03d}_seed{seed}_{tag}.{cfg.video_format}", fps=hz))
            res = EpisodeResult(seed=seed, instruction=ep.instruction, success=ep.success, steps=ep.steps,
                                seconds=time.perf_counter() - t0, chunks=ep.chunks, first_success_step=ep.first_success_step,
                                ended_by=ep.ended_by, video=video)
            results.append(res)
            prog.advance(1, success=f"{sum(r.success for r in results)}/{len(results)}")
            if on_episode is not None:
                on_episode(res)
    finally:
        prog.done()
        robot.disconnect()
        _torch_threads(threads)
    result = EvalResult(
        task=cfg.task,
        policy=_info_dict(info),
        config={**{k: v for k, v in asdict(cfg).items() if k not in ("train_seeds", "out")},
                "out": str(out) if out else None, "execute": execute, "hz": hz, "time_limit_s": time_limit},
        episodes=results,
        latency_ms=latency,
        seconds=time.perf_counter() - t_all,
    )
    if out is not None:
        result.save(out / "results.json")
    return result


def _info_dict(info: PolicyInfo) -> dict[str, Any]:
    d = asdict(info)
    d["cameras"] = list(info.cameras)
    d["extra"] = {k: v for k, v in info.extra.items() if k != "train_seeds"}
    return d


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer, np.floating)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    return str(o)
