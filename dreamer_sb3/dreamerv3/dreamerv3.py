"""DreamerV3 (Hafner et al., 2023, "Mastering Diverse Domains through World Models").

What V3 changed on top of the shared RSSM core:

- symlog inputs and symlog-MSE vector reconstruction; two-hot reward and critic over
  symexp-spaced bins (zero-initialised outputs)
- KL with free bits (1 nat) split into dynamics (1.0; 0.5 in the 2023 release) and representation (0.1) terms
- 1% unimix on categorical latents and discrete actions
- continue head, discount ``1 - 1/333``; imagination discounts by the continue *probability*
  (the 2023 release used its 0/1 mode)
- actor advantages normalised by the EMA of the 5th–95th return percentile range, ``max(1, S)``
- critic regularised toward its slow EMA copy, plus a replay value loss (0.3)
- uniform replay over all stored subsequences; each replayed window starts from the latent stored with the
  step before it (replay context, current official code; the 2023 release started every window afresh), and each
  fresh window is replayed once as soon as it arrives (online queue, current official code)
- optimiser: the 2023 release's three Adams (default here) or the current code's LaProp with adaptive gradient
  clipping and warm-up (``optimizer="laprop"``, :mod:`dreamer_sb3.common.optim`)

``recipe`` picks the official code's current settings (default) or its 2023 release's, item by item
(:mod:`dreamer_sb3.dreamerv3.recipes`; the full comparison is in ``docs/algorithms.md``).
"""

from __future__ import annotations

import io
import pathlib
import zipfile
from typing import Any, ClassVar, Literal

import torch as th
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.actor_critic import ActorCriticDreamer
from dreamer_sb3.common.base import Precision
from dreamer_sb3.common.behavior import DiscountHead, Trajectory
from dreamer_sb3.common.guard import BadData
from dreamer_sb3.common.optim import OptimizerKind
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch
from dreamer_sb3.common.returns import lambda_returns
from dreamer_sb3.common.rssm import State
from dreamer_sb3.dreamerv3.recipes import (
    LEGACY_SETTINGS,
    OPTIMIZERS,
    Recipe,
    optimizer_settings,
    recipe_settings,
    saved_keys,
)


