"""MinecraftWrapper (DreamerV3's Minecraft interface) on the MineRL stand-in, and make_minecraft."""

import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from dreamer_sb3.wrappers import MinecraftWrapper, MineRLStandinEnv, make_minecraft, make_minecraft_standin
from dreamer_sb3.wrappers.minerl_interface import Enum

NOOP = {
    "attack": 0, "back": 0, "forward": 0, "jump": 0, "left": 0, "right": 0, "sneak": 0, "sprint": 0,
    "camera": (0.0, 0.0), "craft": "none", "equip": "none", "nearbyCraft": "none", "nearbySmelt": "none",
    "place": "none",
}  # fmt: skip

# Written out independently of the implementation: DreamerV3's action list, in order.
EXPECTED_BASIC = [
    ("noop", {}),
    ("attack", {"attack": 1}),
    ("turn_up", {"camera": (-15.0, 0.0)}),
    ("turn_down", {"camera": (15.0, 0.0)}),
    ("turn_left", {"camera": (0.0, -15.0)}),
    ("turn_right", {"camera": (0.0, 15.0)}),
    ("forward", {"forward": 1}),
    ("back", {"back": 1}),
    ("left", {"left": 1}),
    ("right", {"right": 1}),
    ("jump", {"jump": 1, "forward": 1}),
    ("place_dirt", {"place": "dirt"}),
]
EXPECTED_DIAMOND = [
    *EXPECTED_BASIC,
    ("craft_planks", {"craft": "planks"}),
    ("craft_stick", {"craft": "stick"}),
    ("craft_crafting_table", {"craft": "crafting_table"}),
    ("place_crafting_table", {"place": "crafting_table"}),
    ("craft_wooden_pickaxe", {"nearbyCraft": "wooden_pickaxe"}),
    ("craft_stone_pickaxe", {"nearbyCraft": "stone_pickaxe"}),
    ("craft_iron_pickaxe", {"nearbyCraft": "iron_pickaxe"}),
    ("equip_stone_pickaxe", {"equip": "stone_pickaxe"}),
    ("equip_wooden_pickaxe", {"equip": "wooden_pickaxe"}),
    ("equip_iron_pickaxe", {"equip": "iron_pickaxe"}),
    ("craft_furnace", {"nearbyCraft": "furnace"}),
    ("place_furnace", {"place": "furnace"}),
    ("smelt_iron_ingot", {"nearbySmelt": "iron_ingot"}),
]


def normalise(action):
    return {k: (tuple(float(x) for x in v) if k == "camera" else v) for k, v in action.items()}


def wrapper(task="diamond", sticky_attack=0, sticky_jump=0, **standin_kwargs):
    return MinecraftWrapper(
        MineRLStandinEnv(**standin_kwargs), task=task, sticky_attack=sticky_attack, sticky_jump=sticky_jump
    )


class Player:
    """Steps the wrapper by action name, collecting rewards."""

    def __init__(self, env: MinecraftWrapper, seed: int = 0):
        self.env = env
        self.obs, self.info = env.reset(seed=seed)
        self.rewards: list[float] = []

    def do(self, name: str, times: int = 1) -> float:
        total = 0.0
        for _ in range(times):
            self.obs, reward, terminated, truncated, self.info = self.env.step(self.env.action_names.index(name))
            assert not terminated and not truncated
            self.rewards.append(float(reward))
            total += float(reward)
        return total

    def count(self, item: str) -> float:
        return self.info["inventory"][item]

    def dig_until(self, item: str, count: int, limit: int = 40) -> float:
        total = 0.0
        for _ in range(limit):
            if self.count(item) >= count:
                return total
            total += self.do("attack")
        raise AssertionError(f"could not dig {count} {item}")


@pytest.mark.parametrize(
    ("task", "expected"), [("diamond", EXPECTED_DIAMOND), ("wood", EXPECTED_BASIC), ("climb", EXPECTED_BASIC)]
)
def test_every_discrete_action_maps_to_the_right_minerl_action(task, expected):
    env = wrapper(task)
    assert env.action_space == spaces.Discrete(len(expected))
    assert env.action_names == tuple(name for name, _ in expected)
    env.reset(seed=0)
    for index, (name, fields) in enumerate(expected):
        want = {**NOOP, **fields}
        assert normalise(env.minerl_action(index)) == want, name
        env.reset(seed=0)  # no sticky state, pitch 0: the executed action is the mapped one
        _, _, _, _, info = env.step(index)
        assert normalise(info["minerl_action"]) == want, name
        assert env.unwrapped.action_space.contains(
            {k: (np.asarray(v, np.float32) if k == "camera" else v) for k, v in info["minerl_action"].items()}
        )


