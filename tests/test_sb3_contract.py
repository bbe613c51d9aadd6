"""The SB3 contract for every Dreamer-family algorithm: learn with callbacks, recurrent predict,
evaluate_policy, save/load, set_env, VecEnvs, image / dict observations, clear errors."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.callbacks import CheckpointCallback, EvalCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.envs import FakeImageEnv, IdentityEnv, IdentityEnvBox, SimpleMultiObsEnv
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecTransposeImage


def test_learn_with_callbacks_eval_and_checkpoint(algo, tmp_path):
    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    eval_cb = EvalCallback(
        make_vec_env("CartPole-v1", n_envs=1),
        eval_freq=100,
        n_eval_episodes=2,
        best_model_save_path=str(tmp_path / "best"),
        log_path=str(tmp_path / "eval"),
    )
    ckpt = CheckpointCallback(save_freq=150, save_path=str(tmp_path / "ckpt"), save_replay_buffer=True)
    model.learn(300, callback=[eval_cb, ckpt], progress_bar=True)
    assert model.num_timesteps == 300
    assert model._n_updates > 0
    assert (tmp_path / "best" / "best_model.zip").exists()
    assert (tmp_path / "eval" / "evaluations.npz").exists()
    assert (tmp_path / "ckpt" / "rl_model_300_steps.zip").exists()
    assert (tmp_path / "ckpt" / "rl_model_replay_buffer_300_steps.pkl").exists()
    mean, _std = evaluate_policy(model, model.get_env(), n_eval_episodes=3)
    assert np.isfinite(mean)


def _rollout_actions(model, env, n=30, deterministic=True):
    obs = env.reset()
    state, starts, actions = None, np.ones(env.num_envs, bool), []
    for _ in range(n):
        act, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
        actions.append(act.copy())
        obs, _, starts, _ = env.step(act)
    return np.array(actions)


def test_save_load_identical_actions_and_continue_training(algo, tmp_path):
    cls, kwargs = algo
    model = cls("MlpPolicy", "Pendulum-v1", seed=0, **kwargs)
    model.learn(200)
    model.save(tmp_path / "model")
    model.save_replay_buffer(tmp_path / "replay.pkl")
    loaded = cls.load(tmp_path / "model", env=make_vec_env("Pendulum-v1", n_envs=1))
    env_a = make_vec_env("Pendulum-v1", n_envs=1, seed=5)
    env_b = make_vec_env("Pendulum-v1", n_envs=1, seed=5)
    assert np.array_equal(_rollout_actions(model, env_a), _rollout_actions(loaded, env_b))
    # every tensor of the policy (networks, slow critic, normaliser) round-trips
    for (k, v), (k2, v2) in zip(model.policy.state_dict().items(), loaded.policy.state_dict().items()):
        assert k == k2 and th.equal(v, v2)
    for name in model.policy.optimizer_names():
        a = getattr(model.policy, name).state_dict()["state"]
        b = getattr(loaded.policy, name).state_dict()["state"]
        assert a.keys() == b.keys() and all(th.equal(a[i]["exp_avg"], b[i]["exp_avg"]) for i in a)
    loaded.load_replay_buffer(tmp_path / "replay.pkl")
    assert len(loaded.replay_buffer) == len(model.replay_buffer)
    loaded.learn(100, reset_num_timesteps=False)
    assert loaded.num_timesteps == 300


def test_policy_save_load_alone(algo, tmp_path):
    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    model.policy.save(tmp_path / "policy.pth")
    policy = type(model.policy).load(tmp_path / "policy.pth")
    obs = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    a1, s1 = model.policy.predict(obs, deterministic=True)
    a2, s2 = policy.predict(obs, deterministic=True)
    assert np.array_equal(a1, a2) and np.array_equal(s1[0], s2[0])


def test_load_without_env_then_set_env(algo, tmp_path):
    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    model.save(tmp_path / "m.zip")
    loaded = cls.load(tmp_path / "m.zip")
    obs = np.zeros(4, np.float32)
    action, state = loaded.predict(obs, deterministic=True)
    assert np.shape(action) == () and state[0].shape[0] == 1
    with pytest.raises(ValueError, match="set_env"):
        loaded.learn(10)
    loaded.set_env(make_vec_env("CartPole-v1", n_envs=1))
    loaded.learn(100)


def test_predict_shapes_unbatched_and_vectorised(algo):
    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    act, state = model.predict(np.zeros(4, np.float32))
    assert np.shape(act) == () and act in (0, 1)
    deter, _stoch, prev = state
    assert deter.dtype == np.float32 and prev.shape == (1, 2)
    acts, state = model.predict(np.zeros((5, 4), np.float32), state=None, episode_start=np.ones(5, bool))
    assert acts.shape == (5,) and state[0].shape[0] == 5
    acts, state = model.predict(np.zeros((5, 4), np.float32), state=state, episode_start=np.zeros(5, bool))
    with pytest.raises(ValueError, match="State holds 5 envs"):
        model.predict(np.zeros((3, 4), np.float32), state=state)
    with pytest.raises(ValueError):
        model.predict(np.zeros((3, 7), np.float32))


def test_predict_is_pure_and_episode_start_resets(algo):
    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **kwargs)
    obs = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    _, s1 = model.predict(obs, deterministic=True)
    _, s2 = model.predict(obs, deterministic=True)
    assert all(np.array_equal(a, b) for a, b in zip(s1, s2))  # no hidden state between calls
    # episode_start=True makes the previous state irrelevant
    _, s3 = model.predict(obs, state=s1, episode_start=np.ones(2, bool), deterministic=True)
    assert all(np.array_equal(a, b) for a, b in zip(s1, s3))
    _, s4 = model.predict(obs, state=s1, episode_start=np.zeros(2, bool), deterministic=True)
    assert not np.array_equal(s1[0], s4[0])


def test_seeding_is_deterministic(algo):
    cls, kwargs = algo
    runs = []
    for _ in range(2):
        model = cls("MlpPolicy", "CartPole-v1", seed=3, **kwargs)
        model.learn(150)
        runs.append([p.detach().clone() for p in model.policy.parameters()])
    assert all(th.equal(a, b) for a, b in zip(*runs))


def test_vecenv_n_envs_2_subproc_and_box_actions(algo):
    cls, kwargs = algo
    env = make_vec_env("Pendulum-v1", n_envs=2, vec_env_cls=SubprocVecEnv)
    model = cls("MlpPolicy", env, seed=0, **kwargs)
    model.learn(200)
    assert model.num_timesteps == 200 and model.replay_buffer.n_envs == 2
    mean, _ = evaluate_policy(model, env, n_eval_episodes=2)
    assert np.isfinite(mean)
    env.close()


def test_cnn_policy_on_images_channel_last_and_first(algo):
    cls, kwargs = algo
    env = DummyVecEnv([lambda: FakeImageEnv(screen_height=64, screen_width=64, n_channels=3, discrete=False)])
    model = cls("CnnPolicy", env, seed=0, **kwargs)
    assert model.observation_space.shape == (3, 64, 64)  # SB3 transposed it
    model.learn(100)
    obs = env.reset()
    act, _ = model.predict(obs[0])  # a single channel-last observation is transposed too
    assert act.shape == model.action_space.shape
    env_first = VecTransposeImage(DummyVecEnv([lambda: FakeImageEnv(screen_height=64, screen_width=64)]))
    model = cls("CnnPolicy", env_first, seed=0, **kwargs)
    model.learn(80)


def test_multi_input_policy_dict_obs(algo):
    cls, kwargs = algo
    model = cls("MultiInputPolicy", SimpleMultiObsEnv(random_start=False), seed=0, **kwargs)
    model.learn(100)
    mean, _ = evaluate_policy(model, model.get_env(), n_eval_episodes=1)
    assert np.isfinite(mean)
    with pytest.raises(ValueError, match="MultiInputPolicy"):
        algo[0]("MlpPolicy", SimpleMultiObsEnv(), **algo[1])


def test_identity_discrete_and_box_envs(algo):
    cls, kwargs = algo
    for env in (IdentityEnv(4), IdentityEnvBox(ep_length=10)):
        model = cls("MlpPolicy", env, seed=0, **kwargs)
        model.learn(100)


class _BadObsEnv(gym.Env):
    observation_space = spaces.Tuple([spaces.Box(0, 1, (2,)), spaces.Box(0, 1, (3,))])
    action_space = spaces.Discrete(2)


class _BadActEnv(gym.Env):
    observation_space = spaces.Box(-1, 1, (2,))
    action_space = spaces.MultiBinary(2)


def test_unsupported_spaces_raise_value_error(algo):
    cls, kwargs = algo
    with pytest.raises(ValueError, match="Unsupported observation space"):
        cls("MlpPolicy", _BadObsEnv(), **kwargs)
    with pytest.raises((ValueError, AssertionError), match=r"MultiBinary|action"):
        cls("MlpPolicy", _BadActEnv(), **kwargs)
    img84 = DummyVecEnv([lambda: FakeImageEnv()])
    with pytest.raises(ValueError, match="divisible by 16"):
        cls("CnnPolicy", img84, **kwargs)


def test_corrupt_checkpoint_clear_error(algo, tmp_path):
    cls, _ = algo
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match="zip"):
        cls.load(bad)
    bad_replay = tmp_path / "r.pkl"
    bad_replay.write_bytes(b"garbage")
    model = cls("MlpPolicy", "CartPole-v1", **algo[1])
    with pytest.raises(ValueError, match="corrupt"):
        model.load_replay_buffer(bad_replay)


def test_tensorboard_and_csv_logging_of_loss_terms(algo, tmp_path):
    from stable_baselines3.common.logger import configure

    cls, kwargs = algo
    model = cls("MlpPolicy", "CartPole-v1", seed=0, tensorboard_log=str(tmp_path / "tb"), **kwargs)
    model.set_logger(configure(str(tmp_path / "csv"), ["csv"]))
    model.learn(400, log_interval=1)
    header = (tmp_path / "csv" / "progress.csv").read_text().splitlines()[0]
    for key in ("train/model_loss", "train/kl_loss", "train/reward_loss", "rollout/ep_rew_mean", "time/fps"):
        assert key in header
