"""Recurrent State-Space Model (Hafner et al., 2019), shared by every Dreamer.

The latent state is ``(deter, stoch)``: a deterministic GRU state ``h`` and a stochastic state
``z`` that is either a diagonal Gaussian (PlaNet, DreamerV1) or a vector of categoricals with
straight-through gradients (DreamerV2, DreamerV3). ``feat = concat(h, flatten(z))`` feeds every
head.

- ``img_step``: prior ``p(z_t | h_t)`` with ``h_t = GRU(h_{t-1}, z_{t-1}, a_{t-1})``
- ``obs_step``: posterior ``q(z_t | h_t, e_t)`` from the encoder embedding ``e_t``
- ``observe``: posterior and prior over a sequence, resetting where ``is_first``
- ``imagine``: roll the prior forward under a policy

Two recurrent cores advance ``h``: the GRU of DreamerV2 and V3's 2023 release (default: ``z`` and ``a`` through one
hidden layer into a dense GRU), or the current DreamerV3 code's block GRU (``LatentSpec.blocks > 0``,
:class:`BlockGRUCore`: ``h``, ``z`` and ``a`` each through their own layer, then block-diagonal layers per group of
``h``).

Layers whose inputs are concatenations are split into one linear map per input, so the parts
that do not depend on the recurrence (the action and embedding projections) are computed for a
whole sequence at once, outside the sequential loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch as th
import torch.nn.functional as F
from torch import nn

from dreamer_sb3.common.distributions import (
    FreeNatsMode,
    categorical_kl,
    gaussian_kl,
    kl_loss,
    mode_onehot,
    sample_onehot,
    unimix_logits,
)
from dreamer_sb3.common.networks import BlockLinear, has_bias, init_weights, make_act, make_norm
from dreamer_sb3.common.specs import Activation, LatentSpec, Norm


class State(NamedTuple):
    """RSSM latent: ``deter`` ``(..., D)`` and flattened ``stoch`` ``(..., S)``."""

    deter: th.Tensor
    stoch: th.Tensor


class GRUCell(nn.Module):
    """GRU cell in DreamerV2/V3 form: one linear map, an optional norm (:func:`make_norm`), update gate bias -1.

    ``h' = u * tanh(r * c) + (1 - u) * h`` with ``u = sigmoid(x_u - 1)``.
    """

    def __init__(self, inp: int, size: int, norm: Norm = True) -> None:
        super().__init__()
        self.size = size
        self.linear = nn.Linear(inp + size, 3 * size, bias=has_bias(norm))
        self.norm = make_norm(norm, 3 * size) or nn.Identity()

    def forward(self, x: th.Tensor, h: th.Tensor) -> th.Tensor:
        parts = self.norm(self.linear(th.cat([x, h], -1)))
        reset, cand, update = parts.split(self.size, -1)
        reset = th.sigmoid(reset)
        cand = th.tanh(reset * cand)
        update = th.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * h


class BlockGRUCore(nn.Module):
    """The current DreamerV3 code's recurrent core (``rssm.py _core``): a GRU whose layers are block-diagonal over
    ``blocks`` groups of the deterministic state.

    ``h``, ``z`` and the action (divided by ``max(1, |a|)``) each pass a ``Linear -> norm -> act`` layer of
    ``hidden`` units; every group of ``h`` sees its own slice of ``h`` and all three of them, through ``dyn_layers``
    block-diagonal ``-> norm -> act`` layers and the block-diagonal gate layer (no norm on the gates); then
    ``h' = u * tanh(r * c) + (1 - u) * h`` with ``u = sigmoid(x_u - 1)``.

    :param action_dim: action vector size
    :param stoch_size: flat stochastic state size
    :param deter: deterministic state size, divisible by ``blocks``
    :param hidden: width of the three input layers
    :param blocks: groups of the block-diagonal layers (official: 8)
    :param dyn_layers: block-diagonal hidden layers before the gates (official: 1)
    :param norm: the normalisation of every layer (:func:`~dreamer_sb3.common.networks.make_norm`)
    :param act: activation name
    """

    def __init__(
        self,
        action_dim: int,
        stoch_size: int,
        deter: int,
        hidden: int,
        blocks: int,
        dyn_layers: int = 1,
        norm: Norm = "rms",
        act: Activation = "silu",
    ) -> None:
        super().__init__()
        if deter % blocks:
            raise ValueError(f"the block GRU needs deter ({deter}) divisible by blocks ({blocks})")
        self.deter, self.blocks = deter, blocks

        def layer(inp: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Linear(inp, hidden, bias=has_bias(norm)), make_norm(norm, hidden) or nn.Identity(), make_act(act)
            )

        self.deter_in, self.stoch_in, self.action_in = layer(deter), layer(stoch_size), layer(action_dim)
        layers: list[nn.Module] = []
        width = deter + blocks * 3 * hidden  # per group: its slice of h and the three input layers
        for _ in range(dyn_layers):
            layers += [
                BlockLinear(width, deter, blocks, bias=has_bias(norm)),
                make_norm(norm, deter) or nn.Identity(),
                make_act(act),
            ]
            width = deter
        self.dyn_hidden = nn.Sequential(*layers)
        self.gates = BlockLinear(width, 3 * deter, blocks)
        init_weights(self)

    def action_proj(self, action: th.Tensor) -> th.Tensor:
        """The action's input layer (no recurrence: computed for a whole sequence at once)."""
        return self.action_in(action / action.detach().abs().clamp(min=1.0))

    def forward(self, deter: th.Tensor, stoch: th.Tensor, action_proj: th.Tensor) -> th.Tensor:
        batch, g = deter.shape[:-1], self.blocks
        x = th.cat([self.deter_in(deter), self.stoch_in(stoch), action_proj], -1)
        x = th.cat([deter.reshape(*batch, g, -1), x.unsqueeze(-2).expand(*batch, g, x.shape[-1])], -1)
        gates = self.gates(self.dyn_hidden(x.reshape(*batch, -1))).reshape(*batch, g, 3, -1)
        reset, cand, update = (gates[..., i, :].reshape(*batch, self.deter) for i in range(3))
        cand = th.tanh(th.sigmoid(reset) * cand)
        update = th.sigmoid(update - 1.0)
        return update * cand + (1.0 - update) * deter


