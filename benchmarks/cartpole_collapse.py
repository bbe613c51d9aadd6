"""Probe of DreamerV3's CartPole collapse: termination causes and the continue head at real terminals.

Trains DreamerV3 on CartPole-v1 with the zoo's CartPole entry (tiny model, batch 16 x 32, train ratio 64,
learning_starts 1000) under one variant of the settings, and every ``--eval-freq`` env steps records

- the mean return of 10 deterministic episodes of a separately seeded evaluation env (seed + 10000);
- the causes of the training episodes that ended since the last record: ``pole`` (|angle| > 12 degrees),
  ``cart`` (|x| > 2.4) or ``time`` (the 500-step limit, truncated);
- the continue head's mean probability ``p(continue)`` at the replayed terminal steps, by cause: each of
  the latest (at most 200) terminal steps of the replay is observed through a window of the
  ``batch_length`` steps that end at it (as a replayed batch would see it).

Usage::

    python benchmarks/cartpole_collapse.py --variant mode-zoo --seed 0 -n 20000 -o benchmarks/results/collapse
    python benchmarks/cartpole_collapse.py --summarize benchmarks/results/collapse
    python benchmarks/cartpole_collapse.py --probe-agent zoo/agents/dreamerv3/CartPole-v1_1/CartPole-v1.zip

Variants: ``<continue>-<lr>[-<extra>...]``, continue ``mode`` (the 0/1 flag in imagination) or ``mean``
(the probability), learning rates ``zoo`` (world model 1e-3, actor / critic 1e-4) or ``paper``
(1e-4 / 3e-5); extras: ``dyn1`` (KL dyn 1.0 of the current recipe; else 0.5, the 2023 recipe), ``tw<k>``
(terminal steps weighted ``k`` in the continue loss, patched onto the model), ``g<discount>`` (e.g.
``g0.99``), ``clr<lr>`` (critic learning rate, e.g. ``clr0.001``), ``pe`` (replay inside episodes with
DreamerV2's ``prioritize_ends``).
The settings of each are printed and stored in the JSON.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time
from typing import Any

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy

from dreamer_sb3 import DreamerV3

ZOO = dict(learning_starts=1000, batch_size=16, batch_length=32, train_ratio=64, policy_kwargs=dict(model_size="tiny"))
LRS = {
    "zoo": dict(learning_rate=1e-3, actor_lr=1e-4, critic_lr=1e-4),
    "paper": dict(learning_rate=1e-4, actor_lr=3e-5, critic_lr=3e-5),
}
X_LIMIT, ANGLE_LIMIT = 2.4, 12 * 2 * np.pi / 360


def cause(obs: np.ndarray, truncated: bool) -> str:
    """Why a CartPole episode ended, from its last observation."""
    if truncated:
        return "time"
    if abs(obs[0]) > X_LIMIT:
        return "cart"
    if abs(obs[2]) > ANGLE_LIMIT:
        return "pole"
    return "other"


def variant_settings(variant: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Constructor kwargs and plain attributes to set for a variant name."""
    parts = variant.split("-")
    cont, lr = parts[0], parts[1]
    # KL dyn 0.5 (the 2023 recipe) unless a "dyn1" part says 1.0: the first runs of this probe were made with 0.5
    kwargs: dict[str, Any] = {**ZOO, **LRS[lr], "dyn_scale": 0.5}
    attrs: dict[str, Any] = {"discount_head": cont}
    for extra in parts[2:]:
        if extra.startswith("tw"):  # weight of terminal steps in the continue loss (1 = official)
            attrs["_cont_terminal_weight"] = float(extra[2:])
        elif extra == "pe":  # replay inside episodes with V2's prioritize_ends (windows ending at episode ends oversampled)
            attrs["replay_within_episodes"] = True
            attrs["prioritize_ends"] = True
        elif extra.startswith("clr"):  # critic learning rate, e.g. clr0.001
            kwargs["critic_lr"] = float(extra[3:])
        elif extra.startswith("g"):  # discount, e.g. g0.99 (the class default is 0.997 = 1 - 1/333)
            kwargs["discount"] = float(extra[1:])
        elif extra == "dyn1":  # KL dynamics scale 1.0 (the current recipe)
            kwargs["dyn_scale"] = 1.0
        else:
            raise ValueError(f"unknown variant part {extra!r}")
    return kwargs, attrs


