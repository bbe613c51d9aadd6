"""How settings flow, for the whole family: SB3's construction order, plain-attribute settings, one precedence rule
for policy arguments, heads that return distributions, typed batches and the one imagination loop."""

import math

import numpy as np
import pytest
import torch as th
import torch.nn.functional as F

from dreamer_sb3 import DreamerV1, DreamerV2, DreamerV3, PlaNet
from dreamer_sb3.common.distributions import BernoulliDist, ScalarDistribution
from dreamer_sb3.common.heads import ContinueHead
from dreamer_sb3.common.networks import MLP
from dreamer_sb3.common.replay import SequenceBatch, SequenceReplay
from dreamer_sb3.common.rssm import RSSM, State
from dreamer_sb3.common.specs import LatentSpec, NetSpec

TINY = dict(policy_kwargs=dict(model_size="tiny"), learning_starts=100, batch_size=2, batch_length=4)
PLANET = dict(n_candidates=8, top_k=2, cem_iters=1, planning_horizon=2)

#: the knobs of the shared updates: each must be a plain instance attribute, never a property or class attribute
WORLD_MODEL_KNOBS = ("free_nats", "dyn_scale", "rep_scale", "model_grad_clip", "model_loss_scales")
ACTOR_CRITIC_KNOBS = (
    "actor_lr",
    "critic_lr",
    "imag_horizon",
    "discount",
    "gae_lambda",
    "ent_coef",
    "ac_grad_clip",
    "reinforce_mix",
    "slow_critic_fraction",
    "slow_critic_interval",
    "slow_critic_targets",
    "discount_head",
)


def make(cls, env_id="CartPole-v1", **kwargs):
    extra = PLANET if cls is PlaNet else {}
    return cls("MlpPolicy", env_id, seed=0, **{**TINY, **extra, **kwargs})


@pytest.mark.parametrize("cls", [PlaNet, DreamerV1, DreamerV2, DreamerV3])
def test_construction_order_builds_last_and_settings_are_plain_attributes(cls):
    lazy = cls("MlpPolicy", "CartPole-v1", _init_setup_model=False)
    assert "policy" not in vars(lazy) and lazy.replay_buffer is None  # the base built nothing
    knobs = WORLD_MODEL_KNOBS + (() if cls is PlaNet else ACTOR_CRITIC_KNOBS)
    for name in knobs:
        assert name in vars(lazy), f"{cls.__name__}.{name} is not an instance attribute"
        for klass in cls.__mro__:
            assert name not in vars(klass), f"{klass.__name__} defines {name} at class level"


def test_each_paper_maps_its_parameterisation_in_its_constructor():
    v2 = DreamerV2("MlpPolicy", "Pendulum-v1", kl_balance=0.8, kl_scale=2.0, target_update_interval=7, _init_setup_model=False)
    assert (v2.dyn_scale, v2.rep_scale) == pytest.approx((1.6, 0.4))
    assert (v2.slow_critic_interval, v2.slow_critic_fraction, v2.slow_critic_targets) == (7, 1.0, True)
    assert v2.discount_head == "mean" and v2.model_loss_scales == {"image": 0.5, "vector": 0.5, "cont": 1.0}
    v3 = DreamerV3("MlpPolicy", "Pendulum-v1", actor_grad="dynamics", _init_setup_model=False)
    assert (v3.reinforce_mix, v3.slow_critic_interval, v3.slow_critic_targets) == (0.0, 1, False)
    planet = PlaNet("MlpPolicy", "Pendulum-v1", kl_scale=0.5, discount_scale=3.0, _init_setup_model=False)
    assert (planet.dyn_scale, planet.rep_scale) == (0.5, 0.5)
    assert planet.model_loss_scales == {"image": 0.5, "vector": 0.5, "reward": 10.0, "cont": 3.0}
    v1 = DreamerV1("MlpPolicy", "Pendulum-v1", kl_scale=2.0, _init_setup_model=False)
    assert (v1.dyn_scale, v1.rep_scale, v1.reinforce_mix) == (2.0, 2.0, 0.0)


@pytest.mark.parametrize("cls", [DreamerV1, DreamerV2, DreamerV3])
def test_user_policy_kwargs_win_over_derived_learning_rates(cls):
    model = make(cls, actor_lr=1e-4, critic_lr=2e-4, policy_kwargs=dict(model_size="tiny", actor_lr=7e-3))
    assert model.policy.actor_optimizer.param_groups[0]["lr"] == 7e-3  # the user's explicit entry
    assert model.policy.critic_optimizer.param_groups[0]["lr"] == 2e-4  # derived from the algorithm's argument


@pytest.mark.parametrize("cls", [PlaNet, DreamerV1, DreamerV2])
def test_user_cont_head_wins_over_predict_discount(cls):
    kwargs = dict(predict_discount=False, policy_kwargs=dict(model_size="tiny", cont_head=True))
    assert make(cls, **kwargs).policy.world_model.cont is not None
    assert make(cls, predict_discount=True).policy.world_model.cont is not None  # derived wins over the default
    assert make(cls, predict_discount=False).policy.world_model.cont is None


def test_derived_preset_size_wins_over_default_and_user_size_wins_over_both():
    dmc = DreamerV2("MlpPolicy", "Pendulum-v1", seed=0)
    assert dmc.policy.world_model.rssm.deter_size == 200  # "v2-dmc" from the preset, over the default "v2"
    user = DreamerV2("MlpPolicy", "Pendulum-v1", policy_kwargs=dict(model_size="tiny"))
    assert user.policy.world_model.rssm.deter_size == 128  # the user's size
    planet = make(PlaNet, policy_kwargs=dict(model_size="tiny", planning_horizon=5))
    assert planet.policy.planning_horizon == 5 and planet.planning_horizon == 2  # user entry over derived


