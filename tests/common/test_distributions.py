"""Exact maths of the shared distributions against hand-computed references."""

import math

import numpy as np
import pytest
import torch as th

from dreamer_sb3.common.distributions import (
    BoundedNormal,
    OneHotDist,
    TanhNormal,
    TwoHotDist,
    categorical_kl,
    gaussian_kl,
    kl_loss,
    sample_onehot,
    symexp,
    symexp_bins,
    symlog,
    twohot_encode,
    unimix_logits,
)


def test_symlog_values_and_roundtrip():
    x = th.tensor([-100.0, -1.0, 0.0, 0.5, 1.0, 1e4])
    expected = th.tensor([-math.log(101), -math.log(2), 0.0, math.log(1.5), math.log(2), math.log(10001)])
    assert th.allclose(symlog(x), expected)
    assert th.allclose(symexp(symlog(x)), x, rtol=1e-5)
    assert th.allclose(symlog(symexp(th.linspace(-10, 10, 101))), th.linspace(-10, 10, 101), atol=1e-5)


def test_symexp_bins_are_symmetric_and_symexp_spaced():
    bins = symexp_bins(255)
    assert bins.shape == (255,)
    assert bins[127] == 0.0
    assert th.equal(bins, -bins.flip(0))
    assert math.isclose(bins[-1].item(), math.expm1(20.0), rel_tol=1e-6)
    assert th.allclose(symlog(bins), th.linspace(-20, 20, 255), atol=1e-5)


def test_twohot_hand_computed():
    bins = th.tensor([-2.0, 0.0, 1.0, 5.0])
    enc = twohot_encode(th.tensor([0.25, 3.0, 1.0, -7.0, 9.0]), bins)
    expected = th.tensor(
        [
            [0.0, 0.75, 0.25, 0.0],  # 0.25 between 0 and 1
            [0.0, 0.0, 0.5, 0.5],  # 3 halfway between 1 and 5
            [0.0, 0.0, 1.0, 0.0],  # exactly on a bin
            [1.0, 0.0, 0.0, 0.0],  # below the range: edge bin
            [0.0, 0.0, 0.0, 1.0],  # above the range: edge bin
        ]
    )
    assert th.allclose(enc, expected)


def test_twohot_encode_decode_exact_in_range_and_clipped_outside():
    bins = symexp_bins(255)
    x = th.tensor([0.0, 0.3, -1.7, 12.5, -345.25, 1e5, 2e9, -3e9])
    enc = twohot_encode(x, bins)
    assert th.allclose(enc.sum(-1), th.ones(len(x)))
    assert ((enc > 0).sum(-1) <= 2).all()
    decoded = (enc.double() * bins.double()).sum(-1)
    inside = x.abs() < bins[-1]
    assert th.allclose(decoded[inside].float(), x[inside], rtol=1e-5, atol=1e-5)
    assert decoded[6].item() == pytest.approx(bins[-1].item())  # clipped to the edge
    assert decoded[7].item() == pytest.approx(bins[0].item())


def test_twohot_dist_log_prob_matches_dense_crossentropy_and_mean():
    th.manual_seed(0)
    bins = symexp_bins(255)
    logits = th.randn(6, 255)
    target = th.tensor([0.0, 1.0, -2.5, 40.0, -1000.0, 3.3])
    dist = TwoHotDist(logits, bins)
    dense = (twohot_encode(target, bins) * th.log_softmax(logits, -1)).sum(-1)
    assert th.allclose(dist.log_prob(target), dense, atol=1e-6)
    probs = th.softmax(logits.double(), -1)
    assert th.allclose(dist.mean.double(), (probs * bins.double()).sum(-1), rtol=1e-4, atol=1e-3)


def test_twohot_uniform_and_zero_logits_give_exactly_zero_mean():
    # zero-initialised heads must predict exactly 0, despite bins up to 4.8e8
    dist = TwoHotDist(th.zeros(3, 255), symexp_bins(255))
    assert th.equal(dist.mean, th.zeros(3))


def test_unimix_minimum_probability():
    logits = th.tensor([[100.0, -100.0, -100.0, -100.0]])
    probs = unimix_logits(logits, 0.01).exp()
    assert th.allclose(probs.sum(-1), th.ones(1))
    assert probs.min().item() == pytest.approx(0.01 / 4, rel=1e-5)
    assert probs.max().item() == pytest.approx(0.99 + 0.01 / 4, rel=1e-5)
    assert th.allclose(unimix_logits(logits, 0.0), th.log_softmax(logits, -1))


def test_straight_through_sample_has_probability_gradient():
    logits = th.tensor([[0.5, -0.2, 1.0]], requires_grad=True)
    dist = OneHotDist(logits)
    sample = dist.rsample()
    assert th.equal(sample.detach().sum(-1), th.ones(1)) and set(sample.detach().flatten().tolist()) <= {0.0, 1.0}
    w = th.tensor([1.0, 2.0, 3.0])
    (sample * w).sum().backward()
    probs = th.softmax(logits.detach(), -1)
    # d/dlogits of sum(w * softmax) = p * (w - sum(p w))
    expected = probs * (w - (probs * w).sum())
    assert th.allclose(logits.grad, expected, atol=1e-6)


