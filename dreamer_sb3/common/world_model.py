"""World model: encoder + RSSM + heads (decoder, reward, continue) and its loss."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import torch as th
from torch import nn

from dreamer_sb3.common.distributions import FreeNatsMode
from dreamer_sb3.common.heads import ContinueHead, ScalarHead
from dreamer_sb3.common.networks import MultiDecoder, MultiEncoder, ObsLayout, preprocess_images
from dreamer_sb3.common.replay import SequenceBatch
from dreamer_sb3.common.rssm import RSSM, State
from dreamer_sb3.common.specs import HeadSpec, LatentSpec, NetSpec


class WorldModel(nn.Module):
    """Encoder, RSSM, decoder, reward head and optional continue head.

    :param layout: observation layout
    :param action_dim: model-space action size
    :param net: width, depth, norm and activation of every MLP / CNN
    :param latent: the RSSM's latent state
    :param heads: which heads exist and their kinds
    """

    def __init__(self, layout: ObsLayout, action_dim: int, net: NetSpec, latent: LatentSpec, heads: HeadSpec) -> None:
        super().__init__()
        self.layout = layout
        self.image_bits = heads.image_bits
        self.encoder = MultiEncoder(
            layout,
            net.cnn_depth,
            net.units,
            net.layers,
            net.norm,
            net.act,
            symlog_inputs=heads.symlog_obs,
            cnn_act=net.cnn_act,
            image_bits=heads.image_bits,
        )
        self.rssm = RSSM(action_dim, self.encoder.out_dim, latent, net.norm, net.act)
        feat = self.rssm.feat_size
        self.decoder = (
            MultiDecoder(feat, layout, net.cnn_depth, net.units, net.layers, net.norm, net.act, heads.symlog_obs, net.cnn_act)
            if heads.decoder
            else None
        )
        reward_net = replace(net, layers=heads.reward_layers) if heads.reward_layers is not None else net
        self.reward = ScalarHead(feat, reward_net, heads.reward_head, heads.num_bins, zero_out=heads.reward_head == "twohot")
        cont_net = replace(net, layers=heads.cont_layers) if heads.cont_layers is not None else net
        self.cont = ContinueHead(feat, cont_net) if heads.cont_head else None

    def loss(
        self,
        batch: SequenceBatch,
        free_nats: float,
        dyn_scale: float,
        rep_scale: float,
        scales: Mapping[str, float],
        free_nats_mode: FreeNatsMode = "step",
    ) -> tuple[th.Tensor, State, dict[str, th.Tensor]]:
        """World-model loss on a batch of sequences ``(B, T)``.

        A batch with a replay ``context`` (stored latents of the step before each window) starts each window from
        that latent where the step holds one, else from the initial state.

        With ``image_bits < 8`` the images are quantised and dequantised with uniform noise once, and that same
        image is the encoder's input and the decoder's target (PlaNet's preprocessing).

        :param scales: loss weights by term name (``image``, ``vector``, ``reward``, ``cont``; 1 when absent)
        :param free_nats_mode: free nats per time step or on the batch mean (see :func:`kl_loss`)
        :return: scalar loss, posterior states ``(B, T, ·)``, and a dict of detached metrics
        """
        images = None
        if self.image_bits < 8:
            images = preprocess_images(batch.obs, self.layout, self.image_bits, noise=True)
        embed = self.encoder(batch.obs, batch_dims=2, images=images)
        start = None if batch.context is None else self.rssm.from_flat(batch.context, batch.has_context)
        post, post_stats, prior_stats = self.rssm.observe(embed, batch.action, batch.is_first, start)
        feat = self.rssm.feat(post)
        losses: dict[str, th.Tensor] = {}
        if self.decoder is not None:
            losses.update(self.decoder.loss(feat, batch.obs, images))
        losses["reward"] = -self.reward(feat).log_prob(batch.reward)
        if self.cont is not None:
            losses["cont"] = -self.cont(feat).log_prob(1.0 - batch.is_terminal.float())
        kl, dyn, rep = self.rssm.kl(post_stats, prior_stats, free_nats, dyn_scale, rep_scale, free_nats_mode)
        total = kl + sum(scales.get(k, 1.0) * v for k, v in losses.items())
        metrics = {f"{k}_loss": v.detach().mean() for k, v in losses.items()}
        metrics.update(dyn_loss=dyn.detach().mean(), rep_loss=rep.detach().mean(), kl_loss=kl.detach().mean())
        with th.no_grad():
            metrics.update(
                prior_entropy=self.rssm.entropy(prior_stats).mean(), post_entropy=self.rssm.entropy(post_stats).mean()
            )
        return total.mean(), post, metrics
