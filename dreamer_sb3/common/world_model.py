"""World model: encoder + RSSM + heads (decoder, reward, continue) and its loss."""

from __future__ import annotations

import math

import torch as th
import torch.nn.functional as F
from torch import nn

from dreamer_sb3.common.distributions import TwoHotDist, symexp_bins
from dreamer_sb3.common.networks import MLP, MultiDecoder, MultiEncoder, ObsLayout
from dreamer_sb3.common.rssm import RSSM, State


class MSEDist:
    """Unit-variance Gaussian over a scalar: ``log_prob = -0.5 (x - mean)^2`` (up to a constant)."""

    def __init__(self, mean: th.Tensor) -> None:
        self.mean = mean.float()

    def log_prob(self, x: th.Tensor) -> th.Tensor:
        return -0.5 * (x - self.mean) ** 2 - 0.5 * math.log(2 * math.pi)


class ScalarHead(nn.Module):
    """MLP predicting a scalar distribution: ``"twohot"`` (DreamerV3) or ``"mse"`` (unit Gaussian).

    :param zero_out: start predictions at exactly zero (DreamerV3 reward and critic)
    """

    def __init__(
        self,
        in_dim: int,
        units: int,
        layers: int,
        kind: str = "twohot",
        num_bins: int = 255,
        norm: bool = True,
        act: str = "silu",
        zero_out: bool = True,
    ) -> None:
        super().__init__()
        if kind not in ("twohot", "mse"):
            raise ValueError(f"Unknown scalar head kind {kind!r}: use 'twohot' or 'mse'")
        self.kind = kind
        self.net = MLP(in_dim, num_bins if kind == "twohot" else 1, units, layers, norm, act, zero_out=zero_out)
        self.register_buffer("bins", symexp_bins(num_bins), persistent=False)

    def forward(self, feat: th.Tensor) -> TwoHotDist | MSEDist:
        out = self.net(feat)
        return TwoHotDist(out, self.bins) if self.kind == "twohot" else MSEDist(out[..., 0])


class WorldModel(nn.Module):
    """Encoder, RSSM, decoder, reward head and optional continue head.

    :param layout: observation layout
    :param action_dim: model-space action size
    :param deter, hidden, stoch, classes, unimix, min_std, learned_init, gru_norm: RSSM settings
    :param units, layers: MLP width / depth of encoder, decoder and heads
    :param cnn_depth: CNN channel multiplier
    :param norm, act: LayerNorm switch and activation
    :param symlog_obs: symlog vector inputs and symlog-MSE vector reconstruction (DreamerV3)
    :param reward_head: ``"twohot"`` or ``"mse"``
    :param cont_head: learn a continue (discount) head
    :param decoder: learn the observation decoder
    """

    def __init__(
        self,
        layout: ObsLayout,
        action_dim: int,
        *,
        deter: int,
        hidden: int,
        stoch: int,
        classes: int,
        units: int,
        layers: int,
        cnn_depth: int,
        norm: bool = True,
        act: str = "silu",
        unimix: float = 0.01,
        min_std: float = 0.1,
        learned_init: bool = True,
        symlog_obs: bool = True,
        reward_head: str = "twohot",
        cont_head: bool = True,
        decoder: bool = True,
        num_bins: int = 255,
        gru_norm: bool | None = None,
    ) -> None:
        super().__init__()
        self.layout = layout
        self.encoder = MultiEncoder(layout, cnn_depth, units, layers, norm, act, symlog_inputs=symlog_obs)
        self.rssm = RSSM(
            action_dim, self.encoder.out_dim, deter, hidden, stoch, classes, unimix, norm, act, min_std, learned_init, gru_norm
        )
        feat = self.rssm.feat_size
        self.decoder = MultiDecoder(feat, layout, cnn_depth, units, layers, norm, act, symlog_obs) if decoder else None
        self.reward = ScalarHead(feat, units, layers, reward_head, num_bins, norm, act, zero_out=reward_head == "twohot")
        self.cont = MLP(feat, 1, units, layers, norm, act) if cont_head else None

    def loss(
        self, batch: dict, free_nats: float, dyn_scale: float, rep_scale: float, scales: dict[str, float]
    ) -> tuple[th.Tensor, State, dict[str, th.Tensor]]:
        """World-model loss on a batch of sequences ``(B, T)``.

        :param scales: loss weights by term name (``image``, ``vector``, ``reward``, ``cont``)
        :return: scalar loss, posterior states ``(B, T, ·)``, and a dict of detached metrics
        """
        embed = self.encoder(batch["obs"], batch_dims=2)
        post, post_stats, prior_stats = self.rssm.observe(embed, batch["action"], batch["is_first"])
        feat = self.rssm.feat(post)
        losses: dict[str, th.Tensor] = {}
        if self.decoder is not None:
            losses.update(self.decoder.loss(feat, batch["obs"]))
        losses["reward"] = -self.reward(feat).log_prob(batch["reward"])
        if self.cont is not None:
            target = 1.0 - batch["is_terminal"]
            losses["cont"] = F.binary_cross_entropy_with_logits(self.cont(feat)[..., 0].float(), target, reduction="none")
        kl, dyn, rep = self.rssm.kl(post_stats, prior_stats, free_nats, dyn_scale, rep_scale)
        total = kl + sum(scales.get(k, 1.0) * v for k, v in losses.items())
        metrics = {f"{k}_loss": v.detach().mean() for k, v in losses.items()}
        metrics.update(dyn_loss=dyn.detach().mean(), rep_loss=rep.detach().mean(), kl_loss=kl.detach().mean())
        return total.mean(), post, metrics
