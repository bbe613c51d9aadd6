"""DreamerV3 must actually learn: the zoo's CartPole-v1 entry to a near-perfect policy, and under bf16 autocast well
above a random policy, within a CPU-minutes budget."""

import gymnasium as gym
import numpy as np
import pytest
import yaml
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from dreamer_sb3 import DreamerV3
from dreamer_sb3.zoo.registry import hyperparams_path
from tests.learning import random_return

#: env steps for the zoo entry's test: the evaluation by which every seed of its 3-seed benchmark
#: (benchmarks/results/issue12_cartpole_wmlr3e-4) scored >= 475 and held >= 450 to 30k
LEARN_STEPS = 10500


#: env steps of the bf16 test: the first evaluation at which every seed of the world-model-lr-1e-3 benchmark
#: (benchmarks/results/issue12_cartpole) scored >= 475
BF16_STEPS = 4500


# bf16 autocast trains the zoo's CartPole entry too (fp32 is test_dreamerv3_zoo_entry_learns_cartpole_to_400), with
# the world model at the entry's rate before 2026-12-03 (1e-3, first 475 at 4.5k on every benchmark seed): this test
# asks that bf16 learns fast within a small budget, and 1e-3 learns fastest (the entry's 3e-4 holds better). The
# earlier setting of this test (actor lr 3e-4, argmax evaluation latents) sat at its threshold: one CI run reached
# 77. CI's CPU ran 3.5k steps of it in bf16 in 2.5 minutes; CPUs without native bf16 (AVX2 only) emulate it, several
# times slower.
@pytest.mark.slow(minutes=5)
def test_dreamerv3_learns_cartpole_in_bf16():
    entry = zoo_entry("CartPole-v1")
    entry["learning_rate"] = 1e-3
    model = DreamerV3(entry.pop("policy"), "CartPole-v1", precision="bf16", seed=0, **entry)
    model.learn(BF16_STEPS)
    eval_env = gym.make("CartPole-v1")
    mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True)
    baseline = random_return(lambda: gym.make("CartPole-v1"))
    assert baseline < 30
    assert mean > 5 * baseline, f"DreamerV3 (bf16) reached {mean:.1f}, random policy {baseline:.1f}"


def zoo_entry(env_id: str) -> dict:
    """The zoo's DreamerV3 entry for ``env_id`` as constructor keywords (``policy_kwargs`` parsed as rl-zoo3 does)."""
    entry = dict(yaml.safe_load(hyperparams_path("dreamerv3").read_text())[env_id])
    entry.pop("n_timesteps")
    entry["policy_kwargs"] = eval(entry["policy_kwargs"], {"__builtins__": {"dict": dict}})
    return entry


def test_zoo_entry_parser_reads_the_cartpole_entry():
    entry = zoo_entry("CartPole-v1")
    assert entry["policy_kwargs"] == dict(model_size="tiny", deterministic_latent=False)
    assert entry["discount"] == 0.99 and entry["critic_lr"] == 1e-3
    assert entry["learning_rate"] == 3e-4  # 1e-3 collapsed late on one of 3 seeds (issue 12's bar)
    assert "recipe" not in entry  # the class default: the current official recipe


def test_readme_snippet_is_the_zoo_entry():
    """The README's first example says it is the zoo's CartPole entry: its constructor keywords must be the entry's."""
    import ast
    import pathlib

    readme = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    call = next(
        node
        for node in ast.walk(ast.parse(code))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "DreamerV3"
    )
    literals = {"__builtins__": {"dict": dict}}  # the snippet's values are literals and dict(...)
    kwargs = {kw.arg: eval(ast.unparse(kw.value), literals) for kw in call.keywords if kw.arg not in ("seed", "verbose")}
    entry = zoo_entry("CartPole-v1")
    assert ast.literal_eval(call.args[0]) == entry.pop("policy")
    assert kwargs == entry


# A collapsed or half-learned agent fails this bar: the zoo entry before issue 12 (2023 recipe, discount 0.997,
# critic lr 1e-4, argmax latents) reached 500 and fell back to 120-310 (docs/benchmarks.md).
@pytest.mark.slow(minutes=6)
def test_dreamerv3_zoo_entry_learns_cartpole_to_400():
    entry = zoo_entry("CartPole-v1")
    model = DreamerV3(entry.pop("policy"), "CartPole-v1", seed=0, **entry)
    model.learn(LEARN_STEPS)
    eval_env = DummyVecEnv([lambda: Monitor(gym.make("CartPole-v1"))])
    eval_env.seed(1000)
    returns, _ = evaluate_policy(model, eval_env, n_eval_episodes=10, deterministic=True, return_episode_rewards=True)
    assert np.mean(returns) >= 400, f"zoo entry: {np.mean(returns):.1f} after {LEARN_STEPS} steps ({returns})"
