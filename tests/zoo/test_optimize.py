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


@pytest.fixture
def unconstrained_search():
    yield
    hyperparams_opt.configure_search()  # the constraints are process-wide: reset them for the next test


def test_configure_search_fixes_caps_and_merges(unconstrained_search):
    register_in_rl_zoo3()
    hyperparams_opt.configure_search(
        fixed={"imag_horizon", "actor_lr"}, max_model_size="XS", max_train_ratio=64, base_policy_kwargs={"classes": 0}
    )
    space = hyperparams_opt.search_space("dreamerv1", algorithm_class("dreamerv1"))
    assert "imag_horizon" not in space and "actor_lr" not in space and "critic_lr" in space
    assert space["train_ratio"] == ("categorical", [16, 32, 64])
    assert space["model_size"] == ("categorical", ["tiny", "XS"])
    trial = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0)).ask()
    params = hyperparams_opt.make_sampler("dreamerv1", algorithm_class("dreamerv1"))(trial, 1, 1, {})
    assert params["policy_kwargs"]["classes"] == 0 and params["policy_kwargs"]["model_size"] in ("tiny", "XS")
    assert params["train_ratio"] <= 64 and "imag_horizon" not in params
    hyperparams_opt.configure_search(fixed={"policy_kwargs"})
    assert "model_size" not in hyperparams_opt.search_space("dreamerv3", algorithm_class("dreamerv3"))
    with pytest.raises(ValueError, match="train_ratio"):
        hyperparams_opt.configure_search(max_train_ratio=8)


def test_optimize_two_trials_tiny_budget(tmp_path, capsys, unconstrained_search):
    """Two real trials (budget above learning_starts) in the CPU-sized space the documented command uses."""
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
            "--max-model-size",
            "tiny",
            "--max-train-ratio",
            "16",
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
            "imag_horizon:5",
        ]
    )
    out = capsys.readouterr().out
    assert "Number of finished trials:  2" in out
    reports = list((tmp_path / "dreamerv3").glob("report_Pendulum-v1_2-trials-200-*.csv"))
    assert len(reports) == 1
    df = pd.read_csv(reports[0])
    assert len(df) == 2 and set(df["state"]) == {"COMPLETE"}
    assert {"params_learning_rate", "params_actor_lr", "params_train_ratio", "params_model_size"} <= set(df.columns)
    assert "params_imag_horizon" not in df.columns  # fixed with -params
    assert set(df["params_train_ratio"]) <= {16} and set(df["params_model_size"]) == {"tiny"}


def test_search_spaces_do_not_import_the_registry():
    """The registry imports ``hyperparams_opt``, never the other way round (no import cycle, no deferred import)."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(hyperparams_opt.__file__).read_text())
    imported = [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert imported and not [name for name in imported if name.startswith("dreamer_sb3")]
