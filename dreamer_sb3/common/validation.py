"""Checks at construction: arguments, spaces and policy arguments, each failing with the problem and the fix.

Everything here runs in ``DreamerAlgorithm.__init__`` (spaces before SB3 wraps the env, so an
unsupported space never dies inside SB3's VecEnv wrapper with a cryptic message), so a bad
argument fails at once instead of at the first update, or silently never training.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space

#: SB3 policy arguments that DreamerPolicy does not take, and what to use instead
SB3_POLICY_KWARGS: dict[str, str] = {
    "net_arch": "units (width) and layers (depth) of every MLP, e.g. net_arch=[256, 256] -> units=256, layers=2; "
    "or a model_size preset",
    "activation_fn": "act='silu' | 'elu' | 'relu' | 'tanh' (a name, not a torch.nn class)",
    "features_extractor_class": "the encoders are built from the observation space: cnn_depth (CNN width) for images, "
    "units / layers for vectors",
    "features_extractor_kwargs": "cnn_depth, units, layers",
    "share_features_extractor": "nothing: the world model's encoder is the only feature extractor",
    "normalize_images": "nothing: uint8 images are always scaled to [-0.5, 0.5]",
    "optimizer_class": "DreamerV3's optimizer='adam' | 'laprop' (an algorithm argument); epsilons: model_eps, ac_eps",
    "optimizer_kwargs": "model_eps / ac_eps, and the algorithm's learning_rate, actor_lr, critic_lr",
    "log_std_init": "actor_min_std / actor_max_std",
    "squash_output": "actor_dist='tanh_normal' | 'bounded_normal'",
    "ortho_init": "weight_init='xavier_uniform' (default) | 'trunc_normal_in' (current DreamerV3 code)",
    "use_sde": "nothing (no state-dependent exploration); exploration_noise for PlaNet / DreamerV1",
    "n_critics": "nothing: one critic (plus the slow critic: slow_critic=True)",
    "lstm_hidden_size": "deter (the RSSM's recurrent state size)",
}

#: what the agents act in, for the error message
SUPPORTED_ACTIONS = "Box (1-D, bounded), Discrete and MultiDiscrete (1-D)"
SUPPORTED_OBS = (
    "Box (uint8 images (C, H, W) or (H, W, C), or vectors), Discrete, MultiDiscrete (1-D), MultiBinary (1-D), "
    "and a Dict of those (MultiInputPolicy)"
)
_LEAF_OBS = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def check_observation_space(space: spaces.Space) -> None:
    """Refuse observation spaces no Dreamer encoder can take (``Text``, ``Sequence``, ``Graph``, ``Tuple``, nested
    ``Dict``, ...), before SB3's VecEnv wrapper fails on them."""
    items = list(space.spaces.items()) if isinstance(space, spaces.Dict) else [(None, space)]
    for key, sub in items:
        if not isinstance(sub, _LEAF_OBS):
            where = f" (key {key!r} of the Dict)" if key is not None else ""
            raise ValueError(
                f"Unsupported observation space {sub!r}{where}: Dreamer agents support {SUPPORTED_OBS}. Wrap the env to "
                "turn it into one of those (e.g. encode text as token ids in a Box, pad a Sequence to a fixed-size Box, "
                "flatten a Tuple into a Dict)."
            )


def check_action_space(space: spaces.Space) -> None:
    """Refuse action spaces the action codec cannot represent, with a ``ValueError`` (not SB3's bare ``AssertionError``)."""
    from dreamer_sb3.common.actions import ActionCodec  # the codec is the one place that knows

    if not isinstance(space, spaces.Box | spaces.Discrete | spaces.MultiDiscrete):
        hint = ""
        if isinstance(space, spaces.MultiBinary):
            hint = " A MultiBinary(n) action is a MultiDiscrete([2] * n): wrap the env to convert it."
        raise ValueError(f"Unsupported action space {space!r}: Dreamer agents support {SUPPORTED_ACTIONS} actions.{hint}")
    ActionCodec(space)  # shape / bounds checks with their own messages


