"""Frozen-vision fine-tuning (cached vision tokens) and the exact inference shortcuts of the model."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")

from teleforge.train_adapter.feature_cache import build_feature_cache  # noqa: E402
from tests.train.conftest import tiny_cfg  # noqa: E402
from tests.train.test_model import _batch, _tiny  # noqa: E402


def _full_trunk(m, batch):
    """The trunk the slow way: every position through every layer, then the chunk queries."""
    b = batch["images"].shape[0]
    vis = m.encode_vision(batch["images"], batch["words"])
    vis = (vis + m.cam_emb[None, :, None, :]).reshape(b, -1, vis.shape[-1])
    words = batch["words"]
    x = torch.cat([m.word_emb(words) + m.word_pos[: words.shape[1]], m.state_proj(batch["state"])[:, None], vis,
                   m.queries[None].expand(b, -1, -1)], 1)
    pad = torch.cat([words == 0, torch.zeros(b, x.shape[1] - words.shape[1], dtype=torch.bool)], 1)
    return m.out_norm(m.trunk(x, src_key_padding_mask=pad)[:, -m.cfg.chunk:])


@pytest.mark.parametrize("layers", [1, 2])
def test_query_only_last_layer_equals_the_full_trunk(layers: int) -> None:
    from teleforge.train_adapter.model import VLA

    m = _tiny()
    m = VLA(type(m.cfg)(**{**m.cfg.to_dict(), "n_layers": layers, "cameras": ("front", "wrist"), "cnn_channels": (32, 64, 96, 128)})).eval()
    b = _batch()
    with torch.no_grad():
        assert torch.allclose(m.encode(b["images"], b["words"], b["state"]), _full_trunk(m, b), atol=1e-5)


def test_cached_vision_tokens_give_the_same_features_and_flow_steps_override() -> None:
    m = _tiny().eval()
    b = _batch()
    with torch.no_grad():
        vis = torch.from_numpy(build_feature_cache(m, b["images"].numpy(), b["words"].numpy(), batch=4)).float()
        a = m.encode(b["images"], b["words"], b["state"])
        c = m.encode(None, b["words"], b["state"], vis=vis)
    assert torch.allclose(a, c, atol=2e-2)  # float16 storage of the tokens
    g = torch.Generator().manual_seed(0)
    x3 = m.sample(b["images"], b["words"], b["state"], "flow", generator=g)
    g = torch.Generator().manual_seed(0)
    x1 = m.sample(b["images"], b["words"], b["state"], "flow", generator=g, flow_steps=1)
    assert x3.shape == x1.shape == (6, 4, 7) and not torch.allclose(x3, x1)


def test_fast_finetune_leaves_vision_untouched_and_trains_the_rest(tiny_dataset, tmp_path) -> None:
    from teleforge.train_adapter.checkpoint import load_model
    from teleforge.train_adapter.train import train

    base = train(tiny_cfg(tiny_dataset, tmp_path / "base", steps=2))
    res = train(tiny_cfg(tiny_dataset, tmp_path / "fast", init=str(base.last), steps=4, freeze_vision=True))
    assert 0 < res.trainable_params < res.params and res.cache_seconds > 0 and res.steps == 4
    m0, _ = load_model(base.last)
    m1, cfg = load_model(res.last)
    s0, s1 = m0.state_dict(), m1.state_dict()
    assert all(torch.equal(s0[k], s1[k]) for k in s0 if k.startswith("vision."))
    assert any(not torch.equal(s0[k], s1[k]) for k in s0 if k.startswith("trunk."))
    assert cfg["train_config"]["freeze_vision"] is True
    assert json.loads((tmp_path / "fast" / "result.json").read_text())["cache_seconds"] > 0


def test_fast_flag_on_the_cli(tiny_dataset, tmp_path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    bad = CliRunner().invoke(app, ["train", "-d", str(tiny_dataset), "--freeze", "trunk", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0 and "--freeze vision" in bad.output
    ok = CliRunner().invoke(app, ["train", "-d", str(tiny_dataset), "--fast", "--steps", "2", "-b", "4", "--workers", "1",
                                  "--val-fraction", "0", "--device", "cpu", "--out", str(tmp_path / "fast")])
    assert ok.exit_code == 0, ok.output
    res = json.loads((tmp_path / "fast" / "result.json").read_text())
    assert res["steps"] == 2 and 0 < res["trainable_params"] < res["params"] and res["cache_seconds"] > 0


def test_head_only_and_token_sigma_on_the_cli(tiny_dataset, tmp_path) -> None:
    from typer.testing import CliRunner

    from teleforge.cli.main import app

    args = ["train", "-d", str(tiny_dataset), "--fast", "--head", "tokens", "--head-only", "--token-sigma", "2",
            "--steps", "2", "-b", "4", "--workers", "1", "--val-fraction", "0", "--device", "cpu", "--out", str(tmp_path / "h")]
    ok = CliRunner().invoke(app, args)
    assert ok.exit_code == 0, ok.output
    tc = json.loads((tmp_path / "h" / "last" / "config.json").read_text())["train_config"]
    assert tc["head_only"] is True and tc["token_sigma"] == 2.0


def test_cached_trunk_prefix_resumes_to_the_same_features() -> None:
    from teleforge.train_adapter.model import VLA

    m = _tiny()
    m = VLA(type(m.cfg)(**{**m.cfg.to_dict(), "n_layers": 3})).eval()
    b = _batch()
    with torch.no_grad():
        x, pad = m.trunk_input(m.encode_vision(b["images"], b["words"]), b["words"], b["state"])
        h = m.trunk_prefix(x, pad, 2)
        assert torch.allclose(m.run_trunk(h, pad, start=2), m.encode(b["images"], b["words"], b["state"]), atol=1e-5)


def test_frozen_trunk_prefix_fine_tune_trains_only_the_upper_layers(tiny_dataset, tmp_path) -> None:
    from teleforge.errors import TrainError
    from teleforge.train_adapter.checkpoint import load_model
    from teleforge.train_adapter.train import train

    base = train(tiny_cfg(tiny_dataset, tmp_path / "base", steps=2, n_layers=2))
    res = train(tiny_cfg(tiny_dataset, tmp_path / "t1", init=str(base.last), steps=4, freeze_trunk_layers=1))
    s0, s1 = load_model(base.last)[0].state_dict(), load_model(res.last)[0].state_dict()
    frozen = ("vision.", "trunk.layers.0.", "word_emb.", "state_proj.", "queries", "cam_emb", "word_pos")
    assert all(torch.equal(s0[k], s1[k]) for k in s0 if k.startswith(frozen))
    assert any(not torch.equal(s0[k], s1[k]) for k in s0 if k.startswith("trunk.layers.1."))
    with pytest.raises(TrainError, match="below the trunk"):
        train(tiny_cfg(tiny_dataset, tmp_path / "t2", init=str(base.last), steps=1, freeze_trunk_layers=2))
