"""Other libraries' DreamerV3 implementations, timed next to ours by ``throughput.py --peers``.

Every adapter module builds its library's own DreamerV3 at the sizes of our ``vision`` configuration
(64x64x3 images, 6-dim Box action in [-1, 1], deter 512, hidden 512, MLP units 512 in 2 layers,
CNN depth 32, 32x32 categorical latents, 255-bin two-hot reward and critic heads) through the
installed package, feeds it the same synthetic batch as ours and returns a :class:`PeerHandle`.
:func:`measure` times every handle the way ``throughput.measure`` times ours.

Adapters import their library at module level: a peer that is not installed raises
:class:`ImportError` from :func:`load`, which ``throughput.py`` turns into one skip line.
"""

from __future__ import annotations

import importlib
import resource
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol

from dreamer_sb3.common.sizes import MODEL_SIZES

#: peer name -> adapter module (imported with :func:`importlib.import_module`)
REGISTRY: dict[str, str] = {
    "torchrl": f"{__name__}.torchrl_v3",
    "sheeprl": f"{__name__}.sheeprl_v3",
}

_PIN = "python -c \"import torch; print('torch==' + torch.__version__)\" > torch-pin.txt && "
#: how to install each peer without pip replacing the installed (e.g. CPU-only) torch
INSTALL: dict[str, str] = {
    "torchrl": _PIN + "pip install torchrl==0.14.1 tensordict==0.14.3 -c torch-pin.txt",
    "sheeprl": _PIN + "pip install sheeprl==0.8.4 -c torch-pin.txt",
}

#: bins of the two-hot reward and critic heads (DreamerV3's 255, the same at every size)
BINS = 255


def _ours(model_size: str) -> dict[str, int]:
    """Our model size ``model_size`` (:data:`dreamer_sb3.common.sizes.MODEL_SIZES`) with the heads' bins."""
    return {**MODEL_SIZES[model_size], "bins": BINS}


#: architecture sizes; ``vision`` is our ``vision`` config (model size ``S``), ``tiny`` is for smoke tests only
SIZES: dict[str, dict[str, int]] = {
    "vision": _ours("S"),
    "tiny": dict(deter=32, hidden=32, units=32, layers=1, cnn_depth=4, stoch=4, classes=4, bins=BINS),
    # the DreamerV3 paper's L and XL (ours: model_size "L" / "XL", configs vision-L / vision-XL)
    "L": _ours("L"),
    "XL": _ours("XL"),
}
IMAGE_SHAPE = (3, 64, 64)  # channels first, as both peers store images
ACTION_DIM = 6
ACTING_STEPS = (5, 50)  # warm-up and timed policy steps, as ``throughput.measure``


@dataclass
class Setup:
    """What an adapter builds: the benchmark's batch, device, precision and sizes."""

    batch_size: int
    batch_length: int
    horizon: int
    device: str
    precision: str  # "fp32" or "bf16"
    actor_grad: str  # "reinforce" or "dynamics"
    size: dict[str, int]
    seed: int = 0


class PeerHandle(Protocol):
    """One built peer agent with its optimisers and a synthetic batch on the device."""

    version: str
    notes: list[str]

    def param_counts(self) -> dict[str, int]:
        """Parameter counts of ``world_model``, ``actor`` and ``critic``."""
        ...

    def update(self, sync: Callable[[], None]) -> tuple[float | None, float | None]:
        """One full training update; returns the world-model and behaviour seconds when separable."""
        ...

    def policy_step(self, n: int) -> Callable[[], Any]:
        """A closure doing one acting step at batch ``n`` (encode, posterior step, actor sample)."""
        ...


def load(name: str) -> ModuleType:
    """The adapter module of peer ``name``; raises :class:`ImportError` when the peer is not installed."""
    return importlib.import_module(REGISTRY[name])