def test_continue_head_is_a_bernoulli_distribution():
    logits = th.tensor([0.0, 2.0, -3.0])
    dist = BernoulliDist(logits)
    assert isinstance(dist, ScalarDistribution)
    assert th.allclose(dist.mean, th.tensor([0.5, 1 / (1 + math.exp(-2.0)), 1 / (1 + math.exp(3.0))]))
    assert th.equal(dist.mode(), th.tensor([0.0, 1.0, 0.0]))
    # log p(1) = log sigmoid(l), log p(0) = log sigmoid(-l); soft targets mix them
    assert dist.log_prob(th.ones(3))[0].item() == pytest.approx(math.log(0.5))
    assert dist.log_prob(th.zeros(3))[2].item() == pytest.approx(math.log(1 / (1 + math.exp(-3.0))), rel=1e-6)
    target = th.tensor([0.25, 0.5, 1.0])
    expected = -F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    assert th.allclose(dist.log_prob(target), expected)


def test_continue_head_loads_checkpoints_of_the_bare_mlp():
    net = NetSpec(units=8, layers=1, cnn_depth=4)
    head = ContinueHead(5, net)
    legacy = MLP(5, 1, 8, 1)  # the continue head before it had a home: keys hidden.* / out.* directly
    head.load_state_dict(legacy.state_dict())
    x = th.randn(3, 5)
    assert th.equal(head(x).logits, legacy(x)[..., 0])


def test_replay_batches_are_typed_with_bool_flags():
    buf = SequenceReplay(100, 1, {"obs": ((3,), np.float32)}, action_dim=2, seed=0)
    for t in range(20):
        first, terminal = np.array([t % 7 == 0]), np.array([t % 7 == 6])
        buf.add({"obs": np.full((1, 3), t, np.float32)}, np.zeros((1, 2), np.float32), np.ones(1), first, terminal)
    batch = buf.sample(4, 5)
    assert isinstance(batch, SequenceBatch) and batch.is_first.dtype == bool and batch.is_terminal.dtype == bool
    tensors = batch.to_torch("cpu")
    assert tensors.is_first.dtype == th.bool and tensors.is_terminal.dtype == th.bool
    assert tensors.obs["obs"].shape == (4, 5, 3) and tensors.action.shape == (4, 5, 2)
    steps = tensors.obs["obs"][..., 0].long()
    assert th.equal(tensors.is_first, steps % 7 == 0)


def test_rssm_rejects_float_flags():
    rssm = RSSM(2, 4, LatentSpec(deter=6, hidden=5, stoch=3, classes=0))
    with pytest.raises(TypeError, match="bool"):
        rssm.observe(th.randn(1, 2, 4), th.zeros(1, 2, 2), th.zeros(1, 2))


@pytest.mark.parametrize("classes", [0, 4])
def test_one_imagination_loop_open_loop_equals_closed_loop(classes):
    th.manual_seed(0)
    rssm = RSSM(3, 4, LatentSpec(deter=6, hidden=5, stoch=4, classes=classes))
    start = rssm.initial(5)
    start = State(start.deter + 0.1 * th.randn_like(start.deter), start.stoch)
    actions = th.randn(4, 5, 3)
    steps = iter(range(4))
    closed_feat, closed_actions = rssm.imagine(start, lambda feat: actions[next(steps)], 4, deterministic=True)
    open_feat, open_actions = rssm.imagine(start, actions, 4, deterministic=True)
    assert th.equal(open_actions, actions) and th.equal(closed_actions, actions)
    assert open_feat.shape == (5, 5, rssm.feat_size)
    assert th.allclose(open_feat, closed_feat, atol=1e-6)


def _as_version_0(path, drop):
    """Rewrite a saved model as a file written before SETTINGS_VERSION 1: no stamp, the mapped settings absent."""
    import json
    import zipfile

    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    data = json.loads(members["data"])
    for key in ("_settings_version", *drop):
        data.pop(key)
    members["data"] = json.dumps(data).encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, blob in members.items():
            archive.writestr(name, blob)


def test_version_0_files_get_their_settings_derived_from_their_saved_arguments(tmp_path):
    model = DreamerV2("MlpPolicy", "Pendulum-v1", kl_scale=2.0, discount_scale=3.0, target_update_interval=9, **TINY)
    model.save(tmp_path / "v2.zip")
    assert DreamerV2.load(tmp_path / "v2.zip").dyn_scale == pytest.approx(1.6)  # stamped: stored as is
    _as_version_0(tmp_path / "v2.zip", ["dyn_scale", "rep_scale", "model_loss_scales", "slow_critic_interval"])
    loaded = DreamerV2.load(tmp_path / "v2.zip")  # no env: the preset cannot be read from an action space
    assert (loaded.dyn_scale, loaded.rep_scale) == pytest.approx((1.6, 0.4))
    assert loaded.model_loss_scales["cont"] == 3.0 and loaded.slow_critic_interval == 9
    planet = make(PlaNet, kl_scale=0.25, discount_scale=4.0)
    planet.save(tmp_path / "planet.zip")
    _as_version_0(tmp_path / "planet.zip", ["dyn_scale", "rep_scale", "model_loss_scales"])
    loaded_planet = PlaNet.load(tmp_path / "planet.zip")
    assert (loaded_planet.dyn_scale, loaded_planet.model_loss_scales["cont"]) == (0.25, 4.0)
