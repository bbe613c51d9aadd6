"""Episode limits counted in agent steps (after action repeat), ending episodes with ``truncated=True``.

gymnasium's :class:`~gymnasium.wrappers.TimeLimit` already does exactly this when it is placed *outside* the action
repeat / frame skip: it counts calls of its own ``step`` (agent steps), sets ``truncated=True`` and leaves
``terminated`` to the env, so it is re-exported here rather than rewritten. What it lacks is the conversion from a
paper's limit in env frames to agent steps, which the presets use: :func:`frames_to_agent_steps`.
"""

from __future__ import annotations

import math

import gymnasium as gym
from gymnasium.wrappers import TimeLimit

__all__ = ["TimeLimit", "frames_to_agent_steps", "limit_agent_steps"]


def frames_to_agent_steps(frames: int, repeat: int) -> int:
    """Number of agent steps that covers ``frames`` env frames when every action is repeated ``repeat`` times.

    E.g. Atari's 108,000-frame limit with frame skip 4 is 27,000 agent steps; DMC's 1000 steps with repeat 2 are 500.

    :param frames: episode limit in env frames (``>= 1``)
    :param repeat: action repeat / frame skip (``>= 1``)
    :return: ``ceil(frames / repeat)``
    """
    if frames < 1 or repeat < 1:
        raise ValueError(f"frames and repeat must be >= 1, got frames={frames}, repeat={repeat}")
    return math.ceil(frames / repeat)


def limit_agent_steps(env: gym.Env, max_episode_steps: int | None) -> gym.Env:
    """Wrap ``env`` in :class:`~gymnasium.wrappers.TimeLimit` unless ``max_episode_steps`` is ``None``.

    :param env: the env (already action-repeated, so that its steps are agent steps)
    :param max_episode_steps: the limit in agent steps, or ``None`` for no extra limit
    :return: the env, limited if asked
    """
    if max_episode_steps is None:
        return env
    if max_episode_steps < 1:
        raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
    # looked up at call time: rl-zoo3 replaces gym.wrappers.TimeLimit with its own subclass when it is imported, and
    # an env built after that should carry the class everyone else then sees
    return gym.wrappers.TimeLimit(env, max_episode_steps=int(max_episode_steps))
