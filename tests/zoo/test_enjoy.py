"""rl-zoo3's enjoy through the zoo: the shipped agent by default, and train -> enjoy for every algorithm."""

import re

import pytest

from dreamer_sb3.zoo import enjoy, train
from dreamer_sb3.zoo.registry import ALGORITHMS

TINY_PARAMS = ["-params", "learning_starts:100", "train_ratio:8", "batch_length:8", "batch_size:4"]


def _episode_rewards(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"Episode Reward: (-?[\d.]+)", out)]


def test_enjoy_runs_the_shipped_cartpole_agent_by_default(capsys):
    # no -f: the agents shipped in zoo/agents, no network
    enjoy.main(
        ["--algo", "dreamerv3", "--env", "CartPole-v1", "--no-render", "-n", "520", "--deterministic", "--num-threads", "1"]
    )
    out = capsys.readouterr().out
    assert "zoo/agents/dreamerv3/CartPole-v1_" in out
    rewards = _episode_rewards(out)
    assert rewards and rewards[0] > 100  # a random policy gets about 22


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_train_then_enjoy_round_trip(algo, tmp_path, capsys):
    train.main(
        [
            "--algo",
            algo,
            "--env",
            "CartPole-v1",
            "-n",
            "300",
            "-f",
            str(tmp_path),
            "--seed",
            "0",
            "--num-threads",
            "1",
            "--eval-freq",
            "150",
            "--eval-episodes",
            "1",
            "--save-freq",
            "150",
            "--final-eval-episodes",
            "0",
            *TINY_PARAMS,
        ]
    )
    run = tmp_path / algo / "CartPole-v1_1"
    assert (run / "CartPole-v1.zip").exists() and (run / "best_model.zip").exists()
    assert (run / "rl_model_150_steps.zip").exists()
    capsys.readouterr()
    common = ["--algo", algo, "--env", "CartPole-v1", "-f", str(tmp_path), "--no-render", "-n", "30", "--num-threads", "1"]
    for extra, loaded in [
        ([], "CartPole-v1.zip"),
        (["--load-best"], "best_model.zip"),
        (["--load-checkpoint", "150"], "rl_model_150_steps.zip"),
        (["--load-last-checkpoint", "--stochastic"], "rl_model_300_steps.zip"),
    ]:
        enjoy.main(common + extra)
        out = capsys.readouterr().out
        assert f"Loading {run / loaded}" in out, (extra, out[-500:])
