"""Guards against poisoned training: bad data at the replay boundary, non-finite updates.

One NaN or inf in an observation or a reward, once stored, is sampled again and again for
``buffer_size`` steps and turns every parameter of the world model, actor and critic into NaN for
good. Two guards stop that:

- :class:`DataGuard` checks every observation (including ``info["terminal_observation"]``, which
  SB3's ``VecCheckNan`` does not see) and every reward before it enters the replay: non-finite
  values, and float64 values beyond float32's range (they become ``inf`` when the replay casts
  them). ``on_bad_data="raise"`` (the default) raises :class:`NonFiniteDataError` naming the env,
  the step, the key and the value; ``"drop"`` leaves the step out, warns, counts it, and makes the
  env's next stored step an episode start (``is_first``), so no replayed window spans the gap.
- :func:`finite_update` tells whether an optimiser step may be taken: a non-finite loss or gradient
  norm skips it (the algorithm counts skips and raises :class:`NonFiniteUpdateError` after
  ``max_skipped_updates`` updates in a row).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal, get_args

import numpy as np
import torch as th

BadData = Literal["raise", "drop"]
BAD_DATA_MODES: tuple[BadData, ...] = get_args(BadData)

#: largest finite float32; float64 values beyond it become inf in the (float32) replay
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: drops that warn; later drops are only counted (``train/dropped_steps``)
WARN_DROPS = 5


class NonFiniteDataError(ValueError):
    """An observation or reward about to enter the replay is NaN, inf, or beyond float32's range."""


class NonFiniteUpdateError(RuntimeError):
    """Too many updates in a row had a non-finite loss or gradient norm."""


def bad_rows(x: np.ndarray) -> np.ndarray:
    """Rows (first axis: envs) of ``x`` holding a non-finite value or a float64 value beyond float32's range.

    Integer and bool arrays are never bad.
    """
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        return np.zeros(x.shape[0] if x.ndim else 1, dtype=bool)
    rows = x.reshape(x.shape[0], -1) if x.ndim else x.reshape(1, 1)
    bad = ~np.isfinite(rows)
    if rows.dtype.itemsize > 4:
        with np.errstate(invalid="ignore"):
            bad |= np.abs(rows) > FLOAT32_MAX
    return bad.any(axis=1)


def describe_bad(row: np.ndarray) -> str:
    """``"nan at index (3,)"`` for the first bad value of one env's array."""
    row = np.asarray(row)
    bad = ~np.isfinite(row)
    if row.dtype.itemsize > 4:
        with np.errstate(invalid="ignore"):
            bad |= np.abs(row) > FLOAT32_MAX
    idx = tuple(int(i) for i in np.argwhere(bad)[0]) if row.ndim else ()
    value = float(row[idx]) if row.ndim else float(row)
    what = f"{value!r}" if not np.isfinite(value) else f"{value!r} (beyond float32's range: it would become inf)"
    return f"{what} at index {idx}" if idx else what


class DataGuard:
    """Checks what enters the replay and keeps, per env, whether the next stored step must start an episode.

    :param n_envs: number of envs
    :param mode: ``"raise"`` or ``"drop"`` (see the module docstring)
    """

    def __init__(self, n_envs: int, mode: BadData = "raise") -> None:
        if mode not in BAD_DATA_MODES:
            raise ValueError(f"on_bad_data must be one of {BAD_DATA_MODES}, got {mode!r}")
        self.mode: BadData = mode
        #: env i's next stored step must be ``is_first`` (a step before it was dropped)
        self.restart = np.zeros(n_envs, dtype=bool)
        #: env i's latest observation (what the policy acts on next) was rejected
        self.last_bad = np.zeros(n_envs, dtype=bool)
        self.dropped = 0  # drops seen by this guard (for the warning budget)

    def check(
        self,
        obs: Mapping[str, np.ndarray] | None,
        reward: np.ndarray | None,
        env_ids: Sequence[int] | np.ndarray,
        step: int,
        what: str = "observation",
    ) -> np.ndarray:
        """Check rows of ``obs`` (``{key: (len(env_ids), ...)}``) and ``reward`` (``(len(env_ids),)``).

        :param env_ids: the env index of each row
        :param step: ``num_timesteps`` (for the message)
        :param what: what the observations are (``"observation"``, ``"terminal observation"``, ...)
        :return: bool mask over the rows: True where the row is good
        :raises NonFiniteDataError: on a bad row when the mode is ``"raise"``
        """
        env_ids = np.asarray(env_ids, dtype=np.int64)
        ok = np.ones(env_ids.size, dtype=bool)
        problems: list[str] = []
        for key, arr in (obs or {}).items():
            bad = bad_rows(arr)
            for r in np.flatnonzero(bad & ok):
                problems.append(f"{what} key {key!r} of env {env_ids[r]} holds {describe_bad(np.asarray(arr)[r])}")
            ok &= ~bad
        if reward is not None:
            rew = np.asarray(reward).reshape(env_ids.size)
            bad = bad_rows(rew.reshape(-1, 1))
            for r in np.flatnonzero(bad & ok):
                problems.append(f"the reward of env {env_ids[r]} is {describe_bad(rew[r])}")
            ok &= ~bad
        if problems:
            self._report(problems, step)
        return ok

    def _report(self, problems: list[str], step: int) -> None:
        head = f"At step {step} (num_timesteps), {problems[0]}" + (
            f" (and {len(problems) - 1} more bad values this step)" if len(problems) > 1 else ""
        )
        if self.mode == "raise":
            raise NonFiniteDataError(
                f"{head}. A single NaN/inf in the replay turns every weight into NaN, so nothing non-finite is stored. "
                "Fix the env (or wrap it to clip or replace such values; float64 observations must fit in float32), or "
                "construct the algorithm with on_bad_data='drop' to leave such steps out of the replay with a warning "
                "(counted in the logs as train/dropped_steps)."
            )
        for message in problems:
            self.dropped += 1
            if self.dropped <= WARN_DROPS:
                more = (
                    f" Further drops are only counted (train/dropped_steps); this is drop {self.dropped} of {WARN_DROPS} "
                    "that warn."
                    if self.dropped == WARN_DROPS
                    else ""
                )
                warnings.warn(
                    f"{head.split(',', 1)[0]}, {message}: the step is dropped from the replay (on_bad_data='drop') and "
                    f"the env's next stored step starts a new sequence.{more}",
                    UserWarning,
                    stacklevel=4,
                )

    @staticmethod
    def sanitize(obs: Mapping[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
        """A copy of ``obs`` with non-finite values in ``rows`` replaced by 0 (what the policy sees after a drop)."""
        out: dict[str, np.ndarray] = {}
        for key, arr in obs.items():
            arr = np.asarray(arr)
            if np.issubdtype(arr.dtype, np.floating) and rows.any():
                arr = arr.copy()
                sub = arr[rows]
                with np.errstate(invalid="ignore"):
                    sub[~np.isfinite(sub) | (np.abs(sub) > FLOAT32_MAX)] = 0.0
                arr[rows] = sub
            out[key] = arr
        return out


def finite_update(loss: th.Tensor, grad_norm: th.Tensor) -> bool:
    """Whether ``loss`` and ``grad_norm`` are both finite (one host synchronisation)."""
    return bool(th.isfinite(loss.detach().float()).all() & th.isfinite(grad_norm.detach().float()).all())
