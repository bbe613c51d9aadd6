"""Optuna search spaces for our algorithms, in rl-zoo3's sampler / converter format.

rl-zoo3's ``-optimize`` calls ``HYPERPARAMS_SAMPLER[algo](trial, n_actions, n_envs, additional_args)`` and
overrides the YAML entry with the returned hyperparameters; ``HYPERPARAMS_CONVERTER[algo](trial.params)`` turns
a stored trial's raw parameters back into hyperparameters (``--storage ... --study-name ... --trial-id N``).
:func:`~dreamer_sb3.zoo.registry.register_in_rl_zoo3` fills both tables with :func:`make_sampler` and
:func:`convert_params` for every algorithm of :data:`~dreamer_sb3.zoo.registry.ALGORITHMS`; this module knows
no algorithm by itself (the registry imports it, not the other way round).

Only the few hyperparameters that matter are searched:

- :data:`SEARCH_SPACE`, keyed by constructor parameter name: an algorithm samples every entry its constructor
  accepts (world-model / actor / critic learning rates, train ratio, imagination horizon, entropy scale), so an
  algorithm added later gets a sampler without any change here;
- :data:`POLICY_SEARCH_SPACE`: the model size preset (``policy_kwargs=dict(model_size=...)``; it replaces the
  YAML entry's ``policy_kwargs``);
- :data:`EXTRA_SEARCH_SPACE`, keyed by algorithm name: what only one algorithm has (PlaNet's planning horizon
  and number of CEM candidates).

Narrowing the search (:func:`configure_search`; ``python -m dreamer_sb3.zoo.train -optimize`` calls it from its
flags): hyperparameters given with ``-params`` stay fixed (not sampled), ``--max-model-size tiny`` and
``--max-train-ratio 64`` cap the two dimensions that decide a trial's cost, so that a search on a CPU finishes in
minutes. The sampled model size is merged into the YAML entry's ``policy_kwargs`` (other entries such as
``classes=0`` are kept).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

#: a dimension: ``("float", low, high, log)``, ``("int", low, high)`` or ``("categorical", choices)``
Dimension = tuple

#: constructor parameters searched for every algorithm that accepts them
SEARCH_SPACE: dict[str, Dimension] = {
    "learning_rate": ("float", 1e-4, 3e-3, True),
    "actor_lr": ("float", 1e-5, 1e-3, True),
    "critic_lr": ("float", 1e-5, 1e-3, True),
    "train_ratio": ("categorical", [16, 32, 64, 128, 256, 512]),
    "imag_horizon": ("categorical", [8, 15, 25]),
    "ent_coef": ("float", 1e-5, 1e-2, True),
}

#: ``policy_kwargs`` entries searched for every algorithm
POLICY_SEARCH_SPACE: dict[str, Dimension] = {
    "model_size": ("categorical", ["tiny", "XS", "S"]),
}

#: algorithm-specific dimensions, keyed by zoo algorithm name
EXTRA_SEARCH_SPACE: dict[str, dict[str, Dimension]] = {
    "planet": {
        "planning_horizon": ("categorical", [6, 12, 20]),
        "n_candidates": ("categorical", [100, 300, 1000]),
    },
}


#: model size presets in the order of their cost
MODEL_SIZE_ORDER = ("tiny", "XS", "S", "M", "L", "XL")


class _Constraints:
    """What :func:`configure_search` set: fixed names, caps, and the entry's own ``policy_kwargs``."""

    fixed: frozenset[str] = frozenset()
    max_model_size: str | None = None
    max_train_ratio: int | None = None
    base_policy_kwargs: dict[str, Any] = {}


