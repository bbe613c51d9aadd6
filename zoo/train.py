"""Train (and evaluate) a Dreamer agent with rl-zoo3's own command line.

Every rl-zoo3 ``train`` flag works (``-n``, ``--seed``, ``-f``, ``-tb``, ``--eval-freq``,
``--save-freq``, ``-i``, ``-optimize``, ...). What this module adds:

- our algorithms are registered in rl-zoo3 (``--algo dreamerv3``);
- our ``zoo/hyperparams/<algo>.yml`` is the default ``--conf-file``;
- after training, the final model is evaluated beside a uniformly random policy
  (``--final-eval-episodes N``, 0 to skip) and the comparison is printed.

Example::

    python -m dreamer_sb3.zoo.train --algo dreamerv3 --env CartPole-v1 -f logs/
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import numpy as np

from dreamer_sb3.zoo._cli import argv_as, flag_value
from dreamer_sb3.zoo.registry import ALGORITHMS, hyperparams_path, register_in_rl_zoo3


def _our_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--final-eval-episodes", type=int, default=10)
    ours, rest = parser.parse_known_args(argv)
    return ours, rest


def evaluate_against_random(model_path: str, algo: str, env_id: str, n_episodes: int, seed: int = 0) -> dict:
    """Mean ± std return of the saved agent (deterministic) and of a random policy on fresh envs."""
    import gymnasium as gym
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    from dreamer_sb3.zoo.registry import algorithm_class

    model = algorithm_class(algo).load(model_path, device="cpu")
    env = make_vec_env(env_id, n_envs=1, seed=seed + 1000)
    mean, std = evaluate_policy(model, env, n_eval_episodes=n_episodes, deterministic=True)
    rand_env = gym.make(env_id)
    rand_env.action_space.seed(seed)
    returns = []
    for ep in range(n_episodes):
        rand_env.reset(seed=seed + 2000 + ep)
        done, total = False, 0.0
        while not done:
            _, r, term, trunc, _ = rand_env.step(rand_env.action_space.sample())
            total += float(r)
            done = term or trunc
        returns.append(total)
    return {"agent_mean": float(mean), "agent_std": float(std), "random_mean": float(np.mean(returns)),
            "random_std": float(np.std(returns)), "episodes": n_episodes}


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.train [rl-zoo3 train flags]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, argv = _our_args(argv)
    register_in_rl_zoo3()
    algo = flag_value(argv, "--algo", default="ppo")
    if algo in ALGORITHMS and flag_value(argv, "-conf", "--conf-file") is None:
        argv += ["--conf-file", str(hyperparams_path(algo))]
    import rl_zoo3.train
    from huggingface_sb3 import EnvironmentName
    from rl_zoo3.utils import get_latest_run_id

    with argv_as(argv):
        rl_zoo3.train.train()

    optimizing = "-optimize" in argv or "--optimize-hyperparameters" in argv
    if ours.final_eval_episodes <= 0 or optimizing or algo not in ALGORITHMS:
        return
    env_id = flag_value(argv, "--env", default="CartPole-v1")
    folder = flag_value(argv, "-f", "--log-folder", default="logs")
    env_name = EnvironmentName(env_id)
    log_path = os.path.join(folder, algo)
    run_dir = os.path.join(log_path, f"{env_name}_{get_latest_run_id(log_path, env_name)}")
    model_path = os.path.join(run_dir, f"{env_name}.zip")
    res = evaluate_against_random(model_path, algo, env_id, ours.final_eval_episodes)
    print(f"\n== Final evaluation on {env_id} ({res['episodes']} episodes, deterministic) ==")
    print("| policy    | mean return | std    |\n|-----------|-------------|--------|")
    print(f"| {algo:<9} | {res['agent_mean']:>11.1f} | {res['agent_std']:>6.1f} |")
    print(f"| random    | {res['random_mean']:>11.1f} | {res['random_std']:>6.1f} |")
    print(f"Model: {model_path}")


if __name__ == "__main__":
    main()
