"""RSSM and networks: shapes for every latent / observation / action kind, resets, gradients."""

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from dreamer_sb3.common.actions import ActionCodec
from dreamer_sb3.common.networks import MultiDecoder, MultiEncoder, ObsLayout
from dreamer_sb3.common.rssm import RSSM, State
from dreamer_sb3.common.specs import LatentSpec

B, T, A, E = 3, 5, 4, 16


@pytest.fixture(params=[(8, 4), (6, 0)], ids=["categorical", "gaussian"])
def rssm(request):
    stoch, classes = request.param
    th.manual_seed(0)
    return RSSM(A, E, LatentSpec(deter=12, hidden=10, stoch=stoch, classes=classes, unimix=0.01))


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
