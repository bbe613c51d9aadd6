"""make_dmc: DeepMind Control from 64x64 pixels, action repeat 2, actions in [-1, 1]."""

import importlib.util
import os
import subprocess
import sys

import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

# Only look the packages up: importing dm_control here would fix its GL backend before make_dmc picks egl.
for _name in ("dm_control", "shimmy", "mujoco"):
    if importlib.util.find_spec(_name) is None:
        pytest.skip(f"{_name} is not installed (pip install 'dreamer-sb3[dmc]')", allow_module_level=True)

from dreamer_sb3.wrappers import make_dmc  # noqa: E402
from dreamer_sb3.wrappers.action_repeat import FRAMES_KEY  # noqa: E402
from dreamer_sb3.wrappers.dmc import DMC_TASKS, normalize_action, parse_dmc_task  # noqa: E402


def test_pixels_actions_and_repeat():
    env = make_dmc("walker-walk")
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert env.action_space == spaces.Box(-1.0, 1.0, (6,), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8 and obs.std() > 0
    obs, reward, _, _, info = env.step(env.action_space.sample())
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    assert isinstance(reward, float) and info[FRAMES_KEY] == 2
    suite_env = env.unwrapped._env
    assert suite_env._step_limit == 1000  # 1000 env steps per episode = 500 agent steps
    np.testing.assert_array_equal(obs, suite_env.physics.render(64, 64, camera_id=0))


def test_episode_end_is_truncation_in_agent_steps():
    # walker's control step is 25 ms: a 0.5 s limit is 20 env steps = 10 agent steps with repeat 2
    env = make_dmc("walker-walk", time_limit=0.5)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[2:4] for _ in range(10)]
    assert flags[-1] == (False, True) and all(f == (False, False) for f in flags[:-1])


def test_quadruped_uses_camera_2_and_cup_alias():
    env = make_dmc("quadruped-walk")
    assert env.unwrapped.render_kwargs["camera_id"] == 2
    assert make_dmc("cup-catch").unwrapped.render_kwargs["camera_id"] == 0
    assert parse_dmc_task("cup_catch") == ("ball_in_cup", "catch")
    assert parse_dmc_task("point_mass-easy") == ("point_mass", "easy")
    assert parse_dmc_task("walker_walk") == ("walker", "walk")
    with pytest.raises(ValueError):
        parse_dmc_task("nothing")


def test_proprio_dict():
    env = make_dmc("cartpole-swingup", proprio=True)
    assert set(env.observation_space.spaces) == {"image", "state"}
    assert env.observation_space["state"].dtype == np.float32
    assert env.observation_space["state"].shape == (5,)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space


def test_state_only_observes_the_flattened_state_without_rendering(monkeypatch):
    env = make_dmc("reacher-easy", from_pixels=False, seed=3)
    assert env.observation_space == spaces.Box(-np.inf, np.inf, (6,), np.float32)  # position 2, to_target 2, velocity 2
    pixels = make_dmc("reacher-easy", proprio=True, seed=3)
    obs, _ = env.reset(seed=3)
    ref, _ = pixels.reset(seed=3)
    np.testing.assert_array_equal(obs, ref["state"])  # the same state the pixel preset's proprio key carries
    action = np.array([0.5, -0.25], np.float32)
    obs, reward, *_ = env.step(action)
    ref, ref_reward, *_ = pixels.step(action)
    np.testing.assert_array_equal(obs, ref["state"])
    assert obs.dtype == np.float32 and reward == ref_reward
    calls = []
    physics = env.unwrapped._env.physics  # shimmy's wrapped dm_control env
    monkeypatch.setattr(type(physics), "render", lambda self, *a, **k: calls.append(1) or np.zeros((64, 64, 3), np.uint8))
    env.step(action)
    assert calls == []  # no frame rendered per step
    pixels.step(action)
    assert calls == [1]  # (the pixel preset renders through the patched call)
    assert env.render().shape == (64, 64, 3)  # render() still draws one
    check_env(make_dmc("cartpole-swingup", from_pixels=False), skip_render_check=False)
    with pytest.raises(ValueError, match="drop proprio=True"):
        make_dmc("cartpole-swingup", from_pixels=False, proprio=True)


def test_seeding():
    a, b = make_dmc("cheetah-run"), make_dmc("cheetah-run")
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
    action = np.linspace(-1, 1, 6, dtype=np.float32)
    np.testing.assert_array_equal(a.step(action)[0], b.step(action)[0])


