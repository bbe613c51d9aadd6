"""Data-parallel training on ``torch.distributed``: one process per rank, launched by ``torchrun``.

Every rank runs the same :meth:`DreamerAlgorithm.learn` with its own VecEnv and its own replay;
the networks are the same on every rank because

- rank 0's parameters and buffers are broadcast to all ranks when ``learn()`` starts, and
- every optimiser step averages the gradients over the ranks (one ``all_reduce`` of the flattened
  gradients, before clipping), so every rank takes the same step from the same optimiser state.

Decisions that must agree across ranks (whether to stop, whether the replays can be sampled) go
through :meth:`Ranks.any`. Nothing here runs at import time; a process group is created only by
:func:`setup` (with a timeout on collectives, so a dead or stuck peer raises instead of hanging).
See ``docs/distributed.md``.
"""

from __future__ import annotations

import datetime
import os
import pathlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch as th
import torch.distributed as dist
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.type_aliases import MaybeCallback

if TYPE_CHECKING:
    from dreamer_sb3.common.base import DreamerAlgorithm

#: environment variable overriding the collective timeout (seconds) of a process group created here
TIMEOUT_ENV = "DREAMER_SB3_DIST_TIMEOUT"
#: default collective timeout in seconds: long enough for rank 0's evaluations and checkpoints
#: (the other ranks wait in their next collective meanwhile), short enough that a stuck peer ends the run
DEFAULT_TIMEOUT_S = 600.0
_CPU = th.device("cpu")


def _env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def launched(mode: bool | None = None) -> bool:
    """Whether this process is one rank of a data-parallel run.

    :param mode: ``None`` (auto: a process group is initialised, or ``torchrun``'s ``WORLD_SIZE`` is above 1),
        ``True`` (required: error when neither holds) or ``False`` (never)
    """
    if mode is False:
        return False
    found = (dist.is_available() and dist.is_initialized()) or _env_world_size() > 1
    if mode is True and not found:
        raise RuntimeError(
            "distributed=True but this process is not part of a data-parallel run: launch it with "
            "`torchrun --nproc_per_node N script.py` (which sets WORLD_SIZE and RANK), or initialise "
            "torch.distributed yourself before calling learn(); or pass distributed=None / False"
        )
    return found


def rank_of(mode: bool | None = None) -> int:
    """This process's global rank (0 outside a data-parallel run); needs no collective."""
    if not launched(mode):
        return 0
    if dist.is_initialized():
        return dist.get_rank()
    return int(os.environ.get("RANK", "0"))


def rank_device(device: th.device, mode: bool | None = None) -> th.device:
    """The CUDA device of this rank (``cuda:LOCAL_RANK``) when ``device`` is CUDA without an index under a
    launcher that sets ``LOCAL_RANK``; otherwise ``device`` unchanged."""
    if device.type != "cuda" or not launched(mode) or "LOCAL_RANK" not in os.environ:
        return device
    local = int(os.environ["LOCAL_RANK"])
    if device.index not in (None, 0) and device.index != local:
        return device  # an explicit choice of the user
    if local >= th.cuda.device_count():
        raise RuntimeError(
            f"LOCAL_RANK={local} but this machine has {th.cuda.device_count()} CUDA devices: launch at most "
            "that many processes per node (torchrun --nproc_per_node)"
        )
    return th.device("cuda", local)