def unsupported(name: str, precision: str, device: str) -> str | None:
    """Why peer ``name`` cannot run ``precision`` on ``device`` (its adapter's ``unsupported``), or ``None``."""
    check = getattr(load(name), "unsupported", None)
    return check(precision, device) if check is not None else None


def make_synthetic_batch(setup: Setup) -> dict[str, Any]:
    """The batch ``throughput._synthetic_batch`` feeds ours, as numpy arrays ``[batch, time, ...]``.

    Same generator and seed: random uint8 images, actions uniform in [-1, 1], normal rewards and
    about 1% ``is_first`` / ``is_terminal``.
    """
    import numpy as np

    rng = np.random.default_rng(setup.seed)
    b, t = setup.batch_size, setup.batch_length
    return {
        "image": rng.integers(0, 256, (b, t, *IMAGE_SHAPE), dtype=np.uint8),
        "action": rng.uniform(-1, 1, (b, t, ACTION_DIM)).astype(np.float32),
        "reward": rng.normal(size=(b, t)).astype(np.float32),
        "is_first": rng.random((b, t)) < 0.01,
        "is_terminal": rng.random((b, t)) < 0.01,
    }


def first_frames(images: Any, n: int) -> Any:
    """``n`` observations for a policy step: the first frame of each sequence (cycled when ``n`` > batch)."""
    import torch as th

    first = images[:, 0]
    return first[th.arange(n, device=first.device) % first.shape[0]]


def count(module: Any) -> int:
    """Number of parameters of a ``torch.nn.Module`` (each shared tensor once)."""
    return sum(p.numel() for p in {id(p): p for p in module.parameters()}.values())


def measure(
    name: str,
    precision: str,
    actor_grad: str,
    repeats: int,
    batch_size: int,
    batch_length: int,
    horizon: int,
    device: str,
    size: str = "vision",
) -> dict:
    """Time peer ``name`` like ``throughput.measure`` times ours (run it in a fresh process).

    Median of ``repeats`` full updates after 2 warm-up updates; median policy-step latency at
    batch 1 and 16 over 50 steps after 5 warm-up steps, under ``no_grad``; peak RSS of the process.
    """
    import torch as th

    module = load(name)
    th.manual_seed(0)
    setup = Setup(batch_size, batch_length, horizon, device, precision, actor_grad, dict(SIZES[size]))
    handle: PeerHandle = module.build(setup)
    dev = th.device(device)

    def sync() -> None:
        if dev.type == "cuda":
            th.cuda.synchronize()

    counts = handle.param_counts()
    for _ in range(2):  # warm-up
        handle.update(sync)
    sync()
    full, wm_times, beh_times = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        wm, beh = handle.update(sync)
        sync()
        full.append(time.perf_counter() - t0)
        if wm is not None and beh is not None:
            wm_times.append(wm)
            beh_times.append(beh)
    latency = {}
    warm, timed = ACTING_STEPS
    for n in (1, 16):
        step = handle.policy_step(n)
        with th.no_grad():
            for _ in range(warm):
                step()
            sync()
            times = []
            for _ in range(timed):
                t0 = time.perf_counter()
                step()
                sync()
                times.append(time.perf_counter() - t0)
        latency[f"policy_step_ms_batch{n}"] = 1000 * statistics.median(times)
    peak_gpu = th.cuda.max_memory_allocated() / 2**30 if dev.type == "cuda" else None
    return {
        "config": f"peer:{name}",
        "peer": name,
        "version": handle.version,
        "size": size,
        "precision": precision,
        "actor_grad": actor_grad,
        "device": str(dev),
        "batch": [batch_size, batch_length],
        "horizon": horizon,
        "params": counts,
        "update_s": statistics.median(full),
        "world_model_s": statistics.median(wm_times) if wm_times else None,
        "behavior_s": statistics.median(beh_times) if beh_times else None,
        "updates_per_s": 1.0 / statistics.median(full),
        **latency,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "peak_gpu_gb": peak_gpu,
        "threads": th.get_num_threads(),
        "repeats": repeats,
        "notes": list(handle.notes),
    }