@th.no_grad()
def terminal_cont_probs(model: DreamerV3, limit: int = 200) -> dict[str, list[float]]:
    """p(continue) of the world model at the latest ``limit`` replayed terminal steps, by cause, and the critic
    (``v_before_<cause>``: 31 steps before the terminal, ``v_at_<cause>``: at it)."""
    rb = model.replay_buffer
    wm = model.policy.world_model
    length = model.batch_length
    out: dict[str, list[float]] = {}
    for env in range(rb.n_envs):
        used = rb.capacity_per_env if rb.full[env] else int(rb.pos[env])
        ends = np.flatnonzero(rb.is_terminal[env, :used])
        ends = ends[ends >= length - 1][-limit:]
        if len(ends) == 0:
            continue
        idx = ends[:, None] - np.arange(length - 1, -1, -1)[None]  # (N, T) windows ending at each terminal
        batch = rb.to_torch(
            type(rb.sample(1, length))(
                obs={k: v[env, idx] for k, v in rb.obs.items()},
                action=rb.action[env, idx],
                reward=rb.reward[env, idx],
                is_first=rb.is_first[env, idx],
                is_terminal=rb.is_terminal[env, idx],
            ),
            model.device,
        )
        embed = wm.encoder(batch.obs, batch_dims=2)
        post, _, _ = wm.rssm.observe(embed, batch.action, batch.is_first)
        feat = wm.rssm.feat(post)
        p = wm.cont(feat).mean[:, -1].cpu().numpy()
        _, critic = model.policy.actor_critic()
        value = critic(feat[:, [0, -1]]).mean.cpu().numpy()  # the critic 31 steps before the terminal and at it
        obs_key = next(iter(rb.obs))
        last_obs = rb.obs[obs_key][env, ends]
        for o, pi, v in zip(last_obs, p, value):
            c = cause(o, False)
            out.setdefault(c, []).append(float(pi))
            out.setdefault(f"v_before_{c}", []).append(float(v[0]))
            out.setdefault(f"v_at_{c}", []).append(float(v[1]))
    return out


class Probe(BaseCallback):
    def __init__(self, eval_env: gym.Env, eval_freq: int, eval_episodes: int, eval_seed: int) -> None:
        super().__init__()
        self.eval_env, self.eval_freq, self.eval_episodes, self.eval_seed = eval_env, eval_freq, eval_episodes, eval_seed
        self.records: list[dict[str, Any]] = []
        self.episodes: list[dict[str, Any]] = []
        self._causes: dict[str, int] = {}
        self.train_time = 0.0
        self._t0 = time.process_time()

    def _on_step(self) -> bool:
        for done, info in zip(self.locals["dones"], self.locals["infos"]):
            if done:
                c = cause(info["terminal_observation"], bool(info.get("TimeLimit.truncated", False)))
                self._causes[c] = self._causes.get(c, 0) + 1
                self.episodes.append({"step": self.num_timesteps, "length": info.get("episode", {}).get("l"), "cause": c})
        if self.num_timesteps % self.eval_freq == 0:
            self.train_time += time.process_time() - self._t0
            self.eval_env.reset(seed=self.eval_seed)
            rets, _ = evaluate_policy(
                self.model, self.eval_env, self.eval_episodes, deterministic=True, return_episode_rewards=True
            )
            # the same episodes acting by sampling (the official agent's evaluation), and with argmax actions but
            # sampled latents: which part of deterministic=True the returns depend on
            self.eval_env.reset(seed=self.eval_seed)
            sampled, _ = evaluate_policy(
                self.model, self.eval_env, self.eval_episodes, deterministic=False, return_episode_rewards=True
            )
            policy = self.model.policy
            keep, policy.deterministic_latent = policy.deterministic_latent, False
            self.eval_env.reset(seed=self.eval_seed)
            mode_actions, _ = evaluate_policy(
                self.model, self.eval_env, self.eval_episodes, deterministic=True, return_episode_rewards=True
            )
            policy.deterministic_latent = keep
            probs = terminal_cont_probs(self.model)
            values = {k: float(np.mean(probs.pop(k))) for k in [k for k in probs if k.startswith("v_")]}
            rec = {
                "step": self.num_timesteps,
                "eval_mean": float(np.mean(rets)),
                "eval_min": float(np.min(rets)),
                "eval_sampled_mean": float(np.mean(sampled)),
                "eval_mode_actions_sampled_latents_mean": float(np.mean(mode_actions)),
                "train_causes": dict(self._causes),
                "cont_p": {k: float(np.mean(v)) for k, v in probs.items()},
                "cont_n": {k: len(v) for k, v in probs.items()},
                "critic": values,
                "train_cpu_s": self.train_time,
            }
            self._causes = {}
            self.records.append(rec)
            print(json.dumps(rec), flush=True)
            self._t0 = time.process_time()
        return True


