"""`teleforge handoff` to OpenVLA (registration), Octo, robomimic and ACT: what each trainer reads, checked
without the trainers (tests/consumers/ runs their own loaders in CI)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from teleforge.convert.rlds import RldsReader, binarize_gripper
from teleforge.curation import View, save_view
from teleforge.dataset import Dataset
from teleforge.workflows.handoff import TARGETS, HandoffConfig, handoff
from tests.curation.synth import EpisodePlan, make_dataset, make_spec

KEPT = [0, 2, 3]
TRIM = (5, 30)
HOSTILE = 'x", "y": print(1), "z": "'


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    plans = [EpisodePlan(seed=i, steps=40 + i) for i in range(4)]
    root = make_dataset(tmp_path_factory.mktemp("ho2") / "demo_set", plans, make_spec(("front", "wrist"), size=32))
    save_view(root, View(name="good", episodes=KEPT, trims={2: TRIM}, operation="test"))
    return root


def _lengths(root: Path) -> dict[int, int]:
    d = Dataset.open(root)
    return {i: (TRIM[1] - TRIM[0] if i == 2 else d.episode(i).num_steps) for i in KEPT}


def test_binarize_gripper_follows_openvla_rule() -> None:
    g = np.array([1.0, 1.0, 0.5, 0.0, 0.0, 0.5, 0.5, 1.0, 0.5])
    # in-between takes the next definite state; a trailing one thresholds at 0.5
    assert binarize_gripper(g).tolist() == [1, 1, 0, 0, 0, 1, 1, 1, 1]
    assert binarize_gripper(np.array([0.3])).tolist() == [0]


def test_targets_are_registered() -> None:
    assert {"openvla", "octo", "robomimic", "act"} <= set(TARGETS)


def test_openvla_registration_script_adds_to_the_three_dicts_once(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "ovla"
    res = handoff(HandoffConfig("openvla", ds, out, view="good", name="picks"))
    # a fake openvla checkout whose oxe files define the dicts the blocks add to
    oxe = tmp_path / "openvla" / "prismatic" / "vla" / "datasets" / "rlds" / "oxe"
    oxe.mkdir(parents=True)
    (oxe / "configs.py").write_text("class StateEncoding:\n    POS_QUAT = 'pq'\n\n\nclass ActionEncoding:\n"
                                    "    EEF_POS = 'ep'\n\n\nOXE_DATASET_CONFIGS = {}\n")
    (oxe / "transforms.py").write_text("OXE_STANDARDIZATION_TRANSFORMS = {}\n")
    (oxe / "mixtures.py").write_text("OXE_NAMED_MIXTURES = {}\n")
    assert res.commands[0].startswith("python ") and res.commands[0].endswith(" .")
    script = res.files["register"]
    for _ in range(2):  # the second run changes nothing
        subprocess.run([sys.executable, str(script), "."], cwd=tmp_path / "openvla", check=True, capture_output=True)
    ns: dict = {}
    for f in ("configs.py", "transforms.py", "mixtures.py"):
        text = (oxe / f).read_text()
        assert text.count("teleforge handoff") == 1
        exec(compile(text, f, "exec"), ns)  # noqa: S102 - the fake checkout's own files, in a test
    assert ns["OXE_DATASET_CONFIGS"]["picks"]["image_obs_keys"] == {"primary": "image", "secondary": None,
                                                                   "wrist": "wrist_image"}
    assert ns["OXE_DATASET_CONFIGS"]["picks"]["state_encoding"] == "pq"
    assert ns["OXE_NAMED_MIXTURES"]["picks"] == [("picks", 1.0)]
    traj = {"x": 1}
    assert ns["OXE_STANDARDIZATION_TRANSFORMS"]["picks"](traj) is traj
    assert "WANDB_MODE=offline torchrun" in res.commands[1] and "--dataset_name picks" in res.commands[1]
    # the openvla action space: gripper binarised, 1 = open; the rest is the native action
    reader = RldsReader(res.files["rlds"])
    d = Dataset.open(ds)
    for ep, eid in zip(reader, KEPT):  # one shard: episodes in selection order
        grip = np.asarray(ep.steps["action"])[:, 6]
        assert set(np.unique(grip).tolist()) <= {0.0, 1.0}
        native = d.episode(eid).column("action")
        a, b = TRIM if eid == 2 else (0, len(native))
        assert np.array_equal(grip, binarize_gripper(1.0 - native[a:b, 6]))
        assert np.allclose(np.asarray(ep.steps["action"])[:, :6], native[a:b, :6])


def test_octo_handoff_writes_kwargs_and_p01_p99_statistics(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "octo"
    res = handoff(HandoffConfig("octo", ds, out, view="good", name="picks"))
    kw = json.loads((out / "octo_dataset_kwargs.json").read_text())
    assert kw["name"] == "picks" and Path(kw["data_dir"], "picks", "1.0.0") == res.files["rlds"].resolve()
    assert kw["image_obs_keys"] == {"primary": "image", "wrist": "wrist_image"} and kw["proprio_obs_key"] == "state"
    assert kw["action_proprio_normalization_type"] == "bounds" and kw["action_normalization_mask"] == [True] * 6 + [False]
    stats = json.loads(Path(kw["dataset_statistics"]).read_text())
    for key in ("action", "proprio"):
        assert {"p01", "p99", "mean", "std", "min", "max"} <= set(stats[key])
        assert stats[key]["p01"] == stats[key]["q01"]
    assert stats["num_trajectories"] == 3 and stats["num_transitions"] == sum(_lengths(ds).values())
    ast.parse((out / "octo_dataset.py").read_text())
    assert res.commands == [f"python {(out / 'octo_dataset.py').resolve()}"]


def test_robomimic_handoff_writes_next_obs_and_bc_configs(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "rm"
    res = handoff(HandoffConfig("robomimic", ds, out, view="good", name="picks"))
    data = res.files["robomimic"]
    with h5py.File(data, "r") as f:
        g = f["data/demo_1"]  # episode 2, trimmed
        assert g.attrs["num_samples"] == TRIM[1] - TRIM[0]
        assert sorted(g["next_obs"]) == sorted(g["obs"])
        for key in g["obs"]:
            o, n = g["obs"][key][()], g["next_obs"][key][()]
            assert np.array_equal(n[:-1], o[1:]) and np.array_equal(n[-1], o[-1])
        assert g["dones"][()].tolist() == [0] * (len(o) - 1) + [1] and g["rewards"].shape == (len(o),)
    low = json.loads((out / "robomimic_bc.json").read_text())
    img = json.loads((out / "robomimic_bc_image.json").read_text())
    assert low["algo_name"] == "bc" and low["train"]["data"] == str(data.resolve())
    assert low["experiment"]["rollout"]["enabled"] is False and low["experiment"]["validate"] is False
    assert low["observation"]["modalities"]["obs"]["rgb"] == []
    assert img["observation"]["modalities"]["obs"]["rgb"] == ["front_image", "wrist_image"]
    assert img["train"]["hdf5_cache_mode"] is None
    assert res.commands == [f"python -m robomimic.scripts.train --config {(out / n).resolve()}"
                            for n in ("robomimic_bc.json", "robomimic_bc_image.json")]


def test_act_handoff_pads_to_one_length_and_14_dims_and_registers_the_task(ds: Path, tmp_path: Path) -> None:
    out = tmp_path / "act"
    res = handoff(HandoffConfig("act", ds, out, view="good", name="picks"))
    lengths = _lengths(ds)
    longest = max(lengths.values())
    d = Dataset.open(ds)
    for k, eid in enumerate(KEPT):
        with h5py.File(res.files["aloha"] / f"episode_{k}.hdf5", "r") as f:
            layout = json.loads(f.attrs["teleforge_layout"])
            t = layout["steps"]
            assert t == lengths[eid] and layout["padding"]["episode_len"] == longest
            q, act, qv = f["/observations/qpos"][()], f["/action"][()], f["/observations/qvel"][()]
            assert q.shape == act.shape == qv.shape == (longest, 14)
            assert f["/observations/images/front"].shape[0] == longest
            a = TRIM[0] if eid == 2 else 0
            ep = d.episode(eid)
            assert np.array_equal(q[:t, :7], ep.column("observation.state.joint_pos")[a:a + t])
            assert np.all(q[:, 8:] == 0) and np.all(act[t:] == act[t - 1]) and np.all(qv[t:] == 0)
            assert np.array_equal(f["/observations/images/front"][t:], np.repeat(f["/observations/images/front"][t - 1:t],
                                                                                  longest - t, 0))
    # the register script appends the task to an ACT checkout's constants.py, once
    act_src = tmp_path / "actsrc"
    act_src.mkdir()
    (act_src / "constants.py").write_text("SIM_TASK_CONFIGS = {}\n")
    for _ in range(2):
        subprocess.run([sys.executable, str(res.files["register"]), "."], cwd=act_src, check=True, capture_output=True)
    ns: dict = {}
    exec(compile((act_src / "constants.py").read_text(), "constants.py", "exec"), ns)  # noqa: S102
    cfg = ns["SIM_TASK_CONFIGS"]["sim_picks"]
    assert cfg == {"dataset_dir": str(res.files["aloha"].resolve()), "num_episodes": 3, "episode_len": longest,
                   "camera_names": ["front", "wrist"]}
    assert "--task_name sim_picks" in res.commands[1] and "--policy_class ACT" in res.commands[1]


def test_act_export_imports_back_exactly(ds: Path, tmp_path: Path) -> None:
    from teleforge.convert.hdf5 import import_aloha

    out = tmp_path / "act"
    handoff(HandoffConfig("act", ds, out, view="good", name="picks"))
    back = tmp_path / "back"
    rep = import_aloha(out / "aloha", back)
    assert rep.steps == sum(_lengths(ds).values())
    d, b = Dataset.open(ds), Dataset.open(back)
    for new_id, eid in zip(rep.episode_ids, KEPT):
        a = TRIM[0] if eid == 2 else 0
        t = _lengths(ds)[eid]
        assert np.array_equal(b.episode(new_id).column("action"), d.episode(eid).column("action")[a:a + t])


@pytest.mark.parametrize("target", ["openvla", "octo", "act"])
def test_hostile_name_never_reaches_generated_code_as_code(ds: Path, tmp_path: Path, target: str) -> None:
    res = handoff(HandoffConfig(target, ds, tmp_path / target, view="good", name=HOSTILE))
    for role in ("config", "register", "loader"):
        if role in res.files:
            tree = ast.parse(res.files[role].read_text())
            calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
            assert "print" not in calls or role != "config"
            assert "y" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
