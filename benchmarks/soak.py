"""Long-run soak: nothing poisoned, nothing leaking, a mid-run checkpoint that resumes exactly.

For each task (a vector, a pixel and a continuous one), DreamerV3 at the ``tiny`` size trains for
``--steps`` env steps in its own subprocess (so its memory is its own) and the script checks:

- **0 non-finite values**: every parameter, optimiser state and the return normaliser at every
  sample point, and the whole replay at the end; the data guard (``on_bad_data="raise"``) and
  the update guard (``train/skipped_updates``) must report nothing;
- **RSS over time**: resident memory at each sample point, and the same minus the bytes of replay
  filled so far (the replay's pages are touched as it fills, so that part grows by design); the
  growth of the rest over the second half of the run is reported per 10k steps;
- **checkpoint / resume mid-run**: at half the steps the model and its replay are saved, a fresh
  process state is built with ``DreamerV3.load`` + ``load_replay_buffer``, the weights are
  checked bit-identical, and training continues with ``reset_num_timesteps=False``.

Usage::

    python benchmarks/soak.py                         # the full soak: 100k steps per task (hours on a CPU)
    python benchmarks/soak.py --steps 2000            # a smoke run
    python benchmarks/soak.py --tasks vector --steps 20000 --train-ratio 64

Prints a table, writes ``benchmarks/results/soak.json`` and the RSS plot ``soak.png`` beside it
(``--plot soak.json`` redraws the plot of a finished run).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

TASKS: dict[str, dict[str, Any]] = {
    "vector": dict(env="CartPole-v1", policy="MlpPolicy"),
    "pixel": dict(env="dreamer_sb3/CartPole-pixels-v0", policy="CnnPolicy"),
    "continuous": dict(env="Pendulum-v1", policy="MlpPolicy"),
}
RESULTS = pathlib.Path(__file__).parent / "results"


def rss_mb() -> float:
    """Resident set size of this process (MB), from ``/proc/self/status`` (Linux)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def non_finite(model: Any) -> int:
    """Non-finite values in the policy's parameters and buffers and in every optimiser state."""
    import torch as th

    count = sum(int((~th.isfinite(t.float())).sum()) for t in model.policy.state_dict().values() if t.is_floating_point())
    for name in model.policy.optimizer_names():
        for state in getattr(model.policy, name).state_dict()["state"].values():
            count += sum(
                int((~th.isfinite(v.float())).sum()) for v in state.values() if th.is_tensor(v) and v.is_floating_point()
            )
    return count


def replay_bytes(buf: Any) -> int:
    """Bytes of replay filled so far (the pages of the ring that have been written)."""
    per_step = sum(int(np.prod(v.shape[2:])) * v.itemsize for v in buf.obs.values())
    per_step += buf.action.shape[2] * buf.action.itemsize + buf.reward.itemsize + 2
    return int(per_step * len(buf))


