"""Side-by-side learning benchmark: Dreamer agents against SB3's model-free baselines.

Every run is set up by rl-zoo3's own ``ExperimentManager`` (our algorithms read our YAML; PPO,
A2C, DQN, SAC and TD3 read rl-zoo3's installed, tuned YAML), so env wrappers, normalisation,
schedules and action noise are exactly rl-zoo3's. All runs of an env share the env-step budget,
the seeds and the evaluation protocol (deterministic evaluation every ``eval_freq`` env steps on
``eval_episodes`` episodes of a separately seeded env).

Writes into ``--output``: one JSON per run under ``runs/`` (finished runs are skipped on
resume), ``results.json`` with every curve, ``results.md`` with the summary table, and
``curves_<env>.png`` (mean ± std over seeds against env steps and against training time). ``-j N``
trains N runs at the same time, one process each (with ``--num-threads 1`` on an N-core machine).

Training time is recorded twice, both excluding evaluation: wall-clock, and the process's CPU time
(``time.process_time``, all threads). On a machine shared with other jobs, or paused, the CPU time
is the fair measure (with one torch thread it equals the wall-clock of an otherwise idle core); the
plots and updates/s use it.

Example::

    python -m dreamer_sb3.zoo.benchmark --envs CartPole-v1 Pendulum-v1 --algos dreamerv3 ppo sac dqn --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import tempfile
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import yaml

from dreamer_sb3.zoo.registry import ALGORITHMS, HYPERPARAMS_DIR, hyperparams_path, register_in_rl_zoo3

BASELINES = ("ppo", "a2c", "dqn", "sac", "td3")
DISCRETE_ONLY = {"dqn"}
CONTINUOUS_ONLY = {"sac", "td3"}
#: default budget (env steps) and success threshold per env
DEFAULT_BUDGETS = {
    "CartPole-v1": 10_000,
    "Acrobot-v1": 20_000,
    "Pendulum-v1": 10_000,
    "dreamer_sb3/CartPole-pixels-v0": 12_000,
}
DEFAULT_THRESHOLDS = {
    "CartPole-v1": 475.0,
    "Acrobot-v1": -100.0,
    "Pendulum-v1": -200.0,
    "dreamer_sb3/CartPole-pixels-v0": 475.0,
}


def applicable(algo: str, env_id: str) -> bool:
    """Whether ``algo`` supports the action space of ``env_id``."""
    import gymnasium as gym

    env = gym.make(env_id)
    discrete = isinstance(env.action_space, gym.spaces.Discrete)
    env.close()
    if algo in DISCRETE_ONLY:
        return discrete
    if algo in CONTINUOUS_ONLY:
        return not discrete
    return True


def _config_for(algo: str, env_id: str) -> str:
    """The YAML file holding ``algo``'s entry for ``env_id``: ours for our algorithms, and for a baseline our
    ``hyperparams/baselines/<algo>.yml`` when it has the env (the ``dreamer_sb3/`` ids rl-zoo3 does not cover),
    else rl-zoo3's tuned file."""
    if algo in ALGORITHMS:
        return str(hyperparams_path(algo))
    ours = HYPERPARAMS_DIR / "baselines" / f"{algo}.yml"
    if ours.is_file() and env_id in (yaml.safe_load(ours.read_text()) or {}):
        return str(ours)
    import rl_zoo3

    return str(pathlib.Path(rl_zoo3.__file__).parent / "hyperparams" / f"{algo}.yml")


