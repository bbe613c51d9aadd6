"""Env wrappers and presets that make any Gymnasium env Dreamer-ready, and the standard Dreamer benchmarks.

Importing this package registers the ``dreamer_sb3/...`` gymnasium ids (:func:`register_envs`). It imports only
numpy and gymnasium: OpenCV, ale-py, dm_control, crafter and MineRL are imported when an env that needs them is
created, and no environment variable is touched.

Wrappers: :class:`PixelObservation`, :class:`ActionRepeat`, :class:`ScaleReward`, :class:`StickyActions`, :class:`TimeLimit`
(gymnasium's, counting agent steps), :class:`MinecraftWrapper`. Presets: :func:`make_atari`, :func:`make_dmc`,
:func:`make_crafter`, :func:`make_minecraft`, :func:`make_pixel_env`, :func:`make_minecraft_standin`.
"""

from .action_repeat import ActionRepeat
from .atari import ATARI_GAMES, make_atari
from .crafter import CRAFTER_ACHIEVEMENTS, CrafterEnv, make_crafter
from .dmc import DMC_TASKS, make_dmc, normalize_action
from .minecraft import BASIC_ACTIONS, DIAMOND_ACTIONS, DIAMOND_MILESTONES, MinecraftWrapper, make_minecraft
from .minecraft_standin import MineRLStandinEnv, make_minecraft_standin
from .minerl_interface import Enum, EnumSpaces, MineRLCompatibility
from .pixels import PixelObservation, make_pixel_env
from .registration import register_envs, registered_ids
from .reward_scale import ScaleReward
from .sticky_actions import StickyActions
from .time_limit import TimeLimit, frames_to_agent_steps

__all__ = [
    "ATARI_GAMES",
    "BASIC_ACTIONS",
    "CRAFTER_ACHIEVEMENTS",
    "DIAMOND_ACTIONS",
    "DIAMOND_MILESTONES",
    "DMC_TASKS",
    "ActionRepeat",
    "CrafterEnv",
    "Enum",
    "EnumSpaces",
    "MineRLCompatibility",
    "MineRLStandinEnv",
    "MinecraftWrapper",
    "PixelObservation",
    "ScaleReward",
    "StickyActions",
    "TimeLimit",
    "frames_to_agent_steps",
    "make_atari",
    "make_crafter",
    "make_dmc",
    "make_minecraft",
    "make_minecraft_standin",
    "make_pixel_env",
    "normalize_action",
    "register_envs",
    "registered_ids",
]

register_envs()
