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


def test_load_streams_without_a_second_copy(tmp_path):
    """Loading an image replay peaks at about the replay's own size (no full intermediate copy), and restores it
    exactly, also into a larger capacity that keeps the stored steps at the start of each env's ring."""
    import tracemalloc

    shapes = {"image": ((3, 64, 64), np.uint8), "vec": ((5,), np.float32)}
    rng = np.random.default_rng(0)
    buf = SequenceReplay(2 * 600, 2, shapes, 3, seed=1)
    for t in range(500):
        buf.add(
            {"image": rng.integers(0, 256, (2, 3, 64, 64), dtype=np.uint8), "vec": rng.normal(size=(2, 5)).astype(np.float32)},
            rng.normal(size=(2, 3)).astype(np.float32),
            rng.normal(size=2).astype(np.float32),
            np.array([t % 50 == 0, t % 70 == 0]),
            np.array([t % 50 == 49, False]),
        )
    path = tmp_path / "replay.npz"
    buf.save(path)
    tracemalloc.start()
    loaded = SequenceReplay.load(path, obs_shapes=shapes, capacity=2 * 600)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak <= 1.2 * loaded.nbytes, (peak, loaded.nbytes)
    for name in ("action", "reward", "is_first", "is_terminal", "pos", "full"):
        assert np.array_equal(getattr(loaded, name), getattr(buf, name)), name
    for k in shapes:
        assert np.array_equal(loaded.obs[k], buf.obs[k]), k
    assert np.array_equal(loaded.sample(4, 10).obs["image"], buf.sample(4, 10).obs["image"])
    bigger = SequenceReplay.load(path, obs_shapes=shapes, capacity=2 * 900)
    assert np.array_equal(bigger.obs["image"][:, :500], buf.obs["image"][:, :500])


