"""`teleforge handoff`: what each trainer needs, exactly the selected steps, and a README to follow."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest

from teleforge.curation import View, save_view
from teleforge.dataset import Dataset
from teleforge.errors import HandoffError, TeleforgeError
from teleforge.workflows.handoff import HandoffConfig, handoff, parse_dataset_arg
from tests.curation.synth import EpisodePlan, make_dataset, make_spec, shard_digests

KEPT = [0, 2, 3]
TRIM = (5, 30)


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plans = [EpisodePlan(seed=i, steps=40 + i) for i in range(4)] + [EpisodePlan(task="stack", seed=9, steps=35)]
    root = make_dataset(tmp_path_factory.mktemp("ho") / "demo_set", plans, make_spec(("front", "wrist"), size=32))
    save_view(root, View(name="good", episodes=KEPT, trims={2: TRIM}, operation="test"))
    return root


def _native(root: Path, ids: list[int], trims: dict[int, tuple[int, int]]) -> tuple[np.ndarray, np.ndarray]:
    d = Dataset.open(root)
    acts, states = [], []
    for i in ids:
        ep = d.episode(i)
        a, b = trims.get(i, (0, ep.num_steps))
        acts.append(ep.column("action")[a:b])
        states.append(np.concatenate([ep.column("observation.state.ee_pos"), ep.column("observation.state.ee_quat"),
                                      ep.column("observation.state.gripper").reshape(-1, 1)], 1)[a:b])
    return np.concatenate(acts).astype(np.float64), np.concatenate(states).astype(np.float64)


def test_parse_dataset_arg_splits_a_view_but_not_an_existing_path(tmp_path: Path) -> None:
    assert parse_dataset_arg("data/set:curated") == (Path("data/set"), "curated")
    assert parse_dataset_arg("data/set") == (Path("data/set"), None)
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert parse_dataset_arg(str(odd)) == (odd, None)


def test_openvla_handoff_writes_rlds_statistics_config_and_readme(ds: Path, tmp_path: Path) -> None:
    from teleforge.convert.rlds import check_rlds

    before = shard_digests(ds)
    out = tmp_path / "ovla"
    res = handoff(HandoffConfig("openvla", ds, out, view="good"))
    name = "demo_set_good"
    rlds = out / "rlds" / name / "1.0.0"
    assert res.files["rlds"] == rlds and (rlds / "features.json").is_file()
    lengths = {0: 40, 2: TRIM[1] - TRIM[0], 3: 43}
    assert res.episodes == 3 and res.steps == sum(lengths.values())
    rep = check_rlds(rlds)
    assert rep.episodes == 3 and rep.steps == res.steps

    stats = json.loads((out / "dataset_statistics.json").read_text())
    assert list(stats) == [name]
    acts, _ = _native(ds, KEPT, {2: TRIM})
    acts[:, 6] = 1.0 - acts[:, 6]  # OpenVLA: gripper 1 = open
    s = stats[name]["action"]
    assert np.allclose(s["q01"], np.quantile(acts, 0.01, axis=0), atol=1e-5)
    assert np.allclose(s["q99"], np.quantile(acts, 0.99, axis=0), atol=1e-5)
    assert s["mask"] == [True] * 6 + [False]
    assert stats[name]["num_trajectories"] == 3 and stats[name]["num_transitions"] == res.steps

    cfg_src = (out / "openvla_dataset_config.py").read_text()
    tree = ast.parse(cfg_src)
    assigned = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}
    assert not assigned - {"teleforge_dataset_transform"}  # blocks add to OpenVLA's dicts, define no new names
    for registry in ("OXE_DATASET_CONFIGS", "OXE_STANDARDIZATION_TRANSFORMS", "OXE_NAMED_MIXTURES"):
        assert f"{registry}[{name!r}] = " in cfg_src
    for key in ('"image_obs_keys"', '"depth_obs_keys"', '"state_obs_keys"', '"state_encoding"', '"action_encoding"',
                "StateEncoding.POS_QUAT", "ActionEncoding.EEF_POS", '"wrist": "wrist_image"', f"{name!r}"):
        assert key in cfg_src
    readme = (out / "README.md").read_text()
    assert f"--dataset_name {name}" in readme and f"--data_root_dir {(out / 'rlds').resolve()}" in readme
    assert "vla-scripts/finetune.py" in readme and f'unnorm_key="{name}"' in readme
    man = json.loads((out / "teleforge_handoff.json").read_text())
    assert man["episode_ids"] == KEPT and man["view"] == "good" and man["target"] == "openvla"
    assert shard_digests(ds) == before  # the source is only read


def _snippet_values(src: str) -> dict[str, object]:
    """The TELEFORGE_* literal assignments of the openpi config snippet."""
    out = {}
    for node in ast.parse(src).body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and node.targets[0].id.startswith("TELEFORGE_"):
            try:
                out[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                pass
    return out


def test_openpi_handoff_writes_lerobot_v21_norm_stats_and_train_config(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "opi"
    res = handoff(HandoffConfig("openpi", ds, out, view="good", name="picks"))
    lr = out / "lerobot" / "teleforge" / "picks"
    info = json.loads((lr / "meta" / "info.json").read_text())
    # openpi pins LeRobot 0cf8648, which reads codebase v2.1 only
    assert info["codebase_version"] == "v2.1" and info["total_episodes"] == 3 and info["total_frames"] == res.steps
    assert (lr / "meta" / "tasks.jsonl").is_file() and (lr / "data" / "chunk-000" / "episode_000002.parquet").is_file()
    norm = json.loads((out / "openpi" / "assets" / "pi0_teleforge" / "teleforge" / "picks" / "norm_stats.json").read_text())
    acts, states = _native(ds, KEPT, {2: TRIM})
    ns = norm["norm_stats"]
    assert set(ns) == {"state", "actions"}
    for key, arr in (("actions", acts), ("state", states)):
        assert set(ns[key]) == {"mean", "std", "q01", "q99"}
        assert np.allclose(ns[key]["mean"], arr.mean(0), atol=1e-6)
        assert np.allclose(ns[key]["q99"], np.quantile(arr, 0.99, axis=0), atol=1e-6)
    src = (out / "openpi" / "openpi_config.py").read_text()
    ast.parse(src)
    values = _snippet_values(src)
    assert values["TELEFORGE_REPO_ID"] == "teleforge/picks" and values["TELEFORGE_CONFIG_NAME"] == "pi0_teleforge"
    assert values["TELEFORGE_ACTION_SEQUENCE_KEYS"] == ("action",)  # not openpi's default ("actions",)
    repack = values["TELEFORGE_REPACK"]
    assert isinstance(repack, dict)
    # every LeRobot key the repack transform reads exists in the export (prompt comes from the task)
    assert {v for v in repack.values() if v != "prompt"} <= set(info["features"])
    assert "prompt_from_task=True" in src and "_CONFIGS_DICT[TELEFORGE_TRAIN_CONFIG.name]" in src
    readme = (out / "README.md").read_text()
    assert f"export HF_LEROBOT_HOME={(out / 'lerobot').resolve()}" in readme
    assert "scripts/train.py pi0_teleforge" in readme and ">> src/openpi/training/config.py" in readme


def test_openpi_config_snippet_keeps_hostile_names_in_literals() -> None:
    from teleforge.workflows.handoff.openpi import config_snippet

    evil = 'x"; import os; os.system("boom") #\n'
    src = config_snippet(evil, {"observation/image": evil, "actions": "action"})
    tree = ast.parse(src)
    assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(tree))
    assert _snippet_values(src)["TELEFORGE_REPO_ID"] == evil


def test_lerobot_handoff_writes_the_train_command(ds: Path, tmp_path: Path) -> None:
    from teleforge.workflows.handoff.lerobot import training_device

    out = tmp_path / "lr"
    res = handoff(HandoffConfig("lerobot", ds, out))
    root = out / "lerobot" / "teleforge" / "demo_set"
    assert res.episodes == 5 and (root / "meta" / "info.json").is_file()
    cmd = res.commands[0]
    assert cmd.startswith("lerobot-train ") and f"--dataset.root={root.resolve()}" in cmd
    assert "--dataset.repo_id=teleforge/demo_set" in cmd and "--policy.push_to_hub=false" in cmd
    # runs on this machine, offline: the device torch sees here, no ImageNet download
    assert f"--policy.device={training_device()}" in cmd and "--policy.pretrained_backbone_weights=null" in cmd
    assert "pretrained_backbone_weights" not in res.commands[1]
    readme = (out / "README.md").read_text()
    assert cmd in readme and res.commands[1] in readme and "validated with lerobot 0.4.4" in readme


def test_handoff_refuses_to_overwrite_what_it_did_not_write(ds: Path, tmp_path: Path) -> None:
    with pytest.raises(HandoffError, match="unknown handoff target"):
        handoff(HandoffConfig("tensorflow_agents", ds, tmp_path / "x"))
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    with pytest.raises(HandoffError, match="overwrite"):
        handoff(HandoffConfig("openvla", ds, other))
    with pytest.raises(HandoffError, match="not written by"):
        handoff(HandoffConfig("openvla", ds, other, overwrite=True))
    assert (other / "notes.txt").read_text() == "keep me"
    with pytest.raises(HandoffError, match="native teleforge dataset"):
        handoff(HandoffConfig("openvla", ds, ds, overwrite=True))
    with pytest.raises(TeleforgeError, match="no view"):
        handoff(HandoffConfig("openvla", ds, tmp_path / "y", view="nope"))
    out = tmp_path / "again"
    handoff(HandoffConfig("openvla", ds, out, view="good"))
    handoff(HandoffConfig("openvla", ds, out, view="good", overwrite=True))  # a handoff folder may be replaced
    assert (out / "README.md").is_file()


def test_handoff_cli(ds: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    out = tmp_path / "cli"
    r = CliRunner().invoke(app, ["handoff", "openvla", f"{ds}:good", str(out)])
    assert r.exit_code == 0, r.output
    assert "finetune.py" in r.output and (out / "dataset_statistics.json").is_file()
    r = CliRunner().invoke(app, ["handoff", "openvla", f"{ds}:good", str(out)])
    assert r.exit_code == 1 and "overwrite" in r.output


def _lerobot_python() -> str | None:
    import os

    for p in (os.environ.get("TELEFORGE_LEROBOT_PYTHON"),
              str(Path(os.environ.get("TELEFORGE_CI_CACHE", Path.home() / ".cache/teleforge-ci")) / "venv-lerobot/bin/python"),
              "/work/cache/venv-lerobot/bin/python"):
        if p and Path(p).is_file():
            return p
    return None


def test_lerobot_handoff_loads_in_real_lerobot_with_the_readme_settings(ds: Path, tmp_path: Path) -> None:
    """The repo id and root the README's lerobot-train command passes load in lerobot 0.4 (validator venv)."""
    import subprocess

    py = _lerobot_python()
    if py is None:
        pytest.skip("no lerobot validator venv; build it with .ci/lerobot_venv.sh --build-only")
    out = tmp_path / "lr"
    res = handoff(HandoffConfig("lerobot", ds, out, view="good"))
    cmd = res.commands[0]
    args = dict(a.split("=", 1) for a in cmd.split() if a.startswith("--dataset."))
    script = (
        "import json, sys\n"
        "from lerobot.datasets.lerobot_dataset import LeRobotDataset\n"
        "d = LeRobotDataset(sys.argv[1], root=sys.argv[2])\n"
        "x = d[len(d) - 1]\n"
        "print(json.dumps({'frames': len(d), 'episodes': d.num_episodes, 'keys': sorted(x), 'task': x['task'],"
        " 'image': list(x['observation.images.front'].shape)}))\n"
    )
    p = subprocess.run([py, "-c", script, args["--dataset.repo_id"], args["--dataset.root"]],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got["frames"] == res.steps and got["episodes"] == 3
    assert {"action", "observation.state", "observation.images.front", "observation.images.wrist"} <= set(got["keys"])
    assert got["image"] == [3, 32, 32] and got["task"]
