"""Sequence replay: uniform windows, no frame copies, is_first across boundaries, multi-env, persistence."""

import numpy as np
import pytest

from dreamer_sb3.common.replay import SequenceReplay

SHAPES = {"obs": ((2,), np.float32), "image": ((1, 4, 4), np.uint8)}


def fill(buf, n_steps, n_envs, episode_len=None):
    """Obs holds (env id, global step); episodes of ``episode_len`` steps start with is_first."""
    for t in range(n_steps):
        obs = {
            "obs": np.stack([np.array([e, t], np.float32) for e in range(n_envs)]),
            "image": np.full((n_envs, 1, 4, 4), t % 256, np.uint8),
        }
        first = np.full(n_envs, episode_len is not None and t % episode_len == 0) | (t == 0)
        buf.add(obs, np.zeros((n_envs, 2), np.float32), np.full(n_envs, t, np.float32), first, np.zeros(n_envs, bool))


def test_uniform_coverage_of_all_windows():
    buf = SequenceReplay(10, 1, SHAPES, 2, seed=0)
    fill(buf, 10, 1)
    assert buf.num_sequences(3) == 8
    starts = buf.sample(40000, 3).obs["obs"][:, 0, 1]
    counts = np.bincount(starts.astype(int), minlength=8)
    assert len(counts) == 8 and counts.min() > 0
    assert np.abs(counts / counts.sum() - 1 / 8).max() < 0.01


def test_windows_are_contiguous_and_frames_stored_once():
    buf = SequenceReplay(1000, 1, SHAPES, 2, seed=0)
    fill(buf, 300, 1)
    batch = buf.sample(64, 50)
    steps = batch.obs["obs"][..., 1]
    assert (np.diff(steps, axis=1) == 1).all()
    assert batch.obs["image"].shape == (64, 50, 1, 4, 4) and batch.obs["image"].dtype == np.uint8
    # storage holds each frame once: its size does not depend on how many windows exist
    assert buf.obs["image"].shape == (1, 1000, 1, 4, 4)


def test_is_first_marks_episode_boundaries_inside_windows():
    buf = SequenceReplay(100, 1, SHAPES, 2, seed=0)
    fill(buf, 60, 1, episode_len=10)
    batch = buf.sample(200, 15)
    steps = batch.obs["obs"][..., 1].astype(int)
    assert np.array_equal(batch.is_first, steps % 10 == 0)
    assert batch.is_first[:, 1:].any()  # windows do cross boundaries


def test_multi_env_windows_never_mix_envs_and_ring_wraps():
    buf = SequenceReplay(40, 2, SHAPES, 2, seed=0)  # 20 steps per env
    fill(buf, 35, 2)
    assert buf.full.all() and len(buf) == 40
    batch = buf.sample(500, 8)
    env_ids = batch.obs["obs"][..., 0]
    assert (env_ids == env_ids[:, :1]).all()
    assert set(np.unique(env_ids[:, 0])) == {0.0, 1.0}
    steps = batch.obs["obs"][..., 1]
    assert (np.diff(steps, axis=1) == 1).all()  # never across the write pointer
    assert steps.min() >= 15  # only the newest 20 steps are kept


def test_extra_add_for_one_env():
    buf = SequenceReplay(20, 2, {"obs": ((1,), np.float32)}, 1, seed=0)
    buf.add({"obs": np.ones((2, 1), np.float32)}, np.zeros((2, 1)), np.zeros(2), np.ones(2, bool), np.zeros(2, bool))
    buf.add(
        {"obs": np.full((1, 1), 7, np.float32)},
        np.zeros((1, 1)),
        np.zeros(1),
        np.ones(1, bool),
        np.zeros(1, bool),
        env_ids=np.array([1]),
    )
    assert buf.sizes().tolist() == [1, 2]


def test_not_enough_data_error():
    buf = SequenceReplay(20, 1, SHAPES, 2)
    fill(buf, 3, 1)
    with pytest.raises(RuntimeError, match="learning_starts"):
        buf.sample(2, 5)


def test_save_load_roundtrip_and_corrupt_file(tmp_path):
    buf = SequenceReplay(40, 2, SHAPES, 2, seed=3)
    fill(buf, 27, 2, episode_len=5)
    path = tmp_path / "replay.pkl"
    buf.save(path)
    loaded = SequenceReplay.load(path, obs_shapes=SHAPES)
    assert np.array_equal(loaded.pos, buf.pos) and np.array_equal(loaded.full, buf.full)
    a, b = buf.sample(16, 6), loaded.sample(16, 6)  # same RNG state -> same batch
    for k in ("action", "reward", "is_first"):
        assert np.array_equal(getattr(a, k), getattr(b, k))
    assert np.array_equal(a.obs["image"], b.obs["image"])
    with pytest.raises(ValueError, match="model expects"):
        SequenceReplay.load(path, obs_shapes={"obs": ((3,), np.float32)})
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"not a replay")
    with pytest.raises(ValueError, match="corrupt"):
        SequenceReplay.load(bad)
