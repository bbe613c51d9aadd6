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
RSSM deter / hidden    600 / 600 (``"v2"``)       200 / 200
=====================  =========================  ==========================

Both: horizon 15, λ 0.95, batch 16 × 50, Adam epsilon 1e-5, gradient clip 100.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch as th
from gymnasium import spaces
from stable_baselines3.common.type_aliases import GymEnv, Schedule

from dreamer_sb3.common.actor_critic import ActorCriticDreamer
from dreamer_sb3.common.policies import DreamerPolicy

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
        policy=dict(deter=200, hidden=200),
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
    :param target_update_interval: updates between hard copies of the critic into the target critic
    :param model_grad_clip: world-model gradient-norm clip
    :param ac_grad_clip: actor and critic gradient-norm clip
    :param precision: ``"fp32"`` or ``"bf16"`` autocast
    :param compile: ``torch.compile`` the networks (encoder, decoder, RSSM blocks, heads, actor, critic) in
        place; the first updates pay the compilation (about a minute on CPU), see ``docs/performance.md``
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
        actor_dist="bounded_normal",
        critic_head="mse",
        slow_critic=True,
        return_norm=False,
        model_eps=1e-5,
        ac_eps=1e-5,
    )
    #: the target critic gives the λ-return targets and the REINFORCE baseline
    slow_critic_targets = True
    #: hard target-network updates
    slow_critic_fraction = 1.0
    #: imagined discounts are the continue probability
    discount_head = "mean"

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        preset: str = "auto",
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
        reinforce_mix: float | None = None,
        ent_coef: float | None = None,
        predict_discount: bool | None = None,
        discount_scale: float | None = None,
        target_update_interval: int = 100,
        model_grad_clip: float = 100.0,
        ac_grad_clip: float = 100.0,
        precision: str = "fp32",
        compile: bool = False,
        policy_kwargs: dict[str, Any] | None = None,
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
        self.preset = preset
        self.actor_lr, self.critic_lr = actor_lr, critic_lr  # type: ignore[assignment]
        self.imag_horizon, self.discount, self.gae_lambda = imag_horizon, discount, gae_lambda  # type: ignore[assignment]
        self.kl_balance, self.kl_scale, self.free_nats = kl_balance, kl_scale, free_nats
        self.reinforce_mix, self.ent_coef = reinforce_mix, ent_coef  # type: ignore[assignment]
        self.predict_discount, self.discount_scale = predict_discount, discount_scale
        self.target_update_interval = target_update_interval
        self.model_grad_clip, self.ac_grad_clip = model_grad_clip, ac_grad_clip
        super().__init__(
            policy,
            env,
            learning_rate,
            buffer_size,
            learning_starts,
            batch_size,
            batch_length,
            train_ratio,  # type: ignore[arg-type]
            precision,
            policy_kwargs,
            stats_window_size,
            tensorboard_log,
            verbose,
            seed,
            device,
            _init_setup_model,
            compile=compile,
        )

    # ------------------------------------------------------------------ what V2 changed
    @property
    def slow_critic_interval(self) -> int:  # type: ignore[override]
        """Updates between target-critic copies (``target_update_interval``)."""
        return self.target_update_interval

    @property
    def dyn_scale(self) -> float:  # type: ignore[override]
        """KL balancing: the prior is trained with ``α β``."""
        return self.kl_balance * self.kl_scale

    @property
    def rep_scale(self) -> float:  # type: ignore[override]
        """KL balancing: the posterior is trained with ``(1 - α) β``."""
        return (1.0 - self.kl_balance) * self.kl_scale

    @property
    def model_loss_scales(self) -> dict[str, float]:  # type: ignore[override]
        """Images: unit-variance Gaussian (NLL = 0.5 squared error); vectors: squared error; discount head weight."""
        return {"image": 0.5, "vector": 1.0, "cont": self.discount_scale}

    def resolved_preset(self) -> str:
        """``"atari"`` or ``"dmc"``: the explicit preset, or the one matching the action space."""
        if self.preset != "auto":
            return self.preset
        return "dmc" if isinstance(self.action_space, spaces.Box) else "atari"

    def _setup_model(self) -> None:
        preset = PRESETS[self.resolved_preset()]
        for key, value in preset.items():
            if key != "policy" and getattr(self, key) is None:
                setattr(self, key, value)
        super()._setup_model()

    def _policy_kwargs(self) -> dict[str, Any]:
        kwargs = super()._policy_kwargs()
        if "model_size" not in self.policy_kwargs:  # the preset's sizes refine the paper's "v2" size only
            for key, value in PRESETS[self.resolved_preset()]["policy"].items():
                if key not in self.policy_kwargs:
                    kwargs[key] = value
        kwargs["cont_head"] = self.policy_kwargs.get("cont_head", self.predict_discount)
        return kwargs
