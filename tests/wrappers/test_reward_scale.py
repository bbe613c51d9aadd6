"""ScaleReward: a fixed reward factor for the earlier Dreamers, invisible to SB3's Monitor and evaluate_policy."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy

from dreamer_sb3.wrappers import ActionRepeat, ScaleReward


def test_scales_every_reward_and_nothing_else():
    raw, scaled = gym.make("Pendulum-v1"), ScaleReward(gym.make("Pendulum-v1"), 0.1)
    obs_a, _ = raw.reset(seed=3)
    obs_b, _ = scaled.reset(seed=3)
    np.testing.assert_array_equal(obs_a, obs_b)
    for action in ([1.0], [-2.0], [0.5]):
        step_a, step_b = raw.step(np.array(action, np.float32)), scaled.step(np.array(action, np.float32))
        np.testing.assert_array_equal(step_a[0], step_b[0])
        assert step_b[1] == pytest.approx(0.1 * step_a[1])
        assert step_a[2:4] == step_b[2:4]


@pytest.mark.parametrize("scale", [0.0, float("inf"), float("nan")])
def test_degenerate_scale_is_refused(scale):
    with pytest.raises(ValueError, match="non-zero finite scale"):
        ScaleReward(gym.make("Pendulum-v1"), scale)


def test_monitor_outside_reports_the_env_units():
    """As rl-zoo3 builds it (``env_wrapper`` inside make_vec_env's Monitor): the learner sees scaled rewards,
    the episode statistics and evaluate_policy the env's own."""

    def venv(wrap):
        return make_vec_env("Pendulum-v1", n_envs=1, seed=0, wrapper_class=wrap)

    class Zero:
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return np.zeros((1, 1), np.float32), None

    plain = evaluate_policy(Zero(), venv(lambda e: ActionRepeat(e, 2)), n_eval_episodes=2)
    wrapped_env = venv(lambda e: ScaleReward(ActionRepeat(e, 2), 0.1))
    assert evaluate_policy(Zero(), wrapped_env, n_eval_episodes=2) == pytest.approx(plain)
    wrapped_env.reset()
    reward = wrapped_env.step(np.zeros((1, 1), np.float32))[1]
    assert -3.3 < reward[0] < 0  # one agent step: two env steps of at most 16.3 each, times 0.1


def test_yaml_style_construction_records_its_arguments():
    env = ScaleReward(gym.make("CartPole-v1"), scale=0.5)
    assert env.scale == 0.5 and env.spec.additional_wrappers[-1].kwargs == {"scale": 0.5}


def test_unscaled_reward_in_info_and_nested_scales_keep_the_env_reward():
    env = ScaleReward(ScaleReward(gym.make("Pendulum-v1"), 0.1), 0.5)
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([1.0], dtype=np.float32))
    assert info["unscaled_reward"] < 0 and reward == pytest.approx(0.05 * info["unscaled_reward"])
