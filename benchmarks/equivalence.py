"""Behaviour fingerprint of the code at one commit, to compare two commits after a refactor.

For every algorithm it trains a seeded fp32 ``tiny`` model on CPU for ``--updates`` updates (after a
random-action prefill) and records every metric of every update; for every shipped pretrained agent it
records the deterministic and the seeded stochastic actions over ``--steps`` env steps on the env the
agent was trained on. Two fingerprints are compared with ``--compare A.json B.json``: the largest
absolute difference per algorithm and metric, and whether the agents' actions are identical.

Usage::

    python benchmarks/equivalence.py --out before.json          # at the old commit
    python benchmarks/equivalence.py --out after.json           # at the new commit
    python benchmarks/equivalence.py --compare before.json after.json

This is a script, not a test: it takes a few minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
from typing import Any

import numpy as np
import torch as th

ALGOS = {"planet": "PlaNet", "dreamerv1": "DreamerV1", "dreamerv2": "DreamerV2", "dreamerv3": "DreamerV3"}


def _commit() -> str:
    try:
        return subprocess.check_output(["git", "rev-parse", "--short", "HEAD"], text=True).strip()
    except Exception:  # pragma: no cover - outside a checkout
        return "unknown"


def train_fingerprint(algo: str, updates: int, prefill: int = 600) -> dict[str, list[float]]:
    """Every metric of ``updates`` seeded updates of a ``tiny`` model on CartPole-v1 (Pendulum-v1 for PlaNet)."""
    import dreamer_sb3

    cls = getattr(dreamer_sb3, ALGOS[algo])
    env_id = "Pendulum-v1" if algo == "planet" else "CartPole-v1"
    kwargs: dict[str, Any] = dict(learning_starts=prefill + 1, batch_size=4, batch_length=16, seed=0, device="cpu")
    if algo == "planet":
        kwargs.update(n_candidates=64, top_k=8, cem_iters=2)
    model = cls("MlpPolicy", env_id, policy_kwargs=dict(model_size="tiny"), **kwargs)
    model.learn(prefill)
    records: dict[str, list[float]] = {}
    original = model.train_step

    def recording(batch: Any) -> dict[str, th.Tensor]:
        metrics = original(batch)
        for key, value in metrics.items():
            records.setdefault(key, []).append(float(th.as_tensor(value).float()))
        return metrics

    model.train_step = recording  # type: ignore[method-assign]
    th.manual_seed(0)
    model.train(updates)
    return records


def agent_fingerprint(steps: int) -> dict[str, dict[str, list]]:
    """Deterministic and seeded stochastic actions of every shipped agent over ``steps`` env steps."""
    from dreamer_sb3.zoo.pretrained import load_pretrained, make_eval_env, shipped_agents

    out: dict[str, dict[str, list]] = {}
    for agent in shipped_agents():
        name = f"{agent['algo']}/{agent['env_id']}"
        model = load_pretrained(agent["algo"], agent["env_id"], device="cpu")
        n = steps if agent["algo"] != "planet" else min(steps, 200)  # planning is slow on CPU
        record: dict[str, list] = {}
        for deterministic in (True, False):
            env = make_eval_env(agent["run"], agent["env_id"], seed=0)
            th.manual_seed(0)
            obs = env.reset()
            state, starts, actions = None, np.ones(env.num_envs, dtype=bool), []
            for _ in range(n):
                action, state = model.predict(obs, state=state, episode_start=starts, deterministic=deterministic)
                actions.append(np.asarray(action).tolist())
                obs, _, dones, _ = env.step(action)
                starts = dones
            env.close()
            record["deterministic" if deterministic else "stochastic"] = actions
        out[name] = record
    return out


def compare(a_path: str, b_path: str) -> int:
    a, b = json.loads(pathlib.Path(a_path).read_text()), json.loads(pathlib.Path(b_path).read_text())
    print(f"{a['commit']} -> {b['commit']}")
    print("| algorithm | metric | updates | max abs diff | identical |\n|---|---|---|---|---|")
    worst = 0.0
    for algo, metrics in a["train"].items():
        for key, values in metrics.items():
            other = b["train"].get(algo, {}).get(key)
            if other is None:
                print(f"| {algo} | {key} | {len(values)} | missing after | no |")
                continue
            diff = float(np.max(np.abs(np.asarray(values) - np.asarray(other))))
            worst = max(worst, diff)
            print(f"| {algo} | {key} | {len(values)} | {diff:.3g} | {'yes' if diff == 0 else 'no'} |")
        for key in set(b["train"].get(algo, {})) - set(metrics):
            print(f"| {algo} | {key} | - | new after | - |")
    same_agents = True
    for name, rec in a["agents"].items():
        for mode, actions in rec.items():
            same = b["agents"].get(name, {}).get(mode) == actions
            same_agents &= same
            print(f"agent {name} ({mode}, {len(actions)} steps): {'identical' if same else 'DIFFERENT'}")
    print(f"largest metric difference {worst:.3g}; agents identical: {same_agents}")
    return 0 if same_agents else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", help="write the fingerprint of this checkout here")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--algos", nargs="+", default=list(ALGOS))
    parser.add_argument("--no-agents", action="store_true")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    th.set_num_threads(1)
    result = {
        "commit": _commit(),
        "train": {algo: train_fingerprint(algo, args.updates) for algo in args.algos},
        "agents": {} if args.no_agents else agent_fingerprint(args.steps),
    }
    pathlib.Path(args.out).write_text(json.dumps(result))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
