"""make_atari: DreamerV3's Atari settings on ALE v5."""

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

pytest.importorskip("ale_py", reason="ale-py is not installed (pip install 'dreamer-sb3[atari]')")

from dreamer_sb3.wrappers import make_atari
from dreamer_sb3.wrappers.atari import ATARI_GAMES, atari_rom_id


def test_frames_and_actions():
    env = make_atari("pong")
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == spaces.Discrete(18)  # full action space (DreamerV3: actions=all)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    for _ in range(3):
        obs, _, _, _, info = env.step(env.action_space.sample())
        assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and obs in env.observation_space
    assert info["episode_frame_number"] == 12  # frame skip 4


def test_grayscale_and_minimal_actions():
    env = make_atari("Pong", grayscale=True, full_action_space=False)
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 1), np.uint8)
    assert env.action_space == spaces.Discrete(6)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 1) and obs.dtype == np.uint8


def test_sticky_actions_and_frame_skip_from_one_place_each():
    env = make_atari("breakout")
    ale = env.unwrapped.ale
    assert ale.getFloat("repeat_action_probability") == pytest.approx(0.25)  # sticky actions: ALE, per frame
    assert env.unwrapped._frameskip == 1  # ALE does not skip frames ...
    assert env.frame_skip == 4  # ... AtariPreprocessing does (max-pooling the last two)
    assert ale.getInt("max_num_frames_per_episode") == 108_000
    assert env.terminal_on_life_loss is False and env.noop_max == 0
    no_sticky = make_atari("breakout", repeat_action_probability=0.0)
    assert no_sticky.unwrapped.ale.getFloat("repeat_action_probability") == 0.0


def test_episode_limit_truncates():
    env = make_atari("pong", max_frames=40)
    env.reset(seed=0)
    flags = [env.step(0)[2:4] for _ in range(10)]
    assert flags[-1] == (False, True)
    assert all(f == (False, False) for f in flags[:-1])


def test_seeded_runs_are_reproducible():
    def rollout(seed):
        env = make_atari("pong", noop_max=30)
        obs, _ = env.reset(seed=seed)
        env.action_space.seed(seed)
        frames = [obs] + [env.step(env.action_space.sample())[0] for _ in range(30)]
        return np.stack(frames)

    np.testing.assert_array_equal(rollout(1), rollout(1))


def test_env_checkers():
    check_env(make_atari("pong"), skip_render_check=False)
    sb3_check_env(make_atari("pong", grayscale=True))


def test_game_names():
    assert len(ATARI_GAMES) == 108
    assert atari_rom_id("SpaceInvaders") == "space_invaders"
    assert atari_rom_id("ALE/MontezumaRevenge-v5") == "montezuma_revenge"
    assert atari_rom_id("james_bond") == "jamesbond"
    assert atari_rom_id("TicTacToe3D") == "tic_tac_toe_3d"
    with pytest.raises(ValueError, match="Unknown Atari game"):
        atari_rom_id("not_a_game")


def test_every_listed_game_has_a_rom():
    import ale_py.roms

    assert set(ATARI_GAMES) == set(ale_py.roms.get_all_rom_ids())
