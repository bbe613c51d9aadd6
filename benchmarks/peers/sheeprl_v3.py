"""SheepRL's DreamerV3 (``sheeprl`` 0.8.4), built and updated by its own functions.

The config is SheepRL's own hydra composition (``exp=dreamer_v3``, whose algorithm is
``dreamer_v3_S``: dense units 512 in 2 layers, deter 512, hidden 512, CNN multiplier 32, 32x32
latents, 255 bins, i.e. our ``vision`` sizes) with the batch, horizon and device overridden.
The agent comes from ``sheeprl.algos.dreamer_v3.agent.build_agent`` on a single-device Fabric
instantiated from the composed ``fabric`` config, the optimisers from the config's ``optimizer``
entries (fused Adam) through ``hydra.utils.instantiate`` and ``fabric.setup_optimizers``, as
``sheeprl.algos.dreamer_v3.dreamer_v3.main`` does.

One update is one gradient step of ``main``'s training loop: the slow-critic update written
inline in ``main`` (``tau`` mix of the critic into the target critic), then the body of
``dreamer_v3.train`` called piece by piece so the two phases can be timed apart:
``world_model_learning`` (``world_model_loss`` + ``sheeprl.utils.fabric.update``: backward,
gradient clipping, Adam), ``behaviour_learning`` (``imagine``, ``Moments``, ``actor_loss``,
``critic_loss``, one ``update`` each) and the three ``zero_grad`` calls. ``train``'s metric
aggregation is skipped (no aggregator, ``metric.log_level=0``). The acting path is
``PlayerDV3.get_actions`` on ``prepare_obs`` of a numpy observation, as in ``main``'s loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import hydra
import numpy as np
import sheeprl
import torch as th
from omegaconf import OmegaConf
from sheeprl.algos.dreamer_v3 import dreamer_v3 as dv3
from sheeprl.algos.dreamer_v3.agent import build_agent
from sheeprl.algos.dreamer_v3.utils import Moments, prepare_obs
from sheeprl.utils.metric import MetricAggregator
from sheeprl.utils.timer import timer
from sheeprl.utils.utils import dotdict
from torch.distributions import Distribution

from . import ACTION_DIM, IMAGE_SHAPE, Setup, count, make_synthetic_batch

KEY = "rgb"


def make_config(setup: Setup) -> dotdict:
    """SheepRL's composed ``exp=dreamer_v3`` config with our sizes, batch, horizon and device."""
    from hydra import compose, initialize_config_module

    s, dev = setup.size, th.device(setup.device)
    wm = "algo.world_model"
    overrides = [
        "exp=dreamer_v3",
        "env=dummy",
        f"env.screen_size={IMAGE_SHAPE[-1]}",
        "env.num_envs=1",
        f"algo.cnn_keys.encoder=[{KEY}]",
        "algo.mlp_keys.encoder=[]",
        f"algo.per_rank_batch_size={setup.batch_size}",
        f"algo.per_rank_sequence_length={setup.batch_length}",
        f"algo.horizon={setup.horizon}",
        f"algo.dense_units={s['units']}",
        f"algo.mlp_layers={s['layers']}",
        f"{wm}.encoder.cnn_channels_multiplier={s['cnn_depth']}",
        f"{wm}.recurrent_model.recurrent_state_size={s['deter']}",
        f"{wm}.transition_model.hidden_size={s['hidden']}",
        f"{wm}.representation_model.hidden_size={s['hidden']}",
        f"{wm}.stochastic_size={s['stoch']}",
        f"{wm}.discrete_size={s['classes']}",
        f"{wm}.reward_model.bins={s['bins']}",
        f"algo.critic.bins={s['bins']}",
        # 1: REINFORCE only, 0: dynamics backpropagation only (its default for continuous actions)
        f"algo.actor.objective_mix={1.0 if setup.actor_grad == 'reinforce' else 0.0}",
        f"fabric.accelerator={dev.type}",
        f"fabric.devices={[dev.index] if dev.index is not None else 1}",
        f"fabric.precision={'bf16-mixed' if setup.precision == 'bf16' else '32-true'}",
        "metric.log_level=0",
        f"seed={setup.seed}",
    ]
    with initialize_config_module(config_module="sheeprl.configs", version_base="1.3"):
        cfg = compose(config_name="config", overrides=overrides)
    return dotdict(OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True))


