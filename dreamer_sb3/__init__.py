"""dreamer-sb3: the Dreamer family as Stable-Baselines3 algorithms.

Importing the package is cheap: it registers the ``dreamer_sb3/...`` gymnasium env ids (see
:mod:`dreamer_sb3.wrappers`) and loads the algorithms (and torch) only when first accessed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

import dreamer_sb3.wrappers  # noqa: F401  (registers the gymnasium ids; numpy + gymnasium only)

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time :func:`__getattr__` imports them on first use
    from dreamer_sb3.dreamerv1 import DreamerV1
    from dreamer_sb3.dreamerv2 import DreamerV2
    from dreamer_sb3.dreamerv3 import DreamerV3
    from dreamer_sb3.planet import PlaNet

__version__ = "0.1.0"

#: every algorithm of the package: class name -> module defining it (the one registry; the zoo derives its
#: lowercase algorithm names from it)
ALGORITHM_MODULES: dict[str, str] = {
    "PlaNet": "dreamer_sb3.planet",
    "DreamerV1": "dreamer_sb3.dreamerv1",
    "DreamerV2": "dreamer_sb3.dreamerv2",
    "DreamerV3": "dreamer_sb3.dreamerv3",
}

__all__ = ["ALGORITHM_MODULES", "DreamerV1", "DreamerV2", "DreamerV3", "PlaNet", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ALGORITHM_MODULES:
        return getattr(importlib.import_module(ALGORITHM_MODULES[name]), name)
    raise AttributeError(f"module 'dreamer_sb3' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
