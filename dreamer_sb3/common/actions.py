"""Mapping between an env's action space and the model's action vector.

Inside the model every action is a flat float vector: one-hot for ``Discrete``, concatenated
one-hots for ``MultiDiscrete`` (of ``action - start``, so ``Discrete(n, start=k)`` works), and
values in ``[-1, 1]`` for ``Box`` (rescaled to the env's bounds only at the env boundary).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces


class ActionCodec:
    """Converts between env actions and model-space action vectors.

    :param space: the env's action space
    :raises ValueError: for spaces other than ``Box``, ``Discrete`` and ``MultiDiscrete``
    """

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        if isinstance(space, spaces.Discrete):
            self.kind = "discrete"
            self.sizes = [int(space.n)]
            self.start = np.array([int(space.start)], dtype=np.int64)
        elif isinstance(space, spaces.MultiDiscrete):
            if space.nvec.ndim != 1:
                raise ValueError(f"Only 1-D MultiDiscrete action spaces are supported, got nvec shape {space.nvec.shape}")
            self.kind = "multidiscrete"
            self.sizes = [int(n) for n in space.nvec]
            self.start = np.asarray(getattr(space, "start", np.zeros_like(space.nvec)), dtype=np.int64).reshape(-1)
        elif isinstance(space, spaces.Box):
            if len(space.shape) != 1:
                raise ValueError(f"Box action spaces must be 1-D, got shape {space.shape}; flatten them with a wrapper")
            if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
                raise ValueError(f"Box action space {space} must have finite bounds (actions are squashed to [-1, 1])")
            self.kind = "box"
            self.sizes = [int(space.shape[0])]
            self.low = space.low.astype(np.float32)
            self.high = space.high.astype(np.float32)
        else:
            raise ValueError(
                f"Unsupported action space {space!r}: Dreamer agents support Box (1-D, bounded), Discrete and "
                "MultiDiscrete actions."
            )
        self.dim = int(sum(self.sizes))
        self.discrete = self.kind != "box"

    def to_env(self, action: np.ndarray) -> np.ndarray:
        """Model vectors ``(N, dim)`` -> env actions ``(N, ...)``."""
        if self.kind == "box":
            a = np.clip(action, -1.0, 1.0)
            return (self.low + (a + 1.0) * 0.5 * (self.high - self.low)).astype(self.space.dtype)
        parts = np.split(action, np.cumsum(self.sizes)[:-1], axis=-1)
        idx = np.stack([p.argmax(-1) for p in parts], -1) + self.start  # ``start`` offsets: actions act inside the space
        return idx[..., 0] if self.kind == "discrete" else idx

    def from_env(self, action: np.ndarray) -> np.ndarray:
        """Env actions ``(N, ...)`` -> model vectors ``(N, dim)``."""
        action = np.asarray(action)
        if self.kind == "box":
            a = action.astype(np.float32).reshape(-1, self.dim)
            return np.clip(2.0 * (a - self.low) / (self.high - self.low) - 1.0, -1.0, 1.0)
        idx = action.reshape(-1, len(self.sizes)).astype(np.int64) - self.start
        out = np.zeros((idx.shape[0], self.dim), dtype=np.float32)
        offset = 0
        for i, n in enumerate(self.sizes):
            out[np.arange(idx.shape[0]), offset + idx[:, i]] = 1.0
            offset += n
        return out
