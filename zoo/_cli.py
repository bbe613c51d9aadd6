"""Helpers shared by the zoo's command lines: reading flags from an argv list and running rl-zoo3's own
entry points (which parse ``sys.argv``) on a given argv."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence


def flag_value(argv: Sequence[str], *names: str, default: str | None = None) -> str | None:
    """Value of the first of ``names`` found in ``argv`` (``--flag value`` or ``--flag=value``).

    :param argv: command-line arguments (without the program name)
    :param names: spellings of the flag, e.g. ``"-f", "--folder"``
    :param default: returned when no spelling is present
    :return: the flag's value or ``default``
    """
    for i, arg in enumerate(argv):
        for name in names:
            if arg == name and i + 1 < len(argv):
                return argv[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


def has_flag(argv: Sequence[str], *names: str) -> bool:
    """Whether any spelling in ``names`` appears in ``argv`` (alone or as ``--flag=value``)."""
    return any(arg == name or arg.startswith(name + "=") for arg in argv for name in names)


@contextlib.contextmanager
def argv_as(argv: Sequence[str]) -> Iterator[None]:
    """Temporarily replace ``sys.argv[1:]`` by ``argv`` (rl-zoo3's entry points parse ``sys.argv``)."""
    old = sys.argv
    sys.argv = [old[0] if old else "dreamer_sb3.zoo", *argv]
    try:
        yield
    finally:
        sys.argv = old


def run_rl_zoo3_script(module: str, argv: Sequence[str]) -> None:
    """Run one of rl-zoo3's ``python -m rl_zoo3.<script>`` modules on ``argv`` with our algorithms registered.

    The run folders it reads are read without running code from them unless ``argv`` holds ``--allow-pickle``
    (see :mod:`dreamer_sb3.zoo.safe_files`).

    :param module: e.g. ``"rl_zoo3.load_from_hub"``
    :param argv: its command-line arguments
    """
    import runpy

    from dreamer_sb3.common.safe_load import trust_pickled_files
    from dreamer_sb3.zoo.registry import register_in_rl_zoo3
    from dreamer_sb3.zoo.safe_files import pop_allow_pickle, safe_run_files

    register_in_rl_zoo3()
    argv, allow_pickle = pop_allow_pickle(list(argv))
    with trust_pickled_files(allow_pickle), safe_run_files(), argv_as(argv):
        runpy.run_module(module, run_name="__main__", alter_sys=False)


#: rl-zoo3 ``enjoy`` / ``record_video`` flags that choose which model file of a run is loaded
LOAD_FLAGS = ("--load-best", "--load-checkpoint", "--load-last-checkpoint")


def with_recorded_model(argv: Sequence[str]) -> list[str]:
    """``argv`` plus the flag that loads the model file the run's ``results.json`` records, unless ``argv`` already
    chooses a file (see :func:`dreamer_sb3.zoo.pretrained.recorded_model_flags`).

    :param argv: ``enjoy`` / ``record_video`` arguments, with ``-f`` set
    :return: the arguments to run
    """
    argv = list(argv)
    if has_flag(argv, *LOAD_FLAGS):
        return argv
    algo, env_id, folder = flag_value(argv, "--algo"), flag_value(argv, "--env"), flag_value(argv, "-f", "--folder")
    if algo is None or env_id is None or folder is None:
        return argv
    from dreamer_sb3.zoo.pretrained import recorded_model_flags

    exp_id = int(flag_value(argv, "--exp-id", default="0") or 0)
    flags = recorded_model_flags(algo, env_id, exp_id, folder) if exp_id >= 0 else []
    if flags:
        print(f"results.json of this run records its score for {' '.join(flags)}; loading that file")
    return argv + flags
