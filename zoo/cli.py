"""``dreamer-zoo``: the zoo's commands behind one console command, installed by pip.

``dreamer-zoo <command> [flags]`` runs ``python -m dreamer_sb3.zoo.<command> [flags]``:

=================  ==============================================================
command            module
=================  ==============================================================
``train``          :mod:`dreamer_sb3.zoo.train` (rl-zoo3's train, every flag)
``enjoy``          :mod:`dreamer_sb3.zoo.enjoy`
``record_video``   :mod:`dreamer_sb3.zoo.record_video` (``record-video`` works too)
``list``           :mod:`dreamer_sb3.zoo.list`
``benchmark``      :mod:`dreamer_sb3.zoo.benchmark`
``pretrained``     :mod:`dreamer_sb3.zoo.pretrained` (record a run's score)
``load_from_hub``  :mod:`dreamer_sb3.zoo.load_from_hub`
=================  ==============================================================

Example::

    dreamer-zoo train --algo dreamerv3 --env CartPole-v1
    dreamer-zoo enjoy --algo dreamerv3 --env CartPole-v1 --no-render -n 1000
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

#: sub-command -> module under ``dreamer_sb3.zoo`` (each has ``main(argv)``)
COMMANDS: dict[str, str] = {
    "train": "train",
    "enjoy": "enjoy",
    "record_video": "record_video",
    "list": "list",
    "benchmark": "benchmark",
    "pretrained": "pretrained",
    "load_from_hub": "load_from_hub",
}

_USAGE = "usage: dreamer-zoo {" + ",".join(COMMANDS) + "} [flags]   (dreamer-zoo <command> --help for its flags)"


def installed_command() -> str | None:
    """Path of the installed ``dreamer-zoo`` console script (beside the interpreter, in its scripts folder, or on
    ``PATH``), or ``None`` when the package was not installed with pip."""
    import pathlib
    import shutil
    import sysconfig

    for folder in (pathlib.Path(sys.executable).parent, pathlib.Path(sysconfig.get_path("scripts"))):
        if (folder / "dreamer-zoo").is_file():
            return str(folder / "dreamer-zoo")
    return shutil.which("dreamer-zoo")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``dreamer-zoo`` console command.

    :param argv: ``[command, *flags]`` (default: ``sys.argv[1:]``)
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE)
        print(__doc__.split("Example::")[0].split("\n", 2)[2].rstrip())
        if not argv:
            raise SystemExit(2)
        return
    command = argv[0].replace("-", "_")
    if command not in COMMANDS:
        raise SystemExit(f"dreamer-zoo: unknown command {argv[0]!r}\n{_USAGE}")
    module = importlib.import_module(f"dreamer_sb3.zoo.{COMMANDS[command]}")
    module.main(argv[1:])


if __name__ == "__main__":
    main()
