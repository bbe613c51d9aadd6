"""Every example in README.md and docs/*.md runs as written: each ```python block, and each shell command shown.

How a block is run (documented in docs/contributing.md):

- Python blocks run in a fresh interpreter, shell commands as subprocesses; every block of one document runs in
  the same empty working folder, in document order (so ``-f logs`` of one command is the ``logs`` of the next).
- An HTML comment right before a block's fence carries directives, invisible on the rendered page::

      <!-- docs-test
      sub: model.learn(5_000) => model.learn(300)
      skip-command: zoo.load_from_hub => downloads from the Hugging Face hub
      skip-line: minecraft-diamond => needs MineRL (Java), not installed in CI
      skip: needs a GPU
      -->

  ``sub: OLD => NEW`` replaces text before running (tiny budgets), ``skip: REASON`` does not run the block,
  ``skip-command: TEXT => REASON`` does not run the shell commands containing TEXT, ``skip-line: TEXT => REASON``
  drops the lines of a Python block containing TEXT.
- Shell commands of the zoo (``python -m dreamer_sb3.zoo.*``, ``dreamer-zoo``) run with tiny budgets, set by
  :func:`tiny_command` (``-n`` reduced, tiny replay batches, one thread, one evaluation episode); rl-zoo3's plot
  scripts run as written. Any other command must be declared not run, with a reason.

Nothing is skipped silently: ``test_not_run_examples_are_declared`` lists every block, command and line that is not
run together with its reason (``pytest -s`` prints the list), and fails on an undeclared one.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
import shlex
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: replay and budget settings of every zoo command run by this test (cost keys only; the docs' other values stay)
TINY_PARAMS = {"learning_starts": "100", "batch_size": "4", "batch_length": "8", "train_ratio": "8"}
#: per Python block / shell command (seconds); a block that needs more is a documentation problem
TIMEOUT = 240

_FENCE = re.compile(
    r"(?:^<!--\s*docs-test\s*\n(?P<directives>(?:(?!-->).)*)-->[ \t]*\n)?^```(?P<lang>[\w-]*)\n(?P<body>.*?)^```",
    re.M | re.S,
)


@dataclasses.dataclass
class Block:
    doc: str
    line: int
    lang: str
    body: str
    subs: list[tuple[str, str]]
    skip: str | None
    skip_commands: list[tuple[str, str]]
    skip_lines: list[tuple[str, str]]

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"

    def code(self) -> str:
        """The block's text with its ``sub:`` replacements applied (each must match) and ``skip-line:`` lines dropped."""
        text = self.body
        for old, new in self.subs:
            assert old in text, f"{self.id}: 'sub: {old} => ...' does not match the block"
            text = text.replace(old, new)
        lines = text.splitlines()
        for needle, _ in self.skip_lines:
            assert any(needle in line for line in lines), f"{self.id}: 'skip-line: {needle}' matches no line"
            lines = [line for line in lines if needle not in line]
        return "\n".join(lines) + "\n"


def _pairs(directives: str, key: str) -> list[tuple[str, str]]:
    out = []
    for line in directives.splitlines():
        if line.strip().startswith(key + ":"):
            old, sep, new = line.strip()[len(key) + 1 :].partition("=>")
            assert sep, f"directive {line.strip()!r} needs 'TEXT => VALUE'"
            out.append((old.strip(), new.strip()))
    return out


def parse(path: pathlib.Path) -> list[Block]:
    """The fenced blocks of a Markdown file with their ``docs-test`` directives."""
    text = path.read_text()
    blocks = []
    for match in _FENCE.finditer(text):
        directives = match["directives"] or ""
        skip = [line.split(":", 1)[1].strip() for line in directives.splitlines() if line.strip().startswith("skip:")]
        blocks.append(
            Block(
                doc=str(path.relative_to(ROOT)),
                line=text[: match.start("lang")].count("\n") + 1,
                lang=match["lang"],
                body=match["body"],
                subs=_pairs(directives, "sub"),
                skip=skip[0] if skip else None,
                skip_commands=_pairs(directives, "skip-command"),
                skip_lines=_pairs(directives, "skip-line"),
            )
        )
    return blocks


def shell_commands(code: str) -> list[str]:
    """Commands of a shell block: continuation lines joined, comments dropped."""
    commands, current = [], ""
    for raw in code.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            commands.append(" ".join(current.split()))
        current = ""
    return commands