def test_onehot_sampling_frequencies():
    th.manual_seed(0)
    probs = th.tensor([0.1, 0.2, 0.7]).expand(20000, 3)
    freq = sample_onehot(probs).mean(0)
    assert th.allclose(freq, th.tensor([0.1, 0.2, 0.7]), atol=0.015)


def test_categorical_kl_hand_computed():
    p = th.tensor([[[0.5, 0.5]]]).log()
    q = th.tensor([[[0.25, 0.75]]]).log()
    expected = 0.5 * math.log(0.5 / 0.25) + 0.5 * math.log(0.5 / 0.75)
    assert categorical_kl(p, q).item() == pytest.approx(expected, rel=1e-6)
    assert categorical_kl(p, p).item() == pytest.approx(0.0, abs=1e-7)


def test_gaussian_kl_hand_computed():
    kl = gaussian_kl(th.tensor([1.0]), th.tensor([2.0]), th.tensor([0.0]), th.tensor([1.0]))
    assert kl.item() == pytest.approx(math.log(1 / 2) + (4 + 1) / 2 - 0.5, rel=1e-6)


def test_free_bits_clip_and_gradient():
    # KL below free bits: loss is the constant free value and no gradient flows
    post = (th.tensor([[[0.5, 0.5]]]).log().requires_grad_(),)
    prior = (th.tensor([[[0.55, 0.45]]]).log().requires_grad_(),)
    loss, dyn, rep = kl_loss(categorical_kl, post, prior, free_nats=1.0, dyn_scale=0.5, rep_scale=0.1)
    assert loss.item() == pytest.approx(0.6)
    loss.sum().backward()
    assert post[0].grad is None or th.all(post[0].grad == 0)
    # KL above free bits: loss is the scaled KL
    post = (th.tensor([[[0.99, 0.01]]]).log(),)
    prior = (th.tensor([[[0.01, 0.99]]]).log(),)
    loss, dyn, rep = kl_loss(categorical_kl, post, prior, free_nats=1.0, dyn_scale=0.5, rep_scale=0.1)
    kl = 0.99 * math.log(99) + 0.01 * math.log(1 / 99)
    assert dyn.item() == pytest.approx(kl, rel=1e-5) and rep.item() == pytest.approx(kl, rel=1e-5)
    assert loss.item() == pytest.approx(0.6 * kl, rel=1e-5)


def test_kl_balancing_gradient_split():
    """dyn_scale reaches only the prior, rep_scale only the posterior (DreamerV2's alpha = 0.8)."""
    th.manual_seed(0)
    post_logits = th.randn(1, 4, 5, requires_grad=True)
    prior_logits = th.randn(1, 4, 5, requires_grad=True)
    alpha = 0.8
    loss, _, _ = kl_loss(categorical_kl, (post_logits,), (prior_logits,), 0.0, alpha, 1 - alpha)
    loss.sum().backward()
    g_post, g_prior = post_logits.grad.clone(), prior_logits.grad.clone()
    # reference: gradient of the plain KL(post || prior) w.r.t. each side
    a = post_logits.detach().clone().requires_grad_()
    b = prior_logits.detach().clone().requires_grad_()
    categorical_kl(a, b).sum().backward()
    assert th.allclose(g_post, (1 - alpha) * a.grad, atol=1e-6)
    assert th.allclose(g_prior, alpha * b.grad, atol=1e-6)


def test_bounded_normal_log_prob_entropy_and_clipping():
    mean, std = th.tensor([[0.2, -0.5]]), th.tensor([[0.5, 1.0]])
    dist = BoundedNormal(mean, std)
    x = th.tensor([[0.0, 0.3]])
    ref = th.distributions.Normal(mean, std)
    assert th.allclose(dist.log_prob(x), ref.log_prob(x).sum(-1))
    assert th.allclose(dist.entropy(), ref.entropy().sum(-1))
    th.manual_seed(0)
    samples = BoundedNormal(th.zeros(1000, 1), th.full((1000, 1), 3.0)).rsample()
    assert samples.min() >= -1 and samples.max() <= 1


def test_tanh_normal_change_of_variables():
    mean, std = th.tensor([[0.3, -1.0]]), th.tensor([[0.7, 0.4]])
    dist = TanhNormal(mean, std)
    a = th.tensor([[0.5, -0.2]])
    u = th.atanh(a)
    ref = th.distributions.Normal(mean, std).log_prob(u).sum(-1) - th.log(1 - a**2).sum(-1)
    assert th.allclose(dist.log_prob(a), ref, atol=1e-5)
    th.manual_seed(0)
    s = dist.rsample()
    assert (s.abs() < 1).all()
    # density integrates to one (1-D numerical check)
    d1 = TanhNormal(th.tensor([[0.3]]), th.tensor([[0.7]]))
    grid = th.linspace(-0.9999, 0.9999, 20001)[:, None]
    dens = d1.log_prob(grid).exp()
    assert np.trapezoid(dens.numpy(), grid[:, 0].numpy()) == pytest.approx(1.0, abs=2e-3)
