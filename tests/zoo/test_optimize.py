"""Optuna through rl-zoo3's -optimize: a sampler and a converter for every algorithm, and two trials end to end."""

import inspect

import optuna
import pandas as pd
import pytest

from dreamer_sb3.zoo import hyperparams_opt, train
from dreamer_sb3.zoo.registry import ALGORITHMS, algorithm_class, register_in_rl_zoo3


@pytest.mark.parametrize("algo", sorted(ALGORITHMS))
def test_every_algorithm_gets_a_sampler_and_converter(algo):
    import rl_zoo3.hyperparams_opt as opt

    register_in_rl_zoo3()
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = opt.HYPERPARAMS_SAMPLER[algo](trial, 1, 1, {})
    accepted = set(inspect.signature(algorithm_class(algo).__init__).parameters)
    assert set(params) - {"policy_kwargs"} <= accepted
    assert params["policy_kwargs"]["model_size"] in ("tiny", "XS", "S")
    assert {"learning_rate", "train_ratio"} <= set(params)
    # the converter turns stored raw trial parameters back into the same hyperparameters
    assert opt.HYPERPARAMS_CONVERTER[algo](trial.params) == params
    if algo == "planet":
        assert {"planning_horizon", "n_candidates"} <= set(params) and "actor_lr" not in params
    else:
        assert {"actor_lr", "critic_lr", "imag_horizon"} <= set(params)


def test_optimize_two_trials_tiny_budget(tmp_path, monkeypatch, capsys):
    # the full search space includes S-size models at train ratio 512: narrow it to keep the test fast
    monkeypatch.setitem(hyperparams_opt.SEARCH_SPACE, "train_ratio", ("categorical", [8, 16]))
    monkeypatch.setitem(hyperparams_opt.SEARCH_SPACE, "imag_horizon", ("categorical", [5]))
    monkeypatch.setitem(hyperparams_opt.POLICY_SEARCH_SPACE, "model_size", ("categorical", ["tiny"]))
    train.main(
        [
            "--algo",
            "dreamerv3",
            "--env",
            "Pendulum-v1",
            "-optimize",
            "--n-trials",
            "2",
            "--n-timesteps",
            "200",
            "-f",
            str(tmp_path),
            "--seed",
            "0",
            "--num-threads",
            "1",
            "--no-optim-plots",
            "--eval-episodes",
            "1",
            "-params",
            "learning_starts:100",
            "batch_length:8",
            "batch_size:4",
        ]
    )
    out = capsys.readouterr().out
    assert "Number of finished trials:  2" in out
    reports = list((tmp_path / "dreamerv3").glob("report_Pendulum-v1_2-trials-200-*.csv"))
    assert len(reports) == 1
    df = pd.read_csv(reports[0])
    assert len(df) == 2 and set(df["state"]) == {"COMPLETE"}
    assert {"params_learning_rate", "params_actor_lr", "params_train_ratio", "params_model_size"} <= set(df.columns)


def test_search_spaces_do_not_import_the_registry():
    """The registry imports ``hyperparams_opt``, never the other way round (no import cycle, no deferred import)."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(hyperparams_opt.__file__).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and not [name for name in imported if name.startswith("dreamer_sb3")]
