"""DeepMind Control Suite from pixels, as in DreamerV3 (and Dreamer V1/V2 / PlaNet before it).

======================  ==============================================================================
setting                 value (``make_dmc`` default)
======================  ==============================================================================
observation             64x64 RGB frame rendered by MuJoCo at that size (no resizing)
camera                  0; quadruped uses camera 2 (DreamerV3's ``DEFAULT_CAMERAS``)
action repeat           2
episode                 1000 env steps (the suite's own limit) = 500 agent steps, ``truncated=True``
actions                 ``Box(-1, 1, float32)`` (gymnasium's ``RescaleAction`` + ``ClipAction`` onto the task's
                        bounds; the suite's are [-1, 1]); LQR's unbounded tasks are not supported
proprioception          off (``proprio=True`` adds the flattened state as ``obs["state"]``)
from_pixels             on; ``from_pixels=False`` observes the flattened state alone (``Box(float32)``, DreamerV3's
                        ``dmc_proprio`` setting ``env.dmc.image: False``): no frame is rendered per step
======================  ==============================================================================

``dreamer_sb3/dmc-<domain>-<task>-v0`` observe pixels; ``dreamer_sb3/dmc-proprio-<domain>-<task>-v0`` observe the
state (``from_pixels=False``). ``env.render()`` draws a frame of either at the chosen size and camera.

The env comes from dm_control through shimmy's ``DmControlCompatibilityV0``. Rendering is headless: if the user
has not set ``MUJOCO_GL``, :func:`make_dmc` sets it to ``egl`` *before* importing dm_control (never at import time
of this module). MuJoCo must be ``<4`` (dm_control's pin).
"""

from __future__ import annotations

import dataclasses
import os
import sys
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.wrappers import (
    ClipAction,
    FlattenObservation,
    RescaleAction,
    TransformAction,
    TransformObservation,
    TransformReward,
)

from .action_repeat import ActionRepeat
from .pixels import PixelObservation
from .time_limit import limit_agent_steps

__all__ = [
    "DMC_CAMERAS",
    "DMC_TASKS",
    "MAX_ACTION_BOUND",
    "UNBOUNDED_ACTION_TASKS",
    "make_dmc",
    "normalize_action",
    "parse_dmc_task",
]

#: Action bounds beyond this magnitude count as unbounded (LQR declares ±1e10).
MAX_ACTION_BOUND = 1e6

#: Tasks of ``dm_control.suite.ALL_TASKS`` whose actions are unbounded (±1e10): a bounded actor mapped onto that range
#: acts with forces of order 1e10, so they are neither registered nor accepted by :func:`make_dmc`.
UNBOUNDED_ACTION_TASKS: tuple[tuple[str, str], ...] = (("lqr", "lqr_2_1"), ("lqr", "lqr_6_2"))

