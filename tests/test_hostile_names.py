"""Hostile names (code, path traversal, newlines, unicode) through every importer and every generator:
each gives a typed error or inert output -- generated Python holds data only as literals (issue 11, item 2)."""

from __future__ import annotations

import ast
import json
import shutil
from pathlib import Path

import h5py
import pytest

from teleforge.convert import RldsExportConfig, export_rlds
from teleforge.convert.hdf5.aloha import export_aloha, import_aloha
from teleforge.convert.hdf5.robomimic import export_robomimic, import_robomimic
from teleforge.convert.lerobot import export_lerobot
from teleforge.convert.lerobot.importer import import_lerobot
from teleforge.convert.rlds.importer import import_rlds
from teleforge.dataset import Dataset
from teleforge.dataset.schema import CameraConfig, DatasetSpec
from teleforge.dataset.selection import select
from teleforge.errors import InvalidNameError, TeleforgeError
from teleforge.names import KEY, check_key, check_label, check_repo_id
from teleforge.workflows.handoff import HandoffConfig, handoff, openpi_config_source, openvla_config_source
from teleforge.workflows.handoff import openpi as openpi_mod
from teleforge.workflows.handoff import openvla as openvla_mod
from tests.convert.h5_synth import build_dataset

INJECTION = 'wrist", "x": print(1), "z": "'
HOSTILE = [INJECTION, "../x", "x/../../y", "a\nb", "a\rimport os", "caméra", "wr\u2028ist", "", "a" * 65,
           "__import__('os').system('id')", "1abc", "a b", '"""', "'''", "x\\", "{name}"]
# Not identifiers, yet harmless as one path component or repo id part.
KEY_ONLY = {"a" * 65, "1abc"}
# HDF5 keys cannot hold '/' or be empty: those are not representable, so they are not offered there.
HDF5_HOSTILE = [h for h in HOSTILE if h and "/" not in h and h != "."]


