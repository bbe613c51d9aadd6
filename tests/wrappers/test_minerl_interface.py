"""The Enum space, MineRL space conversion and the old-gym MineRL adapter (with a fake MineRL env)."""

from collections import OrderedDict

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from dreamer_sb3.wrappers import MinecraftWrapper, MineRLCompatibility, MineRLStandinEnv
from dreamer_sb3.wrappers.minerl_interface import Enum, convert_minerl_space, minerl_noop


def test_enum_space():
    space = Enum("planks", "none", "stick", "planks", seed=0)
    assert space.values == ("none", "planks", "stick")  # sorted and unique, like MineRL
    assert isinstance(space, spaces.Text)
    assert space.contains("stick") and not space.contains("stone") and not space.contains(1)
    assert space.index("planks") == 1
    with pytest.raises(ValueError):
        space.index("stone")
    samples = {space.sample() for _ in range(100)}
    assert samples == set(space.values)
    space.seed(3)
    first = [space.sample() for _ in range(10)]
    space.seed(3)
    assert first == [space.sample() for _ in range(10)]
    assert space == Enum("stick", "none", "planks") and space != Enum("none", "planks")
    assert repr(space) == "Enum(none, planks, stick)"
    assert {space.sample(mask=np.array([0, 1, 0], np.int8)) for _ in range(20)} == {"planks"}
    assert {space.sample(probability=np.array([0.0, 0.0, 1.0])) for _ in range(20)} == {"stick"}
    with pytest.raises(ValueError):
        space.sample(mask=np.zeros(3, np.int8))
    batched = batch_space(space, 2)
    assert all(isinstance(s, Enum) for s in batched.spaces)


# --- a fake old-gym MineRL env: MineRL-like space classes (not gymnasium) and the 4-tuple step API ---


class FakeBox:
    def __init__(self, low, high, shape, dtype):
        self.low, self.high, self.shape, self.dtype = low, high, shape, dtype


class FakeDiscrete:
    def __init__(self, n):
        self.n = n


class FakeEnum(FakeDiscrete):  # MineRL's Enum subclasses gym's Discrete and keeps its names in `values`
    def __init__(self, *values):
        super().__init__(len(values))
        self.values = np.array(sorted(values))


class FakeDict:
    def __init__(self, spaces_):
        self.spaces = OrderedDict(spaces_)


def to_fake(space):
    if isinstance(space, Enum):
        return FakeEnum(*space.values)
    if isinstance(space, spaces.Dict):
        return FakeDict({k: to_fake(v) for k, v in space.spaces.items()})
    if isinstance(space, spaces.Discrete):
        return FakeDiscrete(int(space.n))
    return FakeBox(space.low, space.high, space.shape, space.dtype)


def to_minerl_values(obs):
    """MineRL returns numpy strings for enums and numpy scalars for counts."""
    if isinstance(obs, dict):
        return {k: to_minerl_values(v) for k, v in obs.items()}
    if isinstance(obs, str):
        return np.str_(obs)
    return obs


class FakeOldGymMineRL:
    """Old gym API around the stand-in: reset() -> obs, step -> (obs, reward, done, info), seed()."""

    def __init__(self, max_steps=None):
        self._env = MineRLStandinEnv(max_steps=max_steps)
        self.observation_space = to_fake(self._env.observation_space)
        self.action_space = to_fake(self._env.action_space)
        self.seeds = []
        self.closed = False
        self._seed = None

    def seed(self, seed):
        self.seeds.append(seed)
        self._seed = seed

    def reset(self):
        obs, _ = self._env.reset(seed=self._seed)
        self._seed = None
        return to_minerl_values(obs)

    def step(self, action):
        assert all(isinstance(action[k], str) for k in ("craft", "equip", "nearbyCraft", "nearbySmelt", "place"))
        obs, reward, terminated, truncated, info = self._env.step(action)
        info = dict(info)
        if truncated:
            info["TimeLimit.truncated"] = True
        return to_minerl_values(obs), reward, terminated or truncated, info

    def close(self):
        self.closed = True


def test_space_conversion():
    fake = FakeOldGymMineRL()
    standin = MineRLStandinEnv()
    assert convert_minerl_space(fake.observation_space) == standin.observation_space
    assert convert_minerl_space(fake.action_space) == standin.action_space
    assert convert_minerl_space(standin.action_space) is standin.action_space  # gymnasium spaces pass through
    with pytest.raises(TypeError):
        convert_minerl_space(object())
    noop = minerl_noop(standin.action_space)
    assert noop["place"] == "none" and noop["attack"] == 0
    np.testing.assert_array_equal(noop["camera"], [0.0, 0.0])


