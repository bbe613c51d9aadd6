"""Minecraft (MineRL) with DreamerV3's action and observation design.

DreamerV3 (Hafner et al., 2023) was the first agent to collect diamonds in Minecraft from scratch. Its setup
(``embodied/envs/minecraft*.py`` of the paper's code) is reproduced by :class:`MinecraftWrapper`:

* **Actions**: one flat ``Discrete`` set. Basic (tasks ``wood`` and ``climb``, 12): noop, attack, turn
  up/down/left/right by 15 degrees, forward, back, left, right, jump (jump+forward), place dirt. ``diamond`` adds 13
  tech-tree actions (25 in total): craft planks / stick / crafting table, place crafting table, craft (at a table)
  wooden / stone / iron pickaxe, equip wooden / stone / iron pickaxe, craft furnace, place furnace, smelt iron ingot.
  Every entry is a full MineRL action dict (the rest of the fields no-op).
* **Sticky attack / jump**: an ``attack`` keeps attacking for ``sticky_attack`` (30) env steps (with jump off) and a
  ``jump`` keeps jumping forward for ``sticky_jump`` (10) env steps, so that a single decision breaks a block or
  clears an obstacle. DreamerV3 turns sticky attack off when blocks break faster (``break_speed != 1``), which
  :func:`make_minecraft` mirrors.
* **Pitch limit**: camera pitch changes that would leave [-60, 60] degrees are dropped.
* **Observations** (``Dict`` of ``Box``): ``image`` 64x64x3 uint8 (MineRL's ``pov``), ``inventory`` (item counts,
  float32, one entry per inventory item; ``log2`` is merged into ``log``), ``inventory_max`` (the element-wise
  maximum of ``inventory`` so far in the episode), ``equipped`` (one-hot of ``equipped_items.mainhand.type``),
  and, when the env has ``life_stats``, ``health`` = life/20, ``hunger`` = food/20, ``breath`` = air/300 in [0, 1]
  (shape ``(1,)``). MineRL envs without ``life_stats`` (e.g. ``MineRLObtainDiamond-v0``) simply have no
  health/hunger/breath entries and no health reward.
* **Rewards**: ``diamond``: +1 the first time in an episode each of the 12 milestone items (log, planks, stick,
  crafting table, wooden pickaxe, cobblestone, stone pickaxe, iron ore, furnace, iron ingot, iron pickaxe,
  diamond) enters the inventory, plus 0.01 x the change of ``health`` (life/20). ``wood``: +1 per log collected,
  plus the health term. ``climb``: the change of the player's height (needs ``location_stats``) plus the health
  term. MineRL's own reward is kept in ``info["env_reward"]``.
* **Episodes**: 36,000 agent steps (:func:`make_minecraft`, ``truncated``); death ends the episode
  (``terminated``).

The wrapper accepts any env with MineRL's spaces: a real MineRL env (old gym API, adapted automatically with
:class:`~dreamer_sb3.wrappers.minerl_interface.MineRLCompatibility`) or a gymnasium env with the same interface,
such as :class:`~dreamer_sb3.wrappers.minecraft_standin.MineRLStandinEnv`; a gymnasium env whose item fields are
MineRL's own ``Enum`` (a ``Discrete`` subclass with string ``values``) is adapted with
:class:`~dreamer_sb3.wrappers.minerl_interface.EnumSpaces`, exactly like the old-gym path. minerl itself is imported only by
:func:`make_minecraft` (DreamerV3's MineRL env spec is built in :mod:`dreamer_sb3.wrappers.minerl_spec`).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from .minerl_interface import ENUM_ACTIONS, Enum, EnumSpaces, MineRLCompatibility, has_foreign_enums, minerl_noop
from .minerl_spec import make_dreamer_minerl_env
from .time_limit import limit_agent_steps

__all__ = [
    "BASIC_ACTIONS",
    "DIAMOND_ACTIONS",
    "DIAMOND_MILESTONES",
    "MINECRAFT_TASKS",
    "MinecraftWrapper",
    "make_minecraft",
]

MINECRAFT_TASKS: tuple[str, ...] = ("diamond", "wood", "climb")

#: The basic actions (name -> MineRL fields that differ from the no-op), in DreamerV3's order.
BASIC_ACTIONS: dict[str, dict[str, Any]] = {
    "noop": {},
    "attack": {"attack": 1},
    "turn_up": {"camera": (-15.0, 0.0)},
    "turn_down": {"camera": (15.0, 0.0)},
    "turn_left": {"camera": (0.0, -15.0)},
    "turn_right": {"camera": (0.0, 15.0)},
    "forward": {"forward": 1},
    "back": {"back": 1},
    "left": {"left": 1},
    "right": {"right": 1},
    "jump": {"jump": 1, "forward": 1},
    "place_dirt": {"place": "dirt"},
}

#: The diamond task's actions: the basic ones followed by the tech-tree actions, in DreamerV3's order.
DIAMOND_ACTIONS: dict[str, dict[str, Any]] = {
    **BASIC_ACTIONS,
    "craft_planks": {"craft": "planks"},
    "craft_stick": {"craft": "stick"},
    "craft_crafting_table": {"craft": "crafting_table"},
    "place_crafting_table": {"place": "crafting_table"},
    "craft_wooden_pickaxe": {"nearbyCraft": "wooden_pickaxe"},
    "craft_stone_pickaxe": {"nearbyCraft": "stone_pickaxe"},
    "craft_iron_pickaxe": {"nearbyCraft": "iron_pickaxe"},
    "equip_stone_pickaxe": {"equip": "stone_pickaxe"},
    "equip_wooden_pickaxe": {"equip": "wooden_pickaxe"},
    "equip_iron_pickaxe": {"equip": "iron_pickaxe"},
    "craft_furnace": {"nearbyCraft": "furnace"},
    "place_furnace": {"place": "furnace"},
    "smelt_iron_ingot": {"nearbySmelt": "iron_ingot"},
}

#: The 12 items rewarded once per episode in the diamond task (the tech tree, in order).
DIAMOND_MILESTONES: tuple[str, ...] = (
    "log", "planks", "stick", "crafting_table", "wooden_pickaxe", "cobblestone", "stone_pickaxe", "iron_ore",
    "furnace", "iron_ingot", "iron_pickaxe", "diamond",
)  # fmt: skip

_HEALTH_REWARD_SCALE = 0.01
_MAX_LIFE, _MAX_FOOD, _MAX_AIR = 20.0, 20.0, 300.0
#: Fields carried over to the extra env steps when ``repeat > 1`` (as DreamerV3): movement and attack, not turns.
_REPEATED_FIELDS = ("attack", "forward", "back", "left", "right")


def _require(space: spaces.Space, path: str, kind: type) -> Any:
    if not isinstance(space, kind):
        raise ValueError(
            f"MinecraftWrapper needs MineRL's spaces: {path} should be a {kind.__name__}, got {space!r}. "
            "Wrap a MineRL env or an env with the same interface (see MineRLStandinEnv)."
        )
    return space


class MinecraftWrapper(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """DreamerV3's Minecraft interface on top of any env with MineRL's spaces (module docstring for the details).

    :param env: a MineRL env (old gym API is adapted; so is a gymnasium env using MineRL's own ``Enum`` spaces,
        see :class:`~dreamer_sb3.wrappers.minerl_interface.EnumSpaces`) or a gymnasium env with MineRL's observation
        keys (``pov``,
        ``inventory``, ``equipped_items.mainhand.type``, optional ``life_stats`` and ``location_stats``) and action
        keys (``camera``, buttons, ``place``/``equip``/``craft``/``nearbyCraft``/``nearbySmelt`` as item names)
    :param task: ``"diamond"``, ``"wood"`` or ``"climb"`` (selects the action set and the reward)
    :param size: ``(height, width)`` of ``obs["image"]`` (the ``pov`` is resized with area interpolation if needed)
    :param sticky_attack: env steps an ``attack`` lasts (0 disables)
    :param sticky_jump: env steps a ``jump`` lasts (0 disables)
    :param pitch_limit: allowed camera pitch range in degrees, or ``None`` for no limit
    :param repeat: env steps per agent step (the extra steps keep movement and attack, as DreamerV3)
    """

    def __init__(
        self,
        env: Any,
        task: str = "diamond",
        size: tuple[int, int] = (64, 64),
        sticky_attack: int = 30,
        sticky_jump: int = 10,
        pitch_limit: tuple[float, float] | None = (-60.0, 60.0),
        repeat: int = 1,
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self,
            task=task,
            size=size,
            sticky_attack=sticky_attack,
            sticky_jump=sticky_jump,
            pitch_limit=pitch_limit,
            repeat=repeat,
        )
        if not isinstance(env, gym.Env):
            env = MineRLCompatibility(env)
        elif has_foreign_enums(env.observation_space) or has_foreign_enums(env.action_space):
            env = EnumSpaces(env)  # MineRL's own Enum (a Discrete subclass) exposed through gymnasium
        gym.Wrapper.__init__(self, env)
        if task not in MINECRAFT_TASKS:
            raise ValueError(f"Unknown Minecraft task {task!r}; choose one of {MINECRAFT_TASKS}")
        if repeat < 1 or sticky_attack < 0 or sticky_jump < 0:
            raise ValueError("repeat must be >= 1 and the sticky lengths >= 0")
        self.task = task
        self.size = (int(size[0]), int(size[1]))
        self.sticky_attack = int(sticky_attack)
        self.sticky_jump = int(sticky_jump)
        self.pitch_limit = None if pitch_limit is None else (float(pitch_limit[0]), float(pitch_limit[1]))
        self.repeat = int(repeat)

        obs_space = _require(env.observation_space, "the observation space", spaces.Dict)
        pov = _require(obs_space.spaces.get("pov"), "observation_space['pov']", spaces.Box)
        if len(pov.shape) != 3 or pov.shape[-1] != 3:
            raise ValueError(f"observation_space['pov'] must be (H, W, 3), got {pov.shape}")
        inventory = _require(obs_space.spaces.get("inventory"), "observation_space['inventory']", spaces.Dict)
        equipped = _require(obs_space.spaces.get("equipped_items"), "observation_space['equipped_items']", spaces.Dict)
        mainhand = _require(equipped.spaces.get("mainhand"), "observation_space['equipped_items']['mainhand']", spaces.Dict)
        self._equip_enum: Enum = _require(mainhand.spaces.get("type"), "equipped_items.mainhand.type", Enum)
        self._has_life = "life_stats" in obs_space.spaces
        self._has_location = "location_stats" in obs_space.spaces
        if task == "climb" and not self._has_location:
            raise ValueError("The climb task rewards height gains and needs 'location_stats' (ypos) in the observation")
        self._resize = pov.shape[:2] != self.size

        #: Inventory entries of the ``inventory`` vector (``log2`` is merged into ``log``).
        self.inventory_keys: tuple[str, ...] = tuple(k for k in inventory.spaces if k != "log2")
        self._merge_log2 = "log2" in inventory.spaces and "log" in inventory.spaces

        table = DIAMOND_ACTIONS if task == "diamond" else BASIC_ACTIONS
        act_space = _require(env.action_space, "the action space", spaces.Dict)
        self._noop = minerl_noop(act_space)
        self.action_names: tuple[str, ...] = tuple(table)
        self._actions: list[dict[str, Any]] = [self._full_action(name, fields, act_space) for name, fields in table.items()]

        missing = [m for m in DIAMOND_MILESTONES if m not in inventory.spaces] if task == "diamond" else []
        if task == "wood" and "log" not in inventory.spaces:
            missing = ["log"]
        if missing:
            warnings.warn(
                f"The env's inventory has no {missing}: those rewards can never be given "
                "(e.g. MineRLObtainDiamond-v0 does not observe 'diamond').",
                stacklevel=2,
            )

        n_inv, n_equip = len(self.inventory_keys), len(self._equip_enum.values)
        # MineRL caps stacks at 2304; log2 merged into log can reach twice that.
        max_count = max(float(np.max(getattr(s, "high", 2304))) for s in inventory.spaces.values())
        max_count *= 2.0 if self._merge_log2 else 1.0
        obs_spaces: dict[str, spaces.Space] = {
            "image": spaces.Box(0, 255, (*self.size, 3), np.uint8),
            "inventory": spaces.Box(0.0, max_count, (n_inv,), np.float32),
            "inventory_max": spaces.Box(0.0, max_count, (n_inv,), np.float32),
            "equipped": spaces.Box(0.0, 1.0, (n_equip,), np.float32),
        }
        if self._has_life:
            for key in ("health", "hunger", "breath"):
                obs_spaces[key] = spaces.Box(0.0, 1.0, (1,), np.float32)
        self.observation_space = spaces.Dict(obs_spaces)
        self.action_space = spaces.Discrete(len(self._actions))

        self._attack_counter = 0
        self._jump_counter = 0
        self._pitch = 0.0
        self._inventory_max: np.ndarray | None = None
        self._previous_counts: dict[str, float] = {}
        self._collected: dict[str, None] = {}  # milestone items in the order they were reached
        self._previous_health: float | None = None
        self._previous_height: float | None = None

    # ------------------------------------------------------------------ actions
    def _full_action(self, name: str, fields: Mapping[str, Any], act_space: spaces.Dict) -> dict[str, Any]:
        action = copy.deepcopy(self._noop)
        for key, value in fields.items():
            if key not in act_space.spaces:
                raise ValueError(f"Action {name!r} needs the MineRL action field {key!r}, which the env lacks")
            field = act_space.spaces[key]
            if key in ENUM_ACTIONS or isinstance(field, Enum):
                if not field.contains(value):
                    raise ValueError(f"Action {name!r} sets {key}={value!r}, which is not in the env's {field}")
                action[key] = value
            elif key == "camera":
                action[key] = np.asarray(value, dtype=field.dtype)
            else:
                action[key] = int(value)
        return action

    def minerl_action(self, index: int) -> dict[str, Any]:
        """The MineRL action dict of discrete action ``index``, before sticky attack/jump and the pitch limit.

        :param index: index into :attr:`action_names`
        :return: a fresh copy of the full MineRL action dict
        """
        return copy.deepcopy(self._actions[int(index)])

    def _apply_sticky_and_pitch(self, action: dict[str, Any]) -> dict[str, Any]:
        if self.sticky_attack:
            if action["attack"]:
                self._attack_counter = self.sticky_attack
            if self._attack_counter > 0:
                action["attack"] = 1
                action["jump"] = 0
                self._attack_counter -= 1
        if self.sticky_jump:
            if action["jump"]:
                self._jump_counter = self.sticky_jump
            if self._jump_counter > 0:
                action["jump"] = 1
                action["forward"] = 1
                self._jump_counter -= 1
        if self.pitch_limit is not None:
            dpitch = float(action["camera"][0])
            if dpitch:
                low, high = self.pitch_limit
                if not low <= self._pitch + dpitch <= high:
                    action["camera"] = np.array([0.0, action["camera"][1]], dtype=action["camera"].dtype)
                    dpitch = 0.0
                self._pitch += dpitch
        return action

    # ------------------------------------------------------------- observations
    def _counts(self, obs: Mapping[str, Any]) -> dict[str, float]:
        inventory = obs["inventory"]
        counts = {k: float(inventory[k]) for k in self.inventory_keys}
        if self._merge_log2:
            counts["log"] += float(inventory["log2"])
        return counts

    def _life(self, obs: Mapping[str, Any]) -> tuple[float, float, float] | None:
        if not self._has_life:
            return None
        life = obs["life_stats"]
        return (
            float(np.clip(float(life["life"]) / _MAX_LIFE, 0.0, 1.0)),
            float(np.clip(float(life["food"]) / _MAX_FOOD, 0.0, 1.0)),
            float(np.clip(float(life["air"]) / _MAX_AIR, 0.0, 1.0)),
        )

    def _image(self, pov: np.ndarray) -> np.ndarray:
        image = np.asarray(pov, dtype=np.uint8)
        if self._resize:
            import cv2

            image = cv2.resize(image, (self.size[1], self.size[0]), interpolation=cv2.INTER_AREA)
        return image

    def _observation(self, obs: Mapping[str, Any], counts: dict[str, float]) -> dict[str, np.ndarray]:
        inventory = np.array([counts[k] for k in self.inventory_keys], dtype=np.float32)
        if self._inventory_max is None:
            self._inventory_max = inventory.copy()
        else:
            np.maximum(self._inventory_max, inventory, out=self._inventory_max)
        equipped = np.zeros(len(self._equip_enum.values), dtype=np.float32)
        item = str(obs["equipped_items"]["mainhand"]["type"])
        equipped[self._equip_enum.index(item) if item in self._equip_enum.values else self._equip_enum.index("other")] = 1.0
        out = {
            "image": self._image(obs["pov"]),
            "inventory": inventory,
            "inventory_max": self._inventory_max.copy(),
            "equipped": equipped,
        }
        life = self._life(obs)
        if life is not None:
            for key, value in zip(("health", "hunger", "breath"), life):
                out[key] = np.array([value], dtype=np.float32)
        return out

    def _height(self, obs: Mapping[str, Any]) -> float | None:
        return float(obs["location_stats"]["ypos"]) if self._has_location else None

    def _info(self, obs: Mapping[str, Any], counts: dict[str, float], info: dict[str, Any]) -> dict[str, Any]:
        info = dict(info)
        info["inventory"] = {k: v for k, v in counts.items() if k != "air"}
        info["milestones"] = tuple(self._collected)
        if self._has_location:
            loc = obs["location_stats"]
            info["player_pos"] = np.array([float(loc["xpos"]), float(loc["ypos"]), float(loc["zpos"])], np.float32)
        return info

    # ------------------------------------------------------------------ rewards
    def _reward(self, obs: Mapping[str, Any], counts: dict[str, float]) -> float:
        reward = 0.0
        if self.task == "diamond":
            for item in DIAMOND_MILESTONES:
                if item in counts and counts[item] > 0 and item not in self._collected:
                    self._collected[item] = None
                    reward += 1.0
        elif self.task == "wood":
            reward += max(0.0, counts.get("log", 0.0) - self._previous_counts.get("log", 0.0))
        else:
            height = self._height(obs)
            assert height is not None and self._previous_height is not None
            reward += height - self._previous_height
            self._previous_height = height
        life = self._life(obs)
        if life is not None:
            assert self._previous_health is not None
            reward += _HEALTH_REWARD_SCALE * (life[0] - self._previous_health)
            self._previous_health = life[0]
        self._previous_counts = counts
        return reward

    # ------------------------------------------------------------------- gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict]:
        """Reset the env and the sticky counters, pitch, inventory maximum and reward trackers.

        Items already in the inventory at reset do not count as collected milestones (and give no reward).

        :param seed: forwarded to the env
        :param options: forwarded to the env
        :return: first observation and info
        """
        obs, info = self.env.reset(seed=seed, options=options)
        self._attack_counter = 0
        self._jump_counter = 0
        self._pitch = 0.0
        self._inventory_max = None
        counts = self._counts(obs)
        self._previous_counts = counts
        self._collected = {m: None for m in DIAMOND_MILESTONES if counts.get(m, 0.0) > 0}
        life = self._life(obs)
        self._previous_health = None if life is None else life[0]
        self._previous_height = self._height(obs)
        return self._observation(obs, counts), self._info(obs, counts, info)

    def step(self, action: int) -> tuple[dict[str, Any], SupportsFloat, bool, bool, dict[str, Any]]:
        """Execute discrete action ``action`` (with sticky attack/jump and the pitch limit).

        :param action: index into :attr:`action_names`
        :return: observation, reward, terminated, truncated, info (``env_reward``, ``inventory``, ``milestones``
            (diamond-task milestone items held so far this episode, in the order reached; items held at reset first),
            ``minerl_action`` (the executed MineRL action dict), ``player_pos`` when available)
        """
        index = int(action)
        if not 0 <= index < len(self._actions):
            raise ValueError(f"action must be in [0, {len(self._actions)}), got {action}")
        executed = self._apply_sticky_and_pitch(self.minerl_action(index))
        env_reward = 0.0
        step_action = executed
        for i in range(self.repeat):
            obs, reward, terminated, truncated, info = self.env.step(step_action)
            env_reward += float(reward)
            if terminated or truncated:
                break
            if i == 0:
                step_action = copy.deepcopy(self._noop)
                for key in _REPEATED_FIELDS:
                    step_action[key] = executed[key]
        counts = self._counts(obs)
        reward = self._reward(obs, counts)
        info = self._info(obs, counts, info)
        info["env_reward"] = env_reward
        info["minerl_action"] = executed
        return self._observation(obs, counts), reward, bool(terminated), bool(truncated), info


def make_minecraft(
    task: str = "diamond",
    size: tuple[int, int] = (64, 64),
    break_speed: float = 100.0,
    sticky_attack: int | None = None,
    sticky_jump: int = 10,
    pitch_limit: tuple[float, float] | None = (-60.0, 60.0),
    length: int | None = 36_000,
    repeat: int = 1,
    env_id: str | None = None,
    render_mode: str = "rgb_array",
) -> gym.Env:
    """Create a real MineRL env with DreamerV3's setup: :class:`MinecraftWrapper` and a 36,000-step limit.

    By default the env is DreamerV3's own MineRL spec (every item in the inventory observation, life and location
    stats, all item actions, blocks breaking ``break_speed`` times faster). ``break_speed != 1`` needs a MineRL
    build with the ``BreakSpeedMultiplier`` handler (DreamerV3 installed such a fork); with stock ``minerl==0.4.4``
    pass ``break_speed=1.0``. ``env_id`` uses a registered MineRL env instead (e.g. ``"MineRLObtainDiamond-v0"``).

    Needs MineRL (``pip install minerl==0.4.4``, Java 8 JDK, and a virtual display such as ``xvfb-run`` on a
    headless machine). Without it, use :class:`MinecraftWrapper` on another env with MineRL's interface, e.g.
    :class:`~dreamer_sb3.wrappers.minecraft_standin.MineRLStandinEnv`.

    :param task: ``"diamond"``, ``"wood"`` or ``"climb"``
    :param size: ``(height, width)`` of the POV
    :param break_speed: block-breaking speed multiplier (DreamerV3: 100)
    :param sticky_attack: sticky attack length (``None``: DreamerV3's rule, 30 if ``break_speed == 1`` else 0)
    :param sticky_jump: sticky jump length
    :param pitch_limit: camera pitch range in degrees
    :param length: episode limit in agent steps (``None``: none)
    :param repeat: env steps per agent step
    :param env_id: a registered MineRL env id instead of DreamerV3's spec
    :param render_mode: must be ``"rgb_array"`` (``render()`` returns the POV)
    :return: the env
    """
    if task not in MINECRAFT_TASKS:
        raise ValueError(f"Unknown Minecraft task {task!r}; choose one of {MINECRAFT_TASKS}")
    if render_mode != "rgb_array":
        raise ValueError(f"render_mode must be 'rgb_array', got {render_mode!r}")
    try:
        import minerl  # noqa: F401
    except ImportError as e:
        raise ImportError(
            "make_minecraft needs MineRL, which is not installed. Install it with a Java 8 JDK: "
            "pip install 'dreamer-sb3[minecraft]' (minerl==0.4.4; DreamerV3's faster block breaking needs its MineRL "
            "fork). Without MineRL, wrap any env with MineRL's interface: "
            "MinecraftWrapper(MineRLStandinEnv(), task=...) or gym.make('dreamer_sb3/minecraft-standin-diamond-v0')."
        ) from e
    if env_id is not None:
        import gym as old_gym  # MineRL 0.4 registers its envs in the old gym package

        minerl_env = old_gym.make(env_id)
    else:
        minerl_env = make_dreamer_minerl_env(size, float(break_speed))
    if sticky_attack is None:
        sticky_attack = 30 if float(break_speed) == 1.0 else 0
    env = MinecraftWrapper(
        minerl_env,
        task=task,
        size=size,
        sticky_attack=sticky_attack,
        sticky_jump=sticky_jump,
        pitch_limit=pitch_limit,
        repeat=repeat,
    )
    return limit_agent_steps(env, length)
