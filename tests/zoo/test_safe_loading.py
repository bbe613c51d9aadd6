"""Loading files runs no code from them: crafted model zips and run folders are refused (or read without unpickling)
through ``load``, ``load_pretrained``, ``make_eval_env`` and the zoo's commands; the shipped agents still load."""

from __future__ import annotations

import base64
import collections
import contextlib
import json
import pickle
import shutil
import zipfile

import numpy as np
import pytest
import yaml

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common.safe_load import UnsafeModelFileError, space_from_json, space_to_json, trust_pickled_files
from dreamer_sb3.zoo import enjoy, load_pretrained
from dreamer_sb3.zoo.pretrained import make_eval_env, shipped_agents
from dreamer_sb3.zoo.registry import AGENTS_DIR, algorithm_class
from dreamer_sb3.zoo.safe_files import UnsafeRunFileError, ZooLoader, check_literal, load_yaml
from tests.conftest import ALGOS

SHIPPED_RUN = AGENTS_DIR / "dreamerv3" / "CartPole-v1_1"


class _Payload:
    """Unpickling it creates ``path`` (what a crafted file would do with any other function)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _serialized(obj, type_name: str, **readable) -> dict:
    return {":type:": type_name, ":serialized:": base64.b64encode(pickle.dumps(obj)).decode(), **readable}


def _craft_zip(src, dst, **entries) -> None:
    """Copy a model zip, replacing / adding entries of its ``data`` JSON."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            content = zin.read(name)
            if name == "data":
                data = json.loads(content)
                data.update(entries)
                content = json.dumps(data).encode()
            zout.writestr(name, content)


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "code_ran"
    yield path


def test_crafted_zip_runs_no_code(tmp_path, marker):
    src = next(SHIPPED_RUN.glob("*.zip"))
    evil = tmp_path / "evil.zip"
    _craft_zip(src, evil, extra=_serialized(_Payload(str(marker)), "<class 'evil.Thing'>"))
    with pytest.raises(UnsafeModelFileError, match=r"'extra'.*allow_pickle=True"):
        DreamerV3.load(evil)
    assert not marker.exists()
    # an entry we rebuild is rebuilt from its readable fields; its pickle is never touched
    sneaky = tmp_path / "sneaky.zip"
    payload = _serialized(_Payload(str(marker)), "<class 'stable_baselines3.common.utils.ConstantSchedule'>", val=0.002)
    _craft_zip(src, sneaky, learning_rate=payload)
    model = DreamerV3.load(sneaky)
    assert not marker.exists() and model.learning_rate(1.0) == 0.002
    # the payload is real: SB3's own unpickling runs it
    DreamerV3.load(evil, allow_pickle=True)
    assert marker.exists()


def test_crafted_run_folder_runs_no_code_through_the_zoo(tmp_path, marker):
    folder = tmp_path / "agents"
    run = folder / "dreamerv3" / "CartPole-v1_1"
    shutil.copytree(SHIPPED_RUN, run)
    params = run / "CartPole-v1"
    # a crafted model zip (the file results.json records): refused by load_pretrained and by the zoo's enjoy
    recorded = json.loads((SHIPPED_RUN / "results.json").read_text())["model_file"]
    _craft_zip(SHIPPED_RUN / recorded, run / recorded, x=_serialized(_Payload(str(marker)), "<class 'x'>"))
    with pytest.raises(UnsafeModelFileError):
        load_pretrained("dreamerv3", "CartPole-v1", folder=folder)
    with pytest.raises(UnsafeModelFileError):
        enjoy.main(["--algo", "dreamerv3", "--env", "CartPole-v1", "-f", str(folder), "--no-render", "-n", "5"])
    assert not marker.exists()
    # a crafted args.yml: make_eval_env (and the final evaluation / record paths built on it) refuse it
    args = params / "args.yml"
    original_args = args.read_text()
    args.write_text(f"!!python/object/apply:builtins.open ['{marker}', 'w']\n")
    with pytest.raises(UnsafeRunFileError, match=r"python/object/apply:builtins\.open"):
        make_eval_env(run, "CartPole-v1")
    assert not marker.exists()
    args.write_text(original_args)
    # a crafted config.yml, read by rl-zoo3's get_saved_hyperparams inside make_eval_env and enjoy
    config = params / "config.yml"
    config.write_text(f"!!python/object/apply:builtins.open ['{marker}', 'w']\n")
    with pytest.raises(UnsafeRunFileError):
        make_eval_env(run, "CartPole-v1")
    with pytest.raises(UnsafeRunFileError):
        enjoy.main(["--algo", "dreamerv3", "--env", "CartPole-v1", "-f", str(folder), "--no-render", "-n", "5"])
    # rl-zoo3 eval()s a string `normalize`
    config.write_text(f"normalize: \"open('{marker}', 'w')\"\n")
    with pytest.raises(UnsafeRunFileError, match="not a literal"):
        make_eval_env(run, "CartPole-v1")
    assert not marker.exists()
    # a pickled VecNormalize is not unpickled
    config.write_text("normalize: true\n")
    (params / "vecnormalize.pkl").write_bytes(pickle.dumps(_Payload(str(marker))))
    with pytest.raises(UnsafeRunFileError, match=r"vecnormalize\.pkl"):
        make_eval_env(run, "CartPole-v1")
    assert not marker.exists()
    # trusting the folder restores rl-zoo3's behaviour (and the payload runs)
    with trust_pickled_files(), contextlib.suppress(Exception):  # the payload returns no VecNormalize
        make_eval_env(run, "CartPole-v1")
    assert marker.exists()


