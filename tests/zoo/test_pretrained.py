"""Shipped agents: offline loading, recorded scores reproduced, size, hub layout round trip; the list command."""

import json
import pathlib
import re
import socket

import numpy as np
import pytest

from dreamer_sb3.zoo import list as zoo_list
from dreamer_sb3.zoo import load_pretrained
from dreamer_sb3.zoo.pretrained import evaluate, export_hub_folder, hub_repo_id, shipped_agents

SHIPPED = shipped_agents()
#: episodes re-run per shipped agent (the first ones of the recorded evaluation, same seed); planners (PlaNet plans
#: every action with CEM: about 0.1 s per step on CI) re-run one
N_CHECK = {"planet": 1}


@pytest.fixture
def offline(monkeypatch):
    """Any attempt to open a network connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_the_promised_agents_are_shipped():
    """Every algorithm on CartPole-v1 and Pendulum-v1; DreamerV3 also on Acrobot-v1 and on a pixel task."""
    shipped = {(a["algo"], a["env_id"]) for a in SHIPPED}
    for algo in ("planet", "dreamerv1", "dreamerv2", "dreamerv3"):
        for env_id in ("CartPole-v1", "Pendulum-v1"):
            assert (algo, env_id) in shipped
    assert ("dreamerv3", "Acrobot-v1") in shipped
    pixel_agents = [a for a in SHIPPED if a["algo"] == "dreamerv3" and a["env_id"].startswith("dreamer_sb3/")]
    assert pixel_agents
    model = load_pretrained("dreamerv3", pixel_agents[0]["env_id"], device="cpu")
    assert model.observation_space.dtype == np.uint8 and len(model.observation_space.shape) == 3


def _docs_pretrained_rows() -> dict[tuple[str, str], list[str]]:
    """The rows of docs/zoo.md's "Pretrained agents" table, by (algo, env id)."""
    text = (pathlib.Path(__file__).parents[2] / "docs" / "zoo.md").read_text()
    section = text.split("## Pretrained agents", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0] in ("planet", "dreamerv1", "dreamerv2", "dreamerv3"):
            env_id = re.match(r"`?([\w/.-]+)`?", cells[1]).group(1)
            rows[(cells[0], env_id)] = cells
    return rows


def test_docs_pretrained_table_matches_every_results_json():
    """docs/zoo.md lists every shipped agent with the score, steps, parameter count and file size its
    ``results.json`` records (the table once kept a retrained agent's old numbers)."""
    rows = _docs_pretrained_rows()
    assert set(rows) == {(a["algo"], a["env_id"]) for a in SHIPPED}
    for agent in SHIPPED:
        res = agent["results"]
        _, _, score, steps, _, params, size = rows[(agent["algo"], agent["env_id"])]
        key = f"{agent['algo']} {agent['env_id']}"
        assert score == f"{res['mean_reward']:.1f} ± {res['std_reward']:.1f}", (key, score)
        assert int(re.match(r"[\d,]+", steps).group(0).replace(",", "")) == res["env_steps"], (key, steps)
        n = res["n_parameters"]
        assert params == (f"{n / 1e6:.2f}M" if n >= 1e6 else f"{round(n / 1e3)}k"), (key, params, n)
        assert size == f"{res['model_bytes'] / 1e6:.1f} MB", (key, size, res["model_bytes"])


def test_shipped_agents_fit_in_40_mb():
    total = sum(p.stat().st_size for a in SHIPPED for p in a["run"].rglob("*") if p.is_file())
    assert total <= 40 * 1024 * 1024


