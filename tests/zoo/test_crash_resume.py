"""Crash-safe training through the zoo: ``kill -9`` mid-run, then ``-i`` resumes weights, replay and step count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from dreamer_sb3.common.replay import SequenceReplay
from dreamer_sb3.zoo import train
from dreamer_sb3.zoo.checkpoints import replay_path_for, save_atomically
from dreamer_sb3.zoo.registry import algorithm_class
from tests.conftest import ALGOS

PARAMS = [
    "-params",
    "learning_starts:150",
    "train_ratio:8",
    "batch_length:8",
    "batch_size:4",
    "policy_kwargs:dict(model_size='tiny', units=32, deter=32, hidden=32, stoch=4, classes=4)",
]
COMMON = ["--algo", "dreamerv3", "--env", "Pendulum-v1", "--seed", "0", "--num-threads", "1", "--final-eval-episodes", "0"]


def test_replay_path_for_checkpoints():
    assert replay_path_for("/r/rl_model_400_steps.zip") == "/r/rl_model_replay_buffer_400_steps.pkl"
    assert replay_path_for("/r/latest.zip") == "/r/latest_replay_buffer.pkl"
    assert replay_path_for("/r/Pendulum-v1.zip") == "/r/replay_buffer.pkl"


def test_atomic_save_leaves_the_previous_file_when_interrupted(tmp_path, monkeypatch):
    cls, kwargs = ALGOS["dreamerv3"]
    model = cls("MlpPolicy", "Pendulum-v1", **kwargs, seed=0)
    path = str(tmp_path / "m.zip")
    save_atomically(model, path, str(tmp_path / "r.pkl"))
    before = open(path, "rb").read()

    def crash(*args, **kwargs):
        with open(args[0], "wb") as f:
            f.write(b"half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(model, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_atomically(model, path)
    assert open(path, "rb").read() == before  # the complete previous file, untouched
    assert len(SequenceReplay.load(tmp_path / "r.pkl")) == 0  # a complete (empty: nothing collected) replay file


@pytest.mark.slow(minutes=1)
def test_kill_9_then_resume_restores_replay_and_step_count(tmp_path, capsys):
    folder = tmp_path / "logs"
    cmd = [sys.executable, "-m", "dreamer_sb3.zoo.train", *COMMON, "-n", "100000", "--save-freq", "100", "-f", str(folder)]
    proc = subprocess.Popen([*cmd, *PARAMS], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    run = folder / "dreamerv3" / "Pendulum-v1_1"
    ckpt = run / "rl_model_200_steps.zip"
    deadline = time.monotonic() + 120
    try:
        while not ckpt.exists():
            assert proc.poll() is None, proc.stderr.read().decode()[-3000:] if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint after 2 minutes"
            time.sleep(0.2)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # only the newest replay checkpoint is kept; a model file always has its replay (written first)
    models = sorted(run.glob("rl_model_*_steps.zip"))
    replays = sorted(run.glob("rl_model_replay_buffer_*_steps.pkl"))
    assert len(replays) == 1 and not list(run.glob("*.tmp"))
    newest = max(models, key=lambda p: int(p.stem.split("_")[-2]))
    assert replays[0] == tmp_path / replay_path_for(str(newest))
    saved = algorithm_class("dreamerv3").load(newest)
    steps, updates = saved.num_timesteps, saved._n_updates
    assert steps >= 200 and updates > 0
    stored = len(SequenceReplay.load(replays[0]))
    assert stored >= steps - 1  # every step but the one in flight when the checkpoint was written

    capsys.readouterr()
    train.main([*COMMON, "-n", "40", "-f", str(folder), "-i", str(newest), "--save-replay-buffer", *PARAMS])
    out = capsys.readouterr().out
    assert "Loading the checkpoint's replay buffer" in out
    resumed = run.parent / "Pendulum-v1_2"
    model = algorithm_class("dreamerv3").load(resumed / "Pendulum-v1.zip")
    assert model.num_timesteps == steps + 40  # the step count continues
    # training went on at once (no second random prefill of learning_starts=150 steps): 40 steps owe 10 updates
    assert model._n_updates == updates + 10
    # the resumed replay holds the checkpoint's steps, then the reset observation and the 40 new steps
    assert len(SequenceReplay.load(resumed / "replay_buffer.pkl")) == stored + 1 + 40


def test_latest_checkpoint_every_few_minutes(tmp_path):
    from dreamer_sb3.zoo.checkpoints import LatestCheckpointCallback

    cls, kwargs = ALGOS["dreamerv3"]
    model = cls("MlpPolicy", "Pendulum-v1", **dict(kwargs, learning_starts=10), seed=0)
    cb = LatestCheckpointCallback(minutes=1e-9, save_path=str(tmp_path))  # due at every step
    model.learn(12, callback=cb)
    saved = cls.load(tmp_path / "latest.zip")
    assert saved.num_timesteps == 12
    assert len(SequenceReplay.load(tmp_path / "latest_replay_buffer.pkl")) == 12  # reset + 11 stored before the save
    assert sorted(p.name for p in tmp_path.iterdir()) == ["latest.zip", "latest_replay_buffer.pkl"]
    with pytest.raises(ValueError, match="positive"):
        LatestCheckpointCallback(minutes=0, save_path=str(tmp_path))
