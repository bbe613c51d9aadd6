"""TorchRL's DreamerV3 (``torchrl`` 0.14), built and updated by its own recipe's code.

TorchRL ships its DreamerV3 training script as ``sota-implementations/dreamer_v3`` next to the
package. This adapter imports that script (``train.py``) and calls, as the script does:

- ``train._build_learner``: world model (``DreamerV3ImageEncoder``, ``RSSMRolloutV3`` over
  ``RSSMPriorV3`` with the block GRU and ``RSSMPosteriorV3``, ``DreamerV3ImageDecoder``, two-hot
  ``SymExpTwoHot`` reward and continuation heads), actor, two-hot critic, the imagination
  environment, ``DreamerV3ModelLoss`` / ``DreamerV3ActorLoss`` / ``DreamerV3ValueLoss``, the slow
  critic's ``SoftUpdate`` and ``DreamerV3Optimizer`` (AGC + LaProp) over all of them, and the
  acting policy (``build_real_world_actor``: encoder, ``RSSMStateEstimatorV3``, actor);
- ``train._make_learner_update``: ``DreamerV3Loss`` in a ``DreamerV3OptimizationStepper``.

One update is ``stepper.step(None, sample)``, which the script times as ``dreamer_v3/train_update``:
the summed world-model, actor, critic and replay-value losses, one backward, one optimizer step
and the slow-critic update. World model and behaviour share that backward, so they are not timed
apart. The script's hydra config file is not installed, so the config is written here (its keys
are the ones the script reads) with our sizes; compilation is off (``optimization.compile=off``):
ours runs eagerly too.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import tensordict
import torch as th
import torchrl
from tensordict import TensorDict
from torchrl.data import Bounded, Composite, Unbounded
from torchrl.envs import EnvBase
from torchrl.envs.utils import ExplorationType, set_exploration_type

from . import ACTION_DIM, IMAGE_SHAPE, Setup, count, first_frames, make_synthetic_batch

# the torchrl wheel installs its recipes next to the package, in site-packages
RECIPE_DIR = os.path.join(os.path.dirname(os.path.dirname(torchrl.__file__)), "sota-implementations", "dreamer_v3")
RECIPE = os.path.join(RECIPE_DIR, "train.py")
if not os.path.isfile(RECIPE):
    raise ImportError(f"torchrl's DreamerV3 recipe is not installed (no {RECIPE})")
KERNEL = 5  # torchrl's convolutions take odd kernels only; 5 is its recipe's (ours: 4)


def _load_recipe() -> ModuleType:
    """Import the recipe's ``train.py`` (its sibling modules import each other by bare name)."""
    if RECIPE_DIR not in sys.path:
        sys.path.insert(0, RECIPE_DIR)
    spec = importlib.util.spec_from_file_location("torchrl_dreamer_v3_train", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SyntheticImageEnv(EnvBase):
    """A TorchRL environment with our ``vision`` spaces: the recipe reads specs from a real env."""

    def __init__(self) -> None:
        super().__init__(device="cpu")
        self.observation_spec = Composite(pixels=Bounded(0, 255, IMAGE_SHAPE, dtype=th.uint8))
        self.action_spec = Bounded(-1.0, 1.0, (ACTION_DIM,))
        self.reward_spec = Unbounded((1,))

    def _reset(self, tensordict: Any = None, **kwargs: Any) -> TensorDict:
        return TensorDict({"pixels": self.observation_spec["pixels"].rand()}, [])

    def _step(self, tensordict: TensorDict) -> TensorDict:
        return TensorDict(
            {
                "pixels": self.observation_spec["pixels"].rand(),
                "reward": th.zeros(1),
                "done": th.zeros(1, dtype=th.bool),
                "terminated": th.zeros(1, dtype=th.bool),
            },
            [],
        )

    def _set_seed(self, seed: int | None) -> None:
        pass


def make_synthetic_env(**kwargs: Any) -> SyntheticImageEnv:
    """``env.factory`` of the recipe's ``custom`` backend."""
    return SyntheticImageEnv()


def unsupported(precision: str, device: str) -> str | None:
    """The recipe's ``optimization.mixed_precision`` (bf16 autocast) applies on CUDA only."""
    if precision == "bf16" and th.device(device).type != "cuda":
        return "torchrl's DreamerV3 runs bf16 (optimization.mixed_precision) on CUDA only"
    return None


def make_config(setup: Setup) -> Any:
    """The recipe's config (the keys its code reads) with our sizes.

    Our structure where torchrl offers it: one hidden layer in the prior (``prior_layers=1``), a
    dense latent-to-image projection (``image_decoder_blocks=1``), CNN multipliers 1, 2, 4, 8.
    Other values are the recipe's defaults, except ``warmup_steps=0``: its learning-rate warm-up
    starts at zero, which would make the timed updates leave the weights as they are (same work).
    """
    from omegaconf import OmegaConf

    s = setup.size
    return OmegaConf.create(
        {
            "env": {
                "backend": "custom",
                "factory": f"{__name__}:make_synthetic_env",
                "factory_kwargs": {},
                "name": "synthetic",
                "task": None,
                "seed": setup.seed,
                "use_seed": False,
                "max_episode_steps": 1000,
                "vector_key": None,
                "pixels_key": "pixels",
                "milestone_key": None,
                "milestone_names": [],
            },
            "collector": {"num_envs": 1},
            "replay_buffer": {"batch_size": setup.batch_size, "seq_len": setup.batch_length},
            "networks": {
                "rnn_hidden_dim": s["deter"],
                "hidden_dim": s["units"],
                "num_categoricals": s["stoch"],
                "num_classes": s["classes"],
                "unimix": 0.01,
                "recurrent_model": "block_gru",
                "num_blocks": 8,
                "dynamics_layers": 1,
                "prior_layers": 1,
                "posterior_layers": 1,
                "norm_eps": 1e-4,
                "decoder_event_dims": None,
                "num_reward_bins": s["bins"],
                "num_value_bins": s["bins"],
                "encoder_layers": s["layers"],
                "decoder_layers": s["layers"],
                "reward_layers": s["layers"],
                "actor_layers": s["layers"],
                "value_layers": s["layers"],
                "policy_min_std": 0.1,
                "policy_max_std": 1.0,
                "image_depth": s["cnn_depth"],
                "image_mults": [1, 2, 4, 8],
                "image_kernel_size": KERNEL,
                "image_decoder_blocks": 1,
            },
            "optimization": {
                "device": setup.device,
                "compile": "off",
                "compile_train_step": None,
                "compile_rssm": None,
                "cudagraph_train_step": None,
                "compile_train_step_mode": "default",
                "rssm_scan_unroll": 8,
                "mixed_precision": setup.precision == "bf16",
                "lr": 4e-5,
                "optimizer_eps": 1e-20,
                "adaptive_grad_clip": 0.3,
                "warmup_steps": 0,
                "imagination_horizon": setup.horizon,
                "continuation_horizon": 333,
                "use_reinforce": setup.actor_grad == "reinforce",
                "return_normalization_rate": 0.01,
                "return_normalization_min_scale": 1.0,
                "slow_critic_regularization": 1.0,
                "slow_critic_tau": 0.02,
                "replay_value_loss_weight": 0.3,
                "free_bits": 1.0,
                "dynamic_loss_weight": 1.0,
                "representation_loss_weight": 0.1,
                "gamma": 1 - 1 / 333,
                "lmbda": 0.95,
                "separate_policy_rng": False,
            },
        }
    )


class TorchRLPeer:
    """TorchRL's DreamerV3 learner, its acting policy and the synthetic batch as a ``TensorDict``."""

    version = f"torchrl {torchrl.__version__}, tensordict {tensordict.__version__}"

    def __init__(self, setup: Setup) -> None:
        self.device = th.device(setup.device)
        reason = unsupported(setup.precision, setup.device)
        if reason:
            raise NotImplementedError(reason)
        recipe = _load_recipe()
        self.cfg = make_config(setup)
        s = setup.size
        self.learner = recipe._build_learner(self.cfg, self.device, 0, ACTION_DIM, IMAGE_SHAPE, False)
        self.stepper = recipe._make_learner_update(self.cfg, self.device, self.learner)
        self.sample = self._sample(setup)
        self.notes = [
            f"torchrl: conv kernel {KERNEL} (torchrl takes odd kernels only; ours is 4): encoder and decoder "
            f"convolutions have {KERNEL**2}/16 of our weights and FLOPs",
            "torchrl: block GRU with 8 blocks (its DreamerV3 core) in place of our dense LayerNorm GRU, "
            "RMSNorm in place of LayerNorm",
            f"torchrl: networks.hidden_dim={s['units']} is both the MLP width and the RSSM hidden size "
            "(no separate hidden size)",
            "torchrl: eager (optimization.compile=off); on CUDA its recipe compiles the update and captures a CUDA "
            "graph by default",
            "torchrl: the update also trains the critic on replay (replay_value_loss_weight=0.3), "
            "as torchrl's recipe does; world model and behaviour share one backward, so they are not timed apart",
        ]

    def _sample(self, setup: Setup) -> TensorDict:
        """The synthetic batch in the recipe's replay layout: ``[batch, time]``, real transitions under ``next``."""
        batch = make_synthetic_batch(setup)
        b, t = setup.batch_size, setup.batch_length
        state_dim = setup.size["stoch"] * setup.size["classes"]
        terminal = th.as_tensor(batch["is_terminal"])[..., None]
        return TensorDict(
            {
                "action": th.as_tensor(batch["action"]),
                "is_init": th.as_tensor(batch["is_first"])[..., None],
                # the replay context (the previous update's posterior) starts at zero, as in fresh replay
                "state": th.zeros(b, t, state_dim),
                "belief": th.zeros(b, t, setup.size["deter"]),
                "next": {
                    "pixels": th.as_tensor(batch["image"]),
                    "reward": th.as_tensor(batch["reward"])[..., None],
                    "done": terminal.clone(),
                    "terminated": terminal,
                },
            },
            [b, t],
        ).to(self.device)

    def param_counts(self) -> dict[str, int]:
        return {
            "world_model": count(self.learner.world_model),
            "actor": count(self.learner.actor_loss.actor_model),
            "critic": count(self.learner.value_loss.value_model),
        }

    def update(self, sync: Callable[[], None]) -> tuple[float | None, float | None]:
        self.stepper.step(None, self.sample)
        return None, None

    def policy_step(self, n: int) -> Callable[[], Any]:
        s = self.cfg.networks
        obs = TensorDict(
            {
                "pixels": first_frames(self.sample["next", "pixels"], n),
                "state": th.zeros(n, s.num_categoricals * s.num_classes),
                "belief": th.zeros(n, s.rnn_hidden_dim),
                "previous_action": th.zeros(n, ACTION_DIM),
                "is_init": th.zeros(n, 1, dtype=th.bool),
            },
            [n],
            device=self.device,
        )
        policy = self.learner.real_world_actor

        def step() -> Any:
            with set_exploration_type(ExplorationType.RANDOM):
                return policy(obs)

        return step


def build(setup: Setup) -> TorchRLPeer:
    """Build torchrl's DreamerV3 at ``setup``'s sizes on ``setup.device``."""
    return TorchRLPeer(setup)
