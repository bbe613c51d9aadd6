"""Throughput benchmark: seconds per DreamerV3 training update, policy-step latency and peak memory.

A full update is world model (forward + backward + Adam) then behaviour learning (imagination
over ``horizon`` steps from every posterior state, actor and critic forward + backward + Adam),
on a synthetic batch of ``batch_size x batch_length`` steps. Each configuration runs in its own
subprocess so its peak RSS is its own.

Configurations:

- ``vision``: 64x64x3 images, 6-dim Box action, RSSM deter 512, hidden 512, MLP units 512,
  CNN depth 32 (the ``S`` size; the widely used PyTorch port's vision default);
- ``tiny``: the CPU preset on a 4-dim vector observation with 2 discrete actions.

``--peers torchrl sheeprl`` also times other libraries' own DreamerV3 (``benchmarks/peers``), built
at the ``vision`` sizes, fed the same synthetic batch and timed the same way, each in its own
subprocess too; a peer that is not installed is skipped with one line. The peers print their
parameter counts next to ours and one table of ratios ``peer / ours`` (ours: the ``vision`` rows
of the same run, fp32 and bf16 when measured).

Usage::

    python benchmarks/throughput.py                       # both configs, fp32 and bf16
    python benchmarks/throughput.py --configs vision --precisions fp32 --repeats 10
    python benchmarks/throughput.py --configs vision --peers torchrl sheeprl

Prints a table, writes ``benchmarks/results/throughput.json`` and ``throughput.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import peers

CONFIGS = {
    "vision": dict(obs="image", action="box", model_size="S"),
    "tiny": dict(obs="vector", action="discrete", model_size="tiny"),
    # the DreamerV3 paper's two largest sizes on the same 64x64 images (GPU scale: about 0.2 / 0.6 s per update
    # on a CPU would be minutes)
    "vision-L": dict(obs="image", action="box", model_size="L"),
    "vision-XL": dict(obs="image", action="box", model_size="XL"),
}
#: default configs (the large ones only when asked for)
DEFAULT_CONFIGS = ["vision", "tiny"]
#: which of our configs a peer built at ``--peer-size`` is compared with
PEER_SIZE_CONFIG = {"vision": "vision", "tiny": "vision", "L": "vision-L", "XL": "vision-XL"}


def _make_model(
    config: str,
    precision: str,
    actor_grad: str,
    batch_size: int,
    batch_length: int,
    horizon: int,
    device: str,
    compile: bool = False,
):
    import gymnasium as gym
    import numpy as np
    from gymnasium import spaces

    from dreamer_sb3 import DreamerV3

    spec = CONFIGS[config]

    class SyntheticEnv(gym.Env):
        observation_space = (
            spaces.Box(0, 255, (64, 64, 3), np.uint8) if spec["obs"] == "image" else spaces.Box(-1, 1, (4,), np.float32)
        )
        action_space = spaces.Box(-1, 1, (6,), np.float32) if spec["action"] == "box" else spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, False, False, {}

    policy = "CnnPolicy" if spec["obs"] == "image" else "MlpPolicy"
    return DreamerV3(
        policy,
        SyntheticEnv(),
        batch_size=batch_size,
        batch_length=batch_length,
        imag_horizon=horizon,
        precision=precision,
        actor_grad=actor_grad,
        device=device,
        seed=0,
        compile=compile,
        policy_kwargs=dict(model_size=spec["model_size"]),
    )


def _synthetic_batch(model, batch_size: int, batch_length: int):
    import numpy as np

    from dreamer_sb3.common.replay import SequenceBatch

    rng = np.random.default_rng(0)
    obs = {}
    for key, (shape, dtype) in model._replay_obs_shapes().items():
        if np.dtype(dtype) == np.uint8:
            obs[key] = rng.integers(0, 256, (batch_size, batch_length, *shape), dtype=np.uint8)
        else:
            obs[key] = rng.normal(size=(batch_size, batch_length, *shape)).astype(np.float32)
    dim = model.policy.codec.dim
    batch = SequenceBatch(
        obs=obs,
        action=rng.uniform(-1, 1, (batch_size, batch_length, dim)).astype(np.float32),
        reward=rng.normal(size=(batch_size, batch_length)).astype(np.float32),
        is_first=rng.random((batch_size, batch_length)) < 0.01,
        is_terminal=rng.random((batch_size, batch_length)) < 0.01,
    )
    return batch.to_torch(model.device)


def measure(
    config: str,
    precision: str,
    actor_grad: str,
    repeats: int,
    batch_size: int,
    batch_length: int,
    horizon: int,
    device: str,
    compile: bool = False,
) -> dict:
    """Time updates and policy steps for one configuration (run in a fresh process). With ``compile`` the
    warm-up also pays the compilation, reported as ``compile_s``."""
    import torch as th

    model = _make_model(config, precision, actor_grad, batch_size, batch_length, horizon, device, compile)
    p = model.policy
    batch = _synthetic_batch(model, batch_size, batch_length)

    def sync() -> None:
        if model.device.type == "cuda":
            th.cuda.synchronize()

    counts = {
        "world_model": sum(x.numel() for x in p.world_model.parameters()),
        "actor": sum(x.numel() for x in p.actor.parameters()),
        "critic": sum(x.numel() for x in p.critic.parameters()),
    }
    p.set_training_mode(True)
    t_warm = time.perf_counter()
    for _ in range(2):  # warm-up (and compilation)
        model.train_step(batch)
    sync()
    warmup_s = time.perf_counter() - t_warm
    full, wm_times, beh_times = [], [], []
    for _ in range(repeats):
        # the two halves of model.train_step, the update train() runs (gradient clips included)
        t0 = time.perf_counter()
        post, _ = model.world_model_step(batch)
        sync()
        t1 = time.perf_counter()
        model.behavior_step(post, batch)
        sync()
        t2 = time.perf_counter()
        wm_times.append(t1 - t0)
        beh_times.append(t2 - t1)
        full.append(t2 - t0)
    # FLOPs of one full update (matmuls and convolutions, forward + backward), counted on an eager update
    update_flop = None
    if not compile:
        from torch.utils.flop_counter import FlopCounterMode

        counter = FlopCounterMode(display=False)
        with counter:
            model.train_step(batch)
        update_flop = float(counter.get_total_flops())
    p.set_training_mode(False)
    latency = {}
    for n in (1, 16):
        state, prev = p.initial_state(n)
        obs = {k: v[:n, 0] for k, v in batch.obs.items()}
        first = th.zeros(n, dtype=th.bool, device=model.device)
        with th.no_grad(), model.autocast():
            for _ in range(5):
                p.step(state, prev, obs, first)
            sync()
            times = []
            for _ in range(50):
                t0 = time.perf_counter()
                p.step(state, prev, obs, first)
                sync()
                times.append(time.perf_counter() - t0)
        latency[f"policy_step_ms_batch{n}"] = 1000 * statistics.median(times)
    peak_gpu = th.cuda.max_memory_allocated() / 2**30 if model.device.type == "cuda" else None
    return {
        "config": config,
        "precision": precision,
        "actor_grad": actor_grad,
        "device": str(model.device),
        "compile": compile,
        "warmup_s": warmup_s,
        "batch": [batch_size, batch_length],
        "horizon": horizon,
        "params": counts,
        "update_s": statistics.median(full),
        "world_model_s": statistics.median(wm_times),
        "behavior_s": statistics.median(beh_times),
        "updates_per_s": 1.0 / statistics.median(full),
        **latency,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_gpu_gb": peak_gpu,
        "threads": th.get_num_threads(),
        "repeats": repeats,
        "update_tflop": None if update_flop is None else update_flop / 1e12,
        "tflops": None if update_flop is None else update_flop / 1e12 / statistics.median(full),
    }


RATIO_METRICS = ("update_s", "policy_step_ms_batch1", "policy_step_ms_batch16")


def _run_child(label: str, spec: str, args: argparse.Namespace) -> dict | None:
    """Run one measurement in a fresh process; prints one line and returns its result (``None`` on failure)."""
    cmd = [
        sys.executable,
        __file__,
        "--_child",
        spec,
        "--repeats",
        str(args.repeats),
        "--batch-size",
        str(args.batch_size),
        "--batch-length",
        str(args.batch_length),
        "--horizon",
        str(args.horizon),
        "--device",
        args.device,
        "--threads",
        str(args.threads),
        "--peer-size",
        args.peer_size,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    if out.returncode != 0 or not lines:
        print(f"{label} failed:\n{out.stderr[-2000:]}")
        return None
    res = json.loads(lines[0][7:])
    print(f"done {label}: {res['update_s']:.3f} s/update", flush=True)
    return res


def _run_ours(args: argparse.Namespace) -> list[dict]:
    """Every requested (config, precision, actor gradient, compile mode) of ours, each in a fresh process."""
    results = []
    for config in args.configs:
        for precision in args.precisions:
            for actor_grad in args.actor_grads:
                for mode in args.compile_modes:
                    tag = "" if mode == "eager" else "/compiled"
                    res = _run_child(
                        f"{config}/{precision}/{actor_grad}{tag}", f"{config},{precision},{actor_grad},{mode}", args
                    )
                    if res is not None:
                        results.append(res)
    return results


def available_peers(names: list[str]) -> tuple[list[str], list[dict]]:
    """The peers among ``names`` that import; prints one skip line (with how to install) for each other one."""
    found, skipped = [], []
    for name in names:
        try:
            peers.load(name)
        except ImportError as exc:
            reason = f"not installed ({exc})"
            print(f"skipping peer {name}: {reason}; install it with: {peers.INSTALL[name]}")
            skipped.append({"peer": name, "reason": reason, "install": peers.INSTALL[name]})
            continue
        found.append(name)
    return found, skipped


def peer_ratios(ours: list[dict], peer_results: list[dict]) -> list[dict]:
    """``peer / ours`` of each metric in :data:`RATIO_METRICS` for every peer row.

    Ours is our row of the peer's size (``vision`` for the ``vision`` and smoke-test ``tiny`` peer sizes,
    ``vision-L`` / ``vision-XL`` for ``L`` / ``XL``) with the peer's actor gradient, in each precision measured
    (``ratios["fp32"]``, ``ratios["bf16"]``). A ratio above 1 means ours is faster.
    """
    rows = []
    for p in peer_results:
        ratios = {}
        config = PEER_SIZE_CONFIG[p.get("size", "vision")]
        for precision in ("fp32", "bf16"):
            base = next(
                (
                    r
                    for r in ours
                    if r["config"] == config
                    and r["precision"] == precision
                    and r["actor_grad"] == p["actor_grad"]
                    and not r.get("compile")
                ),
                None,
            )
            if base is not None:
                ratios[precision] = {m: p[m] / base[m] for m in RATIO_METRICS}
        rows.append(
            {
                "peer": p["peer"],
                "version": p.get("version"),
                "size": p.get("size", "vision"),
                "precision": p["precision"],
                "actor_grad": p["actor_grad"],
                "ratios": ratios,
            }
        )
    return rows


def format_ratio_table(rows: list[dict]) -> str:
    """Markdown table of :func:`peer_ratios` rows; ``-`` where ours was not measured in that precision."""
    lines = [
        "ratio = peer / ours, ours = our row of the same size in this run (> 1: ours is faster)",
        "| peer | precision | actor grad | s/update ÷ ours fp32 | ÷ ours bf16 | policy step b=1 ÷ ours fp32 "
        "| ÷ ours bf16 | policy step b=16 ÷ ours fp32 | ÷ ours bf16 |",
        "|" + "---|" * 9,
    ]

    def cell(row: dict, precision: str, metric: str) -> str:
        ratio = row["ratios"].get(precision, {}).get(metric)
        return "-" if ratio is None else f"{ratio:.2f}x"

    for size in sorted({r["size"] for r in rows} & {"tiny"}):
        lines.insert(0, f"peer size {size!r} is for smoke tests: these ratios compare different model sizes")
    for r in rows:
        cells = [cell(r, precision, m) for m in RATIO_METRICS for precision in ("fp32", "bf16")]
        lines.append(f"| {r['peer']} | {r['precision']} | {r['actor_grad']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def format_param_table(ours: list[dict], peer_results: list[dict]) -> str:
    """Parameter counts of our models (one row per image config) and of every peer, one row per implementation."""
    lines = ["| implementation | world model | actor | critic |", "|---|---|---|---|"]
    rows = []
    for config in dict.fromkeys(r["config"] for r in ours if r["config"] != "tiny"):
        rows.append((f"ours ({config})", next(r for r in ours if r["config"] == config)))
    seen = set()
    for p in peer_results:
        if p["peer"] not in seen:
            seen.add(p["peer"])
            rows.append((p.get("version") or p["peer"], p))
    for label, r in rows:
        c = r["params"]
        lines.append(f"| {label} | {c['world_model']:,} | {c['actor']:,} | {c['critic']:,} |")
    return "\n".join(lines)


def _config_label(r: dict) -> str:
    """``vision``, ``vision compiled``, or a peer's name."""
    return r.get("config", r.get("peer", "?")) + (" compiled" if r.get("compile") else "")