def _weight_terminals(model: DreamerV3, weight: float) -> None:
    """Weight the terminal steps of the continue loss by ``weight`` (a probe, patched onto this model only)."""
    from dreamer_sb3.common.distributions import BernoulliDist

    class Weighted(BernoulliDist):
        def log_prob(self, x: th.Tensor) -> th.Tensor:
            return super().log_prob(x) * (1.0 + (weight - 1.0) * (1.0 - x.float()))

    head = model.policy.world_model.cont
    net = head.net
    head.forward = lambda feat: Weighted(net(feat)[..., 0])  # type: ignore[method-assign]


def run(variant: str, seed: int, n: int, eval_freq: int, eval_episodes: int, out: str) -> None:
    th.set_num_threads(1)
    kwargs, attrs = variant_settings(variant)
    print(f"{variant} seed {seed}: {kwargs} {attrs}", flush=True)
    model = DreamerV3("MlpPolicy", "CartPole-v1", seed=seed, **kwargs)
    weight = attrs.pop("_cont_terminal_weight", None)
    if weight is not None:
        _weight_terminals(model, weight)
        attrs["_cont_terminal_weight"] = weight
    for k, v in attrs.items():
        if k.startswith("_"):
            continue
        if not hasattr(model, k):
            raise AttributeError(f"DreamerV3 has no setting {k!r}")
        setattr(model, k, v)
    probe = Probe(gym.wrappers.RecordEpisodeStatistics(gym.make("CartPole-v1")), eval_freq, eval_episodes, seed + 10000)
    model.learn(n, callback=probe)
    os.makedirs(out, exist_ok=True)
    model.save(os.path.join(out, f"{variant}_seed{seed}.zip"))  # for --probe-agent and evaluations after the run
    with open(os.path.join(out, f"{variant}_seed{seed}.json"), "w") as f:
        result = {"variant": variant, "seed": seed, "kwargs": kwargs, "attrs": attrs}
        json.dump({**result, "records": probe.records, "episodes": probe.episodes}, f)


@th.no_grad()
def probe_agent(path: str, seeds: tuple[int, ...] = (3, 4), every: int = 40) -> None:
    """Along deterministic episodes of a saved agent: cart position, pole angle, the critic's value, p(continue),
    and from one state the imagined λ-return (the critic's target) against the value there."""
    from dreamer_sb3.common.behavior import imagine
    from dreamer_sb3.common.returns import lambda_returns
    from dreamer_sb3.common.rssm import State

    th.set_num_threads(1)
    model = DreamerV3.load(path, device="cpu")
    p, wm = model.policy, model.policy.world_model
    _, critic = p.actor_critic()
    env = gym.make("CartPole-v1")
    print(f"{path}: discount {model.discount:.4f} -> fixed point 1 / (1 - discount) = {1 / (1 - model.discount):.0f}")
    for seed in seeds:
        obs, _ = env.reset(seed=seed)
        state, start, rows, t = None, np.array([True]), [], 0
        for t in range(500):
            action, state = model.predict(obs[None], state=state, episode_start=start, deterministic=True)
            start = np.array([False])
            lat = State(th.as_tensor(state[0]), th.as_tensor(state[1]))
            feat = wm.rssm.feat(lat)
            cont = wm.cont(feat).mean.item() if wm.cont is not None else 1.0
            rows.append((t, obs[0], obs[2], critic(feat).mean.item(), cont))
            if t == 60:
                starts = State(lat.deter.repeat(64, 1), lat.stoch.repeat(64, 1))
                traj = imagine(p, starts, th.ones(64), model.imag_horizon, model.discount, False, model.discount_head)
                value = critic(traj.feat).mean
                target = lambda_returns(traj.reward, value, traj.discount, model.gae_lambda)[0].mean().item()
                print(f"seed {seed}, step 60: value {value[0].mean().item():.1f}, imagined λ-return target {target:.1f}")
            obs, _, term, trunc, _ = env.step(int(action[0]))
            if term or trunc:
                break
        print(f"seed {seed}: {t + 1} steps, {'terminated' if term else 'truncated'}")
        for t, x, angle, value, cont in rows[::every] + rows[-2:]:
            print(f"  t={t:3d}  x={x:+.2f}  angle={angle:+.3f}  value={value:6.1f}  p(cont)={cont:.3f}")


