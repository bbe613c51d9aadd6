"""Gymnasium ids ``dreamer_sb3/...`` for the presets, so ``gym.make``, SB3's ``make_vec_env`` and rl-zoo3 reach
them by name.

Registered ids (all with string entry points: registering imports nothing heavy, and an optional dependency is
needed only when its env is created):

==============================================  ================================================================
id                                              env
==============================================  ================================================================
``dreamer_sb3/dmc-<domain>-<task>-v0``          :func:`~dreamer_sb3.wrappers.dmc.make_dmc`, every task of
                                                ``dm_control.suite`` (``ball_in_cup`` is ``cup``, e.g.
                                                ``dmc-cup-catch-v0``), 64x64 pixels, action repeat 2
``dreamer_sb3/dmc-proprio-<domain>-<task>-v0``  the same task observing its flattened state (float32), no
                                                pixels (``make_dmc(..., from_pixels=False)``)
``dreamer_sb3/atari-<game>-v0``                 :func:`~dreamer_sb3.wrappers.atari.make_atari`, every ale-py ROM
                                                by ROM id (``atari-pong-v0``, ``atari-space_invaders-v0``)
``dreamer_sb3/<Name>-pixels-v0``                classic control from 64x64 pixels: CartPole, Pendulum, Acrobot,
                                                MountainCar, MountainCarContinuous
``dreamer_sb3/crafter-v0``                      :func:`~dreamer_sb3.wrappers.crafter.make_crafter`
``dreamer_sb3/minecraft-<task>-v0``             :func:`~dreamer_sb3.wrappers.minecraft.make_minecraft` (diamond,
                                                wood, climb; needs MineRL)
``dreamer_sb3/minecraft-standin-<task>-v0``     the same wrapper on the MineRL stand-in (no MineRL needed)
==============================================  ================================================================

Keyword arguments of ``gym.make`` are forwarded to the preset, e.g.
``gym.make("dreamer_sb3/dmc-walker-walk-v0", action_repeat=4)``.
"""

from __future__ import annotations

import gymnasium as gym

from .atari import ATARI_GAMES
from .dmc import DMC_TASKS
from .minecraft import MINECRAFT_TASKS

__all__ = ["CLASSIC_CONTROL_PIXEL_ENVS", "NAMESPACE", "register_envs", "registered_ids"]

NAMESPACE = "dreamer_sb3"

#: Pixel classic-control ids: ``dreamer_sb3/<name>-pixels-v0`` -> gymnasium id.
CLASSIC_CONTROL_PIXEL_ENVS: dict[str, str] = {
    "CartPole": "CartPole-v1",
    "Pendulum": "Pendulum-v1",
    "Acrobot": "Acrobot-v1",
    "MountainCar": "MountainCar-v0",
    "MountainCarContinuous": "MountainCarContinuous-v0",
}

_DOMAIN_SHORT_NAMES = {"ball_in_cup": "cup"}


def _specs() -> list[tuple[str, str, dict]]:
    specs: list[tuple[str, str, dict]] = []
    for domain, task in DMC_TASKS:
        name = f"{_DOMAIN_SHORT_NAMES.get(domain, domain)}-{task}"
        specs.append((f"{NAMESPACE}/dmc-{name}-v0", "dreamer_sb3.wrappers.dmc:make_dmc", {"task": name}))
        specs.append(
            (f"{NAMESPACE}/dmc-proprio-{name}-v0", "dreamer_sb3.wrappers.dmc:make_dmc", {"task": name, "from_pixels": False})
        )
    for game in ATARI_GAMES:
        specs.append((f"{NAMESPACE}/atari-{game}-v0", "dreamer_sb3.wrappers.atari:make_atari", {"game": game}))
    for name, env_id in CLASSIC_CONTROL_PIXEL_ENVS.items():
        specs.append((f"{NAMESPACE}/{name}-pixels-v0", "dreamer_sb3.wrappers.pixels:make_pixel_env", {"env_id": env_id}))
    specs.append((f"{NAMESPACE}/crafter-v0", "dreamer_sb3.wrappers.crafter:make_crafter", {}))
    for task in MINECRAFT_TASKS:
        specs.append((f"{NAMESPACE}/minecraft-{task}-v0", "dreamer_sb3.wrappers.minecraft:make_minecraft", {"task": task}))
        specs.append(
            (
                f"{NAMESPACE}/minecraft-standin-{task}-v0",
                "dreamer_sb3.wrappers.minecraft_standin:make_minecraft_standin",
                {"task": task},
            )
        )
    return specs


def registered_ids() -> tuple[str, ...]:
    """All ids that :func:`register_envs` registers.

    :return: the ids, in registration order
    """
    return tuple(env_id for env_id, _, _ in _specs())


def register_envs() -> None:
    """Register every ``dreamer_sb3/...`` id with gymnasium. Idempotent: ids already registered are left alone.

    Called when ``dreamer_sb3.wrappers`` is imported.
    """
    for env_id, entry_point, kwargs in _specs():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs)
