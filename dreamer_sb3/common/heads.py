"""Prediction heads: each maps RSSM features to a distribution (see :mod:`dreamer_sb3.common.distributions`).

- :class:`ScalarHead`: reward and critic, ``"twohot"`` (DreamerV3) or ``"mse"`` (unit Gaussian)
- :class:`ContinueHead`: the continue / discount head, a Bernoulli whose ``mean`` is the probability
  of continuing and whose ``mode()`` is the hard 0/1 flag
- :class:`Actor`: the policy, one-hot categoricals for Discrete / MultiDiscrete actions and a bounded
  or tanh-squashed normal for Box actions
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch as th
from torch import nn

from dreamer_sb3.common.actions import ActionCodec
from dreamer_sb3.common.distributions import (
    BernoulliDist,
    BoundedNormal,
    MSEDist,
    MultiOneHot,
    OneHotDist,
    TanhNormal,
    TruncNormal,
    TwoHotDist,
    symexp_bins,
    unimix_logits,
)
from dreamer_sb3.common.networks import MLP
from dreamer_sb3.common.specs import ActorDist, NetSpec, ScalarHeadKind


class ScalarHead(nn.Module):
    """MLP predicting a scalar distribution: ``"twohot"`` (DreamerV3) or ``"mse"`` (unit Gaussian).

    :param in_dim: feature size
    :param net: width, depth, norm and activation
    :param kind: ``"twohot"`` or ``"mse"``
    :param num_bins: two-hot bins
    :param zero_out: start predictions at exactly zero (DreamerV3 reward and critic)
    """

    bins: th.Tensor

    def __init__(
        self, in_dim: int, net: NetSpec, kind: ScalarHeadKind = "twohot", num_bins: int = 255, zero_out: bool = True
    ) -> None:
        super().__init__()
        if kind not in ("twohot", "mse"):
            raise ValueError(f"Unknown scalar head kind {kind!r}: use 'twohot' or 'mse'")
        self.kind = kind
        out = num_bins if kind == "twohot" else 1
        self.net = MLP(in_dim, out, net.units, net.layers, net.norm, net.act, zero_out=zero_out)
        self.register_buffer("bins", symexp_bins(num_bins), persistent=False)

    def forward(self, feat: th.Tensor) -> TwoHotDist | MSEDist:
        out = self.net(feat)
        return TwoHotDist(out, self.bins) if self.kind == "twohot" else MSEDist(out[..., 0])


class ContinueHead(nn.Module):
    """Bernoulli continue head: ``p(continue | s)``; its target is ``1 - is_terminal``.

    Imagination reads it through the returned :class:`BernoulliDist`: ``mean`` (the probability) or
    ``mode()`` (the 0/1 flag), as the algorithm's ``discount_head`` setting says.

    :param in_dim: feature size
    :param net: width, depth, norm and activation
    """

    def __init__(self, in_dim: int, net: NetSpec) -> None:
        super().__init__()
        self.net = MLP(in_dim, 1, net.units, net.layers, net.norm, net.act)
        # checkpoints written before the head had a home stored the MLP's keys directly under ``cont.``
        self._register_load_state_dict_pre_hook(_nest_legacy_keys)

    def forward(self, feat: th.Tensor) -> BernoulliDist:
        return BernoulliDist(self.net(feat)[..., 0])


def _nest_legacy_keys(state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
    """Map ``<prefix>hidden.*`` / ``<prefix>out.*`` (a bare MLP) to ``<prefix>net.*``."""
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(f"{prefix}net.")]:
        state_dict[f"{prefix}net.{key[len(prefix) :]}"] = state_dict.pop(key)


class Actor(nn.Module):
    """Policy network ``pi(a | s)``.

    Discrete / MultiDiscrete: one-hot categoricals with ``unimix`` uniform mixing and
    straight-through samples. Box: ``"bounded_normal"`` (DreamerV3: tanh mean, std in
    ``[min_std, max_std]``), ``"trunc_normal"`` (DreamerV2: tanh mean, std
    ``(max_std - min_std) sigmoid(x / 2) + min_std``, a normal truncated to ``[-1, 1]``) or
    ``"tanh_normal"`` (DreamerV1: tanh-squashed Gaussian).

    :param feat_dim: feature size
    :param codec: the action space's model-space codec
    :param net: width, depth, norm and activation
    :param dist: continuous action distribution
    :param unimix: uniform mixture of discrete actions
    :param min_std: minimum std (bounded and truncated normal)
    :param max_std: maximum std (bounded and truncated normal)
    :param init_std: initial std (tanh normal)
    """

    def __init__(
        self,
        feat_dim: int,
        codec: ActionCodec,
        net: NetSpec,
        dist: ActorDist = "bounded_normal",
        unimix: float = 0.01,
        min_std: float = 0.1,
        max_std: float = 1.0,
        init_std: float = 5.0,
    ) -> None:
        super().__init__()
        if dist not in ("bounded_normal", "tanh_normal", "trunc_normal"):
            raise ValueError(
                f"Unknown continuous actor distribution {dist!r}: use 'bounded_normal', 'trunc_normal' or 'tanh_normal'"
            )
        self.codec, self.dist, self.unimix = codec, dist, unimix
        self.min_std, self.max_std, self.init_std = min_std, max_std, init_std
        out = codec.dim if codec.discrete else 2 * codec.dim
        self.net = MLP(feat_dim, out, net.units, net.layers, net.norm, net.act)

    def forward(self, feat: th.Tensor) -> OneHotDist | MultiOneHot | BoundedNormal | TruncNormal | TanhNormal:
        out = self.net(feat).float()
        if self.codec.discrete:
            dists = [OneHotDist(unimix_logits(x, self.unimix)) for x in out.split(self.codec.sizes, -1)]
            return dists[0] if len(dists) == 1 else MultiOneHot(dists, self.codec.sizes)
        mean, std = out.chunk(2, -1)
        if self.dist == "bounded_normal":
            std = (self.max_std - self.min_std) * th.sigmoid(std + 2.0) + self.min_std
            return BoundedNormal(th.tanh(mean), std)
        if self.dist == "trunc_normal":
            std = (self.max_std - self.min_std) * th.sigmoid(std / 2.0) + self.min_std
            return TruncNormal(th.tanh(mean), std)
        mean = 5.0 * th.tanh(mean / 5.0)
        raw_init = float(np.log(np.expm1(self.init_std)))
        std = nn.functional.softplus(std + raw_init) + 1e-4
        return TanhNormal(mean, std)
