"""Correctness guard for the fast path: bf16 autocast gives the same losses as fp32 on a fixed batch."""

import numpy as np
import pytest
import torch as th
from stable_baselines3.common.envs import FakeImageEnv
from stable_baselines3.common.vec_env import DummyVecEnv

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common.replay import SequenceBatch

KW = dict(
    batch_size=4,
    batch_length=8,
    imag_horizon=5,
    learning_starts=16,
    train_ratio=64,
    buffer_size=1000,
    policy_kwargs=dict(model_size="tiny"),
)


def _batch(model, rng):
    obs = {
        k: (
            rng.integers(0, 256, (4, 8, *s), dtype=np.uint8)
            if np.dtype(d) == np.uint8
            else rng.normal(size=(4, 8, *s)).astype(np.float32)
        )
        for k, (s, d) in model._replay_obs_shapes().items()
    }
    return SequenceBatch(
        obs=obs,
        action=rng.uniform(-1, 1, (4, 8, model.policy.codec.dim)).astype(np.float32),
        reward=rng.normal(size=(4, 8)).astype(np.float32),
        is_first=np.eye(4, 8, dtype=bool),
        is_terminal=np.zeros((4, 8), bool),
    ).to_torch(model.device)


@pytest.mark.parametrize(
    "policy,env",
    [("MlpPolicy", "Pendulum-v1"), ("CnnPolicy", lambda: DummyVecEnv([lambda: FakeImageEnv(64, 64, 64, 3, False)]))],
)
def test_bf16_world_model_loss_matches_fp32(policy, env):
    losses = {}
    for precision in ("fp32", "bf16"):
        model = DreamerV3(policy, env() if callable(env) else env, seed=0, precision=precision, **KW)
        batch = _batch(model, np.random.default_rng(0))
        th.manual_seed(0)
        with model.autocast():
            loss, _post, metrics = model.policy.world_model.loss(batch, 1.0, 0.5, 0.1, {})
        assert loss.dtype == th.float32  # losses stay in fp32
        losses[precision] = {k: float(v) for k, v in metrics.items()} | {"total": float(loss.detach())}
    for k, v in losses["fp32"].items():
        assert losses["bf16"][k] == pytest.approx(v, rel=0.05, abs=0.05), k


def test_bf16_training_keeps_fp32_master_weights():
    model = DreamerV3("MlpPolicy", "Pendulum-v1", seed=0, precision="bf16", **KW)
    model.learn(120)  # 208 updates
    assert model._n_updates > 0
    for p in model.policy.parameters():
        assert p.dtype == th.float32 and th.isfinite(p).all()  # fp32 master weights


def test_invalid_precision():
    with pytest.raises(ValueError, match="precision"):
        DreamerV3("MlpPolicy", "Pendulum-v1", precision="fp16")


@pytest.mark.slow(minutes=0.6)
def test_compiled_update_matches_eager():
    """``compile=True``: the same full update (world model, imagination, actor, critic) gives the same losses and
    the same parameters as eager mode on a fixed batch; the state dict keys are unchanged (checkpoints stay
    interchangeable)."""
    models = {c: DreamerV3("MlpPolicy", "Pendulum-v1", seed=0, compile=c, **KW) for c in (False, True)}
    assert models[True].policy.state_dict().keys() == models[False].policy.state_dict().keys()
    models[True].policy.load_state_dict(models[False].policy.state_dict())
    metrics = {}
    for c, model in models.items():
        batch = _batch(model, np.random.default_rng(0))
        th.manual_seed(0)
        model.policy.set_training_mode(True)
        metrics[c] = {k: float(v) for k, v in model.train_step(batch).items()}
    for k, v in metrics[False].items():
        assert metrics[True][k] == pytest.approx(v, rel=1e-3, abs=1e-4), k
    for (name, a), b in zip(models[False].policy.named_parameters(), models[True].policy.parameters()):
        assert th.allclose(a, b, rtol=1e-4, atol=1e-5), name
    compiled = [m for m in models[True].policy.modules() if getattr(m, "_compiled_call_impl", None) is not None]
    assert len(compiled) >= 8  # heads, actor, critic, vector encoder / decoder, GRU, RSSM blocks


@pytest.mark.parametrize("native", [False, True])
def test_bf16_on_a_cpu_without_native_bf16_warns(native, monkeypatch, recwarn):
    """bf16 matmuls are emulated on CPUs without AVX-512 BF16 / AMX (several times slower than fp32): say so."""
    import dreamer_sb3.common.base as base

    monkeypatch.setattr(base, "cpu_has_native_bf16", lambda: native)
    DreamerV3("MlpPolicy", "Pendulum-v1", precision="bf16", device="cpu", **KW)
    DreamerV3("MlpPolicy", "Pendulum-v1", precision="fp32", device="cpu", **KW)
    messages = [str(w.message) for w in recwarn if issubclass(w.category, UserWarning) and "bf16" in str(w.message)]
    if native:
        assert messages == []
    else:
        assert len(messages) == 1 and "without native bf16" in messages[0] and "precision='fp32'" in messages[0]


def test_native_bf16_detection_matches_torch():
    from dreamer_sb3.common.base import cpu_has_native_bf16

    assert cpu_has_native_bf16() == (th.cpu._is_avx512_bf16_supported() or th.cpu._is_amx_tile_supported())