def format_flops_table(results: list[dict], peak_tflops: float | None = None) -> str:
    """Work per update and the arithmetic rate achieved (and its share of ``peak_tflops`` when given)."""
    lines = [
        "\n| config | precision | TFLOP / update | achieved TFLOP/s | of peak | peak GPU memory GB |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        rate = r.get("tflops")
        share = "-" if rate is None or not peak_tflops else f"{100 * rate / peak_tflops:.1f}%"
        lines.append(
            f"| {_config_label(r)} | {r['precision']} | {_fmt(r.get('update_tflop'), '.3f')} "
            f"| {_fmt(rate, '.2f')} | {share} | {_fmt(r.get('peak_gpu_gb'), '.2f')} |"
        )
    return "\n".join(lines)


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def print_peer_report(header: str, ours: list[dict], peer_results: list[dict], ratios: list[dict]) -> None:
    """The peers' rows (as ours), every implementation's parameter counts, the peers' notes and the ratios."""
    print("\npeers (same batch, horizon, threads and timing; world model / behaviour '-' where not separable):")
    print(header)
    print("|" + "---|" * 11)
    for r in peer_results:
        print(
            f"| {_config_label(r)} | {r['precision']} | {r['actor_grad']} | {r['params']['world_model'] / 1e6:.2f}M "
            f"| {r['update_s']:.3f} | {_fmt(r['world_model_s'])} | {_fmt(r['behavior_s'])} "
            f"| {r['updates_per_s']:.2f} | {r['policy_step_ms_batch1']:.2f} | {r['policy_step_ms_batch16']:.2f} "
            f"| {r['peak_rss_gb']:.2f} |"
        )
    print("\nparameters:")
    print(format_param_table(ours, peer_results))
    for note in dict.fromkeys(n for r in peer_results for n in r["notes"]):
        print(f"note: {note}")
    print()
    print(format_ratio_table(ratios))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--configs", nargs="+", default=DEFAULT_CONFIGS, choices=list(CONFIGS))
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--actor-grads", nargs="+", default=["reinforce"], choices=["reinforce", "dynamics"])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--batch-length", type=int, default=64)
    parser.add_argument("--horizon", type=int, default=15)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch's default)")
    parser.add_argument("--output", default=os.path.join(os.path.dirname(__file__), "results"))
    parser.add_argument(
        "--peers",
        nargs="+",
        default=[],
        choices=list(peers.REGISTRY),
        help="also time these libraries' own DreamerV3 at the vision sizes (if installed)",
    )
    parser.add_argument(
        "--peer-precisions",
        nargs="+",
        default=["fp32"],
        choices=["fp32", "bf16"],
        help="precisions of the peers (torchrl: bf16 on CUDA only)",
    )
    parser.add_argument(
        "--peer-size",
        default="vision",
        choices=list(peers.SIZES),
        help="peer sizes; 'tiny' is only for smoke-testing the adapters",
    )
    parser.add_argument(
        "--compile-modes",
        nargs="+",
        default=["eager"],
        choices=["eager", "compiled"],
        help="ours eager and/or with compile=True (torch.compile of the network blocks)",
    )
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the device's peak rate (e.g. 989 for an H100 SXM's dense bf16) to print the share achieved",
    )
    parser.add_argument("--_child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._child:
        if args.threads > 0:
            import torch

            torch.set_num_threads(args.threads)
        if args._child.startswith("peer:"):
            name, precision, actor_grad = args._child[len("peer:") :].split(",")
            result = peers.measure(
                name,
                precision,
                actor_grad,
                args.repeats,
                args.batch_size,
                args.batch_length,
                args.horizon,
                args.device,
                args.peer_size,
            )
        else:
            config, precision, actor_grad, mode = args._child.split(",")
            result = measure(
                config,
                precision,
                actor_grad,
                args.repeats,
                args.batch_size,
                args.batch_length,
                args.horizon,
                args.device,
                compile=mode == "compiled",
            )
        print("RESULT " + json.dumps(result))
        return

    peer_names, skipped = available_peers(args.peers)
    results = _run_ours(args)
    peer_results = []
    for name in peer_names:
        for precision in args.peer_precisions:
            reason = peers.unsupported(name, precision, args.device)
            if reason:
                print(f"skipping peer {name}/{precision}: {reason}")
                skipped.append({"peer": name, "precision": precision, "reason": reason})
                continue
            for actor_grad in args.actor_grads:
                res = _run_child(f"peer {name}/{precision}/{actor_grad}", f"peer:{name},{precision},{actor_grad}", args)
                if res is not None:
                    peer_results.append(res)

    header = (
        "| config | precision | actor grad | WM params | s/update | world model s | behaviour s | updates/s "
        "| policy step ms (b=1) | (b=16) | peak RSS GB |"
    )
    print(header)
    print("|" + "---|" * 11)
    for r in results:
        print(
            f"| {_config_label(r)} | {r['precision']} | {r['actor_grad']} | {r['params']['world_model'] / 1e6:.2f}M "
            f"| {r['update_s']:.3f} | {r['world_model_s']:.3f} | {r['behavior_s']:.3f} | {r['updates_per_s']:.2f} "
            f"| {r['policy_step_ms_batch1']:.2f} | {r['policy_step_ms_batch16']:.2f} | {r['peak_rss_gb']:.2f} |"
        )
    print(format_flops_table(results, args.peak_tflops))
    ratios = peer_ratios(results, peer_results)
    if args.peers:
        print_peer_report(header, results, peer_results, ratios)
    os.makedirs(args.output, exist_ok=True)
    meta = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
    }
    try:
        import torch

        meta["torch"] = torch.__version__
        if args.device.startswith("cuda"):
            meta["gpu"] = torch.cuda.get_device_name()
    except ImportError:  # pragma: no cover
        pass
    with open(os.path.join(args.output, "throughput.json"), "w") as f:
        out = {"meta": meta, "results": results}
        if args.peers:
            out.update(peers=peer_results, peer_ratios=ratios, peers_skipped=skipped, peer_size=args.peer_size)
        json.dump(out, f, indent=1)
    if results:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        labels = [f"{_config_label(r)}\n{r['precision']}\n{r['actor_grad']}" for r in results]
        fig, ax = plt.subplots(figsize=(1.6 * len(results) + 2, 4))
        ax.bar(labels, [r["world_model_s"] for r in results], label="world model")
        ax.bar(labels, [r["behavior_s"] for r in results], bottom=[r["world_model_s"] for r in results], label="actor-critic")
        ax.set_ylabel("seconds per update")
        ax.legend()
        fig.tight_layout()
        fig.savefig(os.path.join(args.output, "throughput.png"), dpi=100)


if __name__ == "__main__":
    main()
