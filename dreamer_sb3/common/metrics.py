"""Training metrics aggregated on the fly: a running sum and count per key, never a list per update.

:meth:`DreamerAlgorithm.train` adds each update's detached scalar metrics; a dump writes the means since the last
dump and resets the sums. Memory is one scalar per key, whatever the number of updates between dumps.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch as th


class RunningMeans:
    """Running means of scalar metrics by key.

    Sums stay on the metrics' device (no host synchronisation per update); :meth:`pop_means` reads them back once.
    """

    def __init__(self) -> None:
        self._sums: dict[str, th.Tensor] = {}
        self._counts: dict[str, int] = {}
        #: the latest update's values by key
        self.last: dict[str, th.Tensor] = {}
        #: the means returned by the latest :meth:`pop_means`
        self.last_means: dict[str, float] = {}

    def add(self, metrics: Mapping[str, th.Tensor | float]) -> None:
        """Add one update's scalar metrics (tensors are detached and summed in float32)."""
        for key, value in metrics.items():
            v = value.detach().float().reshape(()) if isinstance(value, th.Tensor) else th.tensor(float(value))
            self.last[key] = v
            if key in self._sums:
                self._sums[key] = self._sums[key] + v.to(self._sums[key].device)
                self._counts[key] += 1
            else:
                self._sums[key] = v.clone()
                self._counts[key] = 1

    def __len__(self) -> int:
        """Number of keys currently held."""
        return len(self._sums)

    @property
    def count(self) -> int:
        """Most updates added to any key since the last :meth:`pop_means`."""
        return max(self._counts.values(), default=0)

    def pop_means(self) -> dict[str, float]:
        """The mean of every key since the last call, then reset."""
        if not self._sums:
            return {}
        keys = list(self._sums)
        sums = th.stack([self._sums[k].cpu() for k in keys]).tolist()
        means = {k: s / self._counts[k] for k, s in zip(keys, sums)}
        self._sums.clear()
        self._counts.clear()
        self.last_means = means
        return means
