"""DreamerV3's MineRL env spec: the real Minecraft env that :func:`~dreamer_sb3.wrappers.minecraft.make_minecraft` wraps.

DreamerV3 did not use a registered MineRL env but its own ``EnvSpec``: every item in the inventory and equipment
observations, life and location stats, every keyboard / camera / item action, no MineRL reward (the wrapper
computes DreamerV3's), no MineRL time limit, and blocks breaking faster (``BreakSpeedMultiplier``, in DreamerV3's
MineRL fork). :func:`dreamer_spec_handlers` lists that spec's handlers; :func:`make_dreamer_minerl_env` builds the
spec class and makes the (old gym API) env. minerl is imported only when they are called.
"""

from __future__ import annotations

from typing import Any

__all__ = ["dreamer_spec_handlers", "make_dreamer_minerl_env"]


def dreamer_spec_handlers(size: tuple[int, int], break_speed: float) -> dict[str, list]:
    """The handlers of DreamerV3's MineRL env spec, by ``EnvSpec.create_<part>`` name.

    :param size: POV resolution ``(height, width)``
    :param break_speed: block-breaking speed multiplier (1: stock Minecraft, no handler)
    :return: ``{part: handlers}``
    """
    from minerl.herobraine.hero import handler, handlers, mc

    class BreakSpeedMultiplier(handler.Handler):
        """Faster block breaking (needs a MineRL build that knows the ``BreakSpeedMultiplier`` element)."""

        def __init__(self, multiplier: float) -> None:
            self.multiplier = multiplier

        def to_string(self) -> str:
            return f"break_speed({self.multiplier})"

        def xml_template(self) -> str:
            return "<BreakSpeedMultiplier>{{multiplier}}</BreakSpeedMultiplier>"

    keys = mc.INVERSE_KEYMAP
    items = ["none", *mc.ALL_ITEMS]
    enum_kwargs = {"_other": "none", "_default": "none"}
    return {
        "agent_start": [] if break_speed == 1.0 else [BreakSpeedMultiplier(break_speed)],
        "agent_handlers": [],
        "server_world_generators": [handlers.DefaultWorldGenerator(force_reset=True)],
        "server_quit_producers": [handlers.ServerQuitWhenAnyAgentFinishes()],
        "server_initial_conditions": [
            handlers.TimeInitialCondition(allow_passage_of_time=True, start_time=0),
            handlers.SpawningInitialCondition(allow_spawning=True),
        ],
        "observables": [
            handlers.POVObservation((size[1], size[0])),  # MineRL takes (width, height)
            handlers.FlatInventoryObservation(mc.ALL_ITEMS),
            handlers.EquippedItemObservation(mc.ALL_ITEMS, _default="air", _other="other"),
            handlers.ObservationFromCurrentLocation(),
            handlers.ObservationFromLifeStats(),
        ],
        "actionables": [
            *[handlers.KeybasedCommandAction(k, keys[k]) for k in ("forward", "back", "left", "right", "jump", "sneak")],
            handlers.KeybasedCommandAction("attack", keys["attack"]),
            handlers.CameraAction(),
            handlers.PlaceBlock(items, **enum_kwargs),
            handlers.EquipAction(items, **enum_kwargs),
            handlers.CraftAction(items, **enum_kwargs),
            handlers.CraftNearbyAction(items, **enum_kwargs),
            handlers.SmeltItemNearby(items, **enum_kwargs),
        ],
        "rewardables": [],
        "server_decorators": [],
        "mission_handlers": [],
        "monitors": [],
    }


def make_dreamer_minerl_env(size: tuple[int, int], break_speed: float) -> Any:
    """Build and make DreamerV3's MineRL env spec: every item in the inventory observation, life and location stats,
    all item actions, no MineRL reward (the wrapper computes it) and no MineRL time limit.

    :param size: POV resolution ``(height, width)``
    :param break_speed: block-breaking speed multiplier (DreamerV3 used 100 with its MineRL fork)
    :return: the (old gym API) MineRL env
    """
    from minerl.herobraine.env_spec import EnvSpec

    parts = dreamer_spec_handlers(size, break_speed)
    methods: dict[str, Any] = {f"create_{part}": (lambda self, _h=hs: list(_h)) for part, hs in parts.items()}
    methods["is_from_folder"] = lambda self, folder: folder == "none"
    methods["get_docstring"] = lambda self: "DreamerV3's Minecraft env (dreamer_sb3)"
    methods["determine_success_from_rewards"] = lambda self, rewards: True
    spec_class = type("DreamerSB3MineRLSpec", (EnvSpec,), methods)
    return spec_class(name="DreamerSB3MineRL-v0").make()
