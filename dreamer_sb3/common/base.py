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
from stable_baselines3.common.base_class import BaseAlgorithm, maybe_make_env
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.policies import BasePolicy
from stable_baselines3.common.type_aliases import GymEnv, MaybeCallback, Schedule
from stable_baselines3.common.utils import obs_as_tensor, safe_mean
from stable_baselines3.common.vec_env import VecEnv

from dreamer_sb3.common import distributed as dist
from dreamer_sb3.common import validation
from dreamer_sb3.common.distributions import FreeNatsMode
from dreamer_sb3.common.guard import BAD_DATA_MODES, BadData, DataGuard, NonFiniteUpdateError, finite_update
from dreamer_sb3.common.metrics import RunningMeans
from dreamer_sb3.common.model_files import check_model_file
from dreamer_sb3.common.policies import DreamerPolicy
from dreamer_sb3.common.replay import SequenceBatch, SequenceReplay
from dreamer_sb3.common.rssm import State
from dreamer_sb3.common.safe_load import pickle_trusted, safe_custom_objects, space_to_json
from dreamer_sb3.common.workers import StepCrashGuard


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


def _stores_uint8(space: spaces.Space) -> bool:
    """uint8 ``Box`` observations (images, clips, frame stacks) are stored as uint8, everything else as float32."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8


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
    :param replay_context: replay context ``K`` (DreamerV3's current official code: 1): the replay stores a latent
        with every step (the acting latent, then the posterior of each update that replays the step) and a
        replayed window starts from the latent stored ``K`` steps before its first trained step, not from the
        initial state; 0 (the other papers): every window starts from the initial state
    :param replay_online: DreamerV3's online queue (current official code: on): every fresh stretch of
        ``batch_length + replay_context`` steps of each env is replayed once soon after it arrives, as the first rows
        of the next batches, the rest drawn uniformly (see :mod:`dreamer_sb3.common.replay`); off: uniform alone
    :param precision: ``"fp32"`` or ``"bf16"`` autocast of network forward passes
        (fp32 master weights; losses, KL and two-hot in fp32)
    :param compile: ``torch.compile`` the networks in place (see :meth:`DreamerPolicy.compile_modules`)
    :param on_bad_data: what happens when an observation (also a terminal observation) or a reward about to
        enter the replay is NaN, inf or beyond float32's range: ``"raise"`` a
        :class:`~dreamer_sb3.common.guard.NonFiniteDataError` naming env, step, key and value, or ``"drop"`` the
        step with a warning (counted as ``train/dropped_steps``; the env's next stored step starts a new sequence)
    :param max_skipped_updates: an optimiser step whose loss or gradient norm is non-finite is skipped (the
        parameters stay unchanged; counted as ``train/skipped_updates``); this many updates in a row with a
        skipped step raise a :class:`~dreamer_sb3.common.guard.NonFiniteUpdateError`
    :param policy_kwargs: architecture and head options for :class:`DreamerPolicy`; they win over
        the algorithm's defaults and over what it derives from its own arguments
    :param log_every_updates: also dump the logs (``train/*`` means since the last dump, rollout and time) every this
        many updates, whether or not episodes end (0: only every ``log_interval`` episodes and at the end of ``learn``)
    :param video_every_updates: with a TensorBoard logger and image observations, write an open-loop video prediction
        of the world model (``train/openl_<key>``, see :mod:`dreamer_sb3.common.openl`) every this many updates (0: never)
    :param distributed: data-parallel training over the ranks of a ``torchrun`` launch (see
        ``docs/distributed.md``): ``None`` detects it (an initialised process group, or ``WORLD_SIZE > 1``),
        ``True`` requires it, ``False`` trains this process alone. Every rank steps its own envs (seeded
        ``seed + rank * n_envs``) into its own replay and averages gradients with the others;
        ``num_timesteps``, ``total_timesteps`` and ``learning_starts`` count env steps over all ranks, the
        train ratio holds per rank; logging, callbacks, the progress bar and ``save`` run on rank 0 only
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
        replay_context: int = 0,
        replay_online: bool = False,
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
    ) -> None:
        if env is not None:  # spaces first: SB3's VecEnv wrapper dies cryptically on some, and asserts on actions
            env = maybe_make_env(env, verbose)
            validation.check_observation_space(env.observation_space)
            validation.check_action_space(env.action_space)
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
        if replay_context < 0:
            raise ValueError(f"replay_context must be 0 or more steps, got {replay_context}")
        if pretrain_updates < 0:
            raise ValueError(f"pretrain_updates must be >= 0, got {pretrain_updates}")
        if on_bad_data not in BAD_DATA_MODES:
            raise ValueError(f"on_bad_data must be one of {BAD_DATA_MODES}, got {on_bad_data!r}")
        if max_skipped_updates < 1:
            raise ValueError(f"max_skipped_updates must be at least 1, got {max_skipped_updates}")
        validation.check_settings(
            train_ratio=train_ratio,
            batch_size=batch_size,
            batch_length=batch_length,
            buffer_size=buffer_size,
            learning_starts=learning_starts,
            n_envs=self.n_envs if self.env is not None else None,
        )
        if self.env is not None and policy == "CnnPolicy":
            validation.check_cnn_policy(self.env.observation_space)
        validation.check_policy_kwargs(self.policy_kwargs, self.policy_class)
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
        self.replay_context = replay_context
        self.replay_online = replay_online
        self.precision = precision
        self.compile = compile
        for name, value in (("log_every_updates", log_every_updates), ("video_every_updates", video_every_updates)):
            if int(value) != value or value < 0:
                raise ValueError(f"{name} must be a non-negative integer (0 disables it), got {value!r}")
        self.log_every_updates = int(log_every_updates)
        self.video_every_updates = int(video_every_updates)
        self.on_bad_data: BadData = on_bad_data
        self.max_skipped_updates = max_skipped_updates
        self._dropped_steps = 0  # steps left out of the replay by the data guard (train/dropped_steps)
        self._skipped_updates = 0  # optimiser steps skipped for a non-finite loss or gradient (train/skipped_updates)
        self.distributed = distributed
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
        self.device = dist.rank_device(self.device, self.distributed)
        self._ranks = dist.SINGLE  # the process group is joined by learn(), so load / predict stay local
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
        # the spaces as plain data, saved with the model so that load() rebuilds them without unpickling
        with contextlib.suppress(TypeError):
            self.space_specs = {
                "observation_space": space_to_json(self.observation_space),
                "action_space": space_to_json(self.action_space),
            }
        self._update_credit = 0.0
        self._train_latent: tuple[State, th.Tensor] | None = None
        self._latent_rows: np.ndarray | None = None  # envs whose latest replay row awaits its acting latent
        self._metrics = RunningMeans()
        self._n_updates = getattr(self, "_n_updates", 0)
        self._dump_mark = (self.num_timesteps, self._n_updates)
        self._skips_in_a_row = 0
        self._data_guard = DataGuard(self.n_envs, getattr(self, "on_bad_data", "raise"))
        if self.env is not None:
            self._check_obs_shapes()
            self.replay_buffer = self._make_replay()

    def _replay_obs_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        space = self.observation_space
        items = space.spaces.items() if isinstance(space, spaces.Dict) else [("obs", space)]
        # uint8 observations stay uint8 whatever their shape (a clip, a frame stack): 4x less memory than float32
        return {k: (tuple(s.shape or ()), np.dtype(np.uint8 if _stores_uint8(s) else np.float32)) for k, s in items}

    def _make_replay(self) -> SequenceReplay:
        seed = None if self.seed is None else self._rank_seed(self.seed)
        replay = SequenceReplay(
            self.buffer_size,
            self.n_envs,
            self._replay_obs_shapes(),
            self.policy.codec.dim,
            seed,
            self._replay_latent_dim(),
            self._replay_online_length(),
        )
        replay.warn_if_too_large(stacklevel=4)
        return replay

    def _replay_online_length(self) -> int:
        """Window length of the replay's online queue: the replayed window with its context, or 0 without the queue."""
        return self.batch_length + self.replay_context if self.replay_online and not self.replay_within_episodes else 0

    def _replay_latent_dim(self) -> int:
        """Size of the latent each replay step stores: the RSSM's ``feat`` with replay context, else 0."""
        return self.policy.world_model.rssm.feat_size if self.replay_context else 0

    def _rank_seed(self, seed: int) -> int:
        """``seed`` offset by this process's rank, so ranks step different envs and sample different batches."""
        return seed + dist.rank_of(self.distributed) * self.n_envs

    def set_random_seed(self, seed: int | None = None) -> None:
        """SB3's seeding (python, numpy, torch, action space, env) with ``seed + rank * n_envs`` on each rank."""
        super().set_random_seed(None if seed is None else self._rank_seed(seed))

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
        """SB3's ``save``, stamping the file with :data:`SETTINGS_VERSION`; in a data-parallel run only rank 0
        writes (every rank holds the same networks)."""
        self._settings_version = SETTINGS_VERSION
        if dist.rank_of(self.distributed) == 0:
            super().save(path, exclude=exclude, include=include)

    def _upgrade_settings(self) -> None:
        """Derive, from the saved arguments of an older file (its version is ``self._settings_version``), the
        settings such files did not store; override."""

    def _excluded_save_params(self) -> list[str]:
        return [
            *super()._excluded_save_params(),
            "_train_latent",
            "_latent_rows",
            "_metrics",
            "_dump_mark",
            "_data_guard",
            "_step_guard",
            "_ranks",
            "distributed",
        ]

    def _get_torch_save_params(self) -> tuple[list[str], list[str]]:
        return ["policy", *[f"policy.{n}" for n in self.policy.optimizer_names()]], []

    @classmethod
    def load(
        cls: type[SelfDreamer],
        path: str | pathlib.Path | io.BufferedIOBase,
        env: GymEnv | None = None,
        device: th.device | str = "auto",
        custom_objects: dict[str, Any] | None = None,
        print_system_info: bool = False,
        force_reset: bool = True,
        allow_pickle: bool = False,
        **kwargs: Any,
    ) -> SelfDreamer:
        """Load a model saved with :meth:`save`, without running code from the file (see :mod:`dreamer_sb3.common.safe_load`).

        SB3 unpickles a zip's ``:serialized:`` entries, which runs any code a crafted file carries. Here every such
        entry of a Dreamer model is rebuilt from plain data instead; a file holding anything else is refused with
        :class:`~dreamer_sb3.common.safe_load.UnsafeModelFileError`.

        A file holding another algorithm's model (a DreamerV2 or PPO zip loaded here) is refused with a message
        naming it (:func:`dreamer_sb3.common.model_files.check_model_file`). A file written before
        :data:`SETTINGS_VERSION` gets the architecture and settings it was trained with (see
        :mod:`dreamer_sb3.common.compat` and :meth:`_upgrade_settings`), so it acts and trains as it was configured.

        :param allow_pickle: unpickle as SB3 does (only for files you trust: a pickle can run arbitrary code)
        :param kwargs: as SB3's ``load`` (attributes replaced after loading)
        """
        check_model_file(path, cls)
        if not (allow_pickle or pickle_trusted()):
            custom_objects = safe_custom_objects(path, cls, custom_objects, kwargs)
        model = super().load(path, env, device, custom_objects, print_system_info, force_reset, **kwargs)
        if getattr(model, "_settings_version", 0) < SETTINGS_VERSION:
            model._upgrade_settings()
            model._settings_version = SETTINGS_VERSION
        return model

    def save_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Save the replay buffer (only the filled part) so training can be resumed.

        In a data-parallel run every rank saves its own replay: rank ``r > 0`` to ``<stem>.rank<r><suffix>``
        beside ``path`` (a file object is written as given).
        """
        if self.replay_buffer is None:
            raise RuntimeError("The replay buffer is not defined: the model has no env")
        if isinstance(path, str | pathlib.Path):
            path = dist.rank_path(path, dist.rank_of(self.distributed))
            pathlib.Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.replay_buffer.save(path)

    def load_replay_buffer(self, path: str | pathlib.Path | io.BufferedIOBase, truncate_last_traj: bool = True) -> None:
        """Load a replay buffer written by :meth:`save_replay_buffer` (also SB3-style ``.pkl`` names).

        :param path: file written by :meth:`save_replay_buffer`
        :param truncate_last_traj: accepted for compatibility with SB3's off-policy signature (rl-zoo3's ``-i``
            passes it). Nothing needs truncating here: when training resumes, the env is reset and the
            new observations are stored with ``is_first``, so no sequence runs across the resume point,
            and the interrupted episode's last step is (correctly) not marked terminal.

        In a data-parallel run rank ``r > 0`` reads its own file (see :meth:`save_replay_buffer`); a rank
        whose file is missing (e.g. more ranks than when it was saved) warns and keeps an empty replay.
        """
        rank = dist.rank_of(self.distributed)
        if isinstance(path, str | pathlib.Path) and rank > 0:
            path = dist.rank_path(path, rank)
            if not path.exists() and not pathlib.Path(f"{path}.pkl").exists():
                warnings.warn(f"Rank {rank} has no saved replay {path}: it starts with an empty replay", stacklevel=2)
                return
        if isinstance(path, str | pathlib.Path) and not pathlib.Path(path).exists() and pathlib.Path(f"{path}.pkl").exists():
            path = f"{path}.pkl"
        buf = SequenceReplay.load(
            path, obs_shapes=self._replay_obs_shapes(), capacity=self.buffer_size, latent_dim=self._replay_latent_dim()
        )
        if buf.n_envs != self.n_envs:
            raise ValueError(f"The replay buffer was saved with {buf.n_envs} envs but the model has {self.n_envs}")
        buf.online_length = self._replay_online_length()
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
        obs = self._last_obs
        rejected = self._data_guard.last_bad
        if rejected.any():  # after a drop (on_bad_data="drop") act on zeros in place of the bad values, from a fresh latent
            obs = self._data_guard.sanitize(self._obs_dict(obs), rejected)
            obs = obs if self.policy.layout.is_dict else obs["obs"]
            first = first | rejected
        self.policy.set_training_mode(False)
        with th.no_grad(), self.autocast():
            state, action = self.policy.step(state, prev, self._obs_to_torch(obs), th.as_tensor(first, device=self.device))
        action = action.float()
        self._train_latent = (State(state.deter.float(), state.stoch.float()), action)
        self._store_acting_latents(self._train_latent[0])
        action_np = action.cpu().numpy()
        return self.policy.codec.to_env(action_np), action_np

    def _store_acting_latents(self, state: State) -> None:
        """With replay context, store the acting latent of each env's current observation with its replay step
        (the envs whose latest stored step is that observation; a dropped one has none)."""
        rows = self._latent_rows
        if not self.replay_context or rows is None or self.replay_buffer is None:
            return
        ids = np.flatnonzero(rows)
        if ids.size:
            feat = self.policy.world_model.rssm.feat(state)[th.as_tensor(ids, device=self.device)]
            self.replay_buffer.set_latest_latents(feat.cpu().numpy(), ids)
        self._latent_rows = np.zeros_like(rows)

    def _store_transition(
        self, new_obs, model_actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray, infos: list[dict[str, Any]]
    ) -> None:
        """Add the step to the replay; for finished episodes, the terminal observation then the reset one.

        Every observation and reward passes the data guard first (see ``on_bad_data``): nothing non-finite is stored.
        """
        assert self.replay_buffer is not None
        guard, n, step = self._data_guard, self.n_envs, self.num_timesteps
        new = self._obs_dict(new_obs)
        done_ids = np.flatnonzero(dones)
        is_done = np.asarray(dones, dtype=bool).reshape(n)
        new_ok = guard.check(new, None, np.arange(n), step, "observation")
        rewards = np.asarray(rewards)
        step_ok = guard.check(None, rewards, np.arange(n), step) & (new_ok | is_done)
        obs = {k: np.array(v, copy=True) for k, v in new.items()}
        terminal = np.zeros(n, dtype=bool)
        for i in done_ids:
            term_obs = infos[i].get("terminal_observation")
            if term_obs is not None:
                term = self._obs_dict(term_obs)
                step_ok[i] &= bool(
                    guard.check(
                        {k: np.asarray(v)[None] for k, v in term.items()}, None, [int(i)], step, "terminal observation"
                    )[0]
                )
                for k, v in term.items():
                    obs[k][i] = v
            else:  # no terminal observation: the stored row is the new one
                step_ok[i] &= bool(new_ok[i])
            terminal[i] = not infos[i].get("TimeLimit.truncated", False)
        # a stored step right after a drop starts a new sequence: no replayed window spans the gap
        first = guard.restart.copy()
        action = np.where(first[:, None], 0.0, model_actions).astype(np.float32)
        reward = np.where(first, 0.0, rewards).astype(np.float32)
        keep = np.flatnonzero(step_ok)
        if keep.size:
            self.replay_buffer.add(
                {k: v[keep] for k, v in obs.items()}, action[keep], reward[keep], first[keep], terminal[keep], env_ids=keep
            )
        guard.restart[keep] = False
        guard.restart[~step_ok & ~is_done] = True
        self._latent_rows = step_ok & ~is_done  # the stored row of these envs is the observation acted on next
        if done_ids.size:
            reset_ok = new_ok[done_ids]
            ids = done_ids[reset_ok]
            self.replay_buffer.add(
                {k: v[ids] for k, v in new.items()},
                np.zeros((ids.size, self.policy.codec.dim), np.float32),
                np.zeros(ids.size, np.float32),
                np.ones(ids.size, bool),
                np.zeros(ids.size, bool),
                env_ids=ids,
            )
            guard.restart[done_ids] = ~reset_ok
            self._latent_rows[ids] = True
        guard.last_bad = ~new_ok
        self._dropped_steps += int((~step_ok).sum() + (~new_ok[done_ids]).sum())

    def _store_reset(self) -> None:
        """Add freshly reset observations (``is_first``) for every env that passes the data guard."""
        assert self.replay_buffer is not None and self._last_obs is not None
        n = self.n_envs
        obs = self._obs_dict(self._last_obs)
        ok = self._data_guard.check(obs, None, np.arange(n), self.num_timesteps, "reset observation")
        ids = np.flatnonzero(ok)
        self.replay_buffer.add(
            {k: np.asarray(v)[ids] for k, v in obs.items()},
            np.zeros((ids.size, self.policy.codec.dim), np.float32),
            np.zeros(ids.size, np.float32),
            np.ones(ids.size, bool),
            np.zeros(ids.size, bool),
            env_ids=ids,
        )
        self._data_guard.restart[:] = ~ok
        self._data_guard.last_bad = ~ok
        self._latent_rows = ok.copy()
        self._dropped_steps += int((~ok).sum())

    def learn(
        self: SelfDreamer,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 4,
        tb_log_name: str | None = None,
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDreamer:
        """Collect experience and train for ``total_timesteps`` env steps (summed over envs).

        As SB3's off-policy loop with ``train_freq=1``: each env step is one rollout (``callback.on_rollout_start``,
        ``on_step``, ``on_rollout_end``), then the updates the train ratio owes.

        :param log_interval: dump logs every ``log_interval`` finished episodes (``None``: not by episodes); logs are
            also dumped every ``log_every_updates`` updates and once at the end
        :param tb_log_name: TensorBoard run name (default: the class name, so runs are ``DreamerV3_1``, ... as SB3's
            ``PPO_1``)
        """
        if total_timesteps < 0:
            raise ValueError(f"total_timesteps must be 0 or more (env steps to collect), got {total_timesteps}")
        self._step_guard = StepCrashGuard(self.env)  # a dying SubprocVecEnv worker: its traceback, and no hang
        try:
            with self._step_guard.watch(lambda: self.num_timesteps):
                return self._learn(total_timesteps, callback, log_interval, tb_log_name, reset_num_timesteps, progress_bar)
        finally:
            self._step_guard.cleanup()

    def _learn(
        self: SelfDreamer,
        total_timesteps: int,
        callback: MaybeCallback,
        log_interval: int | None,
        tb_log_name: str | None,
        reset_num_timesteps: bool,
        progress_bar: bool,
    ) -> SelfDreamer:
        previous_obs = self._last_obs
        tb_log_name = tb_log_name or type(self).__name__
        total_timesteps, callback = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        self._dump_mark = (self.num_timesteps, self._n_updates)
        if self.replay_buffer is None:
            self.replay_buffer = self._make_replay()
        if self._data_guard.restart.shape[0] != self.n_envs or self._data_guard.mode != self.on_bad_data:
            self._data_guard = DataGuard(self.n_envs, self.on_bad_data)  # a new env (set_env) or a changed setting
        if self._last_obs is not previous_obs:  # the env was reset by _setup_learn
            self._store_reset()
            self._train_latent = None
        callback.on_training_start(locals(), globals())
        assert self.env is not None
        episodes_since_dump = 0
        while self.num_timesteps < total_timesteps:
            callback.on_rollout_start()
            env_actions, model_actions = self._sample_actions()
            new_obs, rewards, dones, infos = self._step_guard.step(self.env, env_actions)
            self.num_timesteps += self.env.num_envs * self._ranks.world_size
            callback.update_locals(locals())
            if self._ranks.any(not callback.on_step()):  # rank 0's callbacks stop every rank
                callback.on_rollout_end()
                break
            self._update_info_buffer(infos, dones)
            self._store_transition(new_obs, model_actions, rewards, dones, infos)
            self._last_obs = new_obs
            self._last_episode_starts = dones
            self._update_current_progress_remaining(self.num_timesteps, self._total_timesteps)
            n_done = int(np.sum(dones))
            self._episode_num += n_done
            episodes_since_dump += n_done
            callback.on_rollout_end()
            if self.num_timesteps >= self.learning_starts:
                self._train_owed()
            updates_due = self.log_every_updates > 0 and self._n_updates - self._dump_mark[1] >= self.log_every_updates
            if updates_due or (log_interval is not None and episodes_since_dump >= log_interval):
                self.dump_logs()
                episodes_since_dump = 0
        if self.num_timesteps > self._dump_mark[0] or self._n_updates > self._dump_mark[1]:
            self.dump_logs()  # the final dump: a short run still logs its train/* means
        callback.on_training_end()
        return self

    def _train_owed(self) -> None:
        """Run as many updates as the train ratio owes for the env steps taken so far."""
        assert self.replay_buffer is not None
        self._update_credit += self.n_envs * self.train_ratio / (self.batch_size * self.batch_length)
        n = int(self._update_credit)
        length = self.batch_length + self.replay_context
        if n == 0 or self._ranks.any(self.replay_buffer.num_sequences(length, self.replay_within_episodes) == 0):
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
                self.batch_size, self.batch_length, self.replay_within_episodes, self.prioritize_ends, self.replay_context
            ).to_torch(self.device)
            skipped_before = self._skipped_updates
            metrics = self.train_step(batch)
            self._n_updates += 1
            skipped = self._skipped_updates > skipped_before
            if not skipped:  # a skipped step's losses are non-finite: they would poison the running means
                self._metrics.add(metrics)
            if self.video_every_updates > 0 and self._n_updates % self.video_every_updates == 0:
                self._record_openl_video(batch)
            self._skips_in_a_row = self._skips_in_a_row + 1 if skipped else 0
            if self._skips_in_a_row >= self.max_skipped_updates:
                self.policy.set_training_mode(False)
                raise NonFiniteUpdateError(
                    f"{self._skips_in_a_row} updates in a row (max_skipped_updates={self.max_skipped_updates}) had a "
                    f"non-finite loss or gradient norm, so their optimiser steps were skipped and the weights left "
                    f"unchanged (last metrics: { {k: float(v) for k, v in metrics.items() if v.numel() == 1} }). "
                    "Usual causes: a learning rate or gradient clip too large, or extreme observations / rewards "
                    "(symlog_obs, or scale them in a wrapper). Lower the learning rates, check the env's values, or "
                    "raise max_skipped_updates to tolerate longer bursts."
                )
        self.policy.set_training_mode(False)

    def _record_openl_video(self, batch: SequenceBatch) -> None:
        """Record the world model's open-loop prediction on ``batch`` as a TensorBoard video (when one is logged)."""
        from dreamer_sb3.common.openl import record_openl

        record_openl(self, batch)

    @abstractmethod
    def train_step(self, batch: SequenceBatch) -> dict[str, th.Tensor]:
        """One update on a batch of sequences (what :meth:`train` runs, and what the throughput
        benchmark times); returns detached scalar metrics."""

    def _gradient_step(
        self, optimizer: th.optim.Optimizer, loss: th.Tensor, params: Iterable[th.nn.Parameter], max_grad_norm: float
    ) -> th.Tensor:
        """Backpropagate ``loss``, average the gradients of ``params`` over the ranks (data-parallel runs),
        clip their norm and step ``optimizer``.

        A non-finite loss or gradient norm skips the step (parameters and optimiser state unchanged) and counts it
        in ``_skipped_updates`` (see ``max_skipped_updates``).

        :return: the gradient norm before clipping
        """
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return self._apply_gradients(optimizer, loss, params, max_grad_norm)

    def _apply_gradients(
        self, optimizer: th.optim.Optimizer, loss: th.Tensor, params: Iterable[th.nn.Parameter], max_grad_norm: float
    ) -> th.Tensor:
        """The second half of :meth:`_gradient_step`, for gradients already accumulated in ``params``
        (``loss`` is checked for non-finite values only): average over the ranks, clip, step or skip.

        :return: the gradient norm before clipping
        """
        params = list(params)
        self._ranks.average_gradients(params)
        grad_norm = th.nn.utils.clip_grad_norm_(params, max_grad_norm)
        # one decision for every rank (a rank that skipped alone would leave the others' parameters behind)
        if not self._ranks.any(not finite_update(loss, grad_norm)):
            optimizer.step()
        else:
            optimizer.zero_grad(set_to_none=True)
            self._skipped_updates += 1
        return grad_norm

    def world_model_loss(self, batch: SequenceBatch) -> tuple[th.Tensor, State, dict[str, th.Tensor]]:
        """:meth:`WorldModel.loss` on ``batch`` with this algorithm's ``free_nats``, ``dyn_scale``, ``rep_scale``,
        ``model_loss_scales`` and ``free_nats_mode``, under its autocast.

        With replay context (a batch with an ``index``), the posteriors are written back to the replay as the
        stored latents of their steps, the context of later windows.

        :return: the loss, the posterior states ``(B, T, ·)`` (with their graph) and detached metrics
        """
        p = self.policy
        with self.autocast():
            loss, post, metrics = p.world_model.loss(
                batch, self.free_nats, self.dyn_scale, self.rep_scale, self.model_loss_scales, self.free_nats_mode
            )
        if batch.index is not None and self.replay_buffer is not None:  # replay context: the posteriors go back
            latent = p.world_model.rssm.feat(post).detach().float().cpu().numpy()
            self.replay_buffer.update_latents(batch.index, latent)
        return loss, post, metrics

    def world_model_step(self, batch: SequenceBatch) -> tuple[State, dict[str, th.Tensor]]:
        """One world-model update (every Dreamer and PlaNet): :meth:`world_model_loss`, then a step clipped at
        ``model_grad_clip``.

        :return: posterior states ``(B, T, ·)`` (the imagination starts) and detached metrics
        """
        p = self.policy
        loss, post, metrics = self.world_model_loss(batch)
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
        for k, v in self._metrics.pop_means().items():
            self.logger.record(f"train/{k}", v)
        self._record_progress()
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
        self.logger.record("train/dropped_steps", self._dropped_steps)
        self.logger.record("train/skipped_updates", self._skipped_updates)
        self.logger.dump(step=self.num_timesteps)

    def _record_progress(self) -> None:
        """Replay size, the train ratio achieved since the last dump and every optimizer's learning rate."""
        steps, updates = self.num_timesteps - self._dump_mark[0], self._n_updates - self._dump_mark[1]
        self._dump_mark = (self.num_timesteps, self._n_updates)
        if self.replay_buffer is not None:
            self.logger.record("train/replay_size", len(self.replay_buffer))
        if steps > 0 and self.num_timesteps > self.learning_starts:
            self.logger.record("train/train_ratio", updates * self.batch_size * self.batch_length / steps)
        for name in self.policy.optimizer_names():
            lr = getattr(self.policy, name).param_groups[0]["lr"]
            self.logger.record(f"train/{name.removesuffix('_optimizer')}_lr", float(lr))

    def _setup_learn(
        self,
        total_timesteps: int,
        callback: MaybeCallback = None,
        reset_num_timesteps: bool = True,
        tb_log_name: str = "DreamerAlgorithm",
        progress_bar: bool = False,
    ) -> tuple[int, BaseCallback]:
        if self.env is None:
            raise ValueError("The model has no env: pass one to load(path, env=...) or call set_env(env) before learn()")
        if not isinstance(self.env, VecEnv):  # pragma: no cover - SB3 always wraps
            raise TypeError("Expected a VecEnv")
        self._ranks = dist.setup(self.distributed, self.device)
        if self._ranks.enabled:
            callback, progress_bar = dist.join_learn(self, callback, progress_bar)
        return super()._setup_learn(total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar)
