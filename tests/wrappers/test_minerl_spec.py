"""DreamerV3's MineRL env spec (``wrappers/minerl_spec.py``) built against a fake ``minerl.herobraine`` (no MineRL here)."""

import sys
import types

import pytest

from dreamer_sb3.wrappers.minerl_spec import dreamer_spec_handlers, make_dreamer_minerl_env


class _Recorded:
    """A fake MineRL handler: remembers its class name and constructor arguments."""

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class _FakeEnvSpec:
    def __init__(self, name):
        self.name = name

    def make(self):
        return self  # a real spec returns the (old gym API) env


@pytest.fixture
def fake_minerl(monkeypatch):
    """``minerl.herobraine`` with the handler classes the spec uses, each recording its arguments."""
    handlers = types.ModuleType("minerl.herobraine.hero.handlers")
    handlers.__getattr__ = lambda name: type(name, (_Recorded,), {})
    handler = types.ModuleType("minerl.herobraine.hero.handler")
    handler.Handler = object
    mc = types.ModuleType("minerl.herobraine.hero.mc")
    mc.ALL_ITEMS = ["dirt", "log", "planks"]
    mc.INVERSE_KEYMAP = {k: f"key.{k}" for k in ("forward", "back", "left", "right", "jump", "sneak", "attack")}
    hero = types.ModuleType("minerl.herobraine.hero")
    hero.handler, hero.handlers, hero.mc = handler, handlers, mc
    env_spec = types.ModuleType("minerl.herobraine.env_spec")
    env_spec.EnvSpec = _FakeEnvSpec
    modules = {
        "minerl": types.ModuleType("minerl"),
        "minerl.herobraine": types.ModuleType("minerl.herobraine"),
        "minerl.herobraine.hero": hero,
        "minerl.herobraine.hero.handler": handler,
        "minerl.herobraine.hero.handlers": handlers,
        "minerl.herobraine.hero.mc": mc,
        "minerl.herobraine.env_spec": env_spec,
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)


def test_handlers_of_the_spec(fake_minerl):
    parts = dreamer_spec_handlers((48, 64), 1.0)
    assert parts["agent_start"] == []  # stock break speed: no BreakSpeedMultiplier handler
    assert [parts[p] for p in ("rewardables", "agent_handlers", "monitors")] == [[], [], []]  # reward comes from the wrapper
    pov, inventory, equipped, *stats = parts["observables"]
    assert type(pov).__name__ == "POVObservation" and pov.args == ((64, 48),)  # MineRL takes (width, height)
    assert inventory.args == (["dirt", "log", "planks"],)
    assert equipped.kwargs == {"_default": "air", "_other": "other"}
    assert [type(h).__name__ for h in stats] == ["ObservationFromCurrentLocation", "ObservationFromLifeStats"]
    actions = parts["actionables"]
    keys = [h.args[0] for h in actions if type(h).__name__ == "KeybasedCommandAction"]
    assert keys == ["forward", "back", "left", "right", "jump", "sneak", "attack"]
    items = {type(h).__name__: h for h in actions if h.args and h.args[0] == ["none", "dirt", "log", "planks"]}
    assert sorted(items) == ["CraftAction", "CraftNearbyAction", "EquipAction", "PlaceBlock", "SmeltItemNearby"]
    assert all(h.kwargs == {"_other": "none", "_default": "none"} for h in items.values())


def test_faster_breaking_and_the_spec_class(fake_minerl):
    (multiplier,) = dreamer_spec_handlers((64, 64), 100.0)["agent_start"]
    assert multiplier.to_string() == "break_speed(100.0)"
    assert multiplier.xml_template() == "<BreakSpeedMultiplier>{{multiplier}}</BreakSpeedMultiplier>"
    spec = make_dreamer_minerl_env((64, 64), 100.0)
    assert isinstance(spec, _FakeEnvSpec) and spec.name == "DreamerSB3MineRL-v0"
    observables = spec.create_observables()
    assert type(observables[0]).__name__ == "POVObservation" and spec.create_observables() is not observables  # fresh lists
    assert type(spec.create_agent_start()[0]).__name__ == "BreakSpeedMultiplier"
    assert spec.is_from_folder("none") and not spec.is_from_folder("MineRLObtainDiamond-v0")
    assert spec.determine_success_from_rewards([0.0]) is True
