"""Shared fixtures: every Dreamer-family algorithm with a tiny, fast configuration."""

import pytest
import torch as th

from dreamer_sb3 import DreamerV3

# One thread per test process: the suite runs under pytest-xdist on 2 cores, and oversubscribed
# intra-op threads make small-batch torch code many times slower.
th.set_num_threads(1)

#: (algorithm class, constructor kwargs that make it tiny and fast for contract tests)
TINY = dict(learning_starts=64, batch_size=4, batch_length=8, train_ratio=16, buffer_size=2000,
            policy_kwargs=dict(model_size="tiny", units=32, deter=32, hidden=32, stoch=4, classes=4, cnn_depth=4))

ALGOS = {
    "dreamerv3": (DreamerV3, dict(TINY, imag_horizon=5)),
}


@pytest.fixture(params=sorted(ALGOS))
def algo(request):
    """``(cls, kwargs)`` for each algorithm."""
    return ALGOS[request.param]