class SheepRLPeer:
    """SheepRL's DreamerV3 agent, optimisers and the synthetic batch in its ``[time, batch, ...]`` layout."""

    version = f"sheeprl {sheeprl.__version__}"

    def __init__(self, setup: Setup) -> None:
        cfg = self.cfg = make_config(setup)
        # process-wide settings of sheeprl.cli.run_algorithm for this config
        Distribution.set_default_validate_args(cfg.distribution.validate_args)
        MetricAggregator.disabled = True
        timer.disabled = True
        th.backends.cudnn.benchmark = cfg.torch_backends_cudnn_benchmark
        self.fabric = fabric = hydra.utils.instantiate(cfg.fabric, _convert_="all")
        obs_space = gym.spaces.Dict({KEY: gym.spaces.Box(0, 255, IMAGE_SHAPE, np.uint8)})
        self.actions_dim = (ACTION_DIM,)
        self.world_model, self.actor, self.critic, self.target_critic, self.player = build_agent(
            fabric, self.actions_dim, True, cfg, obs_space
        )
        optimizers = [
            hydra.utils.instantiate(c.optimizer, params=m.parameters(), _convert_="all")
            for c, m in (
                (cfg.algo.world_model, self.world_model),
                (cfg.algo.actor, self.actor),
                (cfg.algo.critic, self.critic),
            )
        ]
        self.world_optimizer, self.actor_optimizer, self.critic_optimizer = fabric.setup_optimizers(*optimizers)
        a = cfg.algo.actor.moments
        self.moments = Moments(a.decay, a.max, a.percentile.low, a.percentile.high)
        self.gradient_steps = 0
        batch = make_synthetic_batch(setup)
        self.data = self._data(batch)
        self.images = batch["image"][:, 0]
        self.notes = [
            "sheeprl: Distribution validate_args=False and cudnn.benchmark=True, as its CLI sets them; "
            "its float32_matmul_precision='high' (TF32 on CUDA) is not applied",
            "sheeprl: metric.log_level=0 (no metrics or timers in the update)",
            "sheeprl: policy step includes prepare_obs (numpy -> torch, /255 - 0.5), as its training loop does",
        ]

    def _data(self, batch: dict[str, np.ndarray]) -> dict[str, th.Tensor]:
        """The synthetic batch as ``sample_batches`` yields it: float tensors ``[time, batch, ...]``."""

        def seq(x: np.ndarray, trailing: bool = False) -> th.Tensor:
            t = th.as_tensor(x).float().transpose(0, 1)
            return (t[..., None] if trailing else t).to(self.fabric.device)

        return {
            KEY: seq(batch["image"]),
            "actions": seq(batch["action"]),
            "rewards": seq(batch["reward"], True),
            "terminated": seq(batch["is_terminal"], True),
            "truncated": seq(np.zeros_like(batch["reward"]), True),
            "is_first": seq(batch["is_first"], True),
        }

    def param_counts(self) -> dict[str, int]:
        return {"world_model": count(self.world_model), "actor": count(self.actor), "critic": count(self.critic)}

    def update(self, sync: Callable[[], None]) -> tuple[float | None, float | None]:
        cfg, fabric = self.cfg, self.fabric
        t0 = time.perf_counter()
        # main(): the target critic follows the critic every per_rank_target_network_update_freq gradient steps
        if self.gradient_steps % cfg.algo.critic.per_rank_target_network_update_freq == 0:
            tau = 1 if self.gradient_steps == 0 else cfg.algo.critic.tau
            for cp, tcp in zip(self.critic.module.parameters(), self.target_critic.parameters()):
                tcp.data.copy_(tau * cp.data + (1 - tau) * tcp.data)
        sync()
        t1 = time.perf_counter()
        # dreamer_v3.train(), without its metric aggregation
        posteriors, recurrent_states, _ = dv3.world_model_learning(
            fabric, cfg, self.world_model, self.world_optimizer, self.data
        )
        sync()
        t2 = time.perf_counter()
        dv3.behaviour_learning(
            fabric,
            cfg,
            self.world_model,
            self.actor,
            self.critic,
            self.target_critic,
            self.actor_optimizer,
            self.critic_optimizer,
            self.moments,
            posteriors,
            recurrent_states,
            self.data["terminated"],
            True,
            self.actions_dim,
        )
        self.actor_optimizer.zero_grad(set_to_none=True)
        self.critic_optimizer.zero_grad(set_to_none=True)
        self.world_optimizer.zero_grad(set_to_none=True)
        sync()
        t3 = time.perf_counter()
        self.gradient_steps += 1
        return t2 - t1, (t1 - t0) + (t3 - t2)

    def policy_step(self, n: int) -> Callable[[], Any]:
        obs = {KEY: self.images[np.arange(n) % len(self.images)]}
        self.player.num_envs = n
        self.player.init_states()
        fabric, player = self.fabric, self.player

        def step() -> Any:
            return player.get_actions(prepare_obs(fabric, obs, cnn_keys=[KEY], num_envs=n))

        return step


def build(setup: Setup) -> SheepRLPeer:
    """Build SheepRL's DreamerV3 at ``setup``'s sizes on ``setup.device``."""
    return SheepRLPeer(setup)
