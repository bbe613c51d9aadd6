"""``-i`` continue training: rl-zoo3 reloads the agent and the ``replay_buffer.pkl`` saved beside it."""

from dreamer_sb3.common.replay import SequenceReplay
from dreamer_sb3.zoo import train
from dreamer_sb3.zoo.registry import algorithm_class

TINY = [
    "--seed",
    "0",
    "--num-threads",
    "1",
    "--final-eval-episodes",
    "0",
    "--save-replay-buffer",
    "-params",
    "learning_starts:100",
    "train_ratio:8",
    "batch_length:8",
    "batch_size:4",
]


def test_continue_training_restores_the_replay_buffer(tmp_path, capsys):
    train.main(["--algo", "dreamerv3", "--env", "CartPole-v1", "-n", "300", "-f", str(tmp_path), *TINY])
    first = tmp_path / "dreamerv3" / "CartPole-v1_1"
    assert (first / "replay_buffer.pkl").is_file()
    capsys.readouterr()
    train.main(
        [
            "--algo",
            "dreamerv3",
            "--env",
            "CartPole-v1",
            "-n",
            "200",
            "-f",
            str(tmp_path),
            "-i",
            str(first / "CartPole-v1.zip"),
            *TINY,
        ]
    )
    # rl-zoo3 calls model.load_replay_buffer(path, truncate_last_traj=...) (SB3's off-policy signature)
    assert "Loading replay buffer" in capsys.readouterr().out
    second = tmp_path / "dreamerv3" / "CartPole-v1_2"
    # both runs' steps (plus the reset observations that start each episode) are in the second run's replay
    assert len(SequenceReplay.load(first / "replay_buffer.pkl")) >= 300
    assert len(SequenceReplay.load(second / "replay_buffer.pkl")) >= 300 + 200
    # the step count continues (SB3's reset_num_timesteps=False): -n counts the additional steps
    assert algorithm_class("dreamerv3").load(second / "CartPole-v1.zip").num_timesteps == 300 + 200
