"""Data-parallel scaling: updates per second and env steps per second at 1, 2, ... ranks (``torchrun``).

For each rank count N (and each repeat, alternating N so that a busy machine hurts all of them alike), the
script launches ``torchrun --nproc_per_node N`` on itself in worker mode. Every rank builds the same DreamerV3,
fills its own replay with ``--prefill`` random env steps, then

1. **updates/s**: ``train(K)`` (replay sampling, the update with its gradient all-reduce) between two barriers;
   the run's global rate is ``N * K / time`` (every rank updates on its own batch);
2. **env steps/s**: ``learn(S)`` with the config's train ratio (acting, env stepping, storing and the updates it
   owes), ``S`` env steps over all ranks; the global rate is ``S / time``.

Scaling efficiency of N ranks: ``rate(N) / (N * rate(1))`` (1.0: perfect linear scaling). One rank runs the
plain single-process path (no process group), so the efficiency includes every cost of going data-parallel.
On CPU each rank gets ``--threads`` torch threads (gloo); on CUDA rank r uses ``cuda:r`` (NCCL).

Usage::

    python benchmarks/distributed.py                          # tiny CartPole, 1 and 2 CPU ranks, 3 repeats
    python benchmarks/distributed.py --device cuda --config vision --ranks 1 2 4

Prints a table, writes ``benchmarks/results/distributed.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

#: name -> (env, DreamerV3 settings): ``tiny`` is the zoo's CartPole setting; ``vision`` the ``S`` size on
#: synthetic 64x64x3 images with 6-dim continuous actions (GPU scale)
CONFIGS: dict[str, dict] = {
    "tiny": dict(
        env="CartPole-v1",
        kwargs=dict(batch_size=16, batch_length=32, train_ratio=64, policy_kwargs=dict(model_size="tiny")),
    ),
    "vision": dict(
        env="image",
        kwargs=dict(batch_size=16, batch_length=64, train_ratio=512, policy_kwargs=dict(model_size="S")),
    ),
}


def _make_env(name: str):
    import gymnasium as gym
    from stable_baselines3.common.envs import FakeImageEnv
    from stable_baselines3.common.vec_env import DummyVecEnv

    if name == "image":
        image = dict(action_dim=6, screen_height=64, screen_width=64, n_channels=3, discrete=False)
        return DummyVecEnv([lambda: FakeImageEnv(**image)])
    return DummyVecEnv([lambda: gym.make(name)])


def worker(args: argparse.Namespace) -> None:
    """One rank: prefill, time ``train(K)``, time ``learn(S)``; rank 0 writes the JSON record."""
    import torch as th
    import torch.distributed as tdist

    from dreamer_sb3 import DreamerV3

    th.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]
    n = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    model = DreamerV3(
        "MlpPolicy" if cfg["env"] != "image" else "CnnPolicy",
        _make_env(cfg["env"]),
        learning_starts=args.prefill * n,
        buffer_size=max(10_000, 2 * (args.prefill + args.env_steps)),
        seed=0,
        device=args.device,
        **cfg["kwargs"],
    )
    model.learn(args.prefill * n)  # random prefill of every rank's replay (+ the process group, the broadcast)

    def sync() -> None:
        if model.device.type == "cuda":
            th.cuda.synchronize(model.device)
        if n > 1:
            tdist.barrier()

    model.train(args.warmup)
    sync()
    start = time.perf_counter()
    model.train(args.updates)
    sync()
    update_s = time.perf_counter() - start
    steps = args.env_steps * n
    sync()
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    sync()
    learn_s = time.perf_counter() - start
    if rank == 0:
        record = dict(
            ranks=n,
            updates_per_s_per_rank=args.updates / update_s,
            updates_per_s=n * args.updates / update_s,
            env_steps_per_s=steps / learn_s,
            updates_in_learn=model._n_updates - args.warmup - args.updates,
        )
        with open(args.worker_out, "w") as f:
            json.dump(record, f)
    if tdist.is_initialized():
        tdist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(args: argparse.Namespace, n: int) -> dict:
    """One torchrun run with ``n`` ranks; returns rank 0's record."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "rank0.json")
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_port", str(_free_port())]
        cmd += ["--master_addr", "127.0.0.1", os.path.abspath(__file__), "--worker-out", out]
        for k in ("config", "device", "threads", "prefill", "warmup", "updates", "env_steps"):
            cmd += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"{n} ranks failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-12000:]}")
        with open(out) as f:
            return json.load(f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="tiny")
    parser.add_argument("--device", default="cpu", help="cpu (gloo) or cuda (NCCL, one GPU per rank)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=1, help="torch threads per rank")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--prefill", type=int, default=600, help="random env steps per rank before timing")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--updates", type=int, default=30, help="updates per rank timed")
    parser.add_argument("--env-steps", type=int, default=400, help="env steps per rank of the timed learn()")
    parser.add_argument("--output", default="benchmarks/results/distributed")
    parser.add_argument("--worker-out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_out:
        worker(args)
        return
    load_before = os.getloadavg()  # a busy machine shows here: the numbers are only comparable within one run
    runs: dict[int, list[dict]] = {n: [] for n in args.ranks}
    for rep in range(args.repeats):
        for n in args.ranks if rep % 2 == 0 else reversed(args.ranks):
            runs[n].append(launch(args, n))
            print(f"repeat {rep + 1}/{args.repeats}, {n} rank(s): {runs[n][-1]}", flush=True)
    base = args.ranks[0]
    med = {n: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for n, rs in runs.items()}
    rows = []
    for n in args.ranks:
        m, b = med[n], med[base]
        eff_u = m["updates_per_s"] / (n / base * b["updates_per_s"])
        eff_e = m["env_steps_per_s"] / (n / base * b["env_steps_per_s"])
        rows.append(dict(m, ranks=n, updates_efficiency=eff_u, env_steps_efficiency=eff_e))
    print(f"\n{args.config}, {args.device}, {args.threads} thread(s) per rank, median of {args.repeats} (alternating)")
    print(f"load average (1 min) before / after: {load_before[0]:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| ranks | updates/s per rank | updates/s (all ranks) | efficiency | env steps/s (learn) | efficiency |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['ranks']} | {r['updates_per_s_per_rank']:.2f} | {r['updates_per_s']:.2f} | {r['updates_efficiency']:.2f} "
            f"| {r['env_steps_per_s']:.1f} | {r['env_steps_efficiency']:.2f} |"
        )
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    meta = {k: v for k, v in vars(args).items() if k != "worker_out"}
    meta.update(machine=platform.machine(), processor=platform.processor(), cpus=os.cpu_count())
    meta.update(load_average_before=load_before, load_average_after=os.getloadavg())
    with open(f"{args.output}.json", "w") as f:
        json.dump(dict(settings=meta, rows=rows, runs={str(n): rs for n, rs in runs.items()}), f, indent=2)
    print(f"wrote {args.output}.json")


if __name__ == "__main__":
    main()
