"""DreamerV1 (Hafner et al., ICLR 2020, "Dream to Control: Learning Behaviors by Latent Imagination").

What V1 changed on top of PlaNet's world model (same Gaussian RSSM, no LayerNorm, unit-variance
Gaussian decoder and reward, ``KL(post || prior)``), as its official code sets it: ELU dense layers and
ReLU convolutions, 8-bit images, free nats on the batch mean (``max(mean KL, 3)``), reward 2, value 3 and actor
4 hidden layers of 400 (the ``"v1"`` size), 100 extra updates right after the random prefill:

- behaviour is learned, not planned: an actor and a value network trained on 15-step
  rollouts imagined from every posterior state of the replayed batch
- the actor maximises the λ-returns (λ = 0.95, γ = 0.99) by backpropagating their analytic
  gradient through the learned dynamics (the world model frozen during that step): a
  tanh-squashed Gaussian for Box actions (mean ``5 tanh(μ / 5)``, std ``softplus(σ + c) + 1e-4``
  with initial std 5), a one-hot categorical with straight-through samples for discrete ones;
  no entropy bonus
- the value network regresses the λ-returns with a squared error; no target network, no return
  normalisation
- Adam (epsilon 1e-7, TF's default): world model 6e-4, actor 8e-5, value 8e-5, gradient clip 100
- exploration: Gaussian action noise 0.3 (clipped) on Box actions while collecting; for discrete
  actions the same number is an epsilon-greedy probability
- the continuous-control agent uses a fixed discount; the Atari variant learned a discount
  (continue) head, weight 10: ``predict_discount=True``

V1 trains 100 updates of 50 × 50 steps every 1000 frames (500 agent steps at action repeat 2):
a train ratio of 500.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch as th
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.actor_critic import ActorCriticDreamer
from dreamer_sb3.common.base import SETTINGS_VERSION, Precision
from dreamer_sb3.common.compat import earlier_policy_kwargs, loading_version, saved_before_official_defaults
from dreamer_sb3.common.distributions import FreeNatsMode
from dreamer_sb3.common.guard import BadData
from dreamer_sb3.common.policies import DreamerPolicy


class DreamerV1(ActorCriticDreamer):
    """DreamerV1 as a Stable-Baselines3 algorithm. Defaults are the paper's (continuous control).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or ``"MultiInputPolicy"``
    :param env: Gymnasium env, VecEnv or env id
    :param learning_rate: world-model learning rate
    :param actor_lr: actor learning rate
    :param critic_lr: value-network learning rate
    :param buffer_size: replay capacity (env steps)
    :param learning_starts: random-action steps before training (V1: 5000 frames, 2500 steps at action repeat 2)
    :param batch_size: sequences per batch
    :param batch_length: sequence length
    :param train_ratio: replayed steps per env step
    :param imag_horizon: imagination horizon
    :param discount: gamma
    :param gae_lambda: lambda of the λ-returns
    :param free_nats: free nats of the KL
    :param kl_scale: weight of the KL
    :param predict_discount: learn a continue (discount) head and discount imagined rewards with
        its probability (V1's Atari variant) instead of a fixed gamma
    :param discount_scale: weight of the discount head's loss
    :param free_nats_mode: ``"batch"`` (V1: ``max(mean KL, free_nats)``) or ``"step"`` (per time step)
    :param pretrain_updates: extra updates at the first training step after the prefill (V1: 100)
    :param exploration_noise: std of the Gaussian action noise while collecting (Box); for discrete
        actions the probability of a uniformly random action
    :param exploration_decay: half-life of the exploration amount in env steps (``num_timesteps``); 0: constant
        (V1's ``expl_decay``; its DMC config: 0)
    :param exploration_min: floor of the decayed exploration amount (V1's ``expl_min``)
    :param ent_coef: actor entropy bonus (V1 has none)
    :param model_grad_clip: world-model gradient-norm clip
    :param ac_grad_clip: actor and value gradient-norm clip
    :param precision: ``"fp32"`` or ``"bf16"`` autocast
    :param compile: ``torch.compile`` the networks (encoder, decoder, RSSM blocks, heads, actor, critic) in
        place; the first updates pay the compilation (about a minute on CPU), see ``docs/performance.md``
    :param on_bad_data: ``"raise"`` (default) on a NaN / inf observation, terminal observation or reward about to
        enter the replay, or ``"drop"`` the step with a warning (see ``docs/reliability.md``)
    :param max_skipped_updates: updates in a row with a non-finite loss or gradient (their steps are skipped)
        before training stops with an error
    :param log_every_updates: dump the logs every this many updates as well (0: only by episodes and at the end)
    :param video_every_updates: open-loop video predictions to TensorBoard every this many updates (0: never)
    :param distributed: data-parallel training under ``torchrun`` (``None``: detect the launch, ``True``: require
        it, ``False``: this process alone); see :class:`~dreamer_sb3.common.base.DreamerAlgorithm` and
        ``docs/distributed.md``
    """

    default_policy_kwargs: ClassVar[dict[str, Any]] = dict(
        model_size="v1",
        classes=0,
        norm=False,
        act="elu",
        cnn_act="relu",
        unimix=0.0,
        min_std=0.1,
        learned_init=False,
        symlog_obs=False,
        reward_head="mse",
        actor_dist="tanh_normal",
        critic_head="mse",
        slow_critic=False,
        return_norm=False,
        model_eps=1e-7,
        ac_eps=1e-7,
    )

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule = 6e-4,
        actor_lr: float = 8e-5,
        critic_lr: float = 8e-5,
        buffer_size: int = 1_000_000,
        learning_starts: int = 2500,
        batch_size: int = 50,
        batch_length: int = 50,
        train_ratio: float = 500.0,
        imag_horizon: int = 15,
        discount: float = 0.99,
        gae_lambda: float = 0.95,
        free_nats: float = 3.0,
        free_nats_mode: FreeNatsMode = "batch",
        kl_scale: float = 1.0,
        predict_discount: bool = False,
        discount_scale: float = 10.0,
        pretrain_updates: int = 100,
        exploration_noise: float = 0.3,
        exploration_decay: float = 0.0,
        exploration_min: float = 0.0,
        ent_coef: float = 0.0,
        model_grad_clip: float = 100.0,
        ac_grad_clip: float = 100.0,
        precision: Precision = "fp32",
        compile: bool = False,
        on_bad_data: BadData = "raise",
        max_skipped_updates: int = 10,
        distributed: bool | None = None,
        policy_kwargs: dict[str, Any] | None = None,
        log_every_updates: int = 100,
        video_every_updates: int = 1000,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
        _init_setup_model: bool = True,
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate,
            # the shared actor-critic update, as V1 sets it
            actor_lr=actor_lr,
            critic_lr=critic_lr,
            imag_horizon=imag_horizon,
            discount=discount,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            ac_grad_clip=ac_grad_clip,
            reinforce_mix=0.0,  # value gradients through the dynamics only
            slow_critic_fraction=1.0,  # unused: V1 has no slow critic
            slow_critic_interval=1,
            slow_critic_targets=False,
            discount_head="mean",  # with predict_discount: the continue probability discounts
            # the world model: PlaNet's KL(post || prior) (equal dynamics / representation weights give
            # exactly its gradient); unit-variance Gaussian decoders (NLL = 0.5 * squared error)
            free_nats=free_nats,
            free_nats_mode=free_nats_mode,
            dyn_scale=kl_scale,
            rep_scale=kl_scale,
            model_grad_clip=model_grad_clip,
            model_loss_scales={"image": 0.5, "vector": 0.5, "cont": discount_scale},
            # replay and schedule
            pretrain_updates=pretrain_updates,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            batch_length=batch_length,
            train_ratio=train_ratio,
            precision=precision,
            compile=compile,
            on_bad_data=on_bad_data,
            max_skipped_updates=max_skipped_updates,
            distributed=distributed,
            policy_kwargs=policy_kwargs,
            log_every_updates=log_every_updates,
            video_every_updates=video_every_updates,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            seed=seed,
            device=device,
        )
        self.kl_scale = kl_scale
        self.predict_discount = predict_discount
        self.discount_scale = discount_scale
        self.exploration_noise = exploration_noise
        if exploration_decay < 0 or exploration_min < 0:
            raise ValueError(f"exploration_decay and exploration_min must be >= 0, got {exploration_decay}, {exploration_min}")
        self.exploration_decay = exploration_decay
        self.exploration_min = exploration_min
        self._settings_version = loading_version(_init_setup_model, SETTINGS_VERSION)
        if _init_setup_model:
            self._setup_model()

    def exploration_amount(self) -> float:
        """V1's exploration schedule at the current step: ``exploration_noise · 0.5^(num_timesteps /
        exploration_decay)`` (no decay when ``exploration_decay`` is 0), at least ``exploration_min``."""
        amount = self.exploration_noise
        if self.exploration_decay > 0:
            amount *= 0.5 ** (self.num_timesteps / self.exploration_decay)
        return max(self.exploration_min, amount)

    def _sample_actions(self) -> tuple[np.ndarray, np.ndarray]:
        self.policy.exploration_noise = self.exploration_amount()
        return super()._sample_actions()

    def _upgrade_settings(self) -> None:
        if self._settings_version < 1:
            # version-0 files stored free_nats, dyn_scale, rep_scale and model_loss_scales, but not kl_scale
            self.kl_scale = self.dyn_scale
        if saved_before_official_defaults(self):  # per-step free nats, no pretraining, constant exploration
            self.free_nats_mode = "step"
            self.pretrain_updates = 0
            self.exploration_decay = self.exploration_min = 0.0

    def _derived_policy_kwargs(self) -> dict[str, Any]:
        return {
            **super()._derived_policy_kwargs(),
            **earlier_policy_kwargs(self, {"cnn_act": None}),
            "cont_head": self.predict_discount,
            "exploration_noise": self.exploration_noise,
        }