class RSSM(nn.Module):
    """Recurrent State-Space Model.

    :param action_dim: size of the (one-hot or continuous) action vector
    :param embed_dim: size of the observation embedding
    :param latent: the latent state's sizes and distributions (deter, hidden, stoch, classes —
        ``0`` selects a Gaussian latent —, unimix, min_std, learned_init, gru_norm)
    :param norm: the normalisation in every block (:func:`make_norm`)
    :param act: activation name
    """

    def __init__(
        self, action_dim: int, embed_dim: int, latent: LatentSpec, norm: Norm = True, act: Activation = "silu"
    ) -> None:
        super().__init__()
        self.spec = latent
        deter, hidden = latent.deter, latent.hidden
        self.deter_size = deter
        self.stoch_vars = latent.stoch
        self.classes = latent.classes
        self.discrete = latent.classes > 0
        self.stoch_size = latent.stoch * latent.classes if self.discrete else latent.stoch
        self.unimix = latent.unimix
        self.min_std = latent.min_std
        self.learned_init = latent.learned_init
        stats = self.stoch_size if self.discrete else 2 * latent.stoch

        def block() -> nn.Sequential:
            return nn.Sequential(make_norm(norm, hidden) or nn.Identity(), make_act(act))

        self.core: BlockGRUCore | None = None
        if latent.blocks:  # the current official core
            self.core = BlockGRUCore(action_dim, self.stoch_size, deter, hidden, latent.blocks, latent.dyn_layers, norm, act)
        else:
            # img_in(z, a) = act(norm(W_z z + W_a a)) — split so W_a a can be batched over time.
            self.img_in_stoch = nn.Linear(self.stoch_size, hidden, bias=False)
            self.img_in_action = nn.Linear(action_dim, hidden, bias=has_bias(norm))
            self.img_in_block = block()
            self.gru = GRUCell(hidden, deter, norm if latent.gru_norm is None else latent.gru_norm)
        prior: list[nn.Module] = [nn.Linear(deter, hidden, bias=has_bias(norm)), block()]
        for _ in range(latent.img_layers - 1):
            prior += [nn.Linear(hidden, hidden, bias=has_bias(norm)), block()]
        self.prior_net = nn.Sequential(*prior, nn.Linear(hidden, stats))
        # obs_out(h, e) = act(norm(W_h h + W_e e)) — W_e e batched over time.
        self.post_deter = nn.Linear(deter, hidden, bias=False)
        self.post_embed = nn.Linear(embed_dim, hidden, bias=has_bias(norm))
        self.post_block = block()
        self.post_out = nn.Linear(hidden, stats)
        init_weights(self)  # the block core's BlockLinear layers keep their own (Xavier-uniform per block) init
        self.init_deter = nn.Parameter(th.zeros(deter), requires_grad=latent.learned_init)

    # ------------------------------------------------------------------ distributions
    def _stats(self, raw: th.Tensor) -> tuple[th.Tensor, ...]:
        """Distribution parameters from raw network output: ``(logits,)`` or ``(mean, std)``."""
        if self.discrete:
            logits = raw.reshape(*raw.shape[:-1], self.stoch_vars, self.classes)
            return (unimix_logits(logits, self.unimix),)
        mean, std = raw.float().chunk(2, -1)
        return mean, F.softplus(std) + self.min_std

    def sample(self, stats: tuple[th.Tensor, ...], deterministic: bool = False) -> th.Tensor:
        """Sample a flat stochastic state (straight-through for categoricals)."""
        if self.discrete:
            logits = stats[0]
            probs = logits.exp()
            onehot = mode_onehot(probs) if deterministic else sample_onehot(probs)
            z = onehot + probs - probs.detach()
            return z.reshape(*z.shape[:-2], self.stoch_size)
        mean, std = stats
        return mean if deterministic else mean + std * th.randn_like(std)

    def entropy(self, stats: tuple[th.Tensor, ...]) -> th.Tensor:
        """Entropy (nats) of the stochastic state's distribution, summed over its variables: shape ``stats[0].shape[:-2]``
        for categoricals (``(..., vars, classes)`` logits), ``stats[0].shape[:-1]`` for Gaussians."""
        if self.discrete:
            logits = stats[0].float()
            return -(logits.exp() * logits).sum((-2, -1))
        std = stats[1].float()
        return (0.5 * math.log(2 * math.pi * math.e) + std.log()).sum(-1)

    def kl(
        self,
        post: tuple[th.Tensor, ...],
        prior: tuple[th.Tensor, ...],
        free_nats: float,
        dyn_scale: float,
        rep_scale: float,
        free_nats_mode: FreeNatsMode = "step",
    ) -> tuple[th.Tensor, th.Tensor, th.Tensor]:
        """KL loss with free bits and balancing; see :func:`dreamer_sb3.common.distributions.kl_loss`."""
        fn = categorical_kl if self.discrete else gaussian_kl
        return kl_loss(fn, post, prior, free_nats, dyn_scale, rep_scale, free_nats_mode)

    # ------------------------------------------------------------------ state helpers
    @property
    def feat_size(self) -> int:
        return self.deter_size + self.stoch_size

    @staticmethod
    def feat(state: State) -> th.Tensor:
        return th.cat([state.deter, state.stoch], -1)

    def from_flat(self, flat: th.Tensor, valid: th.Tensor | None = None) -> State:
        """The state whose :meth:`feat` is ``flat`` ``(N, feat_size)`` (a stored latent); rows where ``valid``
        (bool ``(N,)``) is false get the initial state instead."""
        flat = flat.to(self.init_deter.dtype)
        state = State(flat[:, : self.deter_size], flat[:, self.deter_size :])
        if valid is None:
            return state
        init, mask = self.initial(flat.shape[0]), valid[:, None]
        return State(th.where(mask, state.deter, init.deter), th.where(mask, state.stoch, init.stoch))

    def initial(self, batch: int) -> State:
        """Initial latent: ``tanh`` of the learned vector (or zeros) and the prior mode under it."""
        if self.learned_init:
            deter = th.tanh(self.init_deter).expand(batch, self.deter_size)
            stoch = self.sample(self._stats(self.prior_net(deter)), deterministic=True)
            # zero gradient through the mode's straight-through part is fine: it is a constant start
            return State(deter, stoch)
        device = self.init_deter.device
        return State(th.zeros(batch, self.deter_size, device=device), th.zeros(batch, self.stoch_size, device=device))

    def reset_where(self, state: State, action: th.Tensor, first: th.Tensor) -> tuple[State, th.Tensor]:
        """Replace ``state`` rows (and zero ``action`` rows) where ``first`` (bool ``(N,)``) is true."""
        init = self.initial(first.shape[0])
        mask = first[:, None]
        return (
            State(th.where(mask, init.deter, state.deter), th.where(mask, init.stoch, state.stoch)),
            th.where(mask, th.zeros_like(action), action),
        )

    # ------------------------------------------------------------------ one step
    def img_step(
        self, state: State, action: th.Tensor, deterministic: bool = False, action_proj: th.Tensor | None = None
    ) -> tuple[State, tuple[th.Tensor, ...]]:
        """Prior step: ``h_t = GRU(h_{t-1}, z_{t-1}, a_{t-1})``, ``z_t ~ p(z_t | h_t)``."""
        deter = self._deter_step(state, action, action_proj)
        stats = self._stats(self.prior_net(deter))
        return State(deter, self.sample(stats, deterministic)), stats

    def action_proj(self, action: th.Tensor) -> th.Tensor:
        """The action's input projection (no recurrence: computed for whole sequences at once)."""
        return self.core.action_proj(action) if self.core is not None else self.img_in_action(action)

    def _deter_step(self, state: State, action: th.Tensor | None, action_proj: th.Tensor | None = None) -> th.Tensor:
        if action_proj is None:
            assert action is not None
            action_proj = self.action_proj(action)
        if self.core is not None:
            return self.core(state.deter, state.stoch, action_proj)
        x = self.img_in_block(self.img_in_stoch(state.stoch) + action_proj)
        return self.gru(x, state.deter)

    def _post_stats(self, deter: th.Tensor, embed_proj: th.Tensor) -> tuple[th.Tensor, ...]:
        return self._stats(self.post_out(self.post_block(self.post_deter(deter) + embed_proj)))

    def obs_step(
        self, state: State, action: th.Tensor, embed: th.Tensor, is_first: th.Tensor, deterministic: bool = False
    ) -> tuple[State, tuple[th.Tensor, ...]]:
        """Posterior step for acting: reset where ``is_first`` (bool ``(N,)``), advance, then condition on ``embed``.

        The reset (which evaluates the initial state) is skipped when no row starts an episode: one
        host read of ``is_first`` per acting step, which the env loop synchronises on anyway."""
        if bool(is_first.any()):
            state, action = self.reset_where(state, action, is_first)
        deter = self._deter_step(state, action)
        stats = self._post_stats(deter, self.post_embed(embed))
        return State(deter, self.sample(stats, deterministic)), stats

    # ------------------------------------------------------------------ sequences
    def observe(
        self, embed: th.Tensor, action: th.Tensor, is_first: th.Tensor, state: State | None = None
    ) -> tuple[State, tuple[th.Tensor, ...], tuple[th.Tensor, ...]]:
        """Posterior over a sequence.

        :param embed: ``(B, T, E)`` observation embeddings
        :param action: ``(B, T, A)`` previous actions (``action[:, t]`` led to observation ``t``)
        :param is_first: ``(B, T)`` bool episode starts: the state is reset there
        :param state: latent before the first step (initial state if ``None``)
        :return: posterior states ``(B, T, ·)``, posterior stats and prior stats
        """
        if is_first.dtype != th.bool:
            raise TypeError(f"is_first must be a bool tensor, got {is_first.dtype}")
        batch, steps = embed.shape[:2]
        if state is None:
            state = self.initial(batch)
        first = is_first
        action = th.where(first[..., None], th.zeros_like(action), action)
        act_proj = self.action_proj(action)  # (B, T, H): batched over time
        emb_proj = self.post_embed(embed)
        init = self.initial(batch)
        deters, stochs, post_stats = [], [], []
        for t in range(steps):
            mask = first[:, t, None]
            state = State(th.where(mask, init.deter, state.deter), th.where(mask, init.stoch, state.stoch))
            deter = self._deter_step(state, None, act_proj[:, t])
            stats = self._post_stats(deter, emb_proj[:, t])
            state = State(deter, self.sample(stats))
            deters.append(deter)
            stochs.append(state.stoch)
            post_stats.append(stats)
        deter = th.stack(deters, 1)
        post = State(deter, th.stack(stochs, 1))
        post_stats_t = tuple(th.stack(s, 1) for s in zip(*post_stats))
        prior_stats = self._stats(self.prior_net(deter))  # batched over time
        return post, post_stats_t, prior_stats

    def imagine(
        self,
        start: State,
        policy: Callable[[th.Tensor], th.Tensor] | th.Tensor,
        horizon: int,
        deterministic: bool = False,
    ) -> tuple[th.Tensor, th.Tensor]:
        """Roll the prior forward from ``start`` ``(N, ·)`` for ``horizon`` steps: the one imagination
        loop of the family (the actor-critic's rollouts and PlaNet's planner both run it).

        :param policy: ``policy(feat) -> action`` (closed loop), or the actions themselves, ``(H, N, A)``
            (open loop: their input projection is computed for all steps at once)
        :param deterministic: latent modes instead of samples
        :return: features ``(H + 1, N, F)`` of ``s_0 .. s_H`` and actions ``(H, N, A)`` with
            ``a_t = policy(s_t)``
        """
        open_loop: th.Tensor | None = policy if isinstance(policy, th.Tensor) else None
        action_proj = self.action_proj(open_loop) if open_loop is not None else None  # (H, N, hidden), batched over time
        state = start
        feat = self.feat(state)
        feats, actions = [feat], []
        for t in range(horizon):
            proj: th.Tensor | None = None
            if open_loop is not None and action_proj is not None:
                action, proj = open_loop[t], action_proj[t]
            else:
                assert callable(policy)
                action = policy(feat)
            actions.append(action)
            state, _ = self.img_step(state, action, deterministic, proj)
            feat = self.feat(state)
            feats.append(feat)
        return th.stack(feats), (open_loop if open_loop is not None else th.stack(actions))
