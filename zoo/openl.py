"""Open-loop video predictions of a trained agent's world model, as a GIF (DreamerV3's ``openl`` report).

The agent plays ``--sequences`` episodes side by side on the env it was trained on (the run's saved config, as
``enjoy`` builds it) for ``--steps`` steps; the world model observes the first ``--context`` frames and then predicts
the rest open loop under the actions actually taken. Each frame of the GIF shows, top to bottom, the truth, the
model and their error (grey where they agree), one column per sequence. TensorBoard gets the same video during
training (``video_every_updates``).

Example (on the shipped pixel agent)::

    python -m dreamer_sb3.zoo.openl --algo dreamerv3 --env dreamer_sb3/CartPole-pixels-v0 -o openl.gif
"""

from __future__ import annotations

import argparse
import pathlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from dreamer_sb3.zoo.registry import AGENTS_DIR, ALGORITHMS


def rollout_batch(model: Any, env: Any, steps: int, seed: int = 0) -> Any:
    """Play ``model`` (deterministically) on the VecEnv ``env`` for ``steps`` steps and return what the replay would
    hold: a :class:`~dreamer_sb3.common.replay.SequenceBatch` ``(n_envs, steps, ...)`` of numpy arrays (an episode that
    ends mid-way continues with its reset frame marked ``is_first``)."""
    from dreamer_sb3.common.replay import SequenceBatch

    env.seed(seed)
    obs = env.reset()
    n = env.num_envs
    layout, codec = model.policy.layout, model.policy.codec
    frames: dict[str, list[np.ndarray]] = {k: [] for k in layout.as_dict(obs)}
    actions, rewards, firsts = [], [], []
    prev_action = np.zeros((n, codec.dim), np.float32)
    first = np.ones(n, bool)
    reward = np.zeros(n, np.float32)
    state = None
    for _ in range(steps):
        for k, v in layout.as_dict(obs).items():
            frames[k].append(np.array(v))
        actions.append(np.where(first[:, None], 0.0, prev_action).astype(np.float32))
        rewards.append(np.where(first, 0.0, reward).astype(np.float32))
        firsts.append(first.copy())
        env_action, state = model.predict(obs, state=state, episode_start=first, deterministic=True)
        obs, reward, done, _ = env.step(env_action)
        prev_action = codec.from_env(np.asarray(env_action)).astype(np.float32)
        first = np.asarray(done, bool)
    return SequenceBatch(
        obs={k: np.stack(v, 1) for k, v in frames.items()},
        action=np.stack(actions, 1),
        reward=np.stack(rewards, 1),
        is_first=np.stack(firsts, 1),
        is_terminal=np.zeros((n, steps), bool),
    )


def openl_gif(
    algo: str,
    env_id: str,
    out: str | pathlib.Path,
    folder: str | pathlib.Path = AGENTS_DIR,
    exp_id: int = 0,
    sequences: int = 4,
    steps: int = 50,
    context: int = 5,
    seed: int = 0,
) -> dict[str, pathlib.Path]:
    """Write the open-loop prediction GIF of a zoo run's agent; one file per image key (``out`` itself for a single key).

    :return: the written file per image key
    """
    from stable_baselines3.common.base_class import BaseAlgorithm
    from stable_baselines3.common.vec_env import DummyVecEnv

    from dreamer_sb3.common.openl import encode_gif, openl_frames
    from dreamer_sb3.zoo.pretrained import load_pretrained, make_eval_env, run_dir

    model = load_pretrained(algo, env_id, exp_id=exp_id, folder=folder, device="cpu")
    if not model.policy.layout.image_keys:
        raise ValueError(f"{algo} on {env_id} has no image observations: there is no video to predict")
    run = run_dir(algo, env_id, exp_id, folder)
    env = BaseAlgorithm._wrap_env(make_eval_env(run, env_id, seed=seed, n_envs=sequences, vec_env_cls=DummyVecEnv))
    try:
        batch = rollout_batch(model, env, steps, seed)
    finally:
        env.close()
    videos = openl_frames(model, batch.to_torch(model.device), n_sequences=sequences, context=context)
    out = pathlib.Path(out)
    written = {}
    for key, frames in videos.items():
        path = out if len(videos) == 1 else out.with_name(f"{out.stem}_{key}{out.suffix}")
        path.write_bytes(encode_gif(frames))
        written[key] = path
    return written


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m dreamer_sb3.zoo.openl --algo A --env E [-f FOLDER] [-o FILE.gif] [--steps N] [--context K]``."""
    parser = argparse.ArgumentParser(description="Open-loop video prediction of a trained agent's world model (GIF)")
    parser.add_argument("--algo", required=True, choices=sorted(ALGORITHMS))
    parser.add_argument("--env", required=True)
    parser.add_argument("-f", "--folder", default=str(AGENTS_DIR), help="zoo folder (default: the shipped agents)")
    parser.add_argument("--exp-id", type=int, default=0)
    parser.add_argument("-o", "--output", default=None, help="GIF file (default: openl_<algo>_<EnvName>.gif)")
    parser.add_argument("--sequences", type=int, default=4, help="sequences side by side")
    parser.add_argument("--steps", type=int, default=50, help="frames per sequence")
    parser.add_argument("--context", type=int, default=5, help="frames observed before predicting open loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-threads", type=int, default=1)
    args = parser.parse_args(argv)
    import torch as th

    if args.num_threads > 0:
        th.set_num_threads(args.num_threads)
    out = args.output or f"openl_{args.algo}_{args.env.replace('/', '-')}.gif"
    written = openl_gif(
        args.algo, args.env, out, args.folder, args.exp_id, args.sequences, args.steps, args.context, args.seed
    )
    for key, path in written.items():
        print(f"Open-loop prediction of {key!r} ({args.context} context frames, {args.steps} in all): {path}")


if __name__ == "__main__":
    main()
