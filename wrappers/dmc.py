"""DeepMind Control Suite from pixels, as in DreamerV3 (and Dreamer V1/V2 / PlaNet before it).

======================  ==============================================================================
setting                 value (``make_dmc`` default)
======================  ==============================================================================
observation             64x64 RGB frame rendered by MuJoCo at that size (no resizing)
camera                  0; quadruped uses camera 2 (DreamerV3's ``DEFAULT_CAMERAS``)
action repeat           2
episode                 1000 env steps (the suite's own limit) = 500 agent steps, ``truncated=True``
actions                 ``Box(-1, 1, float32)`` (rescaled to the task's bounds; the suite's are [-1, 1])
proprioception          off (``proprio=True`` adds the flattened state as ``obs["state"]``)
======================  ==============================================================================

The env comes from dm_control through shimmy's ``DmControlCompatibilityV0``. Rendering is headless: if the user
has not set ``MUJOCO_GL``, :func:`make_dmc` sets it to ``egl`` *before* importing dm_control (never at import time
of this module). MuJoCo must be ``<4`` (dm_control's pin).
"""

from __future__ import annotations

import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import FlattenObservation, TransformObservation

from .action_repeat import ActionRepeat
from .pixels import PixelObservation
from .time_limit import limit_agent_steps

__all__ = ["DMC_CAMERAS", "DMC_TASKS", "NormalizeAction", "make_dmc", "parse_dmc_task"]

#: Every task of ``dm_control.suite.ALL_TASKS`` (dm_control 1.0.x), as (domain, task); registration uses this list.
DMC_TASKS: tuple[tuple[str, str], ...] = (
    ("acrobot", "swingup"), ("acrobot", "swingup_sparse"), ("ball_in_cup", "catch"), ("cartpole", "balance"),
    ("cartpole", "balance_sparse"), ("cartpole", "swingup"), ("cartpole", "swingup_sparse"),
    ("cartpole", "two_poles"), ("cartpole", "three_poles"), ("cheetah", "run"), ("dog", "stand"), ("dog", "walk"),
    ("dog", "trot"), ("dog", "run"), ("dog", "fetch"), ("finger", "spin"), ("finger", "turn_easy"),
    ("finger", "turn_hard"), ("fish", "upright"), ("fish", "swim"), ("hopper", "stand"), ("hopper", "hop"),
    ("humanoid", "stand"), ("humanoid", "walk"), ("humanoid", "run"), ("humanoid", "run_pure_state"),
    ("humanoid_CMU", "stand"), ("humanoid_CMU", "walk"), ("humanoid_CMU", "run"), ("lqr", "lqr_2_1"),
    ("lqr", "lqr_6_2"), ("manipulator", "bring_ball"), ("manipulator", "bring_peg"), ("manipulator", "insert_ball"),
    ("manipulator", "insert_peg"), ("pendulum", "swingup"), ("point_mass", "easy"), ("point_mass", "hard"),
    ("quadruped", "walk"), ("quadruped", "run"), ("quadruped", "escape"), ("quadruped", "fetch"),
    ("reacher", "easy"), ("reacher", "hard"), ("stacker", "stack_2"), ("stacker", "stack_4"),
    ("swimmer", "swimmer6"), ("swimmer", "swimmer15"), ("walker", "stand"), ("walker", "walk"), ("walker", "run"),
)  # fmt: skip

#: Default camera per domain (DreamerV3); every other domain uses camera 0.
DMC_CAMERAS: dict[str, int] = {"quadruped": 2}

#: Short domain names used by Dreamer's task strings ("cup_catch").
_DOMAIN_ALIASES = {"cup": "ball_in_cup"}


def parse_dmc_task(name: str) -> tuple[str, str]:
    """Split a task string into dm_control's (domain, task).

    Accepts ``"walker-walk"``, Dreamer's ``"walker_walk"``, ``"cup-catch"`` / ``"cup_catch"`` (ball_in_cup) and
    ``"point_mass-easy"`` / ``"point_mass_easy"``.

    :param name: the task string
    :return: ``(domain, task)`` as dm_control names them
    """
    domains = sorted({d for d, _ in DMC_TASKS} | set(_DOMAIN_ALIASES), key=len, reverse=True)
    for domain in domains:
        for sep in ("-", "_"):
            if name.startswith(domain + sep):
                task = name[len(domain) + 1 :]
                return _DOMAIN_ALIASES.get(domain, domain), task
    raise ValueError(f"Cannot parse DMC task {name!r}; expected '<domain>-<task>', e.g. 'walker-walk'")


class NormalizeAction(gym.ActionWrapper, gym.utils.RecordConstructorArgs):
    """Expose a bounded ``Box`` action space as ``Box(-1, 1, float32)`` and map actions linearly onto the bounds.

    gymnasium's :class:`~gymnasium.wrappers.RescaleAction` keeps the env's dtype (float64 for dm_control); Dreamer
    policies and SB3 emit float32, so this wrapper also fixes the dtype. Actions are clipped to [-1, 1] first.

    :param env: env with a bounded ``Box`` action space
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ActionWrapper.__init__(self, env)
        space = env.action_space
        if not isinstance(space, spaces.Box) or not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(f"NormalizeAction needs a bounded Box action space, got {space}")
        self._low = space.low.astype(np.float64)
        self._high = space.high.astype(np.float64)
        self._dtype = space.dtype
        self.action_space = spaces.Box(-1.0, 1.0, space.shape, np.float32)

    def action(self, action: np.ndarray) -> np.ndarray:
        """Map ``action`` from [-1, 1] onto the env's bounds.

        :param action: action in [-1, 1]
        :return: action in the env's bounds and dtype
        """
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        return (self._low + (action + 1.0) * 0.5 * (self._high - self._low)).astype(self._dtype)


class _FloatReward(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """dm_control returns numpy float64 rewards (``None`` on reset steps, which shimmy maps to 0): return floats.

    :param env: the shimmy env
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, float(reward), terminated, truncated, info


