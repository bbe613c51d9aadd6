"""Env-worker crashes in SB3's ``SubprocVecEnv``: surface the worker's exception, never hang.

SB3's behaviour (2.9): when ``env.step`` or ``env.reset`` raises inside a ``SubprocVecEnv`` worker,
the worker process prints the traceback on its stderr and exits; the parent only sees a bare
``EOFError`` from the pipe, and a later ``close()`` waits forever for an answer from workers that
already answered (PPO behaves the same).

Our workaround, used by ``DreamerAlgorithm.learn``:

1. :func:`install_crash_capture` asks every worker (through ``env_method``, once per ``learn``) to
   also write the traceback of an exception that kills it to a small file;
2. :meth:`StepCrashGuard.step` waits for the workers' answers while checking they are alive (with
   ``start_method="fork"`` a dead worker's pipe stays open in its siblings, and SB3 would block
   forever), and :class:`StepCrashGuard` turns the ``EOFError`` / ``BrokenPipeError`` into a
   :class:`WorkerCrashError` that names the worker, its exit code and carries the worker's
   traceback, after closing the VecEnv with a timeout (live workers are told to close, then
   terminated, so nothing hangs).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from stable_baselines3.common.vec_env import SubprocVecEnv, VecEnv, VecEnvWrapper

#: pipe errors the parent sees when a worker died
PIPE_ERRORS = (EOFError, BrokenPipeError, ConnectionResetError)


class WorkerCrashError(RuntimeError):
    """A ``SubprocVecEnv`` worker died; the message holds its exception and traceback when they could be captured."""


def _write_tracebacks_to(path: str) -> str:
    """Runs inside a worker (when it unpickles :class:`_CaptureRequest`): from now on, the traceback of an exception
    that ends the worker process is also written to ``path``. Returns a harmless attribute name."""
    original = getattr(traceback.print_exc, "_dreamer_original", traceback.print_exc)

    def print_exc(*args: Any, **kwargs: Any) -> None:
        with contextlib.suppress(OSError), open(path, "w") as f:
            f.write(traceback.format_exc())
        original(*args, **kwargs)

    print_exc._dreamer_original = original  # type: ignore[attr-defined]
    traceback.print_exc = print_exc  # multiprocessing's process bootstrap reports a crash with traceback.print_exc()
    return "spec"


class _CaptureRequest:
    """Pickled to a worker as an ``env_method`` argument; unpickling it there installs the capture."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Callable[[str], str], tuple[str]]:
        return _write_tracebacks_to, (self.path,)


def subproc_of(env: VecEnv | None) -> SubprocVecEnv | None:
    """The ``SubprocVecEnv`` under any VecEnv wrappers, if there is one."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    return env if isinstance(env, SubprocVecEnv) else None


def install_crash_capture(env: VecEnv | None) -> str | None:
    """Ask each worker of the ``SubprocVecEnv`` under ``env`` to write a crash's traceback to a file of a fresh folder.

    :return: the folder (``worker_<i>.txt`` per worker), or ``None`` when ``env`` has no ``SubprocVecEnv``
    """
    sub = subproc_of(env)
    if sub is None or sub.closed:
        return None
    folder = tempfile.mkdtemp(prefix="dreamer_sb3_workers_")
    for i in range(sub.num_envs):
        try:
            sub.env_method("has_wrapper_attr", _CaptureRequest(os.path.join(folder, f"worker_{i}.txt")), indices=[i])
        except Exception:  # a worker that cannot take the request (old gymnasium, custom worker): no capture there
            continue
    return folder


def close_without_hanging(sub: SubprocVecEnv, timeout: float = 5.0) -> None:
    """Close a ``SubprocVecEnv`` whose workers may be dead: tell live ones to close, wait ``timeout``, terminate the rest."""
    sub.waiting = False
    for remote, process in zip(sub.remotes, sub.processes):
        if process.is_alive():
            with contextlib.suppress(*PIPE_ERRORS, OSError):
                # drain an answer the worker may still owe, then ask it to close
                while remote.poll(0):
                    remote.recv()
                remote.send(("close", None))
    deadline = time.monotonic() + timeout
    for process in sub.processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.terminate()
            process.join(1.0)
        if process.is_alive():
            process.kill()
            process.join(1.0)
    for remote in sub.remotes:
        with contextlib.suppress(OSError):
            remote.close()
    sub.closed = True


class StepCrashGuard:
    """Turns a dead ``SubprocVecEnv`` worker into a :class:`WorkerCrashError` with the worker's traceback.

    :param env: the algorithm's VecEnv (any wrappers around a ``SubprocVecEnv``; other VecEnvs pass through)
    :param close_timeout: seconds live workers get to close before they are terminated
    """

    def __init__(self, env: VecEnv | None, close_timeout: float = 5.0) -> None:
        self.env = env
        self.close_timeout = close_timeout
        self.folder = install_crash_capture(env)

    def step(self, env: VecEnv, actions: Any) -> Any:
        """``env.step(actions)``; on a ``SubprocVecEnv`` it waits for each worker's answer while checking that the
        worker is alive, so a worker that died without closing its pipe (``start_method="fork"``: the other workers
        inherited its end) raises instead of blocking forever."""
        sub = subproc_of(env)
        if sub is None:
            return env.step(actions)
        env.step_async(actions)
        for remote, process in zip(sub.remotes, sub.processes):
            while not remote.poll(0.05):
                if not process.is_alive():
                    if remote.poll(0):  # it answered before exiting
                        break
                    raise EOFError(f"SubprocVecEnv worker (pid {process.pid}) exited during step()")
        return env.step_wait()

    @contextlib.contextmanager
    def watch(self, step: Callable[[], int]) -> Iterator[None]:
        """Run the block; a pipe error from a dead worker becomes a :class:`WorkerCrashError` (``step()`` names when)."""
        try:
            yield
        except PIPE_ERRORS as e:
            sub = subproc_of(self.env)
            if sub is None:
                raise
            raise self._crash_error(sub, step()) from e

    def _crash_error(self, sub: SubprocVecEnv, step: int) -> WorkerCrashError:
        for process in sub.processes:  # a dying worker may need a moment to exit and write its traceback
            process.join(0.5 if process.is_alive() else 0)
        dead = [(i, p) for i, p in enumerate(sub.processes) if not p.is_alive()]
        reports: list[str] = []
        for i, process in dead:
            tb = ""
            if self.folder is not None:
                with contextlib.suppress(OSError), open(os.path.join(self.folder, f"worker_{i}.txt")) as f:
                    tb = f.read().strip()
            head = f"worker {i} (pid {process.pid}) exited with code {process.exitcode}"
            reports.append(
                f"{head}; its traceback:\n{tb}" if tb else f"{head}; its traceback was printed on stderr (not captured)"
            )
        close_without_hanging(sub, self.close_timeout)
        self.cleanup()
        detail = "\n".join(reports) if reports else "no worker had exited yet (the pipe broke)"
        return WorkerCrashError(
            f"A SubprocVecEnv worker died at num_timesteps={step}; the VecEnv has been closed. {detail}\n"
            "Fix the env's error above (it happened inside the env, not in the agent); SB3 alone would report a bare "
            "EOFError and hang in close(). Rebuild the VecEnv (model.set_env(...)) to continue training."
        )

    def cleanup(self) -> None:
        """Remove the capture folder."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            if sys is not None:
                self.cleanup()