@pytest.fixture(scope="module")
def ds(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_dataset(tmp_path_factory.mktemp("hostile") / "ds", episodes=2, steps=6)


@pytest.mark.parametrize("bad", HOSTILE)
def test_the_name_rules_refuse_hostile_names(bad: str) -> None:
    for check in (check_key,) if bad in KEY_ONLY else (check_key, check_label, check_repo_id):
        with pytest.raises(InvalidNameError, match="not allowed"):
            check(bad, "camera name")
    with pytest.raises(InvalidNameError):
        CameraConfig(bad, 8, 8)
    with pytest.raises(InvalidNameError):
        DatasetSpec(fps=10, robot_embodiment="x", n_joints=7, extra_state={bad: 1})


def test_ordinary_names_pass() -> None:
    assert check_key("cam_high") == "cam_high" and check_key("agentview") == "agentview"
    assert check_label("pick-v2.1") == "pick-v2.1" and check_repo_id("lab/pick_demos-2") == "lab/pick_demos-2"


def _assert_refused_or_inert(call, target: Path) -> None:
    """A typed error, or an imported dataset whose camera names all follow the rule."""
    try:
        call()
    except TeleforgeError:
        return
    names = Dataset.open(target).spec.camera_names
    assert all(KEY.fullmatch(n) for n in names), names


@pytest.mark.parametrize("bad", HDF5_HOSTILE)
def test_robomimic_import_refuses_hostile_obs_keys(ds: Path, tmp_path: Path, bad: str) -> None:
    f = tmp_path / "rm.hdf5"
    export_robomimic(select(ds), f)
    with h5py.File(f, "a") as h:
        for demo in h["data"].values():
            demo["obs"].move("front_image", bad + "_image")
    _assert_refused_or_inert(lambda: import_robomimic(f, tmp_path / "back"), tmp_path / "back")


@pytest.mark.parametrize("bad", HDF5_HOSTILE)
def test_aloha_import_refuses_hostile_camera_keys(ds: Path, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "aloha"
    export_aloha(select(ds), out)
    for p in out.glob("episode_*.hdf5"):
        with h5py.File(p, "a") as h:
            h["observations/images"].move("front", bad)
    _assert_refused_or_inert(lambda: import_aloha(out, tmp_path / "back"), tmp_path / "back")


@pytest.mark.parametrize("bad", HOSTILE)
def test_lerobot_import_refuses_hostile_feature_keys(ds: Path, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "lr"
    export_lerobot(select(ds), out)
    info_path = out / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    info["features"] = {(k.replace("images.front", f"images.{bad}")): v for k, v in info["features"].items()}
    info_path.write_text(json.dumps(info))
    _assert_refused_or_inert(lambda: import_lerobot(out, tmp_path / "back"), tmp_path / "back")


@pytest.mark.parametrize("bad", HOSTILE)
def test_rlds_import_refuses_hostile_camera_names(ds: Path, tmp_path: Path, bad: str) -> None:
    res = export_rlds(select(ds), tmp_path / "rlds", RldsExportConfig(num_shards=1))
    side = res.path / "teleforge_rlds.json"
    doc = json.loads(side.read_text())
    doc["cameras"] = {(bad if cam == "front" else cam): key for cam, key in doc["cameras"].items()}
    side.write_text(json.dumps(doc))
    _assert_refused_or_inert(lambda: import_rlds(res.path, tmp_path / "back"), tmp_path / "back")


@pytest.mark.parametrize("bad", HOSTILE)
def test_export_names_that_become_paths_are_refused(ds: Path, tmp_path: Path, bad: str) -> None:
    with pytest.raises(TeleforgeError):
        export_rlds(select(ds), tmp_path / "rlds", RldsExportConfig(name=bad))
    if bad not in KEY_ONLY:
        with pytest.raises(TeleforgeError):
            export_lerobot(select(ds), tmp_path / "lr", repo_id=bad)
    assert not any(tmp_path.parent.glob("x")) and not (tmp_path / "lr").exists()


@pytest.mark.parametrize("target", ["openvla", "openpi", "lerobot"])
def test_handoff_of_a_dataset_with_a_hand_edited_hostile_camera_is_refused(ds: Path, tmp_path: Path, target: str) -> None:
    bad = tmp_path / "ds"
    shutil.copytree(ds, bad)
    meta = json.loads((bad / "teleforge.json").read_text())
    spec = meta["spec"] if "spec" in meta else meta
    spec["cameras"][1]["name"] = INJECTION
    (bad / "teleforge.json").write_text(json.dumps(meta))
    with pytest.raises(TeleforgeError):
        handoff(HandoffConfig(target, bad, tmp_path / "out"))
    assert not list((tmp_path / "out").rglob("*.py")) if (tmp_path / "out").exists() else True


@pytest.mark.parametrize("bad", HOSTILE)
def test_generators_refuse_hostile_names(bad: str) -> None:
    with pytest.raises(InvalidNameError):
        openvla_config_source("demo", None, bad, 10.0)
    with pytest.raises(InvalidNameError):
        openvla_config_source(bad, None, "wrist_image", 10.0)
    with pytest.raises(InvalidNameError):
        openpi_config_source("teleforge/demo", "pi0_teleforge", "front", bad)
    with pytest.raises(InvalidNameError):
        openpi_config_source(bad, "pi0_teleforge", "front", "wrist")


def _shape(source: str, data: set[str]) -> str:
    """The AST of ``source`` with every string constant that carries data replaced by a placeholder."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and any(d in node.value for d in data):
            node.value = "<data>"
    return ast.dump(tree)


@pytest.mark.parametrize("bad", [h for h in HOSTILE if h])
def test_generated_python_holds_data_only_as_literals(bad: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second line of defence: even with the name rule switched off, data cannot become code."""
    for mod in (openvla_mod, openpi_mod):
        monkeypatch.setattr(mod, "check_key", lambda v, what="": v)
    monkeypatch.setattr(openpi_mod, "check_repo_id", lambda v, what="": v)
    benign = {"zzname", "zzwrist"}
    for render in (lambda n, w: openvla_config_source(n, "zzsec", w, 10.0),
                   lambda n, w: openpi_config_source(n, "pi0_teleforge", "front", w)):
        hostile_src = render(bad, bad)
        assert _shape(hostile_src, {bad}) == _shape(render("zzname", "zzwrist"), benign)
        consts = [n.value for n in ast.walk(ast.parse(hostile_src)) if isinstance(n, ast.Constant)]
        assert any(bad in c for c in consts if isinstance(c, str))
