"""DreamerV3's own maths and settings against hand-computed references: the recipe table, the continue
head in imagination, the critic's two-hot loss with the slow-critic regulariser, the replay value loss,
advantages divided by the return scale, the slow critic's EMA, and how episode ends enter the replay."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from dreamer_sb3 import DreamerV3
from dreamer_sb3.common.behavior import Trajectory, imagine
from dreamer_sb3.common.optim import LaProp
from dreamer_sb3.common.replay import SequenceBatch
from dreamer_sb3.common.rssm import State
from dreamer_sb3.dreamerv3.recipes import RECIPES

TINY = dict(policy_kwargs=dict(model_size="tiny"))

# The defaults table of docs/algorithms.md (DreamerV3 section, "ours (default)" column), checked against the code.
DEFAULTS = {
    "recipe": "current",
    "discount_head": "mean",
    "dyn_scale": 1.0,
    "replay_context": 1,
    "replay_online": True,
    "rep_scale": 0.1,
    "free_nats": 1.0,
    "discount": 1.0 - 1.0 / 333.0,
    "gae_lambda": 0.95,
    "imag_horizon": 15,
    "ent_coef": 3e-4,
    "slow_critic_fraction": 0.02,
    "slow_critic_interval": 1,
    "slow_critic_targets": False,
    "slow_reg_scale": 1.0,
    "replay_value_scale": 0.3,
    "replay_value_grad": False,
    "reinforce_mix": 1.0,
    "batch_size": 16,
    "batch_length": 64,
    "learning_rate": 1e-4,
    "actor_lr": 3e-5,
    "critic_lr": 3e-5,
    "model_grad_clip": 1000.0,
    "ac_grad_clip": 100.0,
    "optimizer": "adam",
}


def _model(**kwargs) -> DreamerV3:
    return DreamerV3("MlpPolicy", "CartPole-v1", seed=0, **{**TINY, **kwargs})


def test_defaults_match_the_documented_table():
    model = DreamerV3("MlpPolicy", "CartPole-v1", _init_setup_model=False)
    for key, value in DEFAULTS.items():
        assert getattr(model, key) == pytest.approx(value) if isinstance(value, float) else getattr(model, key) == value, key
    pk = DreamerV3.default_policy_kwargs
    assert (pk["unimix"], pk["critic_head"], pk["reward_head"], pk["symlog_obs"]) == (0.01, "twohot", "twohot", True)
    assert (pk["return_norm"], pk["slow_critic"]) == (True, True)
    built = _model().policy
    assert type(built.model_optimizer) is th.optim.Adam and built.model_optimizer.param_groups[0]["eps"] == 1e-8
    assert built.actor_optimizer.param_groups[0]["eps"] == built.critic_optimizer.param_groups[0]["eps"] == 1e-5


def test_laprop_switch_sets_the_current_official_optimiser():
    model = _model(optimizer="laprop")
    p = model.policy
    assert (model.learning_rate, model.actor_lr, model.critic_lr) == (4e-5, 4e-5, 4e-5)
    assert model.model_grad_clip == model.ac_grad_clip == math.inf  # adaptive clipping per tensor instead
    for opt in (p.model_optimizer, p.actor_optimizer, p.critic_optimizer):
        group = opt.param_groups[0]
        assert isinstance(opt, LaProp) and (group["lr"], group["eps"], group["agc"], group["warmup"]) == (
            4e-5,
            1e-20,
            0.3,
            1000,
        )
    # explicit arguments and the user's policy_kwargs win over the optimiser's defaults
    tuned = _model(
        optimizer="laprop", learning_rate=1e-3, ac_grad_clip=50.0, policy_kwargs=dict(model_size="tiny", ac_eps=1e-6, warmup=0)
    )
    group = tuned.policy.model_optimizer.param_groups[0]
    assert (group["lr"], group["warmup"], tuned.ac_grad_clip, tuned.model_grad_clip) == (1e-3, 0, 50.0, math.inf)
    assert tuned.policy.actor_optimizer.param_groups[0]["eps"] == 1e-6
    with pytest.raises(ValueError, match="optimizer must be one of"):
        _model(optimizer="sgd")


def test_laprop_trains_saves_and_resumes_identically(tmp_path):
    kwargs = dict(optimizer="laprop", learning_starts=8, batch_size=2, batch_length=8, train_ratio=16)
    model = _model(**kwargs, policy_kwargs=dict(model_size="tiny", warmup=3))
    model.learn(14)  # updates from step 8: the warm-up (3) is over
    opt = model.policy.model_optimizer
    assert model._n_updates > 3 and all(s["step"] == model._n_updates for s in opt.state.values())
    model.save(tmp_path / "m")
    loaded = DreamerV3.load(tmp_path / "m", device="cpu")
    assert loaded.optimizer == "laprop" and isinstance(loaded.policy.model_optimizer, LaProp)
    assert loaded.policy.model_optimizer.state_dict()["state"].keys() == opt.state_dict()["state"].keys()
    # one more update on the same batch from the original and the loaded agent: the same step
    buf = model.replay_buffer
    batch = buf.sample(2, 8, model.replay_within_episodes, model.prioritize_ends, model.replay_context).to_torch("cpu")
    for agent in (model, loaded):
        th.manual_seed(5)
        agent.train_step(batch)
    for a, b in zip(model.policy.parameters(), loaded.policy.parameters(), strict=True):
        assert th.equal(a, b)


def test_recipe_2023_and_explicit_settings_win():
    old = DreamerV3("MlpPolicy", "CartPole-v1", recipe="2023", _init_setup_model=False)
    assert (old.recipe, old.discount_head, old.dyn_scale, old.replay_context, old.replay_online) == (
        "2023",
        "mode",
        0.5,
        0,
        False,
    )
    mixed = DreamerV3("MlpPolicy", "CartPole-v1", recipe="2023", discount_head="mean", _init_setup_model=False)
    assert (mixed.discount_head, mixed.dyn_scale) == ("mean", 0.5)
    assert set(RECIPES["current"]) == set(RECIPES["2023"])
    with pytest.raises(ValueError, match="recipe must be one of"):
        DreamerV3("MlpPolicy", "CartPole-v1", recipe="2024", _init_setup_model=False)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="replay_context must be 0 or more"):
        DreamerV3("MlpPolicy", "CartPole-v1", replay_context=-1, _init_setup_model=False)
    with pytest.raises(ValueError, match="discount_head must be"):
        DreamerV3("MlpPolicy", "CartPole-v1", discount_head="prob", _init_setup_model=False)  # type: ignore[arg-type]


def _set_constant_output(mlp, bias: th.Tensor | float) -> None:
    """Make an MLP head output ``bias`` for every input (zero output weights)."""
    with th.no_grad():
        mlp.out.weight.zero_()
        mlp.out.bias.copy_(th.as_tensor(bias, dtype=mlp.out.bias.dtype).expand_as(mlp.out.bias))


@pytest.mark.parametrize("head, cont", [("mean", 0.8), ("mode", 1.0)])
def test_imagination_reads_the_continue_head(head, cont):
    model = _model()
    p = model.policy
    _set_constant_output(p.world_model.cont.net, math.log(0.8 / 0.2))  # p(continue) = 0.8 everywhere
    n, gamma = 5, 0.9
    start = State(th.zeros(n, p.world_model.rssm.deter_size), th.zeros(n, p.world_model.rssm.stoch_size))
    start_cont = th.tensor([1.0, 1.0, 0.0, 1.0, 1.0])
    traj = imagine(p, start, start_cont, 3, gamma, backprop=False, discount_head=head)
    assert th.allclose(traj.discount, th.full((3, n), gamma * cont))
    expected = start_cont[None] * th.tensor([1.0, gamma * cont, (gamma * cont) ** 2, (gamma * cont) ** 3])[:, None]
    assert th.allclose(traj.weight, expected)


def test_behavior_step_uses_the_models_discount_head(monkeypatch):
    import dreamer_sb3.common.actor_critic as ac

    seen = []
    real = ac.imagine

    def spy(*args, **kwargs):
        seen.append(args[6] if len(args) > 6 else kwargs["discount_head"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ac, "imagine", spy)
    for recipe, head in (("current", "mean"), ("2023", "mode")):
        model = _model(recipe=recipe, learning_starts=8, batch_size=2, batch_length=8, train_ratio=16)
        model.learn(11)  # one update per env step from step 8
        assert seen and set(seen) == {head}
        seen.clear()


def _critic_reference(logits: th.Tensor, bins: th.Tensor, target: float) -> float:
    """-sum(twohot(target) * log_softmax(logits)) by hand."""
    logp = th.log_softmax(logits.double(), -1)
    b = bins.double()
    k = int(th.searchsorted(b, th.tensor(target, dtype=th.float64), right=True)) - 1
    w_hi = (target - b[k]) / (b[k + 1] - b[k])
    return float(-((1 - w_hi) * logp[k] + w_hi * logp[k + 1]))


def test_critic_two_hot_loss_and_slow_critic_regulariser():
    model = _model()
    p = model.policy
    _, critic = p.actor_critic()
    k = critic.bins.shape[0]
    fast_logits = th.linspace(-2.0, 2.0, k) ** 2 / 3.0
    slow_logits = -th.linspace(-3.0, 1.0, k).abs()
    _set_constant_output(critic.net, fast_logits)
    _set_constant_output(p.slow_critic.net, slow_logits)
    feat = th.zeros(2, p.world_model.rssm.feat_size)
    target = th.tensor([3.7, -12.25])
    slow_mean = float((th.softmax(slow_logits.double(), -1) * critic.bins.double()).sum())
    got = model._critic_nll(feat, target).detach()
    for i, t in enumerate(target.tolist()):
        expected = _critic_reference(fast_logits, critic.bins, t) + _critic_reference(fast_logits, critic.bins, slow_mean)
        assert float(got[i]) == pytest.approx(expected, rel=1e-5)
    model.slow_reg_scale = 0.0
    expected = _critic_reference(fast_logits, critic.bins, 3.7)
    assert float(model._critic_nll(feat, target)[0].detach()) == pytest.approx(expected, rel=1e-5)


def test_replay_value_loss_hand_computed(monkeypatch):
    model = _model(discount=0.5, gae_lambda=0.5)
    # The critic NLL of a target is the target itself: the loss then exposes the targets and masks.
    monkeypatch.setattr(model, "_critic_nll", lambda feat, target: target)
    b, t, h = 2, 4, 3
    p = model.policy
    rssm = p.world_model.rssm
    post = State(th.zeros(b, t, rssm.deter_size), th.zeros(b, t, rssm.stoch_size))
    batch = SequenceBatch(
        obs={},
        action=th.zeros(b, t, 2),
        reward=th.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 1.0, 5.0, 7.0]]),
        is_first=th.tensor([[True, False, False, False], [True, False, True, False]]),
        is_terminal=th.tensor([[False, False, True, False], [False, False, False, False]]),
    )
    boot = th.tensor([[10.0, 20.0, 30.0, 40.0], [1.0, 2.0, 3.0, 4.0]])
    ret = th.zeros(h, b * t)
    ret[0] = boot.reshape(-1)
    traj = Trajectory(th.zeros(h + 1, b * t, rssm.feat_size), th.zeros(h, b * t, 2), ret, ret, th.ones(h + 1, b * t))
    loss, metrics = model._critic_loss(traj, ret, post, batch)
    # row 0, γ = λ = 0.5, terminal at step 2:  R2 = 3 + .5 (.5·40 + .5·40) = 23;  R1 = 2 (no continuation);
    # R0 = 1 + .5 (.5·20 + .5·2) = 6.5.  Row 1: is_first at step 2 masks R1; R2 = 7 + .5 (.5·4 + .5·4) = 9;
    # R0 = 1 + .5 (.5·2 + .5·R1) with R1 = boot 2 (the episode ends before step 2): 1 + .5·2 = 2.
    rep = (6.5 + 2.0 + 23.0 + 2.0 + 0.0 + 9.0) / 6
    assert float(metrics["replay_value_loss"]) == pytest.approx(rep)
    assert float(metrics["critic_loss"]) == pytest.approx(float(ret.mean()))
    assert float(loss) == pytest.approx(float(ret.mean()) + 0.3 * rep)


def _world_model_grads_of_the_replay_value_loss(replay_value_grad: bool, replay_value_scale: float) -> list[th.Tensor]:
    """World-model gradients of one update whose own world-model loss weighs nothing: what is left is the share
    of the replay value loss (the update's randomness reseeded, so the runs differ only in the setting)."""
    model = _model(
        learning_starts=10_000,
        batch_size=2,
        batch_length=8,
        train_ratio=16,
        dyn_scale=0.0,
        rep_scale=0.0,
        replay_value_grad=replay_value_grad,
        replay_value_scale=replay_value_scale,
    )
    model.model_loss_scales = {"vector": 0.0, "reward": 0.0, "cont": 0.0}
    model.learn(64)  # fills the replay, no update yet
    th.manual_seed(1)
    with th.no_grad():  # the critic's output layer starts at zero, which would pass no gradient to its input
        for param in model.policy.actor_critic()[1].parameters():
            param.add_(0.05 * th.randn_like(param))
    batch = model.replay_buffer.sample(2, 8).to_torch(model.device)
    th.manual_seed(2)
    model.policy.set_training_mode(True)
    model.train_step(batch)
    return [p.grad.clone() if p.grad is not None else th.zeros_like(p) for p in model.policy.world_model.parameters()]


def test_replay_value_grad_trains_the_world_model_with_the_loss_scale():
    detached = _world_model_grads_of_the_replay_value_loss(False, 0.3)
    assert all(float(g.abs().max()) == 0.0 for g in detached)  # the critic's loss stops at the features
    joint = _world_model_grads_of_the_replay_value_loss(True, 0.3)
    assert sum(float(g.abs().sum()) for g in joint) > 0  # the official path: it reaches the encoder and the RSSM
    doubled = _world_model_grads_of_the_replay_value_loss(True, 0.6)
    for g, g2 in zip(joint, doubled):
        th.testing.assert_close(g2, 2 * g, rtol=1e-4, atol=1e-7)


def test_advantages_are_divided_by_the_return_scale():
    model = _model(ent_coef=0.0)
    p = model.policy
    norm = p.return_norm
    norm.lo.fill_(-100.0)
    norm.hi.fill_(300.0)
    h, n = 4, 50
    gen = th.Generator().manual_seed(0)
    feat = th.randn(h + 1, n, p.world_model.rssm.feat_size, generator=gen)
    actor, _ = p.actor_critic()
    with th.no_grad():
        action = actor(feat[:-1]).rsample()
    ret = th.randn(h, n, generator=gen) * 10
    value = th.randn(h + 1, n, generator=gen)
    weight = th.rand(h + 1, n, generator=gen)
    traj = Trajectory(feat, action, th.zeros(h, n), th.ones(h, n), weight)
    lo, hi = th.quantile(ret.flatten(), th.tensor([0.05, 0.95]))
    scale = max(1.0, float((0.99 * 300 + 0.01 * hi) - (0.99 * -100 + 0.01 * lo)))
    loss, metrics = model._actor_loss(traj, ret, value)
    logp = actor(feat[:-1]).log_prob(action)
    expected = -(weight[:-1] * logp * (ret - value[:-1]) / scale).mean()
    assert float(metrics["return_scale"]) == pytest.approx(scale, rel=1e-5)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)
    # a small return range is not scaled up: max(1, S)
    norm.lo.zero_()
    norm.hi.zero_()
    _, metrics = model._actor_loss(traj, th.zeros(h, n), value)
    assert float(metrics["return_scale"]) == 1.0


