"""Atari (ALE v5 through ale-py) with DreamerV3's settings.

DreamerV3 (Hafner et al., 2023, "Mastering Diverse Domains through World Models"; config ``atari`` of the
paper's code release) follows the recommendations of Machado et al. (2018):

============================  =========================================================================
setting                       value (``make_atari`` default)
============================  =========================================================================
frames                        64x64 RGB (``grayscale=True`` for 64x64x1), OpenCV area interpolation
frame skip                    4, max-pooling over the last two frames
sticky actions                0.25 (ALE's own ``repeat_action_probability``, per frame)
life loss                     not terminal (``terminal_on_life_loss=False``)
no-op starts                  none (``noop_max=0``; 30 is the older DQN protocol)
action space                  full 18 actions (``full_action_space=True``)
episode limit                 108,000 frames = 27,000 agent steps (ALE's ``max_num_frames_per_episode``,
                              reported as ``truncated``)
============================  =========================================================================

Sticky actions come from one place only: ALE itself (``repeat_action_probability``, a coin toss inside every
emulated frame, seeded by ``reset(seed=...)``). The frame skip comes from one place only: gymnasium's
:class:`~gymnasium.wrappers.AtariPreprocessing` on an ALE env made with ``frameskip=1`` (it max-pools the last two
frames, resizes with ``cv2.INTER_AREA`` and runs the optional no-op starts).

ale-py (>= 0.9) ships the ROMs; nothing else needs downloading.
"""

from __future__ import annotations

import importlib.util
import pathlib

import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing

from .time_limit import limit_agent_steps

__all__ = ["ATARI_GAMES", "atari_rom_id", "make_atari"]

#: ROM ids (snake_case) of every game ale-py 0.12 ships: the list used when ale-py is not installed.
ALE_0_12_GAMES: tuple[str, ...] = (
    "adventure", "air_raid", "alien", "amidar", "assault", "asterix", "asteroids", "atlantis", "atlantis2",
    "backgammon", "bank_heist", "basic_math", "battle_zone", "beam_rider", "berzerk", "blackjack", "bowling",
    "boxing", "breakout", "carnival", "casino", "centipede", "chopper_command", "combat", "crazy_climber",
    "crossbow", "darkchambers", "defender", "demon_attack", "donkey_kong", "double_dunk", "earthworld",
    "elevator_action", "enduro", "entombed", "et", "fishing_derby", "flag_capture", "freeway", "frogger",
    "frostbite", "galaxian", "gopher", "gravitar", "hangman", "haunted_house", "hero", "human_cannonball",
    "ice_hockey", "jamesbond", "journey_escape", "joust", "kaboom", "kangaroo", "keystone_kapers", "king_kong",
    "klax", "koolaid", "krull", "kung_fu_master", "laser_gates", "lost_luggage", "mario_bros", "maze_craze",
    "miniature_golf", "montezuma_revenge", "mr_do", "ms_pacman", "name_this_game", "othello", "pacman", "phoenix",
    "pitfall", "pitfall2", "pong", "pooyan", "private_eye", "qbert", "riverraid", "road_runner", "robotank",
    "seaquest", "sir_lancelot", "skiing", "solaris", "space_invaders", "space_war", "star_gunner", "superman",
    "surround", "tennis", "tetris", "tic_tac_toe_3d", "time_pilot", "trondead", "turmoil", "tutankham", "up_n_down",
    "venture", "video_checkers", "video_chess", "video_cube", "video_pinball", "warlords", "wizard_of_wor",
    "word_zapper", "yars_revenge", "zaxxon",
)  # fmt: skip


def _installed_rom_ids() -> tuple[str, ...] | None:
    """ROM ids of the installed ale-py, read from its ``roms/*.bin`` files without importing it (ale-py's own
    ``roms.get_all_rom_ids()`` lists the same files, but importing ale-py loads the emulator: registration must stay
    import-light). ``None`` when ale-py is not installed or ships no ROM files."""
    spec = importlib.util.find_spec("ale_py")
    if spec is None or not spec.submodule_search_locations:
        return None
    roms = sorted(p.stem for loc in spec.submodule_search_locations for p in (pathlib.Path(loc) / "roms").glob("*.bin"))
    return tuple(roms) or None


#: ROM ids (snake_case) of every game the installed ale-py ships (:data:`ALE_0_12_GAMES` without ale-py); the
#: registration of ``dreamer_sb3/atari-<game>-v0`` uses this list.
ATARI_GAMES: tuple[str, ...] = _installed_rom_ids() or ALE_0_12_GAMES

