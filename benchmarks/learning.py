"""Learning benchmark: DreamerV3 (MlpPolicy) on CartPole-v1 against SB3's PPO and DQN.

A preset of :mod:`dreamer_sb3.zoo.benchmark`: the same env-step budget for every algorithm,
rl-zoo3's tuned hyperparameters for the baselines, 3 seeds, deterministic evaluation every
1000 env steps on 10 episodes. Reports env steps to reach mean return 475.

Usage::

    python benchmarks/learning.py                 # writes benchmarks/results/learning/
    python benchmarks/learning.py --seeds 1 -n 5000
"""

from __future__ import annotations

import argparse
import os

from dreamer_sb3.zoo.benchmark import run_benchmark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="CartPole-v1")
    parser.add_argument("--algos", nargs="+", default=["dreamerv3", "ppo", "dqn"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("-n", "--n-timesteps", type=int, default=20_000)
    parser.add_argument("--eval-freq", type=int, default=1000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "results", "learning"))
    args = parser.parse_args()
    run_benchmark([args.env], args.algos, args.seeds, args.output, args.n_timesteps, args.eval_freq, args.eval_episodes)


if __name__ == "__main__":
    main()