@pytest.mark.parametrize("agent", SHIPPED, ids=[f"{a['algo']}-{a['env_id']}" for a in SHIPPED])
def test_enjoy_load_pretrained_and_results_json_agree(agent, offline, capsys):
    """For every shipped agent, seeded as its recorded evaluation: ``enjoy`` plays the file ``results.json`` records
    (the one ``load_pretrained`` loads) and prints its first episode's return in env units; ``load_pretrained(...,
    return_env=True)`` + ``evaluate_policy`` reproduces the recorded returns."""
    import gymnasium as gym
    from stable_baselines3.common.evaluation import evaluate_policy

    import dreamer_sb3.wrappers  # noqa: F401  (registers the dreamer_sb3/ ids)
    from dreamer_sb3.zoo import enjoy
    from dreamer_sb3.zoo.pretrained import model_path

    res = agent["results"]
    recorded_file = agent["run"] / res["model_file"]
    assert model_path(agent["algo"], agent["env_id"]) == recorded_file

    # enjoy: the same file, one episode's return in env units (the sum of the VecEnv's step rewards), within the
    # recorded episodes' range (a planner's CEM samples differ between the two seeded paths)
    # env steps >= agent steps (action repeat); a 20% longer first episode than recorded is allowed
    steps = min(int(1.2 * res["episode_lengths"][0]) + 10, gym.spec(agent["env_id"]).max_episode_steps or 10**6)
    enjoy.main(["--algo", agent["algo"], "--env", agent["env_id"], "--no-render", "-n", str(steps), "--num-threads", "1"])
    out = capsys.readouterr().out
    assert f"Loading {recorded_file}\n" in out, out[:500]
    enjoyed = [float(x) for x in re.findall(r"Episode Reward: (-?[\d.]+)", out)]
    low, high = min(res["episode_rewards"]), max(res["episode_rewards"])
    slack = 0.1 * max(abs(low), abs(high), 1.0)
    assert enjoyed, f"enjoy finished no episode in {steps} steps; results.json: {res['episode_lengths']}"
    assert low - slack <= enjoyed[0] <= high + slack, (enjoyed, res["episode_rewards"])

    # load_pretrained with the training env, evaluate_policy (Monitor returns: env units)
    model, env = load_pretrained(agent["algo"], agent["env_id"], device="cpu", return_env=True, seed=res["eval_seed"])
    assert model.num_timesteps == res["env_steps"]
    n_check = N_CHECK.get(agent["algo"], 3)
    rewards, _ = evaluate_policy(model, env, n_eval_episodes=n_check, deterministic=True, return_episode_rewards=True)
    recorded = np.mean(res["episode_rewards"][:n_check])
    tolerance = 0.1 * max(abs(recorded), 1.0) + res["std_reward"]
    assert abs(np.mean(rewards) - recorded) <= tolerance, (rewards, res["episode_rewards"][:n_check])
    print(
        f"{agent['algo']} {agent['env_id']}: enjoy {enjoyed[0]:.1f}, evaluate_policy {np.mean(rewards):.1f}, "
        f"results.json {recorded:.1f} (first {n_check} episodes)"
    )


def test_load_pretrained_warns_on_an_env_without_the_training_wrappers():
    """The Acrobot agent was trained with action repeat 4: a plain env gets a warning naming the wrapper."""
    import gymnasium as gym

    from dreamer_sb3.wrappers import ActionRepeat
    from dreamer_sb3.zoo.pretrained import check_env_wrappers, run_dir

    with pytest.warns(UserWarning, match=r"ActionRepeat\(repeat=4\) is missing.*return_env=True"):
        load_pretrained("dreamerv3", "Acrobot-v1", env=gym.make("Acrobot-v1"), device="cpu")
    run = run_dir("dreamerv3", "Acrobot-v1")
    with pytest.warns(UserWarning, match=r"ActionRepeat has repeat=2 where training used repeat=4"):
        assert check_env_wrappers(run, "Acrobot-v1", ActionRepeat(gym.make("Acrobot-v1"), 2))
    assert check_env_wrappers(run, "Acrobot-v1", ActionRepeat(gym.make("Acrobot-v1"), 4)) == []
    _, env = load_pretrained("dreamerv3", "Acrobot-v1", device="cpu", return_env=True)
    assert check_env_wrappers(run, "Acrobot-v1", env) == [] and env.num_envs == 1
    with pytest.raises(ValueError, match="either env or return_env"):
        load_pretrained("dreamerv3", "Acrobot-v1", env=env, return_env=True)


@pytest.mark.parametrize("agent", SHIPPED, ids=[f"{a['algo']}-{a['env_id']}" for a in SHIPPED])
def test_shipped_agent_layout_and_size(agent):
    run, res = agent["run"], agent["results"]
    env_name = agent["env_id"].replace("/", "-")
    for name in [
        f"{env_name}.zip",
        f"{env_name}/config.yml",
        f"{env_name}/args.yml",
        f"{env_name}/command.txt",
        f"{env_name}/env_kwargs.yml",
        "results.json",
    ]:
        assert (run / name).is_file(), name
    assert sum(p.stat().st_size for p in run.rglob("*") if p.is_file()) <= 5 * 1024 * 1024
    assert res["n_eval_episodes"] >= 10 and res["is_deterministic"]
    assert res["train_command"].split("python", 1)[1].startswith(" -m dreamer_sb3.zoo.train")
    for key in ("mean_reward", "std_reward", "eval_datetime", "eval_seed", "train_seed", "env_steps", "eval_command"):
        assert key in res


def test_strip_half_stores_float16_weights_that_load_as_float32(tmp_path):
    """``--strip --half``: no optimizer moments, float16 weights on disk, float32 parameters after loading that equal
    the float16-rounded originals, buffers untouched; the recorded score is measured on that model (on the shipped
    float32 Pendulum agent: the CartPole one already ships in float16)."""
    import shutil

    import torch as th

    from dreamer_sb3.zoo.pretrained import record, run_dir

    run = tmp_path / "dreamerv3" / "Pendulum-v1_1"
    shutil.copytree(run_dir("dreamerv3", "Pendulum-v1"), run)
    original = load_pretrained("dreamerv3", "Pendulum-v1", folder=tmp_path, device="cpu")
    before = (run / "Pendulum-v1.zip").stat().st_size
    res = record("dreamerv3", "Pendulum-v1", folder=tmp_path, n_episodes=1, strip=True, half=True, command="test")
    assert res["weights_dtype"] == "float16" and res["model_bytes"] < 0.6 * before
    halved = load_pretrained("dreamerv3", "Pendulum-v1", folder=tmp_path, device="cpu")
    for (name, p), q in zip(original.policy.named_parameters(), halved.policy.parameters()):
        assert q.dtype == th.float32, name
        th.testing.assert_close(q, p.half().float(), rtol=0, atol=0)
    for (name, b), c in zip(original.policy.named_buffers(), halved.policy.buffers()):
        th.testing.assert_close(c, b, rtol=0, atol=0, msg=name)
    assert all(not getattr(halved.policy, n).state for n in halved.policy.optimizer_names())
    assert res["episode_rewards"] == evaluate(halved, run, "Pendulum-v1", 1, seed=0)[0]


