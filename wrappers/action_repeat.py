"""Action repeat ("frame skip") for Dreamer's control settings (e.g. repeat 2 on DeepMind Control)."""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.wrappers import RepeatAction

__all__ = ["FRAMES_KEY", "ActionRepeat"]

#: ``info`` key holding how many env steps ("frames") the last agent step ran.
FRAMES_KEY = "action_repeat_frames"


class ActionRepeat(RepeatAction):
    """Repeat each action ``repeat`` times, summing the rewards, and stop early at the end of an episode.

    gymnasium's :class:`~gymnasium.wrappers.RepeatAction` semantics (the last observation is returned, the rewards
    of the repeated steps are summed, the loop stops as soon as the env reports ``terminated`` or ``truncated``),
    plus what it lacks: ``info["action_repeat_frames"]`` tells how many env steps were run (``repeat``, or fewer when
    the episode ended early), so that env frames can be counted exactly. ``info`` is the last inner step's info.

    A time limit placed *outside* this wrapper (``gymnasium.wrappers.TimeLimit``) counts agent steps.

    :param env: the env to wrap
    :param repeat: how many env steps each action is repeated for (``>= 1``)
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, repeat=repeat)  # first call wins: our argument names
        super().__init__(env, num_repeats=repeat)
        self.repeat = int(repeat)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Run ``action`` up to ``repeat`` times.

        :param action: the action to repeat
        :return: last observation, summed reward, terminated, truncated, last info with the frame count
        """
        total_reward = 0.0
        frames = 0
        for _ in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(action)
            frames += 1
            total_reward += float(reward)
            if terminated or truncated:
                break
        info = dict(info)
        info[FRAMES_KEY] = frames
        return obs, total_reward, terminated, truncated, info
