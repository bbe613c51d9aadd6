"""Small scripted envs for the wrapper tests."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class ScriptedEnv(gym.Env):
    """Counts its steps, pays ``rewards[t]`` at step ``t``, and records every action it executes.

    Observation: the step counter (``Box(0, inf, (1,), float32)``). Renders a ``(frame_h, frame_w, 3)`` frame whose
    left half is ``10 * t`` and right half ``255 - 10 * t`` (mod 256), so resizing can be checked.

    :param rewards: reward of each step (``rewards[t]`` for the step that makes the counter ``t + 1``), 1.0 past the end
    :param terminate_at: counter value at which ``terminated`` is returned
    :param truncate_at: counter value at which ``truncated`` is returned
    :param action_space: the action space (``Discrete(4)`` by default)
    :param render_mode: ``"rgb_array"`` or ``None``
    :param frame_shape: ``(H, W)`` of the rendered frame
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}

    def __init__(
        self,
        rewards: list[float] | None = None,
        terminate_at: int | None = None,
        truncate_at: int | None = None,
        action_space: spaces.Space | None = None,
        render_mode: str | None = "rgb_array",
        frame_shape: tuple[int, int] = (96, 128),
    ) -> None:
        self.rewards = list(rewards or [])
        self.terminate_at = terminate_at
        self.truncate_at = truncate_at
        self.action_space = action_space if action_space is not None else spaces.Discrete(4)
        self.observation_space = spaces.Box(0.0, np.inf, (1,), np.float32)
        self.render_mode = render_mode
        self.frame_shape = frame_shape
        self.t = 0
        self.executed: list[Any] = []

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        self.executed = []
        return np.array([0.0], np.float32), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.executed.append(np.array(action).copy() if isinstance(action, np.ndarray) else action)
        reward = self.rewards[self.t] if self.t < len(self.rewards) else 1.0
        self.t += 1
        terminated = self.terminate_at is not None and self.t >= self.terminate_at
        truncated = self.truncate_at is not None and self.t >= self.truncate_at
        return np.array([self.t], np.float32), float(reward), terminated, truncated, {"t": self.t}

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        h, w = self.frame_shape
        frame = np.empty((h, w, 3), np.uint8)
        frame[:, : w // 2] = (10 * self.t) % 256
        frame[:, w // 2 :] = (255 - 10 * self.t) % 256
        return frame