def test_observation_space():
    env = wrapper("diamond")
    space = env.observation_space
    n_items = len(env.unwrapped.items)
    assert space["image"] == spaces.Box(0, 255, (64, 64, 3), np.uint8)
    assert space["inventory"].shape == (n_items,) and space["inventory"].dtype == np.float32
    assert space["inventory_max"].shape == (n_items,)
    assert space["equipped"] == spaces.Box(0.0, 1.0, (9,), np.float32)
    for key in ("health", "hunger", "breath"):
        assert space[key] == spaces.Box(0.0, 1.0, (1,), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs in space
    equip_values = env.unwrapped.observation_space["equipped_items"]["mainhand"]["type"].values
    np.testing.assert_array_equal(obs["equipped"], np.eye(9, dtype=np.float32)[equip_values.index("air")])
    np.testing.assert_array_equal(obs["health"], [1.0])
    np.testing.assert_array_equal(obs["breath"], [1.0])


def test_sticky_attack_and_jump():
    env = MinecraftWrapper(MineRLStandinEnv(), task="wood", sticky_attack=30, sticky_jump=10, pitch_limit=None)
    env.reset(seed=0)
    attack, noop, jump = (env.action_names.index(n) for n in ("attack", "noop", "jump"))
    executed = [env.step(attack)[4]["minerl_action"]]
    executed += [env.step(noop)[4]["minerl_action"] for _ in range(31)]
    assert [a["attack"] for a in executed] == [1] * 30 + [0] * 2
    # a jump during sticky attack is suppressed (attack holds jump at 0), as in DreamerV3
    env.reset(seed=0)
    env.step(attack)
    assert env.step(jump)[4]["minerl_action"]["jump"] == 0
    env.reset(seed=0)
    executed = [env.step(jump)[4]["minerl_action"]] + [env.step(noop)[4]["minerl_action"] for _ in range(11)]
    assert [(a["jump"], a["forward"]) for a in executed] == [(1, 1)] * 10 + [(0, 0)] * 2
    # reset clears the counters
    env.step(jump)
    env.reset(seed=0)
    assert env.step(noop)[4]["minerl_action"]["jump"] == 0


def test_sticky_attack_breaks_slow_blocks_with_one_decision():
    slow = dict(break_ticks=5)
    sticky = MinecraftWrapper(MineRLStandinEnv(**slow), task="wood", sticky_attack=30, sticky_jump=0)
    plain = MinecraftWrapper(MineRLStandinEnv(**slow), task="wood", sticky_attack=0, sticky_jump=0)
    for env, logs in ((sticky, 6), (plain, 0)):
        player = Player(env)
        player.do("turn_up")
        player.do("attack")
        player.do("noop", 29)
        assert player.count("log") == logs  # 30 attack ticks at 5 ticks per log


def test_pitch_limit():
    env = MinecraftWrapper(MineRLStandinEnv(), task="wood")  # default limit (-60, 60)
    env.reset(seed=0)
    down, up = env.action_names.index("turn_down"), env.action_names.index("turn_up")
    cameras, pitches = [], []
    for _ in range(6):
        _, _, _, _, info = env.step(down)
        cameras.append(float(info["minerl_action"]["camera"][0]))
        pitches.append(float(env.unwrapped._pitch))
    assert cameras == [15.0] * 4 + [0.0] * 2  # 60 degrees is the limit
    assert pitches == [15.0, 30.0, 45.0, 60.0, 60.0, 60.0]
    cameras = [float(env.step(up)[4]["minerl_action"]["camera"][0]) for _ in range(10)]
    assert cameras == [-15.0] * 8 + [0.0] * 2  # from 60 down to -60
    assert env.unwrapped._pitch == -60.0
    # yaw is never limited
    turn = env.action_names.index("turn_right")
    assert all(env.step(turn)[4]["minerl_action"]["camera"][1] == 15.0 for _ in range(30))


def test_milestone_rewards_along_a_scripted_diamond_episode():
    player = Player(wrapper("diamond"), seed=0)
    milestones = []

    def expect(reward, item):
        assert reward == pytest.approx(1.0), item
        milestones.append(item)
        assert player.info["milestones"] == tuple(milestones)

    player.do("turn_up")
    expect(player.do("attack"), "log")
    assert player.do("attack", 6) == 0.0  # more logs: no more reward
    expect(player.do("craft_planks"), "planks")
    assert player.do("craft_planks", 6) == 0.0
    expect(player.do("craft_stick"), "stick")
    assert player.do("craft_stick") == 0.0
    expect(player.do("craft_crafting_table"), "crafting_table")
    assert player.do("place_crafting_table") == 0.0
    expect(player.do("craft_wooden_pickaxe"), "wooden_pickaxe")
    assert player.do("equip_wooden_pickaxe") == 0.0
    assert player.do("turn_down", 4) == 0.0  # looking at the ground (pitch 45)
    assert player.do("attack", 2) == 0.0  # two blocks of dirt
    assert player.count("dirt") == 2
    expect(player.do("attack"), "cobblestone")
    assert player.dig_until("cobblestone", 11) == 0.0
    # the crafting table is out of reach down here: place a new one
    assert player.do("craft_stone_pickaxe") == 0.0 and player.count("stone_pickaxe") == 0
    player.do("craft_crafting_table")
    player.do("place_crafting_table")
    expect(player.do("craft_stone_pickaxe"), "stone_pickaxe")
    expect(player.do("craft_furnace"), "furnace")
    player.do("equip_stone_pickaxe")
    expect(player.dig_until("iron_ore", 1), "iron_ore")
    assert player.dig_until("iron_ore", 3) == 0.0
    player.do("place_furnace")
    expect(player.do("smelt_iron_ingot"), "iron_ingot")
    player.do("smelt_iron_ingot", 2)
    assert player.count("iron_ingot") == 3
    player.do("craft_crafting_table")
    player.do("place_crafting_table")
    expect(player.do("craft_iron_pickaxe"), "iron_pickaxe")
    player.do("equip_iron_pickaxe")
    expect(player.dig_until("diamond", 1), "diamond")
    assert milestones == [
        "log", "planks", "stick", "crafting_table", "wooden_pickaxe", "cobblestone", "stone_pickaxe", "furnace",
        "iron_ore", "iron_ingot", "iron_pickaxe", "diamond",
    ]  # fmt: skip
    assert sum(player.rewards) == pytest.approx(12.0)  # no damage taken: only the 12 milestones
    assert player.obs["inventory_max"][player.env.inventory_keys.index("planks")] == 28
    assert player.obs["inventory"][player.env.inventory_keys.index("planks")] < 28


def test_milestones_are_per_episode_and_items_held_at_reset_do_not_count():
    player = Player(wrapper("diamond"))
    player.do("turn_up")
    assert player.do("attack") == 1.0
    player.obs, player.info = player.env.reset(seed=1)
    player.do("turn_up")
    assert player.do("attack") == 1.0  # a new episode rewards the milestone again

    class StartsWithLog(MineRLStandinEnv):
        def _new_world(self):
            super()._new_world()
            self._inventory["log"] = 1

    player = Player(MinecraftWrapper(StartsWithLog(), task="diamond", sticky_attack=0))
    player.do("turn_up")
    assert player.do("attack") == 0.0
    assert player.do("craft_planks") == 1.0


def test_health_reward_and_scaling():
    player = Player(wrapper("diamond"))
    reward = player.do("right")  # walks into the cactus: -1 life
    assert reward == pytest.approx(0.01 * (-1.0 / 20.0))
    np.testing.assert_allclose(player.obs["health"], [19.0 / 20.0])
    np.testing.assert_allclose(player.obs["hunger"], [1.0])


def test_death_terminates():
    env = wrapper("wood")
    env.reset(seed=0)
    right = env.action_names.index("right")
    flags = [env.step(right)[2:4] for _ in range(20)]  # -1 life per tick from 20
    assert flags[-1] == (True, False)
    assert all(f == (False, False) for f in flags[:-1])


def test_wood_and_climb_rewards():
    player = Player(wrapper("wood", sticky_attack=0))
    player.do("turn_up")
    assert player.do("attack") == 1.0
    assert player.do("attack") == 1.0  # wood rewards every log
    assert player.do("noop") == 0.0

    player = Player(wrapper("climb", sticky_jump=10))
    assert player.do("jump") == pytest.approx(1.0)  # +1 block of height per tick of (sticky) jump-forward
    assert player.do("noop", 9) == pytest.approx(9.0)
    assert player.do("noop") == 0.0
    player.do("turn_down", 4)
    assert player.do("attack") == pytest.approx(-1.0)  # digging down loses height


def test_without_life_stats():
    env = MinecraftWrapper(MineRLStandinEnv(life_stats=False), task="diamond", sticky_attack=0)
    assert not {"health", "hunger", "breath"} & set(env.observation_space.spaces)
    player = Player(env)
    assert player.do("right") == 0.0  # no health term without life_stats
    player.do("turn_up")
    assert player.do("attack") == 1.0
    sb3_check_env(MinecraftWrapper(MineRLStandinEnv(life_stats=False), task="wood"))


def test_log2_is_merged_into_log():
    items = (*MineRLStandinEnv().items, "log2")
    for seed in range(10):
        env = MinecraftWrapper(MineRLStandinEnv(items=items), task="wood", sticky_attack=0)
        player = Player(env, seed=seed)
        if env.unwrapped._tree_item == "log2":
            break
    assert "log2" not in env.inventory_keys
    player.do("turn_up")
    assert player.do("attack") == 1.0 and player.count("log") == 1
    assert player.obs["inventory"][env.inventory_keys.index("log")] == 1


def test_climb_needs_location_and_missing_milestones_warn():
    with pytest.raises(ValueError, match="location_stats"):
        MinecraftWrapper(MineRLStandinEnv(location_stats=False), task="climb")
    items = tuple(i for i in MineRLStandinEnv().items if i != "diamond")  # like MineRLObtainDiamond-v0
    with pytest.warns(UserWarning, match="diamond"):
        MinecraftWrapper(MineRLStandinEnv(items=items), task="diamond")


def test_rejects_envs_without_minerl_spaces():
    with pytest.raises(ValueError, match="MineRL"):
        MinecraftWrapper(gym.make("CartPole-v1"))

    class NoDirt(MineRLStandinEnv):
        def __init__(self):
            super().__init__()
            self.action_space = spaces.Dict({**self.action_space.spaces, "place": Enum("none", "stone")})

    with pytest.raises(ValueError, match="dirt"):
        MinecraftWrapper(NoDirt(), task="wood")


def test_seeding_and_image():
    a, b = make_minecraft_standin("diamond"), make_minecraft_standin("diamond")
    oa, ob = a.reset(seed=3)[0], b.reset(seed=3)[0]
    for key in oa:
        np.testing.assert_array_equal(oa[key], ob[key])
    for action in (2, 1, 1, 3, 3, 3, 3, 1, 1, 1):
        oa, ob = a.step(action)[0], b.step(action)[0]
        np.testing.assert_array_equal(oa["image"], ob["image"])
    assert oa["image"].shape == (64, 64, 3) and oa["image"].dtype == np.uint8
    resized = MinecraftWrapper(MineRLStandinEnv(resolution=(96, 128)), task="wood", size=(64, 64))
    assert resized.reset(seed=0)[0]["image"].shape == (64, 64, 3)


@pytest.mark.parametrize("task", ["diamond", "wood", "climb"])
def test_env_checkers(task):
    check_env(make_minecraft_standin(task), skip_render_check=False)
    sb3_check_env(make_minecraft_standin(task))


def test_standin_env_checker():
    check_env(MineRLStandinEnv(), skip_render_check=False)


def test_make_minecraft_without_minerl_raises_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "minerl", None)  # as if minerl were not installed
    with pytest.raises(ImportError, match=r"make_minecraft needs MineRL.*MineRLStandinEnv"):
        make_minecraft("diamond")
    with pytest.raises(ImportError, match="make_minecraft needs MineRL"):
        gym.make("dreamer_sb3/minecraft-diamond-v0")
    with pytest.raises(ValueError, match="Unknown Minecraft task"):
        make_minecraft("nether")