#: Every task of ``dm_control.suite.ALL_TASKS`` (dm_control 1.0.x) except :data:`UNBOUNDED_ACTION_TASKS`, as
#: (domain, task); registration uses this list. It is written out rather than read from dm_control (or from shimmy's
#: ``dm_control/...`` ids) because both import MuJoCo, and registering our ids must stay import-light; a test checks it
#: against the installed ``dm_control.suite.ALL_TASKS``.
DMC_TASKS: tuple[tuple[str, str], ...] = (
    ("acrobot", "swingup"), ("acrobot", "swingup_sparse"), ("ball_in_cup", "catch"), ("cartpole", "balance"),
    ("cartpole", "balance_sparse"), ("cartpole", "swingup"), ("cartpole", "swingup_sparse"),
    ("cartpole", "two_poles"), ("cartpole", "three_poles"), ("cheetah", "run"), ("dog", "stand"), ("dog", "walk"),
    ("dog", "trot"), ("dog", "run"), ("dog", "fetch"), ("finger", "spin"), ("finger", "turn_easy"),
    ("finger", "turn_hard"), ("fish", "upright"), ("fish", "swim"), ("hopper", "stand"), ("hopper", "hop"),
    ("humanoid", "stand"), ("humanoid", "walk"), ("humanoid", "run"), ("humanoid", "run_pure_state"),
    ("humanoid_CMU", "stand"), ("humanoid_CMU", "walk"), ("humanoid_CMU", "run"),
    ("manipulator", "bring_ball"), ("manipulator", "bring_peg"), ("manipulator", "insert_ball"),
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
    domains = sorted({d for d, _ in DMC_TASKS + UNBOUNDED_ACTION_TASKS} | set(_DOMAIN_ALIASES), key=len, reverse=True)
    for domain in domains:
        for sep in ("-", "_"):
            if name.startswith(domain + sep):
                task = name[len(domain) + 1 :]
                return _DOMAIN_ALIASES.get(domain, domain), task
    raise ValueError(f"Cannot parse DMC task {name!r}; expected '<domain>-<task>', e.g. 'walker-walk'")


def normalize_action(env: gym.Env) -> gym.Env:
    """Expose a bounded ``Box`` action space as ``Box(-1, 1, float32)``, with gymnasium's own wrappers.

    :class:`~gymnasium.wrappers.RescaleAction` maps [-1, 1] linearly onto the env's bounds,
    :class:`~gymnasium.wrappers.ClipAction` clips to [-1, 1] first, and :class:`~gymnasium.wrappers.TransformAction`
    accepts the float32 actions Dreamer policies and SB3 emit (``RescaleAction`` keeps the env's dtype, float64 for
    dm_control).

    :param env: env with a bounded ``Box`` action space
    :return: the wrapped env
    :raises ValueError: when the action space is not a ``Box`` with finite bounds of at most :data:`MAX_ACTION_BOUND`
    """
    space = env.action_space
    if not isinstance(space, spaces.Box) or not (
        np.all(np.abs(space.low) <= MAX_ACTION_BOUND) and np.all(np.abs(space.high) <= MAX_ACTION_BOUND)
    ):
        raise ValueError(
            f"Dreamer's actors act in a bounded range mapped onto the env's action bounds; this env's action space is "
            f"{space}, whose bounds are not finite (or beyond ±{MAX_ACTION_BOUND:g}, i.e. effectively unbounded). "
            "Wrap it with gymnasium.wrappers.RescaleAction / ClipAction to the range you want the agent to act in."
        )
    dtype = space.dtype
    rescaled = ClipAction(RescaleAction(env, dtype.type(-1.0), dtype.type(1.0)))
    return TransformAction(rescaled, _CastAction(dtype.name), spaces.Box(-1.0, 1.0, space.shape, np.float32))


@dataclasses.dataclass(frozen=True)
class _CastAction:
    """Cast actions to ``dtype`` (a comparable, picklable function: ``env.spec.make()`` rebuilds the same wrapper)."""

    dtype: str

    def __call__(self, action: Any) -> np.ndarray:
        return np.asarray(action, dtype=self.dtype)


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
    from_pixels: bool = True,
    grayscale: bool = False,
    max_episode_steps: int | None = None,
    seed: int | None = None,
    time_limit: float | None = None,
    render_mode: str = "rgb_array",
    environment_kwargs: dict[str, Any] | None = None,
) -> gym.Env:
    """Create a DeepMind Control task with pixel observations and DreamerV3's settings (module docstring table).

    Observations: ``Box(0, 255, (64, 64, 3), uint8)``; with ``proprio=True`` a ``Dict`` of that ``"image"`` and
    ``"state"`` (the task's observations flattened to float32); with ``from_pixels=False`` the state alone,
    ``Box(-inf, inf, (n,), float32)``. Actions: ``Box(-1, 1, (dim,), float32)``.

    :param task: ``"<domain>-<task>"``, e.g. ``"walker-walk"``, ``"cup-catch"`` (Dreamer's ``"walker_walk"`` works)
    :param size: ``(height, width)`` of the rendered frames
    :param action_repeat: env steps per agent step (rewards summed)
    :param camera: MuJoCo camera id (``None``: 2 for quadruped, else 0)
    :param proprio: also return the proprioceptive state (Dict observation)
    :param from_pixels: observe rendered frames; ``False``: observe the flattened state only (``size`` and
        ``grayscale`` then only concern ``render()``; ``proprio=True`` with it is an error)
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
    if proprio and not from_pixels:
        raise ValueError(
            "make_dmc(proprio=True) adds the state to the pixel observation, but from_pixels=False already observes "
            "the state alone: drop proprio=True (or keep the pixels)"
        )
    domain, name = parse_dmc_task(task)
    if (domain, name) in UNBOUNDED_ACTION_TASKS:
        raise ValueError(
            f"DMC task {task!r} has unbounded actions (dm_control declares ±1e10), which a Dreamer actor (bounded, "
            "mapped onto the action bounds) cannot act in; it is not supported by make_dmc."
        )
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
    env = TransformReward(env, float)  # numpy float64 rewards -> float
    env = normalize_action(env)
    env = ActionRepeat(env, action_repeat)
    if proprio or not from_pixels:
        env = FlattenObservation(env)
        flat = env.observation_space
        assert isinstance(flat, spaces.Box)
        state_space = spaces.Box(flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32)
        env = TransformObservation(env, lambda obs: obs.astype(np.float32), state_space)
    if from_pixels:
        env = PixelObservation(env, size=size, grayscale=grayscale, keep_state=proprio)
    return limit_agent_steps(env, max_episode_steps)
