"""The update shared by DreamerV1, V2 and V3: a world-model step, then an actor-critic in imagination.

One gradient step of :class:`ActorCriticDreamer` is

1. the world-model update (:meth:`DreamerAlgorithm._train_world_model`) on a replayed batch;
2. from every posterior state, ``imag_horizon`` steps imagined under the actor
   (:func:`dreamer_sb3.common.behavior.imagine`);
3. values of the imagined states from the critic, or from its slow copy (DreamerV2's target
   network), and λ-returns;
4. an actor step on ``ρ · REINFORCE + (1 - ρ) · dynamics backprop + η · entropy``, weighted by
   the cumulative imagined discount (``ρ = reinforce_mix``; ``ρ < 1`` keeps the imagination graph
   so value gradients flow through the frozen dynamics into the actor);
5. a critic step regressing the λ-returns;
6. the slow-critic update: every ``slow_critic_interval`` updates the slow critic moves
   ``slow_critic_fraction`` of the way to the critic (DreamerV3's EMA: every update, 0.02;
   DreamerV2's target network: every 100 updates, a hard copy).

The algorithms differ in their hyperparameters and in two hooks: the return scale
(:meth:`ActorCriticDreamer._return_scale`, DreamerV3's percentile normaliser when the policy
has one) and :meth:`ActorCriticDreamer._critic_loss`.
"""

from __future__ import annotations

from typing import Any

import torch as th

from dreamer_sb3.common.base import DreamerAlgorithm
from dreamer_sb3.common.behavior import Trajectory, frozen, imagine, start_states
from dreamer_sb3.common.returns import lambda_returns
from dreamer_sb3.common.rssm import State


