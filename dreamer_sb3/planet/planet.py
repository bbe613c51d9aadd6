"""PlaNet (Hafner et al., ICML 2019, "Learning Latent Dynamics for Planning from Pixels").

What PlaNet is on top of the shared RSSM core:

- a Gaussian RSSM (deter 200, stoch 30) with ReLU layers, no LayerNorm, zero initial state;
  images quantised to 5 bits with uniform dequantisation noise; observations decoded with a
  unit-variance Gaussian, rewards with a unit-variance Gaussian (a 3 x 300 head, loss weight 10),
  no continue head (``predict_discount=True`` adds one for tasks that end on failure, an extension
  beyond the paper); vector observations are not symlogged
- the world-model loss: reconstruction + reward NLL + ``KL(post || prior)`` with 3 free nats
  (``rssm.kl`` with equal dynamics and representation weights gives exactly that gradient)
- no actor and no critic: every action is planned by the cross-entropy method (CEM) in latent
  space: 1000 action sequences of length 12 from a time-dependent diagonal Gaussian, scored by
  the sum of predicted rewards along their imagined trajectories, the Gaussian refitted to the
  best 100, 10 times; the first mean action is executed
- exploration: Gaussian action noise (std 0.3, clipped to the bounds) while collecting
- Adam, learning rate 1e-3, epsilon 1e-4, gradient norm clip 1000, batches of 50 sequences of 50

PlaNet alternates "collect one episode" and "train 100 steps"; here the base class's train ratio
spreads the same amount of training evenly over the env steps: 100 updates of 50 × 50 replayed
steps per 1000-frame episode at action repeat ``R`` is a train ratio of ``250 R`` (1000 at the
paper's most common ``R = 4``).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch as th
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.base import SETTINGS_VERSION, DreamerAlgorithm, Precision
from dreamer_sb3.common.behavior import imagine
from dreamer_sb3.common.compat import earlier_policy_kwargs, loading_version, saved_before_official_defaults
from dreamer_sb3.common.guard import BadData
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch
from dreamer_sb3.common.rssm import State


class PlanetPolicy(DreamerPolicy):
    """A world model that acts by planning: :meth:`select_action` runs the cross-entropy method.

    Planning is batched over envs and candidates: the ``N`` current latents are repeated for the
    ``C`` candidate sequences and one imagination of ``N * C`` trajectories scores them all.
    Actions live in model space (``[-1, 1]`` for Box, so the bounds are respected by clipping
    the candidates). Discrete / MultiDiscrete actions are planned over continuous per-class
    scores in ``[-1, 1]``: the world model sees the one-hot of each segment's arg-max, and the
    Gaussian is refitted on the scores (a relaxed one-hot).

    ``deterministic=True`` plans with a fixed-seed generator and the latent means, so it is a pure
    function of the latent; otherwise candidates use the global RNG, latents are sampled and
    exploration noise is added to the planned action.

    :param planning_horizon: length ``H`` of the planned action sequences
    :param n_candidates: candidate sequences ``C`` per iteration
    :param top_k: best candidates the Gaussian is refitted to
    :param cem_iters: CEM iterations
    :param kwargs: :class:`DreamerPolicy` arguments
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        planning_horizon: int = 12,
        n_candidates: int = 1000,
        top_k: int = 100,
        cem_iters: int = 10,
        **kwargs: Any,
    ) -> None:
        if planning_horizon < 1 or cem_iters < 1:
            raise ValueError(f"planning_horizon and cem_iters must be >= 1, got {planning_horizon} and {cem_iters}")
        if not 1 <= top_k <= n_candidates:
            raise ValueError(f"top_k must be in [1, n_candidates={n_candidates}], got {top_k}")
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)
        self.planning_horizon, self.n_candidates, self.top_k, self.cem_iters = planning_horizon, n_candidates, top_k, cem_iters
        self._ctor.update(planning_horizon=planning_horizon, n_candidates=n_candidates, top_k=top_k, cem_iters=cem_iters)

    def select_action(self, state: State, deterministic: bool = False) -> th.Tensor:
        """Plan from latent ``state`` ``(N, ·)``; add exploration noise unless ``deterministic``."""
        generator = None
        if deterministic:
            generator = th.Generator(device=self.device)
            generator.manual_seed(0)
        action = self.plan(state, deterministic, generator)
        return action if deterministic else self.explore(action)

    def to_model_action(self, x: th.Tensor) -> th.Tensor:
        """Candidate ``x`` in ``[-1, 1]`` -> the action vector the world model sees (one-hot per
        segment for discrete spaces)."""
        if not self.codec.discrete:
            return x
        return th.cat([F.one_hot(seg.argmax(-1), seg.shape[-1]).to(x.dtype) for seg in x.split(self.codec.sizes, -1)], -1)

    @th.no_grad()
    def imagined_return(self, start: State, actions: th.Tensor, deterministic: bool = False) -> th.Tensor:
        """Sum of predicted rewards of the trajectories imagined from ``start`` ``(M, ·)`` under
        the open-loop ``actions`` ``(H, M, A)`` (model-space vectors); returns ``(M,)``.

        With a continue head the reward of step ``t`` is weighted by the predicted probability that
        the episode is still running when it is received, ``prod_{k<t} p(continue_k)`` (the first
        reward counts in full), so plans that end the episode early score less: the shared
        imagination's cumulative weights with ``γ = 1`` and the continue head read as its mean."""
        ones = th.ones(start.deter.shape[0], device=start.deter.device)
        traj = imagine(self, start, ones, actions.shape[0], 1.0, False, "mean", actions=actions, deterministic=deterministic)
        return (traj.weight[:-1] * traj.reward.float()).sum(0)

    @th.no_grad()
    def plan(self, state: State, deterministic: bool = False, generator: th.Generator | None = None) -> th.Tensor:
        """Cross-entropy method over action sequences from latents ``state`` ``(N, ·)``.

        :return: ``(N, A)`` the mean first action of the final Gaussian, as a model-space action
        """
        n, dim = state.deter.shape[0], self.codec.dim
        h, c, k = self.planning_horizon, self.n_candidates, self.top_k
        start = State(state.deter.float().repeat_interleave(c, 0), state.stoch.float().repeat_interleave(c, 0))
        mean = th.zeros(h, n, 1, dim, device=self.device)
        std = th.ones(h, n, 1, dim, device=self.device)
        for _ in range(self.cem_iters):
            noise = th.randn((h, n, c, dim), device=self.device, generator=generator)
            cand = (mean + std * noise).clamp(-1.0, 1.0)  # (H, N, C, A)
            actions = self.to_model_action(cand.reshape(h, n * c, dim))
            returns = self.imagined_return(start, actions, deterministic).float().reshape(n, c)
            top = returns.topk(k, dim=1).indices  # (N, K)
            elite = cand.gather(2, top[None, :, :, None].expand(h, n, k, dim))
            mean = elite.mean(2, keepdim=True)
            std = elite.std(2, correction=0, keepdim=True)
        return self.to_model_action(mean[0, :, 0])