def test_compatibility_adapter():
    fake = FakeOldGymMineRL(max_steps=3)
    env = MineRLCompatibility(fake)
    obs, info = env.reset(seed=5)
    assert fake.seeds == [5] and info == {}
    assert obs in env.observation_space
    assert type(obs["equipped_items"]["mainhand"]["type"]) is str
    np.testing.assert_array_equal(env.render(), obs["pov"])
    noop = minerl_noop(env.action_space)
    assert env.step(noop)[2:4] == (False, False)
    env.step(noop)
    assert env.step(noop)[2:4] == (False, True)  # time limit -> truncated, not terminated
    env.close()
    assert fake.closed


def test_wrapper_adapts_old_gym_minerl_envs():
    env = MinecraftWrapper(FakeOldGymMineRL(), task="diamond", sticky_attack=0)
    assert isinstance(env.env, MineRLCompatibility)
    obs, _ = env.reset(seed=0)
    assert obs in env.observation_space
    env.step(env.action_names.index("turn_up"))
    _, reward, *_ = env.step(env.action_names.index("attack"))
    assert reward == 1.0
    # death ends the episode as terminated
    right = env.action_names.index("right")
    results = [env.step(right) for _ in range(20)]
    assert results[-1][2] and not results[-1][3]


class DiscreteEnum(spaces.Discrete):
    """MineRL's ``Enum`` as minerl defines it: a ``Discrete`` subclass whose elements are the string ``values``."""

    def __init__(self, *values):
        self.values = tuple(sorted(values))
        super().__init__(len(self.values))

    def contains(self, x):
        return x in self.values

    def sample(self, mask=None, probability=None):
        return self.values[int(super().sample())]


def _with_discrete_enums(space):
    if isinstance(space, Enum):
        return DiscreteEnum(*space.values)
    if isinstance(space, spaces.Dict):
        return spaces.Dict({k: _with_discrete_enums(v) for k, v in space.spaces.items()})
    return space


class GymnasiumMineRL(gym.Wrapper):
    """The stand-in exposed through gymnasium with MineRL's ``Discrete``-based enums (equipped item as an index)."""

    def __init__(self, env):
        super().__init__(env)
        self.observation_space = _with_discrete_enums(env.observation_space)
        self.action_space = _with_discrete_enums(env.action_space)
        self.actions = []

    def _obs(self, obs):
        hand = obs["equipped_items"]["mainhand"]
        enum = self.observation_space["equipped_items"]["mainhand"]["type"]
        return {**obs, "equipped_items": {"mainhand": {**hand, "type": enum.values.index(hand["type"])}}}

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return self._obs(obs), info

    def step(self, action):
        self.actions.append(action)
        obs, *rest = self.env.step(action)
        return (self._obs(obs), *rest)


def test_wrapper_accepts_minerls_discrete_enum_through_gymnasium_like_the_old_gym_path():
    """MineRL's Enum is a Discrete subclass carrying string values; through gymnasium it is accepted and gives the
    same spaces, observations and rewards as the plain stand-in (and as the old-gym path)."""
    from dreamer_sb3.wrappers.minerl_interface import EnumSpaces, has_foreign_enums

    inner = GymnasiumMineRL(MineRLStandinEnv())
    assert has_foreign_enums(inner.action_space) and not has_foreign_enums(MineRLStandinEnv().action_space)
    env = MinecraftWrapper(inner, task="diamond", sticky_attack=0)
    reference = MinecraftWrapper(MineRLStandinEnv(), task="diamond", sticky_attack=0)
    assert isinstance(env.env, EnumSpaces) and env.env.action_space == reference.env.action_space
    assert env.observation_space == reference.observation_space and env.action_space == reference.action_space
    obs, _ = env.reset(seed=0)
    ref_obs, _ = reference.reset(seed=0)
    for key in ref_obs:
        np.testing.assert_array_equal(obs[key], ref_obs[key])
    for name in ("turn_up", "attack", "place_dirt", "forward"):
        out, ref = env.step(env.action_names.index(name)), reference.step(reference.action_names.index(name))
        assert out[1:4] == ref[1:4]
        for key in ref[0]:
            np.testing.assert_array_equal(out[0][key], ref[0][key])
    assert all(isinstance(a["place"], str) and a["place"] in inner.action_space["place"].values for a in inner.actions)
