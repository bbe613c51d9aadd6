"""Helpers of the learning tests: the random policy's return on the same episodes, and a timer."""

from __future__ import annotations

import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np


def random_return(make_env: Callable[[], gym.Env], episodes: int = 20, seed: int = 0) -> float:
    """Mean return of uniformly random actions over ``episodes`` episodes (env reset seeds ``seed + i``)."""
    env = make_env()
    env.action_space.seed(seed)
    totals = []
    for ep in range(episodes):
        env.reset(seed=seed + ep)
        done, total = False, 0.0
        while not done:
            _, r, term, trunc, _ = env.step(env.action_space.sample())
            total += float(r)
            done = term or trunc
        totals.append(total)
    return float(np.mean(totals))


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
