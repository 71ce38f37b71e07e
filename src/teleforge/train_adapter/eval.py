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
way it did in training.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from teleforge.errors import EvalError, PolicyMismatchError
from teleforge.train_adapter.policy import Policy, PolicyInfo, PolicyObs

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
            from teleforge.dataset import Dataset

            cams = {c.name: c for c in Dataset.open(data).spec.cameras}
            cam = cams.get(info.cameras[0]) if info.cameras else None
            if cam is not None:
                return int(cam.height)
        except Exception:  # the training data moved or is gone: fall back to the model's input size
            pass
    return int(info.image_size or 224)


def _jpeg_roundtrip(img: np.ndarray, quality: int | None) -> np.ndarray:
    if quality is None:
        return img
    from teleforge.dataset.images import jpeg_roundtrip

    return jpeg_roundtrip(img, quality)


def _check_chunk(chunk: Any) -> np.ndarray:
    a = np.asarray(chunk, dtype=np.float32)
    if a.ndim == 1 and a.shape[0] == 7:
        a = a[None]
    if a.ndim != 2 or a.shape[1] != 7 or a.shape[0] < 1:
        raise EvalError(f"the policy returned actions of shape {a.shape}; predict() must return (chunk, 7) native actions")
    if not np.all(np.isfinite(a)):
        raise EvalError("the policy returned non-finite actions (NaN/inf): check the checkpoint's normalization statistics")
    return a


class _ChunkExecutor:
    """Turns predicted chunks into one action per step: plain chunking, or ACT-style temporal ensembling."""

    def __init__(self, execute: int, ensemble: bool, decay: float) -> None:
        self.execute = execute
        self.ensemble = ensemble
        self.decay = decay
        self._queue: list[np.ndarray] = []
        self._preds: list[tuple[int, np.ndarray]] = []  # (start step, chunk), oldest first

    def needs_query(self, t: int) -> bool:
        return (t % self.execute == 0) if self.ensemble else not self._queue

    def add(self, t: int, chunk: np.ndarray) -> None:
        if self.ensemble:
            self._preds.append((t, chunk))
        else:
            self._queue = list(chunk[: self.execute])

    def action(self, t: int) -> np.ndarray:
        if not self.ensemble:
            return self._queue.pop(0)
        self._preds = [(s, c) for s, c in self._preds if t - s < len(c)]
        acts = np.stack([c[t - s] for s, c in self._preds])  # oldest first
        w = np.exp(-self.decay * np.arange(len(acts)))
        return (acts * w[:, None]).sum(0) / w.sum()


def _torch_threads(n: int | None) -> int | None:
    """Set torch's intra-op threads when torch is loaded; return the previous count."""
    import sys

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
    console: Any | None = None,
    on_episode: Callable[[EpisodeResult], None] | None = None,
) -> EvalResult:
    """Run ``cfg.episodes`` closed-loop episodes of ``cfg.task`` on held-out seeds; see the module doc."""
    from teleforge.robots.sim_cameras import render
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.robots.tasks import get_task

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
    max_steps = max(1, int(round(time_limit * hz)))
    hold_steps = max(1, int(round(cfg.success_hold_s * hz)))
    execute = int(cfg.execute or info.chunk)
    if cfg.temporal_ensemble and cfg.execute is None:
        execute = 1  # ACT queries every step when ensembling
    execute = min(execute, int(info.chunk)) if not cfg.temporal_ensemble else execute
    out = Path(cfg.out) if cfg.out else None

    robot.connect()
    results: list[EpisodeResult] = []
    latency: list[float] = []
    t_all = time.perf_counter()
    progress = _Progress(console, cfg.episodes, f"eval {cfg.task}")
    # Batch-1 inference is faster on one thread (no sync across cores), and the
    # renderer gets the other core; restored afterwards.
    threads = _torch_threads(1)
    try:
        for k, seed in enumerate(cfg.seeds()):
            t0 = time.perf_counter()
            tinfo = robot.reset(cfg.task, seed)
            bind = getattr(policy, "bind", None)
            if callable(bind):  # privileged reference policies (the scripted oracle) read the sim directly
                bind(robot)
            policy.reset(tinfo.instruction)
            runner = _ChunkExecutor(execute, cfg.temporal_ensemble, cfg.ensemble_decay)
            want_video = out is not None and k < cfg.videos
            frames: list[np.ndarray] = []
            chunks = 0
            held = 0
            first_success: int | None = None
            ended_by = "time_limit"
            success = False
            step = 0
            for step in range(max_steps):
                images: dict[str, np.ndarray] = {}
                if runner.needs_query(step):
                    raw = {c: render(robot, c, size, size) for c in info.cameras}
                    images = {c: _jpeg_roundtrip(v, cfg.jpeg_quality) for c, v in raw.items()}
                    obs = PolicyObs.from_robot(robot.observe(), images, tinfo.instruction)
                    tq = time.perf_counter()
                    chunk = _check_chunk(policy.predict(obs))
                    latency.append((time.perf_counter() - tq) * 1e3)
                    chunks += 1
                    runner.add(step, chunk)
                if want_video:
                    frames.append(images.get(video_cam) if video_cam in images else render(robot, video_cam, size, size))
                robot.act(runner.action(step))
                if robot.success():
                    held += 1
                    first_success = step if first_success is None else first_success
                    if held >= hold_steps:
                        ended_by, success = "success", True
                        break
                else:
                    held = 0
            else:
                success = bool(robot.success())
            video = None
            if want_video and frames:
                from teleforge.video import write_video

                tag = "ok" if success else "fail"
                video = str(write_video(frames, out / "videos" / f"ep{k:03d}_seed{seed}_{tag}.{cfg.video_format}", fps=hz))
            res = EpisodeResult(seed=seed, instruction=tinfo.instruction, success=success, steps=step + 1,
                                seconds=time.perf_counter() - t0, chunks=chunks, first_success_step=first_success,
                                ended_by=ended_by, video=video)
            results.append(res)
            progress.advance(res)
            if on_episode is not None:
                on_episode(res)
    finally:
        progress.close()
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