_ALIASES = {"james_bond": "jamesbond", "montezumas_revenge": "montezuma_revenge"}


def atari_rom_id(game: str) -> str:
    """Normalise a game name to ale-py's snake_case ROM id.

    Accepts ROM ids (``"space_invaders"``), gymnasium-style CamelCase names (``"SpaceInvaders"``), ALE ids
    (``"ALE/SpaceInvaders-v5"``) and DreamerV3's ``"james_bond"``.

    :param game: the game name
    :return: the ROM id, e.g. ``"space_invaders"``
    """
    name = game.split("/")[-1]
    if "-v" in name:
        name = name[: name.rindex("-v")]
    name = _ALIASES.get(name.lower(), name.lower())
    if name in ATARI_GAMES:
        return name
    compact = name.replace("_", "")
    for rom in ATARI_GAMES:
        if rom.replace("_", "") == compact:
            return rom
    raise ValueError(f"Unknown Atari game {game!r}. Known ROM ids: {', '.join(ATARI_GAMES)}")


def make_atari(
    game: str,
    size: tuple[int, int] = (64, 64),
    grayscale: bool = False,
    frame_skip: int = 4,
    repeat_action_probability: float = 0.25,
    terminal_on_life_loss: bool = False,
    noop_max: int = 0,
    full_action_space: bool = True,
    max_frames: int = 108_000,
    max_episode_steps: int | None = None,
    mode: int | None = None,
    difficulty: int | None = None,
    render_mode: str = "rgb_array",
) -> gym.Env:
    """Create an Atari game with DreamerV3's settings (see the module docstring for the table).

    Observations are ``Box(0, 255, (64, 64, 3), uint8)`` (``(64, 64, 1)`` with ``grayscale=True``), actions
    ``Discrete(18)`` (or the game's minimal set with ``full_action_space=False``).

    :param game: ROM id or name, e.g. ``"pong"``, ``"space_invaders"``, ``"SpaceInvaders"``
    :param size: ``(height, width)`` of the frames
    :param grayscale: luminance frames with one channel instead of RGB
    :param frame_skip: emulator frames per agent step (max-pooled over the last two)
    :param repeat_action_probability: sticky-action probability, applied by ALE at every frame
    :param terminal_on_life_loss: end the episode (``terminated``) when a life is lost
    :param noop_max: up to this many random no-op actions after each reset (0 disables)
    :param full_action_space: all 18 joystick actions instead of the game's minimal set
    :param max_frames: episode limit in emulator frames (ALE's own counter; ends with ``truncated=True``)
    :param max_episode_steps: optional additional limit in agent steps
    :param mode: ALE game mode (``None``: default)
    :param difficulty: ALE difficulty (``None``: default)
    :param render_mode: must be ``"rgb_array"``: ``render()`` returns the full-resolution 210x160 frame (to watch
        a game, wrap the env in gymnasium's ``HumanRendering``)
    :return: the env
    """
    try:
        from ale_py.env import AtariEnv
    except ImportError as e:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "make_atari needs ale-py (it ships the ROMs): pip install 'dreamer-sb3[atari]' or pip install ale-py"
        ) from e
    if render_mode != "rgb_array":
        raise ValueError(f"make_atari supports render_mode='rgb_array' only, got {render_mode!r}")
    if size[0] <= 0 or size[1] <= 0:
        raise ValueError(f"size must be positive, got {size}")
    rom = atari_rom_id(game)
    env = AtariEnv(
        game=rom,
        mode=mode,
        difficulty=difficulty,
        obs_type="grayscale" if grayscale else "rgb",
        frameskip=1,
        repeat_action_probability=repeat_action_probability,
        full_action_space=full_action_space,
        max_num_frames_per_episode=max_frames,
        render_mode=render_mode,
    )
    # AtariPreprocessing takes (width, height) like cv2.
    wrapped: gym.Env = AtariPreprocessing(
        env,
        noop_max=noop_max,
        frame_skip=frame_skip,
        screen_size=(int(size[1]), int(size[0])),
        terminal_on_life_loss=terminal_on_life_loss,
        grayscale_obs=grayscale,
        grayscale_newaxis=True,
        scale_obs=False,
    )
    wrapped.metadata = {**env.metadata, "render_modes": ["rgb_array"], "render_fps": 60 // frame_skip}
    return limit_agent_steps(wrapped, max_episode_steps)