def test_slow_critic_is_an_ema_with_rate_002():
    model = _model()
    p = model.policy
    _, critic = p.actor_critic()
    with th.no_grad():
        for fast, slow in zip(critic.parameters(), p.slow_critic.parameters()):
            fast.fill_(1.0)
            slow.fill_(-1.0)
    model._update_slow_critic()
    for slow in p.slow_critic.parameters():
        assert th.allclose(slow, th.full_like(slow, -1.0 + 0.02 * 2.0))


class _Episodes(gym.Env):
    """obs = (episode, t); reward t; even episodes terminate at t = 3, odd ones run into a 4-step time limit."""

    observation_space = spaces.Box(-100, 100, (2,), np.float32)
    action_space = spaces.Discrete(2)

    def __init__(self) -> None:
        self.episode, self.t = -1, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return np.array([self.episode, 0], np.float32), {}

    def step(self, action):
        self.t += 1
        terminated = self.episode % 2 == 0 and self.t == 3
        return np.array([self.episode, self.t], np.float32), float(self.t), terminated, False, {}


def test_replay_stores_episode_ends():
    env = gym.wrappers.TimeLimit(_Episodes(), max_episode_steps=4)
    model = DreamerV3("MlpPolicy", env, learning_starts=10**6, seed=0, **TINY)
    model.learn(12)
    rb = model.replay_buffer
    rows = int(rb.pos[0])
    # reset, 3 steps (terminated), reset, 4 steps (truncated), reset, 3 steps (terminated), reset, 2 steps
    episodes = [(0, 3), (1, 4), (2, 3), (3, 2)]
    expected_obs = [[e, t] for e, n in episodes for t in range(n + 1)]
    assert rows == len(expected_obs) == 16
    stored_obs = next(iter(rb.obs.values()))[0, :rows]
    assert np.array_equal(stored_obs, expected_obs)  # the terminal observation, then the reset one
    obs_t = np.array(expected_obs)[:, 1]
    assert np.array_equal(rb.is_first[0, :rows], obs_t == 0)
    ends = np.array([[e, t] == [0, 3] or [e, t] == [2, 3] for e, t in expected_obs])
    assert np.array_equal(rb.is_terminal[0, :rows], ends)  # the truncated episode's last step is not terminal
    assert np.array_equal(rb.reward[0, :rows], obs_t.astype(np.float32))  # reset rows carry reward 0
    assert np.all(rb.action[0, :rows][obs_t == 0] == 0)  # and no action
    assert np.allclose(rb.action[0, :rows][obs_t > 0].sum(-1), 1.0)  # one-hot actions elsewhere


