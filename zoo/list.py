"""What the zoo holds: every (algorithm, env id) with a YAML entry or a shipped agent, the entry's status and the
pretrained agent's recorded score.

Each YAML entry states its status in its first comment: ``tuned here: <measured result>`` or ``paper setting, not
yet verified here``; anything else is shown as ``not yet verified here``.

By default one short line per entry (status ``tuned`` / ``paper`` / ``unverified``, the shipped agent's score);
``--details`` prints the Markdown table with every status comment and the agent's model file.

Example::

    python -m dreamer_sb3.zoo.list                 # everything, compact
    python -m dreamer_sb3.zoo.list --algo dreamerv3 --pretrained
    python -m dreamer_sb3.zoo.list --algo planet --details
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
    """One row per (algorithm, env id): ``algo``, ``env_id``, ``status``, ``pretrained`` (a short score or ``"no"``)
    and ``results`` (the shipped agent's ``results.json``, or ``None``)."""
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
                {
                    "algo": algo,
                    "env_id": env_id,
                    "status": statuses.get(env_id, "no YAML entry"),
                    "pretrained": pretrained,
                    "results": res,
                }
            )
    return out


def markdown_table(table: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table."""
    lines = ["| algo | env id | YAML status | pretrained agent |", "|---|---|---|---|"]
    lines += [f"| {r['algo']} | {r['env_id']} | {r['status']} | {r['pretrained']} |" for r in table]
    return "\n".join(lines)


def _short_status(status: str) -> str:
    for prefix, short in ((TUNED, "tuned"), (PAPER, "paper"), (UNVERIFIED, "unverified")):
        if status.startswith(prefix):
            return short
    return status


def compact_table(table: list[dict[str, Any]]) -> str:
    """The rows as an aligned plain-text table: algo, env id, short status, shipped agent's score and env steps."""
    header = ("algo", "env id", "status", "pretrained (mean ± std, env steps)")
    lines = [header]
    for r in table:
        score = ""
        if r["results"] is not None:
            res = r["results"]
            score = f"{res['mean_reward']:.1f} ± {res['std_reward']:.1f} ({res['env_steps']})"
        lines.append((r["algo"], r["env_id"], _short_status(r["status"]), score))
    widths = [max(len(line[i]) for line in lines) for i in range(3)]
    out = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[3] for line in lines]
    out.insert(1, "-" * len(out[0]))
    statuses = [_short_status(r["status"]) for r in table]
    out.append(
        f"{len(table)} entries: {statuses.count('tuned')} tuned here, {statuses.count('paper')} paper settings not yet "
        f"verified, {sum(r['results'] is not None for r in table)} shipped agents (--details for the full status)"
    )
    return "\n".join(line.rstrip() for line in out)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: ``python -m dreamer_sb3.zoo.list [--algo A ...] [--pretrained] [--details]``."""
    parser = argparse.ArgumentParser(description="List the zoo's hyperparameter entries and pretrained agents")
    parser.add_argument("--algo", nargs="+", choices=list(ALGORITHMS), help="only these algorithms")
    parser.add_argument("--pretrained", action="store_true", help="only entries with a shipped agent")
    parser.add_argument(
        "--details", action="store_true", help="a Markdown table with every status comment and the agents' model files"
    )
    args = parser.parse_args(argv)
    table = rows(args.algo, args.pretrained)
    print(markdown_table(table) if args.details else compact_table(table))


if __name__ == "__main__":
    main()
