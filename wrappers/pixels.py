"""Pixel observations rendered from any Gymnasium env, in the layout Dreamer agents expect.

The rendering, resizing and grayscale conversion are gymnasium's own wrappers
(:class:`~gymnasium.wrappers.AddRenderObservation`, :class:`~gymnasium.wrappers.ResizeObservation` with OpenCV
area interpolation, :class:`~gymnasium.wrappers.GrayscaleObservation`). What gymnasium lacks, and this module adds:

* one wrapper that chains them with Dreamer's defaults (64x64, uint8, channel-last, channel axis kept for grayscale);
* keeping the original observation beside the *processed* image as ``{"image": ..., "state": ...}``
  (gymnasium's resize and grayscale wrappers only accept a plain ``Box`` observation);
* a clear error, saying how to create the env, when the env cannot render ``rgb_array`` frames;
* quiet headless rendering: on a machine without a display (no ``DISPLAY`` / ``WAYLAND_DISPLAY``) and with
  ``SDL_VIDEODRIVER`` unset, building the wrapper sets ``SDL_VIDEODRIVER=dummy``, so pygame (classic control's
  renderer) draws off-screen without printing ``error: XDG_RUNTIME_DIR is invalid or not set`` for every env. A
  value the user set is never changed, and nothing is set at import time.
"""

from __future__ import annotations

import copy
import os
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.envs.registration import EnvSpec, WrapperSpec
from gymnasium.wrappers import AddRenderObservation, GrayscaleObservation, ResizeObservation

__all__ = ["PixelObservation", "make_pixel_env", "quiet_headless_sdl"]


