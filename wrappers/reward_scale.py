"""A fixed reward scale, for agents whose heads assume rewards of order one (PlaNet, DreamerV1, DreamerV2).

DreamerV3 makes its reward and value heads scale-free (symlog two-hot, return normalisation); the earlier
papers regress rewards and values with a unit-variance Gaussian and were tuned on DeepMind Control, whose
rewards lie in [0, 1] per step. An env like Pendulum-v1 (rewards down to -16.3 per step, returns near -1500)
is then far off that scale. Scaling the training reward by a constant is the usual fix; the optimum is unchanged.

Wrap *outside* SB3's ``Monitor`` (rl-zoo3's ``env_wrapper`` does: ``make_vec_env`` adds the Monitor first, the
wrapper around it), so that the Monitor records the env's own rewards and the logged episode returns and
``evaluate_policy`` stay in the env's units. Every step also reports the unscaled reward in
``info["unscaled_reward"]``; ``python -m dreamer_sb3.zoo.enjoy`` prints returns from it (env units).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.wrappers import TransformReward

__all__ = ["UNSCALED_REWARD_KEY", "ScaleReward"]

#: ``info`` key holding the reward before scaling.
UNSCALED_REWARD_KEY = "unscaled_reward"


class ScaleReward(TransformReward):
    """Multiply every reward by a constant ``scale``; ``info["unscaled_reward"]`` keeps the reward before scaling.

    :param env: the env to wrap
    :param scale: the factor (non-zero and finite; e.g. ``0.1`` for Pendulum-v1)
    """

    def __init__(self, env: gym.Env, scale: float) -> None:
        scale = float(scale)
        if not (scale == scale and abs(scale) not in (0.0, float("inf"))):
            raise ValueError(f"ScaleReward needs a non-zero finite scale, got {scale}")
        gym.utils.RecordConstructorArgs.__init__(self, scale=scale)  # first call wins: our argument names
        super().__init__(env, lambda r: scale * float(r))
        self.scale = scale

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env and scale its reward.

        :param action: the action
        :return: observation, scaled reward, terminated, truncated, info with ``"unscaled_reward"``
        """
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info.setdefault(UNSCALED_REWARD_KEY, float(reward))  # nested scales: the innermost (env) reward
        return obs, self.func(reward), terminated, truncated, info
