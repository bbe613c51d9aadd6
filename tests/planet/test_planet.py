"""PlaNet: the CEM planner finds known optima through a trivial latent; exploration noise, bounds,
discrete actions, the world-model loss's KL settings, and learning Pendulum well above random."""

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from gymnasium import spaces
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from torch import nn

from dreamer_sb3 import PlaNet
from dreamer_sb3.common.distributions import BernoulliDist, MSEDist
from dreamer_sb3.common.rssm import State
from dreamer_sb3.planet import PlanetPolicy
from dreamer_sb3.wrappers.action_repeat import ActionRepeat
from tests.learning import Timer, random_return

OBS = spaces.Box(-1.0, 1.0, (3,), np.float32)


class QuadraticReward(nn.Module):
    """Reward of a latent ``feat = (target, last_action)``: ``-|a - a*|^2``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, feat: th.Tensor) -> MSEDist:
        target, action = feat[..., : self.dim], feat[..., self.dim :]
        return MSEDist(-((action - target) ** 2).sum(-1))


def trivial_latent_policy(action_space: spaces.Space, **cem) -> PlanetPolicy:
    """A PlanetPolicy whose latent carries the per-env target in ``deter`` and the last action in
    ``stoch``, so its reward is a known function of the planned actions."""
    policy = PlanetPolicy(
        OBS,
        action_space,
        lambda _: 1e-3,
        model_size="tiny",
        classes=0,
        actor=False,
        critic=False,
        slow_critic=False,
        return_norm=False,
        cont_head=False,
        reward_head="mse",
        **cem,
    )

    def img_step(state, action, deterministic=False, action_proj=None):
        return State(state.deter, action), None

    policy.world_model.rssm.img_step = img_step
    policy.world_model.reward = QuadraticReward(policy.codec.dim)
    return policy


def test_cem_converges_to_quadratic_optimum_per_env():
    th.manual_seed(0)
    policy = trivial_latent_policy(
        spaces.Box(-2.0, 2.0, (2,), np.float32), planning_horizon=4, n_candidates=1000, top_k=100, cem_iters=10
    )
    targets = th.tensor([[0.5, -0.3], [-0.8, 0.1], [0.0, 0.9]])  # one optimum per env, inside the bounds
    state = State(targets, th.zeros(3, 2))
    for deterministic in (True, False):
        action = policy.plan(state, deterministic)
        assert action.shape == (3, 2)
        assert th.allclose(action, targets, atol=0.03), action


def test_cem_respects_action_bounds():
    th.manual_seed(0)
    policy = trivial_latent_policy(
        spaces.Box(-1.0, 1.0, (2,), np.float32), planning_horizon=3, n_candidates=500, top_k=50, cem_iters=8
    )
    state = State(th.tensor([[1.7, -3.0]]), th.zeros(1, 2))  # optimum outside [-1, 1]
    action = policy.plan(state)
    assert (action.abs() <= 1.0).all()
    assert th.allclose(action, th.tensor([[1.0, -1.0]]), atol=0.02)


def test_cem_discrete_actions_pick_the_rewarded_class():
    th.manual_seed(0)
    policy = trivial_latent_policy(spaces.Discrete(4), planning_horizon=3, n_candidates=200, top_k=20, cem_iters=4)
    target = th.nn.functional.one_hot(th.tensor([2, 0]), 4).float()
    action = policy.plan(State(target, th.zeros(2, 4)))
    assert th.equal(action, target)  # one-hot vectors: what the world model and the replay see
    env_action = policy.codec.to_env(action.numpy())
    assert env_action.tolist() == [2, 0]


def test_deterministic_planning_is_pure_and_exploration_only_when_stochastic():
    policy = trivial_latent_policy(
        spaces.Box(-1.0, 1.0, (2,), np.float32),
        planning_horizon=2,
        n_candidates=64,
        top_k=8,
        cem_iters=3,
        exploration_noise=0.3,
    )
    state = State(th.tensor([[0.2, 0.4]]), th.zeros(1, 2))
    a1 = policy.select_action(state, deterministic=True)
    th.manual_seed(123)  # the global RNG does not matter in deterministic mode
    a2 = policy.select_action(state, deterministic=True)
    assert th.equal(a1, a2)
    th.manual_seed(0)
    noisy = th.stack([policy.select_action(state, deterministic=False) for _ in range(200)])
    assert (noisy.abs() <= 1.0).all()
    spread = (noisy - a1).std(0)
    assert ((spread > 0.2) & (spread < 0.4)).all(), spread  # Gaussian noise of std 0.3 (plus planning noise)
    # no noise when exploration_noise is 0
    policy.exploration_noise = 0.0
    policy.plan = lambda s, d=False, g=None: th.full((1, 2), 0.5)
    assert th.equal(policy.select_action(state, deterministic=False), th.full((1, 2), 0.5))


def test_planning_is_batched_over_candidates(monkeypatch):
    """One imagination per CEM iteration scores every candidate of every env at once."""
    policy = trivial_latent_policy(
        spaces.Box(-1.0, 1.0, (2,), np.float32), planning_horizon=5, n_candidates=70, top_k=7, cem_iters=3
    )
    calls = []
    original = policy.imagined_return

    def spy(start, actions, deterministic=False):
        calls.append(tuple(actions.shape))
        return original(start, actions, deterministic)

    monkeypatch.setattr(policy, "imagined_return", spy)
    policy.plan(State(th.zeros(2, 2), th.zeros(2, 2)))
    assert calls == [(5, 2 * 70, 2)] * 3


def test_invalid_cem_settings_raise():
    with pytest.raises(ValueError, match="top_k"):
        PlaNet("MlpPolicy", "Pendulum-v1", n_candidates=10, top_k=20)
    with pytest.raises(ValueError, match="planning_horizon"):
        PlaNet("MlpPolicy", "Pendulum-v1", planning_horizon=0)


def test_world_model_loss_is_recon_reward_and_kl_with_3_free_nats(monkeypatch):
    model = PlaNet(
        "MlpPolicy",
        "Pendulum-v1",
        seed=0,
        learning_starts=10_000,
        batch_size=2,
        batch_length=8,
        policy_kwargs=dict(units=16, deter=16, hidden=16, stoch=4),
    )
    assert model.policy.world_model.rssm.discrete is False and model.policy.world_model.cont is None
    assert model.policy.actor is None and model.policy.critic is None
    model.learn(50)
    seen = {}
    rssm = model.policy.world_model.rssm
    original = rssm.kl

    def spy(post, prior, free_nats, dyn_scale, rep_scale, free_nats_mode):
        seen.update(free_nats=free_nats, dyn_scale=dyn_scale, rep_scale=rep_scale, free_nats_mode=free_nats_mode)
        return original(post, prior, free_nats, dyn_scale, rep_scale, free_nats_mode)

    monkeypatch.setattr(rssm, "kl", spy)
    model.train(1)
    assert seen == dict(free_nats=3.0, dyn_scale=1.0, rep_scale=1.0, free_nats_mode="step")  # PlaNet: per step
    opt = model.policy.model_optimizer
    assert opt.param_groups[0]["lr"] == 1e-3 and opt.param_groups[0]["eps"] == 1e-4
    assert set(model._metrics.last) >= {"vector_loss", "reward_loss", "kl_loss", "model_loss"}


def make_pendulum() -> gym.Env:
    """Pendulum-v1 at action repeat 2 (PlaNet plans at an action repeat; halves the planning calls)."""
    return ActionRepeat(gym.make("Pendulum-v1"), repeat=2)


@pytest.mark.slow(minutes=2.5)
def test_planet_learns_pendulum():
    """PlaNet clearly beats a random policy on Pendulum-v1 within a few CPU minutes (seeds 0, 1, 2 gave
    -392, -522, -129 against about -1200 for random actions, with ELU and reward weight 1). The official reward
    weight 10 (made for DMC's rewards in [0, 1]) swamps the world model on Pendulum's rewards down to -16: seed 0
    reached -1176 with it; with ReLU and weight 1 (as the zoo's Pendulum entry) -679."""
    with Timer() as timer:
        model = PlaNet(
            "MlpPolicy",
            make_vec_env(make_pendulum, n_envs=1, seed=0),
            seed=0,
            learning_starts=300,
            batch_size=16,
            batch_length=32,
            train_ratio=384,
            planning_horizon=12,
            n_candidates=200,
            top_k=20,
            cem_iters=5,
            reward_scale=1.0,
            policy_kwargs=dict(model_size="tiny", deter=64, hidden=64, units=64, stoch=8),
        )
        model.learn(2000)
        eval_env = make_pendulum()
        eval_env.reset(seed=1000)
        mean, _ = evaluate_policy(model, eval_env, n_eval_episodes=5, deterministic=True)
    baseline = random_return(make_pendulum, episodes=20)
    print(f"PlaNet Pendulum-v1: {mean:.1f} vs random {baseline:.1f} in {timer.seconds:.0f} s")
    assert baseline < -1000
    assert mean > baseline + 400, f"PlaNet reached {mean:.1f}, random policy {baseline:.1f}"


def test_continue_head_weights_planned_rewards_by_survival():
    """predict_discount: reward t counts with prod_{k<t} p(continue_k), so plans that end the episode score less."""
    policy = PlanetPolicy(
        OBS,
        spaces.Box(-1.0, 1.0, (1,), np.float32),
        lambda _: 1e-3,
        model_size="tiny",
        classes=0,
        actor=False,
        critic=False,
        slow_critic=False,
        return_norm=False,
        cont_head=True,
        reward_head="mse",
        planning_horizon=3,
    )

    def img_step(state, action, deterministic=False, action_proj=None):
        return State(state.deter, action), None

    class Feat(nn.Module):  # feat = the last action; continue logit = 2 * action
        def forward(self, feat):
            return BernoulliDist(2.0 * feat[..., -1])

    class UnitReward(nn.Module):  # reward 1 on every step
        def forward(self, feat):
            return MSEDist(th.ones(feat.shape[:-1]))

    policy.world_model.rssm.img_step = img_step
    policy.world_model.rssm.feat = lambda state: state.stoch
    policy.world_model.reward = UnitReward()
    policy.world_model.cont = Feat()
    actions = th.tensor([[[1.0], [-1.0]], [[1.0], [-1.0]], [[1.0], [-1.0]]])  # (H=3, M=2, A=1)
    start = State(th.zeros(2, 1), th.zeros(2, 1))
    p_hi, p_lo = th.sigmoid(th.tensor(2.0)), th.sigmoid(th.tensor(-2.0))
    expected = th.stack([1 + p_hi + p_hi**2, 1 + p_lo + p_lo**2])
    assert th.allclose(policy.imagined_return(start, actions), expected, atol=1e-6)
    policy.world_model.cont = None  # the paper's PlaNet: the plain sum of rewards
    assert th.allclose(policy.imagined_return(start, actions), th.tensor([3.0, 3.0]))


def test_predict_discount_builds_and_trains_the_continue_head():
    env = gym.make("CartPole-v1")
    model = PlaNet(
        "MlpPolicy",
        env,
        predict_discount=True,
        learning_starts=32,
        batch_size=4,
        batch_length=8,
        train_ratio=32,
        n_candidates=20,
        top_k=4,
        cem_iters=2,
        planning_horizon=4,
        policy_kwargs=dict(model_size="tiny", classes=0),
        seed=0,
    )
    assert model.policy.world_model.cont is not None
    assert PlaNet("MlpPolicy", env).policy.world_model.cont is None  # the paper's PlaNet: no continue head
    captured, train_step = [], model.train_step
    model.train_step = lambda batch: captured.append(train_step(batch)) or captured[-1]
    model.learn(48)
    assert captured and all(th.isfinite(m["cont_loss"]) for m in captured)
