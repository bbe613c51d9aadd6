"""Behaviour learning in imagination, shared by DreamerV1, V2 and V3.

:func:`imagine` rolls the world model forward from every posterior state of a replayed batch
under the actor and returns what the actor-critic losses need: features, actions, predicted
rewards, discounts and the cumulative-discount weights. The algorithms differ only in how they
turn that into losses.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, NamedTuple

import torch as th
from torch import nn

from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.rssm import State

#: how imagination reads the continue head: its 0/1 ``"mode"`` or its ``"mean"`` probability
DiscountHead = Literal["mode", "mean"]


class Trajectory(NamedTuple):
    """An imagined rollout of horizon ``H`` from ``N`` start states (time-major)."""

    feat: th.Tensor  #: ``(H + 1, N, F)`` features of ``s_0 .. s_H``
    action: th.Tensor  #: ``(H, N, A)`` actions ``a_t ~ pi(s_t)``
    reward: th.Tensor  #: ``(H, N)`` predicted rewards ``r_1 .. r_H``
    discount: th.Tensor  #: ``(H, N)`` ``gamma * continue`` for ``s_1 .. s_H``
    weight: th.Tensor  #: ``(H + 1, N)`` cumulative discount weight of each state (no gradient)


@contextlib.contextmanager
def frozen(module: nn.Module) -> Iterator[None]:
    """Temporarily disable parameter gradients (the world model during behaviour learning):
    gradients still flow *through* the module to its inputs, but none are computed for its weights."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(module.parameters(), flags):
            p.requires_grad_(f)


def start_states(post: State) -> State:
    """Flatten ``(B, T, ·)`` posterior states into ``(B*T, ·)`` imagination starts (detached)."""
    return State(post.deter.detach().reshape(-1, post.deter.shape[-1]), post.stoch.detach().reshape(-1, post.stoch.shape[-1]))


def imagine(
    policy: DreamerPolicy,
    start: State,
    start_cont: th.Tensor,
    horizon: int,
    discount: float,
    backprop: bool,
    discount_head: DiscountHead = "mode",
    actions: th.Tensor | None = None,
    deterministic: bool = False,
) -> Trajectory:
    """Imagine ``horizon`` steps from ``start`` under ``policy.actor`` (or the open-loop ``actions``).

    :param start_cont: ``(N,)`` continue flag of the start states (``1 - is_terminal``)
    :param discount: gamma
    :param backprop: keep the graph through the dynamics so the actor loss can backpropagate value
        gradients (DreamerV1, V2 continuous); otherwise the rollout runs without autograd
        (REINFORCE needs only the log-probabilities, recomputed afterwards in one batch)
    :param discount_head: read the continue head as its ``"mode"`` (0/1) or ``"mean"``
        (the probability of continuing); worlds without a continue head always continue
    :param actions: ``(H, N, A)`` model-space actions to follow instead of the actor (PlaNet's planner)
    :param deterministic: latent modes instead of samples
    """
    wm = policy.world_model

    def act(feat: th.Tensor) -> th.Tensor:
        actor, _ = policy.actor_critic()
        action = actor(feat.detach()).rsample()
        return action if backprop else action.detach()

    with frozen(wm), th.set_grad_enabled(backprop and th.is_grad_enabled()):
        feat, action = wm.rssm.imagine(start, act if actions is None else actions, horizon, deterministic)
        reward = wm.reward(feat[1:]).mean
        if wm.cont is not None:
            cont_dist = wm.cont(feat[1:])
            cont = cont_dist.mode() if discount_head == "mode" else cont_dist.mean
        else:
            cont = th.ones_like(reward)
    disc = discount * cont
    with th.no_grad():
        weight = th.cumprod(th.cat([start_cont[None].float(), disc.detach()], 0), 0)
    return Trajectory(feat, action, reward, disc, weight)
