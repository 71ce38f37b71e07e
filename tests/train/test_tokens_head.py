"""The tokens head: decoding (argmax | expected | local), ordered label smoothing, head-only fine-tuning."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from teleforge.errors import CheckpointError, TrainError  # noqa: E402
from teleforge.train_adapter.model import decode_tokens, soft_bins  # noqa: E402
from teleforge.train_adapter.normalize import N_BINS, from_bins  # noqa: E402
from tests.train.test_model import _batch, _tiny  # noqa: E402


def test_argmax_is_exactly_the_old_path() -> None:
    m = _tiny().eval()
    b = _batch()
    logits = m.token_logits(m.encode(b["images"], b["words"], b["state"]))
    old = (logits.argmax(-1).float() + 0.5) / m.cfg.n_bins * 2 - 1  # the decoding before decode_tokens existed
    assert torch.equal(decode_tokens(logits, "argmax"), old)
    assert torch.equal(m.sample(b["images"], b["words"], b["state"], "tokens"), old)  # the model's own default
    assert torch.equal(decode_tokens(logits, "local", radius=0), old)


def test_local_and_expected_on_known_distributions() -> None:
    centres = torch.from_numpy(from_bins(torch.arange(N_BINS).numpy()))
    logits = torch.full((3, N_BINS), -1e4)
    logits[0, 100], logits[0, 101] = 0.0, 0.0  # two equal neighbours: local lands between them
    logits[1, 10], logits[1, 200] = 0.0, -0.01  # two far modes: local keeps the peak, expected averages them
    logits[2, 50] = 0.0
    loc = decode_tokens(logits, "local", radius=4)
    exp = decode_tokens(logits, "expected")
    assert float(loc[0]) == pytest.approx(float(centres[100:102].mean()), abs=1e-6)
    assert float(loc[1]) == pytest.approx(float(centres[10]), abs=1e-6)
    assert float(exp[1]) == pytest.approx(float((centres[10] + centres[200]) / 2), abs=1e-2)
    assert float(loc[2]) == float(exp[2]) == pytest.approx(float(centres[50]), abs=1e-6)
    with pytest.raises(TrainError):
        decode_tokens(logits, "median")


def test_soft_bins_are_ordered_gaussians() -> None:
    t = soft_bins(torch.tensor([0, 128, 255]), N_BINS, 2.0)
    assert t.shape == (3, N_BINS)
    assert torch.allclose(t.sum(-1), torch.ones(3))
    assert int(t[1].argmax()) == 128 and float(t[1, 127]) == pytest.approx(float(t[1, 129]))
    assert float(t[1, 126]) < float(t[1, 127]) < float(t[1, 128])
    # a tiny sigma is the one-hot target: the smoothed loss equals plain cross-entropy
    m = _tiny().eval()
    b = _batch()
    with torch.no_grad():
        plain = float(m.losses(b, ("tokens",))["tokens"])
        near_one_hot = float(m.losses(b, ("tokens",), token_sigma=1e-3)["tokens"])
        smoothed = float(m.losses(b, ("tokens",), token_sigma=2.0)["tokens"])
    assert near_one_hot == pytest.approx(plain, rel=1e-5)
    assert smoothed != pytest.approx(plain)


def test_load_policy_token_decode() -> None:
    from teleforge.train_adapter.checkpoint import load_policy

    assert load_policy("bundled", "tokens").info.extra["token_decode"] == "local"  # the policies' default
    assert load_policy("bundled", "tokens", token_decode="argmax").info.extra["token_decode"] == "argmax"
    with pytest.raises(CheckpointError):
        load_policy("bundled", "tokens", token_decode="median")


def test_head_only_tokens_fine_tune_leaves_the_flow_head_exact(tiny_dataset, tmp_path) -> None:
    from teleforge.train_adapter.checkpoint import load_model
    from teleforge.train_adapter.train import train
    from tests.train.conftest import tiny_cfg

    base = train(tiny_cfg(tiny_dataset, tmp_path / "base", steps=2))
    res = train(tiny_cfg(tiny_dataset, tmp_path / "tok", init=str(base.last), head="tokens", steps=3, freeze_vision=True,
                         head_only=True, token_sigma=1.5))
    s0, s1 = load_model(base.last)[0].state_dict(), load_model(res.last)[0].state_dict()
    assert all(torch.equal(s0[k], s1[k]) for k in s0 if not k.startswith("token_head."))
    assert not torch.equal(s0["token_head.weight"], s1["token_head.weight"])
    assert res.trainable_params == s0["token_head.weight"].numel() + s0["token_head.bias"].numel()
