"""Shared fixtures: every Dreamer-family algorithm with a tiny, fast configuration."""

import pytest
import torch as th

from dreamer_sb3 import DreamerV1, DreamerV2, DreamerV3, PlaNet

# One thread per test process: the suite runs under pytest-xdist on 2 cores, and oversubscribed
# intra-op threads make small-batch torch code many times slower.
th.set_num_threads(1)

#: (algorithm class, constructor kwargs that make it tiny and fast for contract tests)
TINY = dict(
    learning_starts=64,
    batch_size=4,
    batch_length=8,
    train_ratio=16,
    buffer_size=2000,
    policy_kwargs=dict(model_size="tiny", units=32, deter=32, hidden=32, stoch=4, classes=4, cnn_depth=4),
)

#: PlaNet and DreamerV1 keep Gaussian latents (classes=0)
TINY_GAUSSIAN = dict(TINY, policy_kwargs=dict(TINY["policy_kwargs"], classes=0))

ALGOS = {
    "planet": (PlaNet, dict(TINY_GAUSSIAN, planning_horizon=3, n_candidates=32, top_k=4, cem_iters=2)),
    "dreamerv1": (DreamerV1, dict(TINY_GAUSSIAN, imag_horizon=5)),
    "dreamerv2": (DreamerV2, dict(TINY, imag_horizon=5)),
    "dreamerv3": (DreamerV3, dict(TINY, imag_horizon=5)),
}


@pytest.fixture(params=sorted(ALGOS))
def algo(request):
    """``(cls, kwargs)`` for each algorithm."""
    return ALGOS[request.param]


def _minutes(item: pytest.Item) -> float:
    marker = item.get_closest_marker("slow")
    return float(marker.kwargs.get("minutes", 1.0)) if marker is not None else 0.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest tests first (``@pytest.mark.slow(minutes=...)``), the rest in collection order.

    With ``pytest -n 2 --maxschedchunk 1`` (the README's command) each xdist worker holds at most two tests, so the
    long learning runs start at once on both workers and the short tests fill in around them; in collection order
    one worker would meet a 13-minute test near the end while the other sat idle.
    """
    items.sort(key=_minutes, reverse=True)  # stable: equal keys keep their order
