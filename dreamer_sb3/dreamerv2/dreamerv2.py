"""DreamerV2 (Hafner et al., ICLR 2021, "Mastering Atari with Discrete World Models").

What V2 changed on top of DreamerV1:

- categorical latents: 32 variables of 32 classes with straight-through gradients (no uniform
  mixing), ELU layers without normalisation except a LayerNorm GRU, zero initial state
- KL balancing: ``α = 0.8`` of the KL trains the prior, ``1 - α`` the posterior
  (``dyn = α β``, ``rep = (1 - α) β`` with KL scale ``β``)
- a discount head (Bernoulli, the continue probability discounts imagined rewards)
- the actor objective mixes REINFORCE (weight ``ρ``) with dynamics backprop (``1 - ρ``) and an
  entropy bonus ``η``; the REINFORCE baseline and the λ-return targets come from a target critic
  (hard copy of the critic every 100 updates); the critic regresses λ-returns (squared error)
- squared-error reward head; vector observations are not symlogged

The paper has two settings, chosen by ``preset`` (``"auto"``: Discrete / MultiDiscrete actions ->
``"atari"``, Box -> ``"dmc"``); every hyperparameter left at ``None`` comes from it:

=====================  =========================  ==========================
                       ``atari``                  ``dmc``
=====================  =========================  ==========================
learning rates         model 2e-4, actor 4e-5,    model 3e-4, actor 8e-5,
                       critic 1e-4                critic 8e-5
discount ``γ``         0.999                      0.99
KL scale / free nats   0.1 / 0                    1.0 / 1.0
``ρ`` / ``η``          1 (REINFORCE) / 1e-3       0 (dynamics) / 1e-4
discount head          yes, loss weight 5         no (fixed γ)
train ratio            50 (1 update / 16 steps)   160 (1 update / 5 steps)
random prefill         50 000 steps               1 000 steps
pretraining updates    1                          100
replay                 windows inside episodes,   windows inside episodes
                       ``prioritize_ends``
reward clipping        ``tanh``                   none
RSSM deter / hidden    600 / 600 (``"v2"``)       200 / 200 (``"v2-dmc"``)
=====================  =========================  ==========================

Both: horizon 15, λ 0.95, batch 16 × 50, Adam epsilon 1e-5, weight decay 1e-6, gradient clip 100, free nats
on the batch-mean KL (``free_avg``), vector decoder a unit Gaussian (0.5 squared error), continuous actor a
truncated normal with std in [0.1, 2.1].
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import maybe_make_env
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.actor_critic import ActorCriticDreamer
from dreamer_sb3.common.base import SETTINGS_VERSION, Precision
from dreamer_sb3.common.compat import earlier_policy_kwargs, loading_version, saved_before_official_defaults
from dreamer_sb3.common.distributions import FreeNatsMode
from dreamer_sb3.common.guard import BadData
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch

RewardClip = Literal["none", "tanh"]

#: the paper's two settings: algorithm hyperparameters and policy (architecture) overrides
PRESETS: dict[str, dict[str, Any]] = {
    "atari": dict(
        learning_rate=2e-4,
        actor_lr=4e-5,
        critic_lr=1e-4,
        discount=0.999,
        kl_scale=0.1,
        free_nats=0.0,
        reinforce_mix=1.0,
        ent_coef=1e-3,
        predict_discount=True,
        discount_scale=5.0,
        train_ratio=50.0,
        learning_starts=50_000,
        pretrain_updates=1,
        prioritize_ends=True,
        reward_clip="tanh",
        policy={},
    ),
    "dmc": dict(
        learning_rate=3e-4,
        actor_lr=8e-5,
        critic_lr=8e-5,
        discount=0.99,
        kl_scale=1.0,
        free_nats=1.0,
        reinforce_mix=0.0,
        ent_coef=1e-4,
        predict_discount=False,
        discount_scale=1.0,
        train_ratio=160.0,
        learning_starts=1000,
        pretrain_updates=100,
        prioritize_ends=False,
        reward_clip="none",
        policy=dict(model_size="v2-dmc"),
    ),
}


class DreamerV2(ActorCriticDreamer):
    """DreamerV2 as a Stable-Baselines3 algorithm.

    Arguments left at ``None`` take the value of the ``preset`` (see the module docstring).

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"`` or ``"MultiInputPolicy"``
    :param env: Gymnasium env, VecEnv or env id
    :param preset: ``"atari"``, ``"dmc"`` or ``"auto"`` (by action space)
    :param learning_rate: world-model learning rate
    :param actor_lr: actor learning rate
    :param critic_lr: critic learning rate
    :param buffer_size: replay capacity (env steps)
    :param learning_starts: random-action steps before training
    :param batch_size: sequences per batch
    :param batch_length: sequence length
    :param train_ratio: replayed steps per env step
    :param imag_horizon: imagination horizon
    :param discount: gamma
    :param gae_lambda: lambda of the λ-returns
    :param kl_balance: KL balancing ``α``: the prior's share of the KL gradient
    :param kl_scale: KL weight ``β``
    :param free_nats: free nats of the KL
    :param reinforce_mix: ``ρ``, the REINFORCE weight of the actor objective (``1 - ρ``: dynamics backprop)
    :param ent_coef: actor entropy bonus ``η``
    :param predict_discount: learn the discount head
    :param discount_scale: weight of the discount head's loss
    :param free_nats_mode: ``"batch"`` (V2's ``free_avg``: ``max(mean KL, free_nats)``) or ``"step"``
    :param target_update_interval: updates between hard copies of the critic into the target critic
    :param weight_decay: decoupled weight decay of every optimizer (V2: 1e-6; see :class:`DreamerPolicy`)
    :param pretrain_updates: extra updates at the first training step after the prefill (V2's ``pretrain``)
    :param replay_within_episodes: replay windows inside one episode (V2's replay) instead of any stored window
    :param prioritize_ends: V2's ``prioritize_ends``: an episode's last window gets ``batch_length`` extra draws
    :param reward_clip: ``"tanh"`` squashes the replayed rewards before the update (V2's Atari ``clip_rewards``)
        or ``"none"``
    :param model_grad_clip: world-model gradient-norm clip
    :param ac_grad_clip: actor and critic gradient-norm clip
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
        model_size="v2",
        norm=False,
        gru_norm=True,
        act="elu",
        unimix=0.0,
        learned_init=False,
        symlog_obs=False,
        reward_head="mse",
        actor_dist="trunc_normal",
        actor_min_std=0.1,
        actor_max_std=2.1,
        critic_head="mse",
        slow_critic=True,
        return_norm=False,
        model_eps=1e-5,
        ac_eps=1e-5,
    )

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        preset: Literal["auto", "atari", "dmc"] = "auto",
        learning_rate: float | Schedule | None = None,
        actor_lr: float | None = None,
        critic_lr: float | None = None,
        buffer_size: int = 2_000_000,
        learning_starts: int | None = None,
        batch_size: int = 16,
        batch_length: int = 50,
        train_ratio: float | None = None,
        imag_horizon: int = 15,
        discount: float | None = None,
        gae_lambda: float = 0.95,
        kl_balance: float = 0.8,
        kl_scale: float | None = None,
        free_nats: float | None = None,
        free_nats_mode: FreeNatsMode = "batch",
        reinforce_mix: float | None = None,
        ent_coef: float | None = None,
        predict_discount: bool | None = None,
        discount_scale: float | None = None,
        target_update_interval: int = 100,
        model_grad_clip: float = 100.0,
        ac_grad_clip: float = 100.0,
        weight_decay: float = 1e-6,
        pretrain_updates: int | None = None,
        replay_within_episodes: bool = True,
        prioritize_ends: bool | None = None,
        reward_clip: RewardClip | None = None,
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
        if preset not in ("auto", *PRESETS):
            raise ValueError(f"preset must be 'auto' or one of {sorted(PRESETS)}, got {preset!r}")
        if not 0.0 <= kl_balance <= 1.0:
            raise ValueError(f"kl_balance must be in [0, 1], got {kl_balance}")
        # The preset follows the action space, so the env is made first. Without an env (SB3's ``load``),
        # every setting is restored from the saved model right after construction.
        env = maybe_make_env(env, verbose) if env is not None else None
        self.preset = preset
        settings = PRESETS[self._preset_for(None if env is None else env.action_space)]

        def pick(name: str, value: Any) -> Any:
            return settings[name] if value is None else value

        kl_scale = pick("kl_scale", kl_scale)
        discount_scale = pick("discount_scale", discount_scale)
        super().__init__(
            policy,
            env,
            pick("learning_rate", learning_rate),
            # the shared actor-critic update, as V2 sets it
            actor_lr=pick("actor_lr", actor_lr),
            critic_lr=pick("critic_lr", critic_lr),
            imag_horizon=imag_horizon,
            discount=pick("discount", discount),
            gae_lambda=gae_lambda,
            ent_coef=pick("ent_coef", ent_coef),
            ac_grad_clip=ac_grad_clip,
            reinforce_mix=pick("reinforce_mix", reinforce_mix),
            slow_critic_fraction=1.0,  # a target network: hard copies ...
            slow_critic_interval=target_update_interval,  # ... every target_update_interval updates
            slow_critic_targets=True,  # it gives the λ-return targets and the REINFORCE baseline
            discount_head="mean",  # imagined discounts are the continue probability
            # the world model: KL balancing, the prior trained with α β and the posterior with (1 - α) β;
            # images and vectors unit-variance Gaussians (NLL = 0.5 squared error)
            free_nats=pick("free_nats", free_nats),
            free_nats_mode=free_nats_mode,
            dyn_scale=kl_balance * kl_scale,
            rep_scale=(1.0 - kl_balance) * kl_scale,
            model_grad_clip=model_grad_clip,
            model_loss_scales={"image": 0.5, "vector": 0.5, "cont": discount_scale},
            # replay and schedule
            pretrain_updates=pick("pretrain_updates", pretrain_updates),
            replay_within_episodes=replay_within_episodes,
            prioritize_ends=pick("prioritize_ends", prioritize_ends),
            buffer_size=buffer_size,
            learning_starts=pick("learning_starts", learning_starts),
            batch_size=batch_size,
            batch_length=batch_length,
            train_ratio=pick("train_ratio", train_ratio),
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
        self.kl_balance = kl_balance
        self.kl_scale = kl_scale
        self.predict_discount = pick("predict_discount", predict_discount)
        self.discount_scale = discount_scale
        self.target_update_interval = target_update_interval
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.weight_decay = weight_decay
        reward_clip = pick("reward_clip", reward_clip)
        if reward_clip not in ("none", "tanh"):
            raise ValueError(f"reward_clip must be 'none' or 'tanh', got {reward_clip!r}")
        self.reward_clip: RewardClip = reward_clip
        self._settings_version = loading_version(_init_setup_model, SETTINGS_VERSION)
        if _init_setup_model:
            self._setup_model()

    def _upgrade_settings(self) -> None:
        if self._settings_version < 1:
            # version-0 files stored kl_balance / kl_scale / discount_scale / target_update_interval, not the mapping
            self.dyn_scale = self.kl_balance * self.kl_scale
            self.rep_scale = (1.0 - self.kl_balance) * self.kl_scale
            self.model_loss_scales = {"image": 0.5, "vector": 1.0, "cont": self.discount_scale}
            self.slow_critic_interval = self.target_update_interval
        if saved_before_official_defaults(self):  # trained as before issue 13
            self.free_nats_mode = "step"
            self.pretrain_updates = 0
            self.weight_decay = 0.0  # the policy was built without it (earlier_policy_kwargs)
            self.replay_within_episodes = self.prioritize_ends = False
            self.reward_clip = "none"
            self.model_loss_scales = {**self.model_loss_scales, "vector": 1.0}

    def _preset_for(self, action_space: spaces.Space | None) -> str:
        if self.preset != "auto":
            return self.preset
        return "dmc" if isinstance(action_space, spaces.Box) else "atari"

    def resolved_preset(self) -> str:
        """``"atari"`` or ``"dmc"``: the explicit preset, or the one matching the action space."""
        return self._preset_for(self.action_space)

    def _derived_policy_kwargs(self) -> dict[str, Any]:
        return {
            **super()._derived_policy_kwargs(),
            **PRESETS[self.resolved_preset()]["policy"],
            "cont_head": self.predict_discount,
            "weight_decay": self.weight_decay,
            **earlier_policy_kwargs(self, {"actor_dist": "bounded_normal", "actor_max_std": 1.0, "weight_decay": 0.0}),
        }

    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """V2's update on a batch whose rewards are first clipped as ``reward_clip`` says (Atari: ``tanh``)."""
        if self.reward_clip == "tanh":
            batch = batch._replace(reward=th.tanh(batch.reward))
        return super().train_step(batch)
