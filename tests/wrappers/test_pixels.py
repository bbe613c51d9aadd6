"""PixelObservation and the pixel classic-control envs."""

import cv2
import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dreamer_sb3.wrappers import PixelObservation, make_pixel_env
from tests.wrappers.scripted_envs import ScriptedEnv


def expected_frame(env: ScriptedEnv, size=(64, 64)) -> np.ndarray:
    return cv2.resize(env.render(), (size[1], size[0]), interpolation=cv2.INTER_AREA)


def test_image_space_and_values():
    inner = ScriptedEnv()
    env = PixelObservation(inner, size=(64, 48))
    assert env.observation_space == spaces.Box(0, 255, (64, 48, 3), np.uint8)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (64, 48, 3) and obs.dtype == np.uint8
    np.testing.assert_array_equal(obs, expected_frame(inner, (64, 48)))
    for t in range(1, 4):
        obs, reward, terminated, truncated, info = env.step(0)
        assert info["t"] == t and reward == 1.0 and not terminated and not truncated
        np.testing.assert_array_equal(obs, expected_frame(inner, (64, 48)))
        assert obs in env.observation_space


def test_default_size_is_64x64_and_no_resize_when_matching():
    env = PixelObservation(ScriptedEnv(frame_shape=(64, 64)))
    assert env.observation_space.shape == (64, 64, 3)
    obs, _ = env.reset()
    np.testing.assert_array_equal(obs, env.unwrapped.render())


def test_grayscale_keeps_channel_axis():
    inner = ScriptedEnv()
    env = PixelObservation(inner, grayscale=True)
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 1), np.uint8)
    obs, _ = env.reset()
    env.step(0)
    obs, *_ = env.step(0)
    assert obs.shape == (64, 64, 1) and obs.dtype == np.uint8
    rgb = expected_frame(inner).astype(np.float64)
    gray = (rgb @ np.array([0.2125, 0.7154, 0.0721])).astype(np.uint8)  # gymnasium's GrayscaleObservation
    np.testing.assert_array_equal(obs[..., 0], gray)


def test_keep_state_box():
    inner = ScriptedEnv()
    env = PixelObservation(inner, keep_state=True)
    assert isinstance(env.observation_space, spaces.Dict)
    assert set(env.observation_space.spaces) == {"image", "state"}
    assert env.observation_space["state"] == inner.observation_space
    obs, _ = env.reset()
    obs, *_ = env.step(1)
    np.testing.assert_array_equal(obs["state"], [1.0])
    np.testing.assert_array_equal(obs["image"], expected_frame(inner))
    assert obs in env.observation_space


def test_keep_state_dict_is_merged_and_key_clash_rejected():
    inner = gym.wrappers.TransformObservation(
        ScriptedEnv(), lambda o: {"counter": o}, spaces.Dict({"counter": spaces.Box(0.0, np.inf, (1,), np.float32)})
    )
    env = PixelObservation(inner, keep_state=True)
    assert set(env.observation_space.spaces) == {"image", "counter"}
    obs, _ = env.reset()
    assert obs in env.observation_space
    with pytest.raises(ValueError, match="already exists"):
        PixelObservation(inner, keep_state=True, image_key="counter")


def test_clear_error_without_rgb_array():
    with pytest.raises(ValueError, match=r"render_mode='rgb_array'.*gym.make\('CartPole-v1', render_mode='rgb_array'\)"):
        PixelObservation(gym.make("CartPole-v1"))
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        PixelObservation(ScriptedEnv(render_mode=None))


def test_seeding_is_the_wrapped_envs():
    def rollout(seed):
        env = PixelObservation(gym.make("CartPole-v1", render_mode="rgb_array"))
        obs, _ = env.reset(seed=seed)
        frames = [obs]
        for _ in range(5):
            frames.append(env.step(1)[0])
        return np.stack(frames)

    np.testing.assert_array_equal(rollout(3), rollout(3))
    assert not np.array_equal(rollout(3), rollout(4))


@pytest.mark.parametrize("keep_state", [False, True])
def test_env_checkers(keep_state):
    env = PixelObservation(gym.make("CartPole-v1", render_mode="rgb_array"), keep_state=keep_state)
    check_env(env, skip_render_check=False)
    # the spec rebuilds the same env (internal gymnasium wrappers are not listed twice)
    rebuilt = env.spec.make()
    assert rebuilt.observation_space == env.observation_space
    sb3_check_env(PixelObservation(gym.make("CartPole-v1", render_mode="rgb_array"), keep_state=keep_state))


def test_make_pixel_env():
    env = make_pixel_env("Pendulum-v1", size=(32, 32), max_episode_steps=3)
    assert env.observation_space.shape == (32, 32, 3)
    assert isinstance(env.action_space, spaces.Box)
    env.reset(seed=0)
    flags = [env.step(env.action_space.sample())[3] for _ in range(3)]
    assert flags == [False, False, True]
    with pytest.raises(ValueError, match="rgb_array"):
        make_pixel_env("Pendulum-v1", render_mode="human")


def test_headless_pixel_env_is_quiet_and_import_sets_nothing():
    """Without a display, building a pixel env selects SDL's dummy driver (no pygame XDG_RUNTIME_DIR error); importing
    the package touches no environment variable; a driver the user chose is kept."""
    import os
    import subprocess
    import sys

    code = (
        "import os, gymnasium as gym, dreamer_sb3.wrappers\n"
        "assert 'SDL_VIDEODRIVER' not in os.environ\n"
        "env = gym.make('dreamer_sb3/CartPole-pixels-v0'); env.reset(seed=0); env.step(0)\n"
        "print(os.environ['SDL_VIDEODRIVER'])\n"
    )
    base = {
        k: v for k, v in os.environ.items() if k not in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR")
    }
    out = subprocess.run([sys.executable, "-c", code], env=base, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "dummy" and "XDG_RUNTIME_DIR" not in out.stderr, out.stderr
    chosen = subprocess.run(
        [sys.executable, "-c", code.replace("assert 'SDL_VIDEODRIVER' not in os.environ\n", "")],
        env={**base, "SDL_VIDEODRIVER": "offscreen"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert chosen.returncode == 0 and chosen.stdout.strip() == "offscreen", chosen.stderr
