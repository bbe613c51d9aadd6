"""The update shared by DreamerV1, V2 and V3: a world-model step, then an actor-critic in imagination.

One gradient step of :class:`ActorCriticDreamer` is

1. the world-model update (:meth:`DreamerAlgorithm.world_model_step`) on a replayed batch;
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
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.base import DreamerAlgorithm
from dreamer_sb3.common.behavior import DiscountHead, Trajectory, frozen, imagine, start_states
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch
from dreamer_sb3.common.returns import lambda_returns
from dreamer_sb3.common.rssm import State
from dreamer_sb3.common.validation import check_behavior_settings


class ActorCriticDreamer(DreamerAlgorithm):
    """A :class:`DreamerAlgorithm` that learns behaviour with an actor-critic on imagined rollouts.

    Every knob of the update is a keyword argument stored as a plain attribute; each paper's class
    maps its own parameterisation onto them in its one ``super().__init__`` call (see
    ``docs/algorithms.md``). A new setting of the shared update goes here: a keyword, an attribute,
    the line that reads it.

    :param actor_lr: actor learning rate (passed to the policy)
    :param critic_lr: critic learning rate (passed to the policy)
    :param imag_horizon: imagination horizon ``H``
    :param discount: discount ``γ``
    :param gae_lambda: λ of the λ-returns
    :param ent_coef: actor entropy bonus ``η``
    :param ac_grad_clip: actor and critic gradient-norm clip
    :param reinforce_mix: weight ``ρ`` of REINFORCE in the actor objective (``1 - ρ``: dynamics backprop)
    :param slow_critic_fraction: step of the slow critic toward the critic at each slow-critic
        update (1: a hard copy)
    :param slow_critic_interval: updates between slow-critic updates
    :param slow_critic_targets: λ-return targets and the REINFORCE baseline from the slow critic
        (DreamerV2's target network) instead of the critic
    :param discount_head: read the continue head in imagination as its ``"mode"`` (0/1) or its
        ``"mean"`` (the probability of continuing)
    :param kwargs: the settings of :class:`DreamerAlgorithm` (world model, replay, schedule)
    """

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule,
        *,
        actor_lr: float,
        critic_lr: float,
        imag_horizon: int,
        discount: float,
        gae_lambda: float,
        ent_coef: float,
        ac_grad_clip: float,
        reinforce_mix: float,
        slow_critic_fraction: float,
        slow_critic_interval: int,
        slow_critic_targets: bool,
        discount_head: DiscountHead,
        **kwargs: Any,
    ) -> None:
        check_behavior_settings(imag_horizon=imag_horizon, discount=discount)
        super().__init__(policy, env, learning_rate, **kwargs)
        if discount_head not in ("mode", "mean"):
            raise ValueError(f"discount_head must be 'mode' or 'mean', got {discount_head!r}")
        self.actor_lr = actor_lr
        self.critic_lr = critic_lr
        self.imag_horizon = imag_horizon
        self.discount = discount
        self.gae_lambda = gae_lambda
        self.ent_coef = ent_coef
        self.ac_grad_clip = ac_grad_clip
        self.reinforce_mix = reinforce_mix
        self.slow_critic_fraction = slow_critic_fraction
        self.slow_critic_interval = slow_critic_interval
        self.slow_critic_targets = slow_critic_targets
        self.discount_head: DiscountHead = discount_head

    def _derived_policy_kwargs(self) -> dict[str, Any]:
        return {"actor_lr": self.actor_lr, "critic_lr": self.critic_lr}

    # ------------------------------------------------------------------ update
    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """A world-model step, then an actor-critic step on rollouts imagined from its posteriors."""
        post, metrics = self.world_model_step(batch)
        metrics.update(self.behavior_step(post, batch))
        return metrics

    def behavior_step(self, post: State, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """Actor and critic steps on rollouts imagined from the posterior states ``post`` ``(B, T, ·)``."""
        p = self.policy
        actor, critic = p.actor_critic()
        start = start_states(post)
        start_cont = 1.0 - batch.is_terminal.reshape(-1).float()
        backprop = self.reinforce_mix < 1.0
        with self.autocast():
            traj = imagine(p, start, start_cont, self.imag_horizon, self.discount, backprop, self.discount_head)
            value_net = critic
            if self.slow_critic_targets:
                if p.slow_critic is None:
                    raise RuntimeError("slow_critic_targets needs a slow critic: build the policy with slow_critic=True")
                value_net = p.slow_critic
            with frozen(value_net), th.set_grad_enabled(backprop):
                value = value_net(traj.feat).mean
            ret = lambda_returns(traj.reward, value, traj.discount, self.gae_lambda)
            actor_loss, actor_metrics = self._actor_loss(traj, ret, value)
        actor_metrics["value_mean"] = value.detach().float().mean()  # the critic on imagined states
        actor_metrics["actor_grad_norm"] = self._gradient_step(
            p.actor_optimizer, actor_loss, actor.parameters(), self.ac_grad_clip
        )
        with self.autocast():
            critic_loss, critic_metrics = self._critic_loss(traj, ret.detach(), post, batch)
        skipped = self._skipped_updates
        critic_metrics["critic_grad_norm"] = self._gradient_step(
            p.critic_optimizer, critic_loss, critic.parameters(), self.ac_grad_clip
        )
        if self._skipped_updates == skipped:  # a skipped critic step (non-finite) leaves the slow critic alone too
            self._update_slow_critic()
        return {**actor_metrics, **critic_metrics}

    def _return_scale(self, ret: th.Tensor) -> th.Tensor | float:
        """Divisor of the advantages: DreamerV3's percentile range when the policy keeps a return
        normaliser (updated here with ``ret``), else 1."""
        norm = self.policy.return_norm
        if norm is None:
            return 1.0
        norm.update(self._ranks.gather(ret.detach()))  # percentiles of every rank's returns: the same scale everywhere
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
        actor, _ = p.actor_critic()
        dist = actor(traj.feat[:-1].detach()) if (self.reinforce_mix > 0 or self.ent_coef > 0) else None
        if dist is not None and self.reinforce_mix > 0:
            objective = self.reinforce_mix * dist.log_prob(traj.action.detach()) * adv.detach()
        if self.reinforce_mix < 1:
            objective = objective + (1.0 - self.reinforce_mix) * adv
        if dist is not None and self.ent_coef > 0:
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
        self, traj: Trajectory, ret: th.Tensor, post: State, batch: SequenceBatch
    ) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """Critic NLL of the (detached) λ-returns on the imagined states, weighted by the discount."""
        _, critic = self.policy.actor_critic()
        dist = critic(traj.feat[:-1].detach())
        loss = -(traj.weight[:-1] * dist.log_prob(ret.detach())).mean()
        return loss, {"critic_loss": loss.detach()}

    @th.no_grad()
    def _update_slow_critic(self) -> None:
        """Every ``slow_critic_interval`` updates (counting the current one from 0), move the slow
        critic ``slow_critic_fraction`` toward the critic (a hard copy when the fraction is 1)."""
        p = self.policy
        if p.slow_critic is None or self._n_updates % self.slow_critic_interval != 0:
            return
        _, critic = p.actor_critic()
        for slow, fast in zip(p.slow_critic.parameters(), critic.parameters()):
            if self.slow_critic_fraction >= 1.0:
                slow.copy_(fast)
            else:
                slow.lerp_(fast, self.slow_critic_fraction)