class ActorCriticDreamer(DreamerAlgorithm):
    """A :class:`DreamerAlgorithm` that learns behaviour with an actor-critic on imagined rollouts.

    Subclasses set the hyperparameters below as attributes before calling
    ``DreamerAlgorithm.__init__`` (so they are saved with the model), or inherit the defaults.
    """

    #: actor learning rate (passed to the policy)
    actor_lr: float
    #: critic learning rate (passed to the policy)
    critic_lr: float
    #: imagination horizon ``H``
    imag_horizon: int
    #: discount ``γ``
    discount: float
    #: λ of the λ-returns
    gae_lambda: float
    #: actor entropy bonus ``η``
    ent_coef: float
    #: free nats of the KL terms
    free_nats: float
    #: weight of ``KL(sg(post) || prior)``
    dyn_scale: float
    #: weight of ``KL(post || sg(prior))``
    rep_scale: float
    #: world-model gradient clip
    model_grad_clip: float
    #: actor and critic gradient clip
    ac_grad_clip: float
    #: weight ``ρ`` of REINFORCE in the actor objective (``1 - ρ``: dynamics backprop)
    reinforce_mix: float = 1.0
    #: step of the slow critic toward the critic at each slow-critic update (1: hard copy)
    slow_critic_fraction: float = 0.02
    #: updates between slow-critic updates
    slow_critic_interval: int = 1
    #: value targets and REINFORCE baseline from the slow critic (DreamerV2's target network)
    slow_critic_targets: bool = False
    #: read the continue head as ``"mode"`` (0/1) or ``"mean"`` (probability) in imagination
    discount_head: str = "mode"
    #: world-model loss weights by term name (``image``, ``vector``, ``reward``, ``cont``)
    model_loss_scales: dict[str, float] = {}

    def _policy_kwargs(self) -> dict[str, Any]:
        return {"actor_lr": self.actor_lr, "critic_lr": self.critic_lr, **super()._policy_kwargs()}

    # ------------------------------------------------------------------ update
    def _train_step(self, batch: dict[str, Any]) -> dict[str, th.Tensor]:
        post, metrics = self._train_world_model(
            batch, self.free_nats, self.dyn_scale, self.rep_scale, self.model_grad_clip, self.model_loss_scales
        )
        metrics.update(self._train_behavior(post, batch))
        return metrics

    def _train_behavior(self, post: State, batch: dict[str, Any]) -> dict[str, th.Tensor]:
        """Actor and critic steps on rollouts imagined from the posterior states ``post``."""
        p = self.policy
        start = start_states(post)
        start_cont = 1.0 - batch["is_terminal"].reshape(-1)
        backprop = self.reinforce_mix < 1.0
        with self.autocast():
            traj = imagine(p, start, start_cont, self.imag_horizon, self.discount, backprop, self.discount_head)
            value_net = p.slow_critic if self.slow_critic_targets else p.critic
            with frozen(value_net), th.set_grad_enabled(backprop):
                value = value_net(traj.feat).mean
            ret = lambda_returns(traj.reward, value, traj.discount, self.gae_lambda)
            actor_loss, actor_metrics = self._actor_loss(traj, ret, value)
        actor_metrics["actor_grad_norm"] = self._gradient_step(
            p.actor_optimizer, actor_loss, p.actor.parameters(), self.ac_grad_clip
        )
        with self.autocast():
            critic_loss, critic_metrics = self._critic_loss(traj, ret.detach(), post, batch)
        critic_metrics["critic_grad_norm"] = self._gradient_step(
            p.critic_optimizer, critic_loss, p.critic.parameters(), self.ac_grad_clip
        )
        self._update_slow_critic()
        return {**actor_metrics, **critic_metrics}

    def _return_scale(self, ret: th.Tensor) -> th.Tensor | float:
        """Divisor of the advantages: DreamerV3's percentile range when the policy keeps a return
        normaliser (updated here with ``ret``), else 1."""
        norm = self.policy.return_norm
        if norm is None:
            return 1.0
        norm.update(ret)
        return norm.scale

    def _actor_loss(self, traj: Trajectory, ret: th.Tensor, value: th.Tensor) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """``-E[w (ρ log π(a|s) sg(A) + (1 - ρ) A + η H[π])]`` with ``A = (R^λ - v) / scale``.

        ``v`` (detached) is the value that produced the targets, so it is the REINFORCE baseline;
        the dynamics term's gradient is that of the λ-return itself.
        """
        p = self.policy
        scale = self._return_scale(ret)
        adv = (ret - value[:-1].detach()) / scale
        metrics: dict[str, th.Tensor] = {}
        objective = th.zeros_like(adv)
        dist = p.actor(traj.feat[:-1].detach()) if (self.reinforce_mix > 0 or self.ent_coef > 0) else None
        if self.reinforce_mix > 0:
            objective = self.reinforce_mix * dist.log_prob(traj.action.detach()) * adv.detach()
        if self.reinforce_mix < 1:
            objective = objective + (1.0 - self.reinforce_mix) * adv
        if self.ent_coef > 0:
            entropy = dist.entropy()
            objective = objective + self.ent_coef * entropy
            metrics["actor_entropy"] = entropy.detach().mean()
        loss = -(traj.weight[:-1] * objective).mean()
        metrics.update(
            actor_loss=loss.detach(),
            return_mean=ret.detach().mean(),
            advantage_mag=adv.detach().abs().mean(),
            imag_reward_mean=traj.reward.detach().mean(),
        )
        if p.return_norm is not None:
            metrics["return_scale"] = th.as_tensor(scale).detach()
        return loss, metrics

    def _critic_loss(
        self, traj: Trajectory, ret: th.Tensor, post: State, batch: dict[str, Any]
    ) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """Critic NLL of the (detached) λ-returns on the imagined states, weighted by the discount."""
        dist = self.policy.critic(traj.feat[:-1].detach())
        loss = -(traj.weight[:-1] * dist.log_prob(ret.detach())).mean()
        return loss, {"critic_loss": loss.detach()}

    @th.no_grad()
    def _update_slow_critic(self) -> None:
        """Every ``slow_critic_interval`` updates (counting the current one from 0), move the slow
        critic ``slow_critic_fraction`` toward the critic (a hard copy when the fraction is 1)."""
        p = self.policy
        if p.slow_critic is None or self._n_updates % self.slow_critic_interval != 0:
            return
        for slow, fast in zip(p.slow_critic.parameters(), p.critic.parameters()):
            if self.slow_critic_fraction >= 1.0:
                slow.copy_(fast)
            else:
                slow.lerp_(fast, self.slow_critic_fraction)