def test_load_rejects_truncated_member(tmp_path):
    import zipfile

    buf = SequenceReplay(20, 1, SHAPES, 2, seed=0)
    fill(buf, 10, 1)
    path = tmp_path / "r.npz"
    buf.save(path)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(tmp_path / "bad.npz", "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data[:-8] if name == "reward.npy" else data)
    with pytest.raises(ValueError, match="truncated"):
        SequenceReplay.load(tmp_path / "bad.npz")


def test_warns_when_replay_cannot_fit(monkeypatch):
    import dreamer_sb3.common.replay as replay

    shapes = {"image": ((3, 64, 64), np.uint8)}
    assert SequenceReplay.required_bytes(1000, shapes, 2) == 1000 * (3 * 64 * 64 + 8 + 4 + 2)
    monkeypatch.setattr(replay, "available_memory", lambda: 10_000_000)
    with pytest.warns(UserWarning, match="not have apparently enough memory"):
        SequenceReplay(1000, 1, shapes, 2).warn_if_too_large()
    with warnings_none():
        SequenceReplay(100, 1, shapes, 2).warn_if_too_large()


def warnings_none():
    import warnings

    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.simplefilter("error")

    class _Exit:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            ctx.__exit__(*exc)
            return False

    return _Exit()


# ---------------------------------------------------------------- replay context (stored latents)
def _latent_of(step: np.ndarray) -> np.ndarray:
    """A latent that names its step: ``(step, -step, 0.5)`` (exact in float16 for steps < 2048)."""
    step = np.asarray(step, np.float32)
    return np.stack([step, -step, np.full_like(step, 0.5)], -1)


def test_context_windows_start_from_the_latent_stored_before_them():
    buf = SequenceReplay(100, 2, SHAPES, 2, seed=0, latent_dim=3)
    fill(buf, 40, 2)
    # steps 0..29 hold latents naming them; 30..39 hold none (as if never acted on nor replayed)
    buf.update_latents((np.array([[0], [1]]), np.tile(np.arange(30), (2, 1))), _latent_of(np.tile(np.arange(30), (2, 1))))
    batch = buf.sample(500, 5, context=2)
    steps = batch.obs["obs"][..., 1]
    assert batch.obs["obs"].shape == (500, 5, 2) and (np.diff(steps, axis=1) == 1).all()
    # the window's first trained step is at least 2 (2 context steps drawn), the context is step first - 1
    assert steps[:, 0].min() == 2 and steps[:, 0].max() == 35
    before = steps[:, 0] - 1
    assert np.array_equal(batch.has_context, before < 30)
    assert batch.context.dtype == np.float32 and batch.context.shape == (500, 3)
    assert np.array_equal(batch.context[before < 30], _latent_of(before[before < 30]))
    env, idx = batch.index  # where the window's posteriors go back
    assert np.array_equal(idx, steps.astype(int)) and np.array_equal(env[:, 0], batch.obs["obs"][:, 0, 0].astype(int))
    # without context: no context fields, windows from step 0
    plain = buf.sample(500, 5)
    assert plain.context is None and plain.index is None and plain.obs["obs"][:, 0, 1].min() == 0


def test_latents_set_for_the_latest_step_cleared_when_overwritten_and_written_back():
    buf = SequenceReplay(8, 1, SHAPES, 2, seed=0, latent_dim=3)  # a ring of 8 steps
    fill(buf, 5, 1)
    assert not buf.has_latent.any()  # new steps hold no latent
    buf.set_latest_latents(_latent_of(np.array([4])), np.array([0]))
    assert np.flatnonzero(buf.has_latent[0]).tolist() == [4] and buf.latent[0, 4, 0] == 4
    buf.update_latents((np.array([[0]]), np.array([[0, 1, 2]])), _latent_of(np.array([[10, 11, 12]])))
    assert np.flatnonzero(buf.has_latent[0]).tolist() == [0, 1, 2, 4] and buf.latent[0, 1, 0] == 11
    fill(buf, 4, 1)  # 4 more steps: slots 5, 6, 7, 0; slot 0 is overwritten and loses its latent
    assert np.flatnonzero(buf.has_latent[0]).tolist() == [1, 2, 4]
    with pytest.raises(ValueError, match="latent_dim > 0"):
        SequenceReplay(8, 1, SHAPES, 2).sample(1, 2, context=1)
    with pytest.raises(ValueError, match="0 or more"):
        buf.sample(1, 2, context=-1)
    with pytest.raises(ValueError, match="no stored step"):
        SequenceReplay(8, 1, SHAPES, 2, latent_dim=3).set_latest_latents(_latent_of(np.array([0])), np.array([0]))
    assert SequenceReplay.required_bytes(10, SHAPES, 2, latent_dim=3) == 10 * (2 * 4 + 16 + 8 + 4 + 2 + 2 * 3 + 1)


def test_context_needs_room_for_the_context_steps():
    buf = SequenceReplay(20, 1, SHAPES, 2, seed=0, latent_dim=3)
    fill(buf, 5, 1)
    assert buf.num_sequences(5) == 1 and buf.num_sequences(6) == 0
    buf.sample(2, 5)
    with pytest.raises(RuntimeError, match="learning_starts"):
        buf.sample(2, 5, context=1)


def test_save_load_keeps_latents_of_the_same_size_only(tmp_path):
    buf = SequenceReplay(40, 1, SHAPES, 2, seed=0, latent_dim=3)
    fill(buf, 12, 1)
    buf.update_latents((np.array([[0]]), np.array([[3, 4, 5]])), _latent_of(np.array([[3, 4, 5]])))
    buf.save(tmp_path / "r.npz")
    same = SequenceReplay.load(tmp_path / "r.npz", obs_shapes=SHAPES)  # latent_dim as saved
    assert same.latent_dim == 3
    assert np.array_equal(same.has_latent, buf.has_latent) and np.array_equal(same.latent, buf.latent)
    other = SequenceReplay.load(tmp_path / "r.npz", obs_shapes=SHAPES, latent_dim=5)  # another model's latent
    assert other.latent_dim == 5 and not other.has_latent.any()
    none = SequenceReplay.load(tmp_path / "r.npz", obs_shapes=SHAPES, latent_dim=0)
    assert none.latent_dim == 0 and none.latent.shape == (1, 40, 0)
    plain = SequenceReplay(40, 1, SHAPES, 2, seed=0)
    fill(plain, 12, 1)
    plain.save(tmp_path / "p.npz")  # a replay saved without latents, loaded for a model with context
    loaded = SequenceReplay.load(tmp_path / "p.npz", obs_shapes=SHAPES, latent_dim=3)
    assert loaded.latent_dim == 3 and not loaded.has_latent.any()
    assert np.array_equal(loaded.reward, plain.reward)


# ---------------------------------------------------------------------------------------------- online queue


def _steps(batch) -> list[list[int]]:
    return batch.obs["obs"][..., 1].astype(int).tolist()


def test_online_queue_replays_each_fresh_window_once_first():
    """As the official replay: every L-th step queues the window of the L steps ending there (step L, 2L, ... by
    0-based index), and batches take queued windows first, oldest first, the rest uniformly."""
    buf = SequenceReplay(100, 1, SHAPES, 2, seed=0, online_length=4)
    fill(buf, 13, 1)  # steps 0..12: windows ending at 4, 8 and 12 queued
    assert list(buf.online_queue) == [(0, 4), (0, 8), (0, 12)]
    first = buf.sample(2, 4)
    assert _steps(first) == [[1, 2, 3, 4], [5, 6, 7, 8]]
    second = buf.sample(3, 4)
    assert _steps(second)[0] == [9, 10, 11, 12] and len(buf.online_queue) == 0
    assert all(np.diff(row).tolist() == [1, 1, 1] for row in _steps(second)[1:])  # uniform rows
    # another window length (or episode-bounded sampling) leaves the queue alone
    fill(buf, 5, 1)
    queued = list(buf.online_queue)
    buf.sample(2, 3)
    buf.sample(2, 4, within_episodes=True)
    assert list(buf.online_queue) == queued


def test_online_queue_per_env_overwritten_windows_dropped_and_off_by_default():
    buf = SequenceReplay(16, 2, SHAPES, 2, seed=0, online_length=3)  # 8 steps per env
    fill(buf, 7, 2)  # per env: windows ending at steps 3 and 6
    assert list(buf.online_queue) == [(0, 3), (1, 3), (0, 6), (1, 6)]
    batch = buf.sample(1, 3)
    assert batch.obs["obs"][0, :, 0].tolist() == [0, 0, 0] and _steps(batch) == [[1, 2, 3]]
    fill(buf, 6, 2)  # steps 7-12 (obs t 0-5) queue windows ending at 9 and 12; rings of 8 keep steps 5-12 only
    batch = buf.sample(2, 3)  # the windows ending at 3 and 6 were overwritten (they start before step 5): dropped
    assert batch.obs["obs"][:, 0, 0].tolist() == [0, 1]  # the windows ending at step 9 of env 0 and env 1
    assert _steps(batch) == [[0, 1, 2], [0, 1, 2]]  # steps 7-9
    assert list(buf.online_queue) == [(0, 12), (1, 12)]
    plain = SequenceReplay(100, 1, SHAPES, 2, seed=0)
    fill(plain, 13, 1)
    assert plain.online_length == 0 and len(plain.online_queue) == 0


def test_online_queue_survives_save_and_load(tmp_path):
    buf = SequenceReplay(100, 1, SHAPES, 2, seed=0, online_length=4)
    fill(buf, 13, 1)
    buf.sample(1, 4)
    buf.save(tmp_path / "r.npz")
    loaded = SequenceReplay.load(tmp_path / "r.npz")
    assert list(loaded.online_queue) == [(0, 8), (0, 12)] and loaded.added.tolist() == [13]
    loaded.online_length = 4  # the algorithm sets it from its own settings
    assert _steps(loaded.sample(1, 4)) == [[5, 6, 7, 8]]
    fill(loaded, 4, 1)  # step 16 queues the window 13..16 (obs t restarts at 0)
    assert list(loaded.online_queue)[-1] == (0, 16)
