"""Train (and evaluate) a Dreamer agent with rl-zoo3's own command line.

Every rl-zoo3 ``train`` flag works (``-n``, ``--seed``, ``-f``, ``-tb``, ``--eval-freq``,
``--save-freq``, ``-i``, ``-optimize``, ...). What this module adds:

- our algorithms are registered in rl-zoo3 (``--algo dreamerv3``);
- our ``zoo/hyperparams/<algo>.yml`` is the default ``--conf-file``;
- after training, the final model is evaluated beside a uniformly random policy
  (``--final-eval-episodes N``, 0 to skip) and the comparison is printed; with ``--eval-freq``, rl-zoo3's
  best evaluation checkpoint (``best_model.zip``) is evaluated on the same episodes and printed too;
- with ``-optimize``: hyperparameters given with ``-params`` stay fixed, ``--max-model-size tiny`` and
  ``--max-train-ratio N`` narrow the search space (CPU-sized trials; see :mod:`dreamer_sb3.zoo.hyperparams_opt`).
- crash-safe checkpoints (:mod:`dreamer_sb3.zoo.checkpoints`): ``--save-freq N`` also saves the replay with each model
  checkpoint (``--no-checkpoint-replay`` to skip it), ``--checkpoint-minutes M`` keeps a ``latest.zip`` (+ replay)
  every ``M`` minutes, every file is written atomically, and ``-i`` resumes the replay and the step count;
- files are read without running code from them (:mod:`dreamer_sb3.zoo.safe_files`; ``--allow-pickle`` to trust
  them).

``--help`` lists rl-zoo3's flags, then these.

Example::

    python -m dreamer_sb3.zoo.train --algo dreamerv3 --env CartPole-v1 -f logs/

Under ``torchrun --nproc_per_node N -m dreamer_sb3.zoo.train ...`` every rank trains (data-parallel, see
``docs/distributed.md``); rank 0 writes the one run folder (model, config, logs, evaluations, checkpoints) and
runs the final evaluation; ranks ``> 0`` keep rl-zoo3's per-run files in a private temporary folder, and only
their replays (``--save-replay-buffer``) are moved into rank 0's run folder (``replay_buffer.rank<r>.pkl``),
where ``-i`` finds them to resume.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from dreamer_sb3.common.safe_load import trust_pickled_files
from dreamer_sb3.zoo._cli import argv_as, flag_value
from dreamer_sb3.zoo.checkpoints import crash_safe_rl_zoo3
from dreamer_sb3.zoo.registry import ALGORITHMS, hyperparams_path, register_in_rl_zoo3
from dreamer_sb3.zoo.safe_files import safe_run_files


def _our_parser() -> argparse.ArgumentParser:
    """The flags this module adds to rl-zoo3's ``train`` (shown by ``--help`` after rl-zoo3's own)."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("dreamer-sb3 flags (besides rl-zoo3's above)")
    group.add_argument(
        "--final-eval-episodes",
        type=int,
        default=10,
        help="after training, evaluate the final model (and, with --eval-freq, the best evaluation checkpoint) and "
        "a uniformly random policy on this many deterministic episodes each and print them (0: skip; not with "
        "-optimize) (default: 10)",
    )
    group.add_argument(
        "--max-model-size",
        choices=["tiny", "XS", "S"],
        default=None,
        help="with -optimize: the largest model size preset the search may sample (tiny: CPU-sized trials) "
        "(default: every size of the search space)",
    )
    group.add_argument(
        "--max-train-ratio",
        type=int,
        default=None,
        help="with -optimize: the largest train ratio the search may sample (default: every value of the search space)",
    )
    group.add_argument(
        "--no-checkpoint-replay",
        action="store_true",
        help="do not save the replay with each --save-freq checkpoint (by default it is, so -i resumes it after a crash)",
    )
    group.add_argument(
        "--checkpoint-minutes",
        type=float,
        default=0.0,
        help="also keep a latest.zip (+ its replay) every this many minutes of wall-clock time (0: off) (default: 0)",
    )
    group.add_argument(
        "--allow-pickle",
        action="store_true",
        help="unpickle model zips and run files as SB3 / rl-zoo3 do (only for files you trust: pickles can run code)",
    )
    return parser


def _our_args(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    ours, rest = _our_parser().parse_known_args(argv)
    return ours, rest


def _print_our_help() -> None:
    print()
    print(_our_parser().format_help().split("\n\n", 1)[1].strip("\n"))  # without its usage line
    print("Hyperparameters given with -params stay fixed during -optimize (the search skips them).")


class _RandomPolicy:
    """Uniformly random actions through the ``predict`` interface ``evaluate_policy`` expects."""

    def __init__(self, action_space: Any, n_envs: int, seed: int) -> None:
        self.action_space, self.n_envs = action_space, n_envs
        self.action_space.seed(seed)

    def predict(
        self, observation: Any, state: Any = None, episode_start: Any = None, deterministic: bool = False
    ) -> tuple[np.ndarray, None]:
        return np.array([self.action_space.sample() for _ in range(self.n_envs)]), None


def evaluate_against_random(
    model_path: str, algo: str, env_id: str, n_episodes: int, seed: int = 0, best_path: str | None = None
) -> dict:
    """Mean ± std return of the saved agent (deterministic), of its best evaluation checkpoint, and of a uniformly
    random policy.

    All run on the env rl-zoo3's ``enjoy`` builds from the run's saved config (its env wrappers, e.g. action
    repeat, and env kwargs), seeded with ``seed + 1000``, so they see the same episodes.

    :param best_path: ``best_model.zip`` of the run (written by rl-zoo3's evaluation callback with
        ``--eval-freq``); when given, ``best_mean``, ``best_std`` and ``best_timesteps`` (the step it was saved at)
        are added
    :return: ``episodes``, ``agent_mean``, ``agent_std``, ``agent_timesteps``, ``random_mean``, ``random_std`` (and
        the ``best_*`` keys)
    """
    from stable_baselines3.common.evaluation import evaluate_policy

    from dreamer_sb3.zoo.pretrained import make_eval_env
    from dreamer_sb3.zoo.registry import algorithm_class

    run = os.path.dirname(model_path)
    results: dict[str, Any] = {"episodes": n_episodes}
    agent = algorithm_class(algo).load(model_path, device="cpu")
    results["agent_timesteps"] = int(agent.num_timesteps)
    policies: list[tuple[str, Any]] = [("agent", agent)]
    if best_path is not None:
        best = algorithm_class(algo).load(best_path, device="cpu")
        results["best_timesteps"] = int(best.num_timesteps)
        policies.append(("best", best))
    policies.append(("random", None))
    for name, policy in policies:
        env = make_eval_env(run, env_id, seed=seed + 1000)
        policy = policy or _RandomPolicy(env.action_space, env.num_envs, seed)
        mean, std = evaluate_policy(policy, env, n_eval_episodes=n_episodes, deterministic=True, warn=False)
        env.close()
        results.update({f"{name}_mean": float(mean), f"{name}_std": float(std)})
    return results


def _params_keys(argv: Sequence[str]) -> set[str]:
    """Keys given with rl-zoo3's ``-params key:value ...`` (``--hyperparams``)."""
    keys: set[str] = set()
    reading = False
    for arg in argv:
        if arg in ("-params", "--hyperparams"):
            reading = True
        elif reading and ":" in arg and not arg.startswith("-"):
            keys.add(arg.split(":", 1)[0])
        else:
            reading = False
    return keys


def _entry_policy_kwargs(argv: Sequence[str]) -> dict[str, Any]:
    """The ``policy_kwargs`` of the YAML entry rl-zoo3 will use for ``--env`` (evaluated as rl-zoo3 does)."""
    import yaml

    conf = flag_value(argv, "-conf", "--conf-file")
    env_id = flag_value(argv, "--env", default="CartPole-v1")
    if conf is None or not conf.endswith((".yml", ".yaml")) or not os.path.isfile(conf):
        return {}
    with open(conf) as f:
        entries = yaml.safe_load(f) or {}
    entry = entries.get(env_id) or entries.get("default") or {}
    policy_kwargs = entry.get("policy_kwargs", {})
    if isinstance(policy_kwargs, str):
        policy_kwargs = eval(policy_kwargs, {"__builtins__": {"dict": dict}})  # rl-zoo3 evals this string too
    return dict(policy_kwargs)


def _run_dir(folder: str, algo: str, env_id: str) -> str:
    """The run folder rl-zoo3's train wrote last under ``folder`` for ``env_id``."""
    from huggingface_sb3 import EnvironmentName
    from rl_zoo3.utils import get_latest_run_id

    env_name = EnvironmentName(env_id)
    log_path = os.path.join(folder, algo)
    return os.path.join(log_path, f"{env_name}_{get_latest_run_id(log_path, env_name)}")


def _gather_rank_files(argv: Sequence[str], rank: int, private: str | None) -> None:
    """After a data-parallel run: rank ``r > 0`` moves its saved replay into rank 0's run folder and deletes its
    temporary folder; then the process group is closed."""
    import torch.distributed as tdist

    algo = flag_value(argv, "--algo", default="ppo") or "ppo"
    env_id = flag_value(argv, "--env", default="CartPole-v1") or "CartPole-v1"
    folder = flag_value(argv, "-f", "--log-folder", default="logs") or "logs"
    if not tdist.is_initialized():  # the algorithm never joined a process group (not one of ours)
        return
    shared: list[str | None] = [_run_dir(folder, algo, env_id) if rank == 0 else None]
    tdist.broadcast_object_list(shared, src=0)
    if private is not None:
        own = _run_dir(private, algo, env_id)
        for name in os.listdir(own) if os.path.isdir(own) else []:
            if name.startswith(f"replay_buffer.rank{rank}"):
                shutil.move(os.path.join(own, name), os.path.join(str(shared[0]), name))
        shutil.rmtree(private, ignore_errors=True)
    tdist.barrier()
    tdist.destroy_process_group()


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

    from dreamer_sb3.common import distributed as dist

    optimizing = "-optimize" in argv or "--optimize-hyperparameters" in argv
    rank = dist.rank_of(None)
    if dist.launched(None) and optimizing:
        raise ValueError("-optimize runs independent trials: launch it with python, not under torchrun")
    if optimizing:
        from dreamer_sb3.zoo.hyperparams_opt import configure_search

        configure_search(
            fixed=_params_keys(argv),
            max_model_size=ours.max_model_size,
            max_train_ratio=ours.max_train_ratio,
            base_policy_kwargs=_entry_policy_kwargs(argv),
        )
    private = None
    rank_argv = list(argv)
    if rank > 0:  # one run folder: rank 0's; the others keep rl-zoo3's files in a temporary folder
        private = tempfile.mkdtemp(prefix=f"dreamer_sb3_rank{rank}_")
        rank_argv += ["-f", private, "--verbose", "0"]  # argparse: the last -f wins
    with (
        trust_pickled_files(ours.allow_pickle),
        safe_run_files(),
        crash_safe_rl_zoo3(not ours.no_checkpoint_replay, ours.checkpoint_minutes),
        argv_as(rank_argv),
    ):
        try:
            rl_zoo3.train.train()
        except SystemExit:
            if "-h" in argv or "--help" in argv:
                _print_our_help()
            raise
    if dist.launched(None):
        _gather_rank_files(argv, rank, private)
        if rank > 0:
            return

    if ours.final_eval_episodes <= 0 or optimizing or algo not in ALGORITHMS:
        return
    env_id = flag_value(argv, "--env", default="CartPole-v1") or "CartPole-v1"
    folder = flag_value(argv, "-f", "--log-folder", default="logs") or "logs"
    env_name = EnvironmentName(env_id)
    run_dir = _run_dir(folder, algo, env_id)
    model_path = os.path.join(run_dir, f"{env_name}.zip")
    from dreamer_sb3.zoo.pretrained import BEST_MODEL

    best_path = os.path.join(run_dir, BEST_MODEL)
    best = best_path if os.path.isfile(best_path) else None
    with trust_pickled_files(ours.allow_pickle):
        res = evaluate_against_random(model_path, algo, env_id, ours.final_eval_episodes, best_path=best)
    print(f"\n== Final evaluation on {env_id} ({res['episodes']} episodes, deterministic) ==")
    rows = [(f"{algo} (final, {res['agent_timesteps']})", "agent")]
    if best is not None:
        rows.append((f"{algo} (best, {res['best_timesteps']})", "best"))
    rows.append(("random", "random"))
    width = max(len(label) for label, _ in rows)
    print(f"| {'policy':<{width}} | mean return | std    |\n|{'-' * (width + 2)}|-------------|--------|")
    for label, key in rows:
        print(f"| {label:<{width}} | {res[key + '_mean']:>11.1f} | {res[key + '_std']:>6.1f} |")
    print(f"Model: {model_path}")
    if best is not None:
        print(f"Best evaluation checkpoint (rl-zoo3's --eval-freq): {best}")


if __name__ == "__main__":
    main()
