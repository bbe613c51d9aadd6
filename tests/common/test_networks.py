"""The network switches: LayerNorm (default, V2 and V3's 2023 release) or RMSNorm (V3's current code), and
Xavier-uniform (default) or the current V3 code's ``trunc_normal_in`` weights with its actor output scale."""

from __future__ import annotations

import numpy as np
import pytest
import torch as th
from torch import nn

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common.networks import MLP, ConvEncoder, RMSNorm, has_bias, make_norm, trunc_normal_in_
from dreamer_sb3.common.rssm import GRUCell


def test_rms_norm_matches_the_official_formula():
    """``x * rsqrt(mean(x^2) + 1e-4) * scale``: no mean removal, no shift (embodied/jax/nets.py ``Norm('rms')``)."""
    norm = make_norm("rms", 4)
    assert isinstance(norm, nn.RMSNorm)
    with th.no_grad():
        norm.weight.copy_(th.tensor([1.0, 2.0, 0.5, -1.0]))
    x = th.tensor([[3.0, -1.0, 0.0, 2.0], [0.01, 0.0, 0.0, 0.0]])
    xs = x.double().numpy()
    ref = xs / np.sqrt((xs**2).mean(-1, keepdims=True) + 1e-4) * np.array([1.0, 2.0, 0.5, -1.0])
    np.testing.assert_allclose(norm(x).detach().numpy(), ref, rtol=1e-5)
    # computed in float32 and returned in the input's dtype (bf16 under autocast), as the official Norm does
    half = norm(x.bfloat16())
    assert half.dtype == th.bfloat16
    np.testing.assert_allclose(half.float().detach().numpy(), ref, rtol=2e-2, atol=1e-2)
    assert [n for n, _ in norm.named_parameters()] == ["weight"]


def test_norm_kinds_biases_and_errors():
    layer = make_norm(True, 3)
    assert isinstance(layer, nn.LayerNorm) and layer.eps == 1e-3
    assert isinstance(make_norm("layer", 3), nn.LayerNorm) and make_norm(False, 3) is None
    # a LayerNorm's shift makes the bias before it redundant; an RMSNorm has none, so the official layers keep it
    assert (has_bias(True), has_bias("layer"), has_bias("rms"), has_bias(False)) == (False, False, True, True)
    mlp = MLP(5, 2, units=8, layers=2, norm="rms")
    kinds = [type(m) for m in mlp.hidden]
    assert kinds == [nn.Linear, RMSNorm, nn.SiLU, nn.Linear, RMSNorm, nn.SiLU]
    assert mlp.hidden[0].bias is not None and MLP(5, 2, 8, 2, norm=True).hidden[0].bias is None
    assert isinstance(GRUCell(3, 4, norm="rms").norm, nn.RMSNorm)
    assert isinstance(GRUCell(3, 4, norm=False).norm, nn.Identity)
    encoder = ConvEncoder((3, 64, 64), depth=4, norm="rms")
    assert sum(isinstance(m, nn.RMSNorm) for m in encoder.modules()) == 4
    assert encoder(th.zeros(2, 3, 64, 64)).shape == (2, encoder.out_dim)
    with pytest.raises(ValueError, match="norm must be True / 'layer', 'rms' or False"):
        make_norm("batch", 3)  # type: ignore[arg-type]


def test_dreamerv3_with_rms_norm_trains_and_reloads_identically(tmp_path):
    kwargs = dict(learning_starts=8, batch_size=2, batch_length=8, train_ratio=16, seed=0)
    model = DreamerV3("MlpPolicy", "CartPole-v1", policy_kwargs=dict(model_size="tiny", norm="rms"), **kwargs)
    p = model.policy
    assert not any(isinstance(m, nn.LayerNorm) for m in p.modules())
    assert isinstance(p.world_model.rssm.gru.norm, nn.RMSNorm) and isinstance(p.actor.net.hidden[1], nn.RMSNorm)
    model.learn(12)
    model.save(tmp_path / "m")
    loaded = DreamerV3.load(tmp_path / "m", device="cpu")
    obs = np.stack([model.observation_space.sample() for _ in range(4)])
    a, _ = model.predict(obs, deterministic=True)
    b, _ = loaded.predict(obs, deterministic=True)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="norm must be"):
        DreamerV3("MlpPolicy", "CartPole-v1", policy_kwargs=dict(model_size="tiny", norm="batch"))


def test_trunc_normal_in_scales_by_the_fan_in_and_truncates():
    th.manual_seed(0)
    layers = [nn.Linear(400, 300), nn.Conv2d(8, 300, 4), nn.ConvTranspose2d(8, 300, 4)]
    for layer in layers:
        trunc_normal_in_(layer)
        fan = 400 if isinstance(layer, nn.Linear) else 8 * 16  # a transposed conv counts its input channels too
        w = layer.weight.detach().double()
        assert float(w.std()) == pytest.approx(1.0 / np.sqrt(fan), rel=0.03)  # 1.1368 restores the unit variance
        assert float(w.abs().max()) <= 2 * 1.1368 / np.sqrt(fan) + 1e-9
        assert not layer.bias.detach().any()


def _policy(**kwargs):
    th.manual_seed(3)
    return DreamerV3("MlpPolicy", "Pendulum-v1", seed=0, policy_kwargs=dict(model_size="tiny", **kwargs)).policy


def test_official_init_keeps_zero_outputs_and_scales_the_actor_output():
    p = _policy(weight_init="trunc_normal_in", actor_outscale=0.01)
    fan = p.world_model.rssm.gru.linear.in_features
    assert float(p.world_model.rssm.gru.linear.weight.std()) == pytest.approx(1.0 / np.sqrt(fan), rel=0.05)
    for head in (p.critic.net.out, p.world_model.reward.net.out):  # two-hot outputs start at exactly zero
        assert not head.weight.any() and not head.bias.any()
    assert all(th.equal(a, b) for a, b in zip(p.critic.parameters(), p.slow_critic.parameters(), strict=True))
    unscaled = _policy(weight_init="trunc_normal_in")
    assert th.allclose(p.actor.net.out.weight, 0.01 * unscaled.actor.net.out.weight)
    default = _policy()
    xavier_bound = np.sqrt(6.0 / sum(default.actor.net.out.weight.shape))
    assert float(default.actor.net.out.weight.abs().max()) <= xavier_bound  # the default stays Xavier-uniform
    with pytest.raises(ValueError, match="weight_init must be"):
        _policy(weight_init="kaiming")
