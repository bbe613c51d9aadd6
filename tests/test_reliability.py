"""Nothing poisoned: bad data, bad updates, bad arguments and spaces, crashing workers, the wrong file.

Each test checks one guarantee of ``docs/reliability.md``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.logger import configure
from stable_baselines3.common.vec_env import DummyVecEnv

from dreamer_sb3 import DreamerV1, DreamerV2, DreamerV3, PlaNet
from dreamer_sb3.common.actions import ActionCodec
from dreamer_sb3.common.guard import NonFiniteDataError, NonFiniteUpdateError
from dreamer_sb3.common.networks import ObsLayout, preprocess_vectors
from dreamer_sb3.common.replay import SequenceReplay
from tests.conftest import ALGOS, TINY

V3_TINY = dict(TINY, imag_horizon=5)


class BadValueEnv(gym.Env):
    """A 3-D vector env whose episodes last ``ep_len`` steps; at step ``bad_at`` of episode ``bad_episode`` (counted
    from 0) it puts ``value`` into the observation (``where="obs"``), the reward (``"reward"``), or the terminal
    observation (``"terminal"``: the episode ends there)."""

    def __init__(self, where="obs", value=np.nan, bad_at=5, bad_episode=0, ep_len=10, dtype=np.float32, every=False):
        self.observation_space = spaces.Box(-np.inf, np.inf, (3,), dtype)
        self.action_space = spaces.Discrete(2)
        self.where, self.value, self.bad_at, self.bad_episode, self.ep_len = where, value, bad_at, bad_episode, ep_len
        self.every = every
        self.dtype = dtype
        self.t = 0
        self.episode = -1

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.episode += 1
        return np.zeros(3, self.dtype), {}

    def step(self, action):
        self.t += 1
        obs = np.full(3, float(self.t), self.dtype)
        reward = 1.0
        bad = self.t == self.bad_at and (self.every or self.episode == self.bad_episode)
        terminated = self.t >= self.ep_len or (bad and self.where == "terminal")
        if bad and self.where in ("obs", "terminal"):
            obs[1] = self.value
        if bad and self.where == "reward":
            reward = self.value
        return obs, reward, terminated, False, {}


def _v3(env, **kw) -> DreamerV3:
    return DreamerV3("MlpPolicy", env, seed=0, **{**V3_TINY, **kw})


# ----------------------------------------------------------------------------------------------- bad data
@pytest.mark.parametrize(
    "where, value, fragment",
    [
        ("obs", np.nan, "observation key 'obs' of env 0 holds nan at index (1,)"),
        ("obs", np.inf, "observation key 'obs' of env 0 holds inf"),
        ("terminal", np.nan, "terminal observation key 'obs' of env 0 holds nan"),
        ("reward", np.nan, "the reward of env 0 is nan"),
    ],
)
def test_bad_value_raises_naming_env_step_key_value(where, value, fragment):
    model = _v3(BadValueEnv(where, value, bad_at=5), learning_starts=1000)
    with pytest.raises(NonFiniteDataError) as err:
        model.learn(30)
    msg = str(err.value)
    assert fragment in msg and "At step 5 (num_timesteps)" in msg and "on_bad_data='drop'" in msg
    assert np.isfinite(model.replay_buffer.obs["obs"]).all() and len(model.replay_buffer) == 5  # reset + 4 good steps


def test_float64_beyond_float32_range_raises():
    model = _v3(BadValueEnv("obs", 1e39, dtype=np.float64), learning_starts=1000)
    with pytest.raises(NonFiniteDataError, match=r"1e\+39 \(beyond float32's range: it would become inf\)"):
        model.learn(30)


def test_nan_in_second_env_names_env_index():
    env = DummyVecEnv([lambda: BadValueEnv("obs", bad_episode=99), lambda: BadValueEnv("obs", bad_at=3)])
    model = _v3(env, learning_starts=1000)
    with pytest.raises(NonFiniteDataError, match=r"At step 6 \(num_timesteps\), observation key 'obs' of env 1 holds nan"):
        model.learn(40)


@pytest.mark.parametrize("where", ["obs", "terminal", "reward"])
def test_drop_mode_keeps_replay_finite_and_consistent(where):
    """Bad steps are left out, counted, logged; the next stored step starts a sequence; training stays finite."""
    env = BadValueEnv(where, bad_at=4, ep_len=10, every=True)
    model = _v3(env, on_bad_data="drop", learning_starts=32, train_ratio=32)
    model.set_logger(configure(None, ["csv"]))
    with pytest.warns(UserWarning, match="dropped from the replay"):
        model.learn(100)
    buf = model.replay_buffer
    n = len(buf)
    assert np.isfinite(buf.obs["obs"][0, :n]).all() and np.isfinite(buf.reward[0, :n]).all()
    episodes = 100 // 10 if where != "terminal" else 100 // 4
    assert model._dropped_steps == episodes
    obs, first = buf.obs["obs"][0, :n], buf.is_first[0, :n]
    if where != "terminal":  # the step after the dropped t=4 (t=5, value 5) starts a new sequence, with no action / reward
        after = np.flatnonzero(obs[:, 0] == 5.0)
        assert first[after].all() and (buf.action[0, after] == 0).all() and (buf.reward[0, after] == 0).all()
        assert not (obs[:, 0] == 4.0).any()  # every t=4 step was dropped
    # a stored step is either the start of a sequence or follows the previous stored step of its episode
    t = obs[:, 0]
    follows = np.r_[False, (t[1:] == t[:-1] + 1) & ~first[1:]]
    assert (first | follows).all()
    assert model._n_updates > 0
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    rec = {}
    model.logger.record = lambda k, v, exclude=None: rec.__setitem__(k, v)  # type: ignore[method-assign]
    model.logger.dump = lambda step=0: None  # type: ignore[method-assign]
    model.dump_logs()
    assert rec["train/dropped_steps"] == episodes and rec["train/skipped_updates"] == 0


def test_drop_mode_bad_reset_observation_restarts_the_sequence():
    class BadReset(BadValueEnv):
        def reset(self, *, seed=None, options=None):
            obs, info = super().reset(seed=seed)
            if self.episode == 1:
                obs[0] = np.nan
            return obs, info

    model = _v3(BadReset("obs", bad_episode=99, ep_len=5), on_bad_data="drop", learning_starts=1000)
    with pytest.warns(UserWarning, match="observation key 'obs' of env 0 holds nan"):
        model.learn(12)
    buf = model.replay_buffer
    t, first = buf.obs["obs"][0, : len(buf), 0], buf.is_first[0, : len(buf)]
    # episode 0: reset + 5 steps; episode 1's reset dropped, its first step (t=1) starts the sequence instead
    assert list(t) == [0, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 0, 1, 2] and list(np.flatnonzero(first)) == [0, 6, 11]
    assert model._dropped_steps == 1


def test_on_bad_data_is_validated():
    with pytest.raises(ValueError, match="on_bad_data must be one of"):
        _v3("CartPole-v1", on_bad_data="ignore")


# ----------------------------------------------------------------------------------------------- update guard
def _filled(cls, kwargs, **extra):
    model = cls("MlpPolicy", "CartPole-v1", seed=0, **{**kwargs, "learning_starts": 10_000, **extra})
    model.learn(64)  # random phase only: the replay fills, no update runs
    return model


def _snapshot(model) -> dict[str, th.Tensor]:
    state = {f"policy.{k}": v.clone() for k, v in model.policy.state_dict().items()}
    for name in model.policy.optimizer_names():
        opt = getattr(model.policy, name)
        for i, s in opt.state_dict()["state"].items():
            state.update({f"{name}.{i}.{k}": v.clone() for k, v in s.items() if th.is_tensor(v)})
    return state


@pytest.mark.parametrize("name", sorted(ALGOS))
def test_nan_batch_leaves_weights_unchanged(name):
    cls, kwargs = ALGOS[name]
    model = _filled(cls, kwargs)
    model.train(1)  # optimiser states exist
    batch = model.replay_buffer.sample(4, 8)
    batch.obs["obs"][1, 3] = np.nan
    before = _snapshot(model)
    skipped = model._skipped_updates
    model.policy.set_training_mode(True)
    model.train_step(batch.to_torch(model.device))
    after = _snapshot(model)
    assert model._skipped_updates > skipped
    assert before.keys() == after.keys()
    for k in before:
        assert th.equal(before[k], after[k]), k
        assert th.isfinite(after[k].float()).all(), k
    model.train(2)  # good batches train again
    assert model._skips_in_a_row == 0


def test_k_skipped_updates_in_a_row_raise():
    model = _filled(DreamerV3, V3_TINY, max_skipped_updates=3)
    model.replay_buffer.reward[:] = np.nan  # poison the replay behind the data guard's back
    with pytest.raises(NonFiniteUpdateError, match=r"3 updates in a row \(max_skipped_updates=3\)"):
        model.train(10)
    assert model._n_updates == 3 and model._skipped_updates >= 3
    assert all(th.isfinite(p).all() for p in model.policy.parameters())
    norm = model.policy.return_norm
    assert norm is not None and th.isfinite(norm.lo) and th.isfinite(norm.hi)


def test_max_skipped_updates_is_validated():
    with pytest.raises(ValueError, match="max_skipped_updates must be at least 1"):
        _v3("CartPole-v1", max_skipped_updates=0)


# ----------------------------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(train_ratio=0), "train_ratio must be a positive number"),
        (dict(train_ratio=-3), "train_ratio must be a positive number"),
        (dict(batch_size=0), "batch_size must be at least 1"),
        (dict(buffer_size=5), "fewer than batch_length (8)"),
        (dict(learning_starts=-1), "learning_starts must be 0 or more"),
        (dict(imag_horizon=0), "imag_horizon must be at least 1"),
        (dict(discount=0.0), r"discount must be in (0, 1]"),
        (dict(discount=1.5), r"discount must be in (0, 1]"),
    ],
)
def test_bad_arguments_fail_at_construction(kwargs, fragment):
    with pytest.raises(ValueError) as err:
        _v3("CartPole-v1", **kwargs)
    assert fragment in str(err.value)


def test_buffer_smaller_than_envs_or_windows():
    env = DummyVecEnv([lambda: gym.make("CartPole-v1")] * 4)
    with pytest.raises(ValueError, match=r"buffer_size \(3\) must be at least the number of envs \(4\)"):
        _v3(env, buffer_size=3)
    with pytest.raises(ValueError, match=r"keeps 5 steps per env with 4 env\(s\).*buffer_size >= batch_length \* n_envs = 32"):
        _v3(env, buffer_size=20)


def test_learn_negative_timesteps():
    with pytest.raises(ValueError, match="total_timesteps must be 0 or more"):
        _v3("CartPole-v1").learn(-5)


@pytest.mark.parametrize(
    "key, value, hint",
    [
        ("net_arch", [64, 64], "net_arch -> units (width) and layers (depth)"),
        ("activation_fn", th.nn.ReLU, "activation_fn -> act='silu'"),
        ("features_extractor_class", object, "features_extractor_class -> the encoders are built"),
    ],
)
def test_sb3_policy_kwargs_are_mapped(key, value, hint):
    with pytest.raises(TypeError) as err:
        _v3("CartPole-v1", policy_kwargs=dict(TINY["policy_kwargs"], **{key: value}))
    msg = str(err.value)
    assert f"unknown policy_kwargs ['{key}']" in msg and hint in msg and "'units'" in msg and "'model_size'" in msg


def test_planet_policy_kwargs_accept_its_own_and_dreamer_keys():
    cls, kwargs = ALGOS["planet"]
    cls("MlpPolicy", "Pendulum-v1", **kwargs)  # planning_horizon (PlanetPolicy) + model_size (DreamerPolicy)
    with pytest.raises(TypeError, match=r"PlanetPolicy got unknown policy_kwargs \['plan_len'\]"):
        cls("MlpPolicy", "Pendulum-v1", **dict(kwargs, policy_kwargs=dict(kwargs["policy_kwargs"], plan_len=3)))


class SpaceEnv(gym.Env):
    def __init__(self, obs_space, act_space=None):
        self.observation_space = obs_space
        self.action_space = act_space if act_space is not None else spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        assert self.action_space.contains(np.asarray(action, dtype=self.action_space.dtype)), action
        self.t += 1
        return self.observation_space.sample(), float(np.sum(action)), self.t >= 12, False, {}


def test_multibinary_action_space_is_a_clear_value_error():
    with pytest.raises(ValueError, match=r"Unsupported action space MultiBinary\(3\).*Box \(1-D, bounded\), Discrete"):
        _v3(SpaceEnv(spaces.Box(-1, 1, (3,)), spaces.MultiBinary(3)))


@pytest.mark.parametrize(
    "space", [spaces.Text(8), spaces.Sequence(spaces.Discrete(3)), spaces.Graph(spaces.Box(0, 1, (2,)), None)]
)
def test_unsupported_observation_spaces_fail_before_sb3_wraps(space):
    with pytest.raises(ValueError, match=r"Unsupported observation space .* Dreamer agents support Box"):
        _v3(SpaceEnv(space))


def test_unsupported_space_inside_dict():
    space = spaces.Dict(a=spaces.Box(0, 1, (2,)), b=spaces.Text(4))
    with pytest.raises(ValueError, match="key 'b' of the Dict"):
        DreamerV3("MultiInputPolicy", SpaceEnv(space), **V3_TINY)


# ----------------------------------------------------------------------------------------------- spaces
@pytest.mark.parametrize(
    "space, fix",
    [
        (spaces.Box(0, 255, (2, 64, 64, 3), np.uint8), "merge the frames into the channel axis"),
        (spaces.Box(0, 255, (64, 64), np.uint8), "grayscale image without a channel axis"),
        (spaces.Box(0.0, 1.0, (64, 64, 3), np.float32), "images must be uint8 in [0, 255], this one is float32"),
        (spaces.Box(-1.0, 1.0, (5,), np.float32), "use MlpPolicy"),
    ],
)
def test_cnn_policy_on_non_images_says_how_to_fix(space, fix):
    with pytest.raises(ValueError) as err:
        DreamerV3("CnnPolicy", SpaceEnv(space), **V3_TINY)
    assert "CnnPolicy needs an image observation" in str(err.value) and fix in str(err.value)


def test_uint8_non_image_observations_are_stored_as_uint8():
    model = DreamerV3("MlpPolicy", SpaceEnv(spaces.Box(0, 255, (2, 8, 8, 3), np.uint8)), **V3_TINY)
    assert model.replay_buffer.obs["obs"].dtype == np.uint8
    model.learn(20)
    assert len(model.replay_buffer) == 22  # reset, 20 steps, the reset after the 12-step episode


@pytest.mark.parametrize(
    "act_space", [spaces.Discrete(3, start=5), spaces.MultiDiscrete([3, 2], start=[-1, 4]), spaces.Discrete(2, start=-1)]
)
def test_start_offsets_for_discrete_actions(act_space):
    codec = ActionCodec(act_space)
    acts = np.array([act_space.sample() for _ in range(20)])
    assert np.array_equal(codec.to_env(codec.from_env(acts)), acts)
    model = DreamerV3("MlpPolicy", SpaceEnv(spaces.Box(-1, 1, (3,)), act_space), seed=0, **{**V3_TINY, "learning_starts": 8})
    model.learn(30)  # the env asserts every action is inside the space (random and policy phases)
    action, _ = model.predict(np.zeros(3, np.float32))
    assert act_space.contains(np.asarray(action, dtype=act_space.dtype))


def test_discrete_observation_with_start_one_hot():
    space = spaces.Dict(d=spaces.Discrete(4, start=-2), m=spaces.MultiDiscrete([2, 3], start=[1, 10]))
    layout = ObsLayout(space)
    obs = {"d": th.tensor([[-2], [1]]), "m": th.tensor([[1, 12], [2, 10]])}
    x = preprocess_vectors(obs, layout, 1)
    expected = th.tensor([[1, 0, 0, 0, 1, 0, 0, 0, 1], [0, 0, 0, 1, 0, 1, 1, 0, 0]], dtype=th.float32)
    assert th.equal(x, expected)
    DreamerV3("MultiInputPolicy", SpaceEnv(space), seed=0, **{**V3_TINY, "learning_starts": 8}).learn(24)


# ----------------------------------------------------------------------------------------------- worker crashes
WORKER_CRASH_SCRIPT = textwrap.dedent(
    """
    import gymnasium as gym, torch
    from stable_baselines3.common.vec_env import SubprocVecEnv
    from dreamer_sb3 import DreamerV3
    from dreamer_sb3.common.workers import WorkerCrashError

    torch.set_num_threads(1)

    class Crash(gym.Wrapper):
        def __init__(self, env, crash):
            super().__init__(env)
            self.crash, self.n = crash, 0
        def step(self, action):
            self.n += 1
            if self.crash and self.n == 7:
                raise RuntimeError("boom from inside the env")
            return self.env.step(action)

    if __name__ == "__main__":
        env = SubprocVecEnv([lambda: Crash(gym.make("CartPole-v1"), False), lambda: Crash(gym.make("CartPole-v1"), True)],
                            start_method="fork")  # fork: the workers need not re-import torch (seconds on CI)
        model = DreamerV3("MlpPolicy", env, learning_starts=1000, batch_size=2, batch_length=4, buffer_size=100,
                          policy_kwargs=dict(model_size="tiny"))
        try:
            model.learn(100)
        except WorkerCrashError as e:
            assert env.closed and not any(p.is_alive() for p in env.processes)
            print("CAUGHT", e)
    """
)


def test_worker_crash_reraises_worker_traceback_without_hanging(tmp_path):
    script = tmp_path / "crash.py"
    script.write_text(WORKER_CRASH_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-3000:]
    caught = out.stdout[out.stdout.index("CAUGHT") :]
    assert "worker 1 (pid" in caught and "exited with code 1" in caught
    assert 'raise RuntimeError("boom from inside the env")' in caught and "RuntimeError: boom from inside the env" in caught
    assert "at num_timesteps=12" in caught  # 6 good vector steps of 2 envs, then the crash


# ----------------------------------------------------------------------------------------------- loading files
@pytest.fixture(scope="module")
def saved_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, (cls, kwargs) in ALGOS.items():
        paths[cls.__name__] = folder / f"{name}.zip"
        cls("MlpPolicy", "Pendulum-v1", seed=0, **kwargs).save(paths[cls.__name__])
    paths["PPO"] = folder / "ppo.zip"
    PPO("MlpPolicy", "Pendulum-v1", n_steps=64).save(paths["PPO"])
    return paths


@pytest.mark.parametrize("loader", [PlaNet, DreamerV1, DreamerV2, DreamerV3])
def test_loading_another_algorithms_zip_names_it(saved_models, loader):
    for saved, path in saved_models.items():
        if saved == loader.__name__:
            assert type(loader.load(path)) is loader
            continue
        with pytest.raises(ValueError) as err:
            loader.load(path)
        if saved == "PPO":
            assert f"holds a PPO model, not a {loader.__name__} model: load it with PPO.load" in str(err.value)
        else:
            assert f"holds a {saved} model; load it with {saved}.load (not {loader.__name__}.load)" in str(err.value)


def test_loading_from_a_file_object_names_the_algorithm(saved_models):
    f = io.BytesIO(saved_models["DreamerV2"].read_bytes())
    with pytest.raises(ValueError, match="holds a DreamerV2 model"):
        DreamerV3.load(f)
    f.seek(0)
    assert isinstance(DreamerV2.load(f), DreamerV2)


def test_replay_with_bad_crc_is_a_value_error(tmp_path):
    buf = SequenceReplay(64, 1, {"obs": ((3,), np.dtype(np.float32))}, 2, seed=0)
    for t in range(20):
        buf.add({"obs": np.full((1, 3), t, np.float32)}, np.zeros((1, 2)), np.ones(1), np.zeros(1, bool), np.zeros(1, bool))
    path = tmp_path / "replay.npz"
    buf.save(path)
    raw = bytearray(path.read_bytes())
    pos = raw.index(b"\x93NUMPY", raw.index(b"obs.obs.npy")) + 200  # inside the member's array data
    raw[pos] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"Cannot read replay buffer from .*corrupt.*(CRC|crc)"):
        SequenceReplay.load(path)


def test_learning_with_warnings_is_quiet_by_default():
    """The guards cost nothing visible on a clean run: no warnings, no drops, no skips."""
    model = _v3("CartPole-v1", learning_starts=32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.learn(64)
    assert model._dropped_steps == 0 and model._skipped_updates == 0 and model._n_updates > 0
