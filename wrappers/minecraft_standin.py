"""A small, fast stand-in for a MineRL env: MineRL's exact interface with scripted, deterministic dynamics.

MineRL needs Java and a Minecraft instance; this fake does not. It exists so that
:class:`~dreamer_sb3.wrappers.minecraft.MinecraftWrapper` (and agents using it) can be tested and smoke-trained
anywhere, and it doubles as executable documentation of the interface the wrapper expects. It is **not** Minecraft:
learning results on it say nothing about Minecraft.

Interface (gymnasium API, MineRL 0.4 spaces; item fields are strings, see
:class:`~dreamer_sb3.wrappers.minerl_interface.Enum`):

* observation ``Dict``: ``pov`` ``Box(0, 255, (H, W, 3), uint8)``; ``inventory`` ``Dict(item: Box(0, 2304, (),
  int64))``; ``equipped_items`` ``Dict(mainhand: Dict(type: Enum, damage: Box(-1, 1562, (), int64), maxDamage:
  ...))``; optional ``life_stats`` ``Dict(life, food, air, saturation, xp, score, is_alive)``; optional
  ``location_stats`` ``Dict(xpos, ypos, zpos, pitch, yaw)`` (the position/orientation part of MineRL's).
* action ``Dict``: ``attack``, ``back``, ``forward``, ``jump``, ``left``, ``right``, ``sneak``, ``sprint``
  ``Discrete(2)``; ``camera`` ``Box(-180, 180, (2,), float32)`` (pitch, yaw change in degrees); ``craft``,
  ``equip``, ``nearbyCraft``, ``nearbySmelt``, ``place`` ``Enum`` with ``MineRLObtainDiamond-v0``'s item names.

Scripted world (one env step = one Minecraft tick):

* The agent stands in front of a tree next to a hill. Camera pitch: ``<= -15`` looks at the tree trunk, ``>= 45``
  at the ground under it, in between at nothing. Pitch is clipped to [-90, 90], yaw wraps around.
* ``attack`` held for ``break_ticks`` consecutive ticks on the same target breaks it. The trunk gives ``log``
  (``log2`` instead when the seeded world has an acacia tree and the inventory tracks ``log2``). Breaking the ground
  digs one block down (``ypos`` - 1), starting at y=64: 2 layers of ``dirt``, 12-15 of ``stone`` (drops
  ``cobblestone`` with any pickaxe equipped), 3-4 of ``iron_ore`` (needs a stone or iron pickaxe), then
  ``diamond_ore`` (needs an iron pickaxe, drops ``diamond``); the layer counts are seeded. A block broken with
  the wrong tool drops nothing.
  Pickaxes wear by 1 per block and break at ``maxDamage`` (wooden 59, stone 131, iron 250).
* ``jump`` with ``forward`` climbs one block of the hill (``ypos`` + 1); ``forward``/``back``/``left``/``right``
  move 0.2 blocks per tick. Walking ``right`` pushes into a cactus: -1 life per tick.
* ``craft``: planks (1 log -> 4), stick (2 planks -> 4), crafting_table (4 planks), torch (1 stick + 1 coal -> 4).
  ``place`` puts an inventory block down in front of the agent (a crafting table or furnace must be within 4
  blocks for ``nearbyCraft`` / ``nearbySmelt``). ``nearbyCraft``: wooden/stone/iron pickaxe and axe (3 planks /
  cobblestone / iron ingots + 2 sticks), furnace (8 cobblestone). ``nearbySmelt`` (fuel: 1 coal or 1 planks):
  iron_ingot (from iron_ore), coal (from log). ``equip`` holds an item in the inventory (``air`` empties the hand).
* Hunger: food - 1 every 300 ticks; at 0 food, life - 1 every 80 ticks; with food >= 18, life + 1 every 80 ticks.
  Life 0 ends the episode (``terminated``). ``max_steps`` truncates.
* ``pov``: a cheap synthetic picture of the state (sky colour from yaw and light, the targeted block's colour in
  the centre, the held item and the log/cobblestone/iron counts as bars at the bottom).

Everything random (tree kind, ore depths) comes from ``reset(seed=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .minerl_interface import BUTTON_ACTIONS, Enum

__all__ = ["STANDIN_ITEMS", "MineRLStandinEnv", "make_minecraft_standin"]

#: Inventory items of ``MineRLObtainDiamond-v0`` plus ``diamond``.
STANDIN_ITEMS: tuple[str, ...] = (
    "coal", "cobblestone", "crafting_table", "diamond", "dirt", "furnace", "iron_axe", "iron_ingot", "iron_ore",
    "iron_pickaxe", "log", "planks", "stick", "stone", "stone_axe", "stone_pickaxe", "torch", "wooden_axe",
    "wooden_pickaxe",
)  # fmt: skip

#: Item-name action fields of ``MineRLObtainDiamond-v0``.
ACTION_ENUMS: dict[str, tuple[str, ...]] = {
    "craft": ("crafting_table", "none", "planks", "stick", "torch"),
    "equip": ("air", "iron_axe", "iron_pickaxe", "none", "stone_axe", "stone_pickaxe", "wooden_axe", "wooden_pickaxe"),
    "nearbyCraft": (
        "furnace",
        "iron_axe",
        "iron_pickaxe",
        "none",
        "stone_axe",
        "stone_pickaxe",
        "wooden_axe",
        "wooden_pickaxe",
    ),
    "nearbySmelt": ("coal", "iron_ingot", "none"),
    "place": ("cobblestone", "crafting_table", "dirt", "furnace", "none", "stone", "torch"),
}
#: ``equipped_items.mainhand.type`` values of ``MineRLObtainDiamond-v0``.
MAINHAND_TYPES: tuple[str, ...] = (
    "air", "iron_axe", "iron_pickaxe", "none", "other", "stone_axe", "stone_pickaxe", "wooden_axe", "wooden_pickaxe",
)  # fmt: skip

_MAX_COUNT = 2304
_TOOL_DURABILITY = {"wooden": 59, "stone": 131, "iron": 250}
_PICKAXE_TIER = {"wooden_pickaxe": 1, "stone_pickaxe": 2, "iron_pickaxe": 3}
_CRAFT = {  # 2x2 inventory crafting: item -> (ingredients, count made)
    "planks": ({"log": 1}, 4),
    "stick": ({"planks": 2}, 4),
    "crafting_table": ({"planks": 4}, 1),
    "torch": ({"stick": 1, "coal": 1}, 4),
}
_NEARBY_CRAFT = {  # needs a crafting table within reach
    "wooden_pickaxe": ({"planks": 3, "stick": 2}, 1),
    "wooden_axe": ({"planks": 3, "stick": 2}, 1),
    "stone_pickaxe": ({"cobblestone": 3, "stick": 2}, 1),
    "stone_axe": ({"cobblestone": 3, "stick": 2}, 1),
    "iron_pickaxe": ({"iron_ingot": 3, "stick": 2}, 1),
    "iron_axe": ({"iron_ingot": 3, "stick": 2}, 1),
    "furnace": ({"cobblestone": 8}, 1),
}
_SMELT = {"iron_ingot": "iron_ore", "coal": "log"}  # needs a furnace within reach and fuel
_COLOURS = {
    "log": (102, 76, 51),
    "log2": (150, 90, 60),
    "dirt": (134, 96, 67),
    "stone": (125, 125, 125),
    "iron_ore": (196, 160, 130),
    "diamond_ore": (90, 220, 220),
    "air": (0, 0, 0),
}
_REACH = 4.0
_SURFACE_Y = 64
_DIRT_BOTTOM = 62
_HUNGER_TICKS = 300
_LIFE_TICKS = 80


def _scalar_box(low: float, high: float, dtype: Any) -> spaces.Box:
    return spaces.Box(low, high, (), dtype)


class MineRLStandinEnv(gym.Env):
    """Fake MineRL env with MineRL's exact spaces and scripted dynamics (module docstring for the rules).

    :param resolution: ``(height, width)`` of ``pov``
    :param items: inventory items (add ``"log2"`` to get MineRL's second log type, merged by the wrapper)
    :param life_stats: observe ``life_stats`` (``MineRLObtainDiamond-v0`` does not)
    :param location_stats: observe ``location_stats`` (position and orientation)
    :param break_ticks: consecutive attack ticks that break a block (Minecraft by hand: ~15-75; DreamerV3's fast
        breaking: 1)
    :param max_steps: truncate episodes after this many ticks (``None``: never)
    :param render_mode: ``"rgb_array"`` (``render()`` returns the ``pov``) or ``None``
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        resolution: tuple[int, int] = (64, 64),
        items: tuple[str, ...] = STANDIN_ITEMS,
        life_stats: bool = True,
        location_stats: bool = True,
        break_ticks: int = 1,
        max_steps: int | None = None,
        render_mode: str | None = "rgb_array",
    ) -> None:
        if break_ticks < 1:
            raise ValueError(f"break_ticks must be >= 1, got {break_ticks}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be 'rgb_array' or None, got {render_mode!r}")
        self.resolution = (int(resolution[0]), int(resolution[1]))
        self.items = tuple(sorted(set(items)))
        self.life_stats = life_stats
        self.location_stats = location_stats
        self.break_ticks = int(break_ticks)
        self.max_steps = max_steps
        self.render_mode = render_mode

        count = _scalar_box(0, _MAX_COUNT, np.int64)
        obs: dict[str, spaces.Space] = {
            "pov": spaces.Box(0, 255, (*self.resolution, 3), np.uint8),
            "inventory": spaces.Dict({item: count for item in self.items}),
            "equipped_items": spaces.Dict(
                {
                    "mainhand": spaces.Dict(
                        {
                            "damage": _scalar_box(-1, 1562, np.int64),
                            "maxDamage": _scalar_box(-1, 1562, np.int64),
                            "type": Enum(*MAINHAND_TYPES),
                        }
                    )
                }
            ),
        }
        if life_stats:
            obs["life_stats"] = spaces.Dict(
                {
                    "air": _scalar_box(0, 300, np.int64),
                    "food": _scalar_box(0, 20, np.int64),
                    "is_alive": spaces.Box(0, 1, (), np.bool_),
                    "life": _scalar_box(0, 20, np.float64),
                    "saturation": _scalar_box(0, 20, np.float64),
                    "score": _scalar_box(0, 2**31 - 1, np.int64),
                    "xp": _scalar_box(0, 2**31 - 1, np.int64),
                }
            )
        if location_stats:
            position = _scalar_box(-640000.0, 640000.0, np.float64)
            angle = _scalar_box(-180.0, 180.0, np.float64)
            obs["location_stats"] = spaces.Dict(
                {"pitch": angle, "xpos": position, "yaw": angle, "ypos": position, "zpos": position}
            )
        self.observation_space = spaces.Dict(obs)
        self.action_space = spaces.Dict(
            {
                **{key: spaces.Discrete(2) for key in BUTTON_ACTIONS},
                "camera": spaces.Box(-180.0, 180.0, (2,), np.float32),
                **{key: Enum(*values) for key, values in ACTION_ENUMS.items()},
            }
        )
        self._inventory: dict[str, int] = {}
        self._started = False

    # ------------------------------------------------------------------ world
    def _new_world(self) -> None:
        rng = self.np_random
        self._inventory = dict.fromkeys(self.items, 0)
        self._mainhand = "air"
        self._damage = 0
        self._max_damage = 0
        self._life = 20.0
        self._food = 20
        self._air = 300
        self._saturation = 5.0
        self._pitch = 0.0
        self._yaw = 0.0
        self._pos = np.array([0.0, float(_SURFACE_Y), 0.0])
        self._tree_item = "log2" if "log2" in self.items and rng.random() < 0.5 else "log"
        self._iron_top = _DIRT_BOTTOM - int(rng.integers(12, 16))  # first iron layer: 12-15 stone layers above it
        self._diamond_top = self._iron_top - int(rng.integers(3, 5))  # first diamond layer: 3-4 iron layers above it
        self._placed: list[tuple[str, np.ndarray]] = []
        self._break_target: str | None = None
        self._break_progress = 0
        self._ticks = 0

    def _ground(self) -> str:
        y = int(self._pos[1])
        if y > _DIRT_BOTTOM:
            return "dirt"
        if y > self._iron_top:
            return "stone"
        if y > self._diamond_top:
            return "iron_ore"
        return "diamond_ore"

    def _target(self) -> str:
        if self._pitch <= -15.0:
            return self._tree_item
        if self._pitch >= 45.0:
            return self._ground()
        return "air"

    def _near(self, block: str) -> bool:
        return any(name == block and np.linalg.norm(pos - self._pos) <= _REACH for name, pos in self._placed)

    def _give(self, item: str, count: int = 1) -> None:
        if item in self._inventory:
            self._inventory[item] = min(_MAX_COUNT, self._inventory[item] + count)

    def _take(self, needs: Mapping[str, int]) -> bool:
        if any(self._inventory.get(item, 0) < n for item, n in needs.items()):
            return False
        for item, n in needs.items():
            self._inventory[item] -= n
        return True

    def _break(self, block: str) -> None:
        tier = _PICKAXE_TIER.get(self._mainhand, 0)
        if block in ("log", "log2"):
            self._give(block)
            return
        self._pos[1] -= 1.0  # dug one block down
        drop = {"dirt": ("dirt", 0), "stone": ("cobblestone", 1), "iron_ore": ("iron_ore", 2)}.get(block, ("diamond", 3))
        if tier >= drop[1]:
            self._give(drop[0])
        if tier:
            self._damage += 1
            if self._damage >= self._max_damage:  # the pickaxe breaks
                self._inventory[self._mainhand] -= 1
                self._mainhand, self._damage, self._max_damage = "air", 0, 0

    def _equip(self, item: str) -> None:
        if item == self._mainhand:
            return
        if item == "air" or (item != "none" and self._inventory.get(item, 0) > 0):
            self._mainhand = item
            tier = item.split("_")[0]
            self._damage = 0
            self._max_damage = _TOOL_DURABILITY.get(tier, 0) if item != "air" else 0

    def _tick_life(self, action: Mapping[str, Any]) -> None:
        if int(action["right"]):
            self._life -= 1.0  # the cactus
        self._ticks += 1
        if self._ticks % _HUNGER_TICKS == 0:
            self._food = max(0, self._food - 1)
        if self._ticks % _LIFE_TICKS == 0:
            if self._food == 0:
                self._life -= 1.0
            elif self._food >= 18 and self._life < 20.0:
                self._life += 1.0
        self._life = float(np.clip(self._life, 0.0, 20.0))

    def _apply(self, action: Mapping[str, Any]) -> None:
        dpitch, dyaw = (float(v) for v in np.asarray(action["camera"], dtype=np.float64))
        self._pitch = float(np.clip(self._pitch + dpitch, -90.0, 90.0))
        self._yaw = float((self._yaw + dyaw + 180.0) % 360.0 - 180.0)
        heading = np.deg2rad(self._yaw)
        ahead = np.array([-np.sin(heading), 0.0, np.cos(heading)])
        side = np.array([np.cos(heading), 0.0, np.sin(heading)])
        move = 0.2 * (int(action["forward"]) - int(action["back"])) * ahead
        move += 0.2 * (int(action["right"]) - int(action["left"])) * side
        self._pos += move
        if int(action["jump"]) and int(action["forward"]):
            self._pos[1] += 1.0

        target = self._target()
        if int(action["attack"]) and target != "air":
            self._break_progress = self._break_progress + 1 if target == self._break_target else 1
            self._break_target = target
            if self._break_progress >= self.break_ticks:
                self._break(target)
                self._break_target, self._break_progress = None, 0
        else:
            self._break_target, self._break_progress = None, 0

        place = action["place"]
        if place != "none" and self._take({place: 1}):
            self._placed.append((place, self._pos + ahead))
        craft = action["craft"]
        if craft in _CRAFT and self._take(_CRAFT[craft][0]):
            self._give(craft, _CRAFT[craft][1])
        nearby = action["nearbyCraft"]
        if nearby in _NEARBY_CRAFT and self._near("crafting_table") and self._take(_NEARBY_CRAFT[nearby][0]):
            self._give(nearby, _NEARBY_CRAFT[nearby][1])
        smelt = action["nearbySmelt"]
        if smelt in _SMELT and self._near("furnace"):
            fuel = "coal" if self._inventory.get("coal", 0) > 0 and smelt != "coal" else "planks"
            if self._take({_SMELT[smelt]: 1, fuel: 1}):
                self._give(smelt)
        self._equip(action["equip"])
        if self._mainhand not in ("air", "none") and self._inventory.get(self._mainhand, 0) <= 0:
            self._mainhand, self._damage, self._max_damage = "air", 0, 0
        self._tick_life(action)

    # ---------------------------------------------------------- observations
    def _pov(self) -> np.ndarray:
        h, w = self.resolution
        image = np.empty((h, w, 3), dtype=np.uint8)
        light = 0.6 + 0.4 * np.cos(np.deg2rad(self._yaw))
        image[: h // 2] = (int(90 * light), int(140 * light), int(230 * light))
        image[h // 2 :] = (70, 120, 40) if self._pos[1] >= _SURFACE_Y else (60, 60, 60)
        target = self._target()
        image[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = _COLOURS.get(target, _COLOURS["air"])
        if self._mainhand not in ("air", "none"):
            image[-h // 8 :, -w // 4 :] = (200, 200, 40) * np.array([_PICKAXE_TIER.get(self._mainhand, 1) / 3])
        for row, item in enumerate(("log", "cobblestone", "iron_ingot")):
            length = min(w, self._inventory.get(item, 0) * 4)
            image[h - 1 - row, :length] = (255, 255, 255)
        return image

    def _obs(self) -> dict[str, Any]:
        obs: dict[str, Any] = {
            "pov": self._pov(),
            "inventory": {item: np.array(n, dtype=np.int64) for item, n in self._inventory.items()},
            "equipped_items": {
                "mainhand": {
                    "damage": np.array(self._damage, dtype=np.int64),
                    "maxDamage": np.array(self._max_damage, dtype=np.int64),
                    "type": self._mainhand,
                }
            },
        }
        if self.life_stats:
            obs["life_stats"] = {
                "air": np.array(self._air, dtype=np.int64),
                "food": np.array(self._food, dtype=np.int64),
                "is_alive": np.array(self._life > 0, dtype=bool),
                "life": np.array(self._life, dtype=np.float64),
                "saturation": np.array(self._saturation, dtype=np.float64),
                "score": np.array(0, dtype=np.int64),
                "xp": np.array(0, dtype=np.int64),
            }
        if self.location_stats:
            x, y, z = (float(v) for v in self._pos)
            obs["location_stats"] = {
                "pitch": np.array(self._pitch, dtype=np.float64),
                "xpos": np.array(x, dtype=np.float64),
                "yaw": np.array(self._yaw, dtype=np.float64),
                "ypos": np.array(y, dtype=np.float64),
                "zpos": np.array(z, dtype=np.float64),
            }
        return obs

    # ---------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict]:
        """Generate a new world (seeded by ``seed``).

        :param seed: seed of the world's randomness
        :param options: unused
        :return: first observation and an empty info
        """
        super().reset(seed=seed)
        self._new_world()
        self._started = True
        return self._obs(), {}

    def step(self, action: Mapping[str, Any]) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Advance one tick with a MineRL action dict (item fields as names).

        :param action: the MineRL action; missing fields are no-ops
        :return: observation, reward (always 0, as MineRL envs without reward handlers), terminated (death),
            truncated (``max_steps``), info
        """
        if not self._started:
            raise gym.error.ResetNeeded("Call reset() before step().")
        full = self._complete(action)
        self._apply(full)
        terminated = self._life <= 0.0
        truncated = bool(self.max_steps is not None and self._ticks >= self.max_steps and not terminated)
        return self._obs(), 0.0, terminated, truncated, {}

    def _complete(self, action: Mapping[str, Any]) -> dict[str, Any]:
        unknown = set(action) - set(self.action_space.spaces)
        if unknown:
            raise ValueError(f"Unknown MineRL action fields {sorted(unknown)}")
        full: dict[str, Any] = {}
        for key, space in self.action_space.spaces.items():
            if key not in action:
                full[key] = "none" if isinstance(space, Enum) else (np.zeros(2, np.float32) if key == "camera" else 0)
                continue
            value = action[key]
            if isinstance(space, Enum):
                value = str(value)
            elif key == "camera":
                value = np.asarray(value, dtype=np.float32).reshape(2)
            else:
                value = int(value)
            if not space.contains(value):
                raise ValueError(f"Invalid MineRL action {key}={action[key]!r} for {space}")
            full[key] = value
        return full

    def render(self) -> np.ndarray | None:
        """The current ``pov`` (``render_mode="rgb_array"``).

        :return: ``(H, W, 3)`` uint8 frame or ``None``
        """
        if self.render_mode is None:
            return None
        if not self._started:
            return np.zeros((*self.resolution, 3), dtype=np.uint8)
        return self._pov()


def make_minecraft_standin(
    task: str = "diamond",
    size: tuple[int, int] = (64, 64),
    length: int | None = 36_000,
    sticky_attack: int = 0,
    sticky_jump: int = 10,
    break_ticks: int = 1,
    life_stats: bool = True,
    render_mode: str = "rgb_array",
) -> gym.Env:
    """:class:`~dreamer_sb3.wrappers.minecraft.MinecraftWrapper` on :class:`MineRLStandinEnv` (no MineRL needed).

    Defaults mirror :func:`~dreamer_sb3.wrappers.minecraft.make_minecraft` with DreamerV3's fast block breaking
    (one tick per block, sticky attack off).

    :param task: ``"diamond"``, ``"wood"`` or ``"climb"``
    :param size: ``(height, width)`` of the image
    :param length: episode limit in agent steps
    :param sticky_attack: sticky attack length
    :param sticky_jump: sticky jump length
    :param break_ticks: attack ticks per block
    :param life_stats: observe health/hunger/breath
    :param render_mode: must be ``"rgb_array"``
    :return: the env
    """
    from .minecraft import MinecraftWrapper
    from .time_limit import limit_agent_steps

    if render_mode != "rgb_array":
        raise ValueError(f"render_mode must be 'rgb_array', got {render_mode!r}")
    env = MineRLStandinEnv(resolution=size, life_stats=life_stats, break_ticks=break_ticks)
    env = MinecraftWrapper(env, task=task, size=size, sticky_attack=sticky_attack, sticky_jump=sticky_jump)
    return limit_agent_steps(env, length)