def _set(argv: list[str], value: str | None, *names: str) -> None:
    """Give flag ``names[0]`` (or a spelling in ``names`` already present) the value ``value`` (``None``: no value)."""
    for i, arg in enumerate(argv):
        if arg in names:
            if value is not None:
                argv[i + 1] = value
            return
    argv += [names[0]] if value is None else [names[0], value]


def _merge_params(argv: list[str], params: dict[str, str]) -> list[str]:
    """``argv`` with one ``-params`` list: the command's own ``key:value`` pairs, ``params`` winning."""
    out, given, i = [], {}, 0
    while i < len(argv):
        if argv[i] in ("-params", "--hyperparams"):
            i += 1
            while i < len(argv) and not argv[i].startswith("-"):
                key, value = argv[i].split(":", 1)
                given[key] = value
                i += 1
        else:
            out.append(argv[i])
            i += 1
    given.update(params)
    return [*out, "-params", *(f"{k}:{v}" for k, v in given.items())]


def tiny_command(argv: list[str]) -> list[str]:
    """A zoo command (``[module or sub-command, *flags]``) with a tiny budget; other flags kept as documented.

    :param argv: e.g. ``["train", "--algo", "dreamerv3", "--env", "CartPole-v1"]``
    :return: the flags to run
    """
    command, flags = argv[0], list(argv[1:])
    if command == "train" and ("-optimize" in flags or "--optimize-hyperparameters" in flags):
        for names, value in [
            (("--n-trials",), "2"),
            (("--n-timesteps",), "200"),
            (("--max-model-size",), "tiny"),
            (("--max-train-ratio",), "16"),
            (("--eval-episodes",), "1"),
            (("--num-threads",), "1"),
        ]:
            _set(flags, value, *names)
        _set(flags, None, "--no-optim-plots")
        flags = _merge_params(flags, {k: v for k, v in TINY_PARAMS.items() if k != "train_ratio"})
    elif command == "train":
        _set(flags, "300", "-n", "--n-timesteps")
        _set(flags, "1", "--num-threads")
        _set(flags, "1", "--final-eval-episodes")
        # two evaluation episodes: rl-zoo3's all_plots cannot average a single run's single episode
        for names, value in [(("--eval-freq",), "150"), (("--eval-episodes",), "2"), (("--save-freq",), "150")]:
            if any(n in flags for n in names):
                _set(flags, value, *names)
        flags = _merge_params(flags, TINY_PARAMS)
    elif command in ("enjoy", "record_video"):
        _set(flags, "50", "-n", "--n-timesteps")
        if command == "enjoy":  # rl-zoo3's record_video has neither flag
            _set(flags, "1", "--num-threads")
            _set(flags, None, "--no-render")
    elif command == "benchmark":
        for names, value in [
            (("-n", "--n-timesteps"), "300"),
            (("--seeds",), "1"),
            (("--eval-freq",), "150"),
            (("--eval-episodes",), "1"),
            (("-j", "--jobs"), "1"),
            (("--num-threads",), "1"),
        ]:
            _set(flags, value, *names)
        flags = _merge_params(flags, TINY_PARAMS)
    elif command == "pretrained":
        _set(flags, "1", "--episodes")
    return [command, *flags]


def _zoo_argv(command: str) -> tuple[dict[str, str], list[str]] | None:
    """``(env vars, argv to run)`` for a runnable command, ``None`` for one this test does not run."""
    words = shlex.split(command)
    env = {}
    while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    if words[:2] == ["python", "-m"] and words[2].startswith("dreamer_sb3.zoo."):
        sub = words[2].removeprefix("dreamer_sb3.zoo.")
        return env, [sys.executable, "-m", f"dreamer_sb3.zoo.{sub}", *tiny_command([sub, *words[3:]])[1:]]
    if words[:1] == ["dreamer-zoo"]:
        from dreamer_sb3.zoo.cli import installed_command

        exe = installed_command()
        assert exe is not None, "dreamer-zoo is not installed (pip install -e .)"
        return env, [exe, *tiny_command([words[1].replace("-", "_"), *words[2:]])]
    if words[:2] == ["python", "-m"] and words[2].startswith("rl_zoo3.plots."):
        return env, [sys.executable, *words[1:]]
    return None


