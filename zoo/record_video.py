"""Record a video of a trained Dreamer agent with rl-zoo3's own ``record_video`` command line.

Every rl-zoo3 ``record_video`` flag works (``-n`` frames, ``--load-best``, ``--load-checkpoint N``,
``--exp-id``, ``--deterministic`` / ``--stochastic``, ``--env-kwargs``, ...). What this module adds:

- our algorithms are registered in rl-zoo3 (``--algo dreamerv3``);
- without ``-f/--folder`` the agents shipped with the package are used, and the video then goes to
  ``./videos`` (not into the installed package) unless ``-o`` says otherwise;
- without ``--load-best`` / ``--load-checkpoint`` / ``--load-last-checkpoint`` it films the model file the run's
  ``results.json`` records (the one its documented score belongs to), as ``enjoy`` does.

rl-zoo3's loop passes ``state`` and ``episode_start`` to ``model.predict``, so the agent acts with its
recurrent latent exactly as in ``enjoy``. The MP4 encoding needs ``moviepy`` (the ``zoo`` extra installs it
through rl-zoo3's hub integration package).

Example::

    python -m dreamer_sb3.zoo.record_video --algo dreamerv3 --env CartPole-v1 -n 500
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dreamer_sb3.zoo._cli import has_flag, run_rl_zoo3_script, with_recorded_model
from dreamer_sb3.zoo.registry import AGENTS_DIR


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.record_video [rl-zoo3 record_video flags]``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not has_flag(argv, "-f", "--folder"):
        argv += ["-f", str(AGENTS_DIR)]
        if not has_flag(argv, "-o", "--output-folder"):
            argv += ["-o", "videos"]
    argv = with_recorded_model(argv)
    run_rl_zoo3_script("rl_zoo3.record_video", argv)


if __name__ == "__main__":
    main()
