"""dreamer-sb3: the Dreamer family as Stable-Baselines3 algorithms.

Importing the package is cheap: it registers the ``dreamer_sb3/...`` gymnasium env ids (see
:mod:`dreamer_sb3.wrappers`) and loads the algorithms (and torch) only when first accessed.
"""

from __future__ import annotations

import importlib
from typing import Any

import dreamer_sb3.wrappers  # noqa: F401  (registers the gymnasium ids; numpy + gymnasium only)

__version__ = "0.1.0"

_ALGORITHMS = {
    "PlaNet": "dreamer_sb3.planet",
    "DreamerV1": "dreamer_sb3.dreamerv1",
    "DreamerV2": "dreamer_sb3.dreamerv2",
    "DreamerV3": "dreamer_sb3.dreamerv3",
}

__all__ = [*_ALGORITHMS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _ALGORITHMS:
        return getattr(importlib.import_module(_ALGORITHMS[name]), name)
    raise AttributeError(f"module 'dreamer_sb3' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
