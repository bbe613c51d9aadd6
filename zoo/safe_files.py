"""Reading run folders without running code from them.

rl-zoo3 reads a run's ``config.yml`` and ``args.yml`` with ``yaml.UnsafeLoader`` (a ``!!python/object/apply`` tag
in a crafted file calls any function), ``eval``\\ s the ``normalize`` string of ``config.yml`` and unpickles
``vecnormalize.pkl``. The zoo's commands and :func:`~dreamer_sb3.zoo.pretrained.make_eval_env` run inside
:func:`safe_run_files`, which while active:

- reads rl-zoo3's YAML with :class:`ZooLoader`: YAML's safe types plus the only two Python tags rl-zoo3 writes,
  ``!!python/object/apply:collections.OrderedDict`` (its ``config.yml`` / ``args.yml`` are ordered dicts) and
  ``!!python/tuple``; any other tag is refused with a :class:`UnsafeRunFileError` naming the file and the tag;
- accepts a string ``normalize`` entry only when it is a literal (``dict(norm_obs=True, gamma=0.99)``,
  ``{"norm_obs": True}``): rl-zoo3 ``eval``\\ s it;
- refuses to unpickle ``vecnormalize.pkl``.

Model zips are loaded without unpickling by :meth:`DreamerAlgorithm.load` itself. ``--allow-pickle`` on the zoo's
commands (or :func:`dreamer_sb3.common.safe_load.trust_pickled_files`) restores rl-zoo3's behaviour, for files you
trust.
"""

from __future__ import annotations

import ast
import collections
import contextlib
import os
from collections.abc import Iterator
from typing import Any

import yaml

from dreamer_sb3.common.safe_load import pickle_trusted

ORDERED_DICT_TAG = "tag:yaml.org,2002:python/object/apply:collections.OrderedDict"
TUPLE_TAG = "tag:yaml.org,2002:python/tuple"


class UnsafeRunFileError(ValueError):
    """A run folder's file holds something that only code execution could read."""


class ZooLoader(yaml.SafeLoader):
    """YAML's safe loader plus the ``OrderedDict`` and ``tuple`` tags rl-zoo3 writes into ``config.yml`` / ``args.yml``;
    a string ``normalize`` entry must be a literal (rl-zoo3 evaluates it)."""

    def get_single_data(self) -> Any:
        try:
            data = super().get_single_data()
        except yaml.constructor.ConstructorError as e:
            name = getattr(self, "name", "<stream>")
            raise UnsafeRunFileError(
                f"{name}: {e.problem} ({e.problem_mark}). Only YAML's plain types and rl-zoo3's OrderedDict / tuple tags "
                "are read: other Python tags make PyYAML call functions named in the file. If you trust the file, use "
                "--allow-pickle (or dreamer_sb3.common.safe_load.trust_pickled_files())."
            ) from None
        if isinstance(data, dict) and isinstance(data.get("normalize"), str):
            check_literal(data["normalize"], f"{getattr(self, 'name', '<stream>')}: normalize")
        return data


def _ordered_dict(loader: ZooLoader, node: yaml.Node) -> collections.OrderedDict:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict tag must hold a list", node.start_mark)
    args = loader.construct_sequence(node, deep=True)
    if len(args) > 1:
        raise yaml.constructor.ConstructorError(None, None, "an OrderedDict tag takes one argument", node.start_mark)
    return collections.OrderedDict(*args)


def _tuple(loader: ZooLoader, node: yaml.Node) -> tuple:
    if not isinstance(node, yaml.SequenceNode):
        raise yaml.constructor.ConstructorError(None, None, "a tuple tag must hold a list", node.start_mark)
    return tuple(loader.construct_sequence(node, deep=True))


ZooLoader.add_constructor(ORDERED_DICT_TAG, _ordered_dict)
ZooLoader.add_constructor(TUPLE_TAG, _tuple)


def check_literal(text: str, what: str) -> None:
    """Raise unless ``text`` is a ``dict(...)`` call or a dict / list / tuple display of literals (what rl-zoo3
    ``eval``\\ s safely)."""
    try:
        tree = ast.parse(text, mode="eval").body
    except SyntaxError as e:
        raise UnsafeRunFileError(f"{what} is not a Python literal: {text!r} ({e.msg})") from None
    if isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "dict" and not tree.args:
        values = [kw.value for kw in tree.keywords if kw.arg is not None]
        ok = len(values) == len(tree.keywords)
    else:
        values, ok = [tree], True
    try:
        for v in values:
            ast.literal_eval(v)
    except ValueError:
        ok = False
    if not ok:
        raise UnsafeRunFileError(
            f"{what} = {text!r} is not a literal; rl-zoo3 would eval() it, running code from the file. Use "
            "dict(key=value, ...) with literal values, or --allow-pickle for a file you trust."
        )


def load_yaml(path: str | os.PathLike) -> Any:
    """Read a YAML file of a run folder with :class:`ZooLoader` (unless pickles are trusted: then as rl-zoo3 does)."""
    with open(path) as f:
        return yaml.load(f, Loader=yaml.UnsafeLoader if pickle_trusted() else ZooLoader)


@contextlib.contextmanager
def safe_run_files() -> Iterator[None]:
    """While active, rl-zoo3's reads of run folders cannot run code (see the module docstring); a no-op when pickles
    are trusted."""
    if pickle_trusted():
        yield
        return
    from stable_baselines3.common.vec_env import VecNormalize

    original_load = VecNormalize.__dict__["load"]

    def refuse(load_path: str, venv: Any) -> VecNormalize:
        if pickle_trusted():
            return original_load.__func__(load_path, venv)
        raise UnsafeRunFileError(
            f"Refusing to unpickle {load_path}: VecNormalize statistics are stored as a pickle, and a crafted one runs "
            "code. If you trust the run folder, use --allow-pickle (or dreamer_sb3.common.safe_load.trust_pickled_files())."
        )

    old_loader = yaml.UnsafeLoader
    yaml.UnsafeLoader = ZooLoader  # type: ignore[misc,assignment]
    VecNormalize.load = staticmethod(refuse)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        yaml.UnsafeLoader = old_loader  # type: ignore[misc]
        VecNormalize.load = original_load  # type: ignore[method-assign]


def pop_allow_pickle(argv: list[str]) -> tuple[list[str], bool]:
    """Remove the zoo's ``--allow-pickle`` flag from ``argv`` (rl-zoo3 does not know it)."""
    return [a for a in argv if a != "--allow-pickle"], "--allow-pickle" in argv
