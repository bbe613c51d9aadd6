"""What the zoo holds: every (algorithm, env id) with a YAML entry or a shipped agent, the entry's status and the
pretrained agent's recorded score.

Each YAML entry states its status in its first comment: ``tuned here: <measured result>`` or ``paper setting, not
yet verified here``; anything else is shown as ``not yet verified here``.

Example::

    python -m dreamer_sb3.zoo.list                 # everything
    python -m dreamer_sb3.zoo.list --algo dreamerv3 --pretrained
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from typing import Any

from dreamer_sb3.zoo.pretrained import shipped_agents
from dreamer_sb3.zoo.registry import ALGORITHMS, hyperparams_path

TUNED = "tuned here"
PAPER = "paper setting, not yet verified here"
UNVERIFIED = "not yet verified here"

_KEY = re.compile(r"^(?P<key>[^\s#'\"][^:#]*|'[^']*'|\"[^\"]*\"):(?P<rest>.*)$")


def yaml_status(text: str) -> dict[str, str]:
    """Status line of every top-level entry of a YAML hyperparameter file.

    The status is the comment on the entry's key line, or else the comment lines right below the key.

    :param text: the YAML file's text
    :return: env id -> ``"tuned here: ..."``, ``"paper setting, not yet verified here: ..."`` or
        ``"not yet verified here: ..."``
    """
    comments: dict[str, list[str]] = {}
    current: str | None = None
    for line in text.splitlines():
        match = _KEY.match(line)
        if match:
            current = match["key"].strip("'\"")
            trailing = match["rest"].split("#", 1)
            comments[current] = [trailing[1].strip()] if len(trailing) == 2 else []
            reading = not comments[current]
        elif current is not None and reading:
            stripped = line.strip()
            reading = stripped.startswith("#")
            if reading:
                comments[current].append(stripped.lstrip("#").strip())
    return {key: _classify(" ".join(lines)) for key, lines in comments.items()}


def _classify(comment: str) -> str:
    lowered = comment.lower()
    if TUNED in lowered:
        detail = comment[lowered.index(TUNED) + len(TUNED) :].lstrip(" :")
        return f"{TUNED}: {detail}" if detail else TUNED
    if "paper setting" in lowered:
        detail = comment[lowered.index("paper setting") + len("paper setting") :].lstrip(" ,:")
        detail = re.sub(r"^not yet verified here[.:;,]?\s*", "", detail)
        return f"{PAPER}: {detail}" if detail else PAPER
    detail = re.sub(rf"^{UNVERIFIED}[.:;,]?\s*", "", comment, flags=re.IGNORECASE)
    return f"{UNVERIFIED}: {detail}" if detail else UNVERIFIED


def rows(algos: Sequence[str] | None = None, pretrained_only: bool = False) -> list[dict[str, Any]]:
    """One row per (algorithm, env id): ``algo``, ``env_id``, ``status``, ``pretrained`` (a short score or ``"no"``)."""
    agents = {(a["algo"], a["env_id"]): a["results"] for a in shipped_agents()}
    out = []
    for algo in algos or list(ALGORITHMS):
        path = hyperparams_path(algo)
        statuses = yaml_status(path.read_text()) if path.is_file() else {}
        env_ids = list(statuses) + [env for (a, env) in agents if a == algo and env not in statuses]
        for env_id in env_ids:
            res = agents.get((algo, env_id))
            if pretrained_only and res is None:
                continue
            pretrained = "no"
            if res is not None:
                pretrained = (
                    f"yes: {res['mean_reward']:.1f} ± {res['std_reward']:.1f} "
                    f"({res['n_eval_episodes']} ep., {res['env_steps']} steps, {res['model_file']})"
                )
            out.append(
                {"algo": algo, "env_id": env_id, "status": statuses.get(env_id, "no YAML entry"), "pretrained": pretrained}
            )
    return out


def markdown_table(table: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| algo | env id | YAML status | pretrained agent |", "|---|---|---|---|"]
    lines += [f"| {r['algo']} | {r['env_id']} | {r['status']} | {r['pretrained']} |" for r in table]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.list [--algo A ...] [--pretrained]``."""
    parser = argparse.ArgumentParser(description="List the zoo's hyperparameter entries and pretrained agents")
    parser.add_argument("--algo", nargs="+", choices=list(ALGORITHMS), help="only these algorithms")
    parser.add_argument("--pretrained", action="store_true", help="only entries with a shipped agent")
    args = parser.parse_args(argv)
    print(markdown_table(rows(args.algo, args.pretrained)))


if __name__ == "__main__":
    main()
