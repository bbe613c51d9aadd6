"""Sequence replay for world-model learning.

Each env has its own ring of time steps (so frames are stored once, however many sequences
they belong to). A step holds the observation, the *previous* action (the one that led to this
observation), the reward received on arrival, and ``is_first`` / ``is_terminal`` flags. Two ways to sample:

- ``within_episodes=False`` (default, DreamerV3's): uniformly over every stored window of ``length``
  consecutive steps of one env, regardless of episode boundaries; ``is_first`` tells the RSSM where to
  reset inside a window;
- ``within_episodes=True`` (DreamerV2's replay): an episode chosen uniformly among those with at least
  ``length`` stored steps (the running one included), then a window inside it, its start uniform or, with
  ``prioritize_ends``, ``min(U{0, n - length + length}, n - length)`` so that the episode's last window also
  takes the ``length`` draws past its end (V2's ``prioritize_ends``).

Replay context (DreamerV3's current official code, ``replay_context``): with ``latent_dim > 0`` every step can also
hold a model latent (float16, the flattened ``(deter, stoch)`` of the RSSM): the acting latent when the step was
collected, then the posterior of the latest update that replayed it (:meth:`SequenceReplay.update_latents`).
``sample(..., context=K)`` draws windows of ``K + length`` steps and returns the last ``length`` with the stored
latent of the step before them as ``context``, the state a replayed window starts from in place of a fresh one.

Online queue (DreamerV3's current official code, ``replay.online``): with ``online_length = L > 0``, every ``L``-th
step an env adds queues the window of the ``L`` steps that end there, and a batch of windows of ``L`` steps takes
its rows from that queue first (each queued window once, oldest first; one overwritten since is dropped), the rest
uniformly. Every stretch of fresh experience is so trained on soon after it arrives, besides the uniform draws.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pathlib
import warnings
import zipfile
from typing import Any, NamedTuple

import numpy as np
import torch as th

FORMAT_VERSION = 1


class SequenceBatch(NamedTuple):
    """A batch of replayed windows, ``(B, T, ...)``: numpy arrays from :meth:`SequenceReplay.sample`,
    tensors after :meth:`to_torch`. The flags stay bool; losses convert them where they compute."""

    obs: dict[str, Any]  #: observation arrays by key (``"obs"`` for non-dict spaces)
    action: Any  #: ``(B, T, A)`` the action that led to each step (zeros on ``is_first``)
    reward: Any  #: ``(B, T)`` the reward received on arriving at each step
    is_first: Any  #: ``(B, T)`` bool: the step starts an episode
    is_terminal: Any  #: ``(B, T)`` bool: the episode terminated at this step (not truncated)
    #: ``(B, D)`` stored latent of the step before the window (``sample(..., context=K)``), else ``None``
    context: Any = None
    #: ``(B,)`` bool: that step holds a latent (else the window starts from the initial state)
    has_context: Any = None
    #: numpy ``(env (B, 1), step (B, T))`` of the window's steps in the replay (where posteriors are written back)
    index: Any = None

    def to_torch(self, device: th.device | str) -> SequenceBatch:
        """The batch as tensors on ``device`` (pinned, non-blocking copies on CUDA)."""
        cuda = th.device(device).type == "cuda"

        def conv(x: np.ndarray) -> th.Tensor:
            t = th.from_numpy(np.ascontiguousarray(x))
            if cuda:
                t = t.pin_memory()
            return t.to(device, non_blocking=cuda)

        return SequenceBatch(
            obs={k: conv(v) for k, v in self.obs.items()},
            action=conv(self.action),
            reward=conv(self.reward),
            is_first=conv(self.is_first),
            is_terminal=conv(self.is_terminal),
            context=None if self.context is None else conv(self.context),
            has_context=None if self.has_context is None else conv(self.has_context),
            index=self.index,
        )


class SequenceReplay:
    """Ring buffers of time steps for ``n_envs`` envs with uniform sub-sequence sampling.

    :param capacity: total number of steps kept (split evenly over envs)
    :param n_envs: number of parallel envs
    :param obs_shapes: ``{key: (shape, dtype)}`` of the (dict) observation
    :param action_dim: size of the model-space action vector
    :param seed: seed of the sampling RNG
    :param latent_dim: size of the model latent stored per step for replay context (0: none stored)
    :param online_length: window length of the online queue (``0``: no queue; see the module docstring)
    """

    def __init__(
        self,
        capacity: int,
        n_envs: int,
        obs_shapes: dict[str, tuple[tuple[int, ...], np.dtype]],
        action_dim: int,
        seed: int | None = None,
        latent_dim: int = 0,
        online_length: int = 0,
    ) -> None:
        if capacity < n_envs:
            raise ValueError(f"Replay capacity ({capacity}) must be at least the number of envs ({n_envs})")
        self.n_envs = n_envs
        self.capacity_per_env = int(np.ceil(capacity / n_envs))
        self.obs_shapes = {k: (tuple(s), np.dtype(d)) for k, (s, d) in obs_shapes.items()}
        self.action_dim = action_dim
        cap = self.capacity_per_env
        # np.zeros maps pages lazily: untouched capacity costs no memory.
        self.obs = {k: np.zeros((n_envs, cap, *s), dtype=d) for k, (s, d) in self.obs_shapes.items()}
        self.action = np.zeros((n_envs, cap, action_dim), dtype=np.float32)
        self.reward = np.zeros((n_envs, cap), dtype=np.float32)
        self.is_first = np.zeros((n_envs, cap), dtype=bool)
        self.is_terminal = np.zeros((n_envs, cap), dtype=bool)
        self.latent_dim = int(latent_dim)
        self.latent = np.zeros((n_envs, cap, self.latent_dim), dtype=np.float16)
        self.has_latent = np.zeros((n_envs, cap), dtype=bool)
        self.pos = np.zeros(n_envs, dtype=np.int64)
        self.full = np.zeros(n_envs, dtype=bool)
        self.rng = np.random.default_rng(seed)
        if online_length < 0:
            raise ValueError(f"online_length must be 0 (no online queue) or a window length, got {online_length}")
        self.online_length = int(online_length)
        self.added = np.zeros(n_envs, dtype=np.int64)  # steps ever added per env (the step's index is its count)
        #: queued fresh windows: (env, index of the window's last step among the env's steps ever added)
        self.online_queue: collections.deque[tuple[int, int]] = collections.deque()

    @staticmethod
    def required_bytes(
        capacity: int, obs_shapes: dict[str, tuple[tuple[int, ...], np.dtype]], action_dim: int, latent_dim: int = 0
    ) -> int:
        """Bytes a full buffer of ``capacity`` steps occupies (observations, action, reward, the two flags and, for
        replay context, the float16 latent and its flag)."""
        step = sum(int(np.prod(s, dtype=np.int64)) * np.dtype(d).itemsize for s, d in obs_shapes.values())
        step += 4 * action_dim + 4 + 2 + (2 * latent_dim + 1 if latent_dim else 0)
        return int(capacity) * step

    @property
    def nbytes(self) -> int:
        """Bytes this buffer occupies once full."""
        return self.required_bytes(self.capacity_per_env * self.n_envs, self.obs_shapes, self.action_dim, self.latent_dim)

    def warn_if_too_large(self, stacklevel: int = 2) -> None:
        """Warn (as SB3's ``ReplayBuffer`` does) when the full buffer would not fit in the memory available now.

        The arrays are allocated lazily (pages are mapped as steps arrive), so the shortage shows only once the
        buffer fills: then the process swaps or is killed by the OOM killer.
        """
        available = available_memory()
        if available is not None and self.nbytes > available:
            warnings.warn(
                "This system does not have apparently enough memory to store the complete replay buffer: "
                f"{self.nbytes / 1e9:.2f} GB needed once full > {available / 1e9:.2f} GB available. "
                "Reduce `buffer_size` (it is counted in env steps; image observations take their full size per step).",
                UserWarning,
                stacklevel=stacklevel + 1,
            )

    # ------------------------------------------------------------------ adding
    def add(
        self,
        obs: dict[str, np.ndarray],
        action: np.ndarray,
        reward: np.ndarray,
        is_first: np.ndarray,
        is_terminal: np.ndarray,
        env_ids: np.ndarray | None = None,
    ) -> None:
        """Append one step for each env in ``env_ids`` (all envs by default); arrays are indexed like ``env_ids``.

        The new steps hold no latent until :meth:`set_latest_latents` or :meth:`update_latents` writes one."""
        if env_ids is None:
            env_ids = np.arange(self.n_envs)
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if env_ids.size == 0:
            return
        pos = self.pos[env_ids]
        for key, arr in self.obs.items():
            arr[env_ids, pos] = obs[key]
        self.action[env_ids, pos] = action
        self.reward[env_ids, pos] = reward
        self.is_first[env_ids, pos] = is_first
        self.is_terminal[env_ids, pos] = is_terminal
        self.has_latent[env_ids, pos] = False
        if self.online_length:  # the window ending at this step, every online_length-th step (as the official replay)
            steps = self.added[env_ids]
            due = (steps >= self.online_length) & (steps % self.online_length == 0)
            self.online_queue.extend(zip(env_ids[due].tolist(), steps[due].tolist(), strict=True))
        self.added[env_ids] += 1
        new_pos = pos + 1
        self.full[env_ids] |= new_pos >= self.capacity_per_env
        self.pos[env_ids] = new_pos % self.capacity_per_env

    # ------------------------------------------------------------------ latents (replay context)
    def set_latest_latents(self, latent: np.ndarray, env_ids: np.ndarray) -> None:
        """Store ``latent`` ``(len(env_ids), latent_dim)`` with the most recently added step of each env in
        ``env_ids`` (the acting latent of the observation just stored)."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if self.latent_dim == 0 or env_ids.size == 0:
            return
        if (self.sizes()[env_ids] == 0).any():
            raise ValueError("set_latest_latents: an env has no stored step to attach the latent to")
        last = (self.pos[env_ids] - 1) % self.capacity_per_env
        self.latent[env_ids, last] = latent
        self.has_latent[env_ids, last] = True

    def update_latents(self, index: tuple[np.ndarray, np.ndarray], latent: np.ndarray) -> None:
        """Write ``latent`` ``(B, T, latent_dim)`` back to the steps ``index`` (a batch's ``index``).

        Steps overwritten by newer data since the batch was sampled are written too; that is harmless, as such a
        step is only replayed after its new latent (acting or trained) replaces it, or as a fresh window start."""
        if self.latent_dim == 0:
            return
        env, idx = index
        self.latent[env, idx] = latent
        self.has_latent[env, idx] = True

    # ------------------------------------------------------------------ sampling
    def sizes(self) -> np.ndarray:
        """Number of stored steps per env."""
        return np.where(self.full, self.capacity_per_env, self.pos)

    def __len__(self) -> int:
        return int(self.sizes().sum())

    def num_sequences(self, length: int, within_episodes: bool = False) -> int:
        """Number of distinct windows of ``length`` steps that can be sampled (inside one episode if ``within_episodes``)."""
        if within_episodes:
            _, _, n = self.episodes()
            return int(np.maximum(n - length + 1, 0).sum())
        return int(np.maximum(self.sizes() - length + 1, 0).sum())

    def episodes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The stored episodes (pieces between ``is_first`` flags, in each env's time order): env index,
        logical start (steps after the env's oldest stored step) and length, each ``(E,)``. The oldest piece of a
        wrapped ring (its ``is_first`` overwritten) counts as an episode."""
        envs, starts, lengths = [], [], []
        for e, size in enumerate(self.sizes()):
            if size == 0:
                continue
            oldest = self.pos[e] if self.full[e] else 0
            first = np.roll(self.is_first[e], -int(oldest))[:size] if self.full[e] else self.is_first[e, :size]
            begin = np.flatnonzero(first)
            if begin.size == 0 or begin[0] != 0:
                begin = np.concatenate([[0], begin])
            end = np.append(begin[1:], size)
            envs.append(np.full(begin.size, e))
            starts.append(begin)
            lengths.append(end - begin)
        if not envs:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, empty
        return np.concatenate(envs), np.concatenate(starts), np.concatenate(lengths)

    def sample_indices(
        self, batch_size: int, length: int, within_episodes: bool = False, prioritize_ends: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Chosen windows (see the module docstring): env index ``(B, 1)`` and physical step indices ``(B, L)``."""
        if within_episodes:
            return self._sample_in_episodes(batch_size, length, prioritize_ends)
        counts = np.maximum(self.sizes() - length + 1, 0)
        total = counts.sum()
        if total == 0:
            raise RuntimeError(
                f"Not enough data to sample sequences of length {length}: the longest env history has "
                f"{self.sizes().max()} steps. Increase `learning_starts` or decrease `batch_length`."
            )
        u = self.rng.integers(0, total, size=batch_size)
        ends = np.cumsum(counts)
        env = np.searchsorted(ends, u, side="right")
        start = u - (ends[env] - counts[env])
        oldest = np.where(self.full, self.pos, 0)[env]
        idx = (oldest[:, None] + start[:, None] + np.arange(length)[None]) % self.capacity_per_env
        return env[:, None], idx

    def _pop_online(self, batch_size: int, length: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``batch_size`` queued fresh windows of ``length`` steps, oldest first, as :meth:`sample_indices`
        returns them (none unless ``length`` is the queue's window length)."""
        envs: list[int] = []
        ends: list[int] = []
        if length == self.online_length:
            oldest = self.added - self.sizes()  # index of each env's oldest stored step
            while self.online_queue and len(envs) < batch_size:
                env, end = self.online_queue.popleft()
                if end - length + 1 >= oldest[env]:  # not overwritten since it was queued
                    envs.append(env)
                    ends.append(end)
        start = np.asarray(ends, dtype=np.int64) - length + 1
        idx = (start[:, None] + np.arange(length)[None]) % self.capacity_per_env
        return np.asarray(envs, dtype=np.int64)[:, None], idx

    def _sample_in_episodes(self, batch_size: int, length: int, prioritize_ends: bool) -> tuple[np.ndarray, np.ndarray]:
        envs, starts, lengths = self.episodes()
        ok = lengths >= length
        if not ok.any():
            raise RuntimeError(
                f"Not enough data to sample sequences of length {length} inside one episode: the longest stored episode "
                f"has {lengths.max() if lengths.size else 0} steps. Increase `learning_starts`, decrease `batch_length`, "
                "or sample across episode boundaries (replay_within_episodes=False)."
            )
        envs, starts, lengths = envs[ok], starts[ok], lengths[ok]
        pick = self.rng.integers(0, envs.size, size=batch_size)
        upper = lengths[pick] - length + 1 + (length if prioritize_ends else 0)
        offset = np.minimum(self.rng.integers(0, upper), lengths[pick] - length)
        env = envs[pick]
        oldest = np.where(self.full, self.pos, 0)[env]
        idx = (oldest[:, None] + starts[pick][:, None] + offset[:, None] + np.arange(length)[None]) % self.capacity_per_env
        return env[:, None], idx

    def sample(
        self,
        batch_size: int,
        length: int,
        within_episodes: bool = False,
        prioritize_ends: bool = False,
        context: int = 0,
    ) -> SequenceBatch:
        """A batch of windows as numpy arrays of shape ``(B, L, ...)`` (see the module docstring for the options).

        :param context: replay context ``K``: draw ``K + length`` steps and return the last ``length``, with the
            latent stored at the step before them (``batch.context``, float32) and the windows' replay ``index``
        """
        if context < 0:
            raise ValueError(f"context must be 0 or more steps, got {context}")
        if context and self.latent_dim == 0:
            raise ValueError("sample(context=...) needs a replay that stores latents (latent_dim > 0)")
        env, idx = self._pop_online(0 if within_episodes else batch_size, length + context)
        if len(env) < batch_size:  # the rest uniformly
            more_env, more_idx = self.sample_indices(batch_size - len(env), length + context, within_episodes, prioritize_ends)
            env, idx = np.concatenate([env, more_env]), np.concatenate([idx, more_idx])
        ctx = has_ctx = None
        if context:
            before = idx[:, context - 1]
            ctx = self.latent[env[:, 0], before].astype(np.float32)
            has_ctx = self.has_latent[env[:, 0], before]
            idx = idx[:, context:]
        return SequenceBatch(
            obs={k: v[env, idx] for k, v in self.obs.items()},
            action=self.action[env, idx],
            reward=self.reward[env, idx],
            is_first=self.is_first[env, idx],
            is_terminal=self.is_terminal[env, idx],
            context=ctx,
            has_context=has_ctx,
            index=(env, idx) if context else None,
        )

    @staticmethod
    def to_torch(batch: SequenceBatch, device: th.device | str) -> SequenceBatch:
        """Move a sampled batch to ``device`` (see :meth:`SequenceBatch.to_torch`)."""
        return batch.to_torch(device)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | pathlib.Path | io.BufferedIOBase) -> None:
        """Write the filled part of the buffer (and the sampling RNG state) as an ``.npz`` archive."""
        used = int(self.sizes().max()) if len(self) else 0
        arrays: dict[str, Any] = {f"obs.{k}": v[:, :used] for k, v in self.obs.items()}
        arrays.update(
            action=self.action[:, :used],
            reward=self.reward[:, :used],
            is_first=self.is_first[:, :used],
            is_terminal=self.is_terminal[:, :used],
            **({"latent": self.latent[:, :used], "has_latent": self.has_latent[:, :used]} if self.latent_dim else {}),
            pos=self.pos,
            full=self.full,
            added=self.added,
            online_queue=np.asarray(list(self.online_queue), dtype=np.int64).reshape(-1, 2),
            meta=np.array([FORMAT_VERSION, self.n_envs, self.capacity_per_env, self.action_dim], dtype=np.int64),
            rng_state=np.frombuffer(json.dumps(self.rng.bit_generator.state).encode(), dtype=np.uint8),
        )
        if isinstance(path, str | pathlib.Path):
            tmp = f"{path}.tmp"
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
            os.replace(tmp, path)  # atomic: an interrupted save never leaves a truncated file
        else:
            np.savez(path, **arrays)

    @classmethod
    def load(
        cls,
        path: str | pathlib.Path | io.BufferedIOBase,
        obs_shapes: dict | None = None,
        capacity: int | None = None,
        latent_dim: int | None = None,
    ) -> SequenceReplay:
        """Read a buffer written by :meth:`save`. The online queue comes back as saved; its window length
        (``online_length``) is the model's, which the algorithm sets after loading.

        :param obs_shapes: expected observation layout; a mismatch raises a ``ValueError``
        :param capacity: new total capacity (defaults to the saved one)
        :param latent_dim: latent size the model stores for replay context (``None``: as saved). Stored latents of
            another size (another model), or none in the file, leave every step without one: windows then start
            from the initial state until training writes new latents back
        """
        try:
            data = np.load(path, allow_pickle=False)
            meta = data["meta"]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as e:
            raise ValueError(f"Cannot read replay buffer from {path!r}: not a dreamer-sb3 replay file or corrupt ({e})") from e
        with data:
            try:
                return cls._from_npz(data, meta, path, obs_shapes, capacity, latent_dim)
            except KeyError as e:
                raise ValueError(f"Cannot read replay buffer from {path!r}: it has no entry {e}") from e
            except (zipfile.BadZipFile, EOFError, OSError) as e:  # a damaged member (bad CRC, truncated data)
                raise ValueError(
                    f"Cannot read replay buffer from {path!r}: the file is corrupt ({type(e).__name__}: {e})"
                ) from e

    @classmethod
    def _from_npz(
        cls,
        data: Any,
        meta: np.ndarray,
        path: str | pathlib.Path | io.BufferedIOBase,
        obs_shapes: dict | None,
        capacity: int | None,
        latent_dim: int | None,
    ) -> SequenceReplay:
        version, n_envs, cap, action_dim = (int(x) for x in meta)
        if version != FORMAT_VERSION:
            raise ValueError(f"Replay file {path!r} has format version {version}, expected {FORMAT_VERSION}")
        headers = {k: _npy_header(data.zip, f"{k}.npy") for k in data.files}
        saved_shapes = {k[4:]: (shape[2:], dtype) for k, (shape, dtype) in headers.items() if k.startswith("obs.")}
        if obs_shapes is not None:
            expected = {k: (tuple(s), np.dtype(d)) for k, (s, d) in obs_shapes.items()}
            got = {k: (tuple(s), np.dtype(d)) for k, (s, d) in saved_shapes.items()}
            if expected != got:
                raise ValueError(f"Replay file {path!r} holds observations {got}, but the model expects {expected}")
        used = headers["action"][0][1]
        new_cap = cap if capacity is None else int(np.ceil(capacity / n_envs))
        if new_cap < used:
            raise ValueError(f"Capacity {capacity} is smaller than the {used * n_envs} steps stored in {path!r}")
        pos, full = data["pos"], data["full"]
        if new_cap != cap and full.any():
            raise ValueError("Cannot change the capacity of a replay buffer that has wrapped around")
        saved_latent = headers["latent"][0][2] if "latent" in headers else 0
        latent_dim = saved_latent if latent_dim is None else int(latent_dim)
        buf = cls(new_cap * n_envs, n_envs, saved_shapes, action_dim, latent_dim=latent_dim)
        buf.warn_if_too_large(stacklevel=3)
        targets = {f"obs.{k}": v for k, v in buf.obs.items()}
        targets.update(action=buf.action, reward=buf.reward, is_first=buf.is_first, is_terminal=buf.is_terminal)
        if latent_dim and saved_latent == latent_dim:
            targets.update(latent=buf.latent, has_latent=buf.has_latent)
        try:
            for key, target in targets.items():
                _stream_into(data.zip, f"{key}.npy", target[:, :used])
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise ValueError(f"Cannot read replay buffer from {path!r}: corrupt {key!r} ({e})") from e
        buf.pos[:] = pos
        buf.full[:] = full
        # files before the online queue: a step count consistent with the ring (its phase is all that matters)
        buf.added[:] = data["added"] if "added" in data.files else np.where(full, pos + new_cap, pos)
        if "online_queue" in data.files:
            buf.online_queue.extend((int(e), int(s)) for e, s in data["online_queue"])
        buf.rng.bit_generator.state = json.loads(bytes(data["rng_state"]).decode())
        return buf


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (psutil when installed, else Linux's ``MemAvailable``)."""
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


#: bytes read at a time when streaming a stored array into the buffer
_CHUNK_BYTES = 1 << 20


def _npy_header(archive: zipfile.ZipFile, member: str) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of an ``.npy`` member, read from its header only."""
    with archive.open(member) as f:
        shape, _, dtype = _read_header(f)
    return shape, dtype


def _read_header(f: Any) -> tuple[tuple[int, ...], bool, np.dtype]:
    major, _ = np.lib.format.read_magic(f)
    if major == 1:
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    if dtype.hasobject:
        raise ValueError("object arrays are not allowed in a replay file")
    return tuple(shape), fortran, dtype


def _stream_into(archive: zipfile.ZipFile, member: str, target: np.ndarray) -> None:
    """Copy an ``.npy`` member of ``archive`` into ``target`` (a view into the ring) a few MB at a time.

    The member is decompressed as a stream, so loading never holds a second full copy of the replay in memory.
    """
    with archive.open(member) as f:
        shape, fortran, dtype = _read_header(f)
        if shape != target.shape or fortran:
            raise ValueError(f"{member} holds shape {shape} (fortran order: {fortran}), expected {target.shape}")
        item = dtype.itemsize
        per_chunk = max(1, _CHUNK_BYTES // max(item, 1))
        for row in range(target.shape[0]):
            dst = target[row].reshape(-1)  # one env's steps are contiguous in the ring: a view, not a copy
            done = 0
            while done < dst.size:
                n = min(per_chunk, dst.size - done)
                raw = f.read(n * item)
                if len(raw) != n * item:
                    raise ValueError(f"{member} is truncated")
                dst[done : done + n] = np.frombuffer(raw, dtype=dtype, count=n)
                done += n
