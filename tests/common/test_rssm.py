"""RSSM and networks: shapes for every latent / observation / action kind, resets, gradients."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from dreamer_sb3.common.actions import ActionCodec
from dreamer_sb3.common.networks import BlockLinear, MultiDecoder, MultiEncoder, ObsLayout
from dreamer_sb3.common.rssm import RSSM, BlockGRUCore, State
from dreamer_sb3.common.specs import LatentSpec

B, T, A, E = 3, 5, 4, 16


@pytest.fixture(params=[(8, 4, 0), (6, 0, 0), (8, 4, 4)], ids=["categorical", "gaussian", "block-gru"])
def rssm(request):
    stoch, classes, blocks = request.param
    th.manual_seed(0)
    layers = dict(blocks=blocks, img_layers=2) if blocks else {}
    return RSSM(A, E, LatentSpec(deter=12, hidden=10, stoch=stoch, classes=classes, unimix=0.01, **layers))


def test_observe_and_imagine_shapes(rssm):
    embed, action, first = th.randn(B, T, E), th.randn(B, T, A), th.zeros(B, T, dtype=th.bool)
    first[:, 0] = True
    post, post_stats, prior_stats = rssm.observe(embed, action, first)
    assert post.deter.shape == (B, T, 12) and post.stoch.shape == (B, T, rssm.stoch_size)
    assert rssm.feat(post).shape == (B, T, rssm.feat_size)
    for stats in (post_stats, prior_stats):
        if rssm.discrete:
            assert stats[0].shape == (B, T, 8, 4)
            assert th.allclose(stats[0].exp().sum(-1), th.ones(B, T, 8))
        else:
            assert stats[0].shape == stats[1].shape == (B, T, 6) and (stats[1] >= 0.1).all()
    start = State(post.deter.reshape(B * T, -1), post.stoch.reshape(B * T, -1))
    feats, actions = rssm.imagine(start, lambda f: th.tanh(f[:, :A]), horizon=7)
    assert feats.shape == (8, B * T, rssm.feat_size) and actions.shape == (7, B * T, A)
    if rssm.discrete:
        s = post.stoch.reshape(B, T, 8, 4)
        assert th.allclose(s.detach().sum(-1), th.ones(B, T, 8)) and th.allclose(s.detach().max(-1).values, th.ones(B, T, 8))


def test_is_first_resets_the_state(rssm):
    """Observing [x, y] with is_first at step 1 equals observing [y] from scratch."""
    th.manual_seed(1)
    embed, action = th.randn(1, 2, E), th.randn(1, 2, A)
    first = th.tensor([[True, True]])
    th.manual_seed(2)
    post, _, _ = rssm.observe(embed, action, first)
    # the deterministic path after a reset only depends on the initial state and zero action
    fresh, _, _ = rssm.observe(embed[:, 1:], th.zeros(1, 1, A), th.ones(1, 1, dtype=th.bool))
    assert th.allclose(post.deter[:, 1], fresh.deter[:, 0], atol=1e-6)
    # zero action is enforced at episode starts even if data holds another one
    alt, _, _ = rssm.observe(embed[:, 1:], action[:, 1:], th.ones(1, 1, dtype=th.bool))
    assert th.allclose(alt.deter, fresh.deter, atol=1e-6)


def test_straight_through_gradients_reach_posterior(rssm):
    embed = th.randn(B, T, E, requires_grad=True)
    post, _, _ = rssm.observe(embed, th.zeros(B, T, A), th.zeros(B, T, dtype=th.bool))
    post.stoch[:, -1].sum().backward()
    assert embed.grad is not None and embed.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "space",
    [
        spaces.Box(-1, 1, (7,), np.float32),
        spaces.Box(0, 255, (3, 64, 64), np.uint8),
        spaces.Box(0, 255, (1, 32, 48), np.uint8),
        spaces.Dict({"image": spaces.Box(0, 255, (3, 64, 64), np.uint8), "state": spaces.Box(-1, 1, (5,), np.float32)}),
    ],
    ids=["vector", "image64", "image32x48", "dict"],
)
def test_encoder_decoder_shapes(space):
    layout = ObsLayout(space)
    enc = MultiEncoder(layout, depth=4, units=8, layers=1)
    dec = MultiDecoder(10, layout, depth=4, units=8, layers=1)
    sample = {
        k: th.as_tensor(np.stack([s.sample() for _ in range(B * T)])).reshape(B, T, *s.shape)
        for k, s in (space.spaces.items() if isinstance(space, spaces.Dict) else [("obs", space)])
    }
    out = enc(sample, batch_dims=2)
    assert out.shape == (B, T, enc.out_dim)
    losses = dec.loss(th.randn(B, T, 10), sample)
    for v in losses.values():
        assert v.shape == (B, T) and v.dtype == th.float32
    preds = dec.predict(th.randn(B, T, 10))
    if layout.image_keys:
        assert preds["image"].shape == (B, T, *layout.image_shape)


def test_bad_spaces_raise_clear_errors():
    with pytest.raises(ValueError, match="divisible by 16"):
        ObsLayout(spaces.Box(0, 255, (3, 84, 84), np.uint8))
    with pytest.raises(ValueError, match="Unsupported observation space"):
        ObsLayout(spaces.Tuple([spaces.Discrete(5)]))
    with pytest.raises(ValueError, match="channel-last"):
        ObsLayout(spaces.Box(0, 255, (64, 64, 3), np.uint8))
    with pytest.raises(ValueError, match="Unsupported action space"):
        ActionCodec(spaces.MultiBinary(3))
    with pytest.raises(ValueError, match="finite bounds"):
        ActionCodec(spaces.Box(-np.inf, np.inf, (2,)))


def test_action_codec_roundtrip():
    box = ActionCodec(spaces.Box(np.array([-2.0, 0.0]), np.array([2.0, 10.0])))
    env_a = np.array([[1.0, 2.5], [-2.0, 10.0]], np.float32)
    assert np.allclose(box.to_env(box.from_env(env_a)), env_a)
    md = ActionCodec(spaces.MultiDiscrete([3, 2]))
    vec = md.from_env(np.array([[2, 1], [0, 0]]))
    assert vec.tolist() == [[0, 0, 1, 0, 1], [1, 0, 0, 1, 0]]
    assert md.to_env(vec).tolist() == [[2, 1], [0, 0]]
    d = ActionCodec(spaces.Discrete(4))
    assert d.to_env(d.from_env(np.array([3, 1]))).tolist() == [3, 1]


def test_from_flat_inverts_feat_and_starts_observe(rssm):
    """A stored latent (``feat``) gives back its state; rows without one get the initial state; observe from it
    differs from a fresh start until an is_first resets it."""
    embed, action, first = th.randn(B, T, E), th.randn(B, T, A), th.zeros(B, T, dtype=th.bool)
    post, _, _ = rssm.observe(embed, action, first)
    flat = rssm.feat(post)[:, -1]
    back = rssm.from_flat(flat)
    assert th.equal(rssm.feat(back), flat)
    valid = th.tensor([True, False, True])
    mixed = rssm.from_flat(flat, valid)
    init = rssm.initial(B)
    assert th.equal(mixed.deter[1], init.deter[1]) and th.equal(mixed.stoch[1], init.stoch[1])
    assert th.equal(mixed.deter[0], flat[0, :12])
    first[:, 2] = True
    th.manual_seed(1)
    fresh, _, _ = rssm.observe(embed, action, first, rssm.from_flat(flat, th.zeros(B, dtype=th.bool)))
    th.manual_seed(1)
    ctx, _, _ = rssm.observe(embed, action, first, mixed)
    th.manual_seed(1)
    none, _, _ = rssm.observe(embed, action, first)
    assert th.equal(fresh.deter, none.deter)  # no valid context = the initial state
    assert not th.allclose(ctx.deter[0, 0], fresh.deter[0, 0]) and th.equal(ctx.deter[1], fresh.deter[1])
    assert th.allclose(ctx.deter[:, 2:], fresh.deter[:, 2:])  # after the reset the context is gone


def test_block_linear_is_a_block_diagonal_dense_map():
    th.manual_seed(0)
    layer = BlockLinear(6, 9, blocks=3)
    dense = th.block_diag(*layer.weight.detach())  # (6, 9): block k maps inputs 2k..2k+1 to outputs 3k..3k+2
    with th.no_grad():
        layer.bias.copy_(th.randn(9))
    x = th.randn(4, 2, 6)
    assert th.allclose(layer(x), x @ dense + layer.bias, atol=1e-6)
    with pytest.raises(ValueError, match="divisible by the number of blocks"):
        BlockLinear(6, 8, blocks=3)


def test_block_gru_core_matches_the_official_update_by_hand():
    """Each group k of h' from [h_k, x0, x1, x2] (x0, x1, x2 the three input layers of h, z and a / max(1, |a|)),
    one block layer, the gate layer split per group into reset / candidate / update, then the GRU update."""
    th.manual_seed(1)
    deter, hidden, blocks, stoch, act = 8, 5, 2, 6, 3
    core = BlockGRUCore(act, stoch, deter, hidden, blocks, dyn_layers=1, norm="rms", act="silu")
    h, z, a = th.randn(4, deter), th.randn(4, stoch), 3.0 * th.randn(4, act)
    got = core(h, z, core.action_proj(a))
    x = th.cat([core.deter_in(h), core.stoch_in(z), core.action_in(a / a.abs().clamp(min=1.0))], -1)
    block, norm_act = core.dyn_hidden[0], core.dyn_hidden[1:]
    d = deter // blocks
    hidden_out = th.cat([th.cat([h[:, k * d : (k + 1) * d], x], -1) @ block.weight[k] for k in range(blocks)], -1)
    y = norm_act(hidden_out + block.bias)
    gates = [y[:, k * d : (k + 1) * d] @ core.gates.weight[k] for k in range(blocks)]  # (4, 3d) per group
    gates = [g + core.gates.bias[k * 3 * d : (k + 1) * 3 * d] for k, g in enumerate(gates)]
    reset, cand, update = (th.cat([g[:, i * d : (i + 1) * d] for g in gates], -1) for i in range(3))
    u = th.sigmoid(update - 1.0)
    want = u * th.tanh(th.sigmoid(reset) * cand) + (1 - u) * h
    assert th.allclose(got, want, atol=1e-6)
    with pytest.raises(ValueError, match="divisible by blocks"):
        BlockGRUCore(act, stoch, 10, hidden, 4)


def test_official_size_presets_build_the_block_gru():
    from dreamer_sb3 import DreamerV3
    from dreamer_sb3.common.sizes import MODEL_SIZES, resolve_size

    assert resolve_size("S")["blocks"] == 0 and resolve_size("S", blocks=4)["blocks"] == 4
    one = resolve_size("1M")
    assert (one["deter"], one["hidden"], one["classes"], one["units"], one["blocks"], one["img_layers"]) == (
        512,
        64,
        4,
        64,
        8,
        2,
    )
    assert [MODEL_SIZES[n]["deter"] for n in ("12M", "25M", "50M", "100M", "200M", "400M")] == [
        2048,
        3072,
        4096,
        6144,
        8192,
        12288,
    ]
    p = DreamerV3("MlpPolicy", "CartPole-v1", policy_kwargs=dict(model_size="1M")).policy
    rssm = p.world_model.rssm
    assert isinstance(rssm.core, BlockGRUCore) and not hasattr(rssm, "gru")
    assert sum(isinstance(m, th.nn.Linear) for m in rssm.prior_net) == 3  # two hidden layers and the logits
    assert p.size["reward_layers"] == p.size["cont_layers"] == 1 and p.size["actor_layers"] == 3


def test_block_gru_agent_trains_saves_and_acts_identically_after_loading(tmp_path):
    from dreamer_sb3 import DreamerV3

    kwargs = dict(learning_starts=8, batch_size=2, batch_length=8, train_ratio=16, seed=0)
    model = DreamerV3("MlpPolicy", "CartPole-v1", policy_kwargs=dict(model_size="1M"), **kwargs)
    model.learn(12)
    model.save(tmp_path / "m")
    loaded = DreamerV3.load(tmp_path / "m", device="cpu")
    assert isinstance(loaded.policy.world_model.rssm.core, BlockGRUCore)
    obs = np.stack([model.observation_space.sample() for _ in range(4)])
    state_a = state_b = None
    for _ in range(3):  # recurrent: the block core carries the latent across steps
        a, state_a = model.predict(obs, state=state_a, deterministic=True)
        b, state_b = loaded.predict(obs, state=state_b, deterministic=True)
        np.testing.assert_array_equal(a, b)
        assert all(np.array_equal(x, y) for x, y in zip(state_a, state_b, strict=True))
