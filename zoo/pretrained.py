"""Pretrained agents: loading them offline, recording their scores, and the Hugging Face hub layout.

Shipped agents live in ``zoo/agents`` (the package's ``AGENTS_DIR``) in rl-zoo3's layout (what ``train`` writes and ``enjoy``
reads)::

    agents/<algo>/<EnvName>_<id>/<EnvName>.zip          final model (EnvName = env id with "/" -> "-")
                                 best_model.zip         best evaluation checkpoint (when shipped)
                                 evaluations.npz, 0.monitor.csv
                                 results.json           recorded score (see :func:`record`)
                                 <EnvName>/config.yml, args.yml, command.txt, env_kwargs.yml

``load_pretrained("dreamerv3", "CartPole-v1")`` returns the model, ready for ``predict``, without the network.

Recording a score (after training with ``python -m dreamer_sb3.zoo.train ... -f zoo/agents``)::

    python -m dreamer_sb3.zoo.pretrained --algo dreamerv3 --env CartPole-v1 --episodes 10 --strip

evaluates the model deterministically on rl-zoo3's test env (the same env ``enjoy`` builds from the saved
config), writes ``results.json`` (the hub's keys ``mean_reward``, ``std_reward``, ``is_deterministic``,
``n_eval_episodes``, ``eval_datetime`` plus every episode's return, seeds, env steps and the exact commands) and,
with ``--strip``, drops optimizer moments from the shipped copy and deletes replay buffers, checkpoints and the
unrecorded ``best_model.zip`` (the networks are kept; continuing training from a stripped agent starts with fresh
Adam moments).

Hub layout: rl-zoo3's ``<org>/<algo>-<EnvName>`` repositories hold ``<algo>-<EnvName>.zip``, ``config.yml``,
``args.yml``, ``env_kwargs.yml``, ``train_eval_metrics.zip`` and ``results.json``; :func:`export_hub_folder`
writes exactly these files from a zoo run, offline (upload them with any hub client: rl-zoo3 2.9.2's own
``push_to_hub`` does not import with the current ``huggingface_sb3``), and rl-zoo3's ``load_from_hub`` puts such a
repository back into the zoo layout (``python -m dreamer_sb3.zoo.load_from_hub``).
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import pathlib
import shutil
import sys
import warnings
import zipfile
from collections.abc import Sequence
from typing import Any

import numpy as np

from dreamer_sb3.zoo.registry import AGENTS_DIR, ALGORITHMS, algorithm_class
from dreamer_sb3.zoo.safe_files import load_yaml, safe_run_files

RESULTS_FILE = "results.json"
BEST_MODEL = "best_model.zip"


def _env_name(env_id: str) -> str:
    from huggingface_sb3 import EnvironmentName

    return str(EnvironmentName(env_id))


def run_dir(algo: str, env_id: str, exp_id: int = 0, folder: str | os.PathLike = AGENTS_DIR) -> pathlib.Path:
    """Folder of one run in rl-zoo3's layout: ``<folder>/<algo>/<EnvName>_<exp_id>`` (``exp_id=0``: the latest).

    :raises FileNotFoundError: when there is no such run
    """
    from rl_zoo3.utils import get_latest_run_id

    env_name = _env_name(env_id)
    if exp_id == 0:
        exp_id = get_latest_run_id(os.path.join(folder, algo), env_name)
    path = pathlib.Path(folder) / algo / f"{env_name}_{exp_id}"
    if not path.is_dir():
        raise FileNotFoundError(f"No {algo} agent for {env_id} in {folder} (looked for {path})")
    return path


def read_results(run: str | os.PathLike) -> dict[str, Any] | None:
    """The ``results.json`` of a run folder, or ``None`` when the run has none."""
    path = pathlib.Path(run) / RESULTS_FILE
    return json.loads(path.read_text()) if path.is_file() else None


def model_path(
    algo: str, env_id: str, exp_id: int = 0, folder: str | os.PathLike = AGENTS_DIR, best: bool | None = None
) -> pathlib.Path:
    """Model file of a run: ``best_model.zip`` (``best=True``), ``<EnvName>.zip`` (``best=False``), or the file its
    ``results.json`` records (``best=None``, falling back to ``<EnvName>.zip``)."""
    run = run_dir(algo, env_id, exp_id, folder)
    if best is None:
        results = read_results(run) or {}
        path = run / results.get("model_file", f"{_env_name(env_id)}.zip")
    else:
        path = run / (BEST_MODEL if best else f"{_env_name(env_id)}.zip")
    if not path.is_file():
        raise FileNotFoundError(f"No model file {path}")
    return path


def load_pretrained(
    algo: str,
    env_id: str,
    exp_id: int = 0,
    folder: str | os.PathLike = AGENTS_DIR,
    best: bool | None = None,
    env: Any = None,
    device: str = "auto",
    return_env: bool = False,
    seed: int = 0,
    n_envs: int = 1,
    allow_pickle: bool = False,
    **kwargs: Any,
) -> Any:
    """Load a trained agent from the zoo layout, offline, optionally with the env it was trained on.

    An agent acts well only on observations made exactly as in training (e.g. the Acrobot agent was trained with
    action repeat 4, and scores about -270 instead of -86 on a plain ``gym.make("Acrobot-v1")``). With
    ``return_env=True`` you get the env rl-zoo3's ``enjoy`` builds from the run's saved config (its env wrappers,
    env kwargs and normalisation), as an SB3 ``VecEnv``, ready for ``evaluate_policy``::

        model, env = load_pretrained("dreamerv3", "Acrobot-v1", return_env=True)
        mean, std = evaluate_policy(model, env, n_eval_episodes=10)

    When you pass your own ``env``, it is checked against the training wrappers (see :func:`check_env_wrappers`)
    and a warning names what is missing.

    The model zip is read without unpickling anything (see :meth:`DreamerAlgorithm.load`); a file that holds pickled
    objects beyond what a Dreamer model needs is refused unless ``allow_pickle=True``. SB3 zips from untrusted sources
    can run code when unpickled: pass ``allow_pickle`` only for files you trust.

    :param algo: zoo algorithm name, e.g. ``"dreamerv3"``
    :param env_id: gymnasium id, e.g. ``"CartPole-v1"`` or ``"dreamer_sb3/CartPole-pixels-v0"``
    :param exp_id: run number (0: the latest)
    :param folder: zoo folder (default: the agents shipped with the package)
    :param best: see :func:`model_path` (``None``: the file the run's ``results.json`` records, which is what
        ``enjoy`` and ``record_video`` play)
    :param env: optional env to attach (needed only to continue training); checked against the training wrappers
    :param device: torch device
    :param return_env: also build and return the evaluation env (``(model, env)``); the model is attached to it
    :param seed: with ``return_env``: the env's seed
    :param n_envs: with ``return_env``: number of envs in the ``VecEnv``
    :param allow_pickle: unpickle the zip's pickled entries as SB3 does (only for files you trust)
    :param kwargs: forwarded to ``Algorithm.load``
    :return: the model, or ``(model, env)`` with ``return_env=True``
    """
    run = run_dir(algo, env_id, exp_id, folder)
    path = model_path(algo, env_id, exp_id, folder, best)
    if return_env:
        if env is not None:
            raise ValueError("load_pretrained: pass either env or return_env=True, not both")
        env = make_eval_env(run, env_id, seed=seed, n_envs=n_envs)
    elif env is not None:
        check_env_wrappers(run, env_id, env)
    model = algorithm_class(algo).load(path, env=env, device=device, allow_pickle=allow_pickle, **kwargs)
    return (model, env) if return_env else model


def training_wrappers(run: str | os.PathLike, env_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The env wrappers a run was trained with (its saved config's ``env_wrapper``), innermost first.

    :param run: the run folder
    :param env_id: its env id
    :return: ``(dotted class path, keyword arguments)`` per wrapper
    """
    config = pathlib.Path(run) / _env_name(env_id) / "config.yml"
    if not config.is_file():
        return []
    hyperparams = dict(load_yaml(config))
    spec = hyperparams.get("env_wrapper")
    if spec is None:
        return []
    out: list[tuple[str, dict[str, Any]]] = []
    for entry in spec if isinstance(spec, list) else [spec]:
        if isinstance(entry, dict):
            (name, wrapper_kwargs), *_ = entry.items()
            out.append((str(name), dict(wrapper_kwargs or {})))
        else:
            out.append((str(entry), {}))
    return out


