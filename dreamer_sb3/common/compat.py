"""Loading models saved before a setting existed: they keep the value they were trained with.

Model files carry ``_settings_version`` (:data:`dreamer_sb3.common.base.SETTINGS_VERSION`; version 2: PlaNet, V1
and V2 default to their official code's settings). SB3's ``load`` builds the algorithm with
``_init_setup_model=False``, overwrites its attributes with the saved ones, builds the policy, and
:meth:`DreamerAlgorithm.load` then lets an older file's algorithm restore its training settings
(``_upgrade_settings``). The architecture must be right before the policy is built, so:

- on the load path an algorithm starts at ``_settings_version = 0`` (:func:`loading_version`), which a file's saved
  version replaces (a file without one is version 0);
- :func:`earlier_policy_kwargs` gives the architecture defaults of files older than version 2, which the
  algorithm puts under the user's saved ``policy_kwargs`` (in ``_derived_policy_kwargs``).
"""

from __future__ import annotations

from typing import Any

from dreamer_sb3.common.sizes import HEAD_LAYER_KEYS, resolve_size

#: the settings version whose defaults are the official PlaNet / V1 / V2 ones
OFFICIAL_DEFAULTS_VERSION = 2


def loading_version(init_setup_model: bool, current: int) -> int:
    """``_settings_version`` of a new algorithm object: ``current`` when it is being constructed, 0 on SB3's load
    path (``_init_setup_model=False``), where the file's saved version replaces it."""
    return current if init_setup_model else 0


def earlier_policy_kwargs(model: Any, policy_defaults: dict[str, Any]) -> dict[str, Any]:
    """The architecture defaults a model saved before version 2 was built with (``{}`` for a newer one):
    ``policy_defaults``, and every head as deep as its size's ``layers`` (heads had no depths of their own)."""
    if getattr(model, "_settings_version", OFFICIAL_DEFAULTS_VERSION) >= OFFICIAL_DEFAULTS_VERSION:
        return {}
    user = {**model.default_policy_kwargs, **model.policy_kwargs}
    layers = resolve_size(user.get("model_size", "S"), layers=user.get("layers"))["layers"]
    return {**policy_defaults, **{key: layers for key in HEAD_LAYER_KEYS}}


def saved_before_official_defaults(model: Any) -> bool:
    """Whether ``model`` was loaded from a file older than version 2 (call from ``_upgrade_settings``)."""
    return getattr(model, "_settings_version", 0) < OFFICIAL_DEFAULTS_VERSION
