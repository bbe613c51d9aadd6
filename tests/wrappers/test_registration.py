"""The dreamer_sb3/... gymnasium ids."""

import importlib.util
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env
from stable_baselines3.common.env_util import make_vec_env

from dreamer_sb3.wrappers import ActionRepeat, register_envs, registered_ids
from dreamer_sb3.wrappers.registration import CLASSIC_CONTROL_PIXEL_ENVS

REQUIRED = [
    *(f"dreamer_sb3/dmc-{t}-v0" for t in (
        "walker-walk", "cartpole-swingup", "cartpole-balance", "cheetah-run", "reacher-easy", "finger-spin", "cup-catch",
        "quadruped-walk", "hopper-hop", "walker-run", "acrobot-swingup", "pendulum-swingup", "humanoid-walk",
    )),
    *(f"dreamer_sb3/atari-{g}-v0" for g in ("pong", "breakout", "space_invaders", "montezuma_revenge", "ms_pacman")),
    *(f"dreamer_sb3/{n}-pixels-v0" for n in ("CartPole", "Pendulum", "Acrobot", "MountainCar", "MountainCarContinuous")),
    "dreamer_sb3/crafter-v0",
    *(f"dreamer_sb3/minecraft-{t}-v0" for t in ("diamond", "wood", "climb")),
    *(f"dreamer_sb3/minecraft-standin-{t}-v0" for t in ("diamond", "wood", "climb")),
]  # fmt: skip


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def test_ids_are_registered_on_import_and_registration_is_idempotent():
    ids = [i for i in gym.registry if i.startswith("dreamer_sb3/")]
    assert set(REQUIRED) <= set(ids)
    assert set(ids) == set(registered_ids())
    proprio = [i for i in registered_ids() if i.startswith("dreamer_sb3/dmc-proprio-")]
    assert len([i for i in registered_ids() if i.startswith("dreamer_sb3/dmc-")]) - len(proprio) == 49  # all but LQR
    assert sorted(proprio) == sorted(
        i.replace("/dmc-", "/dmc-proprio-") for i in registered_ids() if i.startswith("dreamer_sb3/dmc-") and i not in proprio
    )  # each pixel task also from its state
    assert len([i for i in registered_ids() if i.startswith("dreamer_sb3/atari-")]) == 108  # every ROM
    specs = {i: gym.spec(i) for i in ids}
    register_envs()
    register_envs()
    assert [i for i in gym.registry if i.startswith("dreamer_sb3/")] == ids
    assert all(gym.spec(i) is specs[i] for i in ids)
    assert all(isinstance(s.entry_point, str) for s in specs.values())


def test_import_is_cheap_and_has_no_side_effects():
    """Load the wrappers package alone (its parent stubbed, so the algorithms' imports are not measured)."""
    code = f"""
import os, sys, types, importlib.util
before = dict(os.environ)
import gymnasium  # sets PYGAME_HIDE_SUPPORT_PROMPT itself
before_ours = dict(os.environ)
parent = types.ModuleType("dreamer_sb3"); parent.__path__ = []; sys.modules["dreamer_sb3"] = parent
spec = importlib.util.spec_from_file_location(
    "dreamer_sb3.wrappers", {os.path.join(os.path.dirname(__file__), "..", "..", "wrappers", "__init__.py")!r},
    submodule_search_locations=[{os.path.join(os.path.dirname(__file__), "..", "..", "wrappers")!r}])
module = importlib.util.module_from_spec(spec); sys.modules["dreamer_sb3.wrappers"] = module
spec.loader.exec_module(module)
heavy = [m for m in ("cv2", "ale_py", "dm_control", "mujoco", "shimmy", "torch", "crafter", "minerl", "pygame")
         if m in sys.modules]
assert not heavy, heavy
assert dict(os.environ) == before_ours, "importing the wrappers changed the environment"
assert any(i.startswith("dreamer_sb3/") for i in gymnasium.registry)
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if k != "MUJOCO_GL"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.parametrize("name", sorted(CLASSIC_CONTROL_PIXEL_ENVS))
def test_pixel_classic_control_ids(name):
    env = gym.make(f"dreamer_sb3/{name}-pixels-v0")
    assert env.observation_space == gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 64, 3) and obs.dtype == np.uint8
    check_env(env, skip_render_check=False)
    sb3_check_env(gym.make(f"dreamer_sb3/{name}-pixels-v0"))


def test_kwargs_are_forwarded_and_vec_envs_work():
    env = gym.make("dreamer_sb3/CartPole-pixels-v0", size=(32, 32), grayscale=True)
    assert env.observation_space.shape == (32, 32, 1)
    vec = make_vec_env("dreamer_sb3/CartPole-pixels-v0", n_envs=2, seed=0)
    obs = vec.reset()
    assert obs.shape == (2, 64, 64, 3) and obs.dtype == np.uint8
    obs, _, _, _ = vec.step(np.array([0, 1]))
    assert obs.shape == (2, 64, 64, 3)
    vec.close()


def test_minecraft_standin_ids():
    env = gym.make("dreamer_sb3/minecraft-standin-diamond-v0")
    assert env.action_space == gym.spaces.Discrete(25)
    check_env(env, skip_render_check=False)
    sb3_check_env(gym.make("dreamer_sb3/minecraft-standin-wood-v0"))


@pytest.mark.skipif(not has("ale_py"), reason="ale-py is not installed (pip install 'dreamer-sb3[atari]')")
def test_atari_ids():
    env = gym.make("dreamer_sb3/atari-pong-v0")
    assert env.observation_space.shape == (64, 64, 3)
    check_env(env, skip_render_check=False)
    sb3_check_env(gym.make("dreamer_sb3/atari-space_invaders-v0", grayscale=True))


@pytest.mark.skipif(not (has("dm_control") and has("shimmy")), reason="dm_control/shimmy missing (extra 'dmc')")
def test_dmc_ids():
    env = gym.make("dreamer_sb3/dmc-walker-walk-v0")
    assert env.observation_space.shape == (64, 64, 3)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    check_env(env, skip_render_check=False)
    sb3_check_env(gym.make("dreamer_sb3/dmc-cup-catch-v0", action_repeat=4))
    env = gym.make("dreamer_sb3/dmc-reacher-easy-v0", action_repeat=4)
    while not isinstance(env, ActionRepeat):
        env = env.env
    assert env.repeat == 4
    env = gym.make("dreamer_sb3/dmc-proprio-cartpole-swingup-v0")
    assert env.observation_space == gym.spaces.Box(-np.inf, np.inf, (5,), np.float32)
    sb3_check_env(env)


@pytest.mark.skipif(not has("crafter"), reason="crafter is not installed (extra 'crafter')")
def test_crafter_id():
    env = gym.make("dreamer_sb3/crafter-v0")
    assert env.observation_space.shape == (64, 64, 3) and env.action_space.n == 17
    check_env(env, skip_render_check=False)
    sb3_check_env(gym.make("dreamer_sb3/crafter-v0"))