def check_cnn_policy(space: spaces.Space) -> None:
    """``CnnPolicy`` needs one uint8 image ``(C, H, W)`` or ``(H, W, C)`` in ``[0, 255]``; say how to get one."""
    if isinstance(space, spaces.Dict):
        raise ValueError("CnnPolicy takes a single image observation; for a Dict observation use MultiInputPolicy")
    if is_image_space(space, check_channels=False) and len(space.shape or ()) == 3:
        return
    shape = tuple(space.shape or ())
    if not isinstance(space, spaces.Box):
        fix = "use MlpPolicy"
    elif len(shape) == 2:
        fix = (
            f"this looks like a grayscale image without a channel axis: add one, e.g. "
            f"gymnasium.wrappers.ReshapeObservation(env, {(*shape, 1)}) (or GrayscaleObservation(env, keep_dim=True)); "
            "or use MlpPolicy"
        )
    elif len(shape) == 4:
        fix = (
            "a 4-D observation is a clip or a frame stack: merge the frames into the channel axis "
            f"(e.g. reshape {shape} to {(*shape[1:3], shape[0] * shape[3])}), or use MlpPolicy"
        )
    elif len(shape) == 3 and space.dtype != np.uint8:
        fix = (
            f"images must be uint8 in [0, 255], this one is {space.dtype}: scale and cast it "
            "(e.g. a gymnasium.wrappers.TransformObservation doing (obs * 255).astype(np.uint8) with a uint8 Box space)"
        )
    elif len(shape) == 3:
        fix = "uint8 images must declare low=0 and high=255 in their Box space"
    else:
        fix = "use MlpPolicy for vector observations"
    raise ValueError(
        f"CnnPolicy needs an image observation (a uint8 Box of shape (C, H, W) or (H, W, C) with bounds 0..255), got "
        f"{space!r}: {fix}. Without this check it would silently become an MLP over the raw values."
    )


def check_policy_kwargs(policy_kwargs: Mapping[str, Any], policy_class: type) -> None:
    """Refuse policy arguments the policy class does not take, with the valid names and SB3 equivalents."""
    valid: set[str] = set()
    for cls in policy_class.__mro__:
        init = cls.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters
        valid |= {n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break  # this __init__ does not pass unknown keywords further up
    valid -= {"self", "observation_space", "action_space", "lr_schedule"}
    unknown = [k for k in policy_kwargs if k not in valid]
    if not unknown:
        return
    hints = [f"  {k} -> {SB3_POLICY_KWARGS[k]}" for k in unknown if k in SB3_POLICY_KWARGS]
    raise TypeError(
        f"{policy_class.__name__} got unknown policy_kwargs {unknown}. Valid keys: {sorted(valid)}."
        + ("\nSB3 names and their Dreamer equivalents:\n" + "\n".join(hints) if hints else "")
    )


def check_settings(
    *, train_ratio: float, batch_size: int, batch_length: int, buffer_size: int, learning_starts: int, n_envs: int | None
) -> None:
    """Replay and schedule settings that would fail late or silently never train."""
    if not (isinstance(train_ratio, int | float) and math.isfinite(train_ratio) and train_ratio > 0):
        raise ValueError(
            f"train_ratio must be a positive number (replayed steps per env step), got {train_ratio!r}: with 0 or less the "
            "agent never trains. DreamerV3 uses 512 (e.g. 32 for cheap tests)."
        )
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1 (sequences per batch), got {batch_size}")
    if learning_starts < 0:
        raise ValueError(f"learning_starts must be 0 or more (random-action env steps before training), got {learning_starts}")
    if n_envs is not None:
        if buffer_size < n_envs:
            raise ValueError(f"buffer_size ({buffer_size}) must be at least the number of envs ({n_envs})")
        per_env = math.ceil(buffer_size / n_envs)
        if per_env < batch_length:
            raise ValueError(
                f"buffer_size ({buffer_size}) keeps {per_env} steps per env with {n_envs} env(s), fewer than batch_length "
                f"({batch_length}): no sequence could ever be sampled and the agent would never train. Use buffer_size >= "
                f"batch_length * n_envs = {batch_length * n_envs}, or a shorter batch_length."
            )
    elif buffer_size < batch_length:
        raise ValueError(
            f"buffer_size ({buffer_size}) is smaller than batch_length ({batch_length}): no sequence could ever be sampled. "
            "Increase buffer_size or decrease batch_length."
        )


def check_behavior_settings(*, imag_horizon: int, discount: float) -> None:
    """Settings of the actor-critic update that would fail at the first update or mean nothing."""
    if imag_horizon < 1:
        raise ValueError(f"imag_horizon must be at least 1 (imagined steps per rollout), got {imag_horizon}; Dreamer uses 15")
    if not (0.0 < discount <= 1.0):
        raise ValueError(f"discount must be in (0, 1], got {discount}; e.g. 0.99, or DreamerV3's 1 - 1/333")
