"""A fixed reward scale, for agents whose heads assume rewards of order one (PlaNet, DreamerV1, DreamerV2).

DreamerV3 makes its reward and value heads scale-free (symlog two-hot, return normalisation); the earlier
papers regress rewards and values with a unit-variance Gaussian and were tuned on DeepMind Control, whose
rewards lie in [0, 1] per step. An env like Pendulum-v1 (rewards down to -16.3 per step, returns near -1500)
is then far off that scale. Scaling the training reward by a constant is the usual fix; the optimum is unchanged.

Wrap *inside* SB3's ``Monitor`` (rl-zoo3's ``env_wrapper`` does: ``make_vec_env`` adds the Monitor first), so
that the logged episode returns and ``evaluate_policy`` stay in the env's own units.
"""

from __future__ import annotations

import gymnasium as gym
from gymnasium.wrappers import TransformReward

__all__ = ["ScaleReward"]


class ScaleReward(TransformReward):
    """Multiply every reward by a constant ``scale``.

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