def run_task(task: str, steps: int, train_ratio: float, samples: int, seed: int) -> dict[str, Any]:
    """Train one task in this process and return its record (run in a child process by :func:`main`)."""
    import torch as th
    from stable_baselines3.common.callbacks import BaseCallback

    from dreamer_sb3 import DreamerV3

    th.set_num_threads(1)
    spec = TASKS[task]
    kwargs = dict(
        learning_starts=min(1000, steps // 10),
        batch_size=16,
        batch_length=32,
        train_ratio=train_ratio,
        buffer_size=max(steps, 1000),
        policy_kwargs=dict(model_size="tiny"),
        seed=seed,
    )
    every = max(steps // samples, 1)
    trace: list[dict[str, float]] = []

    class Sample(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % every == 0:
                m = self.model
                trace.append(
                    dict(
                        step=m.num_timesteps,
                        rss_mb=rss_mb(),
                        rss_minus_replay_mb=rss_mb() - replay_bytes(m.replay_buffer) / 2**20,
                        non_finite=non_finite(m),
                        updates=m._n_updates,
                    )
                )
            return True

    start = time.time()
    model = DreamerV3(spec["policy"], spec["env"], **kwargs)
    half = steps // 2
    model.learn(half, callback=Sample())
    with tempfile.TemporaryDirectory() as tmp:
        model.save(f"{tmp}/model.zip")
        model.save_replay_buffer(f"{tmp}/replay.npz")
        before = {k: v.clone() for k, v in model.policy.state_dict().items()}
        env = model.get_env()
        dropped, skipped = model._dropped_steps, model._skipped_updates
        del model
        gc.collect()  # SB3's reference cycles keep the old model (and its replay) alive until the cyclic collector runs
        model = DreamerV3.load(f"{tmp}/model.zip", env=env)
        model.load_replay_buffer(f"{tmp}/replay.npz")
    identical = all(th.equal(before[k], v) for k, v in model.policy.state_dict().items())
    model.learn(steps - half, callback=Sample(), reset_num_timesteps=False)
    buf = model.replay_buffer
    replay_bad = sum(int((~np.isfinite(v[:, : buf.sizes().max()])).sum()) for v in buf.obs.values() if v.dtype.kind == "f")
    replay_bad += int((~np.isfinite(buf.reward)).sum())
    second = [t for t in trace if t["step"] >= half]
    growth = 0.0
    if len(second) >= 2:
        x = np.array([t["step"] for t in second], dtype=float)
        y = np.array([t["rss_minus_replay_mb"] for t in second])
        growth = float(np.polyfit(x, y, 1)[0] * 10_000)
    return dict(
        task=task,
        env=spec["env"],
        steps=int(model.num_timesteps),
        updates=int(model._n_updates),
        seconds=time.time() - start,
        non_finite_max=max(t["non_finite"] for t in trace) if trace else non_finite(model),
        replay_non_finite=replay_bad,
        dropped_steps=dropped + model._dropped_steps,
        skipped_updates=skipped + model._skipped_updates,
        resume_identical=identical,
        rss_start_mb=trace[0]["rss_mb"] if trace else rss_mb(),
        rss_end_mb=rss_mb(),
        rss_minus_replay_growth_mb_per_10k=growth,
        trace=trace,
    )


def plot(records: list[dict[str, Any]], path: pathlib.Path) -> None:
    """RSS and RSS minus the replay filled so far over env steps, one line per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharex=True)
    for r in records:
        if "trace" not in r:
            continue
        steps = [p["step"] for p in r["trace"]]
        axes[0].plot(steps, [p["rss_mb"] for p in r["trace"]], marker=".", label=r["task"])
        axes[1].plot(steps, [p["rss_minus_replay_mb"] for p in r["trace"]], marker=".", label=r["task"])
    axes[0].set_title("RSS (MB)")
    axes[1].set_title("RSS minus the replay filled so far (MB)")
    for ax in axes:
        ax.set_xlabel("env steps")
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
    axes[0].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--steps", type=int, default=100_000, help="env steps per task")
    parser.add_argument("--train-ratio", type=float, default=32.0, help="replayed steps per env step")
    parser.add_argument("--samples", type=int, default=20, help="RSS / finiteness samples per run")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", choices=sorted(TASKS), help=argparse.SUPPRESS)
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS / "soak.json")
    parser.add_argument("--plot", type=pathlib.Path, metavar="JSON", help="only draw the RSS plot of a finished soak")
    args = parser.parse_args()
    if args.plot:
        plot(json.loads(args.plot.read_text())["records"], args.plot.with_suffix(".png"))
        print(f"wrote {args.plot.with_suffix('.png')}")
        return
    if args.child:
        print(json.dumps(run_task(args.child, args.steps, args.train_ratio, args.samples, args.seed)))
        return
    records = []
    for task in args.tasks:
        cmd = [sys.executable, __file__, "--child", task, "--steps", str(args.steps), "--train-ratio", str(args.train_ratio)]
        cmd += ["--samples", str(args.samples), "--seed", str(args.seed)]
        out = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if out.returncode != 0:
            records.append(dict(task=task, error=out.stderr[-2000:]))
            print(f"{task}: FAILED\n{out.stderr[-2000:]}")
            continue
        records.append(json.loads(out.stdout.strip().splitlines()[-1]))
    cols = ["task", "steps", "updates", "seconds", "non_finite_max", "replay_non_finite", "dropped_steps", "skipped_updates"]
    cols += ["resume_identical", "rss_start_mb", "rss_end_mb", "rss_minus_replay_growth_mb_per_10k"]
    print(" | ".join(cols))
    for r in records:
        if "error" in r:
            continue
        print(" | ".join(f"{r[c]:.1f}" if isinstance(r[c], float) else str(r[c]) for c in cols))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(argv=sys.argv[1:], train_ratio=args.train_ratio, records=records), indent=1))
    plot(records, args.out.with_suffix(".png"))
    print(f"wrote {args.out} and {args.out.with_suffix('.png')}")


if __name__ == "__main__":
    main()
