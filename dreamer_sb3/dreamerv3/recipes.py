"""The two official DreamerV3 recipes, as the settings of :class:`~dreamer_sb3.dreamerv3.DreamerV3` that differ.

``"current"`` is danijar/dreamerv3 at its latest code (2024-04 onwards, the journal paper's results;
``dreamerv3/configs.yaml`` and ``dreamerv3/agent.py``); ``"2023"`` is the first release (tag-less commit
8fa35f8, 2023-06, ``dreamerv3/configs.yaml`` and ``dreamerv3/behaviors.py``). Only the items that this
package implements both ways are listed here; every other difference (optimiser, norms, sizes, the online
replay queue, the replay value loss's gradient path) is a documented deviation in ``docs/algorithms.md``.
An explicit constructor argument always wins over the recipe.
"""

from __future__ import annotations

import io
import json
import pathlib
import zipfile
from typing import Any, Literal, get_args

from stable_baselines3.common.save_util import open_path

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
    ),
    "2023": dict(
        # behaviors.py / agent.py imagine: cont = self.heads['cont'](traj).mode()
        discount_head="mode",
        # configs.yaml loss_scales: dyn 0.5, rep 0.1
        dyn_scale=0.5,
        # no replay context: every replayed window starts from the initial state
        replay_context=0,
    ),
}

assert set(get_args(Recipe)) == set(RECIPES), "Recipe must name every entry of RECIPES"


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
#: ``discount_head="mode"``, and they did save ``dyn_scale``, 0.5; files saved before ``replay_context``
#: existed: no replay context)
LEGACY_SETTINGS: dict[str, Any] = {"recipe": "2023", "discount_head": "mode", "replay_context": 0}


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
