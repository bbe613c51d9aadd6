"""Every YAML entry of every algorithm is usable: its env id exists, its keys are constructor arguments, its
model size and wrappers resolve, its status is stated; one DMC and one Atari entry build and update for real."""

import inspect
import os

import gymnasium as gym
import pytest
import yaml

import dreamer_sb3.wrappers  # noqa: F401  (registers the dreamer_sb3/ ids)
from dreamer_sb3.common.sizes import MODEL_SIZES
from dreamer_sb3.zoo import train
from dreamer_sb3.zoo.list import yaml_status
from dreamer_sb3.zoo.registry import ALGORITHMS, algorithm_class, hyperparams_path

#: keys rl-zoo3's ExperimentManager consumes itself (never passed to the algorithm)
RL_ZOO_KEYS = {
    "n_timesteps",
    "n_envs",
    "env_wrapper",
    "env_kwargs",
    "normalize",
    "frame_stack",
    "callback",
    "vec_env_wrapper",
    "monitor_kwargs",
    "policy",
}
CLASSIC = ["CartPole-v1", "Acrobot-v1", "Pendulum-v1", "MountainCarContinuous-v0"]


def _entries():
    for algo in ALGORITHMS:
        text = hyperparams_path(algo).read_text()
        for env_id, params in yaml.safe_load(text).items():
            yield algo, env_id, params


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_every_algorithm_covers_classic_control_pixels_and_dmc(algo):
    cfg = yaml.safe_load(hyperparams_path(algo).read_text())
    assert set(CLASSIC) <= set(cfg), sorted(set(CLASSIC) - set(cfg))
    assert "dreamer_sb3/CartPole-pixels-v0" in cfg
    assert any(k.startswith("dreamer_sb3/dmc-") for k in cfg)
    if algo != "planet":  # PlaNet is a continuous-control method: no Atari in its paper
        assert any(k.startswith("dreamer_sb3/atari-") for k in cfg)


def test_every_entry_is_valid():
    problems = []
    statuses = {algo: yaml_status(hyperparams_path(algo).read_text()) for algo in ALGORITHMS}
    for algo, env_id, params in _entries():
        where = f"{algo}.yml {env_id}"
        cls = algorithm_class(algo)
        accepted = set(inspect.signature(cls.__init__).parameters)
        unknown = set(params) - RL_ZOO_KEYS - accepted
        if unknown:
            problems.append(f"{where}: {sorted(unknown)} are not {cls.__name__} arguments")
        if params.get("policy") not in cls.policy_aliases:
            problems.append(f"{where}: policy {params.get('policy')!r}")
        kwargs = eval(params.get("policy_kwargs", "dict()"))  # rl-zoo3 evaluates the string the same way
        if kwargs.get("model_size", "S") not in MODEL_SIZES:
            problems.append(f"{where}: model_size {kwargs['model_size']!r}")
        for wrapper in params.get("env_wrapper", []):
            name = next(iter(wrapper)) if isinstance(wrapper, dict) else wrapper
            module, _, attr = name.rpartition(".")
            if not hasattr(__import__(module, fromlist=[attr]), attr):
                problems.append(f"{where}: wrapper {name}")
        try:
            gym.spec(env_id)
        except gym.error.Error as exc:
            problems.append(f"{where}: {exc}")
        status = statuses[algo].get(env_id, "")
        if not status.startswith(("tuned here", "paper setting", "not yet verified here", "not a PlaNet task")):
            problems.append(f"{where}: no status comment ({status!r})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "algo,env_id",
    [
        ("dreamerv3", "dreamer_sb3/dmc-walker-walk-v0"),
        ("dreamerv3", "dreamer_sb3/dmc-proprio-cartpole-swingup-v0"),
        ("dreamerv2", "dreamer_sb3/atari-pong-v0"),
    ],
)
def test_paper_entries_build_and_update(algo, env_id, tmp_path, monkeypatch, capsys):
    """The paper-size entries (model size S / "v2", 64x64 pixels) run through rl-zoo3: a few env steps and
    one update, with the batch shortened to keep the test fast."""
    monkeypatch.setenv("MUJOCO_GL", os.environ.get("MUJOCO_GL", "egl"))
    train.main(
        [
            "--algo",
            algo,
            "--env",
            env_id,
            "-n",
            "24",
            "-f",
            str(tmp_path),
            "--seed",
            "0",
            "--eval-freq",
            "-1",
            "--final-eval-episodes",
            "0",
            "-params",
            "learning_starts:16",
            "train_ratio:8",
            "batch_length:8",
            "batch_size:2",
            "buffer_size:100",
        ]
    )
    model = algorithm_class(algo).load(next(tmp_path.rglob("*.zip")))
    assert model.num_timesteps >= 24 and model._n_updates >= 1
