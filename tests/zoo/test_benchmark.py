"""The side-by-side benchmark runs end to end on a tiny budget and writes JSON, table and PNG."""

import json

import gymnasium as gym
from stable_baselines3.common.env_util import make_vec_env

from dreamer_sb3.wrappers.action_repeat import ActionRepeat
from dreamer_sb3.zoo.benchmark import (
    action_repeat,
    applicable,
    markdown_table,
    run_benchmark,
    steps_to_threshold,
    summarize,
)


def test_applicability_by_action_space():
    assert applicable("dqn", "CartPole-v1") and not applicable("dqn", "Pendulum-v1")
    assert applicable("sac", "Pendulum-v1") and not applicable("sac", "CartPole-v1")
    assert applicable("dreamerv3", "Pendulum-v1") and applicable("ppo", "CartPole-v1")


def test_steps_to_threshold_ignores_untrained_eval():
    curve = [{"steps": 0, "mean": 500.0}, {"steps": 100, "mean": 20.0}, {"steps": 200, "mean": 480.0}]
    assert steps_to_threshold(curve, 475.0) == 200
    assert steps_to_threshold(curve[:2], 475.0) is None


def test_benchmark_end_to_end_and_resume(tmp_path):
    algos = ["dreamerv3", "ppo", "dqn", "sac"]  # sac does not apply to CartPole and is skipped
    results = run_benchmark(
        ["CartPole-v1"], algos, seeds=1, output=str(tmp_path), budget=300, eval_freq=150, eval_episodes=1, progress=False
    )
    assert sorted(r["algo"] for r in results) == ["dqn", "dreamerv3", "ppo"]
    data = json.loads((tmp_path / "results.json").read_text())
    assert len(data["runs"]) == 3 and {r["algo"] for r in data["rows"]} == {"dqn", "dreamerv3", "ppo"}
    for run in data["runs"]:
        steps = [p["steps"] for p in run["curve"]]
        assert steps[0] == 0 and steps[-1] >= 300 and run["train_seconds"] > 0 and run["train_cpu_seconds"] > 0
        assert all(p["cpu"] >= 0 for p in run["curve"])
    assert "| CartPole-v1 | dreamerv3 |" in (tmp_path / "results.md").read_text()
    assert (tmp_path / "curves_CartPole-v1.png").stat().st_size > 1000
    # resume: finished runs are read back, not re-run
    before = {p.name: p.stat().st_mtime for p in (tmp_path / "runs").iterdir()}
    run_benchmark(
        ["CartPole-v1"],
        ["dreamerv3"],
        seeds=1,
        output=str(tmp_path),
        budget=300,
        eval_freq=150,
        eval_episodes=1,
        progress=False,
    )
    after = {p.name: p.stat().st_mtime for p in (tmp_path / "runs").iterdir()}
    assert before == after


def test_summary_table_format():
    runs = [
        {
            "env": "E",
            "algo": "a",
            "curve": [{"steps": 0, "mean": 0.0}, {"steps": 10, "mean": 5.0}],
            "train_seconds": 2.0,
            "updates": 4,
        }
    ]
    rows = summarize(runs, {"E": 5.0})
    assert rows[0]["steps_to_threshold"] == 10 and rows[0]["updates_per_second"] == 2.0
    assert "| E | a | 1 | 5.0 ± 0.0 | 5.0 | 10 (1/1) | 2 | 2 | 2.0 |" in markdown_table(rows)
    runs[0]["train_cpu_seconds"] = 1.0  # updates per CPU-second
    assert summarize(runs, {"E": 5.0})[0]["updates_per_second"] == 4.0


def test_action_repeat_is_read_from_the_wrapper():
    assert action_repeat(make_vec_env("Pendulum-v1", 1)) == 1
    venv = make_vec_env("Pendulum-v1", 1, wrapper_class=ActionRepeat, wrapper_kwargs={"repeat": 3})
    assert action_repeat(venv) == 3


def test_budget_and_curve_count_env_steps_under_action_repeat(tmp_path):
    # our Pendulum-v1 entry repeats actions twice: 200 env steps are 100 agent steps, and the curve's x is env steps
    results = run_benchmark(
        ["Pendulum-v1"],
        ["dreamerv3"],
        seeds=1,
        output=str(tmp_path),
        budget=200,
        eval_freq=100,
        eval_episodes=1,
        progress=False,
    )
    (run,) = results
    assert run["action_repeat"] == 2
    assert [p["steps"] for p in run["curve"]] == [0, 100, 200]
    assert gym.make("Pendulum-v1").spec.max_episode_steps == 200  # one eval episode = 100 agent steps


