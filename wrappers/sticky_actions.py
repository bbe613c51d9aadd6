"""Sticky actions (Machado et al., 2018, "Revisiting the Arcade Learning Environment").

At every env step ("frame") the previously executed action is executed again instead of the agent's new one with
probability ``p`` (0.25 in the paper and in DreamerV3's Atari setup). Put the wrapper *below* the frame skip /
action repeat so that the coin is tossed per frame, as in the paper:
``ActionRepeat(StickyActions(env, 0.25), 4)``.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium.wrappers import StickyAction

__all__ = ["STICKY_KEY", "StickyActions"]

#: ``info`` key telling whether the previous action was executed instead of the new one on the last step.
STICKY_KEY = "sticky_action"


class StickyActions(StickyAction):
    """With probability ``repeat_action_probability`` execute the previous action instead of the new one.

    This is gymnasium's :class:`~gymnasium.wrappers.StickyAction` (one coin toss per ``step`` of this wrapper, drawn
    from the wrapped env's seeded ``np_random``, so ``reset(seed=...)`` makes runs reproducible; any action space,
    ``Discrete`` and ``Box`` included) with what Dreamer's setup adds:

    * the paper's default probability 0.25;
    * ``info["sticky_action"]``: whether the executed action was the previous one.

    The first step after ``reset`` always executes the agent's action (there is no previous action yet). The coin is
    drawn from the wrapped env's ``np_random``, so it shares (and advances) that generator.

    :param env: the env to wrap
    :param repeat_action_probability: probability ``p`` of repeating the previous action, in ``[0, 1)``
    """

    def __init__(self, env: gym.Env, repeat_action_probability: float = 0.25) -> None:
        # first call wins: record our argument names, so that env.spec can rebuild this wrapper
        gym.utils.RecordConstructorArgs.__init__(self, repeat_action_probability=repeat_action_probability)
        super().__init__(env, repeat_action_probability=repeat_action_probability)

    @property
    def previous_action(self) -> Any:
        """The action executed on the last step (``None`` right after ``reset``)."""
        return None if self.last_action is None else self.last_action.value

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Execute ``action`` or, with probability ``p``, the previous action.

        :param action: the agent's action
        :return: the wrapped env's step result; ``info["sticky_action"]`` says whether the previous action was used
        """
        # gymnasium's ``action()`` returns either the given action or ``self.last_action``; boxing the new action
        # in a fresh object tells the two apart by identity (equal values would not).
        fresh = _Boxed(action)
        executed = self.action(fresh)
        obs, reward, terminated, truncated, info = self.env.step(executed.value)
        info = dict(info)
        info[STICKY_KEY] = executed is not fresh
        return obs, reward, terminated, truncated, info


class _Boxed:
    """A unique holder for one action (``last_action`` of :class:`StickyActions` holds these)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value
