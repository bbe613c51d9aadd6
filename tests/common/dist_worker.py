"""One rank of the data-parallel tests (tests/common/test_distributed.py), run by ``torchrun``.

``python -m torch.distributed.run --nproc_per_node 2 tests/common/dist_worker.py OUT MODE``

MODE ``train``: a tiny DreamerV3 on CartPole learns 320 env steps over all ranks, saves its model and replay,
and each rank writes ``OUT/rank<r>.pt`` (parameters, counters, its replay's observations, its policy's
actions on fixed observations). MODE ``kill`` / ``raise``: rank 1 SIGKILLs itself / raises during training.
MODE ``restart`` (run with ``--max-restarts 1``): learn half, save a checkpoint (model + per-rank replays), then
rank 1 SIGKILLs itself in the second half of the first attempt; torchrun restarts both ranks, which resume
from the checkpoint and finish.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import gymnasium as gym
import numpy as np
import torch as th
from stable_baselines3.common.vec_env import DummyVecEnv

from dreamer_sb3 import DreamerV3

TOTAL_STEPS = 320
FIXED_OBS = np.random.default_rng(123).normal(size=(6, 1, 4)).astype(np.float32)


class CountSteps(gym.Wrapper):
    """Counts this rank's env steps; in the failure modes rank 1 dies at its 100th step."""

    steps = 0

    def __init__(self, env: gym.Env, mode: str, rank: int) -> None:
        super().__init__(env)
        self.mode, self.rank = mode, rank

    def step(self, action):
        CountSteps.steps += 1
        if self.rank == 1 and CountSteps.steps == 100:
            if self.mode == "kill" or (self.mode == "restart" and os.environ.get("TORCHELASTIC_RESTART_COUNT") == "0"):
                os.kill(os.getpid(), signal.SIGKILL)
            if self.mode == "raise":
                raise RuntimeError("rank 1 fails on purpose")
        return self.env.step(action)


def policy_actions(model: DreamerV3) -> np.ndarray:
    """Deterministic actions along a fixed observation sequence, carrying the recurrent state."""
    state, actions = None, []
    for i, obs in enumerate(FIXED_OBS):
        action, state = model.predict(obs, state=state, episode_start=np.array([i == 0]), deterministic=True)
        actions.append(action)
    return np.concatenate(actions)


def main(out: str, mode: str) -> None:
    th.set_num_threads(1)
    rank = int(os.environ["RANK"])
    env = DummyVecEnv([lambda: CountSteps(gym.make("CartPole-v1"), mode, rank)])
    ckpt, ckpt_replay = os.path.join(out, "ckpt.zip"), os.path.join(out, "ckpt_replay.pkl")
    start = time.time()
    if mode == "restart" and os.path.exists(ckpt):  # the restarted attempt resumes from the checkpoint
        model = DreamerV3.load(ckpt, env=env, device="cpu")
        model.load_replay_buffer(ckpt_replay)
        model.learn(TOTAL_STEPS - model.num_timesteps, log_interval=1, reset_num_timesteps=False)
        finish(model, out, rank, start, mode)
        return
    model = DreamerV3(
        "MlpPolicy",
        env,
        buffer_size=1000,
        learning_starts=64,
        batch_size=4,
        batch_length=8,
        train_ratio=8,  # 8 / (4 * 8) = one update per 4 env steps of each rank
        imag_horizon=5,
        policy_kwargs={"model_size": "tiny"},
        tensorboard_log=os.path.join(out, "tb"),
        verbose=1,
        seed=3,
        device="cpu",
    )
    if mode == "restart":
        model.learn(TOTAL_STEPS // 2, log_interval=1)
        model.save(ckpt)
        model.save_replay_buffer(ckpt_replay)
        model.learn(TOTAL_STEPS // 2, log_interval=1, reset_num_timesteps=False)
    else:
        model.learn(TOTAL_STEPS, log_interval=1)
    finish(model, out, rank, start, mode)


def finish(model: DreamerV3, out: str, rank: int, start: float, mode: str) -> None:
    """Save the model and replay, and this rank's record ``OUT/rank<r>.pt``."""
    model.save(os.path.join(out, "model.zip"))
    model.save_replay_buffer(os.path.join(out, "replay.pkl"))
    assert model.replay_buffer is not None
    th.save(
        {
            "params": {k: v.clone() for k, v in model.policy.state_dict().items()},
            "optim": model.policy.model_optimizer.state_dict(),
            "num_timesteps": model.num_timesteps,
            "env_steps": CountSteps.steps,
            "n_updates": model._n_updates,
            "replay_obs": model.replay_buffer.obs["obs"].copy(),
            "actions": policy_actions(model),
            "seconds": time.time() - start,
            "restarts": int(os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")),
        },
        os.path.join(out, f"rank{rank}.pt"),
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
    if th.distributed.is_initialized():
        th.distributed.destroy_process_group()