def test_parallel_jobs_write_the_same_records(tmp_path):
    """``jobs=2``: runs train in two worker processes; every run's JSON lands on disk and the summary covers all."""
    results = run_benchmark(
        ["CartPole-v1"],
        ["ppo", "dqn"],
        seeds=1,
        output=str(tmp_path),
        budget=200,
        eval_freq=100,
        eval_episodes=1,
        progress=False,
        jobs=2,
        num_threads=1,
    )
    assert [(r["algo"], r["seed"]) for r in results] == [("ppo", 0), ("dqn", 0)]  # (env, algo, seed) order
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["dqn_CartPole-v1_0.json", "ppo_CartPole-v1_0.json"]
    for run in results:  # rl-zoo3's PPO steps 8 envs at a time: its evaluations fall on multiples of 8
        steps = [p["steps"] for p in run["curve"]]
        assert steps[0] == 0 and steps[-1] >= 200 and len(steps) >= 3
    assert "| CartPole-v1 | ppo |" in (tmp_path / "results.md").read_text()


def test_params_override_our_yaml_and_count_for_resume(tmp_path, monkeypatch):
    """``params`` reach our algorithm's constructor (not the baselines'), are stored with the run, and a finished
    run is reused only with the same overrides."""
    import dreamer_sb3.zoo.benchmark as bench

    built = {}
    real = bench.run_one

    def spy(algo, env_id, seed, budget, eval_freq, eval_episodes, log_folder, params=None):
        run = real(algo, env_id, seed, budget, eval_freq, eval_episodes, log_folder, params)
        built[algo] = params
        return run

    monkeypatch.setattr(bench, "run_one", spy)
    kw = dict(seeds=1, output=str(tmp_path), budget=100, eval_freq=100, eval_episodes=1, progress=False)
    results = run_benchmark(["CartPole-v1"], ["dreamerv3", "ppo"], params={"batch_length": 8}, **kw)
    assert built == {"dreamerv3": {"batch_length": 8}, "ppo": {}}
    assert {r["algo"]: r["params"] for r in results} == {"dreamerv3": {"batch_length": 8}, "ppo": {}}
    built.clear()
    run_benchmark(["CartPole-v1"], ["dreamerv3", "ppo"], params={"batch_length": 8}, **kw)
    assert built == {}  # same overrides: both reused
    run_benchmark(["CartPole-v1"], ["dreamerv3", "ppo"], params={"batch_length": 16}, **kw)
    assert built == {"dreamerv3": {"batch_length": 16}}  # ours re-runs; the baseline is unaffected


def test_params_reach_the_model(tmp_path):
    from dreamer_sb3.zoo.benchmark import run_one

    run = run_one(
        "dreamerv3",
        "CartPole-v1",
        0,
        64,
        64,
        1,
        str(tmp_path),
        {"learning_starts": 16, "batch_size": 2, "batch_length": 4, "train_ratio": 8},
    )
    # the YAML's learning_starts (1000) would allow no update in 64 steps; the overrides give 8 / (2 * 4) = 1 per step
    assert run["updates"] in (48, 49) and run["params"]["train_ratio"] == 8


def test_baselines_on_our_dmc_proprio_ids_use_our_yaml(tmp_path):
    """rl-zoo3's sac.yml has no dreamer_sb3/ ids: SAC takes ours there (5000 seed steps) and rl-zoo3's elsewhere."""
    from dreamer_sb3.zoo.benchmark import _config_for, run_one

    assert _config_for("sac", "dreamer_sb3/dmc-proprio-cartpole-swingup-v0").endswith("hyperparams/baselines/sac.yml")
    assert "rl_zoo3" in _config_for("sac", "Pendulum-v1")
    run = run_one("sac", "dreamer_sb3/dmc-proprio-cartpole-swingup-v0", 0, 240, 240, 1, str(tmp_path))
    assert run["curve"][-1]["steps"] == 240  # 120 agent steps at action repeat 2
    assert run["updates"] == 0  # all before our learning_starts (5000); SB3's default (100) would have updated


def test_reference_curve_is_the_papers_dmc_proprio_run():
    from dreamer_sb3.zoo.benchmark import reference_curve

    xs, ys, label = reference_curve("dreamer_sb3/dmc-proprio-cartpole-swingup-v0", budget=50_000)
    assert list(xs) == [10_000, 20_000, 30_000, 40_000, 50_000] and "DreamerV3" in label
    assert ys[-1] == 321.6  # the mean of the paper's 5 seeds at 50k env frames (scores/dmc_proprio-dreamerv3)
    full = reference_curve("dreamer_sb3/dmc-proprio-reacher-easy-v0")
    assert full is not None and full[0][-1] == 490_000 and full[1][-1] == 961.8
    assert reference_curve("dreamer_sb3/dmc-proprio-cup-catch-v0") is not None  # ball_in_cup alias
    assert reference_curve("CartPole-v1") is None and reference_curve("dreamer_sb3/dmc-cartpole-swingup-v0") is None
