"""StickyActions: frequency (statistical, fixed seed), reproducibility, Discrete and Box actions."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.error import InvalidProbability
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dreamer_sb3.wrappers import ActionRepeat, StickyActions
from dreamer_sb3.wrappers.sticky_actions import STICKY_KEY
from tests.wrappers.scripted_envs import ScriptedEnv


def run_alternating(seed: int, frames: int = 20_000, p: float = 0.25):
    """Agent alternates actions 0/1 every frame, so every sticky frame executes a different action than asked."""
    inner = ScriptedEnv(action_space=gym.spaces.Discrete(2))
    env = StickyActions(inner, p)
    env.reset(seed=seed)
    requested, flags = [], []
    for t in range(frames):
        action = t % 2
        requested.append(action)
        flags.append(env.step(action)[4][STICKY_KEY])
    return np.array(requested), np.array(inner.executed), np.array(flags)


def test_repeat_frequency_matches_probability():
    requested, executed, flags = run_alternating(seed=0)
    n = len(requested) - 1  # the first step after reset is never sticky
    rate = flags[1:].mean()
    sigma = np.sqrt(0.25 * 0.75 / n)
    assert abs(rate - 0.25) < 4 * sigma, rate
    # a sticky frame executes the previously *executed* action, any other frame the requested one
    sticky = np.flatnonzero(flags)
    np.testing.assert_array_equal(executed[sticky], executed[sticky - 1])
    np.testing.assert_array_equal(executed[~flags], requested[~flags])
    assert not flags[0]
    # what the env sees: the executed action differs from the request with probability p * P(previous != request)
    changed = (executed != requested)[1:]
    assert changed.sum() > 0 and np.all(flags[1:][changed])


@pytest.mark.parametrize("p", [0.0, 0.5])
def test_other_probabilities(p):
    _, _, flags = run_alternating(seed=1, frames=8000, p=p)
    rate = flags[1:].mean()
    assert abs(rate - p) < 4 * np.sqrt(max(p * (1 - p), 1e-12) / 8000) + 1e-12


def test_reproducible_under_seeding():
    _, a, _ = run_alternating(seed=7, frames=2000)
    _, b, _ = run_alternating(seed=7, frames=2000)
    _, c, _ = run_alternating(seed=8, frames=2000)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_default_probability_is_machado():
    assert StickyActions(ScriptedEnv()).repeat_action_probability == 0.25
    with pytest.raises(InvalidProbability):
        StickyActions(ScriptedEnv(), 1.0)


def test_box_actions():
    inner = ScriptedEnv(action_space=gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    env = StickyActions(inner, 0.25)
    env.reset(seed=0)
    actions = [np.full(2, (i % 7) / 7, np.float32) for i in range(4000)]
    flags = np.array([env.step(a)[4][STICKY_KEY] for a in actions])
    executed = np.stack(inner.executed)
    for i in range(1, len(actions)):
        expected = executed[i - 1] if flags[i] else actions[i]
        np.testing.assert_array_equal(executed[i], expected)
    assert abs(flags[1:].mean() - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 3999)


def test_sticky_per_frame_inside_action_repeat():
    inner = ScriptedEnv(action_space=gym.spaces.Discrete(2))
    env = ActionRepeat(StickyActions(inner, 0.25), 4)
    env.reset(seed=0)
    for t in range(2000):
        env.step(t % 2)
    executed = np.array(inner.executed).reshape(-1, 4)
    requested = (np.arange(2000) % 2)[:, None]
    # stickiness is decided per frame: within an agent step frames can differ, and the first frame of a step
    # repeats the previous step's last action about 25% of the time
    first_sticky = (executed[1:, 0] != requested[1:, 0]).mean()
    assert abs(first_sticky - 0.25) < 4 * np.sqrt(0.25 * 0.75 / 1999)
    # once the new action has been executed in a step, later frames only "stick" to the same action
    for row, want in zip(executed, requested[:, 0]):
        seen = False
        for a in row:
            seen = seen or a == want
            if seen:
                assert a == want


def test_reset_forgets_previous_action():
    inner = ScriptedEnv(action_space=gym.spaces.Discrete(2))
    env = StickyActions(inner, 0.9)
    for seed in range(20):
        env.reset(seed=seed)
        env.step(0)
        env.reset(seed=seed)
        assert env.previous_action is None
        assert not env.step(1)[4][STICKY_KEY]
        assert inner.executed == [1] and env.previous_action == 1


def test_env_checkers():
    check_env(StickyActions(gym.make("CartPole-v1")), skip_render_check=True)  # no "human" window
    sb3_check_env(StickyActions(gym.make("Pendulum-v1")))