def rank_path(path: str | pathlib.Path, rank: int) -> pathlib.Path:
    """The file of rank ``rank`` for a per-rank artefact named ``path``: ``path`` itself on rank 0,
    ``<stem>.rank<r><suffix>`` beside it on rank ``r > 0`` (``replay.pkl`` -> ``replay.rank1.pkl``)."""
    path = pathlib.Path(path)
    if rank == 0:
        return path
    return path.with_name(f"{path.stem}.rank{rank}{path.suffix}")


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a data-parallel run, and the collectives the algorithm uses.

    With ``world_size == 1`` every method is a no-op (and no process group is needed).

    :param rank: global rank
    :param world_size: number of ranks
    :param device: where the small tensors of :meth:`any` and :meth:`check_same` live (CUDA for NCCL)
    """

    rank: int = 0
    world_size: int = 1
    device: th.device = _CPU

    @property
    def enabled(self) -> bool:
        """Whether there are other ranks to agree with."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the rank that logs, saves and runs callbacks."""
        return self.rank == 0

    def average_gradients(self, params: Iterable[th.nn.Parameter]) -> None:
        """Replace each parameter's gradient by its mean over the ranks (one ``all_reduce`` of the flattened
        gradients). Parameters without a gradient are left alone (the same on every rank: same graph)."""
        if not self.enabled:
            return
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            return
        flat = th.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat.div_(self.world_size)
        for g, avg in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(avg.view_as(g))

    def broadcast_module(self, module: th.nn.Module) -> None:
        """Copy rank 0's parameters and buffers into ``module`` on every rank."""
        if not self.enabled:
            return
        with th.no_grad():
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=0)

    def gather(self, x: th.Tensor) -> th.Tensor:
        """``x`` of every rank concatenated along dim 0, rank 0's first (same shape on every rank)."""
        if not self.enabled:
            return x
        parts = [th.empty_like(x) for _ in range(self.world_size)]
        dist.all_gather(parts, x.contiguous())
        return th.cat(parts, dim=0)

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on at least one rank (every rank gets the same answer)."""
        if not self.enabled:
            return flag
        t = th.tensor([int(flag)], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())

    def check_same(self, name: str, value: int) -> None:
        """Raise on every rank when ``value`` differs between ranks (e.g. the number of envs)."""
        if not self.enabled:
            return
        t = th.tensor([value, -value], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        hi, lo = int(t[0]), -int(t[1])
        if hi != lo:
            raise ValueError(
                f"{name} differs between ranks (from {lo} to {hi}; this rank {self.rank}: {value}): every rank "
                f"must use the same {name}"
            )


SINGLE = Ranks()


def _attempt_store(timeout: datetime.timedelta) -> dict:
    """Under torchrun, a store whose keys are private to this attempt (``TORCHELASTIC_RESTART_COUNT``).

    After an elastic restart, torchrun's store still holds the previous attempt's keys, and gloo then connects
    to the dead workers' addresses (``Gloo connectFullMesh failed ... Connection refused``, torch 2.13); a
    prefix per attempt keeps the attempts apart. Outside torchrun: ``{}`` (``env://`` as usual).
    """
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if attempt is None:
        return {}
    rank, world_size = int(os.environ["RANK"]), _env_world_size()
    agent_store = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"  # the agent hosts the store server
    store = dist.TCPStore(
        host_name=os.environ["MASTER_ADDR"],
        port=int(os.environ["MASTER_PORT"]),
        world_size=world_size,
        is_master=not agent_store and rank == 0,
        timeout=timeout,
        multi_tenant=not agent_store,
    )
    return {"store": dist.PrefixStore(f"dreamer_sb3/attempt_{attempt}", store), "rank": rank, "world_size": world_size}


def setup(mode: bool | None, device: th.device, timeout_s: float | None = None) -> Ranks:
    """The :class:`Ranks` of this process; creates the default process group when ``torchrun`` launched us
    and nobody has initialised it yet (backend ``nccl`` on CUDA, ``gloo`` on CPU).

    :param mode: see :func:`launched`
    :param device: the algorithm's device (picks the backend)
    :param timeout_s: collective timeout of a group created here (default: ``$DREAMER_SB3_DIST_TIMEOUT`` or
        :data:`DEFAULT_TIMEOUT_S`); a collective waiting longer for a peer raises instead of hanging
    """
    if not launched(mode):
        return SINGLE
    if not dist.is_available():  # pragma: no cover - every official torch build has it
        raise RuntimeError("torch.distributed is not available in this torch build")
    if not dist.is_initialized():
        missing = [k for k in ("RANK", "MASTER_ADDR", "MASTER_PORT") if k not in os.environ]
        if missing:
            raise RuntimeError(
                f"WORLD_SIZE={_env_world_size()} is set but {', '.join(missing)} is not: launch with torchrun, which sets "
                "all of them, or initialise torch.distributed yourself"
            )
        seconds = float(os.environ.get(TIMEOUT_ENV, DEFAULT_TIMEOUT_S)) if timeout_s is None else timeout_s
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            th.cuda.set_device(device)
        timeout = datetime.timedelta(seconds=seconds)
        dist.init_process_group(backend=backend, timeout=timeout, **_attempt_store(timeout))
    backend_name = dist.get_backend()
    if device.type == "cuda" and backend_name == "gloo":
        raise RuntimeError("The process group uses gloo but the model is on CUDA: initialise it with backend='nccl'")
    if device.type == "cpu" and backend_name == "nccl":
        raise RuntimeError("The process group uses nccl but the model is on the CPU: use backend='gloo' or a CUDA device")
    return Ranks(rank=dist.get_rank(), world_size=dist.get_world_size(), device=device)


def join_learn(algo: DreamerAlgorithm, callback: MaybeCallback, progress_bar: bool) -> tuple[MaybeCallback, bool]:
    """What ``learn()`` does first on every rank of a data-parallel run: check that the ranks agree on the
    number of envs, copy rank 0's networks to every rank, and silence ranks ``> 0`` (no logger output, no
    callbacks, no progress bar; rank 0's callbacks stop every rank).

    :return: the callback and progress-bar flag this rank passes on to SB3's ``_setup_learn``
    """
    ranks: Ranks = algo._ranks
    ranks.check_same("n_envs", algo.n_envs)
    ranks.broadcast_module(algo.policy)
    if ranks.is_main:
        return callback, progress_bar
    algo.set_logger(Logger(folder=None, output_formats=[]))
    return None, False