def test_normalize_action_maps_onto_bounds():
    """gymnasium's RescaleAction + ClipAction, float32 in, the env's dtype (float64, like dm_control's) out."""
    import gymnasium as gym

    sent = []

    class Float64Actions(gym.Env):
        action_space = spaces.Box(0.0, 4.0, (1,), np.float64)
        observation_space = spaces.Box(-1.0, 1.0, (1,), np.float32)

        def reset(self, *, seed=None, options=None):
            return np.zeros(1, np.float32), {}

        def step(self, action):
            sent.append(np.array(action))
            return np.zeros(1, np.float32), 0.0, False, False, {}

    env = normalize_action(Float64Actions())
    assert env.action_space == spaces.Box(-1.0, 1.0, (1,), np.float32)
    env.reset(seed=0)
    for action, expected in [([-1.0], [0.0]), ([0.5], [3.0]), ([7.0], [4.0])]:  # the last one clipped
        env.step(np.array(action, dtype=np.float32))
        np.testing.assert_allclose(sent[-1], expected)
        assert sent[-1].dtype == np.float64
    inner = gym.make("MountainCarContinuous-v0")
    with pytest.raises(ValueError, match="effectively unbounded"):
        normalize_action(gym.wrappers.RescaleAction(inner, np.float32(-1e10), np.float32(1e10)))


def test_lqr_ids_are_not_registered_and_make_dmc_refuses_unbounded_actions():
    """LQR declares ±1e10 action bounds: mapped onto [-1, 1], random actions returned rewards of -8e19."""
    import gymnasium as gym

    from dreamer_sb3.wrappers.dmc import UNBOUNDED_ACTION_TASKS

    assert not [env_id for env_id in gym.registry if env_id.startswith("dreamer_sb3/dmc-lqr")]
    with pytest.raises(ValueError, match="unbounded actions"):
        make_dmc("lqr-lqr_2_1")
    assert UNBOUNDED_ACTION_TASKS == (("lqr", "lqr_2_1"), ("lqr", "lqr_6_2"))


def test_task_list_is_dm_controls_and_shimmys():
    """The written-out list (registration stays import-light) is every suite task with bounded actions, and each has
    shimmy's ``dm_control/<domain>-<task>-v0`` counterpart."""
    import gymnasium as gym

    os.environ.setdefault("MUJOCO_GL", "egl")  # as make_dmc would, before dm_control is imported
    import shimmy.registration  # noqa: F401  (registers the dm_control/ ids)
    from dm_control import suite

    from dreamer_sb3.wrappers.dmc import UNBOUNDED_ACTION_TASKS

    assert set(DMC_TASKS) == set(suite.ALL_TASKS) - set(UNBOUNDED_ACTION_TASKS)
    for domain, task in DMC_TASKS:
        assert f"dm_control/{domain}-{task}-v0" in gym.registry


def test_random_actions_stay_in_the_tasks_range():
    env = make_dmc("cartpole-swingup")
    env.reset(seed=0)
    env.action_space.seed(0)
    for _ in range(20):
        _, reward, *_ = env.step(env.action_space.sample())
        assert isinstance(reward, float) and 0.0 <= reward <= 2.0  # two env steps of a [0, 1] reward


def test_mujoco_gl_set_only_when_unset(monkeypatch):
    monkeypatch.setenv("MUJOCO_GL", "egl")
    make_dmc("cartpole-balance")
    assert os.environ["MUJOCO_GL"] == "egl"
    monkeypatch.delenv("MUJOCO_GL")
    make_dmc("cartpole-balance")
    assert os.environ["MUJOCO_GL"] == "egl"


def test_importing_the_package_does_not_touch_mujoco_gl():
    code = "import os; import dreamer_sb3.wrappers; print(os.environ.get('MUJOCO_GL'))"
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "None"


def test_warns_when_dm_control_was_imported_without_egl():
    code = "import dm_control.suite; from dreamer_sb3.wrappers import make_dmc; make_dmc('cartpole-balance')"
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "imported before make_dmc could set MUJOCO_GL=egl" in out.stderr


def test_first_env_is_not_kept_alive():
    code = """
import gc, weakref
from dreamer_sb3.wrappers import make_dmc
def make():
    env = make_dmc('cartpole-balance')
    env.reset(seed=0)
    return weakref.ref(env.unwrapped)
ref = make()
gc.collect()
print(ref() is None)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "True"


def test_env_checkers():
    check_env(make_dmc("cartpole-swingup"), skip_render_check=False)
    sb3_check_env(make_dmc("cartpole-swingup", proprio=True))