def configure_search(
    fixed: set[str] | frozenset[str] = frozenset(),
    max_model_size: str | None = None,
    max_train_ratio: int | None = None,
    base_policy_kwargs: dict[str, Any] | None = None,
) -> None:
    """Narrow the search space of every sampler (for this process).

    :param fixed: hyperparameter names not to sample (the YAML entry's / ``-params`` value is kept); ``"policy_kwargs"``
        keeps the model size fixed
    :param max_model_size: largest ``model_size`` preset to sample (e.g. ``"tiny"``)
    :param max_train_ratio: largest ``train_ratio`` to sample
    :param base_policy_kwargs: the YAML entry's ``policy_kwargs``; a sampled model size is merged into them
    :raises ValueError: when a cap leaves no value to sample
    """
    if max_model_size is not None and max_model_size not in MODEL_SIZE_ORDER:
        raise ValueError(f"max_model_size must be one of {MODEL_SIZE_ORDER}, got {max_model_size!r}")
    _Constraints.fixed = frozenset(fixed)
    _Constraints.max_model_size = max_model_size
    _Constraints.max_train_ratio = max_train_ratio
    _Constraints.base_policy_kwargs = dict(base_policy_kwargs or {})
    for name, dim in {**SEARCH_SPACE, **POLICY_SEARCH_SPACE}.items():
        narrowed = _narrow(name, dim)
        if narrowed[0] == "categorical" and not narrowed[1]:
            raise ValueError(f"No value of {name} {dim[1]} is within the cap (max_model_size / max_train_ratio)")


def _narrow(name: str, dim: Dimension) -> Dimension:
    if name == "train_ratio" and _Constraints.max_train_ratio is not None and dim[0] == "categorical":
        return ("categorical", [v for v in dim[1] if v <= _Constraints.max_train_ratio])
    if name == "model_size" and _Constraints.max_model_size is not None and dim[0] == "categorical":
        cap = MODEL_SIZE_ORDER.index(_Constraints.max_model_size)
        return ("categorical", [v for v in dim[1] if MODEL_SIZE_ORDER.index(v) <= cap])
    return dim


def _suggest(trial: Any, name: str, dim: Dimension) -> Any:
    kind = dim[0]
    if kind == "float":
        return trial.suggest_float(name, dim[1], dim[2], log=bool(dim[3]) if len(dim) > 3 else False)
    if kind == "int":
        return trial.suggest_int(name, dim[1], dim[2])
    if kind == "categorical":
        return trial.suggest_categorical(name, dim[1])
    raise ValueError(f"Unknown dimension kind {kind!r} for {name!r}")


def search_space(algo: str, algorithm: type) -> dict[str, Dimension]:
    """The dimensions searched for ``algo`` (constructor ones, then policy ones, then its extras), narrowed by
    :func:`configure_search`.

    :param algo: zoo algorithm name, e.g. ``"dreamerv3"``
    :param algorithm: its class (whose constructor parameters decide what is searched)
    :return: parameter name -> dimension
    """
    accepted = set(inspect.signature(algorithm.__init__).parameters)
    space = {name: dim for name, dim in SEARCH_SPACE.items() if name in accepted}
    if "policy_kwargs" not in _Constraints.fixed:
        space.update(POLICY_SEARCH_SPACE)
    space.update({name: dim for name, dim in EXTRA_SEARCH_SPACE.get(algo, {}).items() if name in accepted})
    return {name: _narrow(name, dim) for name, dim in space.items() if name not in _Constraints.fixed}


def convert_params(sampled_params: dict[str, Any]) -> dict[str, Any]:
    """Raw trial parameters -> constructor hyperparameters (policy-kwargs entries move into ``policy_kwargs``,
    on top of the entry's own ``policy_kwargs`` given to :func:`configure_search`).

    :param sampled_params: ``trial.params``
    :return: hyperparameters that override the YAML entry
    """
    hyperparams = dict(sampled_params)
    policy_kwargs = {name: hyperparams.pop(name) for name in POLICY_SEARCH_SPACE if name in hyperparams}
    if policy_kwargs:
        hyperparams["policy_kwargs"] = {**_Constraints.base_policy_kwargs, **policy_kwargs}
    return hyperparams


def make_sampler(algo: str, algorithm: type) -> Callable[[Any, int, int, dict], dict[str, Any]]:
    """rl-zoo3 sampler for ``algo``: ``sampler(trial, n_actions, n_envs, additional_args) -> hyperparams``.

    :param algo: zoo algorithm name, e.g. ``"dreamerv3"``
    :param algorithm: its class
    """

    def sampler(trial: Any, n_actions: int, n_envs: int, additional_args: dict) -> dict[str, Any]:
        raw = {name: _suggest(trial, name, dim) for name, dim in search_space(algo, algorithm).items()}
        return convert_params(raw)

    sampler.__name__ = sampler.__qualname__ = f"sample_{algo}_params"
    sampler.__doc__ = f"Optuna sampler for {algo} (see :mod:`dreamer_sb3.zoo.hyperparams_opt`)."
    return sampler
