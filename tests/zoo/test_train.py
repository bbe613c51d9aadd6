"""The zoo's train command: rl-zoo3's train with our algorithms registered and our YAML."""

import pathlib

import pytest

from dreamer_sb3.zoo import train
from dreamer_sb3.zoo.registry import ALGORITHMS, algorithm_class, hyperparams_path


def test_every_algorithm_has_a_yaml_with_cartpole():
    import yaml

    for algo in ALGORITHMS:
        path = hyperparams_path(algo)
        assert path.exists(), path
        cfg = yaml.safe_load(path.read_text())
        assert "CartPole-v1" in cfg and cfg["CartPole-v1"]["policy"] == "MlpPolicy"


def test_train_main_job_tiny_budget(tmp_path, capsys):
    train.main(
        [
            "--algo",
            "dreamerv3",
            "--env",
            "CartPole-v1",
            "-n",
            "400",
            "-f",
            str(tmp_path),
            "--seed",
            "0",
            "--eval-freq",
            "200",
            "--eval-episodes",
            "2",
            "--final-eval-episodes",
            "2",
            "-tb",
            str(tmp_path / "tb"),
            "-params",
            "learning_starts:100",
            "train_ratio:16",
            "batch_length:16",
            "batch_size:4",
        ]
    )
    out = capsys.readouterr().out
    assert "Final evaluation on CartPole-v1" in out and "| random" in out
    # --eval-freq wrote rl-zoo3's best checkpoint: it is evaluated on the same episodes and named with its step
    assert "| dreamerv3 (final, 400)" in out and "best_model.zip" in out
    (best_row,) = [line for line in out.splitlines() if line.startswith("| dreamerv3 (best, ")]
    best_step = int(best_row.split("(best, ")[1].split(")")[0])
    assert best_step in (200, 400)
    run = tmp_path / "dreamerv3" / "CartPole-v1_1"
    assert (run / "CartPole-v1.zip").exists()
    assert (run / "CartPole-v1" / "config.yml").exists()
    assert (run / "evaluations.npz").exists()
    model = algorithm_class("dreamerv3").load(run / "CartPole-v1.zip")
    assert model.num_timesteps >= 400
    # --tensorboard-log: every loss term and the rollout statistics reach TensorBoard
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (tmp_path / "tb").rglob("events.out.tfevents.*")
    tags = set(EventAccumulator(str(events)).Reload().Tags()["scalars"])
    assert {"train/model_loss", "train/actor_loss", "train/critic_loss", "rollout/ep_rew_mean", "eval/mean_reward"} <= tags


def test_unknown_algorithm_clear_error():
    with pytest.raises(ValueError, match="dreamer-sb3 provides"):
        algorithm_class("dreamerv9")


def test_yaml_path_is_inside_package():
    assert pathlib.Path(hyperparams_path("dreamerv3")).parent.name == "hyperparams"


def test_track_logs_the_run_to_wandb_offline(tmp_path, monkeypatch):
    """rl-zoo3's ``--track``: a Weights & Biases run (offline here: no network) that syncs TensorBoard's scalars."""
    pytest.importorskip("wandb", reason="--track needs the `track` extra (wandb); CI installs it")
    monkeypatch.chdir(tmp_path)  # rl-zoo3 writes ./runs/<run name> and wandb ./wandb
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    train.main(
        [
            "--algo",
            "dreamerv3",
            "--env",
            "CartPole-v1",
            "-n",
            "120",
            "-f",
            "logs",
            "--seed",
            "0",
            "--track",
            "--wandb-project-name",
            "dreamer-sb3-test",
            "--final-eval-episodes",
            "0",
            "-params",
            "learning_starts:60",
            "train_ratio:16",
            "batch_length:8",
            "batch_size:2",
        ]
    )
    (run,) = (tmp_path / "wandb").glob("offline-run-*")
    (log,) = run.glob("run-*.wandb")
    assert log.stat().st_size > 0
    (events,) = (tmp_path / "runs").rglob("events.out.tfevents.*")  # what wandb's sync_tensorboard uploads
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    assert "train/model_loss" in EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert (tmp_path / "logs" / "dreamerv3" / "CartPole-v1_1" / "CartPole-v1.zip").exists()
