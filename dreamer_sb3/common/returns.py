"""Returns and their normalisation: λ-returns and DreamerV3's percentile return scale."""

from __future__ import annotations

import torch as th
from torch import nn


def lambda_returns(reward: th.Tensor, value: th.Tensor, discount: th.Tensor, lam: float) -> th.Tensor:
    """TD(λ) returns computed backwards over time.

    ``R_t = r_{t+1} + γ_{t+1} ((1 - λ) v_{t+1} + λ R_{t+1})`` with ``R_H = v_H``.

    :param reward: ``(H, ...)`` rewards ``r_1 .. r_H`` (received on entering ``s_1 .. s_H``)
    :param value: ``(H + 1, ...)`` values ``v_0 .. v_H``
    :param discount: ``(H, ...)`` discounts ``γ_1 .. γ_H`` (``γ`` times the continue flag)
    :param lam: λ
    :return: ``(H, ...)`` returns ``R_0 .. R_{H-1}``
    """
    horizon = reward.shape[0]
    assert value.shape[0] == horizon + 1 and discount.shape[0] == horizon
    # Precompute the parts that do not depend on the recursion in one batched op.
    inputs = reward + discount * (1.0 - lam) * value[1:]
    disc_lam = discount * lam
    out = []
    last = value[-1]
    for t in reversed(range(horizon)):
        last = inputs[t] + disc_lam[t] * last
        out.append(last)
    return th.stack(out[::-1])


class PercentileNormalizer(nn.Module):
    """DreamerV3 return scale: EMA of the 5th and 95th return percentiles.

    ``S = max(limit, EMA(P95) - EMA(P5))``; advantages are divided by ``S`` so that large
    returns are scaled down while small returns are not scaled up. Statistics are float buffers,
    so they are saved and loaded with the policy's state dict.

    :param decay: EMA decay (0.99)
    :param low: lower percentile (5)
    :param high: upper percentile (95)
    :param limit: smallest scale (1.0)
    """

    lo: th.Tensor
    hi: th.Tensor

    def __init__(self, decay: float = 0.99, low: float = 5.0, high: float = 95.0, limit: float = 1.0) -> None:
        super().__init__()
        self.decay, self.low, self.high, self.limit = decay, low, high, limit
        self.register_buffer("lo", th.zeros(()))
        self.register_buffer("hi", th.zeros(()))

    @th.no_grad()
    def update(self, returns: th.Tensor) -> None:
        """Fold a batch of returns into the percentile EMAs."""
        flat = returns.detach().float().flatten()
        q = th.quantile(flat, th.tensor([self.low / 100.0, self.high / 100.0], device=flat.device))
        # Zero-initialised EMA as in the official code: early scales are small, so max(limit, S)
        # leaves early advantages unscaled.
        # A batch with a non-finite return leaves the statistics unchanged (no host sync): one bad batch must
        # not poison the scale of every later update (see dreamer_sb3.common.guard).
        ok = th.isfinite(q).all()
        self.lo.copy_(th.where(ok, self.lo * self.decay + (1 - self.decay) * q[0], self.lo))
        self.hi.copy_(th.where(ok, self.hi * self.decay + (1 - self.decay) * q[1], self.hi))

    @property
    def scale(self) -> th.Tensor:
        return th.clamp(self.hi - self.lo, min=self.limit)
