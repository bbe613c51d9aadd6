"""Loading models saved before a setting existed: they keep the value they were trained with.

SB3's ``load`` builds the algorithm with ``_init_setup_model=False``, overwrites its attributes with the saved
ones, then calls ``_setup_model``. A setting added later is missing from an older file, so it would take the
new default, and an architecture default that changed would no longer match the saved weights. An algorithm
therefore calls :func:`restore_saved_defaults` on that path: it marks the model as "saved before
:data:`SETTINGS_VERSION`" and sets the settings added since to their earlier values. A file saved since then
carries ``_settings_version`` and every setting, which overwrite these; :func:`earlier_policy_kwargs` gives the
architecture defaults to put under the user's saved ``policy_kwargs`` (see ``_derived_policy_kwargs``).
"""

from __future__ import annotations

from typing import Any

from dreamer_sb3.common.sizes import HEAD_LAYER_KEYS, resolve_size

#: version of the PlaNet / V1 / V2 settings; 2: the official values of issue 13 (free nats on the batch mean,
#: pretraining, weight decay, per-head depths, ReLU, truncated-normal actor, ...)
SETTINGS_VERSION = 2


def restore_saved_defaults(model: Any, attributes: dict[str, Any]) -> None:
    """On SB3's load path: mark ``model`` as saved before :data:`SETTINGS_VERSION` and give the algorithm
    ``attributes`` added since their earlier values (a newer file's saved values replace both)."""
    model._settings_version = 1
    for name, value in attributes.items():
        setattr(model, name, value)


def earlier_policy_kwargs(model: Any, policy_defaults: dict[str, Any]) -> dict[str, Any]:
    """The architecture defaults a model saved before :data:`SETTINGS_VERSION` was built with (``{}`` for a newer
    one): ``policy_defaults``, and every head as deep as its size's ``layers`` (heads had no depths of their own)."""
    if getattr(model, "_settings_version", SETTINGS_VERSION) >= SETTINGS_VERSION:
        return {}
    user = {**model.default_policy_kwargs, **model.policy_kwargs}
    layers = resolve_size(user.get("model_size", "S"), layers=user.get("layers"))["layers"]
    return {**policy_defaults, **{key: layers for key in HEAD_LAYER_KEYS}}
