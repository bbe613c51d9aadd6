"""Logging as SB3 users expect it, and bounded memory: running means, dumps by updates, TensorBoard runs named per
algorithm, rollout callbacks, Dreamer scalars and open-loop videos read back from the event file."""

from __future__ import annotations

import gc
import glob
import io
import os
import tracemalloc

import numpy as np
import pytest
import torch as th
from PIL import Image
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.envs import FakeImageEnv
from stable_baselines3.common.logger import configure

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common.metrics import RunningMeans
from dreamer_sb3.common.openl import encode_gif, openl_frames
from tests.conftest import ALGOS


def test_running_means_exact_and_reset():
    m = RunningMeans()
    for v in [1.0, 2.0, 6.0]:
        m.add({"a": th.tensor(v), "b": 2 * v})
    m.add({"a": th.tensor(3.0)})
    assert m.count == 4 and len(m) == 2
    assert m.pop_means() == pytest.approx({"a": 3.0, "b": 6.0})
    assert m.pop_means() == {} and len(m) == 0


class _Dumps(BaseCallback):
    """Counts rollout starts / ends."""

    def __init__(self) -> None:
        super().__init__()
        self.starts = self.ends = 0

    def _on_rollout_start(self) -> None:
        self.starts += 1

    def _on_rollout_end(self) -> None:
        self.ends += 1

    def _on_step(self) -> bool:
        assert self.starts == self.ends + 1  # on_step runs inside a rollout
        return True


def _fast_train_step(model):
    def train_step(batch):
        return {"loss": th.tensor(float(model._n_updates)), "other": th.tensor(1.0)}

    model.train_step = train_step


def test_metrics_memory_flat_over_3k_updates_without_episode_dumps():
    """``log_interval=None`` and an env whose episodes outlast the run: memory stays flat, ``train/*`` is dumped every
    ``log_every_updates`` updates, and once more at the end."""
    cls, kwargs = ALGOS["dreamerv3"]
    # batch 2 x 2 and train ratio 40: 10 updates per env step
    kw = dict(kwargs, batch_size=2, batch_length=2, train_ratio=40, learning_starts=2, log_every_updates=500)
    model = cls("MlpPolicy", "Pendulum-v1", **kw, seed=0)
    _fast_train_step(model)
    dumps: list[tuple[int, float]] = []
    logger = configure(None, ["csv"])
    logger.output_formats = []
    record = logger.record

    def spy(key, value, exclude=None):
        if key == "train/loss":
            dumps.append((model._n_updates, value))
        record(key, value, exclude)

    logger.record = spy
    model.set_logger(logger)
    model.learn(101, log_interval=None)  # 100 training steps: 1000 updates (Pendulum's episodes last 200)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    model.learn(200, log_interval=None, reset_num_timesteps=False)  # 2000 more updates
    gc.collect()
    grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(base, "filename"))
    tracemalloc.stop()
    assert model._n_updates >= 3000
    assert len(model._metrics) == 0  # dumped at the end: nothing held
    assert grown < 200_000, f"memory grew by {grown} bytes over 2000 updates"
    updates = [n for n, _ in dumps]
    assert [n for n in updates if n % 500 == 0][:6] == [500, 1000, 1500, 2000, 2500, 3000]
    # each dump logs the mean over the updates since the previous one: loss = n_updates before the update
    assert dumps[0][1] == pytest.approx(np.mean(np.arange(0, 500)))


def test_final_dump_and_rollout_callbacks():
    """A run too short for any episode still logs its ``train/*`` means at the end; rollout callbacks bracket each
    env step as in SB3's off-policy loop."""
    cls, kwargs = ALGOS["dreamerv3"]
    model = cls("MlpPolicy", "Pendulum-v1", **dict(kwargs, learning_starts=16), seed=0)
    logger = configure(None, ["csv"])
    logger.output_formats = []
    seen: dict[str, float] = {}
    record = logger.record
    logger.record = lambda k, v, exclude=None: (seen.__setitem__(k, v), record(k, v, exclude))[1]
    model.set_logger(logger)
    cb = _Dumps()
    model.learn(40, callback=cb, log_interval=4)
    assert cb.starts == cb.ends == 40
    for key in ("train/model_loss", "train/prior_entropy", "train/post_entropy", "train/value_mean", "train/replay_size"):
        assert key in seen, key
    assert seen["train/replay_size"] == 41  # the reset observation and 40 steps
    assert seen["train/model_lr"] == pytest.approx(model.learning_rate)
    assert seen["train/actor_lr"] == pytest.approx(model.actor_lr)


