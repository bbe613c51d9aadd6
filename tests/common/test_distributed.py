"""Data-parallel training (dreamer_sb3/common/distributed.py): two CPU ranks launched by torchrun (gloo)."""

from __future__ import annotations

import os
import pathlib
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.env_util import make_vec_env

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common import distributed as dist
from tests.common.dist_worker import TOTAL_STEPS, policy_actions

WORKER = pathlib.Path(__file__).with_name("dist_worker.py")
ROOT = WORKER.parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(
    out: pathlib.Path, mode: str, timeout: float = 120, restarts: int = 0
) -> tuple[subprocess.CompletedProcess, float]:
    """Two ranks of ``dist_worker.py``; returns the finished process and its wall time."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port())]
    cmd += ["--max-restarts", str(restarts)]
    cmd += ["--master_addr", "127.0.0.1", str(WORKER), str(out), mode]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    start = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)
    return proc, time.monotonic() - start


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory) -> tuple[pathlib.Path, dict, dict]:
    out = tmp_path_factory.mktemp("dist")
    proc, _ = torchrun(out, "train")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (th.load(out / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    return out, r0, r1


@pytest.mark.slow(minutes=0.5)
def test_parameters_and_optimiser_bit_identical_after_updates(two_ranks):
    _, r0, r1 = two_ranks
    assert r0["n_updates"] == r1["n_updates"] >= 20
    assert r0["params"].keys() == r1["params"].keys()
    for k in r0["params"]:
        assert th.equal(r0["params"][k], r1["params"][k]), k
    for s0, s1 in zip(r0["optim"]["state"].values(), r1["optim"]["state"].values()):
        for k in s0:
            assert th.equal(s0[k], s1[k]), k


@pytest.mark.slow(minutes=0.5)
def test_ranks_collect_different_experience_and_count_global_steps(two_ranks):
    _, r0, r1 = two_ranks
    assert r0["replay_obs"].shape == r1["replay_obs"].shape
    assert not np.array_equal(r0["replay_obs"], r1["replay_obs"])  # seeded seed + rank: different episodes
    assert r0["env_steps"] == r1["env_steps"] == TOTAL_STEPS // 2
    assert r0["num_timesteps"] == r1["num_timesteps"] == TOTAL_STEPS


@pytest.mark.slow(minutes=0.5)
def test_rank_zero_writes_one_log_and_one_model_that_loads_single_process(two_ranks):
    out, r0, r1 = two_ranks
    assert sorted(p.name for p in (out / "tb").iterdir()) == ["DreamerV3_1"]  # one TensorBoard run, named as SB3 names them
    assert sorted(p.name for p in out.glob("*.zip")) == ["model.zip"]
    assert sorted(p.name for p in out.glob("replay*")) == ["replay.pkl", "replay.rank1.pkl"]  # one replay per rank
    model = DreamerV3.load(out / "model.zip", device="cpu")
    assert model.num_timesteps == TOTAL_STEPS
    for k, v in model.policy.state_dict().items():
        assert th.equal(v, r0["params"][k]), k
    np.testing.assert_array_equal(policy_actions(model), r0["actions"])
    np.testing.assert_array_equal(r1["actions"], r0["actions"])


@pytest.mark.slow(minutes=0.5)
@pytest.mark.parametrize("mode", ["kill", "raise"])
def test_a_dead_rank_ends_the_run_with_an_error(tmp_path, mode):
    proc, seconds = torchrun(tmp_path, mode, timeout=90)
    assert proc.returncode != 0
    assert seconds < 60
    assert not (tmp_path / "model.zip").exists()
    log = proc.stdout + proc.stderr
    assert ("Signal 9" in log or "SIGKILL" in log) if mode == "kill" else "rank 1 fails on purpose" in log


def test_single_process_is_untouched_and_explicit_setting_checked(monkeypatch, tmp_path):
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(k, raising=False)
    assert not dist.launched(None) and not dist.launched(False)
    assert dist.rank_of(None) == 0
    assert dist.setup(None, th.device("cpu")) is dist.SINGLE
    with pytest.raises(RuntimeError, match="torchrun --nproc_per_node"):
        dist.launched(True)
    model = DreamerV3("MlpPolicy", "CartPole-v1", distributed=True, device="cpu", policy_kwargs={"model_size": "tiny"})
    with pytest.raises(RuntimeError, match="not part of a data-parallel run"):
        model.learn(10)
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert dist.launched(None) and dist.rank_of(None) == 1 and dist.rank_of(False) == 0
    with pytest.raises(RuntimeError, match="MASTER_ADDR, MASTER_PORT is not"):
        monkeypatch.delenv("MASTER_ADDR", raising=False)
        monkeypatch.delenv("MASTER_PORT", raising=False)
        dist.setup(None, th.device("cpu"))


def test_rank_seeds_and_files(monkeypatch):
    for k in ("WORLD_SIZE", "RANK"):
        monkeypatch.delenv(k, raising=False)
    assert dist.rank_path("a/replay.pkl", 0) == pathlib.Path("a/replay.pkl")
    assert dist.rank_path("a/replay.pkl", 3) == pathlib.Path("a/replay.rank3.pkl")
    assert dist.rank_path("replay", 1) == pathlib.Path("replay.rank1")
    env = make_vec_env("CartPole-v1", n_envs=2)
    model = DreamerV3("MlpPolicy", env, seed=5, device="cpu", policy_kwargs={"model_size": "tiny"})
    assert model._rank_seed(5) == 5
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "2")
    assert model._rank_seed(5) == 5 + 2 * 2  # env seeds 9, 10 on rank 2: disjoint from every other rank's
    model.distributed = False
    assert model._rank_seed(5) == 5


def test_single_rank_collectives_are_no_ops():
    ranks = dist.SINGLE
    assert not ranks.enabled and ranks.is_main
    x = th.arange(3.0)
    assert ranks.gather(x) is x
    assert ranks.any(True) and not ranks.any(False)
    ranks.check_same("n_envs", 3)
    p = th.nn.Parameter(th.ones(2))
    p.grad = th.full((2,), 4.0)
    ranks.average_gradients([p])
    assert th.equal(p.grad, th.full((2,), 4.0))


@pytest.mark.slow(minutes=0.75)
def test_elastic_restart_resumes_from_the_checkpoint(tmp_path):
    proc, _ = torchrun(tmp_path, "restart", restarts=1)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    r0, r1 = (th.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))
    assert r0["restarts"] == r1["restarts"] == 1  # the first attempt died, the second one finished
    assert r0["num_timesteps"] == r1["num_timesteps"] == TOTAL_STEPS
    assert r0["env_steps"] == r1["env_steps"] == TOTAL_STEPS // 4  # the second attempt took only the second half
    ckpt = DreamerV3.load(tmp_path / "ckpt.zip", device="cpu")
    assert ckpt.num_timesteps == TOTAL_STEPS // 2 and r0["n_updates"] > ckpt._n_updates
    for k in r0["params"]:
        assert th.equal(r0["params"][k], r1["params"][k]), k


def test_average_gradients_flattens_reduces_and_restores_shapes(tmp_path):
    """One all_reduce over a one-process gloo group (the sum is this rank's gradient), divided by a pretended world
    size of 2: every gradient comes back halved in its own shape; a parameter without a gradient stays without."""
    import torch.distributed as tdist

    tdist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        ranks = dist.Ranks(rank=0, world_size=2)
        a, b, c = th.nn.Parameter(th.ones(2, 3)), th.nn.Parameter(th.ones(4)), th.nn.Parameter(th.ones(1))
        a.grad, b.grad = th.arange(6.0).reshape(2, 3), th.full((4,), -2.0)
        ranks.average_gradients([a, b, c])
        assert th.equal(a.grad, th.arange(6.0).reshape(2, 3) / 2) and th.equal(b.grad, th.full((4,), -1.0))
        assert c.grad is None
        assert ranks.any(True) and not ranks.any(False)
    finally:
        tdist.destroy_process_group()
    assert not tdist.is_initialized()
