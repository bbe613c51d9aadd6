"""Watch (or evaluate) a trained Dreamer agent with rl-zoo3's own ``enjoy`` command line.

Every rl-zoo3 ``enjoy`` flag works (``--load-best``, ``--load-checkpoint N``, ``--load-last-checkpoint``,
``-n``, ``--no-render``, ``--deterministic``, ``--stochastic``, ``--exp-id``, ``--env-kwargs``, ...). What this
module adds:

- our algorithms are registered in rl-zoo3 (``--algo dreamerv3``);
- the run folder and model are read without running code from them (``--allow-pickle`` for files you trust, see
  :mod:`dreamer_sb3.zoo.safe_files`);
- without ``-f/--folder`` the agents shipped with the package (``zoo/agents`` in the repository) are used, so
  ``python -m dreamer_sb3.zoo.enjoy --algo dreamerv3 --env CartPole-v1`` runs the pretrained agent offline.

rl-zoo3's loop passes ``state`` and ``episode_start`` to ``model.predict`` (as for ``RecurrentPPO``), so the RSSM
latent is carried between steps and reset at episode starts.

Example::

    python -m dreamer_sb3.zoo.enjoy --algo dreamerv3 --env CartPole-v1 --no-render -n 1000
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dreamer_sb3.common.safe_load import trust_pickled_files
from dreamer_sb3.zoo._cli import argv_as, has_flag
from dreamer_sb3.zoo.registry import AGENTS_DIR, register_in_rl_zoo3
from dreamer_sb3.zoo.safe_files import pop_allow_pickle, safe_run_files


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.enjoy [rl-zoo3 enjoy flags]``."""
    argv, allow_pickle = pop_allow_pickle(list(sys.argv[1:] if argv is None else argv))
    register_in_rl_zoo3()
    if not has_flag(argv, "-f", "--folder"):
        argv += ["-f", str(AGENTS_DIR)]
    import rl_zoo3.enjoy

    with trust_pickled_files(allow_pickle), safe_run_files(), argv_as(argv):
        rl_zoo3.enjoy.enjoy()


if __name__ == "__main__":
    main()
