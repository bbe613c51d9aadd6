"""make_crafter: 64x64 Crafter with its 22 achievements."""

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

pytest.importorskip("crafter", reason="crafter is not installed (pip install 'dreamer-sb3[crafter]')")

from dreamer_sb3.wrappers import CRAFTER_ACHIEVEMENTS, make_crafter


def test_spaces_steps_and_info():
    env = make_crafter(seed=0)
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == spaces.Discrete(17)
    obs, info = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert sorted(info["achievements"]) == sorted(CRAFTER_ACHIEVEMENTS) and len(CRAFTER_ACHIEVEMENTS) == 22
    import crafter.constants

    assert tuple(crafter.constants.achievements) == CRAFTER_ACHIEVEMENTS
    obs, reward, _, _, info = env.step(0)
    assert obs in env.observation_space and isinstance(reward, float)
    assert set(info["achievements"]) == set(CRAFTER_ACHIEVEMENTS)


def test_achievement_reward_and_truncation():
    env = make_crafter(seed=1, length=60)
    env.reset(seed=1)
    rng = np.random.default_rng(0)
    unlocked, health, unlocks, steps = set(), 9, 0, 0
    for _ in range(60):
        steps += 1
        _, reward, terminated, truncated, info = env.step(int(rng.integers(17)))
        now = {k for k, v in info["achievements"].items() if v > 0}
        new_health = info["inventory"]["health"]
        # +1 when achievements are unlocked for the first time this episode, plus the health change / 10
        expected = (1.0 if now - unlocked else 0.0) + (new_health - health) / 10
        assert reward == pytest.approx(expected)
        unlocks += bool(now - unlocked)
        unlocked, health = unlocked | now, new_health
        if terminated or truncated:
            break
    assert (steps, terminated, truncated) == (60, False, True)
    assert unlocks >= 1  # random play wakes up / collects something within 60 steps


def test_same_seed_same_world():
    a, b = make_crafter(), make_crafter()
    np.testing.assert_array_equal(a.reset(seed=3)[0], b.reset(seed=3)[0])
    np.testing.assert_array_equal(a.step(1)[0], b.step(1)[0])


def test_env_checkers():
    check_env(make_crafter(seed=0), skip_render_check=False)
    sb3_check_env(make_crafter(seed=0))