def _import_dm_control() -> tuple[Any, Any]:
    """Import dm_control's suite and shimmy's adapter, choosing headless EGL rendering unless the user chose.

    The first import runs on a short-lived thread on purpose: shimmy keeps the tracebacks of its own optional
    imports, and with them every frame on the importing stack; imported from the caller's stack, that would keep the
    caller's locals (the first env made, with its OpenGL context) alive until exit.

    :return: ``(dm_control.suite, DmControlCompatibilityV0)``
    """
    user_chose_gl = "MUJOCO_GL" in os.environ
    imported_before = "dm_control" in sys.modules
    os.environ.setdefault("MUJOCO_GL", "egl")
    try:
        from dm_control import _render, suite
        from shimmy.dm_control_compatibility import DmControlCompatibilityV0
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "make_dmc needs dm_control and shimmy: pip install 'dreamer-sb3[dmc]' "
            "(or pip install dm_control 'shimmy[dm-control]' 'mujoco<4')"
        ) from e
    if imported_before and not user_chose_gl and _render.BACKEND != "egl":
        warnings.warn(
            f"dm_control was imported before make_dmc could set MUJOCO_GL=egl, so it renders with "
            f"{_render.BACKEND!r}, which needs a display. For headless rendering set MUJOCO_GL=egl (or osmesa) before "
            "anything imports dm_control.",
            stacklevel=2,
        )
    return suite, DmControlCompatibilityV0


def make_dmc(
    task: str,
    size: tuple[int, int] = (64, 64),
    action_repeat: int = 2,
    camera: int | None = None,
    proprio: bool = False,
    grayscale: bool = False,
    max_episode_steps: int | None = None,
    seed: int | None = None,
    time_limit: float | None = None,
    render_mode: str = "rgb_array",
    environment_kwargs: dict[str, Any] | None = None,
) -> gym.Env:
    """Create a DeepMind Control task with pixel observations and DreamerV3's settings (module docstring table).

    Observations: ``Box(0, 255, (64, 64, 3), uint8)``; with ``proprio=True`` a ``Dict`` of that ``"image"`` and
    ``"state"`` (the task's observations flattened to float32). Actions: ``Box(-1, 1, (dim,), float32)``.

    :param task: ``"<domain>-<task>"``, e.g. ``"walker-walk"``, ``"cup-catch"`` (Dreamer's ``"walker_walk"`` works)
    :param size: ``(height, width)`` of the rendered frames
    :param action_repeat: env steps per agent step (rewards summed)
    :param camera: MuJoCo camera id (``None``: 2 for quadruped, else 0)
    :param proprio: also return the proprioceptive state (Dict observation)
    :param grayscale: ``(H, W, 1)`` frames
    :param max_episode_steps: optional extra limit in agent steps (the suite's 1000 env steps always apply)
    :param seed: seed of the task's initial ``RandomState`` (``reset(seed=...)`` reseeds it)
    :param time_limit: episode length in simulated seconds (``None``: the suite's, 1000 control steps for the
        standard tasks)
    :param render_mode: must be ``"rgb_array"``
    :param environment_kwargs: forwarded to ``suite.load`` (``dm_control.rl.control.Environment`` options)
    :return: the env
    """
    if render_mode != "rgb_array":
        raise ValueError(f"make_dmc renders its observations; render_mode must be 'rgb_array', got {render_mode!r}")
    domain, name = parse_dmc_task(task)
    if camera is None:
        camera = DMC_CAMERAS.get(domain, 0)
    if "shimmy.dm_control_compatibility" in sys.modules:
        suite, DmControlCompatibilityV0 = _import_dm_control()
    else:
        with ThreadPoolExecutor(max_workers=1) as pool:
            suite, DmControlCompatibilityV0 = pool.submit(_import_dm_control).result()
    task_kwargs: dict[str, Any] = {"random": seed}
    if time_limit is not None:
        task_kwargs["time_limit"] = time_limit
    dm_env = suite.load(domain, name, task_kwargs=task_kwargs, environment_kwargs=environment_kwargs)
    env: gym.Env = DmControlCompatibilityV0(
        dm_env,
        render_mode="rgb_array",
        render_kwargs={"height": int(size[0]), "width": int(size[1]), "camera_id": int(camera)},
    )
    env = _FloatReward(env)
    env = NormalizeAction(env)
    env = ActionRepeat(env, action_repeat)
    if proprio:
        env = FlattenObservation(env)
        flat = env.observation_space
        assert isinstance(flat, spaces.Box)
        state_space = spaces.Box(flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32)
        env = TransformObservation(env, lambda obs: obs.astype(np.float32), state_space)
    env = PixelObservation(env, size=size, grayscale=grayscale, keep_state=proprio)
    return limit_agent_steps(env, max_episode_steps)
