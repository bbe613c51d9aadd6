"""Crafter (Hafner, 2021, "Benchmarking the Spectrum of Agent Capabilities") as a gymnasium env.

======================  ==============================================================================
setting                 value (``make_crafter`` default, as in the paper and DreamerV3's ``crafter`` config)
======================  ==============================================================================
observation             64x64 RGB local view with the inventory, ``Box(0, 255, (64, 64, 3), uint8)``
actions                 ``Discrete(17)`` (``CrafterEnv.action_names``)
reward                  +1 the first time each of the 22 achievements is unlocked in an episode,
                        plus (health change) / 10
episode                 ends when the player dies (``terminated``) or after 10,000 steps (``truncated``)
info                    ``achievements`` (counts of the 22 achievements), ``inventory``, ``discount``,
                        ``player_pos``, ``semantic``
======================  ==============================================================================

crafter is imported only when an env is created (``pip install crafter``, extra ``crafter``). It keeps the old gym
API and works without gym installed; this module adapts it to gymnasium (reset/step signatures, spaces, seeding).
"""

from __future__ import annotations

import secrets
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["CRAFTER_ACHIEVEMENTS", "CrafterEnv", "make_crafter"]

#: The 22 achievements of Crafter, in the order of ``crafter.constants.achievements``.
CRAFTER_ACHIEVEMENTS: tuple[str, ...] = (
    "collect_coal", "collect_diamond", "collect_drink", "collect_iron", "collect_sapling", "collect_stone",
    "collect_wood", "defeat_skeleton", "defeat_zombie", "eat_cow", "eat_plant", "make_iron_pickaxe",
    "make_iron_sword", "make_stone_pickaxe", "make_stone_sword", "make_wood_pickaxe", "make_wood_sword",
    "place_furnace", "place_plant", "place_stone", "place_table", "wake_up",
)  # fmt: skip


class CrafterEnv(gym.Env):
    """gymnasium adapter of ``crafter.Env``.

    Seeding: crafter generates the world of episode ``k`` from ``hash((seed, k))``; ``reset(seed=s)`` restarts that
    sequence from seed ``s`` (so the same seed gives the same world), ``reset()`` continues it.

    :param size: ``(height, width)`` of the observation (crafter renders at this size; square recommended)
    :param area: world size in cells
    :param view: local view in cells (9x9 in the paper)
    :param length: episode limit in steps (10,000 in the paper; ``None`` for none)
    :param reward: give crafter's reward (``False``: always 0, for reward-free settings)
    :param seed: initial world seed (``None``: random)
    :param render_mode: ``"rgb_array"`` (``render()`` returns the current frame)
    :param render_size: size of ``render()`` frames (``None``: ``size``), e.g. ``(256, 256)`` for videos
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        size: tuple[int, int] = (64, 64),
        area: tuple[int, int] = (64, 64),
        view: tuple[int, int] = (9, 9),
        length: int | None = 10_000,
        reward: bool = True,
        seed: int | None = None,
        render_mode: str | None = "rgb_array",
        render_size: tuple[int, int] | None = None,
    ) -> None:
        try:
            import crafter
        except ImportError as e:  # pragma: no cover - exercised only without the extra
            raise ImportError("CrafterEnv needs crafter: pip install 'dreamer-sb3[crafter]' or pip install crafter") from e
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"CrafterEnv supports render_mode 'rgb_array' or None, got {render_mode!r}")
        if seed is None:
            seed = secrets.randbits(31)
        self._env = crafter.Env(area=area, view=view, size=size, reward=reward, length=length, seed=int(seed))
        self._seed = int(seed)
        self.render_mode = render_mode
        self._render_size = render_size
        self.action_names: tuple[str, ...] = tuple(self._env.action_names)
        self.observation_space = spaces.Box(0, 255, (int(size[0]), int(size[1]), 3), np.uint8)
        self.action_space = spaces.Discrete(len(self.action_names))
        self._started = False

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode (a new world).

        :param seed: restart the world-seed sequence from this seed
        :param options: unused
        :return: first observation and ``info`` (zero achievement counts)
        """
        super().reset(seed=seed)
        if seed is not None:
            self._seed = int(seed) % (2**31 - 1)
            self._env._seed = self._seed
            self._env._episode = 0
        obs = self._env.reset()
        self._started = True
        info = {"achievements": dict.fromkeys(CRAFTER_ACHIEVEMENTS, 0), "discount": 1.0}
        return np.asarray(obs, dtype=np.uint8), info

    def step(self, action: int) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        """Take one action.

        :param action: index into :attr:`action_names`
        :return: observation, reward, terminated (player died), truncated (length reached), info
        """
        if not self._started:
            raise gym.error.ResetNeeded("Call reset() before step().")
        obs, reward, done, info = self._env.step(int(action))
        info = dict(info)
        info["player_pos"] = np.array(info["player_pos"])  # crafter returns its live position array
        terminated = bool(info["discount"] == 0.0)
        truncated = bool(done and not terminated)
        return np.asarray(obs, dtype=np.uint8), float(reward), terminated, truncated, info

    def render(self) -> np.ndarray | None:
        """Render the current view (``render_mode="rgb_array"``).

        :return: ``(H, W, 3)`` uint8 frame, or ``None`` without a render mode
        """
        if self.render_mode is None:
            return None
        size = tuple(self._render_size or self.observation_space.shape[:2])
        if not self._started:
            return np.zeros((*size, 3), dtype=np.uint8)
        return np.asarray(self._env.render(size), dtype=np.uint8)


def make_crafter(
    size: tuple[int, int] = (64, 64),
    length: int | None = 10_000,
    reward: bool = True,
    seed: int | None = None,
    render_mode: str | None = "rgb_array",
    render_size: tuple[int, int] | None = None,
) -> gym.Env:
    """Create Crafter with the paper's settings (module docstring table).

    :param size: observation size
    :param length: episode limit in steps
    :param reward: give crafter's achievement + health reward
    :param seed: initial world seed
    :param render_mode: ``"rgb_array"`` or ``None``
    :param render_size: size of ``render()`` frames (``None``: ``size``)
    :return: the env
    """
    return CrafterEnv(size=size, length=length, reward=reward, seed=seed, render_mode=render_mode, render_size=render_size)
