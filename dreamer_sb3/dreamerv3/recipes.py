"""The two official DreamerV3 recipes, as the settings of :class:`~dreamer_sb3.dreamerv3.DreamerV3` that differ.

``"current"`` is danijar/dreamerv3 at its latest code (2024-04 onwards, the journal paper's results;
``dreamerv3/configs.yaml`` and ``dreamerv3/agent.py``); ``"2023"`` is the first release (tag-less commit
8fa35f8, 2023-06, ``dreamerv3/configs.yaml`` and ``dreamerv3/behaviors.py``). Only the items that this
package implements both ways are listed here; every other difference (norms, sizes, the replay value loss's
gradient path) is a documented deviation in ``docs/algorithms.md``.
An explicit constructor argument always wins over the recipe.

The optimiser is its own switch, :data:`OPTIMIZERS` (``DreamerV3(optimizer=...)``): the current code's LaProp
with its learning rates, epsilon and adaptive clipping, or the 2023 release's three Adams. The default stays
``"adam"``, the optimiser every measured zoo entry and shipped agent trained with (``docs/algorithms.md``).
"""

from __future__ import annotations

import io
import json
import math
import pathlib
import zipfile
from typing import Any, Literal, get_args

from stable_baselines3.common.save_util import open_path

from dreamer_sb3.common.optim import OptimizerKind

#: the recipe names accepted by ``DreamerV3(recipe=...)``
Recipe = Literal["current", "2023"]

RECIPES: dict[str, dict[str, Any]] = {
    "current": dict(
        # agent.py imag_loss: con = self.con(inp, 2).prob(1), the probability of continuing
        discount_head="mean",
        # configs.yaml agent.loss_scales: dyn 1.0, rep 0.1
        dyn_scale=1.0,
        # configs.yaml replay_context: 1; agent.py _apply_replay_context starts a replayed window from the stored
        # carry of the step before it, and train() writes the new carries back (replay.update)
        replay_context=1,
        # configs.yaml replay.online: True; embodied/core/replay.py queues every fresh window and samples it first
        replay_online=True,
    ),
    "2023": dict(
        # behaviors.py / agent.py imagine: cont = self.heads['cont'](traj).mode()
        discount_head="mode",
        # configs.yaml loss_scales: dyn 0.5, rep 0.1
        dyn_scale=0.5,
        # no replay context: every replayed window starts from the initial state
        replay_context=0,
        # configs.yaml replay_online: False
        replay_online=False,
    ),
}

assert set(get_args(Recipe)) == set(RECIPES), "Recipe must name every entry of RECIPES"

#: the official optimisers, as the settings each one sets (every one of them that is ``None`` in the constructor)
OPTIMIZERS: dict[str, dict[str, Any]] = {
    # 2023 configs.yaml model_opt {lr: 1e-4, eps: 1e-8, clip: 1000}, actor_opt / critic_opt {lr: 3e-5, eps: 1e-5,
    # clip: 100}: three Adams with global-norm clipping
    "adam": dict(
        learning_rate=1e-4,
        actor_lr=3e-5,
        critic_lr=3e-5,
        model_eps=1e-8,
        ac_eps=1e-5,
        model_grad_clip=1000.0,
        ac_grad_clip=100.0,
    ),
    # current configs.yaml opt {lr: 4e-5, agc: 0.3, eps: 1e-20, warmup: 1000}: one LaProp over every module,
    # adaptive gradient clipping per tensor instead of a global-norm clip
    "laprop": dict(
        learning_rate=4e-5,
        actor_lr=4e-5,
        critic_lr=4e-5,
        model_eps=1e-20,
        ac_eps=1e-20,
        model_grad_clip=math.inf,
        ac_grad_clip=math.inf,
    ),
}


assert set(get_args(OptimizerKind)) == set(OPTIMIZERS), "OptimizerKind must name every entry of OPTIMIZERS"


def optimizer_settings(optimizer: str, **explicit: Any) -> dict[str, Any]:
    """The optimiser's settings with the explicit (non-``None``) arguments applied over them.

    :raises ValueError: for an unknown optimiser
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {optimizer!r}")
    settings = dict(OPTIMIZERS[optimizer])
    settings.update({k: v for k, v in explicit.items() if v is not None})
    return settings


def recipe_settings(recipe: str, **explicit: Any) -> dict[str, Any]:
    """The recipe's settings with the explicit (non-``None``) arguments applied over them.

    :raises ValueError: for an unknown recipe
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {list(RECIPES)}, got {recipe!r}")
    settings = dict(RECIPES[recipe])
    settings.update({k: v for k, v in explicit.items() if v is not None})
    return settings


#: settings added after agents had been saved, with the value those agents were trained with: a file that lacks
#: one of these keys loads with this value (files saved before ``recipe`` existed: the 2023 recipe, always
#: ``discount_head="mode"``, and they did save ``dyn_scale``, 0.5; files saved before ``replay_context`` or
#: ``replay_online`` existed: no replay context, no online queue)
LEGACY_SETTINGS: dict[str, Any] = {"recipe": "2023", "discount_head": "mode", "replay_context": 0, "replay_online": False}


def saved_keys(path: str | pathlib.Path | io.BufferedIOBase) -> set[str]:
    """The top-level keys of the ``data`` entry of an SB3 zip archive (the saved attributes), without loading it."""
    file = open_path(path, "r", verbose=0, suffix="zip")
    start = file.tell()
    try:
        with zipfile.ZipFile(file) as archive:
            return set(json.loads(archive.read("data").decode()))
    finally:
        file.seek(start)
        if not isinstance(path, io.BufferedIOBase):
            file.close()
