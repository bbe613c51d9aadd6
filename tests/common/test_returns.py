"""λ-returns and percentile return normalisation against hand-computed references."""

import pytest
import torch as th

from dreamer_sb3.common.returns import PercentileNormalizer, lambda_returns


def test_lambda_returns_four_step_hand_computed():
    r = th.tensor([1.0, 0.0, 2.0, 1.0])  # r_1..r_4
    v = th.tensor([0.5, 1.0, 2.0, 3.0, 4.0])  # v_0..v_4
    g = th.tensor([0.9, 0.9, 0.0, 0.9])  # episode terminates on entering s_3
    lam = 0.5
    R4 = v[4]
    R3 = r[3] + g[3] * ((1 - lam) * v[4] + lam * R4)  # 1 + 0.9 * 4 = 4.6
    R2 = r[2] + g[2] * ((1 - lam) * v[3] + lam * R3)  # 2 (terminal)
    R1 = r[1] + g[1] * ((1 - lam) * v[2] + lam * R2)  # 0 + 0.9 * (1 + 1) = 1.8
    R0 = r[0] + g[0] * ((1 - lam) * v[1] + lam * R1)  # 1 + 0.9 * (0.5 + 0.9) = 2.26
    out = lambda_returns(r, v, g, lam)
    assert th.allclose(out, th.tensor([R0, R1, R2, R3]))
    assert th.allclose(out, th.tensor([2.26, 1.8, 2.0, 4.6]))


def test_lambda_returns_limits():
    th.manual_seed(0)
    r, v, g = th.rand(5, 3), th.rand(6, 3), th.full((5, 3), 0.9)
    # λ = 0: one-step TD targets
    assert th.allclose(lambda_returns(r, v, g, 0.0), r + g * v[1:])
    # λ = 1: discounted Monte Carlo return bootstrapped at the end
    mc = v[-1]
    outs = []
    for t in reversed(range(5)):
        mc = r[t] + g[t] * mc
        outs.append(mc)
    assert th.allclose(lambda_returns(r, v, g, 1.0), th.stack(outs[::-1]))


def test_percentile_normalizer_ema_and_floor():
    norm = PercentileNormalizer(decay=0.99, low=5.0, high=95.0, limit=1.0)
    returns = th.arange(101, dtype=th.float32)  # P5 = 5, P95 = 95
    norm.update(returns)
    assert norm.lo.item() == pytest.approx(0.01 * 5.0)
    assert norm.hi.item() == pytest.approx(0.01 * 95.0)
    assert norm.scale.item() == 1.0  # 0.9 < 1: the floor max(1, S) applies
    for _ in range(1000):
        norm.update(returns)
    assert norm.scale.item() == pytest.approx(90.0, rel=1e-3)
    # small returns are never scaled up
    small = PercentileNormalizer()
    for _ in range(1000):
        small.update(th.linspace(0, 0.1, 50))
    assert small.scale.item() == 1.0


def test_percentile_normalizer_state_dict_roundtrip():
    a = PercentileNormalizer()
    a.update(th.arange(50.0))
    b = PercentileNormalizer()
    b.load_state_dict(a.state_dict())
    assert b.scale == a.scale and b.lo == a.lo
    assert all(v.dtype == th.float32 for v in a.state_dict().values())
