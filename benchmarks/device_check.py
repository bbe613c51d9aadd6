"""Device check: every algorithm of the family trains on a given device (``--device cuda`` on a GPU machine).

For each algorithm (PlaNet, DreamerV1, DreamerV2, DreamerV3) and each observation kind (a vector env and a
64x64 image env), build the model on ``--device``, collect ``--steps`` env steps with updates, and check:

- every parameter, buffer and optimizer moment lives on the device;
- the logged losses are finite and updates happened;
- save -> load on the same device gives the same deterministic actions.

It prints a table (seconds per update, steps/s) and writes ``device_check.json`` into ``--output``. The process
exits non-zero when any check fails, so one command on a lent GPU answers "does everything train there?".

Usage::

    python benchmarks/device_check.py --device cuda            # on a GPU machine
    python benchmarks/device_check.py --device cpu --steps 64  # the same checks on the CPU (CI-sized)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
import traceback
from typing import Any

ALGOS = ("planet", "dreamerv1", "dreamerv2", "dreamerv3")


def _image_env() -> Any:
    """A 64x64x3 uint8 env with a 2-dim Box action whose reward depends on the action (no rendering needed)."""
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    class ImageEnv(gym.Env):
        observation_space = spaces.Box(0, 255, (64, 64, 3), np.uint8)
        action_space = spaces.Box(-1, 1, (2,), np.float32)

        def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
            super().reset(seed=seed)
            self._t = 0
            return self.observation_space.sample(), {}

        def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
            self._t += 1
            return self.observation_space.sample(), float(-np.sum(np.square(action))), False, self._t >= 50, {}

    return ImageEnv()


def check_one(algo: str, obs_kind: str, device: str, steps: int) -> dict[str, Any]:
    """Train one algorithm briefly on ``device`` and run the checks; returns a result row."""
    import gymnasium as gym
    import numpy as np
    import torch as th

    from dreamer_sb3.zoo.registry import algorithm_class

    cls = algorithm_class(algo)
    env = gym.make("Pendulum-v1") if obs_kind == "vector" else _image_env()
    policy = "MlpPolicy" if obs_kind == "vector" else "CnnPolicy"
    kwargs: dict[str, Any] = dict(
        learning_starts=steps // 2,
        batch_size=8,
        batch_length=16,
        train_ratio=64,
        policy_kwargs=dict(model_size="tiny", **({"classes": 0} if algo in ("planet", "dreamerv1") else {})),
        device=device,
        seed=0,
    )
    if algo == "planet":
        kwargs.update(planning_horizon=6, n_candidates=100, top_k=10, cem_iters=3)
    model = cls(policy, env, **kwargs)
    target = th.device(device)
    t0 = time.perf_counter()
    model.learn(steps, log_interval=None)
    if target.type == "cuda":
        th.cuda.synchronize()
    seconds = time.perf_counter() - t0
    problems = []
    tensors = [*model.policy.parameters(), *model.policy.buffers()]
    for name in model.policy.optimizer_names():
        for state in getattr(model.policy, name).state.values():
            tensors.extend(v for v in state.values() if th.is_tensor(v) and v.dim() > 0)
    off = sum(t.device.type != target.type for t in tensors)
    if off:
        problems.append(f"{off} tensors not on {target.type}")
    if model._n_updates == 0:
        problems.append("no update ran")
    # the latest update's metrics and the means of the latest log dump (learn() dumps at its end)
    metrics = [(k, float(v)) for k, v in model._metrics.last.items()] + list(model._metrics.last_means.items())
    if not metrics:
        problems.append("no training metrics recorded")
    nonfinite = sorted({k for k, v in metrics if not math.isfinite(v)})
    if nonfinite:
        problems.append(f"non-finite metrics {nonfinite}")
    obs = np.stack([env.observation_space.sample() for _ in range(3)])
    before, _ = model.predict(obs, deterministic=True)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.zip")
        model.save(path)
        loaded = cls.load(path, device=device)
        after, _ = loaded.predict(obs, deterministic=True)
    if not np.allclose(before, after, atol=1e-5):
        problems.append("save -> load changed the deterministic actions")
    return {
        "algo": algo,
        "obs": obs_kind,
        "device": str(target),
        "env_steps": steps,
        "updates": int(model._n_updates),
        "seconds": seconds,
        "s_per_update": seconds / max(model._n_updates, 1),
        "ok": not problems,
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status (1 when any check failed)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--algos", nargs="+", default=list(ALGOS), choices=ALGOS)
    parser.add_argument("--obs", nargs="+", default=["vector", "image"], choices=["vector", "image"])
    parser.add_argument("--steps", type=int, default=400, help="env steps per run (half of them random, then updates)")
    parser.add_argument("-o", "--output", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args(argv)
    import torch as th

    if args.device.startswith("cuda") and not th.cuda.is_available():
        parser.error("--device cuda asked for, but torch sees no CUDA device")
    rows = []
    for algo in args.algos:
        for obs_kind in args.obs:
            try:
                rows.append(check_one(algo, obs_kind, args.device, args.steps))
            except Exception as exc:  # a crash is a failed check, reported with the others
                traceback.print_exc()
                rows.append(
                    {
                        "algo": algo,
                        "obs": obs_kind,
                        "device": args.device,
                        "ok": False,
                        "problems": [f"{type(exc).__name__}: {exc}"],
                    }
                )
    device_name = th.cuda.get_device_name() if args.device.startswith("cuda") else "cpu"
    print(f"\n| algo | obs | device ({device_name}) | updates | s / update | ok |\n|---|---|---|---|---|---|")
    for r in rows:
        spu = f"{r['s_per_update']:.3f}" if "s_per_update" in r else "-"
        print(
            f"| {r['algo']} | {r['obs']} | {r['device']} | {r.get('updates', '-')} | {spu} | "
            f"{'yes' if r['ok'] else 'NO: ' + '; '.join(r['problems'])} |"
        )
    os.makedirs(args.output, exist_ok=True)
    out = os.path.join(args.output, "device_check.json")
    with open(out, "w") as f:
        json.dump({"device": device_name, "torch": th.__version__, "rows": rows}, f, indent=1)
    print(f"wrote {out}")
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
