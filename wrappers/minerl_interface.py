"""MineRL's observation/action interface expressed with gymnasium spaces.

MineRL (0.4.x, the version DreamerV3 used) runs on the old ``gym`` API and has its own ``Enum`` space for item
fields: the ``place``, ``equip``, ``craft``, ``nearbyCraft`` and ``nearbySmelt`` actions and the observed
``equipped_items.mainhand.type`` take and return item-name *strings* (``"none"``, ``"planks"``, ...).

Representation chosen here: :class:`Enum`, a subclass of gymnasium's :class:`~gymnasium.spaces.Text` restricted
to a fixed, sorted set of names. Values stay strings exactly as in MineRL (so a real MineRL env and
:class:`~dreamer_sb3.wrappers.minecraft_standin.MineRLStandinEnv` accept the same action dicts), the space is a
standard gymnasium type (``sample``, ``contains``, ``seed``, vector batching and the env checker work), and the
name <-> index mapping a learning agent needs is explicit (:meth:`Enum.index`, :attr:`Enum.values`, sorted like
MineRL's). Agents never see these spaces: :class:`~dreamer_sb3.wrappers.minecraft.MinecraftWrapper` exposes a flat
``Discrete`` action space and a ``Dict`` of ``Box`` observations.

:class:`MineRLCompatibility` turns a real (old-gym) MineRL env into a gymnasium env with these spaces;
:class:`EnumSpaces` does the same for a gymnasium env whose item fields are MineRL's own ``Enum`` (a ``Discrete``
subclass carrying the string ``values``), e.g. MineRL exposed through a gymnasium adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "BUTTON_ACTIONS",
    "ENUM_ACTIONS",
    "Enum",
    "EnumSpaces",
    "MineRLCompatibility",
    "convert_minerl_space",
    "minerl_noop",
]

#: MineRL's binary (key-press) action fields.
BUTTON_ACTIONS: tuple[str, ...] = ("attack", "back", "forward", "jump", "left", "right", "sneak", "sprint")
#: MineRL's item-name action fields.
ENUM_ACTIONS: tuple[str, ...] = ("craft", "equip", "nearbyCraft", "nearbySmelt", "place")


class Enum(spaces.Text):
    """A finite set of names, as MineRL's ``Enum`` space: elements are ``str`` values from :attr:`values`.

    :param values: the allowed names (stored sorted and de-duplicated, like MineRL)
    :param seed: seed of the space's sampler
    """

    def __init__(self, *values: str, seed: int | np.random.Generator | None = None) -> None:
        names = tuple(sorted({str(v) for v in values}))
        if not names or any(not n for n in names):
            raise ValueError(f"Enum needs at least one non-empty name, got {values}")
        super().__init__(
            max_length=max(len(n) for n in names),
            min_length=min(len(n) for n in names),
            charset="".join(sorted(set("".join(names)))),
            seed=seed,
        )
        self.values: tuple[str, ...] = names
        self._index = {n: i for i, n in enumerate(names)}

    def sample(self, mask: np.ndarray | None = None, probability: np.ndarray | None = None) -> str:
        """Draw a name, uniformly or as ``mask`` / ``probability`` say.

        Unlike ``Text``, masks here are over the names (as for ``Discrete``), not over characters.

        :param mask: ``int8`` array of ``len(values)``: 1 where a name may be drawn
        :param probability: ``float`` array of ``len(values)``: the probability of each name
        :return: one of :attr:`values`
        """
        n = len(self.values)
        if mask is not None and probability is not None:
            raise ValueError("Give either a mask or a probability, not both")
        if mask is not None:
            mask = np.asarray(mask)
            if mask.shape != (n,) or not np.all((mask == 0) | (mask == 1)):
                raise ValueError(f"mask must be a 0/1 array of shape ({n},), got {mask}")
            allowed = np.flatnonzero(mask)
            if len(allowed) == 0:
                raise ValueError("mask allows no name")
            return self.values[int(self.np_random.choice(allowed))]
        if probability is not None:
            probability = np.asarray(probability, dtype=np.float64)
            if probability.shape != (n,) or np.any(probability < 0) or not np.isclose(probability.sum(), 1.0):
                raise ValueError(f"probability must be a distribution of shape ({n},), got {probability}")
            return self.values[int(self.np_random.choice(n, p=probability))]
        return self.values[int(self.np_random.integers(n))]

    def contains(self, x: Any) -> bool:
        """Whether ``x`` is one of the names.

        :param x: candidate
        :return: ``True`` for a ``str`` in :attr:`values`
        """
        return isinstance(x, str) and x in self._index

    def index(self, name: str) -> int:
        """Position of ``name`` in :attr:`values` (for one-hot encodings).

        :param name: a name of this enum
        :return: its index
        """
        try:
            return self._index[name]
        except KeyError:
            raise ValueError(f"{name!r} is not in {self}") from None

    def __repr__(self) -> str:
        return f"Enum({', '.join(self.values)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Enum) and other.values == self.values

    def __hash__(self) -> int:
        return hash(("Enum", self.values))


def convert_minerl_space(space: Any) -> spaces.Space:
    """Convert a MineRL (old gym) space to the gymnasium space used here.

    Duck-typed, so that MineRL need not be importable: an object with ``spaces`` is a ``Dict``, with a ``values``
    array an ``Enum`` (also a gymnasium ``Discrete`` subclass carrying ``values``, which is what MineRL's ``Enum``
    is), with ``n`` a ``Discrete``, with ``low``/``high`` a ``Box``. Other gymnasium spaces pass through unchanged.

    :param space: the MineRL space
    :return: the gymnasium space
    """
    if _is_foreign_enum(space):
        return Enum(*[str(v) for v in space.values])
    if isinstance(space, spaces.Dict):
        converted = {k: convert_minerl_space(v) for k, v in space.spaces.items()}
        changed = any(converted[k] is not v for k, v in space.spaces.items())
        return spaces.Dict(converted) if changed else space
    if isinstance(space, spaces.Space):
        return space
    if hasattr(space, "spaces"):
        return spaces.Dict({k: convert_minerl_space(v) for k, v in dict(space.spaces).items()})
    if hasattr(space, "n"):
        return spaces.Discrete(int(space.n))
    if hasattr(space, "low") and hasattr(space, "high"):
        dtype = np.dtype(space.dtype)
        return spaces.Box(np.asarray(space.low, dtype), np.asarray(space.high, dtype), tuple(space.shape), dtype)
    raise TypeError(f"Cannot convert MineRL space {space!r} to a gymnasium space")


def _is_foreign_enum(space: Any) -> bool:
    """A MineRL-style enum that is not our :class:`Enum`: a space with a non-callable ``values`` collection."""
    return not isinstance(space, Enum) and hasattr(space, "values") and not callable(space.values)


def has_foreign_enums(space: Any) -> bool:
    """Whether a (gymnasium) space holds MineRL-style enums that :func:`convert_minerl_space` would convert.

    :param space: the space
    :return: ``True`` if an ``Enum``-like space other than :class:`Enum` is found, at any ``Dict`` depth
    """
    if _is_foreign_enum(space):
        return True
    return isinstance(space, spaces.Dict) and any(has_foreign_enums(s) for s in space.spaces.values())


def convert_minerl_value(value: Any, space: spaces.Space) -> Any:
    """Cast a MineRL observation (or action) to match its gymnasium ``space``.

    :param value: the MineRL value
    :param space: the converted space
    :return: the value with gymnasium dtypes/shapes (``str`` for enums, arrays for boxes)
    """
    if isinstance(space, spaces.Dict):
        return {k: convert_minerl_value(value[k], s) for k, s in space.spaces.items() if k in value}
    if isinstance(space, Enum):
        if isinstance(value, (int, np.integer)):  # an enum given by its index
            return space.values[int(value)]
        return str(value)
    if isinstance(space, spaces.Discrete):
        return int(value)
    if isinstance(space, spaces.Box):
        return np.asarray(value, dtype=space.dtype).reshape(space.shape)
    return value


def minerl_noop(action_space: spaces.Dict) -> dict[str, Any]:
    """The no-op action of a MineRL action space: buttons 0, camera (0, 0), enums ``"none"``.

    :param action_space: MineRL's action ``Dict`` (gymnasium form)
    :return: a fresh no-op action dict
    """
    noop: dict[str, Any] = {}
    for key, space in action_space.spaces.items():
        if isinstance(space, Enum):
            noop[key] = "none" if "none" in space.values else space.values[0]
        elif isinstance(space, spaces.Discrete):
            noop[key] = int(space.start)
        elif isinstance(space, spaces.Box):
            noop[key] = np.zeros(space.shape, dtype=space.dtype)
        else:
            raise TypeError(f"Unsupported MineRL action field {key!r}: {space}")
    return noop


class MineRLCompatibility(gym.Env):
    """Adapt a real MineRL env (old gym API: ``reset() -> obs``, ``step -> (obs, reward, done, info)``,
    ``seed()``) to gymnasium, converting its spaces with :func:`convert_minerl_space`.

    ``done`` becomes ``terminated`` unless ``info["TimeLimit.truncated"]`` says the episode was cut by a time limit.
    ``render()`` returns the last ``pov`` frame (``render_mode="rgb_array"``).

    :param env: the MineRL env (e.g. ``gym.make("MineRLObtainDiamond-v0")``)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, env: Any) -> None:
        self.env = env
        self.observation_space = convert_minerl_space(env.observation_space)
        self.action_space = convert_minerl_space(env.action_space)
        self.render_mode = "rgb_array"
        self._last_pov: np.ndarray | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset MineRL (seeding it first when ``seed`` is given).

        :param seed: world seed, passed to MineRL's ``seed()``
        :param options: unused
        :return: first observation and an empty info
        """
        super().reset(seed=seed)
        if seed is not None and hasattr(self.env, "seed"):
            self.env.seed(int(seed))
        obs = convert_minerl_value(self.env.reset(), self.observation_space)
        self._last_pov = obs.get("pov")
        return obs, {}

    def step(self, action: Mapping[str, Any]) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step MineRL with a MineRL action dict (enum fields as item-name strings).

        :param action: the action dict
        :return: observation, reward, terminated, truncated, info
        """
        obs, reward, done, info = self.env.step(dict(action))
        obs = convert_minerl_value(obs, self.observation_space)
        self._last_pov = obs.get("pov")
        info = dict(info or {})
        truncated = bool(done and info.get("TimeLimit.truncated", False))
        return obs, float(reward), bool(done and not truncated), truncated, info

    def render(self) -> np.ndarray | None:
        """Return the last ``pov`` frame.

        :return: ``(H, W, 3)`` uint8 frame, ``None`` before the first reset
        """
        return None if self._last_pov is None else np.asarray(self._last_pov)

    def close(self) -> None:
        """Close the MineRL env (stops its Minecraft instance)."""
        self.env.close()


class EnumSpaces(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """A gymnasium env whose item fields use MineRL's own ``Enum`` (a ``Discrete`` subclass carrying string
    ``values``), presented with :class:`Enum` spaces, as :class:`MineRLCompatibility` presents an old-gym MineRL env.

    Observations are converted with :func:`convert_minerl_value` (enum fields become the item-name strings, also when
    the env reports an index); actions pass through unchanged (item names, as MineRL takes them).

    :param env: the gymnasium env
    """

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.observation_space = convert_minerl_space(env.observation_space)
        self.action_space = convert_minerl_space(env.action_space)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """Reset the env and convert its observation.

        :param seed: forwarded
        :param options: forwarded
        :return: observation and info
        """
        obs, info = self.env.reset(seed=seed, options=options)
        return convert_minerl_value(obs, self.observation_space), info

    def step(self, action: Mapping[str, Any]) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env with a MineRL action dict and convert its observation.

        :param action: the action dict (enum fields as item-name strings)
        :return: observation, reward, terminated, truncated, info
        """
        obs, reward, terminated, truncated, info = self.env.step(action)
        return convert_minerl_value(obs, self.observation_space), reward, terminated, truncated, info
