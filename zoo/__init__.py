"""The rl-zoo-like layer: hyperparameter files, rl-zoo3 registration, command lines and pretrained agents.

- ``python -m dreamer_sb3.zoo.train --algo dreamerv3 --env CartPole-v1``: rl-zoo3's train (every flag, Optuna
  with ``-optimize``, ``-i`` to continue) with our algorithms registered and our YAML as the default config;
- ``python -m dreamer_sb3.zoo.enjoy --algo dreamerv3 --env CartPole-v1``: rl-zoo3's enjoy, by default on the
  agents shipped with the package;
- ``python -m dreamer_sb3.zoo.list``: YAML entries, their status and the shipped agents' scores;
- :func:`load_pretrained`: a shipped agent as a ready model, offline.
"""

from typing import Any

from dreamer_sb3.zoo.registry import ALGORITHMS, algorithm_class, hyperparams_path, register_in_rl_zoo3

__all__ = ["ALGORITHMS", "algorithm_class", "hyperparams_path", "load_pretrained", "register_in_rl_zoo3"]


def __getattr__(name: str) -> Any:
    # load_pretrained is imported lazily, so ``python -m dreamer_sb3.zoo.pretrained`` runs its module only once
    if name == "load_pretrained":
        from dreamer_sb3.zoo.pretrained import load_pretrained

        return load_pretrained
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