def test_hub_layout_round_trip_offline(tmp_path, monkeypatch, offline):
    """export_hub_folder writes what rl-zoo3's load_from_hub downloads; its download puts it back in the zoo layout."""
    import rl_zoo3.load_from_hub as rl_load
    import torch as th
    from huggingface_sb3 import EnvironmentName
    from requests.exceptions import HTTPError

    hub = export_hub_folder("dreamerv3", "CartPole-v1", tmp_path / "hub")
    assert hub_repo_id("dreamerv3", "CartPole-v1", "someorg") == "someorg/dreamerv3-CartPole-v1"
    assert {p.name for p in hub.iterdir()} == {
        "dreamerv3-CartPole-v1.zip",
        "config.yml",
        "args.yml",
        "env_kwargs.yml",
        "train_eval_metrics.zip",
        "results.json",
    }

    def fake_download(repo_id: str, filename: str) -> str:  # the hub answers 404 for a missing file
        if not (hub / filename).is_file():
            raise HTTPError(f"404: {repo_id}/{filename}")
        return str(hub / filename)

    monkeypatch.setattr(rl_load, "load_from_hub", fake_download)
    rl_load.download_from_hub("dreamerv3", EnvironmentName("CartPole-v1"), 0, str(tmp_path / "zoo"), "someorg")
    model = load_pretrained("dreamerv3", "CartPole-v1", folder=tmp_path / "zoo", device="cpu")
    shipped = load_pretrained("dreamerv3", "CartPole-v1", device="cpu")
    obs = np.zeros((5, 4), dtype=np.float32)
    # the zoo's CartPole agent samples its latent at deterministic=True (deterministic_latent=False): same seed, same acts
    th.manual_seed(0)
    acts = model.predict(obs, deterministic=True)[0]
    th.manual_seed(0)
    np.testing.assert_array_equal(acts, shipped.predict(obs, deterministic=True)[0])
    recorded = next(a["results"] for a in SHIPPED if (a["algo"], a["env_id"]) == ("dreamerv3", "CartPole-v1"))
    assert json.loads((hub / "results.json").read_text()) == recorded


def test_yaml_status_parsing():
    text = """
A-v1:
  # tuned here: 500 at 6k steps
  policy: 'MlpPolicy'
B-v1: &b
  # paper setting, not yet verified here
  policy: 'CnnPolicy'
ns/C-v0: {<<: *b}  # paper setting, not yet verified here
D-v0:
  policy: 'MlpPolicy'
  # a later comment is not the status
"""
    assert zoo_list.yaml_status(text) == {
        "A-v1": "tuned here: 500 at 6k steps",
        "B-v1": "paper setting, not yet verified here",
        "ns/C-v0": "paper setting, not yet verified here",
        "D-v0": "not yet verified here",
    }


def test_list_command_output(capsys):
    zoo_list.main([])
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["algo", "env", "id", "status", "pretrained", "(mean", "±", "std,", "env", "steps)"]
    assert max(len(line) for line in out) <= 120  # compact: no paragraphs
    assert next(line for line in out if line.startswith("dreamerv3  CartPole-v1 ")).split()[2:] == [
        "tuned", "500.0", "±", "0.0", "(5000)"
    ]  # fmt: skip
    assert any(line.split() == ["dreamerv3", "dreamer_sb3/dmc-walker-walk-v0", "paper"] for line in out)
    assert out[-1].startswith(f"{len(out) - 3} entries: ") and "10 shipped agents" in out[-1]
    zoo_list.main(["--details"])
    out = capsys.readouterr().out
    assert out.startswith("| algo | env id | YAML status | pretrained agent |")
    cartpole = next(line for line in out.splitlines() if line.startswith("| dreamerv3 | CartPole-v1 |"))
    assert "| tuned here: " in cartpole and "| yes: " in cartpole
    assert "| dreamerv3 | dreamer_sb3/dmc-walker-walk-v0 | paper setting, not yet verified here | no |" in out
    assert "| dreamerv3 | dreamer_sb3/atari-pong-v0 | paper setting, not yet verified here | no |" in out
    for algo in ("planet", "dreamerv1", "dreamerv2"):
        assert f"| {algo} | CartPole-v1 |" in out
    zoo_list.main(["--pretrained", "--details"])
    assert all("| yes: " in line for line in capsys.readouterr().out.splitlines()[2:])