def _not_run(block: Block) -> list[str]:
    """What of ``block`` is not run, with the reasons (an entry without ``declared`` fails the test)."""
    if block.skip is not None:
        return [f"{block.id} [{block.lang}] block: {block.skip}"]
    out = [f"{block.id} line with {needle!r}: {reason}" for needle, reason in block.skip_lines]
    if block.lang in ("bash", "sh", "shell"):
        for command in shell_commands(block.code()):
            reasons = [reason for needle, reason in block.skip_commands if needle in command]
            if reasons:
                out.append(f"{block.id} `{command}`: {reasons[0]}")
            elif _zoo_argv(command) is None:
                out.append(f"{block.id} `{command}`: UNDECLARED (not a zoo command: add a skip-command directive)")
    return out


BLOCKS = [b for doc in DOCUMENTS for b in parse(doc)]
RUNNABLE_LANGS = ("python", "bash", "sh", "shell")


def test_not_run_examples_are_declared():
    """Everything the other tests do not run is listed here with its reason; an undeclared one fails."""
    listed = [entry for block in BLOCKS if block.lang in RUNNABLE_LANGS for entry in _not_run(block)]
    print("\nDocumentation examples not run by tests/test_docs_examples.py:\n" + "\n".join(listed))
    undeclared = [entry for entry in listed if "UNDECLARED" in entry]
    assert not undeclared, "\n".join(undeclared)
    for block in BLOCKS:
        assert block.lang in (*RUNNABLE_LANGS, "", "text", "yaml", "console"), f"{block.id}: unknown language {block.lang}"
        for needle, _ in block.skip_commands:
            assert needle in block.code(), f"{block.id}: 'skip-command: {needle}' matches no command"


def _run(argv: list[str], cwd: pathlib.Path, extra_env: dict[str, str], what: str) -> None:
    env = {**os.environ, "MUJOCO_GL": "egl", "WANDB_MODE": "offline", "OMP_NUM_THREADS": "1", **extra_env}
    out = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, f"{what} failed (exit {out.returncode}):\n{out.stdout[-3000:]}\n{out.stderr[-5000:]}"


def _run_document(doc: str, tmp_path: pathlib.Path) -> int:
    ran = 0
    for block in [b for b in BLOCKS if b.doc == doc and b.skip is None]:
        if block.lang == "python":
            _run([sys.executable, "-c", block.code()], tmp_path, {}, f"{block.id} (python block)")
            ran += 1
        elif block.lang in ("bash", "sh", "shell"):
            for command in shell_commands(block.code()):
                if any(needle in command for needle, _ in block.skip_commands):
                    continue
                env, argv = _zoo_argv(command)  # type: ignore[misc]  (None is caught by the declaration test)
                _run(argv, tmp_path, env, f"{block.id} `{command}` run as {argv[1:]}")
                ran += 1
    return ran


#: documents whose examples train: (minutes on CI's 2 cores, measured with this file's tiny budgets)
_MINUTES = {"docs/zoo.md": 2, "README.md": 1}


#: documents with at least one block to run (the others hold only declared, not-run blocks or none)
_RUN_DOCS = sorted({b.doc for b in BLOCKS if b.lang in RUNNABLE_LANGS and b.skip is None})


@pytest.mark.parametrize(
    "doc",
    [pytest.param(d, marks=pytest.mark.slow(minutes=_MINUTES[d])) if d in _MINUTES else d for d in _RUN_DOCS],
)
def test_document_examples_run(doc, tmp_path):
    """Every Python block and every zoo command of one document, in order, in one empty working folder."""
    assert _run_document(doc, tmp_path) > 0, f"{doc}: nothing was run"


def test_tiny_command_reduces_budgets():
    argv = tiny_command(["train", "--algo", "dreamerv3", "--env", "Pendulum-v1", "-n", "5000", "-params", "train_ratio:128"])
    assert argv[argv.index("-n") + 1] == "300" and "--final-eval-episodes" in argv
    assert argv[argv.index("-params") + 1 :] == [
        "train_ratio:8", "learning_starts:100", "batch_size:4", "batch_length:8"
    ]  # fmt: skip
    argv = tiny_command(["enjoy", "--algo", "dreamerv3", "--env", "CartPole-v1", "-n", "2000"])
    assert argv[argv.index("-n") + 1] == "50" and "--no-render" in argv
    assert shell_commands("python -m a \\\n    --b 1   # note\n# comment\nc d\n") == ["python -m a --b 1", "c d"]