def _wrapper_chain(env: Any) -> list[Any]:
    """Every ``gymnasium.Wrapper`` around the (first) env of ``env``, outermost first (``VecEnv``s unwrapped)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

    while isinstance(env, VecEnvWrapper):
        env = env.venv
    if isinstance(env, DummyVecEnv):
        env = env.envs[0]
    elif isinstance(env, VecEnv):
        return []  # subprocess envs: the wrappers live in other processes
    chain = []
    while hasattr(env, "env"):
        chain.append(env)
        env = env.env
    return chain


def check_env_wrappers(run: str | os.PathLike, env_id: str, env: Any) -> list[str]:
    """Warn when ``env`` lacks a wrapper the run was trained with (or has it with other arguments).

    Wrapper arguments are compared where the wrapper keeps them (gymnasium's ``RecordConstructorArgs``). An env in
    subprocesses (``SubprocVecEnv``) cannot be inspected and is not checked.

    :param run: the run folder
    :param env_id: its env id
    :param env: a ``gymnasium.Env`` or SB3 ``VecEnv``
    :return: the problems found (empty when the env matches)
    """
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnvWrapper

    inner = env
    while isinstance(inner, VecEnvWrapper):
        inner = inner.venv
    if isinstance(inner, SubprocVecEnv):
        return []
    chain = _wrapper_chain(env)
    problems = []
    for name, wrapper_kwargs in training_wrappers(run, env_id):
        cls_name = name.rsplit(".", 1)[-1].rsplit(":", 1)[-1]
        found = [w for w in chain if type(w).__name__ == cls_name]
        if not found:
            problems.append(f"{cls_name}({_kwargs_text(wrapper_kwargs)}) is missing")
            continue
        recorded = getattr(found[0], "_saved_kwargs", {}) or {}
        differing = {k: v for k, v in wrapper_kwargs.items() if k in recorded and recorded[k] != v}
        if differing:
            got = {k: recorded[k] for k in differing}
            problems.append(f"{cls_name} has {_kwargs_text(got)} where training used {_kwargs_text(differing)}")
    if problems:
        warnings.warn(
            f"This env differs from the one the agent was trained on ({run}): {'; '.join(problems)}. The agent's scores "
            "hold only on the training env: use `model, env = load_pretrained(algo, env_id, return_env=True)`.",
            UserWarning,
            stacklevel=3,
        )
    return problems


def _kwargs_text(kwargs: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


def recorded_model_flags(algo: str, env_id: str, exp_id: int = 0, folder: str | os.PathLike = AGENTS_DIR) -> list[str]:
    """rl-zoo3 ``enjoy`` / ``record_video`` flags that load the model file a run's ``results.json`` records.

    rl-zoo3 loads ``<EnvName>.zip`` unless told otherwise; a run whose recorded score belongs to
    ``best_model.zip`` needs ``--load-best``, one recorded from ``rl_model_<N>_steps.zip`` needs
    ``--load-checkpoint N``.

    :return: the flags (empty when the final model is the recorded one, or the run has no ``results.json``)
    """
    try:
        run = run_dir(algo, env_id, exp_id, folder)
    except (FileNotFoundError, AssertionError, ValueError):
        return []
    recorded = (read_results(run) or {}).get("model_file")
    if recorded == BEST_MODEL:
        return ["--load-best"]
    if recorded and recorded.startswith("rl_model_") and recorded.endswith("_steps.zip"):
        return ["--load-checkpoint", recorded[len("rl_model_") : -len("_steps.zip")]]
    return []


def shipped_agents(folder: str | os.PathLike = AGENTS_DIR) -> list[dict[str, Any]]:
    """Every run with a ``results.json`` under ``folder``: dicts with ``algo``, ``env_id``, ``run`` and ``results``."""
    agents = []
    root = pathlib.Path(folder)
    for algo in sorted(ALGORITHMS):
        for run in sorted(root.glob(f"{algo}/*_*")):
            results = read_results(run)
            if run.is_dir() and results is not None:
                agents.append({"algo": algo, "env_id": results["env_id"], "run": run, "results": results})
    return agents


def make_eval_env(run: str | os.PathLike, env_id: str, seed: int = 0, n_envs: int = 1, vec_env_cls: Any = None) -> Any:
    """The env rl-zoo3's ``enjoy`` builds for a run (its saved config, env kwargs and normalisation), not rendered.

    :param vec_env_cls: the VecEnv class (default: rl-zoo3's, a ``SubprocVecEnv`` when ``n_envs > 1``)

    The run's files are read without running code from them (:func:`dreamer_sb3.zoo.safe_files.safe_run_files`).
    """
    from rl_zoo3 import create_test_env, get_saved_hyperparams
    from rl_zoo3.exp_manager import ExperimentManager

    with safe_run_files():
        stats_path = os.path.join(run, _env_name(env_id))
        hyperparams, maybe_stats_path = get_saved_hyperparams(stats_path, test_mode=True)
        env_kwargs = hyperparams.pop("env_kwargs", None) or {}
        saved_kwargs = _saved_env_kwargs(run, env_id)
        if saved_kwargs is not None:
            env_kwargs = saved_kwargs
        return create_test_env(
            env_id,
            n_envs=n_envs,
            stats_path=maybe_stats_path,
            seed=seed,
            log_dir=None,
            should_render=False,
            hyperparams=hyperparams,
            env_kwargs=env_kwargs,
            vec_env_cls=vec_env_cls or ExperimentManager.default_vec_env_cls,
        )


def _saved_env_kwargs(run: str | os.PathLike, env_id: str) -> dict[str, Any] | None:
    args_path = pathlib.Path(run) / _env_name(env_id) / "args.yml"
    if not args_path.is_file():
        return None
    return load_yaml(args_path).get("env_kwargs")


def evaluate(
    model: Any, run: str | os.PathLike, env_id: str, n_episodes: int, seed: int = 0, deterministic: bool = True
) -> tuple[list[float], list[int]]:
    """Returns and lengths of ``n_episodes`` episodes on the run's test env seeded with ``seed``."""
    from stable_baselines3.common.evaluation import evaluate_policy

    env = make_eval_env(run, env_id, seed=seed)
    try:
        rewards, lengths = evaluate_policy(
            model, env, n_eval_episodes=n_episodes, deterministic=deterministic, return_episode_rewards=True, warn=False
        )
    finally:
        env.close()
    return [float(r) for r in rewards], [int(n) for n in lengths]


def strip_for_shipping(path: str | os.PathLike, algo: str, half: bool = False) -> None:
    """Re-save a model file without optimizer moments (the networks are unchanged; it still loads exactly).

    :param half: also store the network weights in float16 (half the file; ``load`` casts them back into the
        model's float32 parameters, so the shipped networks are the float16-rounded weights). Buffers, e.g. the
        return normaliser's statistics, stay float32.
    """
    import torch as th

    model = algorithm_class(algo).load(path, device="cpu")
    for name in model.policy.optimizer_names():
        getattr(model.policy, name).state.clear()
    if half:
        with th.no_grad():
            for param in model.policy.parameters():
                if param.is_floating_point():
                    param.data = param.data.half()
    model.save(path)


def record(
    algo: str,
    env_id: str,
    exp_id: int = 0,
    folder: str | os.PathLike = AGENTS_DIR,
    n_episodes: int = 10,
    seed: int = 0,
    best: bool = False,
    strip: bool = False,
    command: str | None = None,
    half: bool = False,
) -> dict[str, Any]:
    """Evaluate a run's model and write its ``results.json`` and ``<EnvName>/env_kwargs.yml``.

    :param best: record ``best_model.zip`` (the shipped model then is the best evaluation checkpoint)
    :param strip: drop optimizer moments from the model files; delete replay buffers, checkpoints and (unless it
        is the recorded model) ``best_model.zip``
    :param command: the command to record (default: this process's command line)
    :param half: with ``strip``, also store the weights in float16 (see :func:`strip_for_shipping`); the score is
        measured on the float16-rounded model
    :return: the results
    """
    import torch as th
    import yaml

    run = run_dir(algo, env_id, exp_id, folder)
    path = model_path(algo, env_id, exp_id, folder, best=best)
    if strip:
        extra = [*run.glob("rl_model_*_steps.zip"), *run.glob("latest.zip"), *run.glob("*replay_buffer*.pkl")]
        if not best:
            extra.append(run / BEST_MODEL)
        for p in extra:
            p.unlink(missing_ok=True)
        for p in [run / f"{_env_name(env_id)}.zip", run / BEST_MODEL]:
            if p.is_file():
                strip_for_shipping(p, algo, half=half)
    model = algorithm_class(algo).load(path, device="cpu")
    rewards, lengths = evaluate(model, run, env_id, n_episodes, seed=seed)
    with open(run / _env_name(env_id) / "env_kwargs.yml", "w") as f:
        yaml.dump(_saved_env_kwargs(run, env_id) or {}, f)
    command_file = run / _env_name(env_id) / "command.txt"
    args_file = run / _env_name(env_id) / "args.yml"
    train_seed = None
    if args_file.is_file():
        train_seed = load_yaml(args_file).get("seed")
    results = {
        # the keys huggingface_sb3 writes into a hub repository's results.json
        "mean_reward": float(np.mean(rewards)),
        "std_reward": float(np.std(rewards)),
        "is_deterministic": True,
        "n_eval_episodes": n_episodes,
        "eval_datetime": datetime.datetime.now().isoformat(timespec="seconds"),
        # ours
        "algo": algo,
        "env_id": env_id,
        "model_file": path.name,
        "episode_rewards": rewards,
        "episode_lengths": lengths,
        "eval_seed": seed,
        "train_seed": train_seed,
        "env_steps": int(model.num_timesteps),
        "n_parameters": int(sum(p.numel() for p in model.policy.parameters())),
        "model_bytes": path.stat().st_size,
        "weights_dtype": _stored_weights_dtype(path),
        "torch_threads": th.get_num_threads(),
        "train_command": command_file.read_text().strip() if command_file.is_file() else None,
        "eval_command": command or " ".join(getattr(sys, "orig_argv", sys.argv)),
    }
    (run / RESULTS_FILE).write_text(json.dumps(results, indent=2) + "\n")
    return results


def _stored_weights_dtype(path: str | os.PathLike) -> str:
    """``"float16"`` when a model file stores its policy weights in half precision, else ``"float32"``."""
    import torch as th

    with zipfile.ZipFile(path) as archive, archive.open("policy.pth") as f:
        state = th.load(io.BytesIO(f.read()), map_location="cpu", weights_only=True)
    dtypes = {t.dtype for t in state.values() if th.is_tensor(t) and t.is_floating_point()}
    return "float16" if th.float16 in dtypes else "float32"


def hub_repo_id(algo: str, env_id: str, organization: str) -> str:
    """rl-zoo3's hub repository id for an agent: ``<organization>/<algo>-<EnvName>``."""
    from huggingface_sb3 import EnvironmentName, ModelName, ModelRepoId

    return str(ModelRepoId(organization, ModelName(algo, EnvironmentName(env_id))))


def export_hub_folder(
    algo: str, env_id: str, out_dir: str | os.PathLike, exp_id: int = 0, folder: str | os.PathLike = AGENTS_DIR
) -> pathlib.Path:
    """Write a run as the files of an rl-zoo3 hub repository (what ``rl_zoo3.push_to_hub`` uploads, less the
    model card and video), offline.

    :param out_dir: where to write the files (created if needed)

    :return: the folder holding the repository's files
    """
    from huggingface_sb3 import EnvironmentName, ModelName

    run = run_dir(algo, env_id, exp_id, folder)
    env_name = _env_name(env_id)
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(model_path(algo, env_id, exp_id, folder), out / ModelName(algo, EnvironmentName(env_id)).filename)
    for name in ("config.yml", "args.yml", "env_kwargs.yml"):
        src = run / env_name / name
        if src.is_file():
            shutil.copy(src, out / name)
        elif name == "env_kwargs.yml":
            (out / name).write_text("{}\n")
    with zipfile.ZipFile(out / "train_eval_metrics.zip", "w") as archive:
        for metrics in [run / "evaluations.npz", *sorted(run.glob("*.csv"))]:
            if metrics.is_file():
                archive.write(metrics, arcname=metrics.name)
    if (run / RESULTS_FILE).is_file():
        shutil.copy(run / RESULTS_FILE, out / RESULTS_FILE)
    return out


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m dreamer_sb3.zoo.pretrained --algo A --env E [--episodes N] [--seed S] [--load-best] [--strip]``."""
    parser = argparse.ArgumentParser(description="Evaluate a zoo run and write its results.json")
    parser.add_argument("--algo", required=True, choices=sorted(ALGORITHMS))
    parser.add_argument("--env", required=True)
    parser.add_argument("-f", "--folder", default=str(AGENTS_DIR))
    parser.add_argument("--exp-id", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--load-best", action="store_true", help="record best_model.zip instead of the final model")
    parser.add_argument(
        "--strip",
        action="store_true",
        help="drop optimizer moments, replay buffers, checkpoints and an unrecorded best_model.zip",
    )
    parser.add_argument(
        "--half", action="store_true", help="with --strip: store the network weights in float16 (half the file size)"
    )
    parser.add_argument("--num-threads", type=int, default=1)
    args = parser.parse_args(argv)
    if args.num_threads > 0:
        import torch as th

        th.set_num_threads(args.num_threads)
    if args.half and not args.strip:
        parser.error("--half only applies together with --strip")
    res = record(
        args.algo, args.env, args.exp_id, args.folder, args.episodes, args.seed, args.load_best, args.strip, half=args.half
    )
    print(
        f"{args.algo} on {args.env} ({res['model_file']}, {res['env_steps']} env steps): "
        f"{res['mean_reward']:.1f} ± {res['std_reward']:.1f} over {res['n_eval_episodes']} deterministic episodes"
    )


if __name__ == "__main__":
    main()