def test_acting_latent_resets_on_episode_start(monkeypatch):
    env = gym.wrappers.TimeLimit(_Episodes(), max_episode_steps=4)
    model = DreamerV3("MlpPolicy", env, learning_starts=2, train_ratio=1e-9, seed=0, **TINY)
    firsts, steps = [], []
    real = model.policy.step

    def spy(state, prev, obs, is_first, deterministic=False):
        firsts.append(bool(is_first[0]))
        steps.append(int(obs[next(iter(obs))][0, 1]))
        return real(state, prev, obs, is_first, deterministic)

    monkeypatch.setattr(model.policy, "step", spy)
    model.learn(14)
    assert model._n_updates == 0
    # the policy acts from step 2 on: a fresh latent there, then a reset exactly where an episode starts (t == 0)
    assert firsts[0] is True
    assert firsts[1:] == [t == 0 for t in steps[1:]]


def test_save_load_keeps_the_recipe_and_legacy_agents_keep_their_training_settings(tmp_path):
    import pathlib

    model = DreamerV3("MlpPolicy", "CartPole-v1", recipe="2023", discount_head="mean", seed=0, **TINY)
    model.save(tmp_path / "m")
    loaded = DreamerV3.load(tmp_path / "m", device="cpu")
    assert (loaded.recipe, loaded.discount_head, loaded.dyn_scale) == ("2023", "mean", 0.5)
    with open(tmp_path / "m.zip", "rb") as f:  # from a file object too
        assert DreamerV3.load(f, device="cpu").discount_head == "mean"
    # the shipped Acrobot agent predates `recipe` and `discount_head`: it was trained with the 2023 mode
    shipped = pathlib.Path(__file__).parents[2] / "zoo/agents/dreamerv3/Acrobot-v1_1/Acrobot-v1.zip"
    old = DreamerV3.load(shipped, device="cpu")
    assert (old.recipe, old.discount_head, old.dyn_scale, old.replay_context) == ("2023", "mode", 0.5, 0)
    # the shipped CartPole agent has the current recipe but predates replay context: it trained without one
    cartpole = DreamerV3.load(shipped.parents[1] / "CartPole-v1_1/CartPole-v1.zip", device="cpu")
    assert (cartpole.recipe, cartpole.replay_context, cartpole.replay_online) == ("current", 0, False)
    assert old.replay_online is False  # and before the online queue: none
    assert DreamerV3.load(shipped.parents[1] / "CartPole-v1_1/CartPole-v1.zip", replay_context=1).replay_context == 1