def _load(path: str) -> dict[str, Any]:
    """A finished run's JSON, or the records printed so far in a running (or stopped) run's log."""
    if path.endswith(".json"):
        return json.load(open(path))
    lines = open(path).read().splitlines()
    variant, seed = lines[0].split(" seed ")[0], int(lines[0].split(" seed ")[1].split(":")[0])
    return {"variant": variant, "seed": seed, "records": [json.loads(line) for line in lines if line.startswith("{")]}


def summarize(folder: str) -> None:
    """One markdown row per run (finished JSON, else its log): evaluations, causes, continue head at terminals."""
    print(
        "| variant | seed | env steps | evaluations (every 2k) | min eval after first ≥ 475 "
        "| training episodes ended by pole / cart / time (second half) | p(cont) at replayed terminals, pole / cart (last) "
        "| critic 31 steps before / at a cart-out (last) "
        "| evaluations acting by sampling / argmax actions on sampled latents |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    runs = {}
    for path in sorted(glob.glob(os.path.join(folder, "*.log")) + glob.glob(os.path.join(folder, "*.json"))):
        d = _load(path)
        if d["records"]:
            runs[(d["variant"], d["seed"])] = d  # the JSON (sorted after the log) wins
    for (variant, seed), d in sorted(runs.items()):
        recs = d["records"]
        evals = [r["eval_mean"] for r in recs]
        first = next((i for i, e in enumerate(evals) if e >= 475), None)
        after = f"{min(evals[first:]):.0f}" if first is not None else "never ≥ 475"
        half = recs[-1]["step"] / 2
        causes: dict[str, int] = {}
        for r in recs:
            if r["step"] > half:
                for k, v in r["train_causes"].items():
                    causes[k] = causes.get(k, 0) + v
        cp, cn = recs[-1]["cont_p"], recs[-1]["cont_n"]
        pc = " / ".join(f"{cp[k]:.2f} (n={cn[k]})" if k in cp else "–" for k in ("pole", "cart"))
        critic = recs[-1].get("critic", {})
        vc = f"{critic['v_before_cart']:.1f} / {critic['v_at_cart']:.1f}" if "v_at_cart" in critic else "–"
        other = "–"
        if "eval_sampled_mean" in recs[-1]:
            sampled = ", ".join(f"{r['eval_sampled_mean']:.0f}" for r in recs)
            mixed = ", ".join(f"{r['eval_mode_actions_sampled_latents_mean']:.0f}" for r in recs)
            other = f"{sampled} / {mixed}"
        print(
            f"| {variant} | {seed} | {recs[-1]['step']} | {', '.join(f'{e:.0f}' for e in evals)} | {after} | "
            f"{causes.get('pole', 0)} / {causes.get('cart', 0)} / {causes.get('time', 0)} | {pc} | {vc} | {other} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", default="mean-zoo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-n", type=int, default=20_000)
    parser.add_argument("--eval-freq", type=int, default=2000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("-o", "--output", default=os.path.join(os.path.dirname(__file__), "results", "collapse"))
    parser.add_argument("--summarize", metavar="FOLDER")
    parser.add_argument("--probe-agent", metavar="ZIP", help="print the critic and continue head along episodes of an agent")
    args = parser.parse_args()
    if args.probe_agent:
        probe_agent(args.probe_agent)
    elif args.summarize:
        summarize(args.summarize)
    else:
        run(args.variant, args.seed, args.n, args.eval_freq, args.eval_episodes, args.output)


if __name__ == "__main__":
    main()