def test_prior_entropy_matches_reference():
    cls, kwargs = ALGOS["dreamerv3"]
    model = cls("MlpPolicy", "Pendulum-v1", **kwargs, seed=0)
    rssm = model.policy.world_model.rssm
    logits = th.log_softmax(th.randn(3, rssm.stoch_vars, rssm.classes), -1)
    expected = th.distributions.Categorical(logits=logits).entropy().sum(-1)
    assert th.allclose(rssm.entropy((logits,)), expected, atol=1e-5)
    cls1, kwargs1 = ALGOS["dreamerv1"]
    rssm1 = cls1("MlpPolicy", "Pendulum-v1", **kwargs1, seed=0).policy.world_model.rssm
    mean, std = th.randn(3, 4), th.rand(3, 4) + 0.1
    expected = th.distributions.Normal(mean, std).entropy().sum(-1)
    assert th.allclose(rssm1.entropy((mean, std)), expected, atol=1e-5)


def _image_model(tmp_path, **extra):
    cls, kwargs = ALGOS["dreamerv3"]
    env = FakeImageEnv(screen_height=64, screen_width=64, n_channels=3)
    kw = dict(kwargs, learning_starts=16, train_ratio=32, batch_length=8)
    kw.update(extra)
    return cls("CnnPolicy", env, **kw, tensorboard_log=str(tmp_path), seed=0)


def test_tensorboard_run_named_per_algorithm_with_scalars_and_video(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    model = _image_model(tmp_path, video_every_updates=4)
    model.learn(32)
    model.learn(8, reset_num_timesteps=False)  # continues the same run folder, as SB3
    assert sorted(os.listdir(tmp_path)) == ["DreamerV3_1"]
    DreamerV3("MlpPolicy", "Pendulum-v1", **ALGOS["dreamerv3"][1], tensorboard_log=str(tmp_path)).learn(2)
    assert sorted(os.listdir(tmp_path)) == ["DreamerV3_1", "DreamerV3_2"]
    assert len(glob.glob(str(tmp_path / "DreamerV3_1" / "events.out.tfevents.*"))) == 2  # one per learn(), as SB3
    acc = EventAccumulator(str(tmp_path / "DreamerV3_1"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    scalars = set(acc.Tags()["scalars"])
    for key in (
        "train/prior_entropy",
        "train/post_entropy",
        "train/value_mean",
        "train/replay_size",
        "train/train_ratio",
        "train/learning_rate",
        "train/actor_lr",
        "train/critic_lr",
        "rollout/ep_rew_mean",
    ):
        assert key in scalars, key
    ratio = [e.value for e in acc.Scalars("train/train_ratio")]
    assert ratio[-1] == pytest.approx(32, rel=0.3)
    images = acc.Images("train/openl_obs")
    assert len(images) == model._n_updates // 4
    gif = Image.open(io.BytesIO(images[-1].encoded_image_string))
    assert gif.format == "GIF" and gif.n_frames == 8
    assert gif.size == (4 * 64, 3 * 64)  # 4 sequences side by side; truth, model, error stacked


def test_openl_frames_layout_and_no_video_without_tensorboard(tmp_path):
    model = _image_model(tmp_path)
    model.learn(24, log_interval=None)
    batch = model.replay_buffer.sample(3, 8).to_torch(model.device)
    frames = openl_frames(model, batch, context=5)["obs"]
    assert frames.shape == (8, 3, 3 * 64, 3 * 64) and frames.dtype == np.uint8
    truth = batch.obs["obs"].cpu().numpy()  # (B, T, C, H, W)
    assert np.array_equal(frames[:, :, :64, 64:128], truth[1])  # the truth row, second sequence
    with pytest.raises(ValueError, match="context"):
        openl_frames(model, batch, context=8)
    assert len(encode_gif(frames)) > 0
    # without a TensorBoard logger, training writes no video and renders none
    calls = []
    model.video_every_updates = 1
    import dreamer_sb3.common.openl as openl

    orig = openl.openl_frames
    openl.openl_frames = lambda *a, **k: calls.append(1) or orig(*a, **k)
    try:
        model.tensorboard_log = None
        model.learn(8, reset_num_timesteps=False)
    finally:
        openl.openl_frames = orig
    assert model._n_updates > 0 and calls == []


def test_log_settings_validated():
    cls, kwargs = ALGOS["dreamerv3"]
    with pytest.raises(ValueError, match="log_every_updates"):
        cls("MlpPolicy", "Pendulum-v1", **dict(kwargs, log_every_updates=-1))
    with pytest.raises(ValueError, match="video_every_updates"):
        cls("MlpPolicy", "Pendulum-v1", **dict(kwargs, video_every_updates=1.5))


def test_gif_colours_are_the_nearest_palette_entry():
    frames = np.random.default_rng(0).integers(0, 256, (3, 3, 16, 16), dtype=np.uint8)
    gif = Image.open(io.BytesIO(encode_gif(frames)))
    assert gif.n_frames == 3
    err = np.abs(np.asarray(gif.convert("RGB")).astype(int) - frames[0].transpose(1, 2, 0)).max(axis=(0, 1))
    assert (err <= np.array([255 / 6, 255 / 6, 255 / 4]) / 2 + 1).all()
    grey = Image.open(io.BytesIO(encode_gif(np.full((1, 3, 4, 4), 128, np.uint8))))
    assert tuple(np.asarray(grey.convert("RGB"))[0, 0]) == (128, 128, 128)  # agreement shows as flat grey