class _RememberObservation(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Passes everything through and remembers the last observation of the wrapped env.

    :class:`PixelObservation` puts it below gymnasium's pixel wrappers (which replace the observation by the image),
    so that the original observation can be returned next to the processed image.

    :param env: the env whose observations are remembered
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.last_observation: Any = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.last_observation = obs
        return obs, info

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.last_observation = obs
        return obs, reward, terminated, truncated, info


def quiet_headless_sdl() -> bool:
    """Choose SDL's off-screen ("dummy") video driver when there is no display and the user chose no driver.

    pygame, which renders gymnasium's classic-control envs, otherwise probes X11 / Wayland and prints an
    ``XDG_RUNTIME_DIR`` error on every headless machine. Called when a :class:`PixelObservation` is built.

    :return: whether ``SDL_VIDEODRIVER`` was set
    """
    if "SDL_VIDEODRIVER" in os.environ or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    os.environ["SDL_VIDEODRIVER"] = "dummy"
    return True


def _rgb_array_error(env: gym.Env) -> ValueError:
    spec = env.spec
    how = f"gym.make({spec.id!r}, render_mode='rgb_array')" if spec is not None else "YourEnv(render_mode='rgb_array')"
    return ValueError(
        f"PixelObservation renders observations with env.render(), so the env must be created with "
        f"render_mode='rgb_array' (got render_mode={env.render_mode!r}). Create it as {how}."
    )


class PixelObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Replace (or complement) the observation by the env's rendered frame, resized to ``size``.

    The frame comes from ``env.render()`` with ``render_mode="rgb_array"``; it is resized with OpenCV's area
    interpolation (gymnasium's :class:`~gymnasium.wrappers.ResizeObservation`) and optionally converted to
    grayscale (gymnasium's :class:`~gymnasium.wrappers.GrayscaleObservation`, channel axis kept, so frames are
    always ``(H, W, C)`` uint8 with ``C`` 3 or 1).

    Observation space:

    * ``keep_state=False``: ``Box(0, 255, (H, W, C), uint8)``.
    * ``keep_state=True``: ``Dict({image_key: image, state_key: original})``. If the original observation is
      itself a ``Dict``, its entries are merged beside the image instead (SB3 does not support nested Dicts).

    Seeding, ``reset`` and ``step`` semantics are those of the wrapped env; rewards and flags pass through.
    (gymnasium's ``AddRenderObservation`` resets the env once, unseeded, when the wrapper is built, to learn the
    frame shape: seed with ``reset(seed=...)`` for reproducible runs.)

    :param env: env created with ``render_mode="rgb_array"``
    :param size: ``(height, width)`` of the returned frames (Dreamer's default 64x64)
    :param grayscale: return ``(H, W, 1)`` luminance frames instead of RGB
    :param keep_state: keep the original observation next to the image, as a Dict
    :param image_key: key of the image in the Dict observation (``keep_state=True``)
    :param state_key: key of the original observation in the Dict observation (``keep_state=True``)
    """

    def __init__(
        self,
        env: gym.Env,
        size: tuple[int, int] = (64, 64),
        grayscale: bool = False,
        keep_state: bool = False,
        image_key: str = "image",
        state_key: str = "state",
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, size=size, grayscale=grayscale, keep_state=keep_state, image_key=image_key, state_key=state_key
        )
        if env.render_mode != "rgb_array":
            raise _rgb_array_error(env)
        quiet_headless_sdl()
        size = (int(size[0]), int(size[1]))
        if min(size) <= 0:
            raise ValueError(f"size must be two positive integers (height, width), got {size}")
        original_space = env.observation_space
        if keep_state and isinstance(original_space, spaces.Dict) and image_key in original_space.spaces:
            raise ValueError(f"image_key {image_key!r} already exists in the observation space {original_space}")

        memory = _RememberObservation(env) if keep_state else None
        pixels: gym.Env = AddRenderObservation(memory if memory is not None else env, render_only=True)
        frame_space = pixels.observation_space
        assert isinstance(frame_space, spaces.Box)
        if len(frame_space.shape) != 3 or frame_space.shape[-1] not in (1, 3):
            raise ValueError(f"env.render() must return (H, W, 3) RGB frames, got shape {frame_space.shape}")
        if frame_space.shape[:2] != size:
            pixels = ResizeObservation(pixels, size)
        if grayscale and frame_space.shape[-1] == 3:
            pixels = GrayscaleObservation(pixels, keep_dim=True)

        super().__init__(pixels)
        self._base_env = env
        self._memory = memory
        # Frames come from render(), so "rgb_array" is the only render mode this wrapper supports.
        self.metadata = {**env.metadata, "render_modes": ["rgb_array"]}
        self.size = size
        self.grayscale = grayscale
        self.keep_state = keep_state
        self.image_key = image_key
        self.state_key = state_key
        image_space = pixels.observation_space
        if not keep_state:
            self.observation_space = image_space
        elif isinstance(original_space, spaces.Dict):
            self.observation_space = spaces.Dict({image_key: image_space, **original_space.spaces})
        else:
            self.observation_space = spaces.Dict({image_key: image_space, state_key: original_space})

    @property
    def spec(self) -> EnvSpec | None:
        """The wrapped env's spec plus this wrapper (the gymnasium wrappers used inside are not listed, so that
        ``env.spec.make()`` / ``gym.make(env.spec)`` rebuild exactly this env)."""
        if self._cached_spec is not None:
            return self._cached_spec
        base = self._base_env.spec
        if base is None:
            return None
        spec = copy.deepcopy(base)
        kwargs = {k: v for k, v in self._saved_kwargs.items() if k != "env"}
        spec.additional_wrappers += (
            WrapperSpec(name=self.class_name(), entry_point=f"{self.__module__}:{type(self).__name__}", kwargs=kwargs),
        )
        self._cached_spec = spec
        return spec

    def observation(self, observation: np.ndarray) -> np.ndarray | dict[str, Any]:
        """Return the processed frame, or the frame beside the original observation.

        :param observation: processed frame from gymnasium's pixel wrappers
        :return: the observation in this wrapper's observation space
        """
        if self._memory is None:
            return observation
        original = self._memory.last_observation
        if isinstance(original, dict):
            return {self.image_key: observation, **original}
        return {self.image_key: observation, self.state_key: original}


def make_pixel_env(
    env_id: str,
    size: tuple[int, int] = (64, 64),
    grayscale: bool = False,
    keep_state: bool = False,
    max_episode_steps: int | None = None,
    render_mode: str = "rgb_array",
    **kwargs: Any,
) -> gym.Env:
    """Create a registered gymnasium env with pixel observations (e.g. classic control from pixels).

    ``gym.make(env_id, render_mode="rgb_array", **kwargs)`` wrapped in :class:`PixelObservation`. The env's own
    time limit (from its registration) is kept; ``max_episode_steps`` overrides it.

    :param env_id: a gymnasium id, e.g. ``"CartPole-v1"``
    :param size: ``(height, width)`` of the frames
    :param grayscale: ``(H, W, 1)`` frames instead of RGB
    :param keep_state: also return the original observation (Dict observation)
    :param max_episode_steps: override the registered episode limit (agent steps)
    :param render_mode: must be ``"rgb_array"`` (accepted so that ``gym.make(..., render_mode="rgb_array")`` works)
    :param kwargs: forwarded to ``gym.make``
    :return: the wrapped env
    """
    if render_mode != "rgb_array":
        raise ValueError(f"pixel envs render their observations, render_mode must be 'rgb_array', got {render_mode!r}")
    env = gym.make(env_id, render_mode="rgb_array", max_episode_steps=max_episode_steps, **kwargs)
    return PixelObservation(env, size=size, grayscale=grayscale, keep_state=keep_state)
