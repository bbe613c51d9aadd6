"""The Enum space, MineRL space conversion and the old-gym MineRL adapter (with a fake MineRL env)."""

from collections import OrderedDict

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