def test_another_algorithms_zip_is_named_not_unpickled():
    planet = next((AGENTS_DIR / "planet" / "CartPole-v1_1").glob("CartPole-v1.zip"))
    # the file's algorithm is read from its JSON data before anything else (dreamer_sb3.common.model_files)
    with pytest.raises(ValueError, match=r"holds a PlaNet model; load it with PlaNet\.load"):
        DreamerV3.load(planet)


def test_zoo_loader_reads_what_rl_zoo3_writes():
    data = collections.OrderedDict([("a", 1), ("b", (1, "x")), ("c", {"d": [1.5, None]})])
    text = yaml.dump(data)
    assert "!!python/object/apply:collections.OrderedDict" in text and "!!python/tuple" in text
    loaded = yaml.load(text, Loader=ZooLoader)
    assert loaded == data and isinstance(loaded, collections.OrderedDict) and loaded["b"] == (1, "x")
    for agent in shipped_agents():
        params = agent["run"] / agent["run"].name.rsplit("_", 1)[0]
        for name in ("config.yml", "args.yml"):
            if (params / name).is_file():
                with open(params / name) as f:
                    assert load_yaml(params / name) == yaml.load(f, Loader=yaml.UnsafeLoader)
    check_literal("dict(norm_obs=True, gamma=0.99)", "normalize")
    check_literal("{'norm_reward': False}", "normalize")
    with pytest.raises(UnsafeRunFileError):
        check_literal("dict(x=__import__('os').getcwd())", "normalize")


def test_shipped_agents_load_without_unpickling():
    for agent in shipped_agents():
        for path in agent["run"].glob("*.zip"):
            cls = algorithm_class(agent["algo"])
            safe, trusted = cls.load(path, device="cpu"), cls.load(path, device="cpu", allow_pickle=True)
            for attr in ("observation_space", "action_space"):
                a, b = getattr(safe, attr), getattr(trusted, attr)
                assert a == b and a.dtype == b.dtype, (path, attr)
                if hasattr(a, "low"):
                    assert np.array_equal(a.low, b.low) and np.array_equal(a.high, b.high)
            assert safe.policy_class is trusted.policy_class
            assert safe.lr_schedule(0.5) == trusted.lr_schedule(0.5)


def test_new_saves_carry_spaces_as_json(tmp_path):
    from gymnasium import spaces

    for space in (
        spaces.Box(0, 255, (3, 64, 64), np.uint8),
        spaces.Box(np.array([-1.0, -np.inf], np.float32), np.array([2.0, np.inf], np.float32), dtype=np.float32),
        spaces.Discrete(5, start=2),
        spaces.MultiDiscrete([3, 4], start=[1, 0]),
        spaces.Dict({"a": spaces.Discrete(3), "b": spaces.Box(-1, 1, (2,))}),
    ):
        again = space_from_json(json.loads(json.dumps(space_to_json(space))))
        assert again == space and str(again) == str(space)
    cls, kwargs = ALGOS["dreamerv3"]
    model = cls("MlpPolicy", "Pendulum-v1", **kwargs, seed=0)
    model.save(tmp_path / "m.zip")
    with zipfile.ZipFile(tmp_path / "m.zip") as z:
        data = json.loads(z.read("data"))
    assert data["space_specs"]["observation_space"]["type"] == "Box"
    assert DreamerV3.load(tmp_path / "m.zip").observation_space == model.observation_space