class _Progress:
    """A rich progress bar when there is a console; silent otherwise."""

    def __init__(self, console: Any | None, total: int, label: str) -> None:
        self._prog = None
        self._ok = 0
        self._n = 0
        if console is not None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            self._prog = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(), console=console)
            self._prog.start()
            self._task = self._prog.add_task(label, total=total, status="")

    def advance(self, res: EpisodeResult) -> None:
        self._n += 1
        self._ok += int(res.success)
        if self._prog is not None:
            self._prog.update(self._task, advance=1, status=f"success {self._ok}/{self._n}")

    def close(self) -> None:
        if self._prog is not None:
            self._prog.stop()


def result_table(result: EvalResult, title: str | None = None) -> Any:
    """A rich table: success with its 95 % interval, latency, time."""
    from rich.table import Table

    lo, hi = result.ci95
    t = Table(title=title or f"closed-loop eval · {result.task}", title_justify="left")
    for c in ("policy", "n", "success", "95% CI", "p50 ms", "p95 ms", "chunks", "time"):
        t.add_column(c, justify="right" if c != "policy" else "left")
    p = result.policy
    t.add_row(
        f"{p.get('head', '?')}·{p.get('chunk', '?')}",
        str(len(result.episodes)),
        f"[bold]{result.success_rate:.0%}[/]",
        f"{lo:.0%}–{hi:.0%}",
        f"{result.latency(50):.1f}",
        f"{result.latency(95):.1f}",
        str(len(result.latency_ms)),
        f"{result.seconds:.0f}s",
    )
    t.caption = "latency: one predict() per chunk · CI: Wilson score interval"
    return t


# --- reference policies: the scripted oracle (upper bound) and a do-nothing policy (lower bound) -----------
class ExpertPolicy:
    """The sim's scripted expert behind the Policy protocol: privileged, so it needs ``bind(robot)``.

    A sanity check for the evaluator (it should succeed nearly always) and the ceiling a
    learned policy is compared with.
    """

    def __init__(self, task: str = "pick_cube", cameras: tuple[str, ...] = ("front",), image_size: int = 224,
                 control_hz: float = 20.0) -> None:
        self.task = task
        self.info = PolicyInfo(head="expert", chunk=1, cameras=cameras, image_size=image_size, control_hz=control_hz,
                               extra={"tasks": [task], "kind": "scripted oracle"})
        self._robot: Any = None
        self._expert: Any = None

    def bind(self, robot: Any) -> None:
        self._robot = robot

    def reset(self, instruction: str) -> None:
        from teleforge.robots.expert import ScriptedExpert

        if self._robot is None:
            raise EvalError("the scripted oracle reads the sim's state: the evaluator must call bind(robot) before reset()")
        self._expert = ScriptedExpert(self.task, seed=self._robot.task_info.seed)
        self._expert.reset(self._robot)

    def predict(self, obs: PolicyObs) -> np.ndarray:
        return np.asarray(self._expert.act(self._robot), dtype=np.float32)[None]


class ZeroPolicy:
    """Never moves, gripper open: the floor any trained policy must beat."""

    def __init__(self, cameras: tuple[str, ...] = ("front",), image_size: int = 224, chunk: int = 8,
                 control_hz: float = 20.0) -> None:
        self.info = PolicyInfo(head="zero", chunk=chunk, cameras=cameras, image_size=image_size, control_hz=control_hz)

    def reset(self, instruction: str) -> None:
        pass

    def predict(self, obs: PolicyObs) -> np.ndarray:
        return np.zeros((self.info.chunk, 7), np.float32)
