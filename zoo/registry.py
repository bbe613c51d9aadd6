"""Where the zoo's files live, and the registration of our algorithms in rl-zoo3.

rl-zoo3 has no plugin entry point: its ``ALGOS`` table is a plain dict read at run time, so
registering is inserting our classes there (and, for ``-optimize``, our Optuna samplers).
"""

from __future__ import annotations

import importlib
import pathlib

from dreamer_sb3 import ALGORITHM_MODULES
from dreamer_sb3.zoo.hyperparams_opt import convert_params, make_sampler

ZOO_DIR = pathlib.Path(__file__).resolve().parent
HYPERPARAMS_DIR = ZOO_DIR / "hyperparams"
AGENTS_DIR = ZOO_DIR / "agents"

#: zoo algorithm name -> (module, class name), derived from the package's one registry
#: (:data:`dreamer_sb3.ALGORITHM_MODULES`): the zoo name is the lowercase class name, e.g. ``"dreamerv3"``
ALGORITHMS: dict[str, tuple[str, str]] = {cls.lower(): (module, cls) for cls, module in ALGORITHM_MODULES.items()}


def algorithm_class(name: str) -> type:
    """The algorithm class for a zoo name such as ``"dreamerv3"``."""
    try:
        module, cls = ALGORITHMS[name]
    except KeyError:
        raise ValueError(f"Unknown algorithm {name!r}; dreamer-sb3 provides {sorted(ALGORITHMS)}") from None
    return getattr(importlib.import_module(module), cls)


def hyperparams_path(algo: str) -> pathlib.Path:
    """Path of the rl-zoo3 YAML file holding ``algo``'s hyperparameters."""
    return HYPERPARAMS_DIR / f"{algo}.yml"


def register_in_rl_zoo3() -> None:
    """Add every dreamer-sb3 algorithm to ``rl_zoo3.ALGOS`` and its Optuna sampler / converter to
    ``rl_zoo3.hyperparams_opt`` (idempotent).

    After this one call, plain rl-zoo3 runs our algorithms, e.g.
    ``python -c "import dreamer_sb3.zoo as z, rl_zoo3.train as t; z.register_in_rl_zoo3(); t.train()" --algo dreamerv3 ...``.
    """
    import rl_zoo3
    import rl_zoo3.hyperparams_opt
    import rl_zoo3.utils

    for name in ALGORITHMS:
        cls = algorithm_class(name)
        rl_zoo3.ALGOS[name] = cls
        rl_zoo3.utils.ALGOS[name] = cls
        rl_zoo3.hyperparams_opt.HYPERPARAMS_SAMPLER[name] = make_sampler(name, cls)
        rl_zoo3.hyperparams_opt.HYPERPARAMS_CONVERTER[name] = convert_params
