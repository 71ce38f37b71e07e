"""The ``teleforge`` command. Thin: parse, call the library, print. No logic here."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from teleforge.cli import render
from teleforge.cli.grammar import deprecated
from teleforge.cli.progress import RichProgress
from teleforge.cli.render import fail
from teleforge.dataset import Dataset, summarize
from teleforge.dataset import recover as run_recover
from teleforge.errors import TeleforgeError
from teleforge.teleop.devices.registry import list_devices
from teleforge.teleop.replay import replay_dataset

app = typer.Typer(
    name="teleforge",
    help="Teleoperate a robot arm, record synchronized demonstrations, and manage the datasets.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help text is plain: brackets such as teleforge[train] and [[rule]] survive
)
console = Console()
err_console = Console(stderr=True)


_fail = fail  # one error format for every command


def _version(value: bool) -> None:
    if value:
        import teleforge  # the package root (not a layer): its __version__

        print(f"teleforge {teleforge.__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit.")) -> None:
    """Teleoperate a robot arm, record synchronized demonstrations, and manage the datasets."""


@app.command()
def demo(
    out: Path = typer.Option(Path("teleforge_demo"), "--out", "-o", help="Folder for the dataset, exports, runs and eval (created)."),
    episodes: int = typer.Option(10, help="Scripted episodes to collect per task."),
    tasks: str = typer.Option("pick_cube,place_in_bin,push_to_target,stack", help="Comma-separated tasks."),
    quick: bool = typer.Option(False, "--quick", help="One task, 4 episodes, a short fine-tune and 5 eval episodes: ≤ 3 minutes."),
    failure_rate: float = typer.Option(0.3, help="Share of episodes where the expert injects a failure."),
    seed: int = typer.Option(0, help="First scene seed."),
    image_size: int = typer.Option(128, "--image-size", help="Camera image size in pixels (square)."),
    size: Optional[int] = typer.Option(None, "--size", hidden=True, help="Deprecated: use --image-size."),
    export: bool = typer.Option(True, "--export/--no-export", help="Export the curated view as RLDS and LeRobot v3."),
    train: bool = typer.Option(True, "--train/--no-train", help="Fine-tune the bundled VLA on the curated view and evaluate it (needs teleforge[train])."),
    head: str = typer.Option("flow", help="Action head to fine-tune: tokens | flow."),
    train_time: float = typer.Option(180.0, help="Fine-tune wall-clock budget in seconds."),
    eval_episodes: int = typer.Option(20, help="Closed-loop eval episodes on held-out pick_cube seeds."),
) -> None:
    """Run the whole story on the embedded sim: collect with injected failures, curate, export, fine-tune, evaluate."""
    from teleforge.workflows.demo import DemoConfig, run_demo  # lazy: mujoco and pygame only when a command needs them

    cfg = DemoConfig(out=out, episodes_per_task=episodes, tasks=tuple(t.strip() for t in tasks.split(",") if t.strip()),
                     quick=quick, failure_rate=failure_rate, seed=seed, image_size=deprecated(image_size, size, "--size", "--image-size"), export=export, train=train,
                     head=head, train_time_s=train_time, eval_episodes=eval_episodes)
    try:
        report = run_demo(cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    render.demo_report(console, report)


@app.command()
def collect(
    dataset: Path = typer.Option(Path("teleforge_data"), "--dataset", "-d", help="Dataset folder; created if new, appended to if it exists."),
    device: str = typer.Option("keyboard", "--device", help="keyboard | gamepad | spacemouse | scripted"),
    robot: str = typer.Option("sim", "--robot", help="'sim'; tcp://HOST:PORT, an arm served by `teleforge serve-robot` (token from TELEFORGE_ROBOT_TOKEN); xarm://HOST, a UFactory xArm (needs teleforge[xarm]); ur://HOST, a Universal Robots arm (needs teleforge[ur]). The limits in force are printed at start."),
    task: str = typer.Option("pick_cube", "--task", "-t", help="pick_cube | place_in_bin | push_to_target | stack"),
    episodes: int = typer.Option(10, "--episodes", "-n", help="Stop after this many saved episodes."),
    hz: float = typer.Option(20.0, help="Control rate in Hz (20 default; up to 50+)."),
    cameras: str = typer.Option("front,wrist", help="Cameras to record, comma-separated."),
    image_size: int = typer.Option(224, "--image-size", help="Camera image size in pixels (square)."),
    size: Optional[int] = typer.Option(None, "--size", hidden=True, help="Deprecated: use --image-size."),
    camera_fps: float = typer.Option(30.0, help="Camera frame rate."),
    headless: bool = typer.Option(False, "--headless", help="No window (scripted/replay devices, or servers)."),
    operator: str = typer.Option(os.environ.get("USER", "operator"), help="Operator id stored with every episode."),
    notes: str = typer.Option("", help="Free-text notes for this collection session."),
    seed: int = typer.Option(0, help="Scene seed of the first episode; episode k uses seed+k."),
    quality: float = typer.Option(1.0, help="Scripted expert only: 1.0 = best; lower injects failures."),
    failure: Optional[str] = typer.Option(None, help="Scripted expert only: force one failure kind (idle, jitter, overshoot, dropped_object, wrong_object, timeout)."),
    failure_rate: Optional[float] = typer.Option(None, help="Scripted expert only: share of episodes (drawn per seed) that get an injected, labelled failure."),
    screenshot: Optional[Path] = typer.Option(None, help="Save the operator window to this PNG when the session ends."),
    time_limit: Optional[float] = typer.Option(None, "--time-limit", help="Episode time limit in seconds, shown as a countdown (default: 60 for keyboard/gamepad/spacemouse, the task's own for scripted)."),
    control_frame: str = typer.Option("view", "--control-frame", help="view: W/A move away from the viewer / to the left as the front camera shows it; base: along the robot's +x / +y."),
    camera: Optional[list[str]] = typer.Option(None, "--camera", help="NAME=SOURCE, repeatable; replaces --cameras. SOURCE: sim (scene camera NAME), a device index or /dev/videoN, a video file (loops), an rtsp/http URL, or realsense[:SERIAL]."),
    policy: Optional[str] = typer.Option(None, "--policy", help="Let a policy drive and take over when it errs: 'bundled' (the bundled VLA), a `teleforge train` checkpoint folder, or a reference policy (expert = the sim's scripted oracle, zero = never moves). --device is yours: its takeover button (keyboard T, gamepad right-stick click) hands control to you and back; every step records who was in control."),
    shadow: bool = typer.Option(False, "--shadow", help="xarm:// and ur:// only: connect and read the arm, compute and show every command, send no motion. Use it for the first session on a new arm."),
    depth: str = typer.Option("", "--depth", help="Cameras that also record depth (uint16 mm, lossless PNG-16), comma-separated: sim cameras render it, realsense sources stream it aligned to colour."),
) -> None:
    """Collect demonstrations at the robot (window with cameras, REC light, countdown, instruction).

    Keys: ENTER start / save success, BACKSPACE save failure, X discard, Z reset scene,
    ESC e-stop (SHIFT+ESC releases), SPACE gripper, TAB fine mode, CTRL+Q quit (asks
    whether to keep the episode in progress); move with W/S A/D R/F as the front view
    shows it, rotate with the arrows and Q/E. After each save a quality card shows: 1/2/3
    relabel, X discards it. Closing the window asks like CTRL+Q; Ctrl-C keeps the episode
    in progress as unknown. A crash never loses saved episodes: run
    `teleforge recover DATASET` afterwards to salvage the one in progress.

    With --policy a policy drives and --device is the operator's: T (keyboard) or the
    right-stick click (gamepad) takes over and hands back; episodes carry the intervention
    segments (`teleforge curate` can select them). Real arms: --robot xarm://HOST or
    ur://HOST, first with --shadow.
    """
    from teleforge.workflows.collect import collect as run_collect  # lazy: mujoco and pygame
    from teleforge.workflows.collect_config import CollectConfig

    cfg = CollectConfig(
        dataset=dataset, device=device, robot=robot, task=task, episodes=episodes, hz=hz,
        cameras=tuple(c.strip() for c in cameras.split(",") if c.strip()), image_size=deprecated(image_size, size, "--size", "--image-size"),
        camera_fps=camera_fps, headless=headless, operator_id=operator, notes=notes, seed=seed,
        quality=quality, failure=failure, failure_rate=failure_rate, screenshot=screenshot,
        time_limit_s=time_limit, control_frame=control_frame, camera_sources=tuple(camera or ()),
        policy=policy, shadow=shadow, depth_cameras=tuple(c.strip() for c in depth.split(",") if c.strip()),
    )
    try:
        result = run_collect(cfg, progress=RichProgress(console))
    except TeleforgeError as exc:
        _fail(exc)
    render.session_report(console, result, dataset)


@app.command()
def devices() -> None:
    """List the input devices connected to this machine, and the safety limits each robot gets."""
    render.devices_table(console, list_devices())
    from teleforge.workflows.collect_parts import safety_limits_by_robot  # lazy: builds the sim model

    for robot, line in safety_limits_by_robot().items():
        console.print(f"safety limits for {robot}: {line}")


@app.command()
def info(dataset: str = typer.Argument(..., help="Dataset folder or URI (s3://bucket/ds).")) -> None:
    """Summarize a dataset: episodes, steps, tasks, outcomes, cameras, disk size, timing health."""
    from teleforge.cli.remote import local_dataset

    try:
        summary = summarize(Dataset.open(local_dataset(dataset)))
    except TeleforgeError as exc:
        _fail(exc)
    render.info_summary(console, summary)


@app.command()
def recover(dataset: Path = typer.Argument(..., help="Dataset folder left by a crash.")) -> None:
    """Salvage episodes left as .partial by a crash and rebuild the catalog. Safe to run twice."""
    try:
        report = run_recover(dataset)
    except TeleforgeError as exc:
        _fail(exc)
    render.recover_report(console, report)


@app.command()
def verify(dataset: str = typer.Argument(..., help="Dataset folder or URI (s3://bucket/ds: every shard is fetched).")) -> None:
    """Check every shard (checksums, readable, step counts), every view and the catalog; exit 1 on problems."""
    from teleforge.cli.remote import local_dataset
    from teleforge.dataset.verify import verify_dataset

    try:
        report = verify_dataset(local_dataset(dataset, None))
    except TeleforgeError as exc:
        _fail(exc)
    render.verify_report(console, report)
    if not report.ok:
        raise typer.Exit(code=1)


@app.command()
def replay(
    dataset: Path = typer.Argument(..., help="Dataset folder."),
    episode: Optional[int] = typer.Option(None, "--episode", "-e", help="Episode id (default: all)."),
    video: Optional[Path] = typer.Option(None, help="Render the episode to this .mp4 or .gif."),
    camera: str = typer.Option("front", help="Camera for --video."),
) -> None:
    """Re-execute recorded actions in the sim from the recorded seed; report final-state error and success."""
    try:
        reports = replay_dataset(dataset, episode=episode, video=video, camera=camera, console=console)
    except TeleforgeError as exc:
        _fail(exc)
    render.replay_table(console, reports)
    if any(not r.matches for r in reports):
        raise typer.Exit(code=2)


# Command groups that live in their own modules (each a library call first).
import teleforge.cli.curate_score  # noqa: E402,F401  (registers `curate score`)
from teleforge.cli.curate import curate_app  # noqa: E402
from teleforge.cli.export import export_app  # noqa: E402
from teleforge.cli.formats import import_app, push_cmd, register_export_commands  # noqa: E402
from teleforge.cli.serve import serve_cmd  # noqa: E402

register_export_commands(export_app)
app.add_typer(curate_app, name="curate")
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")
app.command("push")(push_cmd)
app.command("serve-robot")(serve_cmd)

from teleforge.cli.eval import eval_cmd, experiment_cmd  # noqa: E402
from teleforge.cli.handoff import handoff_cmd  # noqa: E402

app.command("eval")(eval_cmd)
app.command("handoff")(handoff_cmd)

from teleforge.cli.review import review_cmd  # noqa: E402

app.command("review")(review_cmd)

from teleforge.cli.train import train_app  # noqa: E402

app.add_typer(train_app, name="train")
train_app.command("experiment")(experiment_cmd)  # `teleforge train experiment`: raw vs curated, same budget
from teleforge.cli.experiment_arms import experiment_arms_cmd  # noqa: E402

train_app.command("experiment-arms")(experiment_arms_cmd)  # raw, rules, learned scores, random controls


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
