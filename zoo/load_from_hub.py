"""rl-zoo3's ``load_from_hub`` with our algorithms registered: put a hub repository ``<org>/<algo>-<EnvName>``
into the zoo layout (this one needs the network; nothing else in the zoo does).

Example::

    python -m dreamer_sb3.zoo.load_from_hub --algo dreamerv3 --env CartPole-v1 -orga <org> -f logs/
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from dreamer_sb3.zoo._cli import run_rl_zoo3_script


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.load_from_hub [rl-zoo3 load_from_hub flags]``."""
    run_rl_zoo3_script("rl_zoo3.load_from_hub", list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()