class DreamerV3(ActorCriticDreamer):
    """DreamerV3 as a Stable-Baselines3 algorithm.

    Defaults are the paper's / official code's. Architecture lives in ``policy_kwargs``
    (``model_size`` preset plus overrides, see :mod:`dreamer_sb3.common.sizes`).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or ``"MultiInputPolicy"``
    :param env: Gymnasium env, VecEnv or env id
    :param learning_rate: world-model learning rate; ``None``: the optimiser's (Adam 1e-4, LaProp 4e-5)
    :param actor_lr: actor learning rate; ``None``: the optimiser's (Adam 3e-5, LaProp 4e-5)
    :param critic_lr: critic learning rate; ``None``: the optimiser's (Adam 3e-5, LaProp 4e-5)
    :param buffer_size: replay capacity (env steps)
    :param learning_starts: random-action steps before training
    :param batch_size: sequences per batch
    :param batch_length: sequence length
    :param train_ratio: replayed steps per env step
    :param imag_horizon: imagination horizon
    :param discount: gamma (the official ``1 - 1/horizon`` with horizon 333)
    :param gae_lambda: lambda of the lambda-returns
    :param ent_coef: actor entropy scale
    :param free_nats: free bits of each KL term
    :param dyn_scale: weight of the dynamics KL (trains the prior); ``None``: the recipe's (1.0 current, 0.5 in 2023)
    :param rep_scale: weight of the representation KL (trains the posterior)
    :param slow_critic_fraction: EMA step of the slow critic per update
    :param slow_reg_scale: weight of the critic's regulariser toward the slow critic
    :param replay_value_scale: weight of the critic loss on replayed trajectories
    :param replay_value_grad: let the replay value loss train the world model as well (its gradient flows through
        the replayed posterior features into the encoder and the RSSM), as the current official code does
        (``repval_grad``); ``False`` (default here) detaches the features, so the loss trains the critic alone
    :param discount_head: how imagination reads the continue head: ``"mean"``, the probability of
        continuing (current official code), or ``"mode"``, its 0/1 flag (2023 release); ``None``: the recipe's
    :param replay_context: ``K`` steps of replay context: the replay stores a latent per step (the acting latent, then
        each update's posterior) and a window starts from the one stored ``K`` steps before it (``1`` current
        official code; ``0``, a fresh initial latent per window, in 2023); ``None``: the recipe's
    :param replay_online: the online queue: every fresh window of ``batch_length + replay_context`` steps is
        replayed once, first, besides the uniform draws (current official code: ``True``; 2023: ``False``);
        ``None``: the recipe's
    :param recipe: ``"current"`` (the official code behind the journal paper) or ``"2023"`` (the first
        release): the default of every setting above that the two differ in and that is ``None`` here
    :param actor_grad: ``"reinforce"`` (official final code, all action spaces) or ``"dynamics"``
        (value gradients through the world model; DreamerV3's first release for continuous actions)
    :param optimizer: ``"adam"``: the 2023 release's three Adams (model eps 1e-8, actor / critic eps 1e-5, global
        norm clips 1000 / 100; the default here, as every measured zoo entry trained) or ``"laprop"``: the current
        official code's LaProp (eps 1e-20, adaptive gradient clipping 0.3 per tensor, no global clip, a linear
        learning-rate warm-up over 1000 updates; :class:`~dreamer_sb3.common.optim.LaProp`), one per module group.
        It sets the defaults of the learning rates, the clips and ``policy_kwargs`` ``model_eps`` / ``ac_eps``
        (:data:`~dreamer_sb3.dreamerv3.recipes.OPTIMIZERS`); ``policy_kwargs`` ``agc`` / ``warmup`` tune LaProp
    :param model_grad_clip: world-model gradient-norm clip; ``None``: the optimiser's (Adam 1000, LaProp none)
    :param ac_grad_clip: actor and critic gradient-norm clip; ``None``: the optimiser's (Adam 100, LaProp none)
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
        model_size="S",
        norm=True,
        act="silu",
        unimix=0.01,
        learned_init=True,
        symlog_obs=True,
        reward_head="twohot",
        cont_head=True,
        actor_dist="bounded_normal",
        critic_head="twohot",
        slow_critic=True,
        return_norm=True,
    )

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule | None = None,
        actor_lr: float | None = None,
        critic_lr: float | None = None,
        buffer_size: int = 1_000_000,
        learning_starts: int = 1024,
        batch_size: int = 16,
        batch_length: int = 64,
        train_ratio: float = 512.0,
        imag_horizon: int = 15,
        discount: float = 1.0 - 1.0 / 333.0,
        gae_lambda: float = 0.95,
        ent_coef: float = 3e-4,
        free_nats: float = 1.0,
        dyn_scale: float | None = None,
        rep_scale: float = 0.1,
        slow_critic_fraction: float = 0.02,
        slow_reg_scale: float = 1.0,
        replay_value_scale: float = 0.3,
        replay_value_grad: bool = False,
        discount_head: DiscountHead | None = None,
        replay_context: int | None = None,
        replay_online: bool | None = None,
        recipe: Recipe = "current",
        actor_grad: Literal["reinforce", "dynamics"] = "reinforce",
        optimizer: OptimizerKind = "adam",
        model_grad_clip: float | None = None,
        ac_grad_clip: float | None = None,
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
        if actor_grad not in ("reinforce", "dynamics"):
            raise ValueError(f"actor_grad must be 'reinforce' or 'dynamics', got {actor_grad!r}")
        settings = recipe_settings(
            recipe,
            discount_head=discount_head,
            dyn_scale=dyn_scale,
            replay_context=replay_context,
            replay_online=replay_online,
        )
        opt = optimizer_settings(
            optimizer,
            learning_rate=learning_rate,
            actor_lr=actor_lr,
            critic_lr=critic_lr,
            model_grad_clip=model_grad_clip,
            ac_grad_clip=ac_grad_clip,
        )
        super().__init__(
            policy,
            env,
            opt["learning_rate"],
            # the shared actor-critic update, as V3 sets it
            actor_lr=opt["actor_lr"],
            critic_lr=opt["critic_lr"],
            imag_horizon=imag_horizon,
            discount=discount,
            gae_lambda=gae_lambda,
            ent_coef=ent_coef,
            ac_grad_clip=opt["ac_grad_clip"],
            reinforce_mix=1.0 if actor_grad == "reinforce" else 0.0,
            slow_critic_fraction=slow_critic_fraction,
            slow_critic_interval=1,  # an EMA step every update
            slow_critic_targets=False,  # targets from the critic; the slow copy only regularises it
            discount_head=settings["discount_head"],
            # the world model
            free_nats=free_nats,
            dyn_scale=settings["dyn_scale"],
            rep_scale=rep_scale,
            model_grad_clip=opt["model_grad_clip"],
            # replay and schedule
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            batch_size=batch_size,
            batch_length=batch_length,
            train_ratio=train_ratio,
            replay_context=settings["replay_context"],
            replay_online=settings["replay_online"],
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
        self.recipe: Recipe = recipe
        self.optimizer: OptimizerKind = optimizer
        self.actor_grad = actor_grad
        self.slow_reg_scale = slow_reg_scale
        self.replay_value_scale = replay_value_scale
        self.replay_value_grad = replay_value_grad
        if _init_setup_model:
            self._setup_model()

    def _derived_policy_kwargs(self) -> dict[str, Any]:
        # the optimiser and its epsilons (a user's policy_kwargs entry still wins)
        eps = {k: OPTIMIZERS[self.optimizer][k] for k in ("model_eps", "ac_eps")}
        return {**super()._derived_policy_kwargs(), "optimizer": self.optimizer, **eps}

    def _upgrade_settings(self) -> None:
        # version-0 files stored actor_grad, not the REINFORCE weight it maps to
        self.reinforce_mix = 1.0 if self.actor_grad == "reinforce" else 0.0

    @classmethod
    def load(
        cls,
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        allow_pickle: bool = False,
        **kwargs: Any,
    ) -> DreamerV3:
        """SB3's ``load``; a file that predates a setting gets the value it was trained with
        (:data:`~dreamer_sb3.dreamerv3.recipes.LEGACY_SETTINGS`), before the model and its replay are built."""
        try:
            keys = saved_keys(path)
        except (zipfile.BadZipFile, KeyError, ValueError, OSError):
            keys = None  # not a readable model file: the base class's load names the problem
        if keys is not None:
            kwargs.update({k: v for k, v in LEGACY_SETTINGS.items() if k not in keys and k not in kwargs})
        return super().load(path, env, device, custom_objects, print_system_info, force_reset, allow_pickle, **kwargs)

    # ------------------------------------------------------------------ update
    # The world-model step, imagination, λ-returns, the actor loss (advantages divided by the
    # percentile return scale of the policy's normaliser) and the slow-critic EMA are the shared
    # update of ActorCriticDreamer; V3 adds its critic loss, and with replay_value_grad lets that
    # loss's replay term train the world model too.
    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """The shared update; with ``replay_value_grad`` the world model steps after the behaviour, on the
        gradient of its own loss plus that of the replay value loss (the official code's one joint loss,
        with separate optimisers: the critic's backward adds its share to the world model's gradients)."""
        if not (self.replay_value_grad and self.replay_value_scale > 0):
            return super().train_step(batch)
        p = self.policy
        model_loss, post, metrics = self.world_model_loss(batch)
        p.model_optimizer.zero_grad(set_to_none=True)
        model_loss.backward(retain_graph=True)  # the replay value loss backpropagates through post later
        metrics.update(self.behavior_step(post, batch))
        metrics["model_grad_norm"] = self._apply_gradients(
            p.model_optimizer, model_loss, p.world_model.parameters(), self.model_grad_clip
        )
        metrics["model_loss"] = model_loss.detach()
        return metrics

    def _critic_loss(
        self, traj: Trajectory, ret: th.Tensor, post: State, batch: SequenceBatch
    ) -> tuple[th.Tensor, dict[str, th.Tensor]]:
        """Two-hot critic on imagined λ-returns, slow-critic regulariser, and the replay value loss."""
        p = self.policy
        feat = traj.feat[:-1].detach()
        imag = self._critic_nll(feat, ret)
        imag_loss = (traj.weight[:-1] * imag).mean()
        # Replay value loss: λ-returns along the replayed sequence, bootstrapped with the
        # imagined return from each posterior state.
        bsz, steps = batch.reward.shape
        boot = ret[0].reshape(bsz, steps).t()  # (T, B)
        first_next = batch.is_first[:, 1:].t()
        reward = th.where(first_next, boot[:-1], batch.reward[:, 1:].t())
        cont_next = 1.0 - batch.is_terminal[:, 1:].t().float()
        disc = th.where(first_next, th.zeros_like(boot[:-1]), self.discount * cont_next)
        rep_ret = lambda_returns(reward, boot, disc, self.gae_lambda)  # (T-1, B)
        rep_feat = p.world_model.rssm.feat(post).transpose(0, 1)[:-1]
        if not self.replay_value_grad:
            rep_feat = rep_feat.detach()
        rep = self._critic_nll(rep_feat, rep_ret)
        rep_loss = ((1.0 - first_next.float()) * rep).mean()
        loss = imag_loss + self.replay_value_scale * rep_loss
        return loss, {"critic_loss": imag_loss.detach(), "replay_value_loss": rep_loss.detach()}

    def _critic_nll(self, feat: th.Tensor, target: th.Tensor) -> th.Tensor:
        p = self.policy
        _, critic = p.actor_critic()
        dist = critic(feat)
        nll = -dist.log_prob(target.detach())
        if p.slow_critic is not None and self.slow_reg_scale > 0:
            with th.no_grad():
                slow_target = p.slow_critic(feat).mean
            nll = nll - self.slow_reg_scale * dist.log_prob(slow_target)
        return nll