def test_replay_context_stores_the_acting_latent_of_each_acted_on_step(monkeypatch):
    """With replay context each step the policy acted on holds that acting latent; terminal and truncated
    last steps (never acted on) and the random-prefill steps hold none."""
    env = gym.wrappers.TimeLimit(_Episodes(), max_episode_steps=4)
    model = DreamerV3("MlpPolicy", env, learning_starts=2, train_ratio=1e-9, replay_context=1, seed=0, **TINY)
    assert model.replay_context == 1
    acted: dict[tuple[int, int], np.ndarray] = {}
    real = model.policy.step

    def spy(state, prev, obs, is_first, deterministic=False):
        new_state, action = real(state, prev, obs, is_first, deterministic)
        episode, t = (int(x) for x in obs[next(iter(obs))][0])
        acted[(episode, t)] = model.policy.world_model.rssm.feat(new_state)[0].float().numpy()
        return new_state, action

    monkeypatch.setattr(model.policy, "step", spy)
    model.learn(12)
    rb = model.replay_buffer
    assert model._n_updates == 0 and rb.latent_dim == model.policy.world_model.rssm.feat_size
    rows = int(rb.pos[0])
    stored_obs = next(iter(rb.obs.values()))[0, :rows].astype(int)
    for row, (episode, t) in enumerate(stored_obs):
        if (episode, t) in acted:
            assert rb.has_latent[0, row], (episode, t)
            np.testing.assert_allclose(rb.latent[0, row], acted[(episode, t)], rtol=1e-3, atol=1e-3)
        else:
            assert not rb.has_latent[0, row], (episode, t)
    never_acted = {(int(e), int(t)) for e, t in stored_obs} - set(acted)
    # 2 prefill steps, 3 episode ends, and the latest observation (acted on at the next step)
    assert never_acted == {(0, 0), (0, 1), (0, 3), (1, 4), (2, 3), (3, 2)}


