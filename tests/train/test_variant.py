"""The held-out fine-tune target ``carry_left``: its expert, its success rule, and the one-command experiment."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("mujoco")


def test_expert_demo_succeeds_with_words_the_base_never_learned() -> None:
    from teleforge.train_adapter.text import InstructionTokenizer
    from teleforge.train_adapter.variant import TRAIN_SEED0, collect_carry_left

    eps = collect_carry_left(2, TRAIN_SEED0, workers=1)
    assert len(eps) == 2
    tok = InstructionTokenizer()
    for e in eps:
        assert e.task == "carry_left" and "left" in e.instruction
        assert "left" not in tok.index and "carry" not in tok.index  # hashed: the base has no word for the goal
        assert e.images.shape[1:] == (2, 96, 96, 3) and e.actions.shape == (len(e.images), 7)
        assert e.actions[-20:, 1].sum() > 0.12  # the last second: the carry moved the TCP toward +y


def test_a_plain_pick_is_not_a_carry() -> None:
    from teleforge.robots.expert import ScriptedExpert
    from teleforge.robots.sim_robot import SimRobot
    from teleforge.train_adapter.variant import CarryLeftScene

    robot = SimRobot()
    robot.connect()
    scene = CarryLeftScene(robot)
    info = scene.reset("carry_left", 9_000_000)
    assert info.task == "carry_left" and info.time_limit_s == 20.0
    expert = ScriptedExpert("pick_cube", seed=9_000_000)
    expert.reset(robot)
    picked = False
    for _ in range(300):
        robot.act(expert.act(robot))
        picked = picked or robot.success()
        assert not scene.success()
        if picked and expert.labels.get("phase") == "hold":
            break
    assert picked  # the pick_cube predicate held, the carry_left one never did
    robot.disconnect()


@pytest.mark.slow
def test_variant_experiment_runs_end_to_end_on_a_tiny_budget(tmp_path) -> None:
    from teleforge.workflows.variant_finetune import VariantConfig, run_variant

    rep = run_variant(VariantConfig(out=tmp_path, demos=3, time_budget_s=5.0, eval_episodes=1, workers=1))
    assert rep["demos"] == 3 and rep["train"]["steps"] > 0 and rep["train"]["cache_seconds"] > 0
    assert rep["base"]["episodes"] == rep["finetuned"]["episodes"] == 1
    assert (tmp_path / "variant.json").is_file()
