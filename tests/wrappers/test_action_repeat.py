"""ActionRepeat and episode limits in agent steps."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dreamer_sb3.wrappers import ActionRepeat, TimeLimit, frames_to_agent_steps
from dreamer_sb3.wrappers.action_repeat import FRAMES_KEY
from dreamer_sb3.wrappers.time_limit import limit_agent_steps
from tests.wrappers.scripted_envs import ScriptedEnv


def test_sums_rewards_and_returns_last_observation():
    inner = ScriptedEnv(rewards=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    env = ActionRepeat(inner, 3)
    env.reset()
    obs, reward, terminated, truncated, info = env.step(2)
    assert reward == 6.0 and obs[0] == 3.0 and info[FRAMES_KEY] == 3 and info["t"] == 3
    assert inner.executed == [2, 2, 2]
    assert not terminated and not truncated
    obs, reward, *_ = env.step(1)
    assert reward == 15.0 and obs[0] == 6.0 and inner.executed[3:] == [1, 1, 1]


def test_stops_early_at_termination():
    inner = ScriptedEnv(rewards=[1.0] * 10, terminate_at=5)
    env = ActionRepeat(inner, 4)
    env.reset()
    assert env.step(0)[1] == 4.0
    obs, reward, terminated, truncated, info = env.step(0)
    assert terminated and not truncated
    assert reward == 1.0 and info[FRAMES_KEY] == 1 and obs[0] == 5.0
    assert inner.t == 5  # no frame was run past the end of the episode


def test_stops_early_at_truncation():
    env = ActionRepeat(ScriptedEnv(truncate_at=3), 2)
    env.reset()
    env.step(0)
    _, reward, terminated, truncated, info = env.step(0)
    assert truncated and not terminated and reward == 1.0 and info[FRAMES_KEY] == 1


def test_repeat_one_is_identity_and_invalid_repeat():
    env = ActionRepeat(ScriptedEnv(rewards=[5.0]), 1)
    env.reset()
    assert env.step(0)[1] == 5.0
    with pytest.raises(ValueError):
        ActionRepeat(ScriptedEnv(), 0)


def test_time_limit_counts_agent_steps_and_truncates():
    inner = ScriptedEnv()
    env = TimeLimit(ActionRepeat(inner, 4), max_episode_steps=3)
    env.reset()
    results = [env.step(0) for _ in range(3)]
    assert [r[3] for r in results] == [False, False, True]
    assert not any(r[2] for r in results)  # truncated, never terminated
    assert inner.t == 12  # 3 agent steps x 4 frames
    assert limit_agent_steps(inner, None) is inner
    assert isinstance(limit_agent_steps(inner, 5), gym.wrappers.TimeLimit)


def test_frames_to_agent_steps():
    assert frames_to_agent_steps(108_000, 4) == 27_000
    assert frames_to_agent_steps(1000, 2) == 500
    assert frames_to_agent_steps(1001, 2) == 501
    with pytest.raises(ValueError):
        frames_to_agent_steps(0, 2)


def test_env_checkers():
    # skip_render_check: it would open CartPole's "human" window (SDL), which is not what is tested here
    check_env(ActionRepeat(gym.make("CartPole-v1"), 2), skip_render_check=True)
    check_env(TimeLimit(ActionRepeat(gym.make("CartPole-v1"), 2), max_episode_steps=10), skip_render_check=True)
    sb3_check_env(ActionRepeat(gym.make("Pendulum-v1"), 3))
    sb3_check_env(TimeLimit(ActionRepeat(gym.make("Pendulum-v1"), 3), max_episode_steps=10))


def test_box_actions_are_repeated():
    inner = ScriptedEnv(action_space=gym.spaces.Box(-1.0, 1.0, (2,), np.float32))
    env = ActionRepeat(inner, 2)
    env.reset()
    env.step(np.array([0.5, -0.5], np.float32))
    np.testing.assert_array_equal(np.stack(inner.executed), [[0.5, -0.5], [0.5, -0.5]])