def test_replay_context_trains_from_the_stored_latent_and_writes_posteriors_back():
    model = _model(learning_starts=64, batch_size=4, batch_length=8, train_ratio=16, replay_context=1)
    model.learn(120)
    rb = model.replay_buffer
    assert model._n_updates > 0
    rows = int(rb.sizes()[0])
    assert rb.has_latent[0, :rows].mean() > 0.9  # acted-on steps and replayed ones
    batch = rb.sample(4, 8, context=1)
    assert batch.has_context.all()
    tb = batch.to_torch("cpu")
    th.manual_seed(0)
    _, post, _ = model.world_model_loss(tb)
    feat = model.policy.world_model.rssm.feat(post).detach().numpy()
    env, idx = batch.index
    last = {}  # windows may overlap: a step replayed twice keeps the later window's posterior
    for b, t in np.ndindex(idx.shape):
        last[(int(env[b, 0]), int(idx[b, t]))] = feat[b, t]
    for (e, i), f in last.items():
        np.testing.assert_allclose(rb.latent[e, i], f, rtol=1e-2, atol=1e-2)  # written back (float16)
    # the context changes the posteriors of a window that does not start an episode; no context = fresh start
    fresh = tb._replace(has_context=th.zeros_like(tb.has_context))
    th.manual_seed(0)
    _, post_fresh, _ = model.world_model_loss(fresh)
    th.manual_seed(0)
    _, post_none, _ = model.world_model_loss(tb._replace(context=None, has_context=None, index=None))
    assert th.equal(post_fresh.deter, post_none.deter)
    cont = ~batch.is_first[:, 0]
    assert cont.any()
    assert not th.allclose(post.deter[cont, 0], post_fresh.deter[cont, 0])


