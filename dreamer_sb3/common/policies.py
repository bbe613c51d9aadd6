"""SB3 policy objects for the Dreamer family.

A :class:`DreamerPolicy` owns every network an algorithm trains (world model, actor, critic,
slow critic, return normaliser) and its optimizers, so SB3's ``save`` / ``load`` /
``set_parameters`` round-trip all of them. ``predict`` is recurrent like sb3-contrib's
``RecurrentPPO``: the state is ``(deter, stoch, prev_action)`` per env and ``episode_start``
resets it.
"""

from __future__ import annotations

import copy
import dataclasses
import warnings
from typing import Any

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import PyTorchObs, Schedule
from stable_baselines3.common.utils import ConstantSchedule
from torch import nn

from dreamer_sb3.common.actions import ActionCodec
from dreamer_sb3.common.heads import Actor, ScalarHead
from dreamer_sb3.common.networks import MLP, ConvDecoder, ConvEncoder, ObsLayout, trunc_normal_in_, zero_init
from dreamer_sb3.common.optim import OptimizerKind, make_optimizer
from dreamer_sb3.common.returns import PercentileNormalizer
from dreamer_sb3.common.rssm import GRUCell, State
from dreamer_sb3.common.sizes import ModelSize, resolve_size
from dreamer_sb3.common.specs import (
    Activation,
    ActorDist,
    HeadSpec,
    LatentSpec,
    NetSpec,
    Norm,
    ScalarHeadKind,
    WeightInit,
)
from dreamer_sb3.common.world_model import WorldModel

RecurrentState = tuple[np.ndarray, np.ndarray, np.ndarray]