def run_one(
    algo: str,
    env_id: str,
    seed: int,
    budget: int,
    eval_freq: int,
    eval_episodes: int,
    log_folder: str,
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train one (algo, env, seed) with rl-zoo3's set-up and record its evaluation curve.

    :param params: hyperparameters that override the YAML entry (rl-zoo3's ``-params``)
    """
    from rl_zoo3.exp_manager import ExperimentManager
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.evaluation import evaluate_policy
    from stable_baselines3.common.vec_env import sync_envs_normalization

    register_in_rl_zoo3()
    args = argparse.Namespace(algo=algo, env=env_id, seed=seed, n_timesteps=budget)
    manager = ExperimentManager(
        args,
        algo,
        env_id,
        log_folder,
        n_timesteps=budget,
        eval_freq=0,
        seed=seed,
        verbose=0,
        config=_config_for(algo, env_id),
        device="cpu",
        log_interval=-2,
        hyperparams=dict(params) if params else None,
    )
    model, _ = manager.setup_experiment()
    # the budget and the curve count env steps: an agent whose env wrapper repeats each action k times
    # (Dreamer's action repeat) takes budget / k agent steps
    repeat = action_repeat(model.get_env())
    eval_env = manager.create_envs(1, eval_env=True, no_log=True)
    eval_env.seed(seed + 10_000)

    class Curve(BaseCallback):
        def __init__(self) -> None:
            super().__init__()
            self.points: list[dict[str, float]] = []
            self.train_time = 0.0
            self.cpu_time = 0.0
            self._c0 = time.process_time()
            self._t0 = time.perf_counter()
            self._next = 0

        def _evaluate(self) -> None:
            self.train_time += time.perf_counter() - self._t0
            self.cpu_time += time.process_time() - self._c0
            sync_envs_normalization(self.training_env, eval_env)
            mean, std = evaluate_policy(self.model, eval_env, n_eval_episodes=eval_episodes, deterministic=True)
            self.points.append(
                {
                    "steps": int(self.num_timesteps) * repeat,
                    "mean": float(mean),
                    "std": float(std),
                    "wall": self.train_time,
                    "cpu": self.cpu_time,
                    "updates": int(getattr(self.model, "_n_updates", 0)),
                }
            )
            self._next += eval_freq
            self._t0, self._c0 = time.perf_counter(), time.process_time()

        def _on_training_start(self) -> None:
            self._t0, self._c0 = time.perf_counter(), time.process_time()
            self._evaluate()

        def _on_step(self) -> bool:
            if self.num_timesteps * repeat >= self._next:
                self._evaluate()
            return True

        def _on_training_end(self) -> None:
            if not self.points or self.points[-1]["steps"] != self.num_timesteps * repeat:
                self._evaluate()

    curve = Curve()
    model.learn(max(budget // repeat, 1), callback=curve)
    eval_env.close()
    model.get_env().close()
    return {
        "algo": algo,
        "env": env_id,
        "seed": seed,
        "budget": budget,
        "params": dict(params or {}),
        "action_repeat": repeat,
        "curve": curve.points,
        "train_seconds": curve.train_time,
        "train_cpu_seconds": curve.cpu_time,
        "updates": int(getattr(model, "_n_updates", 0)),
    }


def action_repeat(venv: Any) -> int:
    """How many env steps one agent step takes in ``venv``: the ``repeat`` of a
    :class:`~dreamer_sb3.wrappers.action_repeat.ActionRepeat` wrapper, else 1."""
    from dreamer_sb3.wrappers.action_repeat import ActionRepeat

    if not venv.env_is_wrapped(ActionRepeat)[0]:
        return 1
    return int(venv.get_attr("repeat", [0])[0])


def steps_to_threshold(curve: list[dict[str, float]], threshold: float) -> int | None:
    """Env steps of the first evaluation after training started whose mean reaches ``threshold``
    (None if never). The step-0 evaluation of the untrained agent is ignored: a lucky
    initialisation is not learning."""
    for p in curve:
        if p["steps"] > 0 and p["mean"] >= threshold:
            return int(p["steps"])
    return None


def summarize(results: list[dict[str, Any]], thresholds: dict[str, float]) -> list[dict[str, Any]]:
    """One row per (env, algo): final return, steps to threshold, wall-clock, CPU time and updates per CPU-second
    over seeds (runs recorded before CPU time was measured fall back to their wall-clock)."""
    rows = []
    keys = sorted({(r["env"], r["algo"]) for r in results})
    for env_id, algo in keys:
        runs = [r for r in results if r["env"] == env_id and r["algo"] == algo]
        finals = [r["curve"][-1]["mean"] for r in runs]
        thr = thresholds.get(env_id)
        reached = [steps_to_threshold(r["curve"], thr) for r in runs] if thr is not None else []
        hits = [s for s in reached if s is not None]
        secs = [r["train_seconds"] for r in runs]
        cpus = [r.get("train_cpu_seconds", r["train_seconds"]) for r in runs]
        ups = [r["updates"] / c for r, c in zip(runs, cpus) if c > 0]
        rows.append(
            {
                "env": env_id,
                "algo": algo,
                "seeds": len(runs),
                "final_mean": float(np.mean(finals)),
                "final_std": float(np.std(finals)),
                "threshold": thr,
                "steps_to_threshold": float(np.median(hits)) if hits else None,
                "reached": f"{len(hits)}/{len(runs)}",
                "train_seconds": float(np.mean(secs)),
                "train_cpu_seconds": float(np.mean(cpus)),
                "updates_per_second": float(np.mean(ups)) if ups else 0.0,
            }
        )
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The summary rows as a Markdown table."""
    lines = [
        "| env | algo | seeds | final return (mean ± std) | threshold | env steps to threshold (median, reached) "
        "| train wall-clock (s) | train CPU time (s) | updates per CPU-second |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = f"{r['steps_to_threshold']:.0f}" if r["steps_to_threshold"] is not None else "not reached"
        lines.append(
            f"| {r['env']} | {r['algo']} | {r['seeds']} | {r['final_mean']:.1f} ± {r['final_std']:.1f} | "
            f"{r['threshold']} | {steps} ({r['reached']}) | {r['train_seconds']:.0f} | "
            f"{r['train_cpu_seconds']:.0f} | "
            f"{r['updates_per_second']:.1f} |"
        )
    return "\n".join(lines)


def _color(algo: str) -> str:
    """The same colour for an algorithm in every plot (matplotlib's default cycle, in a fixed order)."""
    order = [*sorted(ALGORITHMS), *BASELINES]
    return f"C{order.index(algo) % 10}" if algo in order else "k"


#: published curves drawn as a reference line: file under ``reference/`` and the label of its method
REFERENCE_CURVES = {"dmc-proprio-": ("dreamerv3_dmc_proprio.json", "DreamerV3 paper (mean of 5 seeds)")}


def reference_curve(env_id: str, budget: float | None = None) -> tuple[np.ndarray, np.ndarray, str] | None:
    """The published learning curve of ``env_id`` (x = env frames), up to ``budget``, or ``None`` when there is none.

    DMC from proprioception (``dreamer_sb3/dmc-proprio-<domain>-<task>-v0``): DreamerV3's own runs, from the score
    files of danijar/dreamerv3 (``scores/dmc_proprio-dreamerv3.json.gz``; mean over its 5 seeds).
    """
    for key, (filename, label) in REFERENCE_CURVES.items():
        if key not in env_id:
            continue
        name = env_id.split(key, 1)[1].rsplit("-v", 1)[0]  # "cartpole-swingup", "cup-catch"
        domain, task = name.split("-", 1)
        task_key = f"dmc_{'ball_in_cup' if domain == 'cup' else domain}_{task}"
        data = json.loads((pathlib.Path(__file__).parent / "reference" / filename).read_text())
        if task_key not in data["tasks"]:
            return None
        xs, ys = np.array(data["tasks"][task_key]["xs"]), np.array(data["tasks"][task_key]["mean"])
        keep = xs <= budget if budget else np.ones_like(xs, bool)
        return xs[keep], ys[keep], label
    return None


def plot(results: list[dict[str, Any]], env_id: str, path: str) -> None:
    """Mean ± std learning curves over seeds: x = env steps (left) and x = training CPU time (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    for algo in sorted({r["algo"] for r in results if r["env"] == env_id}):
        runs = [r for r in results if r["env"] == env_id and r["algo"] == algo]
        n = min(len(r["curve"]) for r in runs)
        steps = np.array([p["steps"] for p in runs[0]["curve"][:n]])
        means = np.array([[p["mean"] for p in r["curve"][:n]] for r in runs])
        walls = np.array([[p.get("cpu", p["wall"]) for p in r["curve"][:n]] for r in runs]).mean(0)
        mu, sd = means.mean(0), means.std(0)
        for ax, x in ((axes[0], steps), (axes[1], walls)):
            color = _color(algo)
            ax.plot(x, mu, label=algo, color=color)
            ax.fill_between(x, mu - sd, mu + sd, alpha=0.2, color=color)
    budget = max((r["curve"][-1]["steps"] for r in results if r["env"] == env_id and r["curve"]), default=None)
    ref = reference_curve(env_id, budget)
    if ref is not None and len(ref[0]):
        axes[0].plot(ref[0], ref[1], "k--", label=ref[2])
    axes[0].set_xlabel("env steps")
    axes[1].set_xlabel("training CPU time (s, log scale; one thread: the wall-clock of an idle core)")
    axes[1].set_xscale("symlog", linthresh=1.0)  # model-free baselines take seconds, Dreamers minutes
    for ax in axes:
        ax.set_ylabel("evaluation return")
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(f"{env_id}: mean ± std over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


class _Job(NamedTuple):
    """One run to train, and where its JSON goes (picklable, for worker processes)."""

    env_id: str
    algo: str
    seed: int
    budget: int
    eval_freq: int
    eval_episodes: int
    path: str
    num_threads: int | None
    params: dict[str, Any]


def _run_and_save(job: _Job) -> None:
    """Train one job and write its JSON (module level, so worker processes can run it)."""
    if job.num_threads:
        import torch as th

        th.set_num_threads(job.num_threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = run_one(job.algo, job.env_id, job.seed, job.budget, job.eval_freq, job.eval_episodes, tmp, job.params)
    pathlib.Path(job.path).write_text(json.dumps(run))


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` as a run's JSON stores it (tuples become lists)."""
    return json.loads(json.dumps(params))


def run_benchmark(
    envs: Sequence[str],
    algos: Sequence[str],
    seeds: int,
    output: str,
    budget: int | None = None,
    eval_freq: int | None = None,
    eval_episodes: int = 10,
    progress: bool = True,
    jobs: int = 1,
    num_threads: int | None = None,
    params: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run (or resume) every applicable (env, algo, seed) and write JSON, Markdown and PNGs.

    :param jobs: runs trained at the same time, each in its own process (``1``: one after another in this process)
    :param num_threads: torch threads per run (default: torch's default, or unchanged in this process)
    :param params: hyperparameters that override the YAML entries of our algorithms (rl-zoo3's ``-params``); the
        baselines keep rl-zoo3's tuned entries. A finished run is reused only if it ran with the same budget and
        the same overrides
    :return: every run's record, in (env, algo, seed) order
    """
    from tqdm.auto import tqdm

    out = pathlib.Path(output)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    paths, todo = [], []
    for env_id in envs:
        for algo in algos:
            if not applicable(algo, env_id):
                print(f"skipping {algo} on {env_id}: action space not supported")
                continue
            n = budget or DEFAULT_BUDGETS.get(env_id, 20_000)
            overrides = dict(params or {}) if algo in ALGORITHMS else {}
            for seed in range(seeds):
                path = out / "runs" / f"{algo}_{env_id.replace('/', '-')}_{seed}.json"
                paths.append(path)
                if path.exists():
                    done = json.loads(path.read_text())
                    if done.get("budget") == n and done.get("params", {}) == _jsonable(overrides):
                        continue  # finished earlier with the same budget and overrides: resume skips it
                todo.append(
                    _Job(env_id, algo, seed, n, eval_freq or max(n // 20, 1), eval_episodes, str(path), num_threads, overrides)
                )
    bar = tqdm(total=len(todo), desc="benchmark", disable=not progress)
    if jobs <= 1:
        for job in todo:
            bar.set_postfix_str(f"{job.algo} {job.env_id} seed {job.seed}")
            _run_and_save(job)
            bar.update()
    else:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor, as_completed

        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(_run_and_save, job) for job in todo]):
                future.result()  # a failed run stops the benchmark with its error; finished runs stay on disk
                bar.update()
    bar.close()
    results = [json.loads(path.read_text()) for path in paths]
    thresholds = {e: DEFAULT_THRESHOLDS.get(e) for e in envs}
    rows = summarize(results, {k: v for k, v in thresholds.items() if v is not None})
    (out / "results.json").write_text(json.dumps({"rows": rows, "runs": results}, indent=1))
    table = markdown_table(rows)
    (out / "results.md").write_text(table + "\n")
    for env_id in envs:
        if any(r["env"] == env_id for r in results):
            plot(results, env_id, str(out / f"curves_{env_id.replace('/', '-')}.png"))
    print(table)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Command line: ``python -m dreamer_sb3.zoo.benchmark --envs E [E ...] --algos A [A ...] --seeds N``."""
    from rl_zoo3.utils import StoreDict

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1"])
    parser.add_argument("--algos", nargs="+", default=["dreamerv3", "ppo", "dqn"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("-n", "--n-timesteps", type=int, default=None, help="env-step budget (default: per env)")
    parser.add_argument("--eval-freq", type=int, default=None, help="env steps between evaluations (default budget/20)")
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("-o", "--output", default=os.path.join("benchmarks", "results", "zoo"))
    parser.add_argument("-j", "--jobs", type=int, default=1, help="runs trained at the same time, one process each")
    parser.add_argument("--num-threads", type=int, default=None, help="torch threads per run")
    parser.add_argument(
        "-params",
        "--hyperparams",
        type=str,
        nargs="+",
        action=StoreDict,
        default=None,
        help="override our algorithms' YAML entries, rl-zoo3 style (e.g. learning_rate:3e-4 "
        "train_ratio:128); the baselines keep rl-zoo3's tuned entries",
    )
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    unknown = [a for a in args.algos if a not in ALGORITHMS and a not in BASELINES]
    if unknown:
        parser.error(f"unknown algorithms {unknown}; choose from {sorted(ALGORITHMS) + list(BASELINES)}")
    run_benchmark(
        args.envs,
        args.algos,
        args.seeds,
        args.output,
        args.n_timesteps,
        args.eval_freq,
        args.eval_episodes,
        progress=not args.no_progress,
        jobs=args.jobs,
        num_threads=args.num_threads,
        params=args.hyperparams,
    )


if __name__ == "__main__":
    main()
