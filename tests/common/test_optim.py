"""LaProp with adaptive gradient clipping and warm-up (DreamerV3's current optimiser) against a hand-written
reference of the official chain (clip_by_agc -> scale_by_rms -> scale_by_momentum -> warm-up learning rate)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch as th

from dreamer_sb3.common.optim import LaProp, make_optimizer


def _reference(w0, grads, lr, warmup, agc=0.3, pmin=1e-3, b1=0.9, b2=0.999, eps=1e-20):
    """The official update by hand in float64, one tensor at a time."""
    w = [x.astype(np.float64).copy() for x in w0]
    nu = [np.zeros_like(x) for x in w]
    mu = [np.zeros_like(x) for x in w]
    for t, step_grads in enumerate(grads, start=1):
        for i, g in enumerate(step_grads):
            g = g.astype(np.float64)
            upper = agc * max(pmin, np.linalg.norm(w[i].ravel()))
            g = g / max(1.0, np.linalg.norm(g.ravel()) / upper)
            nu[i] = b2 * nu[i] + (1 - b2) * g * g
            u = g / (np.sqrt(nu[i] / (1 - b2**t)) + eps)
            mu[i] = b1 * mu[i] + (1 - b1) * u
            rate = lr * min(1.0, (t - 1) / warmup) if warmup else lr
            w[i] = w[i] - rate * mu[i] / (1 - b1**t)
    return w


@pytest.mark.parametrize("warmup", [0, 3])
def test_laprop_matches_the_official_chain(warmup):
    rng = np.random.default_rng(0)
    # a tensor whose gradients are large against its weights (the clip binds), one where they are small (it does
    # not) and a zero tensor (the clip measures against pmin)
    w0 = [rng.normal(size=(3, 4)) * 0.1, rng.normal(size=5) * 10.0, np.zeros(2)]
    grads = [[rng.normal(size=x.shape) * s for x, s in zip(w0, (5.0, 0.1, 1.0), strict=True)] for _ in range(6)]
    params = [th.nn.Parameter(th.tensor(x, dtype=th.float64)) for x in w0]
    opt = LaProp(params, lr=0.01, warmup=warmup)
    for step_grads in grads:
        for p, g in zip(params, step_grads, strict=True):
            p.grad = th.tensor(g)
        opt.step()
    for p, ref in zip(params, _reference(w0, grads, 0.01, warmup), strict=True):
        np.testing.assert_allclose(p.detach().numpy(), ref, rtol=1e-5, atol=1e-12)
    if warmup:  # the first step moves nothing, and the clip bound the first tensor's gradients
        first = [th.nn.Parameter(th.tensor(x)) for x in w0]
        one = LaProp(first, lr=0.01, warmup=warmup)
        for p, g in zip(first, grads[0], strict=True):
            p.grad = th.tensor(g)
        one.step()
        assert all(th.equal(p.detach(), th.tensor(x)) for p, x in zip(first, w0, strict=True))
        assert np.linalg.norm(grads[0][0]) > 0.3 * np.linalg.norm(w0[0])


def test_laprop_sign_step_size_without_clip_is_the_learning_rate():
    """Without the clip, LaProp's first step is ``lr * sign(g)`` whatever the gradient's size (eps 1e-20 keeps a
    zero gradient at zero)."""
    w = th.nn.Parameter(th.tensor([1.0, -2.0, 3.0]))
    opt = LaProp([w], lr=0.5, agc=0.0, warmup=0)
    w.grad = th.tensor([4.0, -0.001, 0.0])
    opt.step()
    assert th.allclose(w.detach(), th.tensor([0.5, -1.5, 3.0]))


def test_one_laprop_over_all_modules_equals_one_per_module():
    """Every step of the chain is per tensor: the official single optimiser is our three at one learning rate."""
    th.manual_seed(0)
    a, b = th.nn.Linear(4, 3), th.nn.Linear(3, 2)
    a2, b2 = th.nn.Linear(4, 3), th.nn.Linear(3, 2)
    a2.load_state_dict(a.state_dict())
    b2.load_state_dict(b.state_dict())
    joint = LaProp([*a.parameters(), *b.parameters()], lr=1e-2, warmup=2)
    split = [LaProp(a2.parameters(), lr=1e-2, warmup=2), LaProp(b2.parameters(), lr=1e-2, warmup=2)]
    for _ in range(4):
        x = th.randn(8, 4)
        for net, opts in (((a, b), [joint]), ((a2, b2), split)):
            loss = net[1](th.tanh(net[0](x))).pow(2).mean()
            for o in opts:
                o.zero_grad()
            loss.backward()
            for o in opts:
                o.step()
    for p, q in zip([*a.parameters(), *b.parameters()], [*a2.parameters(), *b2.parameters()], strict=True):
        assert th.allclose(p, q, atol=1e-7)


def _train(net: th.nn.Module, opt: th.optim.Optimizer, x: th.Tensor, n: int) -> None:
    for _ in range(n):
        opt.zero_grad()
        net(x).pow(2).mean().backward()
        opt.step()


def test_laprop_state_round_trips_and_continues_identically():
    th.manual_seed(1)
    net, x = th.nn.Linear(3, 2), th.randn(6, 3)
    opt = LaProp(net.parameters(), lr=1e-2, warmup=5)
    _train(net, opt, x, 3)
    twin = th.nn.Linear(3, 2)
    twin.load_state_dict(net.state_dict())
    twin_opt = LaProp(twin.parameters(), lr=1.0, warmup=0)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))  # lr and warm-up come back with the state
    assert twin_opt.param_groups[0]["warmup"] == 5 and twin_opt.state[next(twin.parameters())]["step"] == 3
    _train(net, opt, x, 3)
    _train(twin, twin_opt, x, 3)
    for p, q in zip(net.parameters(), twin.parameters(), strict=True):
        assert th.equal(p, q)


def test_make_optimizer_kinds_and_errors():
    w = [th.nn.Parameter(th.zeros(2))]
    assert type(make_optimizer("adam", w, 1e-3, 1e-8)) is th.optim.Adam
    decayed = make_optimizer("adam", w, 1e-3, 1e-8, weight_decay=1e-6)
    assert isinstance(decayed, th.optim.AdamW) and decayed.param_groups[0]["weight_decay"] == pytest.approx(1e-3)
    laprop = make_optimizer("laprop", w, 4e-5, 1e-20, agc=0.5, warmup=10)
    assert isinstance(laprop, LaProp)
    assert (laprop.param_groups[0]["agc"], laprop.param_groups[0]["warmup"]) == (0.5, 10)
    with pytest.raises(ValueError, match="optimizer must be 'adam' or 'laprop'"):
        make_optimizer("sgd", w, 1e-3, 1e-8)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="LaProp needs"):
        LaProp(w, agc=-1.0)


def test_laprop_weight_decay_shrinks_before_the_step():
    w = th.nn.Parameter(th.tensor([2.0]))
    opt = LaProp([w], lr=0.0, warmup=0, weight_decay=0.25)
    w.grad = th.tensor([1.0])
    opt.step()
    assert w.item() == pytest.approx(1.5)