class PlaNet(DreamerAlgorithm):
    """PlaNet as a Stable-Baselines3 algorithm: a Gaussian RSSM and CEM planning.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or ``"MultiInputPolicy"`` (all :class:`PlanetPolicy`)
    :param env: Gymnasium env, VecEnv or env id
    :param learning_rate: Adam learning rate of the world model
    :param buffer_size: replay capacity (env steps)
    :param learning_starts: random-action steps before training (PlaNet: 5 seed episodes of 1000
        frames, 1250 steps at action repeat 4)
    :param batch_size: sequences per batch
    :param batch_length: sequence length
    :param train_ratio: replayed steps per env step (``250 R`` reproduces "100 updates per episode")
    :param planning_horizon: CEM planning horizon
    :param n_candidates: CEM candidates per iteration
    :param top_k: CEM elite size
    :param cem_iters: CEM iterations
    :param exploration_noise: std of the Gaussian action noise while collecting (Box actions); for
        discrete actions the probability of a uniformly random action
    :param free_nats: free nats of the KL
    :param kl_scale: weight of the KL
    :param reward_scale: weight of the reward NLL (the official config: 10)
    :param predict_discount: learn a continue head and weight each planned reward by the predicted
        probability that the episode is still running (not in the paper; for tasks that end on
        failure, like CartPole, where every step's reward is the same)
    :param discount_scale: weight of the continue head's loss
    :param model_grad_clip: gradient-norm clip
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

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": PlanetPolicy,
        "CnnPolicy": PlanetPolicy,
        "MultiInputPolicy": PlanetPolicy,
    }
    default_policy_kwargs: ClassVar[dict[str, Any]] = dict(
        model_size="planet",
        classes=0,
        norm=False,
        act="relu",
        image_bits=5,
        min_std=0.1,
        learned_init=False,
        symlog_obs=False,
        reward_head="mse",
        actor=False,
        critic=False,
        slow_critic=False,
        return_norm=False,
        model_eps=1e-4,
    )
    policy: PlanetPolicy

    def __init__(
        self,
        policy: str | type[PlanetPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule = 1e-3,
        buffer_size: int = 1_000_000,
        learning_starts: int = 1250,
        batch_size: int = 50,
        batch_length: int = 50,
        train_ratio: float = 1000.0,
        planning_horizon: int = 12,
        n_candidates: int = 1000,
        top_k: int = 100,
        cem_iters: int = 10,
        exploration_noise: float = 0.3,
        free_nats: float = 3.0,
        kl_scale: float = 1.0,
        reward_scale: float = 10.0,
        predict_discount: bool = False,
        discount_scale: float = 10.0,
        model_grad_clip: float = 1000.0,
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
            # the world model: KL(post || prior) (equal dynamics / representation weights give exactly
            # its gradient) with free nats per time step; unit-variance Gaussian decoders, NLL = 0.5 * squared
            # error (the reward head's MSEDist has the 0.5), the reward's weighted reward_scale
            free_nats=free_nats,
            free_nats_mode="step",
            dyn_scale=kl_scale,
            rep_scale=kl_scale,
            model_grad_clip=model_grad_clip,
            model_loss_scales={"image": 0.5, "vector": 0.5, "reward": reward_scale, "cont": discount_scale},
            # replay and schedule
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
        self.planning_horizon, self.n_candidates, self.top_k, self.cem_iters = planning_horizon, n_candidates, top_k, cem_iters
        self.exploration_noise = exploration_noise
        self.kl_scale = kl_scale
        self.reward_scale = reward_scale
        self.predict_discount, self.discount_scale = predict_discount, discount_scale
        self._settings_version = loading_version(_init_setup_model, SETTINGS_VERSION)
        if _init_setup_model:
            self._setup_model()

    def _upgrade_settings(self) -> None:
        if self._settings_version < 1:
            # version-0 files stored kl_scale and discount_scale, not the mapping
            self.dyn_scale = self.rep_scale = self.kl_scale
            self.model_loss_scales = {"image": 0.5, "vector": 0.5, "cont": self.discount_scale}
        if saved_before_official_defaults(self):  # the reward loss was weighted 1
            self.reward_scale = 1.0
            self.model_loss_scales = {**self.model_loss_scales, "reward": 1.0}

    def _derived_policy_kwargs(self) -> dict[str, Any]:
        return {
            **earlier_policy_kwargs(self, {"act": "elu", "image_bits": 8}),
            "planning_horizon": self.planning_horizon,
            "n_candidates": self.n_candidates,
            "top_k": self.top_k,
            "cem_iters": self.cem_iters,
            "exploration_noise": self.exploration_noise,
            "cont_head": self.predict_discount,
        }

    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """World-model step only: reconstruction + reward NLL + KL (the planner has nothing to train)."""
        return self.world_model_step(batch)[1]
