"""Watch (or evaluate) a trained Dreamer agent with rl-zoo3's own ``enjoy`` command line.

Every rl-zoo3 ``enjoy`` flag works (``--load-best``, ``--load-checkpoint N``, ``--load-last-checkpoint``,
``-n``, ``--no-render``, ``--deterministic``, ``--stochastic``, ``--exp-id``, ``--env-kwargs``, ...). What this
module adds:

- our algorithms are registered in rl-zoo3 (``--algo dreamerv3``);
- the run folder and model are read without running code from them (``--allow-pickle`` for files you trust, see
  :mod:`dreamer_sb3.zoo.safe_files`);
- without ``-f/--folder`` the agents shipped with the package (``zoo/agents`` in the repository) are used, so
  ``python -m dreamer_sb3.zoo.enjoy --algo dreamerv3 --env CartPole-v1`` runs the pretrained agent offline;
- without ``--load-best`` / ``--load-checkpoint`` / ``--load-last-checkpoint``, a run whose ``results.json``
  records another file than the final model (e.g. ``best_model.zip``) plays that file, the one its documented
  score belongs to (the same file :func:`~dreamer_sb3.zoo.load_pretrained` loads);
- printed episode rewards are in the env's own units: an agent trained with
  :class:`~dreamer_sb3.wrappers.ScaleReward` is shown the unscaled rewards (``info["unscaled_reward"]``).

rl-zoo3's loop passes ``state`` and ``episode_start`` to ``model.predict`` (as for ``RecurrentPPO``), so the RSSM
latent is carried between steps and reset at episode starts.

Example::

    python -m dreamer_sb3.zoo.enjoy --algo dreamerv3 --env CartPole-v1 --no-render -n 1000
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from dreamer_sb3.common.safe_load import trust_pickled_files
from dreamer_sb3.zoo._cli import argv_as, has_flag, with_recorded_model
from dreamer_sb3.zoo.registry import AGENTS_DIR, register_in_rl_zoo3
from dreamer_sb3.zoo.safe_files import pop_allow_pickle, safe_run_files


def _env_unit_rewards(venv: Any) -> Any:
    """Wrap a VecEnv so that its step rewards are the env's own (``info["unscaled_reward"]`` where present)."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    from dreamer_sb3.wrappers.reward_scale import UNSCALED_REWARD_KEY

    class EnvUnitRewards(VecEnvWrapper):
        def reset(self) -> Any:
            return self.venv.reset()

        def step_wait(self) -> Any:
            obs, rewards, dones, infos = self.venv.step_wait()
            rewards = np.array(
                [info.get(UNSCALED_REWARD_KEY, r) for r, info in zip(rewards, infos)], dtype=np.asarray(rewards).dtype
            )
            return obs, rewards, dones, infos

    return EnvUnitRewards(venv)


@contextlib.contextmanager
def _printing_env_units() -> Iterator[None]:
    """Make ``rl_zoo3.enjoy`` build its env with :func:`_env_unit_rewards` around it (for this call only)."""
    import rl_zoo3.enjoy

    original = rl_zoo3.enjoy.create_test_env

    def create_test_env(*args: Any, **kwargs: Any) -> Any:
        return _env_unit_rewards(original(*args, **kwargs))

    rl_zoo3.enjoy.create_test_env = create_test_env
    try:
        yield
    finally:
        rl_zoo3.enjoy.create_test_env = original


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.enjoy [rl-zoo3 enjoy flags]``."""
    argv, allow_pickle = pop_allow_pickle(list(sys.argv[1:] if argv is None else argv))
    register_in_rl_zoo3()
    if not has_flag(argv, "-f", "--folder"):
        argv += ["-f", str(AGENTS_DIR)]
    argv = with_recorded_model(argv)
    import rl_zoo3.enjoy

    with trust_pickled_files(allow_pickle), safe_run_files(), argv_as(argv), _printing_env_units():
        rl_zoo3.enjoy.enjoy()


if __name__ == "__main__":
    main()