class DreamerPolicy(BasePolicy):
    """World model + actor + critic of a Dreamer agent, with their optimizers.

    Architecture keys (``deter``, ``hidden``, ``stoch``, ``classes``, ``units``, ``layers``,
    ``cnn_depth``, and the recurrent core's ``blocks``, ``img_layers``, ``dyn_layers``) override the ``model_size``
    preset from :mod:`dreamer_sb3.common.sizes`: ``blocks > 0`` selects the current DreamerV3 code's block GRU
    (:class:`~dreamer_sb3.common.rssm.BlockGRUCore`; the ``1M``–``400M`` presets have 8 blocks and a 2-layer prior).

    :param observation_space: observation space
    :param action_space: action space
    :param lr_schedule: world-model learning-rate schedule
    :param model_size: preset name (``tiny``, ``XS``, ``S``, ``M``, ``L``, ``XL``, ``1M``, ``12M``, ``25M``, ``50M``,
        ``100M``, ``200M``, ``400M``, ``planet``, ``v1``, ``v2``, ``v2-dmc``)
    :param norm: the normalisation in every block: ``True`` / ``"layer"`` (LayerNorm), ``"rms"`` (RMSNorm, the
        current DreamerV3 code's) or ``False`` (none)
    :param act: activation
    :param unimix: uniform mixing of categorical latents and actions
    :param min_std: Gaussian latent minimum std
    :param learned_init: learned initial RSSM state
    :param symlog_obs: symlog vector inputs / reconstruction targets
    :param reward_head: ``"twohot"`` or ``"mse"``
    :param cont_head: learn a continue / discount head
    :param decoder: learn the observation decoder
    :param actor: build an actor (False for planning agents)
    :param actor_dist: ``"bounded_normal"`` or ``"tanh_normal"`` for Box actions
    :param actor_min_std: minimum actor std (bounded normal)
    :param actor_max_std: maximum actor std (bounded normal)
    :param critic: build a critic
    :param critic_head: ``"twohot"`` or ``"mse"``
    :param slow_critic: keep a slowly updated copy of the critic (EMA or target network)
    :param return_norm: keep DreamerV3's percentile return normaliser
    :param actor_lr: actor learning rate
    :param critic_lr: critic learning rate
    :param model_eps: optimiser epsilon of the world model
    :param ac_eps: optimiser epsilon of actor and critic
    :param optimizer: ``"adam"`` (PlaNet, V1, V2, DreamerV3's 2023 release) or ``"laprop"``: LaProp with adaptive
        gradient clipping and a linear warm-up (DreamerV3's current official code,
        :class:`~dreamer_sb3.common.optim.LaProp`), one per module group at that group's learning rate
    :param agc: LaProp's adaptive gradient clipping (the largest gradient norm of a tensor relative to its
        weights'; 0: none)
    :param warmup: LaProp's linear learning-rate warm-up from 0, in updates (0: none)
    :param exploration_noise: exploration of non-deterministic actions: Gaussian noise of this std
        added to Box actions (clipped to ``[-1, 1]``; PlaNet, DreamerV1), or for discrete actions the
        probability of replacing the action by a uniformly random one (epsilon-greedy)
    :param gru_norm: the normalisation inside the RSSM's GRU (as ``norm``); ``None`` follows ``norm``
    :param cnn_act: activation of the image convolutions; ``None``: ``act``
    :param image_bits: bit depth of images (PlaNet: 5, with uniform dequantisation noise in the loss); 8: unchanged
    :param reward_layers: hidden layers of the reward head (``None``: the size row's, else ``layers``)
    :param cont_layers: hidden layers of the continue head (``None``: the size row's, else ``layers``)
    :param actor_layers: hidden layers of the actor (``None``: the size row's, else ``layers``)
    :param critic_layers: hidden layers of the critic (``None``: the size row's, else ``layers``)
    :param weight_decay: decoupled weight decay of every optimizer, ``w <- (1 - weight_decay) w`` before each
        optimiser step (DreamerV2: 1e-6); for Adam applied as ``AdamW`` with ``weight_decay / lr``, exact for a
        constant learning rate
    :param weight_init: ``"xavier_uniform"`` (Xavier-uniform weights, the DreamerV1 / V2 and V3 2023 PyTorch
        ports') or ``"trunc_normal_in"`` (the current DreamerV3 code's truncated normal scaled by the fan-in,
        :func:`~dreamer_sb3.common.networks.trunc_normal_in_`); biases start at zero and the zero-initialised
        outputs (two-hot reward and critic) stay zero either way
    :param actor_outscale: scale of the actor's initial output weights (current DreamerV3 code: 0.01, so the first
        policy is close to uniform / zero-mean; 1.0: unscaled)
    :param deterministic_latent: with ``deterministic=True``, use the latent's mode (``True``, the default) or
        sample it (``False``: what the official PlaNet / V1 / V2 agents do at evaluation, V2's
        ``eval_state_mean: False``); the action is the actor's mode either way
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        lr_schedule: Schedule,
        model_size: ModelSize = "S",
        deter: int | None = None,
        hidden: int | None = None,
        stoch: int | None = None,
        classes: int | None = None,
        units: int | None = None,
        layers: int | None = None,
        cnn_depth: int | None = None,
        blocks: int | None = None,
        img_layers: int | None = None,
        dyn_layers: int | None = None,
        norm: Norm = True,
        act: Activation = "silu",
        unimix: float = 0.01,
        min_std: float = 0.1,
        learned_init: bool = True,
        symlog_obs: bool = True,
        reward_head: ScalarHeadKind = "twohot",
        cont_head: bool = True,
        decoder: bool = True,
        actor: bool = True,
        actor_dist: ActorDist = "bounded_normal",
        actor_min_std: float = 0.1,
        actor_max_std: float = 1.0,
        critic: bool = True,
        critic_head: ScalarHeadKind = "twohot",
        slow_critic: bool = True,
        return_norm: bool = True,
        actor_lr: float = 3e-5,
        critic_lr: float = 3e-5,
        model_eps: float = 1e-8,
        ac_eps: float = 1e-5,
        optimizer: OptimizerKind = "adam",
        agc: float = 0.3,
        warmup: int = 1000,
        exploration_noise: float = 0.0,
        gru_norm: Norm | None = None,
        cnn_act: Activation | None = None,
        image_bits: int = 8,
        reward_layers: int | None = None,
        cont_layers: int | None = None,
        actor_layers: int | None = None,
        critic_layers: int | None = None,
        weight_decay: float = 0.0,
        weight_init: WeightInit = "xavier_uniform",
        actor_outscale: float = 1.0,
        deterministic_latent: bool = True,
    ) -> None:
        super().__init__(observation_space, action_space, normalize_images=False)
        self._ctor = {
            k: v
            for k, v in locals().items()
            if k not in ("self", "__class__", "observation_space", "action_space", "lr_schedule")
        }
        self.size = resolve_size(
            model_size,
            deter=deter,
            hidden=hidden,
            stoch=stoch,
            classes=classes,
            units=units,
            layers=layers,
            cnn_depth=cnn_depth,
            blocks=blocks,
            img_layers=img_layers,
            dyn_layers=dyn_layers,
            reward_layers=reward_layers,
            cont_layers=cont_layers,
            actor_layers=actor_layers,
            critic_layers=critic_layers,
        )
        if weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay}")
        self.deterministic_latent = deterministic_latent
        self.layout = ObsLayout(observation_space)
        self.codec = ActionCodec(action_space)
        self.exploration_noise = exploration_noise
        s = self.size
        self.net_spec = NetSpec(
            units=s["units"], layers=s["layers"], cnn_depth=s["cnn_depth"], norm=norm, act=act, cnn_act=cnn_act
        )
        latent = LatentSpec(
            deter=s["deter"],
            hidden=s["hidden"],
            stoch=s["stoch"],
            classes=s["classes"],
            unimix=unimix,
            min_std=min_std,
            learned_init=learned_init,
            gru_norm=gru_norm,
            blocks=s["blocks"],
            img_layers=s["img_layers"],
            dyn_layers=s["dyn_layers"],
        )
        heads = HeadSpec(
            symlog_obs=symlog_obs,
            reward_head=reward_head,
            cont_head=cont_head,
            decoder=decoder,
            reward_layers=s["reward_layers"],
            cont_layers=s["cont_layers"],
            image_bits=image_bits,
        )
        self.world_model = WorldModel(self.layout, self.codec.dim, self.net_spec, latent, heads)
        feat = self.world_model.rssm.feat_size
        actor_net = dataclasses.replace(self.net_spec, layers=s["actor_layers"])
        critic_net = dataclasses.replace(self.net_spec, layers=s["critic_layers"])
        self.actor = Actor(feat, self.codec, actor_net, actor_dist, unimix, actor_min_std, actor_max_std) if actor else None
        self.critic = ScalarHead(feat, critic_net, critic_head, zero_out=critic_head == "twohot") if critic else None
        self._init_weights(weight_init, actor_outscale)
        self.slow_critic = copy.deepcopy(self.critic) if (critic and slow_critic) else None
        if self.slow_critic is not None:
            self.slow_critic.requires_grad_(False)
        self.return_norm = PercentileNormalizer() if return_norm else None

        def optimizer_of(module: nn.Module, lr: float, eps: float) -> th.optim.Optimizer:
            return make_optimizer(optimizer, module.parameters(), lr, eps, weight_decay, agc, warmup)

        self.model_optimizer = optimizer_of(self.world_model, lr_schedule(1), model_eps)
        if self.actor is not None:
            self.actor_optimizer = optimizer_of(self.actor, actor_lr, ac_eps)
        if self.critic is not None:
            self.critic_optimizer = optimizer_of(self.critic, critic_lr, ac_eps)

    def _init_weights(self, weight_init: WeightInit, actor_outscale: float) -> None:
        """Re-initialise every network with ``weight_init`` (the modules start Xavier-uniform) and scale the actor's
        output layer by ``actor_outscale``."""
        if weight_init == "trunc_normal_in":
            trunc_normal_in_(self)
            for module in self.modules():  # the two-hot reward and critic outputs start at exactly zero again
                if isinstance(module, MLP) and module.zero_out and module.out is not None:
                    zero_init(module.out)
        elif weight_init != "xavier_uniform":
            raise ValueError(f"weight_init must be 'xavier_uniform' or 'trunc_normal_in', got {weight_init!r}")
        if self.actor is not None and self.actor.net.out is not None and actor_outscale != 1.0:
            with th.no_grad():
                self.actor.net.out.weight.mul_(actor_outscale)

    def actor_critic(self) -> tuple[Actor, ScalarHead]:
        """The actor and the critic (a planning agent has neither: a clear error)."""
        if self.actor is None or self.critic is None:
            raise RuntimeError(f"{type(self).__name__} has no actor / critic: it was built with actor=False or critic=False")
        return self.actor, self.critic

    def compile_modules(self) -> list[nn.Module]:
        """``torch.compile`` every network block in place (``nn.Module.compile``: parameters, state dict
        and checkpoints are unchanged): the conv stacks, every MLP (heads, actor, critic, vector
        encoder / decoder), the GRU cell and the RSSM's LayerNorm + activation blocks. Compiling these
        fuses the elementwise work (LayerNorm, activations, GRU gates) between the matmuls and convs; the
        Python control flow (the scan, sampling, the distributions) stays eager. Shapes are static: each
        new batch shape compiles once more.

        :return: the compiled modules
        """
        rssm = self.world_model.rssm
        kinds = (MLP, ConvEncoder, ConvDecoder, GRUCell)
        targets: list[nn.Module] = [rssm.prior_net, rssm.post_block, rssm.core if rssm.core is not None else rssm.img_in_block]
        inside: set[int] = set()
        for module in self.modules():
            if id(module) in inside:
                continue
            if isinstance(module, kinds):
                targets.append(module)
                inside.update(id(m) for m in module.modules())
        for module in targets:
            module.compile(dynamic=False)
        return targets

    # ------------------------------------------------------------------ SB3 plumbing
    def optimizer_names(self) -> list[str]:
        """Attribute names of the optimizers this policy owns."""
        names = ["model_optimizer"]
        if self.actor is not None:
            names.append("actor_optimizer")
        if self.critic is not None:
            names.append("critic_optimizer")
        return names

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data.pop("normalize_images", None)  # images are always normalised by the encoder
        data.update(self._ctor)
        data["lr_schedule"] = ConstantSchedule(self.model_optimizer.param_groups[0]["lr"])
        return data

    def forward(self, obs: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Not used for Dreamer (acting needs the recurrent state); use :meth:`predict`."""
        raise TypeError("DreamerPolicy is recurrent: call predict(obs, state, episode_start) instead of forward()")

    def _predict(self, observation: PyTorchObs, deterministic: bool = False) -> th.Tensor:
        """Stateless prediction from a fresh latent (every call is an episode start)."""
        obs = self.layout.as_dict(observation)
        n = next(iter(obs.values())).shape[0]
        state, prev = self.initial_state(n)
        _, action = self.step(state, prev, obs, th.ones(n, dtype=th.bool, device=self.device), deterministic)
        return action

    # ------------------------------------------------------------------ acting
    def initial_state(self, batch: int) -> tuple[State, th.Tensor]:
        """Zero latent and zero previous action for ``batch`` envs (replaced on ``is_first``)."""
        rssm = self.world_model.rssm
        zeros = th.zeros(batch, rssm.deter_size, device=self.device)
        return State(zeros, th.zeros(batch, rssm.stoch_size, device=self.device)), th.zeros(
            batch, self.codec.dim, device=self.device
        )

    def step(
        self, state: State, prev_action: th.Tensor, obs: dict[str, th.Tensor], is_first: th.Tensor, deterministic: bool = False
    ) -> tuple[State, th.Tensor]:
        """One acting step: update the posterior with ``obs`` and choose a model-space action.

        :param is_first: ``(N,)`` bool, the envs whose episode starts with ``obs`` (their latent is reset)
        """
        embed = self.world_model.encoder(obs, batch_dims=1)
        mode_latent = deterministic and self.deterministic_latent
        state, _ = self.world_model.rssm.obs_step(state, prev_action, embed, is_first, mode_latent)
        return state, self.select_action(state, deterministic)

    def select_action(self, state: State, deterministic: bool = False) -> th.Tensor:
        """Model-space action for latent ``state`` (planning agents override this)."""
        actor, _ = self.actor_critic()
        dist = actor(self.world_model.rssm.feat(state))
        return dist.mode() if deterministic else self.explore(dist.rsample())

    def explore(self, action: th.Tensor, generator: th.Generator | None = None) -> th.Tensor:
        """Exploration noise on model-space actions ``(N, dim)`` (identity when ``exploration_noise`` is 0).

        Box: ``clip(a + σ ε, -1, 1)``. Discrete / MultiDiscrete: each one-hot segment is replaced by a
        uniformly random one with probability ``σ``.
        """
        sigma = self.exploration_noise
        if sigma <= 0:
            return action
        if not self.codec.discrete:
            noise = th.randn(action.shape, device=action.device, generator=generator)
            return (action + sigma * noise).clamp(-1.0, 1.0)
        parts = []
        for seg in action.split(self.codec.sizes, -1):
            n = seg.shape[0]
            idx = th.randint(seg.shape[-1], (n,), device=action.device, generator=generator)
            rand = th.nn.functional.one_hot(idx, seg.shape[-1]).to(seg.dtype)
            pick = th.rand(n, 1, device=action.device, generator=generator) < sigma
            parts.append(th.where(pick, rand, seg))
        return th.cat(parts, -1)

    def predict(
        self,
        observation: np.ndarray | dict[str, np.ndarray],
        state: tuple[np.ndarray, ...] | None = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, RecurrentState]:
        """Recurrent prediction, as sb3-contrib's ``RecurrentPPO``.

        :param observation: one observation or a batch of them
        :param state: ``(deter, stoch, prev_action)`` from the previous call, or ``None`` to start
        :param episode_start: per env, whether a new episode starts (resets that env's state)
        :param deterministic: latent and action modes instead of samples
        :return: env actions and the next state

        Calling it again and again without ``state`` runs a memoryless agent (every step is an episode start); the
        second such call warns once.
        """
        if state is None and episode_start is None:
            self._calls_without_state = getattr(self, "_calls_without_state", 0) + 1
            if self._calls_without_state == 2:
                warnings.warn(
                    "predict() was called again without `state`: a Dreamer agent then acts from the current "
                    "observation alone, as at an episode start (memoryless). Pass the returned state back, like "
                    "sb3-contrib's RecurrentPPO: `action, state = model.predict(obs, state=state, "
                    "episode_start=episode_starts)`. This warning is shown once.",
                    UserWarning,
                    stacklevel=3,
                )
        self.set_training_mode(False)
        obs_tensor, vectorized = self.obs_to_tensor(observation)
        obs = self.layout.as_dict(obs_tensor)
        n = next(iter(obs.values())).shape[0]
        if state is None:
            lat, prev = self.initial_state(n)
            first = np.ones(n, dtype=bool)
        else:
            deter, stoch, prev_np = state
            if deter.shape[0] != n:
                raise ValueError(f"State holds {deter.shape[0]} envs but the observation batch has {n}")
            lat = State(th.as_tensor(deter, device=self.device), th.as_tensor(stoch, device=self.device))
            prev = th.as_tensor(prev_np, device=self.device)
            first = np.zeros(n, dtype=bool)
        if episode_start is not None:
            first = first | np.asarray(episode_start, dtype=bool).reshape(n)
        with th.no_grad():
            lat, action = self.step(lat, prev, obs, th.as_tensor(first, device=self.device), deterministic)
        action_np = action.float().cpu().numpy()
        env_action = self.codec.to_env(action_np)
        new_state = (lat.deter.float().cpu().numpy(), lat.stoch.float().cpu().numpy(), action_np)
        if not vectorized:
            env_action = env_action[0]
        return env_action, new_state
