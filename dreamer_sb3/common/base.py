"""``DreamerAlgorithm``: the SB3 ``BaseAlgorithm`` every Dreamer-family agent is built on.

It owns what the algorithms share: the env loop over a VecEnv with a recurrent acting latent,
the sequence replay (with terminal observations and ``is_first`` flags), the train-ratio
schedule, logging, recurrent ``predict``, and saving / loading of every network, optimizer and
the replay. A subclass provides its paper's defaults and :meth:`DreamerAlgorithm.train_step`.
"""

from __future__ import annotations

import contextlib
import io
import pathlib
import sys
import time
import warnings
from abc import abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, ClassVar, Literal, TypeVar, get_args

import numpy as np
import torch as th
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor, safe_mean
from stable_baselines3.common.vec_env import VecEnv

from dreamer_sb3.common.distributions import FreeNatsMode
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch, SequenceReplay
from dreamer_sb3.common.rssm import State


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes in bf16 natively (AVX-512 BF16 or AMX), which ``precision="bf16"`` needs to pay off."""
    cpu = getattr(th, "cpu", None)
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


SelfDreamer = TypeVar("SelfDreamer", bound="DreamerAlgorithm")

#: version of the settings a model file holds: 0 before every setting was a saved instance attribute (files
#: written before the constructors mapped each paper's settings in one call), 1 since, 2 since PlaNet / V1 / V2
#: default to their official code's settings (issue 13; see dreamer_sb3/common/compat.py)
SETTINGS_VERSION = 2

Precision = Literal["fp32", "bf16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)


class DreamerAlgorithm(BaseAlgorithm):
    """Shared machinery of the Dreamer family (see module docstring).

    Construction follows SB3's order (as ``TD3`` / ``SAC``): an algorithm's ``__init__`` passes its
    paper's settings by keyword to this ``__init__`` (which stores each as a plain attribute and
    builds nothing), sets its own, then calls :meth:`_setup_model` last.

    :param policy: ``"MlpPolicy"``, ``"CnnPolicy"``, ``"MultiInputPolicy"`` or a policy class
    :param env: Gymnasium env, VecEnv or registered env id
    :param learning_rate: world-model learning rate (float or schedule)
    :param buffer_size: replay capacity in env steps
    :param learning_starts: env steps of uniformly random actions before training starts
    :param batch_size: sequences per training batch
    :param batch_length: steps per sequence
    :param train_ratio: replayed steps per env step (``batch_size * batch_length`` per update)
    :param free_nats: free nats (bits) of each KL term
    :param free_nats_mode: ``"step"``: ``max(free_nats, KL)`` per time step (DreamerV3, PlaNet); ``"batch"``:
        ``max(free_nats, mean KL)`` over the batch (DreamerV1, DreamerV2's ``free_avg``)
    :param dyn_scale: weight of the dynamics KL ``KL(sg(post) || prior)`` (trains the prior)
    :param rep_scale: weight of the representation KL ``KL(post || sg(prior))`` (trains the posterior)
    :param model_grad_clip: world-model gradient-norm clip
    :param model_loss_scales: weights of the other world-model terms by name (``image``, ``vector``,
        ``reward``, ``cont``; 1 for a term not named)
    :param pretrain_updates: extra updates run once, at the first training step after the random prefill
        (DreamerV1 / DreamerV2's ``pretrain``)
    :param replay_within_episodes: sample replay windows inside one episode (DreamerV2's replay) instead of
        uniformly over every stored window (see :mod:`dreamer_sb3.common.replay`)
    :param prioritize_ends: with ``replay_within_episodes``, give an episode's last window the extra draws of
        DreamerV2's ``prioritize_ends``
    :param precision: ``"fp32"`` or ``"bf16"`` autocast of network forward passes
        (fp32 master weights; losses, KL and two-hot in fp32)
    :param compile: ``torch.compile`` the networks in place (see :meth:`DreamerPolicy.compile_modules`)
    :param policy_kwargs: architecture and head options for :class:`DreamerPolicy`; they win over
        the algorithm's defaults and over what it derives from its own arguments
    :param stats_window_size: episodes averaged for rollout logging
    :param tensorboard_log: TensorBoard log folder
    :param verbose: 0 silent, 1 info, 2 debug
    :param seed: random seed
    :param device: ``"auto"``, ``"cpu"`` or ``"cuda"``
    """

    policy_aliases: ClassVar[dict[str, type[BasePolicy]]] = {
        "MlpPolicy": DreamerPolicy,
        "CnnPolicy": DreamerPolicy,
        "MultiInputPolicy": DreamerPolicy,
    }
    #: the paper's architecture (policy) defaults; see :meth:`_policy_kwargs` for the precedence
    default_policy_kwargs: ClassVar[dict[str, Any]] = {}
    policy: DreamerPolicy
    replay_buffer: SequenceReplay | None

    def __init__(
        self,
        policy: str | type[DreamerPolicy],
        env: GymEnv | str | None,
        learning_rate: float | Schedule,
        *,
        buffer_size: int,
        learning_starts: int,
        batch_size: int,
        batch_length: int,
        train_ratio: float,
        free_nats: float,
        dyn_scale: float,
        rep_scale: float,
        model_grad_clip: float,
        model_loss_scales: Mapping[str, float] | None = None,
        free_nats_mode: FreeNatsMode = "step",
        pretrain_updates: int = 0,
        replay_within_episodes: bool = False,
        prioritize_ends: bool = False,
        precision: Precision = "fp32",
        compile: bool = False,
        policy_kwargs: dict[str, Any] | None = None,
        stats_window_size: int = 100,
        tensorboard_log: str | None = None,
        verbose: int = 0,
        seed: int | None = None,
        device: th.device | str = "auto",
    ) -> None:
        super().__init__(
            policy,
            env,
            learning_rate,
            policy_kwargs=policy_kwargs,
            stats_window_size=stats_window_size,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            device=device,
            support_multi_env=True,
            seed=seed,
            supported_action_spaces=(spaces.Box, spaces.Discrete, spaces.MultiDiscrete),
        )
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if batch_length < 2:
            raise ValueError(f"batch_length must be at least 2, got {batch_length}")
        if free_nats_mode not in ("step", "batch"):
            raise ValueError(f"free_nats_mode must be 'step' or 'batch', got {free_nats_mode!r}")
        if pretrain_updates < 0:
            raise ValueError(f"pretrain_updates must be >= 0, got {pretrain_updates}")
        self.buffer_size = buffer_size
        self.learning_starts = learning_starts
        self.batch_size = batch_size
        self.batch_length = batch_length
        self.train_ratio = train_ratio
        self.free_nats = free_nats
        self.dyn_scale = dyn_scale
        self.rep_scale = rep_scale
        self.model_grad_clip = model_grad_clip
        self.model_loss_scales = dict(model_loss_scales or {})
        self.free_nats_mode: FreeNatsMode = free_nats_mode
        self.pretrain_updates = pretrain_updates
        self.replay_within_episodes = replay_within_episodes
        self.prioritize_ends = prioritize_ends
        self.precision = precision
        self.compile = compile
        self.replay_buffer = None

    # ------------------------------------------------------------------ setup
    def _derived_policy_kwargs(self) -> dict[str, Any]:
        """Policy arguments the algorithm derives from its own settings (learning rates, heads); override."""
        return {}

    def _policy_kwargs(self) -> dict[str, Any]:
        """The one precedence rule: the paper's defaults, then what the algorithm derives from its
        arguments, then the user's ``policy_kwargs`` (an explicit user entry always wins)."""
        return {**self.default_policy_kwargs, **self._derived_policy_kwargs(), **self.policy_kwargs}

    def _setup_model(self) -> None:
        self._setup_lr_schedule()
        self.set_random_seed(self.seed)
        self.policy = self.policy_class(  # type: ignore[assignment]
            self.observation_space, self.action_space, self.lr_schedule, **self._policy_kwargs()
        )
        self.policy = self.policy.to(self.device)
        if self.precision == "bf16" and self.device.type == "cpu" and not cpu_has_native_bf16():
            warnings.warn(
                "precision='bf16' on a CPU without native bf16 arithmetic (no AVX-512 BF16 or AMX; this one reports "
                f"{th.backends.cpu.get_cpu_capability()}): bf16 matrix products are emulated there and an update runs "
                "several times slower than in fp32 (4-10x measured on an AVX2 CPU). Use precision='fp32' on this machine.",
                UserWarning,
                stacklevel=2,
            )
        if self.compile:
            self.policy.compile_modules()
        self._update_credit = 0.0
        self._train_latent: tuple[State, th.Tensor] | None = None
        self._metrics: list[dict[str, th.Tensor]] = []
        self._n_updates = getattr(self, "_n_updates", 0)
        if self.env is not None:
            self._check_obs_shapes()
            self.replay_buffer = self._make_replay()

    def _replay_obs_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        space = self.observation_space
        items = space.spaces.items() if isinstance(space, spaces.Dict) else [("obs", space)]
        return {
            k: (tuple(s.shape or ()), np.dtype(np.uint8 if is_image_space(s, check_channels=False) else np.float32))
            for k, s in items
        }

    def _make_replay(self) -> SequenceReplay:
        return SequenceReplay(self.buffer_size, self.n_envs, self._replay_obs_shapes(), self.policy.codec.dim, self.seed)

    def _check_obs_shapes(self) -> None:
        """Clear error when the env's observations do not match its declared space."""
        assert self.env is not None
        space = self.env.observation_space
        if space != self.observation_space:
            raise ValueError(f"The env's observation space {space} differs from the model's {self.observation_space}")

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """bf16 autocast of forward passes when ``precision="bf16"``."""
        if self.precision == "bf16":
            with th.autocast(device_type=self.device.type, dtype=th.bfloat16):
                yield
        else:
            yield

    # ------------------------------------------------------------------ SB3 save / load
    def save(
        self,
        path: str | pathlib.Path | io.BufferedIOBase,
        exclude: Iterable[str] | None = None,
        include: Iterable[str] | None = None,
    ) -> None:
        """SB3's ``save``, stamping the file with :data:`SETTINGS_VERSION`."""
        self._settings_version = SETTINGS_VERSION
        super().save(path, exclude=exclude, include=include)

    @classmethod
    def load(
        cls: type[SelfDreamer],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        **kwargs: Any,
    ) -> SelfDreamer:
        """SB3's ``load``; a file written before :data:`SETTINGS_VERSION` gets the settings its algorithm derives
        from its saved arguments (:meth:`_upgrade_settings`), so training continues as it was configured."""
        model = super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)
        if getattr(model, "_settings_version", 0) < SETTINGS_VERSION:
            model._upgrade_settings()
            model._settings_version = SETTINGS_VERSION
        return model

    def _upgrade_settings(self) -> None:
        """Derive, from the saved arguments of an older file (its version is ``self._settings_version``), the
        settings such files did not store; override."""

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "_train_latent", "_metrics"]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", *[f"policy.{n}" for n in self.policy.optimizer_names()]], []

    def save_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Save the replay buffer (only the filled part) so training can be resumed."""
        if self.replay_buffer is None:
            raise RuntimeError("The replay buffer is not defined: the model has no env")
        if isinstance(path, str | pathlib.Path):
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.replay_buffer.save(path)

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase, truncate_last_traj: bool = True) -> None:
        """Load a replay buffer written by :meth:`save_replay_buffer` (also SB3-style ``.pkl`` names).

        :param path: file written by :meth:`save_replay_buffer`
        :param truncate_last_traj: accepted for compatibility with SB3's off-policy signature (rl-zoo3's ``-i``
            passes it). Nothing needs truncating here: when training resumes, the env is reset and the
            new observations are stored with ``is_first``, so no sequence runs across the resume point,
            and the interrupted episode's last step is (correctly) not marked terminal.
        """
        if isinstance(path, str | pathlib.Path) and not pathlib.Path(path).exists() and pathlib.Path(f"{path}.pkl").exists():
            path = f"{path}.pkl"
        buf = SequenceReplay.load(path, obs_shapes=self._replay_obs_shapes(), capacity=self.buffer_size)
        if buf.n_envs != self.n_envs:
            raise ValueError(f"The replay buffer was saved with {buf.n_envs} envs but the model has {self.n_envs}")
        self.replay_buffer = buf

    # ------------------------------------------------------------------ env loop
    def _obs_to_torch(self, obs: np.ndarray | dict[str, np.ndarray]) -> dict[str, th.Tensor]:
        return self.policy.layout.as_dict(obs_as_tensor(obs, self.device))

    def _obs_dict(self, obs: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.policy.layout.as_dict(obs)

    def _sample_actions(self) -> tuple[np.ndarray, np.ndarray]:
        """Env actions and model-space actions for the current observations."""
        assert self.env is not None
        if self.num_timesteps < self.learning_starts:
            env_actions = np.array([self.action_space.sample() for _ in range(self.n_envs)])
            self._train_latent = None  # the policy starts from a fresh latent after the random phase
            return env_actions, self.policy.codec.from_env(env_actions)
        assert self._last_episode_starts is not None and self._last_obs is not None
        first = self._last_episode_starts.astype(bool)
        if self._train_latent is None:
            self._train_latent = self.policy.initial_state(self.n_envs)
            first = np.ones_like(first)
        state, prev = self._train_latent
        self.policy.set_training_mode(False)
        with th.no_grad(), self.autocast():
            state, action = self.policy.step(
                state, prev, self._obs_to_torch(self._last_obs), th.as_tensor(first, device=self.device)
            )
        action = action.float()
        self._train_latent = (State(state.deter.float(), state.stoch.float()), action)
        action_np = action.cpu().numpy()
        return self.policy.codec.to_env(action_np), action_np

    def _store_transition(
        self, new_obs, model_actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]
    ) -> None:
        """Add the step to the replay; for finished episodes, the terminal observation then the reset one."""
        assert self.replay_buffer is not None
        obs = {k: np.array(v, copy=True) for k, v in self._obs_dict(new_obs).items()}
        terminal = np.zeros(self.n_envs, dtype=bool)
        done_ids = np.flatnonzero(dones)
        for i in done_ids:
            term_obs = infos[i].get("terminal_observation")
            if term_obs is not None:
                for k, v in self._obs_dict(term_obs).items():
                    obs[k][i] = v
            terminal[i] = not infos[i].get("TimeLimit.truncated", False)
        zeros = np.zeros(self.n_envs, dtype=bool)
        self.replay_buffer.add(obs, model_actions, rewards, zeros, terminal)
        if done_ids.size:
            reset_obs = {k: v[done_ids] for k, v in self._obs_dict(new_obs).items()}
            self.replay_buffer.add(
                reset_obs,
                np.zeros((done_ids.size, self.policy.codec.dim), np.float32),
                np.zeros(done_ids.size, np.float32),
                np.ones(done_ids.size, bool),
                np.zeros(done_ids.size, bool),
                env_ids=done_ids,
            )

    def _store_reset(self) -> None:
        """Add freshly reset observations (``is_first``) for every env."""
        assert self.replay_buffer is not None and self._last_obs is not None
        n = self.n_envs
        self.replay_buffer.add(
            self._obs_dict(self._last_obs),
            np.zeros((n, self.policy.codec.dim), np.float32),
            np.zeros(n, np.float32),
            np.ones(n, bool),
            np.zeros(n, bool),
        )

    def learn(
        self: SelfDreamer,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int = 4,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDreamer:
        """Collect experience and train for ``total_timesteps`` env steps (summed over envs).

        :param log_interval: dump logs every ``log_interval`` finished episodes
        """
        previous_obs = self._last_obs
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        if self._last_obs is not previous_obs:  # the env was reset by _setup_learn
            self._store_reset()
            self._train_latent = None
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        episodes_since_dump = 0
        while self.num_timesteps < total_timesteps:
            env_actions, model_actions = self._sample_actions()
            new_obs, rewards, dones, infos = self.env.step(env_actions)
            self.num_timesteps += self.env.num_envs
            callback.update_locals(locals())
            if not callback.on_step():
                break
            self._update_info_buffer(infos, dones)
            self._store_transition(new_obs, model_actions, rewards, dones, infos)
            self._last_obs = new_obs  # type: ignore[assignment]
            self._last_episode_starts = dones
            self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
            n_done = int(np.sum(dones))
            self._episode_num += n_done
            episodes_since_dump += n_done
            if self.num_timesteps >= self.learning_starts:
                self._train_owed()
            if log_interval is not None and episodes_since_dump >= log_interval:
                self.dump_logs()
                episodes_since_dump = 0
        callback.on_training_end()
        return self

    def _train_owed(self) -> None:
        """Run as many updates as the train ratio owes for the env steps taken so far."""
        assert self.replay_buffer is not None
        self._update_credit += self.n_envs * self.train_ratio / (self.batch_size * self.batch_length)
        n = int(self._update_credit)
        if n == 0 or self.replay_buffer.num_sequences(self.batch_length, self.replay_within_episodes) == 0:
            return
        self._update_credit -= n
        if self._n_updates == 0:  # the first training step after the prefill
            n += self.pretrain_updates
        self.train(n)

    def train(self, gradient_steps: int) -> None:
        """Run ``gradient_steps`` updates (:meth:`train_step`) on batches sampled from the replay."""
        assert self.replay_buffer is not None
        self.policy.set_training_mode(True)
        self._update_learning_rate(self.policy.model_optimizer)
        for _ in range(gradient_steps):
            batch = self.replay_buffer.sample(
                self.batch_size, self.batch_length, self.replay_within_episodes, self.prioritize_ends
            ).to_torch(self.device)
            metrics = self.train_step(batch)
            self._n_updates += 1
            self._metrics.append(metrics)
        self.policy.set_training_mode(False)

    @abstractmethod
    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """One update on a batch of sequences (what :meth:`train` runs, and what the throughput
        benchmark times); returns detached scalar metrics."""

    @staticmethod
    def _gradient_step(
        optimizer: th.optim.Optimizer, loss: th.Tensor, params: Iterable[th.nn.Parameter], max_grad_norm: float
    ) -> th.Tensor:
        """Backpropagate ``loss``, clip the gradient norm of ``params`` and step ``optimizer``.

        :return: the gradient norm before clipping
        """
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = th.nn.utils.clip_grad_norm_(params, max_grad_norm)
        optimizer.step()
        return grad_norm

    def world_model_step(self, batch: SequenceBatch) -> tuple[State, dict[str, th.Tensor]]:
        """One world-model update (every Dreamer and PlaNet): :meth:`WorldModel.loss` with this
        algorithm's ``free_nats``, ``dyn_scale``, ``rep_scale`` and ``model_loss_scales``, then a step
        clipped at ``model_grad_clip``.

        :return: posterior states ``(B, T, ·)`` (the imagination starts) and detached metrics
        """
        p = self.policy
        with self.autocast():
            loss, post, metrics = p.world_model.loss(
                batch, self.free_nats, self.dyn_scale, self.rep_scale, self.model_loss_scales, self.free_nats_mode
            )
        metrics["model_grad_norm"] = self._gradient_step(
            p.model_optimizer, loss, p.world_model.parameters(), self.model_grad_clip
        )
        metrics["model_loss"] = loss.detach()
        return post, metrics

    # ------------------------------------------------------------------ logging
    def dump_logs(self) -> None:
        """Write rollout, time and training metrics (means since the last dump) to the logger."""
        time_elapsed = max((time.time_ns() - self.start_time) / 1e9, sys.float_info.epsilon)
        fps = int((self.num_timesteps - self._num_timesteps_at_start) / time_elapsed)
        self.logger.record("time/episodes", self._episode_num, exclude="tensorboard")
        if self.ep_info_buffer:
            self.logger.record("rollout/ep_rew_mean", safe_mean([ep["r"] for ep in self.ep_info_buffer]))
            self.logger.record("rollout/ep_len_mean", safe_mean([ep["l"] for ep in self.ep_info_buffer]))
        self.logger.record("time/fps", fps)
        self.logger.record("time/time_elapsed", int(time_elapsed), exclude="tensorboard")
        self.logger.record("time/total_timesteps", self.num_timesteps, exclude="tensorboard")
        if self.ep_success_buffer:
            self.logger.record("rollout/success_rate", safe_mean(self.ep_success_buffer))
        if self._metrics:
            keys = self._metrics[0].keys()
            means = th.stack([th.stack([m[k].float() for k in keys]) for m in self._metrics]).mean(0).cpu().numpy()
            for k, v in zip(keys, means):
                self.logger.record(f"train/{k}", float(v))
            self._metrics = []
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.dump(step=self.num_timesteps)

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "run",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        if self.env is None:
            raise ValueError("The model has no env: pass one to load(path, env=...) or call set_env(env) before learn()")
        if not isinstance(self.env, VecEnv):  # pragma: no cover - SB3 always wraps
            raise TypeError("Expected a VecEnv")
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