def test_online_queue_follows_the_recipe_and_feeds_training(tmp_path):
    kwargs = dict(learning_starts=8, batch_size=2, batch_length=8, train_ratio=16)  # one update per env step
    model = _model(**kwargs)
    assert model.replay_online and model.replay_buffer.online_length == 8 + 1  # the window with its context
    sampled = []
    real = model.replay_buffer.sample

    def spy(*args, **kwargs):
        queued = len(model.replay_buffer.online_queue)
        batch = real(*args, **kwargs)
        sampled.append(queued - len(model.replay_buffer.online_queue))
        return batch

    model.replay_buffer.sample = spy
    model.learn(40)
    assert sum(sampled) == 4  # every queued window (ending at steps 9, 18, 27, 36) was replayed, each once
    assert len(model.replay_buffer.online_queue) == 0
    model.save_replay_buffer(tmp_path / "replay")
    fresh = _model(**kwargs)
    fresh.load_replay_buffer(tmp_path / "replay")
    assert fresh.replay_buffer.online_length == 9 and fresh.replay_buffer.added.tolist() == model.replay_buffer.added.tolist()
    assert _model(replay_online=False, **kwargs).replay_buffer.online_length == 0
    assert _model(recipe="2023", **kwargs).replay_buffer.online_length == 0
